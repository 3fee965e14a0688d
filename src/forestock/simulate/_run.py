"""Rehearsing a day: the problem's cells cut into SKU shards, run over the day's chunks."""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.simulate import _arrays as A
from forestock.simulate import _checkpoint, _pools, _reuse, _shard
from forestock.simulate import _engine as E
from forestock.simulate import _kernels as K
from forestock.simulate._check import scaled
from forestock.simulate._live import DayStart, LiveCallbacks, chunk_view
from forestock.simulate._params import SimulateParams
from forestock.simulate._problem import SimulateProblem
from forestock.simulate._profile import SECONDS, intraday_cdf
from forestock.simulate._result import SimulateResult, build_result
from forestock.simulate._routing import ROUTING_POLICIES

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["simulate"]

log = logging.getLogger("forestock.simulate")


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
        mean_size = params.network.units_per_order
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
    cluster: Client | None = None,
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
    cluster
        A client of a Dask cluster (see :func:`forestock.cluster.connect`): the SKU
        shards are held by actors on its workers, at least one shard a worker
        (``params.workers`` if more), ``params.pool`` unused. The coordinator (this
        process) rolls the warehouses' queues forward chunk by chunk from the shards'
        counts; the tables are those of one machine, bit for bit, and checkpoints
        resume on either.

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
    cells = _cells(p, params.scale)
    cdf, inv_width, lut = _day_shape(params.network.surge, params.network.surge_seconds)
    sizes = np.asarray(params.network.size_probs, dtype=np.float64)
    shape = A.DayShape(K.size_thresholds(sizes), cdf, inv_width, lut)
    n_shards = params.workers if cluster is None else \
        max(params.workers, len(_pools.cluster_workers(cluster)))
    early = _EarlyStart(cells, seed, shape, params.workers) \
        if cluster is None and params.workers > 1 and params.pool == "threads" \
        and "indptr" not in cells else None
    try:
        stock = scaled(p.stock, params.scale)
        capacity = scaled(p.capacity, params.scale)
        net = _network(p, params, capacity)
        price_cents = np.rint(p.price * 100).astype(np.int64)
        expected = _expected_cdf(cells, cdf)
        skus = _shard_bounds(cells["sku"], _cell_work(cells, params, expected), len(p.skus),
                             n_shards)
        cell_ranges = [(int(np.searchsorted(cells["sku"], a)),
                        int(np.searchsorted(cells["sku"], b))) for a, b in skus]
        datas = [_shard.ShardData(
            **_shard_cells(cells, k0, c0, c1), stock=stock[k0:k1],
            price_cents=price_cents[k0:k1], net=net, shape=shape, seed=seed,
            n_regions=len(p.regions), horizon=params.horizon_hours,
            sample_share=params.sample_share,
            start=early.start.part(c0, c1) if early is not None else None,
        ) for (k0, k1), (c0, c1) in zip(skus, cell_ranges, strict=True)]
        ckpt = Path(checkpoint) if checkpoint is not None else None
        stamp = "" if ckpt is None else _checkpoint.fingerprint(  # (checkpoints only)
            p.day, seed, repr(_rules(params)), cells["keys"], cells["units"], stock, capacity,
            net.transit, price_cents, net.route,
            *(cells[k] for k in ("indptr", "o_time", "o_size") if k in cells),
            *(() if p.backlog is None else (p.backlog,)))
        if resume and (ckpt is None or not ckpt.exists()):
            raise ForestockError(f"no checkpoint to resume from at {ckpt}")
        if ckpt is not None and not resume:
            ckpt.unlink(missing_ok=True)  # a stale checkpoint of an earlier run
        run = E.Run(capacity=net.capacity, horizon=params.horizon_hours,
                    chunk_orders=params.chunk_orders, expected_cdf=expected,
                    cells=tuple(cell_ranges), skus=tuple(skus), stamp=stamp, checkpoint=ckpt,
                    checkpoint_seconds=params.checkpoint_seconds, resume=resume,
                    on_chunk=_live_listener(cb, DayStart(net.capacity.copy(), stock, expected)),
                    backlog=None if p.backlog is None else scaled(p.backlog, params.scale))
        log.info("rehearsing %s: %d cells in %d shard(s), scale %g", p.day, cells["keys"].size,
                 len(datas), params.scale)
        outcome = E.run_day(functools.partial(_make_pool, datas, params, early, cluster), run,
                            cb)
        if early is not None:
            early.release()
        if ckpt is not None:
            ckpt.unlink(missing_ok=True)
        elapsed = time.perf_counter() - t_start
        return build_result(p, params, seed, outcome, elapsed, len(datas))
    finally:
        if early is not None:
            early.shutdown()


class _EarlyStart:
    """Threads that start every shard's cells at once (see ``_shard.StartPass``), beginning
    before the rest of the set-up (which reads none of it: 0.15 ms sooner on the
    3M-order day), on the threads the pool then runs on."""

    def __init__(self, cells: dict[str, np.ndarray], seed: int, shape: A.DayShape,
                 workers: int) -> None:
        self.start = _shard.StartPass(cells["keys"], cells["units"], seed, shape, 8 * workers)
        self.executor: ThreadPoolExecutor | None = _reuse.thread_executor(workers)
        self.begun: list[Future[None]] = [self.executor.submit(self.start.run)
                                          for _ in range(workers - 1)]

    def finish(self) -> None:
        """This thread starts cells too, until every block is done."""
        self.start.run()
        for f in self.begun:
            f.result()

    def release(self) -> None:
        """The run is done, and every task the threads ran: kept for the next run."""
        if self.executor is not None:
            _reuse.release_executor(self.executor)
            self.executor = None

    def shutdown(self) -> None:
        """After a failed run (a thread may still be running)."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None


def _make_pool(datas: list[_shard.ShardData], params: SimulateParams,
               early: _EarlyStart | None, cluster: Client | None) -> _pools.Pool:
    """The pool the shards of ``datas`` run on."""
    if cluster is not None:
        return _pools.DaskPool(datas, cluster)
    if early is not None:
        # the shards built while the pool's threads start cells (they read none of it)
        pool: _pools.Pool = _pools.ThreadPool(datas, early.executor) if len(datas) > 1 \
            else _pools.LocalPool(datas)
        early.finish()
        return pool
    if len(datas) == 1:
        return _pools.LocalPool(datas)
    if params.pool == "threads":
        return _pools.ThreadPool(datas)
    return _pools.ProcessPool(datas)


def _network(p: SimulateProblem, params: SimulateParams, capacity: np.ndarray) -> A.Network:
    """Routes, lanes and (scaled) capacities as the kernels read them."""
    n_reg = len(p.regions)
    route = ROUTING_POLICIES[params.policy](p.transit, capacity)
    if route.ndim != 2 or route.shape[0] != n_reg:
        raise ValueError(f"routing policy {params.policy!r} returned shape "
                         f"{route.shape}, expected ({n_reg}, ...)")
    return A.Network(route=np.ascontiguousarray(route, dtype=np.int32),
                     transit=np.nan_to_num(p.transit, nan=0.0),
                     capacity=np.maximum(capacity, 1), noise=params.network.transit_noise,
                     last_mile=params.network.last_mile_hours,
                     promise_1=params.network.promise_hours[0],
                     promise_2=params.network.promise_hours[1],
                     factory_hours=params.factory_hours or 0.0)


def _expected_cdf(cells: dict[str, np.ndarray], cdf: np.ndarray) -> np.ndarray:
    """The expected share of the day's orders placed by the end of each second: the intraday
    profile, or the given orders' own."""
    if "indptr" not in cells:
        return cdf
    expected = np.cumsum(np.bincount(cells["o_time"].astype(np.int64), minlength=SECONDS)
                         .astype(np.float64))
    expected /= max(expected[-1], 1.0)
    return expected


class _ShardCells(TypedDict):
    """A shard's part of the cells (fields of ``_shard.ShardData``)."""

    keys: np.ndarray
    cell_sku: np.ndarray
    cell_region: np.ndarray
    units: np.ndarray
    indptr: np.ndarray | None
    o_time: np.ndarray | None
    o_size: np.ndarray | None


def _shard_cells(cells: dict[str, np.ndarray], k0: int, c0: int, c1: int) -> _ShardCells:
    """The cells ``c0:c1`` of a shard whose first SKU is ``k0`` (and their given orders)."""
    indptr = o_time = o_size = None
    if "indptr" in cells:
        i0, i1 = cells["indptr"][c0], cells["indptr"][c1]
        indptr, o_time, o_size = (cells["indptr"][c0:c1 + 1] - i0, cells["o_time"][i0:i1],
                                  cells["o_size"][i0:i1])
    return _ShardCells(keys=cells["keys"][c0:c1],
                       cell_sku=(cells["sku"][c0:c1] - k0).astype(np.int32),
                       cell_region=cells["region"][c0:c1], units=cells["units"][c0:c1],
                       indptr=indptr, o_time=o_time, o_size=o_size)


def _rules(params: SimulateParams) -> SimulateParams:
    """The parameters that change results (a checkpoint's fingerprint holds them)."""
    return params.replace(workers=1, chunk_orders=1_000, checkpoint_seconds=0.0,
                          pool="threads")


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
