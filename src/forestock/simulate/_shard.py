"""A shard of the rehearsal: a contiguous range of SKUs, their demand cells, their stock and
their tallies, and the calls that run a chunk of the day on it (see ``_engine``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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
from forestock.simulate._queues import shard_bases, warehouse_totals
from forestock.simulate._reuse import scratch
from forestock.simulate._tallies import settle_chunk

# a shard's state as arrays (checkpoints, the merged outcome), by what they are per
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
    """The start of every shard's cells (``_kernels.start_cells``) in blocks of about equal
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
            K.start_cells(self.keys[c0:c1], self.units[c0:c1], self.seed, plain(self.shape),
                          plain(self.part(c0, c1)))

    def part(self, c0: int, c1: int) -> Start:
        """The cells ``c0:c1``'s share (views: filled in once every block is started)."""
        return Start(*(a[c0:c1] for a in self.start))


class QueuePlaces:
    """A shard's part of the reduce, in arrays of its own (a chunk lies within an hour).

    Every shard works out its own queue places at the same time as the others,
    from every shard's arrivals of the chunk (see ``_queues.shard_bases``): the
    reduce costs the coordinator nothing."""

    def __init__(self, capacity: np.ndarray) -> None:
        n_wh = capacity.size
        self.capacity = capacity
        self.bases = np.empty((n_wh, 3600), dtype=np.int32)  # queue places in the chunk
        self.span = np.empty((n_wh, 4), dtype=np.int64)  # see Queue
        self.added = np.empty(n_wh, dtype=np.int64)  # the chunk's arrivals, all shards'
        self.own = np.empty(n_wh, dtype=np.int64)  # and the shard's

    def place(self, counts: np.ndarray, totals: np.ndarray, j: int, arrived: np.ndarray,
              shipped_before: np.ndarray) -> tuple[Queue, np.ndarray, np.ndarray]:
        """Shard ``j``'s place in the queues of the chunk whose arrivals per shard,
        warehouse and second are ``counts`` (``totals`` per warehouse, see
        ``_queues.warehouse_totals``), after ``arrived`` parcels and with
        ``shipped_before`` shipped before its hour; and the chunk's arrivals per
        warehouse, all shards' and the shard's own."""
        queue = Queue(arrived, shipped_before, self.bases[:, :counts.shape[2]], self.span)
        shard_bases(counts, totals, j, plain(queue), self.capacity, self.added, self.own)
        return queue, self.added, self.own


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
                K.start_cells(d.keys, d.units, self.seed, plain(d.shape), plain(start))
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
        # arrivals per warehouse and second where no caller gives an array to count them in
        # (a chunk lies within an hour; int32, a second's arrivals fit: half the cache of int64)
        self.counts = np.empty((n_wh, 3600), dtype=np.int32)
        self.places = QueuePlaces(d.net.capacity)
        self.ms = [0, 0]  # orders in each slot's buffers
        # the groups the kernels take chunk after chunk, as plain tuples (see _arrays), built
        # once by prepare (after any set_state): the arrays in them change in place
        self.plain_bufs: list[Orders] = []
        self.plain_cells, self.plain_net = plain(self.cells), plain(d.net)
        self.routing = (self.plain_cells, plain(d.shape), plain(self.given), plain(self.cell_state),
                        plain(self.stock_state), self.plain_net)

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
        self.routing = (self.plain_cells, plain(d.shape), plain(self.given),
                        plain(self.cell_state), plain(self.stock_state), self.plain_net)
        self.plain_bufs = [plain(b) for b in self.bufs]
        return size

    def emit_route(self, s0: int, s1: int, out: np.ndarray | None = None,
                   totals: np.ndarray | None = None, slot: int = 0) -> tuple[int, np.ndarray]:
        """Emit and route the orders of seconds ``[s0, s1)`` into the order buffers of
        ``slot``; return their count and the shard's arrivals per warehouse and second
        (counted into ``out`` if given, else into an array of the shard's; ``totals`` gets
        them per warehouse, see ``_queues.warehouse_totals``)."""
        b = self.bufs[slot]
        counts = self.counts[:, :s1 - s0] if out is None else out
        m = K.emit_route_chunk(*self.routing, self.plain_bufs[slot], s0, float(s1), counts)
        if m < 0:
            raise RuntimeError(f"order buffer of {b.o_time.size} too small for seconds "
                               f"[{s0}, {s1}): the chunk bound is wrong")
        if totals is not None:
            warehouse_totals(counts, totals)
        self.ms[slot] = m
        return m, counts

    def settle(self, queue: Queue, own: np.ndarray, s0: int, s1: int, hour: int,
               slot: int = 0) -> None:
        """Ship hours and tallies of the chunk ``[s0, s1)`` of ``hour`` routed into the order
        buffers of ``slot``, given its place in the queues (see :meth:`QueuePlaces.place`)
        and ``own``, the shard's arrivals of the chunk per warehouse."""
        d, m, b = self.d, self.ms[slot], self.bufs[slot]
        keep = d.sample_share > 0
        per_second, sec0 = self.per_second, 0
        if self.sec_share is not None:
            per_second, sec0 = self.sec_local[:s1 - s0], s0
            per_second[:] = 0
        settle_chunk(self.plain_bufs[slot], self.plain_cells, d.price_cents, self.plain_net,
                     plain(queue), hour, s0,
                     plain(Tallies(self.region_hour, per_second, sec0, self.per_sku, self.flow)),
                     keep)
        if self.sec_share is not None:
            lock, shared = self.sec_share
            with lock:
                shared[s0:s0 + per_second.shape[0]] += per_second
        self.picked[:, hour] += own  # every arrival
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

    def settle_route(self, settle: tuple[Any, ...], s0: int, s1: int,
                     out: np.ndarray | None = None, totals: np.ndarray | None = None,
                     slot: int = 0) -> tuple[int, np.ndarray]:
        """:meth:`settle` with the arguments ``settle``, then :meth:`emit_route`: one message
        to a shard held elsewhere (see ``_pools.ShardProxy``)."""
        self.settle(*settle)
        return self.emit_route(s0, s1, out, totals, slot)

    def scratch(self) -> list[np.ndarray]:
        """The shard's order buffers: once it is done, the next run's (see
        ``_reuse.keep_scratch``; its counts and queue places as well measured no better)."""
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
