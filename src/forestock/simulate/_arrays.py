"""The kernels' arguments: a shard's arrays grouped by what they describe, and their codes.

Each group is a ``NamedTuple``: the engine builds and keeps it by name, and
a kernel takes it whole and unpacks it at its top into locals named as its
fields, in their order (so the loops inside read plain local arrays). Kernels are handed the
groups as *plain* tuples (:func:`plain`): numba types a plain tuple's
arguments by a fingerprint it caches in C (about 0.35 us for ten arrays),
a ``NamedTuple``'s by one that spells out the class and its field names
(1.9 us): measured, ``emit_route_chunk``'s seven groups as ``NamedTuple``
cost 11 us more a call than its 34 arrays one by one, as plain tuples
0.5 to 1 us more; the compiled loops are the same either way, and
``cache=True`` keeps them (``tests/simulate/test_kernel_args.py`` checks
that each kernel unpacks a group in its fields' order).

Numba freezes the module constants below into the kernels that read them
when it compiles them; its on-disk cache does not see a change made here
(it watches each kernel's own file): after changing a code, clear the
``__pycache__`` of ``forestock/simulate`` (or touch the kernel files).
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import numpy as np

#: warehouse code (``Orders.w``) of an order shipped from the factory, and of an unfilled one
FACTORY, UNFILLED = -2, -1

# columns of the tallies (Tallies.region_hour[r, hour, :], Tallies.per_sku[sku, :])
R_ORDERS, R_UNITS, R_GMV, R_SHIPPED, R_D24, R_D48, R_LATE, R_UNFILLED, R_D72 = range(9)
# units not delivered within 24 h by reason: the region's nearest warehouse lacked the
# stock (served farther, by the factory, or unfilled), its backlog held them, or transit
R_NOT24_STOCK, R_NOT24_BACKLOG, R_NOT24_TRANSIT = range(9, 12)
N_REGION_COLS = 12
K_ORDERS, K_UNITS, K_GMV, K_SHIPPED, K_D24, K_D48, K_UNFILLED, K_D72 = range(8)
N_SKU_COLS = 8

G = TypeVar("G", bound=tuple[Any, ...])


class DayShape(NamedTuple):
    """How a cell's units become orders and their times (the same for every shard)."""

    size_thr: np.ndarray  # int64 [size - 1]: size-bit thresholds of orders of 2, 3... units
    cdf: np.ndarray  # float64 [second]: cumulative share of the day's orders at its end
    inv_width: np.ndarray  # float64 [second]: 1 / the second's share (0 where none)
    lut: np.ndarray  # int32 [2**LUT_BITS + 1]: brackets of the cdf's inversion


class Start(NamedTuple):
    """Each cell's start: its hash, the orders its units split into, its first order."""

    hashes: np.ndarray  # uint64 [cell]: the part of every order's draw the cell fixes
    n_orders: np.ndarray  # int64 [cell]
    z_next: np.ndarray  # uint64 [cell]: the first order's draw
    t_next: np.ndarray  # float64 [cell]: and its time (inf: no order)


class Cells(NamedTuple):
    """A shard's demand cells, sorted by SKU then region (fixed through the day)."""

    keys: np.ndarray  # int64 [cell]: RNG key, sku * n_regions + region (the problem's codes)
    cell_sku: np.ndarray  # int32 [cell]: the shard's SKU row
    cell_region: np.ndarray  # int32 [cell]
    sku_ptr: np.ndarray  # int64 [sku + 1]: SKU j's cells are sku_ptr[j]:sku_ptr[j + 1]
    hashes: np.ndarray  # uint64 [cell]: see Start
    n_orders: np.ndarray  # int64 [cell]: orders of the day


class GivenOrders(NamedTuple):
    """Orders given as a table (if ``given``), else generated (and the arrays empty)."""

    given: bool
    g_indptr: np.ndarray  # int64 [cell + 1]: cell c's orders are g_indptr[c]:g_indptr[c + 1]
    g_time: np.ndarray  # float64 [order]: seconds after midnight, in order within a cell
    g_size: np.ndarray  # int64 [order]: units


class CellState(NamedTuple):
    """Where each cell's orders stand, carried from chunk to chunk."""

    next_k: np.ndarray  # int64 [cell]: index of the next order
    z_next: np.ndarray  # uint64 [cell]: its draw
    t_next: np.ndarray  # float64 [cell]: its time (inf: none left)
    left: np.ndarray  # int64 [cell]: units not yet ordered
    sku_next: np.ndarray  # float64 [sku]: the soonest t_next of the SKU's cells
    route_pos: np.ndarray  # int64 [cell]: a cache, the route's head that holds none of the SKU


class Stock(NamedTuple):
    """A shard's stock left, and a hint of where it runs short."""

    stock: np.ndarray  # int64 [sku, warehouse]
    asked: np.ndarray  # int64 [sku, warehouse]: units the SKU's orders asked in the last chunk


class Network(NamedTuple):
    """Where orders go and how long they travel."""

    route: np.ndarray  # int32 [region, rank]: warehouses an order tries in turn, -1 past them
    transit: np.ndarray  # float64 [warehouse, region]: lane hours (0 where no lane)
    capacity: np.ndarray  # int64 [warehouse]: parcels shipped an hour, >= 1
    noise: float  # lane hours vary uniformly by up to this share either way
    last_mile: float  # hours from the depot to the door
    promise_1: float  # hours from order to door of the first promise (24)
    promise_2: float  # and of the second (48)
    factory_hours: float  # hours from order to door from the factory; 0: no factory


class Orders(NamedTuple):
    """One slot of a shard's order buffers: a chunk's orders as routed, then settled.

    Orders lie grouped by SKU, then by window, then by cell, each cell's in
    time order; run ``q`` of one cell's orders (cell ``r_cell[q]``) ends
    before position ``r_end[q]`` and starts where the run before it ended,
    ``r_count[0]`` runs in all. ``o_cell`` and ``o_k`` (the order's index in its
    cell), ``o_ship`` and ``o_elapsed`` are filled only for the order sample
    (else empty)."""

    o_time: np.ndarray  # float64: seconds after midnight
    o_size: np.ndarray  # int32: units
    o_noise: np.ndarray  # uint16: the draw's transit-noise bits
    o_w: np.ndarray  # int32: warehouse, FACTORY or UNFILLED
    o_cell: np.ndarray  # int32
    o_k: np.ndarray  # int64
    o_ship: np.ndarray  # int64: ship hour (-1: factory or unfilled)
    o_elapsed: np.ndarray  # float64: hours from order to door (NaN: unfilled)
    r_cell: np.ndarray  # int32
    r_end: np.ndarray  # int32
    r_count: np.ndarray  # int64 [1]


class Queue(NamedTuple):
    """A chunk's place in the warehouses' queues: what came before it, and its waves.

    ``base`` and ``span`` are worked out by the reduce (see
    ``_queues.shard_bases``) and read when settling."""

    arrived: np.ndarray  # int64 [warehouse]: parcels arrived before the chunk
    shipped_before: np.ndarray  # int64 [warehouse]: parcels shipped before the chunk's hour
    base: np.ndarray  # int32 [warehouse, second] (a shard's): queue places or whole waves' waits
    span: np.ndarray  # int64 [warehouse, 4]: (lo, hi, wait_lo, wait_hi)


class Tallies(NamedTuple):
    """A shard's outcome tallies (integers; money in cents)."""

    region_hour: np.ndarray  # int64 [region, hour of order, N_REGION_COLS]
    per_second: np.ndarray  # int64 [second - sec0, 3]: orders, units, gmv
    sec0: int  # the second of per_second's first row
    per_sku: np.ndarray  # int64 [sku, N_SKU_COLS]
    flow: np.ndarray  # int64 [warehouse, ship hour, region]: parcels


def plain(group: G) -> G:
    """``group`` as a plain tuple, as the kernels take it (see the module's notes); typed
    as the group, which the kernels unpack in its fields' order. (A kernel called chunk
    after chunk gets its fixed groups made plain once.)"""
    return tuple(group)  # type: ignore[return-value]
