"""The Stallion beverage data (monthly, agencies x SKUs, with prices and event flags).

Agencies become regions and volumes (hectolitres) become units of one litre
(x 100, rounded), so the integer contract keeps the precision. Prices per
hectolitre become prices per litre; the month's actual price is the planned
price of the ``prices`` table (the retailer knows its own promotion plan),
except where it is zero: Stallion's price is revenue over volume, so a zero
marks a month without sales, which no plan would know; there the plan keeps
the series' last price (or the SKU's regular price);
each event flag becomes a calendar event on the months it is set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forestock.errors import ForestockError

EVENT_FLAGS = (
    "easter_day", "good_friday", "new_year", "christmas", "labor_day", "independence_day",
    "revolution_day_memorial", "regional_games", "fifa_u_17_world_cup", "football_gold_cup",
    "beer_capital", "music_fest",
)


def stallion_tables(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read ``stallion_2013_2016.parquet`` and return history, calendar, skus, regions,
    brands and prices as forestock tables."""
    path = Path(path)
    if not path.exists():
        raise ForestockError(f"{path} does not exist")
    raw = pd.read_parquet(path)
    missing = {"agency", "sku", "date", "volume", "price_regular", "price_actual"} - set(
        raw.columns)
    if missing:
        raise ForestockError(f"{path.name}: missing columns {sorted(missing)}")
    raw = raw.assign(agency=raw["agency"].astype(str), sku=raw["sku"].astype(str),
                     date=pd.to_datetime(raw["date"]).dt.normalize())
    history = pd.DataFrame({
        "date": raw["date"],
        "sku_id": raw["sku"],
        "region_id": raw["agency"],
        "units": np.rint(raw["volume"].clip(lower=0) * 100).astype(np.int64),
    })
    history = history[history["units"] > 0].reset_index(drop=True)
    flags = [c for c in EVENT_FLAGS if c in raw.columns]
    cal = raw.groupby("date")[flags].max().reset_index().melt("date", var_name="event")
    calendar = cal[cal["value"] > 0][["date", "event"]].sort_values(["date", "event"])
    # a zero price marks a month without sales (price is revenue over volume), not a plan:
    # it is left out, or the forecast would learn the zero sales from it
    priced = raw[(raw["price_actual"] > 0) & (raw["price_regular"] > 0)]
    price = priced.groupby("sku")["price_regular"].median().reindex(
        pd.unique(raw["sku"])).fillna(0.0) / 100
    skus = pd.DataFrame({"sku_id": price.index, "brand_id": "stallion", "category": "beverage",
                         "price": price.to_numpy(), "volume_l": 1.0})
    agencies = raw.groupby("agency").agg(pop=("avg_population_2017", "first")) \
        if "avg_population_2017" in raw.columns else pd.DataFrame(
            {"pop": 0}, index=pd.Index(pd.unique(raw["agency"]), name="agency"))
    regions = pd.DataFrame({"region_id": agencies.index, "name": agencies.index,
                            "province": "MX", "lat": 19.4, "lon": -99.1,
                            "population": agencies["pop"].to_numpy(dtype=np.int64)})
    brands = pd.DataFrame({"brand_id": ["stallion"], "name": ["Stallion"], "country": ["MX"],
                           "factory_lat": [19.4], "factory_lon": [-99.1]})
    actual = (raw["price_actual"] / 100).where(raw["price_actual"] > 0)
    actual = actual.groupby([raw["agency"], raw["sku"]]).ffill()  # the plan keeps its price
    actual = actual.fillna(raw["sku"].map(price))
    prices = pd.DataFrame({"date": raw["date"], "sku_id": raw["sku"], "region_id": raw["agency"],
                           "price": actual})
    return {"history": history, "calendar": calendar.reset_index(drop=True), "skus": skus,
            "regions": regions, "brands": brands, "prices": prices}
