"""Numba kernels of the outcome: each routed order's ship hour and delivery time, and the
tallies of a day.

Once the reduce has placed a chunk's waves in their warehouses' queues (see
``_queues``), :func:`settle_chunk` turns each order's place into a ship hour
and a delivery time and adds it to the tallies; :func:`second_columns` and
:func:`flow_rows` read the day's tallies out into the outcome tables.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from forestock.simulate._arrays import (
    FACTORY,
    K_D24,
    K_D48,
    K_D72,
    K_GMV,
    K_ORDERS,
    K_SHIPPED,
    K_UNFILLED,
    K_UNITS,
    R_D24,
    R_D48,
    R_D72,
    R_GMV,
    R_NOT24_BACKLOG,
    R_NOT24_STOCK,
    R_NOT24_TRANSIT,
    R_ORDERS,
    R_SHIPPED,
    R_UNFILLED,
    R_UNITS,
    UNFILLED,
    Cells,
    Network,
    Orders,
    Queue,
    Tallies,
)

_TO_UNIT16 = 1.0 / 65536.0
_PER_HOUR = 1.0 / 3600.0  # hours in a second (a product is cheaper than a quotient)


@njit(cache=True, inline="always")
def jitter_of(z: np.uint64, noise: float) -> float:
    """Relative transit noise of the order with draw ``z`` (its low 16 bits, see
    ``_kernels``), uniform in [-noise, noise)."""
    return (float(np.int64(z & np.uint64(0xFFFF))) * _TO_UNIT16 * 2.0 - 1.0) * noise


@njit(cache=True, nogil=True)
def settle_chunk(orders: Orders, cells: Cells, price_cents: np.ndarray, net: Network,
                 queue: Queue, hour: int, s0: int, tallies: Tallies, keep: bool) -> None:
    """Ship hours, delivery times and tallies of one routed chunk of one hour.

    The chunk's orders, from second ``s0`` on, come in ``orders`` as runs of one
    cell's orders (see :class:`Orders` and ``_kernels.emit_route_chunk``).

    An order at warehouse ``w`` in second ``s`` is parcel number
    ``n = arrived[w] + base[w, s - s0] + 1`` to arrive there, and counts
    ``base`` one up (``arrived[w]``: arrivals before the chunk; ``base``, int32
    to halve its cache: those in the chunk before the shard's first order of
    that wave, from all shards; orders within a wave rank in buffer order:
    SKU, region, order index), unless ``base[w, s - s0] < 0``: then the whole
    wave ships ``-1 - base[w, s - s0]`` hours after ``hour`` (see
    ``_queues.shard_bases``; only the ship hour matters, so the orders of a wave
    that no hour's capacity cuts need no places, which is most of them).
    Warehouse ``w`` ships at most ``capacity[w]`` parcels an hour, first in
    first out: with ``shipped_before[w]`` parcels shipped before the
    hour, parcel ``n`` leaves at the end of hour
    ``hour + ceil((n - shipped_before[w]) / capacity[w]) - 1``. It is
    delivered ``transit * (1 + jitter) + last_mile`` hours later; a factory
    order ``factory_hours * (1 + jitter)`` hours after it was placed.

    Tallies (integers; money in cents): ``region_hour[r, hour, :]`` (but its
    ``R_LATE``, shipped less delivered within 48 h, left to the caller),
    ``per_second[s - sec0, :]`` (orders, units, gmv), ``per_sku[sku, :]``,
    ``flow[w, ship_hour, r]`` (the last hour takes later ones; a cell's
    orders leaving one warehouse in one hour are added at once). With
    ``keep``, ``o_ship`` gets the ship hour (-1 unfilled or factory) and
    ``o_elapsed`` the hours from order to door (NaN unfilled).

    Units not delivered within 24 h are tallied by reason in ``region_hour``'s
    ``R_NOT24_*`` columns: ``STOCK`` if not shipped from the region's nearest
    warehouse (``route[r, 0]``); else ``BACKLOG`` if shipping in the order's own
    hour would have made 24 h; else ``TRANSIT``.
    """
    o_time, o_size, o_noise, o_w, _o_cell, _o_k, o_ship, o_elapsed, r_cell, r_end, r_count = orders
    _keys, cell_sku, cell_region, _sku_ptr, _hashes, _n_orders = cells
    route, transit, capacity, noise, last_mile, promise_1, promise_2, factory_hours = net
    arrived, shipped_before, base, span = queue
    region_hour, per_second, sec0, per_sku, flow = tallies
    n_r = r_count[0]
    n_hours = flow.shape[1]
    inv_cap = 1.0 / capacity
    lead = arrived - shipped_before - 1  # parcel n waits behind n + lead[w] unshipped ones
    cur = -1  # the SKU whose tallies are being added up
    k_ord = k_units = k_gmv = k_shipped = k_d24 = k_d48 = k_unf = k_d72 = 0
    end = 0
    for q in range(n_r):
        # one cell's run of orders: tally its region and SKU once
        c = r_cell[q]
        i0 = end
        end = r_end[q]
        sku = cell_sku[c]
        r = cell_region[c]
        price = price_cents[sku]
        n_ord = end - i0
        units = 0
        shipped = 0
        d24 = 0
        d48 = 0
        d72 = 0
        unfilled = 0
        n_stock = 0
        n_backlog = 0
        n_transit = 0
        near = route[r, 0]
        f_w = -1  # the run's parcels at warehouse f_w leaving in hour f_h, f_n of them
        f_h = 0
        f_n = 0
        for i in range(i0, end):
            size = o_size[i]
            t = o_time[i]
            sec = int(t)
            units += size
            per_second[sec - sec0, 0] += 1
            per_second[sec - sec0, 1] += size
            per_second[sec - sec0, 2] += size * price
            w = o_w[i]
            if w == UNFILLED:
                unfilled += size
                n_stock += size
                if keep:
                    o_ship[i] = -1
                    o_elapsed[i] = np.nan
                continue
            jitter = jitter_of(np.uint64(o_noise[i]), noise)
            if w == FACTORY:
                ship_hour = -1
                elapsed = factory_hours * (1.0 + jitter)
            else:
                i_s = sec - s0
                if i_s < span[w, 0]:  # most orders: the chunk's hours are not cut here
                    wait = span[w, 2]
                elif i_s > span[w, 1]:
                    wait = span[w, 3]
                elif base[w, i_s] < 0:  # the whole wave ships in one hour
                    wait = -1 - base[w, i_s]
                else:  # a wave the hour's capacity cuts: the order's place in it
                    q = base[w, i_s] + 1
                    base[w, i_s] = q
                    # hours waited: (n - shipped_before[w] - 1) // capacity[w], by a
                    # product (a 64-bit division takes several times longer) set right if
                    # rounding erred
                    cap = capacity[w]
                    ahead = q + lead[w]
                    wait = int(ahead * inv_cap[w])
                    if wait * cap > ahead:
                        wait -= 1
                    elif (wait + 1) * cap <= ahead:
                        wait += 1
                ship_hour = hour + wait
                deliver_h = (ship_hour + 1) + transit[w, r] * (1.0 + jitter) + last_mile
                elapsed = deliver_h - t * _PER_HOUR
                h = min(ship_hour, n_hours - 1)
                if w != f_w or h != f_h:
                    if f_n:
                        flow[f_w, f_h, r] += f_n
                    f_w, f_h, f_n = w, h, 0
                f_n += 1
            if keep:
                o_ship[i] = ship_hour
                o_elapsed[i] = elapsed
            shipped += size
            if elapsed <= promise_1:
                d24 += size
            if elapsed <= promise_2:
                d48 += size
            if elapsed <= 72.0:
                d72 += size
            if elapsed > promise_1:
                if w != near:
                    n_stock += size
                elif (hour + 1) + transit[w, r] * (1.0 + jitter) + last_mile \
                        - t * _PER_HOUR <= promise_1:
                    n_backlog += size
                else:
                    n_transit += size
        if f_n:
            flow[f_w, f_h, r] += f_n
        gmv = units * price
        region_hour[r, hour, R_ORDERS] += n_ord
        region_hour[r, hour, R_UNITS] += units
        region_hour[r, hour, R_GMV] += gmv
        region_hour[r, hour, R_SHIPPED] += shipped
        region_hour[r, hour, R_D24] += d24
        region_hour[r, hour, R_D48] += d48
        region_hour[r, hour, R_UNFILLED] += unfilled
        region_hour[r, hour, R_D72] += d72
        region_hour[r, hour, R_NOT24_STOCK] += n_stock
        region_hour[r, hour, R_NOT24_BACKLOG] += n_backlog
        region_hour[r, hour, R_NOT24_TRANSIT] += n_transit
        # the SKU's runs lie together: its tallies are added once, when the next SKU starts
        if sku != cur:
            _add_sku(per_sku, cur, k_ord, k_units, k_gmv, k_shipped, k_d24, k_d48, k_unf, k_d72)
            cur = sku
            k_ord = k_units = k_gmv = k_shipped = k_d24 = k_d48 = k_unf = k_d72 = 0
        k_ord += n_ord
        k_units += units
        k_gmv += gmv
        k_shipped += shipped
        k_d24 += d24
        k_d48 += d48
        k_unf += unfilled
        k_d72 += d72
    _add_sku(per_sku, cur, k_ord, k_units, k_gmv, k_shipped, k_d24, k_d48, k_unf, k_d72)


@njit(cache=True, nogil=True, inline="always")
def _add_sku(per_sku: np.ndarray, sku: int, n_ord: int, units: int, gmv: int, shipped: int,
             d24: int, d48: int, unfilled: int, d72: int) -> None:
    """Add one SKU's tallies (none if ``sku < 0``)."""
    if sku >= 0:
        per_sku[sku, K_ORDERS] += n_ord
        per_sku[sku, K_UNITS] += units
        per_sku[sku, K_GMV] += gmv
        per_sku[sku, K_SHIPPED] += shipped
        per_sku[sku, K_D24] += d24
        per_sku[sku, K_D48] += d48
        per_sku[sku, K_UNFILLED] += unfilled
        per_sku[sku, K_D72] += d72


@njit(cache=True, nogil=True)
def second_columns(per_second: np.ndarray, gmv: np.ndarray) -> int:
    """``gmv[s] = per_second[s, 2] / 100`` (yuan of the cents tallied) in one pass that also
    finds the peak: the first second with the most orders (``per_second[:, 0]``'s
    ``np.argmax``; a strided column read twice by numpy took 0.18 ms on the 3M-order day)."""
    peak = 0
    most = per_second[0, 0] if per_second.shape[0] else 0
    for s in range(per_second.shape[0]):
        gmv[s] = per_second[s, 2] / 100.0
        if per_second[s, 0] > most:
            most = per_second[s, 0]
            peak = s
    return peak


@njit(cache=True, nogil=True)
def flow_rows(flow: np.ndarray, n_hours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """The nonzero entries of ``flow[:, :n_hours]`` (warehouse x hour x region) in row-major
    order: their warehouse, hour and region indices and values (a count, then a fill: no
    copy of the hours, no flat index to unravel)."""
    n_wh, n_reg = flow.shape[0], flow.shape[2]
    n_hours = min(n_hours, flow.shape[1])
    n = 0
    for w in range(n_wh):
        for h in range(n_hours):
            for r in range(n_reg):
                n += flow[w, h, r] != 0
    w_i = np.empty(n, dtype=np.int64)
    h_i = np.empty(n, dtype=np.int64)
    r_i = np.empty(n, dtype=np.int64)
    val = np.empty(n, dtype=np.int64)
    i = 0
    for w in range(n_wh):
        for h in range(n_hours):
            for r in range(n_reg):
                v = flow[w, h, r]
                if v != 0:
                    w_i[i], h_i[i], r_i[i], val[i] = w, h, r, v
                    i += 1
    return w_i, h_i, r_i, val
