"""What moving goods costs: inbound road km from factories and bonded ports, and a user's
asymmetric shortage and surplus costs per SKU and warehouse."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestock.errors import TableError
from forestock.geo import haversine_km
from forestock.tables import IdIndex

__all__ = ["BONDED_PORTS", "cost_arrays", "inbound_km"]

#: Bonded ports through which overseas brands' goods enter (name, lat, lon).
BONDED_PORTS = (
    ("Shanghai", 31.23, 121.47),
    ("Ningbo", 29.87, 121.55),
    ("Shenzhen", 22.54, 114.06),
    ("Tianjin", 39.08, 117.20),
    ("Qingdao", 36.07, 120.38),
    ("Xiamen", 24.48, 118.09),
)

_ROAD = 1.3  # road km per great-circle km


def cost_arrays(costs: pd.DataFrame, skus: IdIndex, warehouses: IdIndex,
                source: str = "costs") -> tuple[np.ndarray, np.ndarray]:
    """Shortage cost per SKU ``[sku]`` and surplus cost per SKU and warehouse ``[sku,
    warehouse]`` from a costs table (see :meth:`PlanProblem.with_costs`)."""
    missing = [c for c in ("sku_id", "shortage_cny", "surplus_cny") if c not in costs.columns]
    if missing:
        raise TableError(source, 0, "-", f"missing column(s) {', '.join(missing)} (need "
                         "sku_id, shortage_cny, surplus_cny and optionally warehouse_id)")
    short = np.zeros(len(skus))
    surplus = np.zeros((len(skus), len(warehouses)))
    if costs.empty:
        return short, surplus
    a, b = (_costs_column(costs, col, source) for col in ("shortage_cny", "surplus_cny"))
    s_code = _row_codes(costs["sku_id"], np.arange(len(costs)), skus, "sku_id", "skus",
                        source)
    wid = (costs["warehouse_id"].fillna("").astype(str) if "warehouse_id" in costs.columns
           else pd.Series("", index=costs.index))
    every = ((wid == "") | (wid.str.lower() == "all")).to_numpy()
    # rows for every warehouse first, so a warehouse's own row overrides them
    short[s_code[every]] = a[every]
    surplus[s_code[every], :] = b[every][:, None]
    w_code = _row_codes(wid[~every], np.flatnonzero(~every), warehouses, "warehouse_id",
                        "warehouses", source)
    surplus[s_code[~every], w_code] = b[~every]
    return short, surplus


def _costs_column(costs: pd.DataFrame, col: str, source: str) -> np.ndarray:
    """A cost column as numbers >= 0, or a :class:`TableError` naming the first bad row."""
    vals = pd.to_numeric(costs[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = costs[col].iloc[i]
        shown = f"'{v}'" if isinstance(v, str) else str(v)
        raise TableError(source, i + 1, col, f"value {shown} is not a number >= 0")
    return vals


def _row_codes(values: pd.Series, rows: np.ndarray, ix: IdIndex, col: str, table: str,
               source: str) -> np.ndarray:
    """Codes of ``values`` (a user's table's rows ``rows``, 0-based), or a
    :class:`TableError` naming the row of the first unknown one."""
    codes = pd.Index(ix.ids.astype(str)).get_indexer(values.astype(str))
    if (codes < 0).any():
        k = int(np.flatnonzero(codes < 0)[0])
        raise TableError(source, int(rows[k]) + 1, col,
                         f"{str(values.iloc[k])!r} is not a known {col} in {table}")
    return codes


def inbound_km(factory_lat: np.ndarray, factory_lon: np.ndarray, overseas: np.ndarray,
               wh_lat: np.ndarray, wh_lon: np.ndarray) -> np.ndarray:
    """Road km ``[factory, warehouse]`` from a domestic factory, or from the overseas
    factory's nearest bonded port."""
    ports = np.array([(lat, lon) for _, lat, lon in BONDED_PORTS])
    to_port = haversine_km(factory_lat[:, None], factory_lon[:, None], ports[None, :, 0],
                           ports[None, :, 1])
    port = np.argmin(to_port, axis=1)
    lat = np.where(overseas, ports[port, 0], factory_lat)
    lon = np.where(overseas, ports[port, 1], factory_lon)
    return np.asarray(haversine_km(lat[:, None], lon[:, None], wh_lat[None, :],
                                   wh_lon[None, :]) * _ROAD)
