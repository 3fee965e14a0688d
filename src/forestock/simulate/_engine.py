"""Map by SKU shard, reduce by warehouse and second: the rehearsal's engine.

A shard owns a contiguous range of SKUs (their demand cells and stock). For
each time chunk ``[s0, s1)`` of whole seconds within one hour, every shard

1. generates its orders of the chunk and routes them SKU by SKU while they
   are in cache (routing only reads the SKU's own stock), counting arrivals
   per warehouse and second (the *map*);
2. the counts are added up: every order's position in its warehouse's
   queue is then known (the *reduce*), with the rule that orders reach a
   warehouse floor in one-second waves, and within a wave queue in order of
   SKU, then region, then order index; only the ship hour matters, so only
   the few waves an hour's capacity cuts need positions;
3. every shard turns positions into ship hours and tallies the outcomes.

Shards run in the coordinator's process (one worker), in threads of it (the
kernels release the GIL, and share the inputs without copies; the calling
thread runs the first shard), or in worker processes, each holding its
shard's state; only counts and queue bases cross between shards per chunk.
In one process the shards count into one array and each works out its own
queue bases from it at the start of step 3 (the reduce costs the
coordinator nothing); worker processes get theirs from the coordinator.
Threads each run their shard's own loop over the chunks, routing a chunk
ahead of settling the last one, and wait for each other only where one is a
whole chunk behind (see :func:`_thread_chunks`); their shards' cells are
started (order counts, first orders) by all the threads together, in blocks,
from before the shards are built (see :class:`StartPass`); processes are
called phase by phase.
All tallies are integers, so the merged result is the same for any number
of shards. The chunks' boundaries are fixed before the day starts, and each
shard's order buffers are sized once by a bound on any chunk's orders.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from forestock.callbacks import Callbacks
from forestock.simulate import _checkpoint
from forestock.simulate import _kernels as K
from forestock.simulate._arrays import (
    N_REGION_COLS,
    N_SKU_COLS,
    Cells,
    CellState,
    DayShape,
    GivenOrders,
    Network,
    Orders,
    Queue,
    Start,
    Stock,
    Tallies,
    plain,
)
from forestock.simulate._profile import SECONDS
from forestock.simulate._queues import TOTALS, queue_bases, shard_bases, warehouse_totals
from forestock.simulate._tallies import settle_chunk

log = logging.getLogger("forestock.simulate")

_PER_CELL = ("next_k", "z_next", "t_next", "left")
_PER_SKU = ("stock", "per_sku")
_SUMMED = ("region_hour", "per_second", "picked", "flow")
_SAMPLE = ("sample_key", "sample_k", "sample_time", "sample_size", "sample_w", "sample_ship",
           "sample_elapsed")
# int32 sizes: a chunk's buffers stay in cache longer (3 ms less on the 3M-order day; int16
# warehouses measured no faster)
_BUFFERS = {"o_time": np.float64, "o_size": np.int32, "o_noise": np.uint16, "o_w": np.int32,
            "r_cell": np.int32, "r_end": np.int32}
# for the order sample (the chunk's orders' cells, else read from the cells' runs)
_KEPT = {"o_cell": np.int32, "o_k": np.int64, "o_ship": np.int64, "o_elapsed": np.float64}

# scratch arrays (uninitialised, as np.empty) of the last threaded run, for the next one
_spare: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
_spare_lock = threading.Lock()


def scratch(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array (as ``np.empty``): one the last threaded run left, if one of
    that shape and dtype is spare.

    Measured on the benchmark's 3-million-order day with 2 threads (2026-11-29): a run's
    order buffers and counts came as fresh pages (the allocator gave the last run's back to
    the system), about 1,500 page faults a run; with the last run's order buffers and the
    threads' counts, 620: 1.0 ms less wall in the median, 2 ms less CPU."""
    key = (shape if isinstance(shape, tuple) else (shape,), np.dtype(dtype).str)
    with _spare_lock:
        kept = _spare.get(key)
        if kept:
            return kept.pop()
    return np.empty(shape, dtype=dtype)


def keep_scratch(arrays: Sequence[np.ndarray]) -> None:
    """Keep ``arrays`` (no longer used) for :func:`scratch`, in place of any kept before
    (only one run's: the memory held stays that of one run's buffers)."""
    spare: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
    for a in arrays:
        spare.setdefault((a.shape, a.dtype.str), []).append(a)
    with _spare_lock:
        _spare.clear()
        _spare.update(spare)


@dataclass(frozen=True)
class ShardData:
    """Everything a shard needs, picklable: its cells, its SKUs' stock, the network."""

    keys: np.ndarray  # int64 [cell], RNG key of each cell
    cell_sku: np.ndarray  # int32 [cell], local SKU row, sorted
    cell_region: np.ndarray  # int32 [cell]
    units: np.ndarray  # int64 [cell]
    indptr: np.ndarray | None  # int64 [cell + 1] into the given orders, or None (generated)
    o_time: np.ndarray | None  # float64 [order], seconds, sorted within each cell
    o_size: np.ndarray | None  # int64 [order]
    stock: np.ndarray  # int64 [sku, warehouse]
    price_cents: np.ndarray  # int64 [sku]
    net: Network
    shape: DayShape
    seed: int
    n_regions: int
    horizon: int
    sample_share: float
    # the cells' hashes, order counts and first orders' draws and times, worked out by a
    # StartPass (views of its arrays, the shard's own from then on; the shard may be built
    # before they are filled in, not prepared)
    start: Start | None = None


class StartPass:
    """The start of every shard's cells (:func:`K.start_cells`) in blocks of about equal
    cost (a cell costs about as much as 80 units' draws), which threads take in turn: the
    pool's threads begin while the coordinator still sets the day up and builds the shards
    (which read none of it), and the starts end together whatever the shards' split.

    Measured on the benchmark's 3-million-order day with 2 threads (2026-11-29): each
    shard starting its own cells as it was built, the loop over the chunks began 5.8 ms
    into the run (1.3 ms set-up, then 3.1 ms of start pass on each thread, then the
    shards' other arrays, both threads holding the GIL in turn); with this pass and the
    shards built by the coordinator meanwhile, 4.4 ms (with the faster start pass)."""

    def __init__(self, keys: np.ndarray, units: np.ndarray, seed: int, shape: DayShape,
                 blocks: int) -> None:
        n = keys.size
        self.keys, self.units, self.seed = keys, units, np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        self.shape = shape
        self.start = Start(hashes=np.empty(n, dtype=np.uint64),
                           n_orders=np.empty(n, dtype=np.int64),
                           z_next=np.empty(n, dtype=np.uint64), t_next=np.empty(n))
        cost = np.cumsum(units + 80, dtype=np.float64)
        at = np.searchsorted(cost, cost[-1] * np.arange(1, blocks) / blocks) if n else []
        self.cuts = np.unique(np.r_[0, at, n]).tolist()
        self.taken = itertools.count()  # (next() on it is atomic under the GIL)

    def run(self) -> None:
        """Start blocks of cells until none is left."""
        while (b := next(self.taken)) < len(self.cuts) - 1:
            c0, c1 = self.cuts[b], self.cuts[b + 1]
            K.start_cells(*plain(self.keys[c0:c1], self.units[c0:c1], self.seed, self.shape,
                                 self.part(c0, c1)))

    def part(self, c0: int, c1: int) -> Start:
        """The cells ``c0:c1``'s share (views: filled in once every block is started)."""
        return Start(*(a[c0:c1] for a in self.start))


class Shard:
    """The state of one shard: its order generator, its stock, its tallies."""

    def __init__(self, d: ShardData) -> None:
        self.d = d
        self.seed = np.uint64(d.seed & 0xFFFFFFFFFFFFFFFF)
        n_cells, n_wh, n_sku = d.keys.size, d.net.capacity.size, d.stock.shape[0]
        sku_ptr = np.searchsorted(d.cell_sku, np.arange(n_sku + 1)).astype(np.int64)
        if d.indptr is None or d.o_time is None or d.o_size is None:
            start = d.start
            if start is None:
                start = Start(hashes=np.empty(n_cells, dtype=np.uint64),
                              n_orders=np.empty(n_cells, dtype=np.int64),
                              z_next=np.empty(n_cells, dtype=np.uint64), t_next=np.empty(n_cells))
                K.start_cells(*plain(d.keys, d.units, self.seed, d.shape, start))
            self.given = GivenOrders(given=False, g_indptr=np.zeros(1, dtype=np.int64),
                                     g_time=np.zeros(0), g_size=np.zeros(0, dtype=np.int64))
        else:
            t_next = np.full(n_cells, np.inf)
            n_orders = np.diff(d.indptr)
            has = n_orders > 0
            t_next[has] = d.o_time[d.indptr[:-1][has]]
            start = Start(hashes=K.cell_hashes(d.keys, self.seed), n_orders=n_orders,
                          z_next=np.zeros(n_cells, dtype=np.uint64), t_next=t_next)
            self.given = GivenOrders(given=True, g_indptr=d.indptr, g_time=d.o_time,
                                     g_size=d.o_size)
        self.cells = Cells(keys=d.keys, cell_sku=d.cell_sku, cell_region=d.cell_region,
                           sku_ptr=sku_ptr, hashes=start.hashes, n_orders=start.n_orders)
        self.cell_state = CellState(
            next_k=np.zeros(n_cells, dtype=np.int64), z_next=start.z_next, t_next=start.t_next,
            left=d.units.copy(),
            sku_next=np.zeros(0),  # set by prepare
            route_pos=np.zeros(n_cells, dtype=np.int64))  # a cache: routes' empty heads
        # the stock left, and a hint: units asked per warehouse last chunk
        self.stock_state = Stock(stock=d.stock.copy(), asked=np.zeros_like(d.stock))
        self.region_hour = np.zeros((d.n_regions, 24, N_REGION_COLS), dtype=np.int64)
        self.per_second = np.zeros((SECONDS, 3), dtype=np.int64)
        # threads: every shard's per-second tallies added into one array, chunk by chunk
        self.sec_share: tuple[threading.Lock, np.ndarray] | None = None
        self.sec_local = self.per_second[:0]
        self.per_sku = np.zeros((n_sku, N_SKU_COLS), dtype=np.int64)
        self.picked = np.zeros((n_wh, d.horizon), dtype=np.int64)
        self.flow = np.zeros((n_wh, d.horizon, d.n_regions), dtype=np.int64)
        self.samples: list[dict[str, np.ndarray]] = []
        self.bufs: list[Orders] = []  # order buffers, by slot
        # a chunk lies within an hour; int32 (a second's arrivals fit): half the cache of int64
        self.counts = np.empty((n_wh, 3600), dtype=np.int32)
        self.bases = np.empty((n_wh, 3600), dtype=np.int32)  # queue places in the chunk
        self.added = np.empty(n_wh, dtype=np.int64)  # the chunk's arrivals, all shards'
        self.own = np.empty(n_wh, dtype=np.int64)  # and the shard's
        self.span = np.empty((n_wh, 4), dtype=np.int64)  # see Queue
        self.ms = [0, 0]  # orders in each slot's buffers
        self.chunk_counts = [self.counts[:, :0]] * 2

    def total_orders(self) -> int:
        return int(self.cells.n_orders.sum())

    def prepare(self, cuts: np.ndarray, slots: int = 1) -> int:
        """Size the order buffers for the chunks ``cuts[j]:cuts[j + 1]`` (seconds) left to
        run, by a bound on any chunk's orders, ``slots`` sets of them (two: a chunk may be
        routed while the last one waits to be settled); return the size."""
        d, n_orders = self.d, self.cells.n_orders
        if d.indptr is not None and d.o_time is not None:
            cell = np.repeat(np.arange(d.keys.size), n_orders)
            k = np.arange(d.o_time.size) - d.indptr[:-1][cell]
            rest = d.o_time[k >= self.cell_state.next_k[cell]]
            per = np.bincount(np.searchsorted(cuts, rest, side="right"), minlength=cuts.size + 1)
            size = int(per.max(initial=0))
        else:
            # stratified arrivals: a cell of n orders places at most n * share + 2 of them in
            # a span of the day holding that share of the profile
            # (the cdf at each cut's previous second; np.r_[0.0, cdf][cuts] took 0.2 ms)
            cdf = d.shape.cdf
            edge = np.where(cuts > 0, cdf[np.maximum(cuts - 1, 0)], 0.0)
            size = int(n_orders.sum() * np.diff(edge).max(initial=0.0)) + 3 * d.keys.size
        size += 16
        self.cell_state = self.cell_state._replace(  # after any resume
            sku_next=K.soonest_orders(self.cells.sku_ptr, self.cell_state.t_next))
        kept = {n: np.empty(size if d.sample_share > 0 else 0, dtype=t)
                for n, t in _KEPT.items()}
        self.bufs = []
        for slot in range(slots):  # each its own routed orders; ship hours set in settling
            b = {n: scratch(size, t) for n, t in _BUFFERS.items()}
            b.update(kept if slot == 0 else {**kept, "o_cell": np.empty_like(kept["o_cell"]),
                                             "o_k": np.empty_like(kept["o_k"])})
            self.bufs.append(Orders(**b, r_count=np.zeros(1, dtype=np.int64)))
        return size

    def emit_route(self, s0: int, s1: int, out: np.ndarray | None = None,
                   totals: np.ndarray | None = None, slot: int = 0) -> tuple[int, np.ndarray]:
        """Emit and route the orders of seconds ``[s0, s1)``; return their count and the
        shard's arrivals per warehouse and second (counted into ``out`` if given: a
        coordinator in the same process then needs no copy; ``totals`` gets them per
        warehouse, see :func:`warehouse_totals`), into the order buffers of ``slot``."""
        d, b = self.d, self.bufs[slot]
        counts = self.counts[:, :s1 - s0] if out is None else out
        m = K.emit_route_chunk(*plain(self.cells, d.shape, self.given, self.cell_state,
                                      self.stock_state, d.net, b, s0, float(s1), counts))
        if m < 0:
            raise RuntimeError(f"order buffer of {b.o_time.size} too small for seconds "
                               f"[{s0}, {s1}): the chunk bound is wrong")
        if totals is not None:
            warehouse_totals(counts, totals)
        self.ms[slot], self.chunk_counts[slot] = m, counts
        return m, counts

    def settle(self, base: np.ndarray | None, span: np.ndarray | None, s0: int,
               arrived: np.ndarray, shipped_before: np.ndarray, hour: int,
               counts: np.ndarray | None = None, j: int = 0,
               totals: np.ndarray | None = None, slot: int = 0) -> np.ndarray | None:
        """Ship hours and tallies of the chunk last routed (``arrived``: arrivals before the
        chunk per warehouse; ``base`` and ``span``: the waves' ship hours and queue places,
        see :func:`queue_bases`; if ``None``, the shard works them out from every
        shard's ``counts`` of the chunk, their ``totals`` per warehouse and its index ``j``,
        and returns the chunk's arrivals per warehouse, all shards'); ``slot``: the order
        buffers it was routed into)."""
        d, m, b = self.d, self.ms[slot], self.bufs[slot]
        keep = d.sample_share > 0
        added = None
        if base is None or span is None:
            if counts is None or totals is None:
                raise ValueError("settle needs either the bases or every shard's counts")
            base, span, added = self.bases[:, :counts.shape[2]], self.span, self.added
            shard_bases(*plain(counts, totals, j, Queue(arrived, shipped_before, base, span),
                               d.net.capacity, added, self.own))
        per_second, sec0 = self.per_second, 0
        if self.sec_share is not None:
            per_second, sec0 = self.sec_local[:self.chunk_counts[slot].shape[1]], s0
            per_second[:] = 0
        settle_chunk(*plain(b, self.cells, d.price_cents, d.net,
                            Queue(arrived, shipped_before, base, span), hour, s0,
                            Tallies(self.region_hour, per_second, sec0, self.per_sku, self.flow),
                            keep))
        if self.sec_share is not None:
            lock, shared = self.sec_share
            with lock:
                shared[s0:s0 + per_second.shape[0]] += per_second
        # every arrival
        self.picked[:, hour] += self.own if added is not None else \
            self.chunk_counts[slot].sum(axis=1)
        if keep and m:
            mask = K.sample_mask(m, b.o_cell, b.o_k, d.keys, self.seed, d.sample_share)
            cells = b.o_cell[:m][mask]
            self.samples.append({
                "sample_key": d.keys[cells], "sample_k": b.o_k[:m][mask],
                "sample_time": b.o_time[:m][mask],
                "sample_size": b.o_size[:m][mask].astype(np.int64),
                "sample_w": b.o_w[:m][mask].astype(np.int64),
                "sample_ship": b.o_ship[:m][mask], "sample_elapsed": b.o_elapsed[:m][mask],
            })
        self.ms[slot] = 0
        b.r_count[0] = 0
        return added

    def scratch(self) -> list[np.ndarray]:
        """The shard's order buffers: once it is done, the next run's (see
        :func:`keep_scratch`; its counts and queue places as well measured no better)."""
        return [getattr(b, n) for b in self.bufs for n in _BUFFERS]

    def state(self) -> dict[str, np.ndarray]:
        """The shard's state and tallies, as arrays."""
        out = {n: getattr(self.cell_state, n) for n in _PER_CELL}
        out.update(stock=self.stock_state.stock, per_sku=self.per_sku)
        out.update({n: getattr(self, n) for n in _SUMMED})
        for n in _SAMPLE:
            out[n] = np.concatenate([s[n] for s in self.samples]) if self.samples else \
                np.empty(0, dtype=np.float64 if n in ("sample_time", "sample_elapsed")
                         else np.int64)
        return out

    def view(self, s0: int, s1: int) -> dict[str, np.ndarray]:
        """What a live listener reads after the chunk ``[s0, s1)`` is settled: the
        tallies so far, the stock left and the chunk's seconds (the shard's own arrays:
        read during the call only)."""
        return {"region_hour": self.region_hour, "per_sku": self.per_sku,
                "stock": self.stock_state.stock, "per_second": self.per_second[s0:s1]}

    def share_seconds(self, lock: threading.Lock, shared: np.ndarray) -> None:
        """Tally each chunk's orders per second in a small array (it stays in cache:
        settling 15.5 to 13.9 ms a thread on the 3-million-order day), added into
        ``shared`` under ``lock``, which the shard then holds as its own: a tally of every
        shard's, which :func:`merge_states` counts once (one array less to add up)."""
        self.sec_share = lock, shared
        self.sec_local = np.zeros((3600, 3), dtype=np.int64)  # a chunk lies within an hour
        self.per_second = shared

    def set_state(self, st: dict[str, np.ndarray]) -> None:
        self.cell_state.route_pos[:] = 0
        self.cell_state = self.cell_state._replace(
            **{n: np.array(st[n], copy=True) for n in _PER_CELL})
        self.stock_state = self.stock_state._replace(stock=np.array(st["stock"], copy=True))
        self.per_sku = np.array(st["per_sku"], copy=True)
        for n in _SUMMED:
            setattr(self, n, np.array(st[n], copy=True))
        self.samples = [{n: st[n] for n in _SAMPLE}] if st["sample_key"].size else []


def merge_states(states: Sequence[dict[str, np.ndarray]], last: bool = False,
                 flow_hours: int | None = None) -> dict[str, np.ndarray]:
    """Shards' states as one: per-cell and per-SKU arrays joined, tallies added (into the
    first shard's own arrays if ``last``: the shards are done with them, and the outcome
    reads no cell's state (joining them took 0.45 ms of the 3M-order day); ``flow`` only
    in its first ``flow_hours`` hours if given, the hours anything ships in: the rest of it
    is zero, and mostly pages never touched, which an addition would fault in).

    Measured on that day with 2 threads (2026-11-29): half the tallies' rows added on the
    pool's other thread took 0.41 ms (hand-over, GIL and wait), all on this one 0.18."""
    if len(states) == 1:
        return dict(states[0])
    out: dict[str, np.ndarray] = {}
    for n in _SUMMED:
        out[n] = states[0][n] if last else states[0][n].copy()
        at = (slice(None), slice(flow_hours)) if n == "flow" else slice(None)
        for s in states[1:]:  # added in place (np.sum over a list stacks the arrays first)
            if s[n] is not states[0][n]:  # (a tally the shards share counts once)
                out[n][at] += s[n][at]
    for n in (*_PER_SKU, *_SAMPLE) if last else (*_PER_CELL, *_PER_SKU, *_SAMPLE):
        out[n] = np.concatenate([s[n] for s in states])
    return out


def split_state(st: dict[str, np.ndarray], cells: Sequence[tuple[int, int]],
                skus: Sequence[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """A merged state cut back into shards (tallies and the sample go to the first)."""
    parts = []
    for j, ((c0, c1), (k0, k1)) in enumerate(zip(cells, skus, strict=True)):
        part = {n: st[n][c0:c1] for n in _PER_CELL}
        part.update({n: st[n][k0:k1] for n in _PER_SKU})
        part.update({n: st[n] if j == 0 else np.zeros_like(st[n]) for n in _SUMMED})
        part.update({n: st[n] if j == 0 else st[n][:0] for n in _SAMPLE})
        parts.append(part)
    return parts


class LocalPool:
    """Shards run one after the other in this process."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        self.shards = [Shard(d) for d in datas]

    def serial(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Call each shard's ``method`` in this thread (for quick calls)."""
        return [getattr(s, method)(*a) for s, a in zip(self.shards, args, strict=True)]

    map = serial

    def close(self, failed: bool = False) -> None:
        self.shards = []


# an idle executor a finished run left, with its process id and threads: the next run's
_idle: list[tuple[int, int, ThreadPoolExecutor]] = []


def thread_executor(n_shards: int) -> ThreadPoolExecutor:
    """The threads a :class:`ThreadPool` of ``n_shards`` runs on besides the calling one:
    the idle ones a finished run left (see :func:`release_executor`), if enough, else new.

    One run at a time has an executor (two runs' shards on one pool's threads could each
    wait for a shard queued behind the other's). Measured on the benchmark's
    3-million-order day with 2 threads (2026-11-29): starting a thread took 0.25 ms of the
    run's head, joining it at the end about 0.1 ms."""
    n = max(n_shards - 1, 1)
    with _spare_lock:
        kept = _idle.pop() if _idle else None
    if kept is not None:
        pid, threads, executor = kept
        if pid == os.getpid() and threads >= n:
            return executor
        if pid == os.getpid():
            executor.shutdown(wait=False)  # (idle) too few threads
        # (a forked child: the threads are its parent's; the executor is dropped)
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="forestock-simulate")


def release_executor(executor: ThreadPoolExecutor) -> None:
    """Keep ``executor`` (idle: every task it ran is done) for the next run's
    :func:`thread_executor`, unless one is kept already (then it is shut down)."""
    with _spare_lock:
        if not _idle:
            _idle.append((os.getpid(), executor._max_workers, executor))
            return
    executor.shutdown(wait=True)


class ThreadPool(LocalPool):
    """One thread per shard in this process: the kernels release the GIL, so the shards
    work at the same time, sharing the inputs without copying or pickling them."""

    def __init__(self, datas: Sequence[ShardData],
                 executor: ThreadPoolExecutor | None = None) -> None:
        self.own = executor is None  # (else the caller's to release)
        self.executor = executor or thread_executor(len(datas))
        if all(d.start is not None for d in datas):  # quick to build: one thread builds all
            self.shards = [Shard(d) for d in datas]
            return
        rest = [self.executor.submit(Shard, d) for d in datas[1:]]
        self.shards = [Shard(datas[0]), *(f.result() for f in rest)]

    def map(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        futures = [self.executor.submit(getattr(s, method), *a)
                   for s, a in zip(self.shards[1:], args[1:], strict=True)]
        first = getattr(self.shards[0], method)(*args[0])  # this thread works too
        return [first, *(f.result() for f in futures)]

    def close(self, failed: bool = False) -> None:
        """Done: an executor of the pool's own is kept for the next run, unless the run
        failed (a thread may still be running: it is shut down)."""
        if self.own:
            if failed:
                self.executor.shutdown(wait=True)
            else:
                release_executor(self.executor)
        self.shards = []


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in worker processes
    """A worker process: build a shard, then run the methods the coordinator asks for."""
    try:
        shard = Shard(conn.recv())
        conn.send(("ok", None))
        while True:
            msg = conn.recv()
            if msg is None:
                return
            method, args = msg
            try:
                conn.send(("ok", getattr(shard, method)(*args)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the coordinator is gone


class ProcessPool:
    """One worker process per shard (spawned, so safe beside threads); the coordinator
    sends each the same call and waits for all, so the shards work at the same time."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for d in datas:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child,), daemon=True,
                               name="forestock-simulate")
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
            try:
                parent.send(d)
            except (BrokenPipeError, EOFError):
                self.close()
                raise RuntimeError(
                    "simulate's worker processes could not start; a script that runs "
                    "simulate with workers > 1 must do so under `if __name__ == '__main__':`"
                ) from None
        self._collect()

    def _collect(self) -> list[Any]:
        results = []
        for conn in self.conns:
            try:
                status, value = conn.recv()
            except EOFError:
                raise RuntimeError("a simulate worker process died") from None
            if status != "ok":
                raise RuntimeError(f"a simulate worker failed:\n{value}")
            results.append(value)
        return results

    def map(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            for conn, a in zip(self.conns, args, strict=True):
                conn.send((method, a))
        except (BrokenPipeError, EOFError):
            raise RuntimeError("a simulate worker process died") from None
        return self._collect()

    serial = map

    def close(self, failed: bool = False) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        self.conns, self.procs = [], []


@dataclass(frozen=True)
class Run:
    """What the coordinator needs besides the shards."""

    capacity: np.ndarray  # int64 [warehouse], >= 1
    horizon: int
    chunk_orders: int
    expected_cdf: np.ndarray  # cumulative expected share of orders at the end of each second
    cells: tuple[tuple[int, int], ...]  # shard cell ranges
    skus: tuple[tuple[int, int], ...]  # shard SKU ranges
    stamp: str
    checkpoint: Path | None
    checkpoint_seconds: float
    resume: bool
    # a live listener, called after each chunk is settled by every shard with the chunk's
    # seconds, the orders done, each shard's view (Shard.view) and the parcels waiting
    on_chunk: Callable[[int, int, int, list[dict[str, np.ndarray]], np.ndarray], None] | None \
        = None


@dataclass
class Outcome:
    """The merged tallies and queues of a finished day."""

    state: dict[str, np.ndarray]
    shipped_h: np.ndarray
    backlog_h: np.ndarray
    orders: int
    resumed_at: int


def _cut(cdf: np.ndarray, s0: int, share: float, s_max: int) -> int:
    """The second after ``s0`` by which about ``share`` more of the day's orders are placed."""
    target = (cdf[s0 - 1] if s0 > 0 else 0.0) + share
    s1 = int(np.searchsorted(cdf, target, side="left")) + 1
    return min(max(s1, s0 + 1), s_max)


def chunk_cuts(cdf: np.ndarray, s0: int, share: float) -> np.ndarray:
    """Seconds where the chunks from ``s0`` on start, and the day's end: each chunk holds
    about ``share`` of the day's orders (at least one second) within one hour."""
    cuts = [s0]
    while cuts[-1] < SECONDS:
        s = cuts[-1]
        cuts.append(_cut(cdf, s, share, (s // 3600 + 1) * 3600))
    return np.array(cuts, dtype=np.int64)


def _close_hour(hour: int, arrived: np.ndarray, shipped_cum: np.ndarray, capacity: np.ndarray,
                shipped_h: np.ndarray, backlog_h: np.ndarray) -> None:
    before = shipped_cum.copy()
    np.minimum(arrived, shipped_cum + capacity, out=shipped_cum)
    shipped_h[:, hour] = shipped_cum - before
    backlog_h[:, hour] = arrived - shipped_cum


def _save(run: Run, states: list[dict[str, np.ndarray]], second: int, done: int,
          arrived: np.ndarray, shipped_cum: np.ndarray, shipped_h: np.ndarray,
          backlog_h: np.ndarray) -> None:
    """A checkpoint after the chunk that ends at ``second``."""
    assert run.checkpoint is not None
    _checkpoint.save(run.checkpoint, run.stamp, {
        **merge_states(states), "second": np.array(second), "orders_done": np.array(done),
        "arrived": arrived, "shipped_cum": shipped_cum, "shipped_h": shipped_h,
        "backlog_h": backlog_h})


def _map_chunks(pool: LocalPool | ProcessPool, run: Run, cuts: np.ndarray, done: int,
                arrived: np.ndarray, shipped_cum: np.ndarray, shipped_h: np.ndarray,
                backlog_h: np.ndarray, cb: Callbacks) -> int:
    """The chunks ``cuts`` on a pool the coordinator calls phase by phase; returns the
    orders done."""
    n_shards, n_wh = len(run.cells), run.capacity.size
    # in one process, shards count straight into `stacked` and work out their own queue
    # bases from it (no reduce on the coordinator)
    shared = not isinstance(pool, ProcessPool)
    stacked = np.empty((n_shards, n_wh, 3600), dtype=np.int32)  # a chunk lies within an hour
    totals = np.empty((n_shards, n_wh, TOTALS), dtype=np.int64)
    all_bases = np.empty(stacked.shape if not shared else (0, 0, 0), dtype=np.int32)
    span = np.empty((n_wh, 4), dtype=np.int64)
    last_save = time.monotonic()
    for s, s1 in itertools.pairwise(cuts.tolist()):
        hour = s // 3600
        counts = stacked[:, :, :s1 - s]
        routed = pool.map("emit_route", [(s, s1, counts[j], totals[j]) if shared
                                         else (s, s1) for j in range(n_shards)])
        if shared:
            arrived += pool.map("settle", [(None, None, s, arrived, shipped_cum, hour, counts,
                                            j, totals) for j in range(n_shards)])[0]
        else:
            for j, (_, c) in enumerate(routed):
                counts[j] = c
            before = arrived.copy()
            bases = all_bases[:, :, :s1 - s]
            queue_bases(*plain(counts, Queue(arrived, shipped_cum, bases, span), run.capacity))
            pool.map("settle", [(bases[j], span, s, before, shipped_cum, hour)
                                for j in range(n_shards)])
        m = sum(n for n, _ in routed)
        done += m
        cb.on_step("simulate", m)
        if s1 == (hour + 1) * 3600:
            _close_hour(hour, arrived, shipped_cum, run.capacity, shipped_h, backlog_h)
        if run.on_chunk is not None:
            run.on_chunk(s, s1, done, pool.map("view", [(s, s1)] * n_shards),
                         arrived - shipped_cum)
        if run.checkpoint is not None and s1 < SECONDS and \
                time.monotonic() - last_save >= run.checkpoint_seconds:
            _save(run, pool.map("state", [()] * n_shards), s1, done, arrived, shipped_cum,
                  shipped_h, backlog_h)
            last_save = time.monotonic()
    return done


class _Latches:
    """One countdown a chunk: :meth:`wait` returns once every shard has routed the chunk
    (:meth:`arrive`); :meth:`abort` (a failed shard) breaks every wait."""

    def __init__(self, n_shards: int, n_chunks: int) -> None:
        self.n_shards = n_shards
        self.ready = [0] * n_chunks
        self.broken = False
        self.cond = threading.Condition()

    def arrive(self, c: int) -> None:
        with self.cond:
            self.ready[c] += 1
            if self.ready[c] == self.n_shards:
                self.cond.notify_all()

    def wait(self, c: int) -> None:
        if self.ready[c] == self.n_shards:  # already (the count only goes up)
            return
        with self.cond:
            self.cond.wait_for(lambda: self.ready[c] == self.n_shards or self.broken)
        if self.broken:
            raise threading.BrokenBarrierError

    def abort(self) -> None:
        with self.cond:
            self.broken = True
            self.cond.notify_all()


def _thread_chunks(pool: ThreadPool, run: Run, cuts: np.ndarray, done: int,
                   arrived: np.ndarray, shipped_cum: np.ndarray, shipped_h: np.ndarray,
                   backlog_h: np.ndarray, cb: Callbacks, lag: int) -> int:
    """The chunks ``cuts`` on a pool of threads, each running its shard's own loop over the
    chunks, settling a chunk once every shard has routed it (a countdown a chunk, no
    futures).

    With ``lag`` 1 a shard routes chunk ``c + 1`` before it settles chunk ``c`` (routing
    reads only the shard's own stock, which settling does not change): a shard then waits
    for another only if that one is a whole chunk behind, not at every chunk's slower
    shard. The order buffers alternate between two slots (one with ``lag`` 0) and the
    counts go round four buffers: a shard routing chunk ``c`` has settled ``c - 2``, so
    every shard has routed ``c - 2`` (and so settled ``c - 4``): none reads the counts of
    a chunk before ``c - 3`` any more. With ``lag`` 0 (where checkpoints are taken: a
    checkpoint holds no chunk routed but not settled) a shard settles each chunk before it
    routes the next. Each thread keeps its own copy of the queues (the calling thread,
    shard 0, the coordinator's; all copies stay equal), reports progress (shard 0) and,
    where a checkpoint is due, waits for every shard to settle the chunk. Returns the
    orders done.

    Measured on the benchmark's 3-million-order day (2026-11-29, 26 chunks, runs of the
    old and new code interleaved): with one barrier a chunk each thread waited about 4 ms
    in all (the chunk's slower shard), with ``lag`` 1 under 0.1 ms; wall 3 ms less in the
    median (a future per phase had cost 5 ms more than the barrier).
    """
    shards, n_shards = pool.shards, len(pool.shards)
    stacked = scratch((4, n_shards, run.capacity.size, 3600), np.int32)
    totals = np.empty((4, n_shards, run.capacity.size, TOTALS), dtype=np.int64)
    chunk_orders = np.zeros((4, n_shards), dtype=np.int64)
    pairs = list(itertools.pairwise(cuts.tolist()))
    save = [False] * len(pairs)  # shard 0 decides before the chunk's countdown
    latches = _Latches(n_shards, len(pairs))
    barrier = threading.Barrier(n_shards)  # for checkpoints
    total = [done]
    lock = threading.Lock()
    for sh in shards:  # (after any resume: the first shard holds the tallies)
        sh.share_seconds(lock, shards[0].per_second)

    def work(j: int) -> None:
        sh, first = shards[j], j == 0
        arr, shp = (arrived, shipped_cum) if first else (arrived.copy(), shipped_cum.copy())
        sh_h, bl_h = (shipped_h, backlog_h) if first else (shipped_h.copy(), backlog_h.copy())
        last_save = time.monotonic()
        try:
            sh.prepare(cuts, 1 + lag)
            for c in range(len(pairs) + lag):
                if c < len(pairs):  # route chunk c
                    s, s1 = pairs[c]
                    b = c % 4
                    chunk_orders[b, j] = sh.emit_route(s, s1, stacked[b, j, :, :s1 - s],
                                                       totals[b, j], c & lag)[0]
                    if first:
                        save[c] = run.checkpoint is not None and s1 < SECONDS and \
                            time.monotonic() - last_save >= run.checkpoint_seconds
                    latches.arrive(c)
                d = c - lag
                if d < 0:
                    continue
                # settle chunk d
                s, s1 = pairs[d]
                hour, b = s // 3600, d % 4
                latches.wait(d)
                arr += sh.settle(None, None, s, arr, shp, hour, stacked[b, :, :, :s1 - s], j,
                                 totals[b], d & lag)
                if s1 == (hour + 1) * 3600:
                    _close_hour(hour, arr, shp, run.capacity, sh_h, bl_h)
                if first:
                    m = int(chunk_orders[b].sum())
                    total[0] += m
                    cb.on_step("simulate", m)
                if save[d]:  # (only with lag 0)
                    barrier.wait()  # every shard has settled the chunk
                    if first:
                        _save(run, [sh.state() for sh in shards], s1, total[0], arr,
                              shp, sh_h, bl_h)
                        last_save = time.monotonic()
                    barrier.wait()
        except BaseException:
            latches.abort()  # the other threads stop at their next wait
            barrier.abort()
            raise

    futures = [pool.executor.submit(work, j) for j in range(1, n_shards)]
    try:
        work(0)
    except threading.BrokenBarrierError:
        for f in futures:
            f.result()  # a worker's own error
        raise
    for f in futures:
        f.result()
    keep_scratch([stacked, *(a for sh in shards for a in sh.scratch())])
    return total[0]


def run_day(make_pool: Callable[[], LocalPool | ThreadPool | ProcessPool], run: Run,
            cb: Callbacks) -> Outcome:
    """Rehearse the day chunk by chunk over the shards of ``make_pool()``."""
    n_wh, horizon = run.capacity.size, run.horizon
    pool = make_pool()
    try:
        n_shards = len(run.cells)
        total = sum(pool.serial("total_orders", [()] * n_shards))
        arrived = np.zeros(n_wh, dtype=np.int64)
        shipped_cum = np.zeros(n_wh, dtype=np.int64)
        shipped_h = np.zeros((n_wh, horizon), dtype=np.int64)
        backlog_h = np.zeros((n_wh, horizon), dtype=np.int64)
        s, done = 0, 0
        if run.resume and run.checkpoint is not None and run.checkpoint.exists():
            arrays = _checkpoint.load(run.checkpoint, run.stamp)
            s, done = int(arrays["second"]), int(arrays["orders_done"])
            arrived, shipped_cum = arrays["arrived"], arrays["shipped_cum"]
            shipped_h, backlog_h = arrays["shipped_h"], arrays["backlog_h"]
            parts = split_state(arrays, run.cells, run.skus)
            pool.map("set_state", [(p,) for p in parts])
            log.info("resuming at second %d with %d of %d orders done", s, done, total)
        resumed_at = s
        cb.on_start("simulate", total)
        if done:
            cb.on_step("simulate", done)
        # at most 2**30 orders a chunk: queue places within a chunk are int32
        cuts = chunk_cuts(run.expected_cdf, s, min(run.chunk_orders, 1 << 30) / max(total, 1))
        # threads route a chunk ahead of settling (not where checkpoints are taken), and
        # each prepares its shard itself; a live listener has the pool called chunk by chunk
        lag = int(isinstance(pool, ThreadPool) and run.checkpoint is None)
        if isinstance(pool, ThreadPool) and run.on_chunk is None:
            done = _thread_chunks(pool, run, cuts, done, arrived, shipped_cum, shipped_h,
                                  backlog_h, cb, lag)
        else:
            pool.map("prepare", [(cuts,)] * n_shards)
            done = _map_chunks(pool, run, cuts, done, arrived, shipped_cum, shipped_h,
                               backlog_h, cb)
        for hour in range(24, horizon):
            if (arrived == shipped_cum).all():
                break
            _close_hour(hour, arrived, shipped_cum, run.capacity, shipped_h, backlog_h)
        # parcels leave in the hours up to the last that ships or holds a backlog (one left
        # at the horizon counts in its last hour)
        busy = np.flatnonzero((shipped_h | backlog_h).any(axis=0))
        states = pool.serial("state", [()] * n_shards)
        unplaced = any((st["left"] != 0).any() for st in states)
        state = merge_states(states, last=True, flow_hours=int(busy.max(initial=-1)) + 1)
        cb.on_end("simulate")
    except BaseException:
        pool.close(failed=True)
        raise
    pool.close()
    if unplaced:
        raise RuntimeError("the order generator did not place every unit of the day")
    return Outcome(state, shipped_h, backlog_h, done, resumed_at)
