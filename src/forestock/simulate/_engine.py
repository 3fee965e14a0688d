"""Map by SKU shard, reduce by warehouse and second: the rehearsal's engine.

A shard owns a contiguous range of SKUs (their demand cells and stock). For
each time chunk ``[s0, s1)`` of whole seconds within one hour, every shard

1. generates its orders of the chunk and routes them SKU by SKU while they
   are in cache (routing only reads the SKU's own stock), counting arrivals
   per warehouse and second (the *map*);
2. once every shard has counted the chunk, works out its orders' positions
   in their warehouses' queues from every shard's counts (the *reduce*),
   with the rule that orders reach a warehouse floor in one-second waves,
   and within a wave queue in order of SKU, then region, then order index;
   only the ship hour matters, so only the few waves an hour's capacity cuts
   need positions;
3. turns positions into ship hours and tallies the outcomes.

Shards run in the coordinator's thread (one worker), in threads of its
process (the kernels release the GIL and share the inputs without copies),
in worker processes, or as actors on the workers of a Dask cluster, each
holding its shard's state (see ``_pools``).
Whatever the pool, one loop over the chunks (:func:`_run_chunks`) drives
each shard from a thread of the coordinator's process (a shard in a worker
process or on a cluster through its proxy): the shards count into one array,
and wait for each other only where a chunk's counts must all be in. Threads route a
chunk ahead of settling the last one; their shards' cells are started
(order counts, first orders) by all the threads together, in blocks, from
before the shards are built (see ``_shard.StartPass``).
All tallies are integers, so the merged result is the same for any number
of shards. The chunks' boundaries are fixed before the day starts, and each
shard's order buffers are sized once by a bound on any chunk's orders.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forestock.callbacks import Callbacks
from forestock.simulate import _checkpoint
from forestock.simulate._pools import Pool, ThreadPool
from forestock.simulate._profile import SECONDS
from forestock.simulate._queues import TOTALS
from forestock.simulate._reuse import keep_scratch, scratch
from forestock.simulate._shard import Shard, merge_states, split_state

log = logging.getLogger("forestock.simulate")


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
    backlog: np.ndarray | None = None  # int64 [warehouse]: parcels waiting at midnight


@dataclass
class Outcome:
    """The merged tallies and queues of a finished day."""

    state: dict[str, np.ndarray]
    shipped_h: np.ndarray
    backlog_h: np.ndarray
    orders: int
    resumed_at: int
    bytes_moved: int = 0  # to and from shards held elsewhere (a cluster's workers)


@dataclass
class Queues:
    """The warehouses' queues, hour by hour: parcels arrived and shipped so far, and each
    hour's shipped parcels and backlog."""

    arrived: np.ndarray  # int64 [warehouse]
    shipped_cum: np.ndarray  # int64 [warehouse]
    shipped_h: np.ndarray  # int64 [warehouse, hour]
    backlog_h: np.ndarray  # int64 [warehouse, hour]

    def copy(self) -> Queues:
        return Queues(self.arrived.copy(), self.shipped_cum.copy(), self.shipped_h.copy(),
                      self.backlog_h.copy())

    def close_hour(self, hour: int, capacity: np.ndarray) -> None:
        """Ship what the hour's capacity allows, first in first out."""
        before = self.shipped_cum.copy()
        np.minimum(self.arrived, self.shipped_cum + capacity, out=self.shipped_cum)
        self.shipped_h[:, hour] = self.shipped_cum - before
        self.backlog_h[:, hour] = self.arrived - self.shipped_cum


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


def _save(run: Run, states: list[dict[str, np.ndarray]], second: int, done: int,
          queues: Queues) -> None:
    """A checkpoint after the chunk that ends at ``second``."""
    assert run.checkpoint is not None
    _checkpoint.save(run.checkpoint, run.stamp, {
        **merge_states(states), "second": np.array(second), "orders_done": np.array(done),
        "arrived": queues.arrived, "shipped_cum": queues.shipped_cum,
        "shipped_h": queues.shipped_h, "backlog_h": queues.backlog_h})


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


def _run_chunks(pool: Pool, run: Run, cuts: np.ndarray, done: int, queues: Queues,
                cb: Callbacks, lag: int) -> int:
    """The chunks ``cuts``: each shard's loop over them on its own thread (``pool.each``),
    settling a chunk once every shard has routed it (a countdown a chunk, no futures);
    returns the orders done.

    With ``lag`` 1 a shard routes chunk ``c + 1`` before it settles chunk ``c`` (routing
    reads only the shard's own stock, which settling does not change): a shard then waits
    for another only if that one is a whole chunk behind, not at every chunk's slower
    shard. The order buffers alternate between two slots (one with ``lag`` 0) and the
    counts go round four buffers: a shard routing chunk ``c`` has settled ``c - 2``, so
    every shard has routed ``c - 2`` (and so settled ``c - 4``): none reads the counts of
    a chunk before ``c - 3`` any more. With ``lag`` 0 a shard settles each chunk before it
    routes the next, and two buffers do (one for one shard). Each thread keeps its own
    copy of the queues (the calling thread, shard 0, the coordinator's; all copies stay
    equal) and reports progress (shard 0); where a checkpoint is due, or a live listener
    listens, the shards wait for each other to settle the chunk (``lag`` must then be 0:
    a checkpoint holds no chunk routed but not settled, a listener sees no stock taken by
    the next chunk's orders).

    Measured on the benchmark's 3-million-order day (2026-11-29, 26 chunks, runs of the
    old and new code interleaved): with one barrier a chunk each thread waited about 4 ms
    in all (the chunk's slower shard), with ``lag`` 1 under 0.1 ms; wall 3 ms less in the
    median (a future per phase had cost 5 ms more than the barrier).
    """
    shards, n_shards = pool.shards, len(pool.shards)
    n_wh = run.capacity.size
    depth = 4 if lag else min(n_shards, 2)
    stacked = scratch((depth, n_shards, n_wh, 3600), np.int32)  # a chunk lies within an hour
    totals = np.empty((depth, n_shards, n_wh, TOTALS), dtype=np.int64)
    chunk_orders = np.zeros((depth, n_shards), dtype=np.int64)
    pairs = list(itertools.pairwise(cuts.tolist()))
    save = [False] * len(pairs)  # shard 0 decides before the chunk's countdown
    listen = run.on_chunk is not None
    latches = _Latches(n_shards, len(pairs))
    barrier = threading.Barrier(n_shards)  # for checkpoints and listeners
    total = [done]
    if isinstance(pool, ThreadPool) and not listen:
        # every shard's per-second tallies in one array (a listener's views are the shards'
        # own: it adds them up)
        lock = threading.Lock()
        for sh in pool.shards:  # (after any resume: the first shard holds the tallies)
            sh.share_seconds(lock, pool.shards[0].per_second)

    def work(j: int) -> None:
        sh, first = shards[j], j == 0
        q = queues if first else queues.copy()
        last_save = time.monotonic()
        try:
            sh.prepare(cuts, 1 + lag)
            for c in range(len(pairs) + lag):
                if c < len(pairs):  # route chunk c
                    s, s1 = pairs[c]
                    b = c % depth
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
                hour, b = s // 3600, d % depth
                latches.wait(d)
                queue, added, own = sh.places.place(stacked[b, :, :, :s1 - s], totals[b], j,
                                                    q.arrived, q.shipped_cum)
                sh.settle(queue, own, s, s1, hour, d & lag)
                q.arrived += added
                if s1 == (hour + 1) * 3600:
                    q.close_hour(hour, run.capacity)
                if first:
                    m = int(chunk_orders[b].sum())
                    total[0] += m
                    cb.on_step("simulate", m)
                if listen or save[d]:  # (only with lag 0)
                    barrier.wait()  # every shard has settled the chunk
                    if first and run.on_chunk is not None:
                        run.on_chunk(s, s1, total[0], pool.serial(Shard.view, [(s, s1)] *
                                                                  n_shards),
                                     q.arrived - q.shipped_cum)
                    if first and save[d]:
                        _save(run, pool.serial(Shard.state, [()] * n_shards), s1, total[0], q)
                        last_save = time.monotonic()
                    barrier.wait()
        except BaseException:
            latches.abort()  # the other threads stop at their next wait
            barrier.abort()
            raise

    pool.each(work)
    if isinstance(pool, ThreadPool):
        keep_scratch([stacked, *(a for sh in pool.shards for a in sh.scratch())])
    return total[0]


def run_day(make_pool: Callable[[], Pool], run: Run, cb: Callbacks) -> Outcome:
    """Rehearse the day chunk by chunk over the shards of ``make_pool()``."""
    n_wh, horizon = run.capacity.size, run.horizon
    pool = make_pool()
    try:
        n_shards = len(run.cells)
        total = sum(pool.serial(Shard.total_orders, [()] * n_shards))
        arrived = (np.zeros(n_wh, dtype=np.int64) if run.backlog is None
                   else run.backlog.astype(np.int64).copy())  # an earlier day's parcels
        queues = Queues(arrived, np.zeros(n_wh, dtype=np.int64),
                        np.zeros((n_wh, horizon), dtype=np.int64),
                        np.zeros((n_wh, horizon), dtype=np.int64))
        s, done = 0, 0
        if run.resume and run.checkpoint is not None and run.checkpoint.exists():
            arrays = _checkpoint.load(run.checkpoint, run.stamp)
            s, done = int(arrays["second"]), int(arrays["orders_done"])
            queues = Queues(arrays["arrived"], arrays["shipped_cum"], arrays["shipped_h"],
                            arrays["backlog_h"])
            parts = split_state(arrays, run.cells, run.skus)
            pool.map(Shard.set_state, [(p,) for p in parts])
            log.info("resuming at second %d with %d of %d orders done", s, done, total)
        resumed_at = s
        cb.on_start("simulate", total)
        if done:
            cb.on_step("simulate", done)
        # at most 2**30 orders a chunk: queue places within a chunk are int32
        cuts = chunk_cuts(run.expected_cdf, s, min(run.chunk_orders, 1 << 30) / max(total, 1))
        # threads route a chunk ahead of settling, but not where checkpoints are taken or a
        # live listener looks
        lag = int(isinstance(pool, ThreadPool) and run.checkpoint is None
                  and run.on_chunk is None)
        done = _run_chunks(pool, run, cuts, done, queues, cb, lag)
        for hour in range(24, horizon):
            if (queues.arrived == queues.shipped_cum).all():
                break
            queues.close_hour(hour, run.capacity)
        # parcels leave in the hours up to the last that ships or holds a backlog (one left
        # at the horizon counts in its last hour)
        busy = np.flatnonzero((queues.shipped_h | queues.backlog_h).any(axis=0))
        states = pool.serial(Shard.state, [()] * n_shards)
        unplaced = any((st["left"] != 0).any() for st in states)
        state = merge_states(states, last=True, flow_hours=int(busy.max(initial=-1)) + 1)
        moved = pool.bytes_moved
        cb.on_end("simulate")
    except BaseException:
        pool.close(failed=True)
        raise
    pool.close()
    if unplaced:
        raise RuntimeError("the order generator did not place every unit of the day")
    return Outcome(state, queues.shipped_h, queues.backlog_h, done, resumed_at, moved)
