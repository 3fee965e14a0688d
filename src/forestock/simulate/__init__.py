"""Rehearse the event day order by order: route, queue, carry, and measure the promise.

The day's demand (units per SKU and region, from the truth or a forecast
scenario, or a table of orders) is split into orders of one or more units
(sizes drawn from ``size_probs``; the last order of a SKU and region takes
what is left), each placed at a time that follows the intraday profile (the
midnight surge, the night lull, the evening peak). Arrivals are stratified:
order ``k`` of a SKU and region's ``n`` falls uniformly within the ``k``-th
``n``-quantile band of the profile, so each one's times come out in order
with no sort, and the day's shape is met exactly. ``scale`` multiplies
demand, stock and warehouse capacity alike, up to a Singles' Day of 1.3
billion orders.

The rules, which the SimPy model in the tests implements independently:

* An order goes to the first warehouse on its region's routing list (by
  default every warehouse with a lane, nearest by lane hours first) holding
  all its units; else it ships from the factory (if ``factory_hours`` is
  set) or is unfilled. A SKU's stock depletes in order of order time (ties:
  cell, then order index).
* Orders reach a warehouse floor in one-second waves; within a wave they
  queue in order of SKU code, region code, then order index (time order
  within a SKU and region). Each warehouse ships at most its
  hourly outbound capacity at the end of each hour, first in first out; the
  backlog carries over.
* A parcel shipped at the end of hour ``h`` reaches the buyer after the
  lane's hours (with seeded noise) plus the last mile; its units count as
  delivered within 24 h, 48 h, 72 h of the order, or later.

Orders are generated and consumed in time chunks, so memory stays flat
whatever their number; the work is split by SKU shard over ``workers``
(threads, or processes) and reduced per warehouse and second, with
identical results for any number of workers. Every random draw is keyed by
(seed, SKU and region, order index): one 64-bit hash per order gives its
time, size and transit noise. Long runs write checkpoints and resume after a
crash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.params import toml_fields
from forestock.simulate import _arrays as A
from forestock.simulate import _checkpoint, _pools, _reuse, _shard
from forestock.simulate import _engine as E
from forestock.simulate import _kernels as K
from forestock.simulate import _tallies as T
from forestock.simulate._check import OutcomeError, check_outcomes, scaled
from forestock.simulate._demand import demand_from_forecast, orders_in_day
from forestock.simulate._live import (
    REGION_COLS,
    SKU_COLS,
    ChunkView,
    DayStart,
    LiveCallbacks,
    chunk_view,
)
from forestock.simulate._profile import SECONDS, intraday_cdf
from forestock.simulate._routing import ROUTING_POLICIES, RoutingPolicy
from forestock.tables import IdIndex, lane_hours

__all__ = [
    "OUTCOME_TABLES",
    "REGION_COLS",
    "ROUTING_POLICIES",
    "SKU_COLS",
    "ChunkView",
    "DayStart",
    "LiveCallbacks",
    "OutcomeError",
    "RoutingPolicy",
    "SimulateParams",
    "SimulateProblem",
    "SimulateResult",
    "check_outcomes",
    "demand_from_forecast",
    "simulate",
]

log = logging.getLogger("forestock.simulate")

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
class SimulateParams:
    """How orders are made, routed and carried, and how the work is run.

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
        Orders held in memory at once (all workers together). Smaller chunks
        also shorten the replays where stock runs short within a chunk
        (200,000 measured faster than 1,000,000 from 1 to 50 million orders).
    horizon_hours
        Hours after midnight followed while backlogs drain.
    scale
        Multiplies the day's demand, the stock and the warehouses' hourly
        capacity alike (demand from a table of orders is taken as given).
    workers
        Workers the SKU shards run on (see ``pool``); results do not depend on it.
    policy
        Routing policy, a key of :data:`ROUTING_POLICIES`.
    factory_hours
        If set, an order no warehouse can fill ships from the factory and
        reaches the buyer this many hours (with noise) after it was placed;
        if ``None`` it is unfilled.
    sample_share
        Share of orders kept, one row each, in ``SimulateResult.sample``.
    checkpoint_seconds
        Wall-clock seconds between checkpoints (when a checkpoint file is given).
    pool
        How shards run when ``workers > 1``: ``"threads"`` (one process; the
        kernels release the GIL) or ``"processes"`` (one spawned process
        each). Results do not depend on it.
    """

    size_probs: tuple[float, ...] = (0.72, 0.18, 0.07, 0.03)
    surge: float = 32.0
    surge_seconds: float = 420.0
    transit_noise: float = 0.15
    last_mile_hours: float = 2.0
    chunk_orders: int = 200_000
    horizon_hours: int = 24 * 7
    scale: float = 1.0
    workers: int = 1
    policy: str = "nearest"
    factory_hours: float | None = None
    sample_share: float = 0.0
    checkpoint_seconds: float = 30.0
    pool: str = "threads"

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
        if not (isinstance(self.scale, int | float) and math.isfinite(self.scale)
                and self.scale > 0):
            raise ValueError(f"scale must be a positive number, got {self.scale!r}")
        if not 1 <= self.workers <= 256:
            raise ValueError(f"workers must be from 1 to 256, got {self.workers}")
        if self.policy not in ROUTING_POLICIES:
            raise ValueError(f"policy must be one of {', '.join(ROUTING_POLICIES)}, got "
                             f"{self.policy!r}")
        if self.factory_hours is not None and not self.factory_hours > 0:
            raise ValueError(f"factory_hours must be > 0 or None, got {self.factory_hours}")
        if not 0 <= self.sample_share <= 1:
            raise ValueError(f"sample_share must be in [0, 1], got {self.sample_share}")
        if self.pool not in ("threads", "processes"):
            raise ValueError(f"pool must be 'threads' or 'processes', got {self.pool!r}")
        if self.checkpoint_seconds < 0:
            raise ValueError(f"checkpoint_seconds must be >= 0, got {self.checkpoint_seconds}")

    def replace(self, **changes: object) -> SimulateParams:
        """A copy with some fields changed (and checked)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: str | Path) -> SimulateParams:
        """Load parameters from a TOML file (a ``[simulate]`` table, or top-level keys).

        Unknown keys raise ``ValueError`` naming them.
        """
        return cls(**toml_fields(path, "simulate", cls))


@dataclass(frozen=True)
class SimulateProblem:
    """One event day to rehearse, as flat arrays over dense codes.

    Build it with :meth:`from_tables`; ``replace`` makes what-if variants.
    With ``orders_cell`` set, demand is the given orders (cell, time in
    seconds after midnight, units) instead of orders generated from
    ``cell_units``.
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
    orders_cell: np.ndarray | None = None  # int64 [order]
    orders_time: np.ndarray | None = None  # float64 [order], seconds after midnight
    orders_units: np.ndarray | None = None  # int64 [order]

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

        ``demand`` is either sales-shaped (sku_id, region_id, units for the
        day: ``truth`` rows of that date, or :func:`demand_from_forecast`) or
        an ``orders`` table (order_id, time, sku_id, region_id, units), whose
        times must fall within ``day``; ``plan`` gives the units of each SKU
        per warehouse.
        """
        sku_ix = IdIndex(skus["sku_id"])
        reg_ix = IdIndex(regions["region_id"])
        wh_ix = IdIndex(warehouses["warehouse_id"])
        brand_ix = IdIndex(pd.unique(skus["brand_id"]))
        given = "time" in demand.columns
        if given:
            secs = orders_in_day(demand, day)
        else:
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
        units = demand["units"].to_numpy(dtype=np.int64)
        orders: dict[str, np.ndarray | None] = {}
        if given:
            if (units < 1).any():
                row = int(np.flatnonzero(units < 1)[0])
                raise ForestockError(f"orders, row {row + 1}, column 'units': an order needs "
                                     "at least one unit")
            key = cs.astype(np.int64) * len(reg_ix) + cr
            uniq, inverse = np.unique(key, return_inverse=True)
            cs, cr = (uniq // len(reg_ix)).astype(np.int32), (uniq % len(reg_ix)).astype(np.int32)
            orders = {"orders_cell": inverse.astype(np.int64), "orders_time": secs,
                      "orders_units": units}
            units = np.bincount(inverse, weights=units, minlength=uniq.size).astype(np.int64)
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
            cell_units=units,
            stock=stock,
            transit=transit,
            capacity=warehouses["outbound_per_hour"].to_numpy(dtype=np.int64),
            **orders,
        )

    def routes(self, policy: str = "nearest") -> np.ndarray:
        """Per region, the warehouses an order tries in turn, -1 past the last one."""
        return ROUTING_POLICIES[policy](self.transit, self.capacity)


@dataclass(frozen=True)
class SimulateResult:
    """The rehearsed day: outcome tables, headline figures, stock left, seed.

    ``figures`` adds ``share_72h``, ``factory_units``, ``backlog_hours``,
    ``scale``, ``workers``, ``seconds`` (wall time) and ``orders_per_second``
    (simulated per wall-clock second). ``sample`` holds one row per sampled
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


@functools.lru_cache(maxsize=8)
def _day_shape(surge: float, surge_seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The intraday cdf with its inverse widths and lookup table (computed once per shape;
    the kernels only read them)."""
    cdf = intraday_cdf(surge, surge_seconds)
    return cdf, K.inverse_widths(cdf), K.cdf_lut(cdf)


def _cells(p: SimulateProblem, scale: float) -> dict[str, np.ndarray]:
    """Demand cells keyed ``sku * n_regions + region``, merged and sorted by key."""
    n_reg = len(p.regions)
    key = p.cell_sku.astype(np.int64) * n_reg + p.cell_region.astype(np.int64)
    one_each = bool((key[1:] > key[:-1]).all())  # one row a cell, in order (as usual)
    if one_each:
        uniq, inverse = key, np.arange(key.size)
    else:
        uniq, inverse = np.unique(key, return_inverse=True)
    sku = uniq // n_reg  # (and the region by a product: np.remainder took 0.06 ms more)
    out: dict[str, np.ndarray] = {"keys": uniq, "sku": sku.astype(np.int32),
                                  "region": (uniq - sku * n_reg).astype(np.int32)}
    if p.orders_cell is None:
        # (one row a cell: each cell's units as they are, the float64 a sum would give)
        units = p.cell_units.astype(np.float64) if one_each else \
            np.bincount(inverse, weights=p.cell_units, minlength=uniq.size)
        out["units"] = scaled(units, scale)
        return out
    if p.orders_time is None or p.orders_units is None:
        raise ValueError("orders_cell, orders_time and orders_units go together")
    cell = inverse[p.orders_cell]
    order = np.lexsort((np.arange(cell.size), p.orders_time, cell))
    out["o_time"] = p.orders_time[order].astype(np.float64)
    out["o_size"] = p.orders_units[order].astype(np.int64)
    out["indptr"] = np.r_[0, np.cumsum(np.bincount(cell, minlength=uniq.size))].astype(np.int64)
    out["units"] = np.add.reduceat(out["o_size"], out["indptr"][:-1]) if cell.size else \
        np.zeros(uniq.size, dtype=np.int64)
    return out


def _cell_work(cells: dict[str, np.ndarray], params: SimulateParams,
               expected: np.ndarray) -> np.ndarray:
    """Each cell's expected work: its orders, plus four times the chunks it has orders in (a
    cell's visit in a chunk costs about four orders' work, measured on the embedded world
    at 3 and 12 million orders), plus twelve (its start, and what a cell costs whatever its
    orders), so that shards of equal work finish together. (With the twelve, the two
    shards' CPU times on the benchmark's 3-million-order day came 1.0 ms apart rather than
    1.6 to 2.0, shard 0 the longer; at 12 million 1.5 rather than 3.3 ms, now shard 1.)"""
    if "indptr" in cells:
        orders = np.diff(cells["indptr"]).astype(np.float64)
    else:
        mean_size = float(np.dot(np.arange(1, len(params.size_probs) + 1), params.size_probs))
        orders = cells["units"] / mean_size
    share = params.chunk_orders / max(float(orders.sum()), 1.0)
    n_chunks = E.chunk_cuts(expected, 0, share).size - 1
    return orders + 4.0 * np.minimum(orders, n_chunks) + 12.0


def _shard_bounds(cell_sku: np.ndarray, work: np.ndarray, n_sku: int,
                  workers: int) -> list[tuple[int, int]]:
    """SKU ranges of about equal work, one per worker (fewer if SKUs run out)."""
    cum = np.cumsum(work, dtype=np.float64)
    bounds = [0]
    for j in range(1, workers):
        c = int(np.searchsorted(cum, cum[-1] * j / workers)) if cum.size else 0
        b = int(cell_sku[c]) if c < cell_sku.size else n_sku
        if bounds[-1] < b < n_sku:
            bounds.append(b)
    bounds.append(n_sku)
    return list(itertools.pairwise(bounds))


def simulate(
    problem: SimulateProblem,
    params: SimulateParams | None = None,
    seed: int = 0,
    callbacks: Callbacks | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = False,
) -> SimulateResult:
    """Rehearse the day of ``problem``; same seed, same tables, bit for bit.

    Parameters
    ----------
    problem
        The day, its demand, stock and network.
    params
        Rules and run options; default :class:`SimulateParams`.
    seed
        Seed of every random draw (order sizes and times, transit noise).
    callbacks
        Progress listener: one task ``"simulate"`` counted in orders; a
        :class:`LiveCallbacks` also sees the tallies after every chunk.
    checkpoint
        File to write checkpoints to while running (removed at the end).
    resume
        Continue from ``checkpoint`` if it exists (same problem, rules, seed).

    Raises
    ------
    ForestockError
        On bad input (a negative capacity, a scaled table of orders, a
        checkpoint of another run).
    """
    params = params or SimulateParams()
    cb = callbacks or NO_CALLBACKS
    p = problem
    if (p.capacity < 0).any():
        raise ForestockError("outbound_per_hour must not be negative")
    if p.orders_cell is not None and params.scale != 1.0:
        raise ForestockError("scale multiplies generated demand; a table of orders is "
                             "rehearsed as given (use scale 1)")
    t_start = time.perf_counter()
    n_sku, n_reg = len(p.skus), len(p.regions)
    cells = _cells(p, params.scale)
    cdf, inv_width, lut = _day_shape(params.surge, params.surge_seconds)
    shape = A.DayShape(K.size_thresholds(np.asarray(params.size_probs, dtype=np.float64)), cdf,
                     inv_width, lut)
    given = "indptr" in cells
    # threads start every shard's cells at once, beginning now (see _shard.StartPass; the rest
    # of the set-up after it: 0.15 ms sooner on the 3M-order day)
    start: _shard.StartPass | None = None
    executor: ThreadPoolExecutor | None = None
    begun: list[Future[None]] = []
    if params.workers > 1 and params.pool == "threads" and not given:
        start = _shard.StartPass(cells["keys"], cells["units"], seed, shape, 8 * params.workers)
        executor = _reuse.thread_executor(params.workers)
        begun = [executor.submit(start.run) for _ in range(params.workers - 1)]
    try:
        stock = scaled(p.stock, params.scale)
        capacity = scaled(p.capacity, params.scale)
        route = ROUTING_POLICIES[params.policy](p.transit, capacity)
        if route.ndim != 2 or route.shape[0] != n_reg:
            raise ValueError(f"routing policy {params.policy!r} returned shape "
                             f"{route.shape}, expected ({n_reg}, ...)")
        route = np.ascontiguousarray(route, dtype=np.int32)
        transit = np.nan_to_num(p.transit, nan=0.0)
        price_cents = np.rint(p.price * 100).astype(np.int64)
        net = A.Network(route=route, transit=transit, capacity=np.maximum(capacity, 1),
                      noise=params.transit_noise, last_mile=params.last_mile_hours,
                      factory_hours=params.factory_hours or 0.0)
        if given:
            expected = np.cumsum(np.bincount(cells["o_time"].astype(np.int64), minlength=SECONDS)
                                 .astype(np.float64))
            expected /= max(expected[-1], 1.0)
        else:
            expected = cdf
        shards = _shard_bounds(cells["sku"], _cell_work(cells, params, expected), n_sku,
                               params.workers)
        cell_ranges = [(int(np.searchsorted(cells["sku"], a)),
                        int(np.searchsorted(cells["sku"], b))) for a, b in shards]
        datas = []
        for (k0, k1), (c0, c1) in zip(shards, cell_ranges, strict=True):
            indptr: np.ndarray | None = None
            o_time: np.ndarray | None = None
            o_size: np.ndarray | None = None
            if given:
                i0, i1 = cells["indptr"][c0], cells["indptr"][c1]
                indptr, o_time, o_size = (cells["indptr"][c0:c1 + 1] - i0, cells["o_time"][i0:i1],
                                          cells["o_size"][i0:i1])
            datas.append(_shard.ShardData(
                keys=cells["keys"][c0:c1], cell_sku=(cells["sku"][c0:c1] - k0).astype(np.int32),
                cell_region=cells["region"][c0:c1], units=cells["units"][c0:c1],
                indptr=indptr, o_time=o_time, o_size=o_size, stock=stock[k0:k1],
                price_cents=price_cents[k0:k1], net=net, shape=shape, seed=seed,
                n_regions=n_reg, horizon=params.horizon_hours,
                sample_share=params.sample_share,
                start=start.part(c0, c1) if start is not None else None,
            ))
        rules = params.replace(workers=1, chunk_orders=1_000, checkpoint_seconds=0.0,
                               pool="threads")
        ckpt = Path(checkpoint) if checkpoint is not None else None
        stamp = "" if ckpt is None else _checkpoint.fingerprint(  # (checkpoints only)
            p.day, seed, repr(rules), cells["keys"], cells["units"], stock, capacity, transit,
            price_cents, route, *(cells[k] for k in ("indptr", "o_time", "o_size") if k in cells))
        if resume and (ckpt is None or not ckpt.exists()):
            raise ForestockError(f"no checkpoint to resume from at {ckpt}")
        if ckpt is not None and not resume:
            ckpt.unlink(missing_ok=True)  # a stale checkpoint of an earlier run
        run = E.Run(capacity=np.maximum(capacity, 1), horizon=params.horizon_hours,
                    chunk_orders=params.chunk_orders, expected_cdf=expected,
                    cells=tuple(cell_ranges), skus=tuple(shards), stamp=stamp, checkpoint=ckpt,
                    checkpoint_seconds=params.checkpoint_seconds, resume=resume,
                    on_chunk=_live_listener(cb, DayStart(np.maximum(capacity, 1), stock,
                                                         expected)))

        def make_pool() -> _pools.Pool:
            if start is not None:
                # the shards built while the pool's thread starts cells (they read none of
                # it), then this thread starts cells too, until every block is done
                pool: _pools.Pool = _pools.ThreadPool(datas, executor) if len(datas) > 1 \
                    else _pools.LocalPool(datas)
                start.run()
                for f in begun:
                    f.result()
                return pool
            if len(datas) == 1:
                return _pools.LocalPool(datas)
            if params.pool == "threads":
                return _pools.ThreadPool(datas, executor)
            return _pools.ProcessPool(datas)

        log.info("rehearsing %s: %d cells in %d shard(s), scale %g", p.day, cells["keys"].size,
                 len(datas), params.scale)
        outcome = E.run_day(make_pool, run, cb)
        if executor is not None:  # every task it ran is done: kept for the next run
            _reuse.release_executor(executor)
            executor = None
        if ckpt is not None:
            ckpt.unlink(missing_ok=True)
        elapsed = time.perf_counter() - t_start
        return _result(p, params, seed, outcome, elapsed, len(datas))
    finally:
        if executor is not None:  # the run failed (a thread may still be running)
            executor.shutdown(wait=True)


def _live_listener(cb: Callbacks, start: DayStart) -> Callable[..., None] | None:
    """The engine's chunk listener for a :class:`LiveCallbacks`, told of the day's ``start``
    (else none)."""
    if not isinstance(cb, LiveCallbacks):
        return None
    live = cb
    live.on_day(start)

    def listen(s0: int, s1: int, done: int, views: list[dict[str, np.ndarray]],
               backlog: np.ndarray) -> None:
        live.on_chunk(chunk_view(s0, s1, done, views, backlog))

    return listen


def _money(col: str, cents_or_counts: np.ndarray) -> np.ndarray:
    """Column ``col`` of a tally: yuan for ``gmv`` (tallied in cents), else as counted."""
    return cents_or_counts / 100.0 if col == "gmv" else cents_or_counts


def _result(p: SimulateProblem, params: SimulateParams, seed: int, o: E.Outcome,
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
    peak = T.second_columns(per_second, gmv_s)  # (and the peak second, in the same pass)
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
    w_i, h_i, r_i, parcels = T.flow_rows(flow, n_hours)
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
