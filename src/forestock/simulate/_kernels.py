"""Numba kernels of the rehearsal's orders: keyed draws, order generation and routing.

Every random quantity is a keyed draw (no generator state): order ``k`` of
the demand cell with key ``sku * n_regions + region`` takes one 64-bit hash
of (seed, key, k), split into fields: the high 32 bits place the order in
time, the next 16 bits pick its size, the low 16 bits its transit noise. So
orders can be generated in any chunking, by any shard, in any order, with
identical results, one hash each.

The work of one time chunk of one shard (a contiguous range of SKUs) is two
kernels: :func:`emit_route_chunk` generates the chunk's orders SKU by SKU and
routes them while they are in cache, counting arrivals per warehouse and
second; once every shard's counts are in (``_queues`` adds them up),
``_tallies.settle_chunk`` turns each order's place in its warehouse's queue
into a ship hour and tallies the outcome. (The kernels that use the draws
live in this one file: numba's cache sees a change only in a kernel's own
file, so a kernel inlining a draw from another file could run stale.)

What each round of tuning measured, and what it dropped: ``benchmarks/NOTES.md``
(section *simulate*).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from forestock.simulate._arrays import (
    FACTORY,
    UNFILLED,
    Cells,
    CellState,
    DayShape,
    GivenOrders,
    Network,
    Orders,
    Start,
    Stock,
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_TO_UNIT32 = 1.0 / 4294967296.0  # 2**-32

#: stream tag of the order sample's draw (the order's own draw is stream-free)
SAMPLE = 4

#: buckets of the cumulative-share lookup table that speeds up inverting the intraday cdf
#: (2**18: a bucket spans a third of an average second, so a busy second is found by one
#: comparison; 2**16 measured 1.3x slower, 2**19 and more no faster)
LUT_BITS = 18

#: windows a chunk is cut into for a SKU whose stock runs short somewhere within it: a
#: stock-out replay then covers one window's orders, not the chunk's
SPLIT = 8

#: draws a block of the start pass sizes at once (:func:`start_cells`; 64 measured faster
#: than 32, 48, 96 and 128)
START_BLOCK = 64

#: a SKU is cut into windows only if it asks for at least this many units (or has this many
#: orders) in a chunk: a smaller one replays faster than it is cut
SPLIT_MIN = 64


@njit(cache=True, inline="always")
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def cell_hash(seed: np.uint64, cell: np.int64) -> np.uint64:
    """The part of an order's draw that depends only on the seed and the cell key."""
    return _mix(seed + _GOLDEN * np.uint64(cell + 1))


@njit(cache=True, inline="always")
def draw_h(h: np.uint64, k: np.int64) -> np.uint64:
    """The 64-bit draw of order ``k`` of the cell with hash ``h`` (SplitMix64 at ``k``)."""
    return _mix(h + _GOLDEN * np.uint64(k + 1))


@njit(cache=True)
def draw(seed: np.uint64, cell: np.int64, k: np.int64) -> np.uint64:
    """The 64-bit draw of order ``k`` of cell key ``cell``: bits 63-32 time, 31-16 size,
    15-0 transit noise."""
    return draw_h(cell_hash(seed, cell), k)


@njit(cache=True, inline="always")
def uniform(seed: np.uint64, cell: np.int64, k: np.int64, stream: np.int64) -> float:
    """A uniform draw in [0, 1) keyed by (seed, cell key, k, stream), apart from the
    order's own draw."""
    z = _mix(draw(seed, cell, k) + _GOLDEN * np.uint64(stream))
    return float(z >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, nogil=True, inline="always")
def size_of(z: np.uint64, size_thr: np.ndarray) -> np.int64:
    """Units of the order with draw ``z``: one more for each threshold its size bits reach."""
    b = np.int64((z >> np.uint64(16)) & np.uint64(0xFFFF))
    s = 1
    for i in range(size_thr.size):  # no early exit: a fixed trip count, no mispredictions
        s += b >= size_thr[i]
    return s


def size_thresholds(size_probs: np.ndarray) -> np.ndarray:
    """Size-bit thresholds (of 65,536) of orders of 2, 3, ... units."""
    cdf = np.cumsum(np.asarray(size_probs, dtype=np.float64))[:-1]
    return np.floor(cdf * 65536.0 + 0.5).astype(np.int64)


@njit(cache=True, nogil=True)
def cell_hashes(keys: np.ndarray, seed: np.uint64) -> np.ndarray:
    """:func:`cell_hash` of each cell key."""
    out = np.empty(keys.size, dtype=np.uint64)
    for c in range(keys.size):
        out[c] = cell_hash(seed, keys[c])
    return out


def cdf_lut(cdf: np.ndarray) -> np.ndarray:
    """``lut[b]``: the first second whose cumulative share exceeds ``b / 2**LUT_BITS``, for
    ``b`` up to ``2**LUT_BITS`` (int32: half the cache of int64)."""
    grid = np.arange((1 << LUT_BITS) + 1, dtype=np.float64) / float(1 << LUT_BITS)
    return np.searchsorted(cdf, grid, side="right").astype(np.int32)


def inverse_widths(cdf: np.ndarray) -> np.ndarray:
    """``1 / (cdf[s] - cdf[s - 1])`` (``cdf[-1]`` taken as 0), or 0 where that is not
    positive: multiplying by it is cheaper than dividing."""
    width = np.diff(cdf, prepend=0.0)
    out = np.zeros_like(width)
    np.divide(1.0, width, out=out, where=width > 0)
    return out


@njit(cache=True, nogil=True, inline="always")
def second_of(u: float, cdf: np.ndarray, inv_width: np.ndarray, lut: np.ndarray) -> float:
    """Invert the intraday cdf: a time in seconds, continuous within a second.

    The second is ``searchsorted(cdf, u, side="right")`` (the last one for
    ``u >= 1``), plus the share of the way through it,
    ``(u - cdf[s - 1]) * inv_width[s]`` kept in ``[0, 0.999999]``. The
    lookup table brackets the second: ``u * 2**LUT_BITS`` is exact, so it
    lies in ``lut[b]:lut[b + 1] + 1``; where that holds at most two seconds
    (busy times) one comparison, without a branch, picks it.
    """
    n = cdf.size
    b = int(u * (1 << LUT_BITS))
    if b > lut.size - 2:
        b = lut.size - 2
    lo = np.int64(lut[b])
    hi = np.int64(lut[b + 1])
    if hi - lo <= 1:
        lo += np.int64((lo < hi) & (cdf[min(lo, n - 1)] <= u))
    else:
        while lo < hi and cdf[lo] <= u:
            lo += 1
    if lo >= n:
        lo = n - 1
    prev = cdf[lo - 1] if lo > 0 else 0.0
    frac = (u - prev) * inv_width[lo]
    return lo + min(max(frac, 0.0), 0.999999)


@njit(cache=True, nogil=True, inline="always")
def share_of(z: np.uint64, k: np.int64, inv_n: float) -> float:
    """Where order ``k`` of ``n = 1 / inv_n`` with draw ``z`` falls in the day, as a
    cumulative share of the profile: uniform within the k-th n-quantile band (stratified
    arrivals: times come out in order, no sort)."""
    # the 32 time bits through a signed integer: a direct conversion (unsigned takes more)
    v = float(np.int64(z >> np.uint64(32))) * _TO_UNIT32
    return (k + v) * inv_n


@njit(cache=True, nogil=True, inline="always")
def time_of(z: np.uint64, k: np.int64, inv_n: float, cdf: np.ndarray, inv_width: np.ndarray,
            lut: np.ndarray) -> float:
    """Time of order ``k`` of ``n = 1 / inv_n`` with draw ``z`` (see :func:`share_of`)."""
    return second_of(share_of(z, k, inv_n), cdf, inv_width, lut)


@njit(cache=True, nogil=True)
def start_cells(keys: np.ndarray, units: np.ndarray, seed: np.uint64, shape: DayShape,
                start: Start) -> None:
    """In one pass over the cells (RNG ``keys``, ``units`` of the day), into ``start``: each
    one's hash, the orders its units split into (the last order takes what is left) and its
    first order (``t_next = inf`` if none).

    Sizes come in blocks of up to :data:`START_BLOCK` draws, never more than the units left
    (each order takes one at least): the size bits in one loop, the units they take in
    another, both vectorised; the block that reaches the units gives back, from its end,
    the orders past the one that reaches them. (A block of a constant 16 draws, unrolled
    by the compiler, was not vectorised, and the block that reached the units was drawn
    again one by one: 5.0 to 3.6 ms, one thread, on the benchmark's day.) The first
    orders' times come in a second pass: each reads the cdf's tables where its cell's
    share falls, mostly out of cache, and apart from the counting those reads overlap
    (5.3 to 4.5 ms with the tables out of the core's cache, the median of 11)."""
    size_thr, cdf, inv_width, lut = shape
    hashes, n_orders, z_next, t_next = start
    bits = np.empty(START_BLOCK, dtype=np.int64)
    n_thr = size_thr.size
    for c in range(keys.size):
        h = cell_hash(seed, keys[c])
        hashes[c] = h
        left = units[c]
        k = 0
        while left > 0:
            nb = min(left, bits.size)  # (a trip count the compiler does not unroll)
            z0 = h + _GOLDEN * np.uint64(k + 1)  # draw_h(h, k + i) is _mix(z0 + GOLDEN * i)
            for i in range(nb):
                bits[i] = np.int64((_mix(z0 + _GOLDEN * np.uint64(i)) >> np.uint64(16))
                                   & np.uint64(0xFFFF))
            taken = nb
            for t in range(n_thr):
                thr = size_thr[t]
                for i in range(nb):
                    taken += bits[i] >= thr
            if taken < left:
                left -= taken
                k += nb
                continue
            # the last order is in the block: drop orders from its end while the ones
            # before them still reach the units left
            j = nb
            while True:
                s = 1
                for t in range(n_thr):
                    s += bits[j - 1] >= size_thr[t]
                if taken - s < left:
                    break
                taken -= s
                j -= 1
            k += j
            left = 0
        n_orders[c] = k
    for c in range(keys.size):  # iterations apart from each other: their table reads overlap
        z = draw_h(hashes[c], 0)
        z_next[c] = z
        k = n_orders[c]
        t_next[c] = time_of(z, 0, 1.0 / k, cdf, inv_width, lut) if k > 0 else np.inf


@njit(cache=True, nogil=True)
def soonest_orders(sku_ptr: np.ndarray, t_next: np.ndarray) -> np.ndarray:
    """The soonest next order time of each SKU's cells (``inf`` if none is left)."""
    out = np.full(sku_ptr.size - 1, np.inf)
    for j in range(sku_ptr.size - 1):
        for c in range(sku_ptr[j], sku_ptr[j + 1]):
            out[j] = min(out[j], t_next[c])
    return out


@njit(cache=True, nogil=True, inline="always")
def _short(j: int, stock: np.ndarray, need: np.ndarray) -> bool:
    """Whether the SKU's orders ask some warehouse for more than it holds."""
    short = False
    for w in range(need.size):
        short |= need[w] > stock[j, w]
    return short


@njit(cache=True, nogil=True)
def _take_back(runs: np.ndarray, run_cell: np.ndarray, n_runs: int, o_time: np.ndarray,
               o_size: np.ndarray, o_w: np.ndarray, hashes: np.ndarray, next_k: np.ndarray,
               z_next: np.ndarray, t_next: np.ndarray, left: np.ndarray, counts: np.ndarray,
               need: np.ndarray, s0: int) -> None:
    """Undo the emission of the orders of the runs ``runs[q]:runs[q + 1]`` of the cells
    ``run_cell[q]`` (not yet settled): their cells' state back to each one's first order
    among them, their arrivals uncounted, ``need`` zeroed."""
    for q in range(n_runs):
        c = run_cell[q]
        for a in range(runs[q + 1] - 1, runs[q] - 1, -1):  # backwards: ends at its first order
            next_k[c] -= 1
            left[c] += o_size[a]
            t_next[c] = o_time[a]
            z_next[c] = draw_h(hashes[c], next_k[c])
            if o_w[a] >= 0:
                counts[o_w[a], int(o_time[a]) - s0] -= 1
    need[:] = 0


@njit(cache=True, nogil=True)
def _settle_stock(
    sku: int,
    m0: int,
    m: int,
    run_cell: np.ndarray,
    o_time: np.ndarray,
    o_size: np.ndarray,
    o_w: np.ndarray,
    cell_region: np.ndarray,
    stock: np.ndarray,
    route: np.ndarray,
    route_pos: np.ndarray,
    factory: bool,
    s0: int,
    counts: np.ndarray,
    need: np.ndarray,
    runs: np.ndarray,
    n_runs: int,
) -> None:
    """Take one SKU's chunk of orders ``m0:m`` out of its stock.

    The orders chose warehouses under the stock at the chunk's start (each
    the first on its route holding all its units), asking ``need[w]`` units
    of each. If no warehouse is asked for more than it holds, those are the
    choices of the orders in time order too. Else only the orders at the
    *contended* warehouses (those asked for too much, to begin with) are
    replayed, in time order (ties: cell, then order index; the cells' runs
    ``runs[q]:runs[q + 1]`` merged) from the first one its warehouse cannot
    fill: the other warehouses' orders keep their choices, as they would in
    time order as long as the orders turned away from contended warehouses
    do not overdraw them; if one would, all the SKU's orders are replayed
    (widening to that one warehouse at a time was measured slower: it happens
    often, once most warehouses hold only a few units). Arrivals are
    recounted where choices change. ``need`` is left zeroed.
    """
    n_wh = stock.shape[1]
    if not _short(sku, stock, need):
        for w in range(n_wh):
            stock[sku, w] -= need[w]
    else:
        _replay_contended(sku, run_cell, o_time, o_size, o_w, cell_region, stock, route,
                          route_pos, s0, counts, need, runs, n_runs)
    for w in range(n_wh):
        need[w] = 0
    if factory:
        for a in range(m0, m):
            if o_w[a] == UNFILLED:
                o_w[a] = FACTORY


@njit(cache=True, nogil=True)
def _replay_contended(sku: int, run_cell: np.ndarray, o_time: np.ndarray, o_size: np.ndarray,
                      o_w: np.ndarray, cell_region: np.ndarray, stock: np.ndarray,
                      route: np.ndarray, route_pos: np.ndarray, s0: int, counts: np.ndarray,
                      need: np.ndarray, runs: np.ndarray, n_runs: int) -> None:
    """The contended case of :func:`_settle_stock`: leaves ``stock[sku]`` debited by every
    order's final choice, written to ``o_w`` and recounted in ``counts``.

    (The route is searched inline: a helper taking the arrays costs reference
    counting on every order, several times the search.)
    """
    n_wh = stock.shape[1]
    n_rank = route.shape[1]
    a0 = runs[0]
    o_cell = np.empty(runs[n_runs] - a0, dtype=np.int64)  # each order's cell, from a0 on
    for q in range(n_runs):
        o_cell[runs[q] - a0:runs[q + 1] - a0] = run_cell[q]
    start = stock[sku].copy()
    live = np.empty(n_wh, dtype=np.int64)
    slot = np.full(n_wh, -1, dtype=np.int64)  # >= 0: contended
    for w in range(n_wh):
        if need[w] > start[w]:
            slot[w] = 0
    while True:
        pos = _time_order(runs, runs, n_runs, o_time, o_w, slot)
        # the contended warehouses' orders stand up to the first one its warehouse,
        # debited in time order, cannot fill
        for w in range(n_wh):
            live[w] = start[w] if slot[w] >= 0 else start[w] - need[w]
        first = pos.size
        for k in range(pos.size):
            w = o_w[pos[k]]
            if live[w] < o_size[pos[k]]:
                first = k
                break
            live[w] -= o_size[pos[k]]
        choice = np.empty(pos.size - first, dtype=np.int32)
        widened = False
        for k in range(first, pos.size):
            a = pos[k]
            c = o_cell[a - a0]
            r = cell_region[c]
            size = o_size[a]
            w = UNFILLED
            for i in range(route_pos[c], n_rank):
                cand = route[r, i]
                if cand < 0:
                    break
                if live[cand] >= size:
                    w = cand
                    break
                if slot[cand] < 0 and start[cand] >= size:
                    # turned-away orders would overdraw an uncontended warehouse:
                    # replay every order
                    slot[:] = 0
                    widened = True
                    break
            if widened:
                break
            choice[k - first] = w
            if w >= 0:
                live[w] -= size
        if not widened:
            break
    for k in range(first, pos.size):
        a = pos[k]
        old, new = o_w[a], choice[k - first]
        if old != new:
            sec = int(o_time[a]) - s0
            counts[old, sec] -= 1
            if new >= 0:
                counts[new, sec] += 1
            o_w[a] = new
    for w in range(n_wh):
        stock[sku, w] = live[w]


@njit(cache=True, nogil=True)
def _time_order(starts: np.ndarray, runs: np.ndarray, n_runs: int, o_time: np.ndarray,
                o_w: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """The buffer positions ``starts[q]:runs[q + 1]`` of the runs ``q`` (each in time
    order, lying in buffer order), only those at a warehouse ``w`` with ``slot[w] >= 0``
    unless ``slot`` is empty, in time order (ties: buffer position): the runs merged
    pairwise, ``log2(n_runs)`` linear passes (numba's sorts take several times longer)."""
    every = slot.size == 0
    k = 0
    for q in range(n_runs):
        for a in range(starts[q], runs[q + 1]):
            if every or (o_w[a] >= 0 and slot[o_w[a]] >= 0):
                k += 1
    pos = np.empty(k, dtype=np.int64)
    key = np.empty(k, dtype=np.float64)
    bnd = np.empty(n_runs + 1, dtype=np.int64)  # the runs left, empty ones dropped
    k = 0
    n = 0
    for q in range(n_runs):
        k0 = k
        for a in range(starts[q], runs[q + 1]):
            if every or (o_w[a] >= 0 and slot[o_w[a]] >= 0):
                pos[k] = a
                key[k] = o_time[a]
                k += 1
        if k > k0:
            bnd[n] = k0
            n += 1
    bnd[n] = k
    pos2 = np.empty(k, dtype=np.int64)
    key2 = np.empty(k, dtype=np.float64)
    while n > 1:
        j = 0
        for g in range(0, n, 2):
            lo = bnd[g]
            mid = bnd[g + 1]
            hi = bnd[g + 2] if g + 1 < n else mid
            x, y, o = lo, mid, lo
            while x < mid and y < hi:
                if key[y] < key[x]:  # the left run first on ties: it lies earlier
                    key2[o], pos2[o] = key[y], pos[y]
                    y += 1
                else:
                    key2[o], pos2[o] = key[x], pos[x]
                    x += 1
                o += 1
            while x < mid:
                key2[o], pos2[o] = key[x], pos[x]
                x += 1
                o += 1
            while y < hi:
                key2[o], pos2[o] = key[y], pos[y]
                y += 1
                o += 1
            bnd[j] = lo
            j += 1
        bnd[j] = k
        n = j
        key, key2 = key2, key
        pos, pos2 = pos2, pos
    return pos


@njit(cache=True, nogil=True)
def emit_route_chunk(cells: Cells, shape: DayShape, given_orders: GivenOrders,
                     state: CellState, stock_state: Stock, net: Network, orders: Orders,
                     s0: int, t_end: float, counts: np.ndarray) -> int:
    """Generate the orders placed before ``t_end`` and route them, SKU by SKU.

    Cells are sorted by SKU then region; SKU ``j`` owns cells
    ``sku_ptr[j]:sku_ptr[j + 1]`` (and row ``j`` of ``stock``). A cell's
    state (next order ``next_k``, its draw ``z_next`` and time ``t_next``,
    units not yet ordered ``left``) carries over between chunks, and so does
    ``sku_next[j]``, the soonest ``t_next`` of SKU ``j``'s cells: a chunk
    visits only the SKUs with an order due in it (see :func:`soonest_orders`).
    Generated orders split a cell's units by size draws (the last order takes
    what is left); given orders (``given``) are read from ``g_*``, cell ``c``
    owning ``g_indptr[c]:g_indptr[c + 1]``, in time order. Orders come out
    into ``orders`` grouped by SKU, then by window (below), then by cell, each
    cell's in time order (so within one second: SKU, region, order index);
    ``o_k`` (the order index) and ``o_cell`` (its cell) only if ``o_k`` is not
    empty (for the order sample); the buffer's runs of one cell's orders are
    written instead, run ``q`` holding cell ``r_cell[q]``'s orders up to
    position ``r_end[q]`` (from the last run's end), ``r_count[0]`` of them.

    A SKU's stock depletes in order of order time (ties: cell, then order
    index): an order goes to the first warehouse on its region's ``route``
    holding all its units, else to the factory if ``factory_hours > 0``, else it is
    unfilled. Each order chooses as it is generated, under the stock at the
    window's start; :func:`_settle_stock` then checks (and if need be
    corrects) the SKU's choices against time order. The window is the whole
    chunk, or one of :data:`SPLIT` spans of whole seconds where the SKU's stock
    may run short in the chunk (``asked[j, w]``, the units the SKU's orders
    asked of warehouse ``w`` in the last chunk, hints at that). ``counts[w, s - s0]``
    counts the orders placed at ``w`` in second ``s``. A generated order is
    placed before ``t_end`` exactly when its share of the day is below
    ``cdf[t_end - 1]``, so the loop tests that and does not wait for the
    inversion. Returns the number of orders, or -1 if the buffers are too
    small (a bug: the caller sizes them by a bound; ``r_cell`` and ``r_end``
    as large as ``o_time``: a run holds at least one order).
    """
    _keys, _cell_sku, cell_region, sku_ptr, hashes, n_orders = cells
    size_thr, cdf, inv_width, lut = shape
    given, g_indptr, g_time, g_size = given_orders
    next_k, z_next, t_next, left, sku_next, route_pos = state
    stock, asked = stock_state
    route, _transit, _capacity, _noise, _last_mile, _promise_1, _promise_2, factory_hours = net
    o_time, o_size, o_noise, o_w, o_cell, o_k, _o_ship, _o_elapsed, r_cell, r_end, r_count = orders
    factory = factory_hours > 0
    counts[:, :] = 0
    n_wh = stock.shape[1]
    n_rank = route.shape[1]
    cap = o_time.size
    need = np.zeros(n_wh, dtype=np.int64)
    most = 1
    for j in range(sku_ptr.size - 1):
        most = max(most, sku_ptr[j + 1] - sku_ptr[j])
    runs = np.empty(most + 1, dtype=np.int64)
    run_cell = np.empty(most + 1, dtype=np.int64)
    n_r = 0
    track = o_k.size > 0
    s_end = int(t_end)
    m = 0
    for j in range(sku_ptr.size - 1):
        if sku_next[j] >= t_end:  # no order of the SKU's in the chunk: its cells wait
            continue
        m0 = m
        # one window, or SPLIT where stock may run short within the chunk: where a
        # warehouse holds no more than the SKU's orders asked of it in the last chunk (a
        # hint: 1x measured faster than 0.5x, 1.5x or 2x), or where a first pass over the
        # whole chunk finds it short (SKUs smaller than SPLIT_MIN stay whole)
        hot = False
        total = 0
        for w in range(n_wh):
            hot |= 0 < stock[j, w] <= asked[j, w]
            total += asked[j, w]
            asked[j, w] = 0
        hot &= total >= SPLIT_MIN
        split = hot or SPLIT < 2 or s_end - s0 < 2
        n_win = min(SPLIT, s_end - s0) if hot and SPLIT > 1 else 1
        win = 0
        while True:  # the SKU's windows of the chunk, one after the other
            e = s_end if n_win == 1 else s0 + ((s_end - s0) * (win + 1)) // n_win
            t_win = float(e)
            # an order is placed before t_win (whole seconds) iff its share of the day is
            # below the cdf at t_win's previous second (the last second takes every later share)
            u_end = cdf[e - 1] if e < cdf.size else np.inf
            m_win = m
            n_runs = 0
            soonest = np.inf
            for c in range(sku_ptr[j], sku_ptr[j + 1]):
                t = t_next[c]
                if t >= t_win:
                    soonest = min(soonest, t)
                    continue
                # skip the head of the route that holds none of the SKU (it never will again)
                r = cell_region[c]
                start = route_pos[c]
                while start < n_rank and route[r, start] >= 0 and stock[j, route[r, start]] == 0:
                    start += 1
                route_pos[c] = start
                runs[n_runs] = m
                run_cell[n_runs] = c
                n_runs += 1
                k = next_k[c]
                rest = left[c]
                h = hashes[c]
                n = n_orders[c]
                z = z_next[c]
                base = g_indptr[c] if given else 0
                inv_n = 1.0 / n
                while True:  # order k (draw z, time t) is placed before t_win
                    if m >= cap:
                        return -1
                    if given:
                        size = g_size[base + k]
                        noise_bits = np.uint16(draw_h(h, k) & np.uint64(0xFFFF))
                    else:
                        size = size_of(z, size_thr)
                        if size > rest or k == n - 1:
                            size = rest
                        noise_bits = np.uint16(z & np.uint64(0xFFFF))
                    # the first warehouse on the route holding all its units (written out
                    # here: a helper taking the arrays costs reference counting on every order)
                    w = UNFILLED
                    for i in range(start, n_rank):
                        cand = route[r, i]
                        if cand < 0:
                            break
                        if stock[j, cand] >= size:
                            w = cand
                            break
                    if track:  # (the order sample's; the cells' runs serve the rest)
                        o_cell[m] = c
                        o_k[m] = k
                    o_time[m] = t
                    o_size[m] = size
                    o_noise[m] = noise_bits
                    o_w[m] = w
                    if w >= 0:
                        need[w] += size
                        counts[w, int(t) - s0] += 1
                    m += 1
                    rest -= size
                    k += 1
                    if k >= n:
                        t = np.inf
                        break
                    if given:
                        t = g_time[base + k]
                        if t >= t_win:
                            break
                    else:
                        # the loop ends on the order's share of the day, not on its time: the
                        # next order need not wait for the cdf's inversion
                        z = draw_h(h, k)
                        u = share_of(z, k, inv_n)
                        t = second_of(u, cdf, inv_width, lut)
                        if u >= u_end:
                            break
                z_next[c] = z
                next_k[c] = k
                t_next[c] = t
                left[c] = rest
                soonest = min(soonest, t)
            sku_next[j] = soonest
            if m > m_win:
                if not split and m - m0 >= SPLIT_MIN and _short(j, stock, need):
                    # stock runs short within the chunk: take the pass back and go again in
                    # SPLIT windows, so that a replay (see _settle_stock) covers one window
                    runs[n_runs] = m
                    _take_back(runs, run_cell, n_runs, o_time, o_size, o_w, hashes, next_k,
                               z_next, t_next, left, counts, need, s0)
                    m = m0
                    n_win = min(SPLIT, s_end - s0)
                    split = True
                    continue
                runs[n_runs] = m
                for w in range(n_wh):
                    asked[j, w] += need[w]
                _settle_stock(j, m_win, m, run_cell, o_time, o_size, o_w, cell_region, stock,
                              route, route_pos, factory, s0, counts, need, runs, n_runs)
                for q in range(n_runs):
                    r_cell[n_r] = run_cell[q]
                    r_end[n_r] = runs[q + 1]
                    n_r += 1
            win += 1
            if win >= n_win:
                break
    r_count[0] = n_r
    return m


@njit(cache=True, nogil=True)
def sample_mask(m: int, o_cell: np.ndarray, o_k: np.ndarray, keys: np.ndarray,
                seed: np.uint64, share: float) -> np.ndarray:
    """Which of the chunk's orders the order sample keeps (a keyed draw below ``share``)."""
    keep = np.zeros(m, dtype=np.bool_)
    for i in range(m):
        keep[i] = uniform(seed, keys[o_cell[i]], o_k[i], SAMPLE) < share
    return keep
