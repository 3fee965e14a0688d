"""The rehearsed day: the outcome tables and headline figures read out of the tallies."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestock.simulate import _arrays as A
from forestock.simulate._check import scaled
from forestock.simulate._engine import Outcome
from forestock.simulate._params import SimulateParams
from forestock.simulate._problem import SimulateProblem
from forestock.simulate._profile import SECONDS
from forestock.simulate._tallies import flow_rows, second_columns

__all__ = ["OUTCOME_TABLES", "SimulateResult", "build_result"]

OUTCOME_TABLES = (
    "outcomes_region",
    "outcomes_warehouse",
    "outcomes_second",
    "outcomes_brand",
    "outcomes_flow",
    "outcomes_reason",
    "outcomes_stock",
)
_REGION_COLS = ("orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "late",
                "unfilled")
_BRAND_COLS = ("orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "unfilled")


@dataclass(frozen=True)
class SimulateResult:
    """The rehearsed day: outcome tables, headline figures, stock left, seed.

    ``figures`` adds ``share_72h``, ``factory_units``, ``backlog_hours``,
    ``scale``, ``workers``, ``seconds`` (wall time), ``orders_per_second``
    (simulated per wall-clock second) and ``bytes_moved`` (to and from the
    shards on a cluster's workers; 0 in this machine's memory). ``sample`` holds one row per sampled
    order (``sample_share``): sku_id, region_id, order (index within its SKU
    and region), time (seconds after midnight), units, warehouse_id (None:
    unfilled, ``"factory"``), ship_hour (-1: none), hours_to_door (NaN:
    unfilled).
    """

    day: dt.date
    seed: int
    tables: dict[str, pd.DataFrame]
    stock_left: np.ndarray
    orders: int
    units: int
    gmv: float
    peak_orders_per_second: int
    peak_second: int
    share_24h: float
    share_48h: float
    unfilled_share: float
    figures: dict[str, float] = field(default_factory=dict)
    sample: pd.DataFrame | None = None


def _money(col: str, cents_or_counts: np.ndarray) -> np.ndarray:
    """Column ``col`` of a tally: yuan for ``gmv`` (tallied in cents), else as counted."""
    return cents_or_counts / 100.0 if col == "gmv" else cents_or_counts


def build_result(p: SimulateProblem, params: SimulateParams, seed: int, o: Outcome,
            elapsed: float, n_shards: int) -> SimulateResult:
    st = o.state
    n_reg = len(p.regions)
    region_hour, per_second, per_sku = st["region_hour"], st["per_second"], st["per_sku"]
    # late: shipped, not within 48 h (left to here by the tallies: a difference of sums)
    region_hour[:, :, A.R_LATE] = region_hour[:, :, A.R_SHIPPED] - region_hour[:, :, A.R_D48]
    # every table built from one dict of columns (adding columns one by one copies), not
    # copied into one block per dtype (copy=False: 3.3 to 2.5 ms on the 3M-order day)
    reg = pd.DataFrame({
        "region_id": np.repeat(p.regions.ids, 24),
        "hour": np.tile(np.arange(24, dtype=np.int64), n_reg),
        **{col: _money(col, region_hour[:, :, j].ravel()) for j, col in enumerate(_REGION_COLS)},
    }, copy=False)
    gmv_s = np.empty(per_second.shape[0])
    peak = second_columns(per_second, gmv_s)  # (and the peak second, in the same pass)
    sec = pd.DataFrame({
        "second": np.arange(SECONDS, dtype=np.int64),
        "orders": per_second[:, 0],
        "units": per_second[:, 1],
        "gmv": gmv_s,
    }, copy=False)
    brand = np.zeros((len(p.brands), A.N_SKU_COLS), dtype=np.int64)
    np.add.at(brand, p.sku_brand, per_sku)
    # by gmv, largest first, then brand id: sorted before the table is built (pandas' sort
    # on a string key took 1 ms of the 3M-order day's 70)
    by_id = np.argsort(p.brands.ids, kind="stable")
    order = by_id[np.argsort(-brand[by_id, A.K_GMV], kind="stable")]
    brands = pd.DataFrame({"brand_id": p.brands.ids[order],
                           **{col: _money(col, brand[order, j])
                              for j, col in enumerate(_BRAND_COLS)}}, copy=False)
    picked, shipped_h, backlog_h, flow = st["picked"], o.shipped_h, o.backlog_h, st["flow"]
    last = int(np.flatnonzero((picked + shipped_h + backlog_h).any(axis=0)).max(initial=23)) + 1
    n_hours = max(last, 24)
    wh = pd.DataFrame({
        "warehouse_id": np.repeat(p.warehouses.ids, n_hours),
        "hour": np.tile(np.arange(n_hours, dtype=np.int64), len(p.warehouses)),
        "picked": picked[:, :n_hours].ravel(),
        "shipped": shipped_h[:, :n_hours].ravel(),
        "backlog": backlog_h[:, :n_hours].ravel(),
    }, copy=False)
    # parcels leave only in hours that ship something: the first n_hours hold every flow
    # (a kernel's pass: copy, flat nonzero and unravel took 0.23 ms of the 3M-order day)
    w_i, h_i, r_i, parcels = flow_rows(flow, n_hours)
    flows = pd.DataFrame({
        "warehouse_id": p.warehouses.ids[w_i],
        "hour": h_i,
        "region_id": p.regions.ids[r_i],
        "parcels": parcels,
    }, copy=False)
    # units not within 24 h by reason, beside the region's nearest warehouse (the one whose
    # stock, backlog or lanes it was)
    near = p.routes(params.policy)[:, 0]
    near_ids = np.r_[p.warehouses.ids, np.array([None], dtype=object)][
        np.where(near >= 0, near, len(p.warehouses))]
    reasons = pd.DataFrame({
        "region_id": np.repeat(p.regions.ids, 24),
        "hour": np.tile(np.arange(24, dtype=np.int64), n_reg),
        "warehouse_id": np.repeat(near_ids, 24),
        **{col: region_hour[:, :, j].ravel() for col, j in (
            ("stock", A.R_NOT24_STOCK), ("backlog", A.R_NOT24_BACKLOG),
            ("transit", A.R_NOT24_TRANSIT))},
    }, copy=False)
    placed = scaled(p.stock, params.scale)
    s_i, w_i2 = np.nonzero(placed)
    stock_table = pd.DataFrame({
        "sku_id": p.skus.ids[s_i],
        "warehouse_id": p.warehouses.ids[w_i2],
        "placed": placed[s_i, w_i2].astype(np.int64),
        "left": st["stock"][s_i, w_i2].astype(np.int64),
    })
    totals = region_hour.sum(axis=(0, 1))
    units = int(totals[A.R_UNITS])
    factory_units = int(totals[A.R_SHIPPED]) - int((scaled(p.stock, params.scale)
                                                    - st["stock"]).sum())

    def share(x: int) -> float:
        return float(x / units) if units else 0.0

    return SimulateResult(
        day=p.day,
        seed=seed,
        tables={
            "outcomes_region": reg,
            "outcomes_warehouse": wh,
            "outcomes_second": sec,
            "outcomes_brand": brands,
            "outcomes_flow": flows,
            "outcomes_reason": reasons,
            "outcomes_stock": stock_table,
        },
        stock_left=st["stock"],
        orders=int(totals[A.R_ORDERS]),
        units=units,
        gmv=int(totals[A.R_GMV]) / 100.0,
        peak_orders_per_second=int(per_second[peak, 0]),
        peak_second=peak,
        share_24h=share(int(totals[A.R_D24])),
        share_48h=share(int(totals[A.R_D48])),
        unfilled_share=share(int(totals[A.R_UNFILLED])),
        figures={
            "share_72h": share(int(totals[A.R_D72])),
            "factory_units": float(factory_units),
            "backlog_hours": float(n_hours),
            "scale": float(params.scale),
            "workers": float(n_shards),
            "seconds": elapsed,
            "orders_per_second": o.orders / max(elapsed, 1e-9),
            "resumed_at_second": float(o.resumed_at),
            "bytes_moved": float(o.bytes_moved),
        },
        sample=_sample(p, st) if params.sample_share > 0 else None,
    )


def _sample(p: SimulateProblem, st: dict[str, np.ndarray]) -> pd.DataFrame:
    n_reg = len(p.regions)
    order = np.lexsort((st["sample_k"], st["sample_key"]))
    key, w = st["sample_key"][order], st["sample_w"][order]
    wh_ids = np.r_[p.warehouses.ids, np.array(["factory", None], dtype=object)]
    return pd.DataFrame({
        "sku_id": p.skus.ids[key // n_reg],
        "region_id": p.regions.ids[key % n_reg],
        "order": st["sample_k"][order],
        "time": st["sample_time"][order],
        "units": st["sample_size"][order],
        "warehouse_id": wh_ids[w],  # -2: factory, -1: unfilled (None)
        "ship_hour": st["sample_ship"][order],
        "hours_to_door": st["sample_elapsed"][order],
    })
