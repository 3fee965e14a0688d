"""numba kernels of the rehearsal: order generation, routing, warehouse queues, tallies.

Random numbers come from a counter-based generator (splitmix64 of seed, cell
key and order index), so every order's size, time and transit noise depend
only on its own key, never on how the work is split into chunks or shards.
A cell's key is ``sku * n_regions + region``.

The work of one time chunk of one shard (a contiguous range of SKUs) is two
kernels: :func:`route_chunk` places the chunk's orders in warehouses and
gives each its rank among the shard's arrivals at that warehouse in that
second; after the coordinator has added up the shards' counts,
:func:`settle_chunk` turns the global position into a ship hour and tallies
the outcome.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# stream tags that keep the draws of one order independent
SIZE, TIME, NOISE, SAMPLE = 1, 2, 3, 4

#: buckets of the cumulative-share lookup table that speeds up inverting the intraday cdf
LUT_BITS = 16

#: warehouse code of an order shipped from the factory, and of an unfilled one
FACTORY, UNFILLED = -2, -1

# columns of the tallies
R_ORDERS, R_UNITS, R_GMV, R_SHIPPED, R_D24, R_D48, R_LATE, R_UNFILLED, R_D72 = range(9)
N_REGION_COLS = 9
K_ORDERS, K_UNITS, K_GMV, K_SHIPPED, K_D24, K_D48, K_UNFILLED, K_D72 = range(8)
N_SKU_COLS = 8


@njit(cache=True, inline="always")
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def cell_hash(seed: np.uint64, cell: np.int64) -> np.uint64:
    """The part of :func:`uniform` that depends only on the seed and the cell key."""
    return _mix(seed + _GOLDEN * np.uint64(cell + 1))


@njit(cache=True, inline="always")
def uniform_h(h: np.uint64, k: np.int64, stream: np.int64) -> float:
    """``uniform(seed, cell, k, stream)`` given ``h = cell_hash(seed, cell)``."""
    z = _mix(h + _GOLDEN * np.uint64(k + 1))
    z = _mix(z + _GOLDEN * np.uint64(stream))
    return float(z >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, inline="always")
def uniform(seed: np.uint64, cell: np.int64, k: np.int64, stream: np.int64) -> float:
    """A uniform draw in [0, 1) keyed by (seed, cell key, k, stream)."""
    return uniform_h(cell_hash(seed, cell), k, stream)


@njit(cache=True, inline="always")
def order_size(h: np.uint64, k: np.int64, size_cdf: np.ndarray) -> np.int64:
    """Units of order ``k`` of the cell with hash ``h`` (before the cell's last order)."""
    u = uniform_h(h, k, SIZE)
    s = 0
    while s < size_cdf.size - 1 and u >= size_cdf[s]:
        s += 1
    return s + 1


@njit(cache=True, nogil=True)
def count_orders(units: np.ndarray, keys: np.ndarray, seed: np.uint64,
                 size_cdf: np.ndarray) -> np.ndarray:
    """Orders each cell's units split into (the last order takes what is left)."""
    n = units.size
    out = np.zeros(n, dtype=np.int64)
    for c in range(n):
        left = units[c]
        h = cell_hash(seed, keys[c])
        k = 0
        while left > 0:
            left -= order_size(h, k, size_cdf)
            k += 1
        out[c] = k
    return out


def cdf_lut(cdf: np.ndarray) -> np.ndarray:
    """``lut[b]``: the first second whose cumulative share exceeds ``b / 2**LUT_BITS``."""
    grid = np.arange(1 << LUT_BITS, dtype=np.float64) / float(1 << LUT_BITS)
    return np.searchsorted(cdf, grid, side="right").astype(np.int64)


@njit(cache=True, inline="always")
def second_of(u: float, cdf: np.ndarray, lut: np.ndarray) -> float:
    """Invert the intraday cdf: a time in seconds, continuous within a second.

    Equals ``searchsorted(cdf, u, side="right")`` plus the share of the way
    through that second; the lookup table only shortens the search.
    """
    b = int(u * (1 << LUT_BITS))
    if b >= lut.size:
        b = lut.size - 1
    lo = lut[b]
    while lo < cdf.size and cdf[lo] <= u:
        lo += 1
    if lo >= cdf.size:
        lo = cdf.size - 1
    prev = cdf[lo - 1] if lo > 0 else 0.0
    width = cdf[lo] - prev
    frac = (u - prev) / width if width > 0 else 0.0
    return lo + min(max(frac, 0.0), 0.999999)


@njit(cache=True, inline="always")
def next_uniform(u: float, v: float, n: np.int64, k: np.int64) -> float:
    """The next order statistic after ``u`` of the remaining ``n - k`` uniforms on (u, 1)."""
    return 1.0 - (1.0 - u) * (1.0 - v) ** (1.0 / (n - k))


@njit(cache=True, nogil=True)
def start_cells(n_orders: np.ndarray, keys: np.ndarray, seed: np.uint64, cdf: np.ndarray,
                lut: np.ndarray, u_cur: np.ndarray, t_next: np.ndarray) -> None:
    """Draw the time of each cell's first order (``inf`` for a cell without orders)."""
    for c in range(n_orders.size):
        if n_orders[c] > 0:
            u = next_uniform(0.0, uniform(seed, keys[c], 0, TIME), n_orders[c], 0)
            u_cur[c] = u
            t_next[c] = second_of(u, cdf, lut)
        else:
            u_cur[c] = 0.0
            t_next[c] = np.inf


@njit(cache=True, nogil=True)
def emit_generated(
    n_orders: np.ndarray,
    keys: np.ndarray,
    seed: np.uint64,
    size_cdf: np.ndarray,
    cdf: np.ndarray,
    lut: np.ndarray,
    next_k: np.ndarray,
    u_cur: np.ndarray,
    t_next: np.ndarray,
    left: np.ndarray,
    t_end: float,
    out_cell: np.ndarray,
    out_k: np.ndarray,
    out_time: np.ndarray,
    out_size: np.ndarray,
) -> int:
    """Emit every order placed before ``t_end`` seconds that is not yet emitted.

    Each cell's order times are the order statistics of ``n_orders`` uniform
    draws, generated in increasing order (so a cell resumes where it left off)
    and mapped through the intraday cdf. ``next_k`` (next order), ``u_cur``
    and ``t_next`` (its uniform and its time) and ``left`` (units not yet
    ordered) carry each cell's state between calls. Orders come out grouped
    by cell, each cell's in time order. Returns the number of orders written,
    or -1 if the buffers are too small, in which case the state is partly
    advanced and the caller must restore it.
    """
    m = 0
    cap = out_cell.size
    for c in range(n_orders.size):
        t = t_next[c]
        if t >= t_end:
            continue
        n = n_orders[c]
        h = cell_hash(seed, keys[c])
        k = next_k[c]
        u = u_cur[c]
        rest = left[c]
        while t < t_end:
            if m >= cap:
                return -1
            size = order_size(h, k, size_cdf)
            if size > rest or k == n - 1:
                size = rest
            out_cell[m] = c
            out_k[m] = k
            out_time[m] = t
            out_size[m] = size
            m += 1
            rest -= size
            k += 1
            if k < n:
                u = next_uniform(u, uniform_h(h, k, TIME), n, k)
                t = second_of(u, cdf, lut)
            else:
                t = np.inf
        next_k[c] = k
        u_cur[c] = u
        t_next[c] = t
        left[c] = rest
    return m


@njit(cache=True, nogil=True)
def emit_given(
    indptr: np.ndarray,
    o_time: np.ndarray,
    o_size: np.ndarray,
    next_k: np.ndarray,
    left: np.ndarray,
    t_end: float,
    out_cell: np.ndarray,
    out_k: np.ndarray,
    out_time: np.ndarray,
    out_size: np.ndarray,
) -> int:
    """Like :func:`emit_generated` for orders given as a table (cell ``c`` owns
    ``indptr[c]:indptr[c + 1]`` of the time-sorted ``o_time``, ``o_size``)."""
    m = 0
    cap = out_cell.size
    for c in range(indptr.size - 1):
        k = next_k[c]
        n = indptr[c + 1] - indptr[c]
        while k < n:
            j = indptr[c] + k
            if o_time[j] >= t_end:
                break
            if m >= cap:
                return -1
            out_cell[m] = c
            out_k[m] = k
            out_time[m] = o_time[j]
            out_size[m] = o_size[j]
            left[c] -= o_size[j]
            m += 1
            k += 1
        next_k[c] = k
    return m


@njit(cache=True, inline="always")
def _choose(stock: np.ndarray, sku: int, route: np.ndarray, r: int, size: int) -> int:
    """The first warehouse on region ``r``'s list holding ``size`` units of ``sku``, or -1."""
    for j in range(route.shape[1]):
        cand = route[r, j]
        if cand < 0:
            break
        if stock[sku, cand] >= size:
            return cand
    return UNFILLED


@njit(cache=True, nogil=True)
def route_chunk(
    m: int,
    out_cell: np.ndarray,
    out_time: np.ndarray,
    out_size: np.ndarray,
    cell_sku: np.ndarray,
    cell_region: np.ndarray,
    stock: np.ndarray,
    route: np.ndarray,
    factory: bool,
    s0: int,
    counts: np.ndarray,
    out_w: np.ndarray,
    out_q: np.ndarray,
) -> None:
    """Route one chunk of one shard and rank each order within its warehouse and second.

    Orders arrive grouped by cell, cells sorted by SKU then region, each
    cell's orders in time order (``cell_sku`` holds the shard's local SKU rows
    of ``stock``). A SKU's stock depletes in order of order time (ties: cell,
    then order index): an order goes to the first warehouse on its region's
    ``route`` holding all its units, else to the factory if ``factory``,
    else it is unfilled. When every warehouse holds enough for all the
    chunk's orders that choose it under the stock at the chunk's start, the
    choices do not depend on the order they are made in, and the time sort is
    skipped.

    ``counts[w, s - s0]`` counts the shard's orders placed at ``w`` in second
    ``s``; ``out_q`` is an order's count before it in buffer order, so within
    a warehouse and second the shard's orders rank by (SKU, region, order
    index): the tie-break the coordinator extends across shards.
    """
    counts[:, :] = 0
    n_wh = stock.shape[1]
    need = np.zeros(n_wh, dtype=np.int64)
    i = 0
    while i < m:
        sku = cell_sku[out_cell[i]]
        j = i + 1
        while j < m and cell_sku[out_cell[j]] == sku:
            j += 1
        need[:] = 0
        for a in range(i, j):
            w = _choose(stock, sku, route, cell_region[out_cell[a]], out_size[a])
            out_w[a] = w
            if w >= 0:
                need[w] += out_size[a]
        contended = False
        for w in range(n_wh):
            if need[w] > stock[sku, w]:
                contended = True
        if contended:
            for a in np.argsort(out_time[i:j], kind="mergesort"):
                b = i + a
                w = _choose(stock, sku, route, cell_region[out_cell[b]], out_size[b])
                out_w[b] = w
                if w >= 0:
                    stock[sku, w] -= out_size[b]
        else:
            for w in range(n_wh):
                stock[sku, w] -= need[w]
        for a in range(i, j):
            w = out_w[a]
            if w >= 0:
                s = int(out_time[a]) - s0
                out_q[a] = counts[w, s]
                counts[w, s] += 1
            elif factory:
                out_w[a] = FACTORY
        i = j


@njit(cache=True, nogil=True)
def settle_chunk(
    m: int,
    out_cell: np.ndarray,
    out_k: np.ndarray,
    out_time: np.ndarray,
    out_size: np.ndarray,
    out_w: np.ndarray,
    out_q: np.ndarray,
    keys: np.ndarray,
    cell_sku: np.ndarray,
    cell_region: np.ndarray,
    price_cents: np.ndarray,
    base: np.ndarray,
    s0: int,
    shipped_before: np.ndarray,
    capacity: np.ndarray,
    hour: int,
    seed: np.uint64,
    noise: float,
    last_mile: float,
    factory_hours: float,
    transit: np.ndarray,
    region_hour: np.ndarray,
    per_second: np.ndarray,
    per_sku: np.ndarray,
    picked: np.ndarray,
    flow: np.ndarray,
    out_ship: np.ndarray,
    out_elapsed: np.ndarray,
) -> None:
    """Ship hours, delivery times and tallies of one routed chunk of one hour.

    The order is parcel number ``n = base[w, s - s0] + out_q + 1`` to arrive
    at warehouse ``w`` (``base`` counts every arrival before it from all
    shards). Warehouse ``w`` ships at most ``capacity[w]`` parcels an hour,
    first in first out: with ``shipped_before[w]`` parcels shipped before the
    hour, parcel ``n`` leaves at the end of hour
    ``hour + ceil((n - shipped_before[w]) / capacity[w]) - 1``. It is
    delivered ``transit * (1 + jitter) + last_mile`` hours later; a factory
    order ``factory_hours * (1 + jitter)`` hours after it was placed.

    Tallies (integers; money in cents): ``region_hour[r, hour, :]``,
    ``per_second[s, :]`` (orders, units, gmv), ``per_sku[sku, :]``,
    ``picked[w, hour]``, ``flow[w, ship_hour, r]`` (the last hour takes
    later ones). ``out_ship`` gets the ship hour (-1 unfilled or factory),
    ``out_elapsed`` the hours from order to door (NaN unfilled).
    """
    n_hours = picked.shape[1]
    for i in range(m):
        c = out_cell[i]
        sku = cell_sku[c]
        r = cell_region[c]
        size = out_size[i]
        t = out_time[i]
        value = size * price_cents[sku]
        sec = int(t)
        region_hour[r, hour, R_ORDERS] += 1
        region_hour[r, hour, R_UNITS] += size
        region_hour[r, hour, R_GMV] += value
        per_second[sec, 0] += 1
        per_second[sec, 1] += size
        per_second[sec, 2] += value
        per_sku[sku, K_ORDERS] += 1
        per_sku[sku, K_UNITS] += size
        per_sku[sku, K_GMV] += value
        w = out_w[i]
        if w == UNFILLED:
            region_hour[r, hour, R_UNFILLED] += size
            per_sku[sku, K_UNFILLED] += size
            out_ship[i] = -1
            out_elapsed[i] = np.nan
            continue
        jitter = (uniform(seed, keys[c], out_k[i], NOISE) * 2.0 - 1.0) * noise
        if w == FACTORY:
            out_ship[i] = -1
            elapsed = factory_hours * (1.0 + jitter)
        else:
            n = base[w, sec - s0] + out_q[i] + 1
            cap = capacity[w]
            ship_hour = hour + (n - shipped_before[w] + cap - 1) // cap - 1
            deliver_h = (ship_hour + 1) + transit[w, r] * (1.0 + jitter) + last_mile
            elapsed = deliver_h - t / 3600.0
            out_ship[i] = ship_hour
            picked[w, hour] += 1
            flow[w, min(ship_hour, n_hours - 1), r] += 1
        out_elapsed[i] = elapsed
        region_hour[r, hour, R_SHIPPED] += size
        per_sku[sku, K_SHIPPED] += size
        if elapsed <= 24.0:
            region_hour[r, hour, R_D24] += size
            per_sku[sku, K_D24] += size
        if elapsed <= 48.0:
            region_hour[r, hour, R_D48] += size
            per_sku[sku, K_D48] += size
        else:
            region_hour[r, hour, R_LATE] += size
        if elapsed <= 72.0:
            region_hour[r, hour, R_D72] += size
            per_sku[sku, K_D72] += size


@njit(cache=True, nogil=True)
def sample_mask(m: int, out_cell: np.ndarray, out_k: np.ndarray, keys: np.ndarray,
                seed: np.uint64, share: float) -> np.ndarray:
    """Which of the chunk's orders the order sample keeps (a keyed draw below ``share``)."""
    keep = np.zeros(m, dtype=np.bool_)
    for i in range(m):
        keep[i] = uniform(seed, keys[out_cell[i]], out_k[i], SAMPLE) < share
    return keep
