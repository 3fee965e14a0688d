"""Rehearse the event day order by order: route, queue, carry, and measure the promise.

The day's demand (units per SKU and region) is split into orders of one or
more units, each placed at a time drawn from the intraday profile (the
midnight surge, the night lull, the evening peak). Orders are generated and
consumed in time chunks, so memory stays bounded whatever their number. Each
order goes to the nearest warehouse (by lane hours) holding its units, waits
behind the warehouse's hourly outbound capacity (first in, first out), and
travels the lane; it counts as delivered within 24 h, within 48 h, or late.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.simulate import _kernels as K
from forestock.simulate._profile import SECONDS, intraday_cdf
from forestock.tables import IdIndex, lane_hours

__all__ = [
    "OUTCOME_TABLES",
    "SimulateParams",
    "SimulateProblem",
    "SimulateResult",
    "simulate",
]

log = logging.getLogger("forestock.simulate")

OUTCOME_TABLES = (
    "outcomes_region",
    "outcomes_warehouse",
    "outcomes_second",
    "outcomes_brand",
    "outcomes_flow",
)
_REGION_COLS = ("orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "late",
                "unfilled")


@dataclass(frozen=True)
class SimulateParams:
    """How orders are made and carried.

    Parameters
    ----------
    size_probs
        Probability of an order of 1, 2, 3, ... units.
    surge
        Order rate in the first second after midnight, in multiples of the
        day's average rate, on top of the diurnal curve.
    surge_seconds
        Decay time of the midnight surge.
    transit_noise
        Lane hours vary uniformly by up to this share either way.
    last_mile_hours
        Hours from the destination's depot to the buyer's door.
    chunk_orders
        Orders held in memory at once.
    horizon_hours
        Hours after midnight followed while backlogs drain.
    """

    size_probs: tuple[float, ...] = (0.72, 0.18, 0.07, 0.03)
    surge: float = 32.0
    surge_seconds: float = 420.0
    transit_noise: float = 0.15
    last_mile_hours: float = 2.0
    chunk_orders: int = 2_000_000
    horizon_hours: int = 24 * 7

    def __post_init__(self) -> None:
        p = np.asarray(self.size_probs, dtype=float)
        if p.size == 0 or (p < 0).any() or not np.isclose(p.sum(), 1.0):
            raise ValueError(f"size_probs must be non-negative and add up to 1, got {p}")
        if self.surge < 0 or self.surge_seconds <= 0:
            raise ValueError(f"surge must be >= 0 and surge_seconds > 0, got {self.surge}, "
                             f"{self.surge_seconds}")
        if not 0 <= self.transit_noise < 1:
            raise ValueError(f"transit_noise must be in [0, 1), got {self.transit_noise}")
        if self.last_mile_hours < 0:
            raise ValueError(f"last_mile_hours must be >= 0, got {self.last_mile_hours}")
        if self.chunk_orders < 1_000:
            raise ValueError(f"chunk_orders must be >= 1000, got {self.chunk_orders}")
        if self.horizon_hours < 48:
            raise ValueError(f"horizon_hours must be >= 48, got {self.horizon_hours}")


@dataclass(frozen=True)
class SimulateProblem:
    """One event day to rehearse, as flat arrays over dense codes.

    Build it with :meth:`from_tables`; ``replace`` makes what-if variants.
    """

    day: dt.date
    skus: IdIndex
    regions: IdIndex
    warehouses: IdIndex
    brands: IdIndex
    sku_brand: np.ndarray  # int32 [sku]
    price: np.ndarray  # float64 [sku]
    cell_sku: np.ndarray  # int32 [cell]
    cell_region: np.ndarray  # int32 [cell]
    cell_units: np.ndarray  # int64 [cell]
    stock: np.ndarray  # int64 [sku, warehouse]
    transit: np.ndarray  # float64 [warehouse, region], NaN where no lane
    capacity: np.ndarray  # int64 [warehouse], parcels per hour

    def replace(self, **changes: object) -> SimulateProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_tables(
        cls,
        day: dt.date,
        demand: pd.DataFrame,
        plan: pd.DataFrame,
        warehouses: pd.DataFrame,
        lanes: pd.DataFrame,
        skus: pd.DataFrame,
        regions: pd.DataFrame,
    ) -> SimulateProblem:
        """Build the problem from contract tables.

        ``demand`` has sku_id, region_id, units for the day (``truth`` rows of
        that date, say); ``plan`` the units of each SKU per warehouse.
        """
        sku_ix = IdIndex(skus["sku_id"])
        reg_ix = IdIndex(regions["region_id"])
        wh_ix = IdIndex(warehouses["warehouse_id"])
        brand_ix = IdIndex(pd.unique(skus["brand_id"]))
        demand = demand[demand["units"] > 0]
        stock = np.zeros((len(sku_ix), len(wh_ix)), dtype=np.int64)
        try:
            ps = sku_ix.codes(plan["sku_id"], what="sku_id in plan")
            pw = wh_ix.codes(plan["warehouse_id"], what="warehouse_id in plan")
            cs = sku_ix.codes(demand["sku_id"], what="sku_id in demand")
            cr = reg_ix.codes(demand["region_id"], what="region_id in demand")
            transit = lane_hours(lanes, wh_ix, reg_ix)
        except ValueError as err:
            raise ForestockError(str(err)) from None
        np.add.at(stock, (ps, pw), plan["units"].to_numpy(dtype=np.int64))
        return cls(
            day=day,
            skus=sku_ix,
            regions=reg_ix,
            warehouses=wh_ix,
            brands=brand_ix,
            sku_brand=brand_ix.codes(skus["brand_id"]),
            price=skus["price"].to_numpy(dtype=np.float64),
            cell_sku=cs,
            cell_region=cr,
            cell_units=demand["units"].to_numpy(dtype=np.int64),
            stock=stock,
            transit=transit,
            capacity=warehouses["outbound_per_hour"].to_numpy(dtype=np.int64),
        )

    def routes(self) -> np.ndarray:
        """Per region, warehouses by lane hours (ties by code), -1 past the last usable one."""
        usable = ~np.isnan(self.transit) & (self.capacity[:, None] > 0)
        hours = np.where(usable, self.transit, np.inf).T  # [region, warehouse]
        order = np.argsort(hours, axis=1, kind="stable").astype(np.int32)
        ranked_usable = np.take_along_axis(usable.T, order, axis=1)
        return np.where(ranked_usable, order, -1).astype(np.int32)


@dataclass(frozen=True)
class SimulateResult:
    """The rehearsed day: outcome tables, headline figures, stock left, seed."""

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


def _expected_cut(cdf: np.ndarray, t0: float, budget_share: float, t_max: float) -> float:
    """The time after ``t0`` by which about ``budget_share`` of the day's orders are placed."""
    grid = np.arange(1, SECONDS + 1, dtype=np.float64)
    target = np.interp(t0, grid, cdf, left=cdf[0] * t0) + budget_share
    if target >= cdf[-1]:
        return t_max
    t1 = float(np.interp(target, cdf, grid))
    return min(max(t1, t0 + 1.0), t_max)


def simulate(
    problem: SimulateProblem,
    params: SimulateParams | None = None,
    seed: int = 0,
    callbacks: Callbacks | None = None,
) -> SimulateResult:
    """Rehearse the day of ``problem``; same seed, same tables, bit for bit."""
    params = params or SimulateParams()
    cb = callbacks or NO_CALLBACKS
    p = problem
    if (p.capacity < 0).any():
        raise ForestockError("outbound_per_hour must not be negative")
    n_sku, n_wh, n_reg = len(p.skus), len(p.warehouses), len(p.regions)
    horizon = params.horizon_hours
    seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    size_cdf = np.cumsum(np.asarray(params.size_probs, dtype=np.float64))
    size_cdf[-1] = 1.0
    cdf = intraday_cdf(params.surge, params.surge_seconds)
    units = p.cell_units.astype(np.int64)
    n_orders = K.count_orders(units, seed64, size_cdf)
    total_orders = int(n_orders.sum())
    # per-cell state of the order generator
    next_k = np.zeros(units.size, dtype=np.int64)
    last_u = np.zeros(units.size, dtype=np.float64)
    left = units.copy()
    stock = p.stock.copy()
    route = p.routes()
    transit = np.nan_to_num(p.transit, nan=0.0)
    capacity = np.maximum(p.capacity, 1)  # routes() skips warehouses without capacity
    arrived = np.zeros(n_wh, dtype=np.int64)
    shipped_cum = np.zeros(n_wh, dtype=np.int64)
    region_hour = np.zeros((n_reg, 24, len(_REGION_COLS)), dtype=np.float64)
    per_second = np.zeros((SECONDS, 3), dtype=np.float64)
    per_sku = np.zeros((n_sku, 7), dtype=np.float64)
    picked = np.zeros((n_wh, horizon), dtype=np.int64)
    flow = np.zeros((n_wh, horizon, n_reg), dtype=np.int64)
    shipped_h = np.zeros((n_wh, horizon), dtype=np.int64)
    backlog_h = np.zeros((n_wh, horizon), dtype=np.int64)
    buf = int(params.chunk_orders * 1.25) + 1_000
    out_cell = np.empty(buf, dtype=np.int64)
    out_k = np.empty(buf, dtype=np.int64)
    out_time = np.empty(buf, dtype=np.float64)
    out_size = np.empty(buf, dtype=np.int64)
    budget = params.chunk_orders / max(total_orders, 1)
    cb.on_start("simulate", total_orders)
    for hour in range(24):
        t0, t_hour_end = hour * 3600.0, (hour + 1) * 3600.0
        while t0 < t_hour_end:
            t1 = _expected_cut(cdf, t0, budget, t_hour_end)
            while True:
                saved = (next_k.copy(), last_u.copy(), left.copy())
                m = K.emit_orders(units, n_orders, next_k, last_u, left, seed64, size_cdf, cdf,
                                  t1, out_cell, out_k, out_time, out_size)
                if m >= 0:
                    break
                next_k, last_u, left = saved
                t1 = t0 + (t1 - t0) / 2.0
            order = np.argsort(out_time[:m], kind="stable")
            K.route_orders(out_cell[:m][order], out_k[:m][order], out_time[:m][order],
                           out_size[:m][order], p.cell_sku, p.cell_region, p.price, stock,
                           route, transit, capacity, arrived, shipped_cum, hour, seed64,
                           params.transit_noise, params.last_mile_hours, horizon,
                           region_hour, per_second, per_sku, picked, flow)
            cb.on_step("simulate", m)
            t0 = t1
        _close_hour(hour, arrived, shipped_cum, capacity, shipped_h, backlog_h)
    for hour in range(24, horizon):
        if (arrived == shipped_cum).all():
            break
        _close_hour(hour, arrived, shipped_cum, capacity, shipped_h, backlog_h)
    cb.on_end("simulate")
    if (left != 0).any() or (next_k != n_orders).any():
        raise RuntimeError("order generator did not place every unit of the day")
    return _result(p, seed, stock, region_hour, per_second, per_sku, picked, shipped_h,
                   backlog_h, flow)


def _close_hour(hour: int, arrived: np.ndarray, shipped_cum: np.ndarray, capacity: np.ndarray,
                shipped_h: np.ndarray, backlog_h: np.ndarray) -> None:
    before = shipped_cum.copy()
    np.minimum(arrived, shipped_cum + capacity, out=shipped_cum)
    shipped_h[:, hour] = shipped_cum - before
    backlog_h[:, hour] = arrived - shipped_cum


def _result(p: SimulateProblem, seed: int, stock: np.ndarray, region_hour: np.ndarray,
            per_second: np.ndarray, per_sku: np.ndarray, picked: np.ndarray,
            shipped_h: np.ndarray, backlog_h: np.ndarray, flow: np.ndarray) -> SimulateResult:
    n_reg = len(p.regions)
    reg = pd.DataFrame({
        "region_id": np.repeat(p.regions.ids, 24),
        "hour": np.tile(np.arange(24), n_reg),
    })
    for j, col in enumerate(_REGION_COLS):
        vals = region_hour[:, :, j].ravel()
        reg[col] = vals if col == "gmv" else np.rint(vals).astype(np.int64)
    sec = pd.DataFrame({
        "second": np.arange(SECONDS),
        "orders": per_second[:, 0].astype(np.int64),
        "units": per_second[:, 1].astype(np.int64),
        "gmv": per_second[:, 2],
    })
    brand = np.zeros((len(p.brands), per_sku.shape[1]))
    np.add.at(brand, p.sku_brand, per_sku)
    brands = pd.DataFrame({"brand_id": p.brands.ids})
    for j, col in enumerate(("orders", "units", "gmv", "shipped", "delivered_24h",
                             "delivered_48h", "unfilled")):
        brands[col] = brand[:, j] if col == "gmv" else np.rint(brand[:, j]).astype(np.int64)
    brands = brands.sort_values(["gmv", "brand_id"], ascending=[False, True], ignore_index=True)
    last = int(np.flatnonzero((picked + shipped_h + backlog_h).any(axis=0)).max(initial=23)) + 1
    n_hours = max(last, 24)
    wh = pd.DataFrame({
        "warehouse_id": np.repeat(p.warehouses.ids, n_hours),
        "hour": np.tile(np.arange(n_hours), len(p.warehouses)),
        "picked": picked[:, :n_hours].ravel(),
        "shipped": shipped_h[:, :n_hours].ravel(),
        "backlog": backlog_h[:, :n_hours].ravel(),
    })
    w_i, h_i, r_i = np.nonzero(flow)
    flows = pd.DataFrame({
        "warehouse_id": p.warehouses.ids[w_i],
        "hour": h_i.astype(np.int64),
        "region_id": p.regions.ids[r_i],
        "parcels": flow[w_i, h_i, r_i],
    })
    totals = region_hour.sum(axis=(0, 1))
    units = float(totals[1])
    peak = int(np.argmax(per_second[:, 0]))
    return SimulateResult(
        day=p.day,
        seed=seed,
        tables={
            "outcomes_region": reg,
            "outcomes_warehouse": wh,
            "outcomes_second": sec,
            "outcomes_brand": brands,
            "outcomes_flow": flows,
        },
        stock_left=stock,
        orders=int(totals[0]),
        units=int(units),
        gmv=float(totals[2]),
        peak_orders_per_second=int(per_second[peak, 0]),
        peak_second=peak,
        share_24h=float(totals[4] / units) if units else 0.0,
        share_48h=float(totals[5] / units) if units else 0.0,
        unfilled_share=float(totals[7] / units) if units else 0.0,
        figures={"backlog_hours": float(n_hours)},
    )
