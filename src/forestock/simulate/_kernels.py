"""numba kernels of the rehearsal: order generation, routing, warehouse queues.

Random numbers come from a counter-based generator (splitmix64 of seed, cell
and order index), so every order's size, time and transit noise depend only
on its own key, never on how the work is split into chunks or shards.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# stream tags that keep the draws of one order independent
SIZE, TIME, NOISE = 1, 2, 3


@njit(cache=True, inline="always")
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform(seed: np.uint64, cell: np.int64, k: np.int64, stream: np.int64) -> float:
    """A uniform draw in [0, 1) keyed by (seed, cell, k, stream)."""
    z = _mix(seed + _GOLDEN * np.uint64(cell + 1))
    z = _mix(z + _GOLDEN * np.uint64(k + 1))
    z = _mix(z + _GOLDEN * np.uint64(stream))
    return float(z >> np.uint64(11)) * _TO_UNIT


@njit(cache=True, inline="always")
def order_size(seed: np.uint64, cell: np.int64, k: np.int64, size_cdf: np.ndarray) -> np.int64:
    u = uniform(seed, cell, k, SIZE)
    s = 0
    while s < size_cdf.size - 1 and u >= size_cdf[s]:
        s += 1
    return s + 1


@njit(cache=True, nogil=True)
def count_orders(units: np.ndarray, seed: np.uint64, size_cdf: np.ndarray) -> np.ndarray:
    """Orders each cell's units split into (the last order takes what is left)."""
    n = units.size
    out = np.zeros(n, dtype=np.int64)
    for c in range(n):
        left = units[c]
        k = 0
        while left > 0:
            left -= order_size(seed, c, k, size_cdf)
            k += 1
        out[c] = k
    return out


@njit(cache=True, inline="always")
def _second_of(u: float, cdf: np.ndarray) -> float:
    """Invert the intraday cdf: a time in seconds, continuous within a second."""
    lo = np.searchsorted(cdf, u, side="right")
    if lo >= cdf.size:
        lo = cdf.size - 1
    prev = cdf[lo - 1] if lo > 0 else 0.0
    width = cdf[lo] - prev
    frac = (u - prev) / width if width > 0 else 0.0
    return lo + min(max(frac, 0.0), 0.999999)


@njit(cache=True, nogil=True)
def emit_orders(
    units: np.ndarray,
    n_orders: np.ndarray,
    next_k: np.ndarray,
    last_u: np.ndarray,
    left: np.ndarray,
    seed: np.uint64,
    size_cdf: np.ndarray,
    cdf: np.ndarray,
    t_end: float,
    out_cell: np.ndarray,
    out_k: np.ndarray,
    out_time: np.ndarray,
    out_size: np.ndarray,
) -> int:
    """Emit every order placed before ``t_end`` seconds that is not yet emitted.

    Each cell's order times are the order statistics of ``n_orders`` uniform
    draws, generated in increasing order (so a cell resumes where it left off)
    and mapped through the intraday cdf. ``next_k``, ``last_u`` and ``left``
    (units not yet ordered) carry each cell's state between calls. Returns the
    number of orders written into the ``out_*`` buffers, or -1 if they are
    too small, in which case the state arrays are partly advanced and the
    caller must restore them before retrying with an earlier ``t_end``.
    """
    m = 0
    cap = out_cell.size
    for c in range(units.size):
        n = n_orders[c]
        k = next_k[c]
        u = last_u[c]
        rest = left[c]
        while k < n:
            # next order statistic of the remaining n - k uniforms on (u, 1)
            v = uniform(seed, c, k, TIME)
            u_next = 1.0 - (1.0 - u) * (1.0 - v) ** (1.0 / (n - k))
            t = _second_of(u_next, cdf)
            if t >= t_end:
                break
            if m >= cap:
                return -1
            size = order_size(seed, c, k, size_cdf)
            if size > rest or k == n - 1:
                size = rest
            out_cell[m] = c
            out_k[m] = k
            out_time[m] = t
            out_size[m] = size
            rest -= size
            u = u_next
            k += 1
            m += 1
        next_k[c] = k
        last_u[c] = u
        left[c] = rest
    return m


@njit(cache=True, nogil=True)
def route_orders(
    order_cell: np.ndarray,
    order_k: np.ndarray,
    order_time: np.ndarray,
    order_size_: np.ndarray,
    cell_sku: np.ndarray,
    cell_region: np.ndarray,
    price: np.ndarray,
    stock: np.ndarray,
    route: np.ndarray,
    transit: np.ndarray,
    capacity: np.ndarray,
    arrived: np.ndarray,
    shipped_before: np.ndarray,
    hour: int,
    seed: np.uint64,
    noise: float,
    last_mile: float,
    n_hours: int,
    region_hour: np.ndarray,
    per_second: np.ndarray,
    per_sku: np.ndarray,
    picked: np.ndarray,
    flow: np.ndarray,
) -> None:
    """Route the orders of one hour, in the order given (by time), and tally them.

    An order goes to the first warehouse in its region's ``route`` (nearest by
    lane hours) holding all its units; none: unfilled. Warehouse ``w`` ships
    at most ``capacity[w]`` parcels an hour, first in first out: the n-th
    parcel to arrive in hour ``h``, with ``shipped_before[w]`` parcels shipped
    before the hour, leaves at the end of hour
    ``h + ceil((n - shipped_before[w]) / capacity[w]) - 1``.

    Tallies: ``region_hour[r, h, :]`` = orders, units, gmv, shipped,
    delivered_24h, delivered_48h, late, unfilled; ``per_second[s, :]`` =
    orders, units, gmv; ``per_sku[s, :]`` = orders, units, gmv, shipped,
    delivered_24h, delivered_48h, unfilled; ``picked[w, h]``; ``flow[w,
    ship_hour, r]`` parcels.
    """
    n_wh = route.shape[1]
    for i in range(order_cell.size):
        c = order_cell[i]
        sku = cell_sku[c]
        r = cell_region[c]
        size = order_size_[i]
        t = order_time[i]
        value = size * price[sku]
        sec = int(t)
        region_hour[r, hour, 0] += 1
        region_hour[r, hour, 1] += size
        region_hour[r, hour, 2] += value
        per_second[sec, 0] += 1
        per_second[sec, 1] += size
        per_second[sec, 2] += value
        per_sku[sku, 0] += 1
        per_sku[sku, 1] += size
        per_sku[sku, 2] += value
        w = -1
        for j in range(n_wh):
            cand = route[r, j]
            if cand < 0:
                break
            if stock[sku, cand] >= size:
                w = cand
                break
        if w < 0:
            region_hour[r, hour, 7] += size
            per_sku[sku, 6] += size
            continue
        stock[sku, w] -= size
        arrived[w] += 1
        n = arrived[w]
        cap = capacity[w]
        ship_hour = hour + (n - shipped_before[w] + cap - 1) // cap - 1
        jitter = (uniform(seed, c, order_k[i], NOISE) * 2.0 - 1.0) * noise
        deliver_h = (ship_hour + 1) + transit[w, r] * (1.0 + jitter) + last_mile
        elapsed = deliver_h - t / 3600.0
        picked[w, hour] += 1
        flow[w, min(ship_hour, n_hours - 1), r] += 1
        region_hour[r, hour, 3] += size
        per_sku[sku, 3] += size
        if elapsed <= 24.0:
            region_hour[r, hour, 4] += size
            per_sku[sku, 4] += size
        if elapsed <= 48.0:
            region_hour[r, hour, 5] += size
            per_sku[sku, 5] += size
        else:
            region_hour[r, hour, 6] += size
