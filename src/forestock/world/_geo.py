"""Geography of the default world: regions, the warehouse network and its lanes."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "FAR_WEST",
    "RDC_CITIES",
    "haversine_km",
    "lanes",
    "load_cities",
    "select_regions",
    "transit_hours",
    "warehouses",
]

#: Regional hubs, shaped like JD's seven regional distribution centres.
RDC_CITIES: tuple[str, ...] = ("110000", "310000", "440100", "510100", "420100", "210100",
                               "610100")
#: Provinces a parcel from the east takes several days to reach.
FAR_WEST: dict[str, float] = {"新疆维吾尔自治区": 30.0, "西藏自治区": 36.0, "青海省": 26.0}

_ROAD_FACTOR = 1.3
_SAME_CITY_HOURS = 8.0
_UNITS_PER_ORDER = 1.4
_BACKLOG_HOURS = 25.0


def load_cities() -> pd.DataFrame:
    """Return the embedded table of the 338 Chinese cities (see ``data/SOURCE.md``)."""
    ref = resources.files("forestock.world").joinpath("data", "cn_cities.csv")
    with ref.open("rb") as fh:
        return pd.read_csv(fh, dtype={"adcode": str, "name_en": str}, keep_default_na=False)


def select_regions(cities: pd.DataFrame, n: int) -> pd.DataFrame:
    """Return the regions table: the 31 capitals, then the most populous others, up to ``n``."""
    caps = cities[cities["capital"] == 1]
    others = cities[cities["capital"] == 0].sort_values(
        ["population", "adcode"], ascending=[False, True], kind="stable"
    )
    chosen = pd.concat([caps, others.head(n - len(caps))]).sort_values("adcode", kind="stable")
    return pd.DataFrame({
        "region_id": chosen["adcode"].to_numpy(),
        "name": chosen["name"].to_numpy(),
        "province": chosen["province"].to_numpy(),
        "lat": chosen["lat"].to_numpy(dtype=float),
        "lon": chosen["lon"].to_numpy(dtype=float),
        "population": chosen["population"].to_numpy(dtype=np.int64),
    })


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def transit_hours(km: np.ndarray, same_city: np.ndarray, same_province: np.ndarray,
                  surcharge: np.ndarray) -> np.ndarray:
    """Door-to-door hours from a warehouse to a region.

    Same city about 8 h; same province (seats within 500 km) 12-20 h;
    otherwise 18 h of handling and line-haul plus road km at 90 km/h, which
    puts regions within ~700 km on the next day and far ones at 36-60 h;
    ``surcharge`` adds the extra days of the far west.
    """
    road = km * _ROAD_FACTOR
    general = 18.0 + road / 90.0 + surcharge
    province = np.clip(12.0 + road / 60.0, 12.0, 20.0)
    out = np.where(same_province & (km <= 500.0), province, general)
    return np.where(same_city, _SAME_CITY_HOURS, out)


def _lane_arrays(wh: pd.DataFrame, regions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    wlat = wh["lat"].to_numpy()[:, None]
    wlon = wh["lon"].to_numpy()[:, None]
    km = haversine_km(wlat, wlon, regions["lat"].to_numpy()[None, :],
                      regions["lon"].to_numpy()[None, :])
    same_city = wh["region_id"].to_numpy()[:, None] == regions["region_id"].to_numpy()[None, :]
    wprov = regions.set_index("region_id").loc[wh["region_id"], "province"].to_numpy()
    rprov = regions["province"].to_numpy()
    same_prov = wprov[:, None] == rprov[None, :]
    sur_r = regions["province"].map(FAR_WEST).fillna(0.0).to_numpy()
    sur_w = pd.Series(wprov).map(FAR_WEST).fillna(0.0).to_numpy()
    surcharge = np.where(same_prov, 0.0, np.maximum(sur_r[None, :], sur_w[:, None]))
    hours = transit_hours(km, same_city, same_prov, surcharge)
    cost = 3.0 + 0.004 * km * _ROAD_FACTOR + np.where(surcharge > 0, 4.0, 0.0)
    return np.round(hours, 1), np.round(cost, 2)


def _short(name: str) -> str:
    return name[:-1] if name.endswith("市") else name


def warehouses(regions: pd.DataFrame, event_units: np.ndarray, storage_over_event: float,
               fdc_over_served: float) -> pd.DataFrame:
    """Return the warehouse network, sized from the expected event-day units per region.

    RDCs stand in the :data:`RDC_CITIES`, FDCs in the other provincial
    capitals. Total storage is ``storage_over_event`` times the event day's
    expected units; an FDC holds ``fdc_over_served`` times the event-day units
    of the regions it is nearest to (ties to the earlier warehouse, an RDC);
    RDCs share the rest by the demand nearest to them among RDCs (see
    :class:`WorldParams` for why). Outbound capacity lets each warehouse ship
    its nearest regions' event-day parcels in about 25 h.
    """
    caps = set(load_cities().query("capital == 1")["adcode"])
    rid = regions["region_id"].to_numpy()
    rows = regions[regions["region_id"].isin(caps)].copy()
    rows["tier"] = np.where(rows["region_id"].isin(RDC_CITIES), "rdc", "fdc")
    rows = rows.sort_values(["tier", "region_id"], ascending=[False, True], kind="stable")
    wh = pd.DataFrame({
        "warehouse_id": "W" + rows["region_id"],
        "name": [f"{_short(n)} {t.upper()}" for n, t in zip(rows["name"], rows["tier"],
                                                              strict=True)],
        "region_id": rows["region_id"].to_numpy(),
        "lat": rows["lat"].to_numpy(),
        "lon": rows["lon"].to_numpy(),
        "tier": rows["tier"].to_numpy(),
    }).reset_index(drop=True)
    hours, _ = _lane_arrays(wh, regions)
    units = np.asarray(event_units, dtype=float)
    if units.shape != rid.shape:
        raise ValueError(f"event_units has {units.size} values for {rid.size} regions")
    nearest = np.argmin(hours, axis=0)  # first minimum: ties go to the earlier (an RDC)
    served = np.bincount(nearest, weights=units, minlength=len(wh))
    is_rdc = (wh["tier"] == "rdc").to_numpy()
    total = storage_over_event * units.sum()
    storage = np.where(is_rdc, 0.0, fdc_over_served * served)
    rdc_idx = np.flatnonzero(is_rdc)
    rdc_near = rdc_idx[np.argmin(hours[rdc_idx], axis=0)]
    rdc_served = np.bincount(rdc_near, weights=units, minlength=len(wh))[rdc_idx]
    left = max(total - storage.sum(), 0.0)
    storage[rdc_idx] = left * rdc_served / max(rdc_served.sum(), 1e-12)
    wh["storage_units"] = np.maximum(np.ceil(storage), 1).astype(np.int64)
    outbound = served / _UNITS_PER_ORDER / _BACKLOG_HOURS
    wh["outbound_per_hour"] = np.maximum(np.ceil(outbound), 1).astype(np.int64)
    return wh


def lanes(wh: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Return a lane for every warehouse and region: transit hours and cost per unit (CNY)."""
    hours, cost = _lane_arrays(wh, regions)
    nw, nr = hours.shape
    return pd.DataFrame({
        "warehouse_id": np.repeat(wh["warehouse_id"].to_numpy(), nr),
        "region_id": np.tile(regions["region_id"].to_numpy(), nw),
        "transit_hours": hours.ravel(),
        "cost_per_unit": cost.ravel(),
    })
