"""Advance shipping notices: what each manufacturer ships where, by when; one page each."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forestock.errors import ForestockError, ForestockWarning
from forestock.geo import haversine_km
from forestock.plan._costs import BONDED_PORTS
from forestock.plan._params import PlanParams

__all__ = ["PastDueWarning", "lead_days", "make_notices", "notice_page_names",
           "write_notice_pages"]


class PastDueWarning(ForestockWarning):
    """Notices whose ship-by date is not after the last day of the history."""


def lead_days(
    factory_lat: np.ndarray, factory_lon: np.ndarray, overseas: np.ndarray,
    wh_lat: np.ndarray, wh_lon: np.ndarray, params: PlanParams,
) -> np.ndarray:
    """Days from a factory to a warehouse: by road, or by sea through the nearest bonded port."""
    road = haversine_km(factory_lat, factory_lon, wh_lat, wh_lon) * 1.3
    days = 1 + np.ceil(road / params.road_km_per_day)
    if overseas.any():
        ports = np.array([(lat, lon) for _, lat, lon in BONDED_PORTS])
        to_port = haversine_km(factory_lat[:, None], factory_lon[:, None],
                               ports[None, :, 0], ports[None, :, 1])
        nearest = np.argmin(to_port, axis=1)
        sea = np.take_along_axis(to_port, nearest[:, None], axis=1)[:, 0]
        inland = haversine_km(ports[nearest, 0], ports[nearest, 1], wh_lat, wh_lon) * 1.3
        sea_days = (2 + np.ceil(sea * 1.2 / params.sea_km_per_day) + params.customs_days
                    + 1 + np.ceil(inland / params.road_km_per_day))
        days = np.where(overseas, sea_days, days)
    return np.asarray(days).astype(np.int64)


def make_notices(
    plan: pd.DataFrame,
    skus: pd.DataFrame,
    brands: pd.DataFrame,
    warehouses: pd.DataFrame,
    event_start: dt.date,
    params: PlanParams | None = None,
    history_end: dt.date | None = None,
    replenishment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Advance shipping notices: one per SKU and warehouse of the plan (wave 0), and one
    per inbound row of the ``replenishment`` waves (wave ``k``).

    A wave-0 notice's ``arrive_by`` is ``cutoff_days`` before the event (the pre-stock
    cut-off); its ``ship_by`` is the lead time plus ``safety_days`` before that. A
    wave's notice ships by the wave's ``ship_on`` and arrives by its ``arrive_on``, for
    at most its ``units`` (the rehearsal ships what the stock then needs). Notices are
    sorted by brand, ship-by date, SKU, warehouse and wave; their units add up to the
    plan's and the inbound waves'. ``past_due`` flags the notices whose ship-by date is
    on or before ``history_end`` (the last day of the history the forecast saw): due
    before the plan could reach the manufacturer.

    Warns
    -----
    PastDueWarning
        When any notice is past due, saying how many and the earliest.

    Raises
    ------
    ForestockError
        A SKU of the plan without a brand, or a brand without a factory.
    """
    params = params or PlanParams()
    rows = plan[plan["units"] > 0].merge(skus[["sku_id", "brand_id"]], on="sku_id", how="left")
    if rows["brand_id"].isna().any():
        bad = rows.loc[rows["brand_id"].isna(), "sku_id"].iloc[0]
        raise ForestockError(f"plan SKU {bad} is not in the skus table")
    rows = rows.merge(brands[["brand_id", "country", "factory_lat", "factory_lon"]],
                      on="brand_id", how="left")
    if rows["country"].isna().any():
        bad = rows.loc[rows["country"].isna(), "brand_id"].iloc[0]
        raise ForestockError(f"brand {bad} of the plan's SKUs is not in the brands table")
    rows = rows.merge(warehouses[["warehouse_id", "lat", "lon"]], on="warehouse_id", how="left")
    days = lead_days(rows["factory_lat"].to_numpy(float), rows["factory_lon"].to_numpy(float),
                     (rows["country"] != "CN").to_numpy(), rows["lat"].to_numpy(float),
                     rows["lon"].to_numpy(float), params)
    arrive = pd.Timestamp(event_start) - pd.Timedelta(days=params.cutoff_days)
    rows["arrive_by"] = arrive
    rows["ship_by"] = arrive - pd.to_timedelta(days + params.safety_days, unit="D")
    rows["wave"] = 0
    if replenishment is not None:
        waves = replenishment[replenishment["kind"] == "inbound"]
        rows = pd.concat([rows, pd.DataFrame({
            "brand_id": waves["from_id"].to_numpy(object),
            "sku_id": waves["sku_id"].to_numpy(object),
            "warehouse_id": waves["warehouse_id"].to_numpy(object),
            "units": waves["units"].to_numpy(np.int64),
            "ship_by": pd.to_datetime(waves["ship_on"]).to_numpy(),
            "arrive_by": pd.to_datetime(waves["arrive_on"]).to_numpy(),
            "wave": waves["wave"].to_numpy(np.int64)})], ignore_index=True)
    rows = rows.sort_values(["brand_id", "ship_by", "sku_id", "warehouse_id", "wave"],
                            ignore_index=True)
    width = max(6, math.ceil(math.log10(len(rows) + 1)))
    rows["notice_id"] = [f"N{i:0{width}d}" for i in range(1, len(rows) + 1)]
    rows["units"] = rows["units"].astype(np.int64)
    rows["past_due"] = (rows["ship_by"] <= pd.Timestamp(history_end) if history_end is not None
                        else False)
    late = int(rows["past_due"].sum())
    if late:
        first = pd.Timestamp(rows["ship_by"].min()).date()
        warnings.warn(PastDueWarning(
            f"{late:,} of {len(rows):,} notices have a ship-by date on or before {history_end}, "
            f"the last day of the history (the earliest {first}); they are flagged past_due: "
            "those units cannot arrive by the cut-off unless shipped at once"), stacklevel=2)
    rows["wave"] = rows["wave"].astype(np.int64)
    return rows[["notice_id", "brand_id", "sku_id", "warehouse_id", "units", "ship_by",
                 "arrive_by", "past_due", "wave"]]


_CSS = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em;margin-bottom:.2em} .sub{color:#555;margin-bottom:1.2em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left}
td.n{text-align:right} tr.total td{font-weight:bold;border-top:2px solid #333}
@media print{body{margin:1cm} tr{page-break-inside:avoid}}
"""


def _page(brand_id: str, name: str, country: str, rows: pd.DataFrame) -> str:
    e = html.escape
    body = []
    for r in rows.itertuples(index=False):
        body.append(
            f"<tr><td>{e(str(r.notice_id))}</td><td>{e(str(r.sku_id))}</td>"
            f"<td>{e(str(r.category))}</td><td>{e(str(r.warehouse_id))}</td>"
            f"<td>{e(str(r.wh_name))}</td><td class=n>{int(r.units):,}</td>"
            f"<td>{pd.Timestamp(r.ship_by).date()}</td>"
            f"<td>{pd.Timestamp(r.arrive_by).date()}</td>"
            f"<td>{_wave_label(int(getattr(r, 'wave', 0)))}</td></tr>"
        )
    total = int(rows["units"].sum())
    first = pd.Timestamp(rows["ship_by"].min()).date()
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Shipping notices: {e(name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Advance shipping notices — {e(name)} ({e(brand_id)}, {e(country)})</h1>"
        f"<div class=sub>{len(rows):,} notices, {total:,} units; first shipment by "
        f"{first}. Ship each line by its ship-by date so that it arrives by its "
        "arrive-by date: before the pre-stock cut-off, or for a replenishment wave on "
        "its day during the event (a wave's units are the most it asks for; the "
        "quantity is confirmed on its ship-by date).</div>"
        "<table><thead><tr><th>notice</th><th>SKU</th><th>category</th><th>warehouse</th>"
        "<th>name</th><th>units</th><th>ship by</th><th>arrive by</th><th>wave</th>"
        "</tr></thead><tbody>"
        + "".join(body)
        + f"<tr class=total><td colspan=5>total</td><td class=n>{total:,}</td>"
        "<td></td><td></td><td></td></tr></tbody></table></body></html>\n"
    )


def _wave_label(wave: int) -> str:
    return "before the event" if wave == 0 else f"wave {wave}"


def _safe(brand_id: str) -> str:
    name = re.sub(r"[^\w.-]", "_", brand_id, flags=re.UNICODE).strip("._")
    return name or "brand"


#: File names some systems refuse whatever the extension.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
             *(f"lpt{i}" for i in range(1, 10))}


def notice_page_names(brand_ids: list[str]) -> dict[str, str]:
    """A unique page file name per brand id, ``<brand_id>.html`` where that is safe.

    An id that is not a plain file name (``A/B``, a reserved name, or one of
    two ids that differ only in case, alike on a case-insensitive disk) gets
    its cleaned form plus a short hash of the id (``A_B-1d2bc6fa.html``), so
    two brands never share a page and each name still says which brand it is.
    """
    def plain(b: str) -> bool:
        return _safe(b) == b and len(b) <= 100 and b.casefold() not in _RESERVED

    folds: dict[str, int] = {}
    for b in brand_ids:
        if plain(b):
            folds[b.casefold()] = folds.get(b.casefold(), 0) + 1
    names = {}
    for b in brand_ids:
        if plain(b) and folds[b.casefold()] == 1:
            names[b] = f"{b}.html"
        else:
            digest = hashlib.sha256(b.encode("utf-8")).hexdigest()[:8]
            names[b] = f"{_safe(b)[:100]}-{digest}.html"
    if len({n.casefold() for n in names.values()}) < len(names):  # an id shaped like a hash
        names = {b: f"{_safe(b)[:100]}-{hashlib.sha256(b.encode('utf-8')).hexdigest()[:16]}"
                    ".html" for b in brand_ids}
    return names


def write_notice_pages(folder: str | Path, notices: pd.DataFrame, brands: pd.DataFrame,
                       skus: pd.DataFrame, warehouses: pd.DataFrame) -> list[Path]:
    """Write one printable HTML page per manufacturer, ``<folder>/<brand_id>.html``.

    File names are unique per brand id (see :func:`notice_page_names`). Each
    page is written to a temporary file and renamed, so a crash leaves the old
    page or the new one. Returns the paths written, by brand.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = notices.merge(skus[["sku_id", "category"]], on="sku_id", how="left")
    rows = rows.merge(warehouses[["warehouse_id", "name"]].rename(columns={"name": "wh_name"}),
                      on="warehouse_id", how="left")
    info = brands.set_index("brand_id")
    files = notice_page_names(sorted({str(b) for b in rows["brand_id"]}))
    paths = []
    for brand_id, part in rows.groupby("brand_id", sort=True):
        bid = str(brand_id)
        name = str(info.at[bid, "name"]) if bid in info.index else bid
        country = str(info.at[bid, "country"]) if bid in info.index else ""
        final = folder / files[bid]
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        tmp.write_text(_page(bid, name, country, part), encoding="utf-8")
        tmp.replace(final)
        paths.append(final)
    return paths
