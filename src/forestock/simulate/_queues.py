"""Numba kernels of the reduce: where each wave of a chunk's orders stands in its warehouse's
queue, from every shard's arrivals per warehouse and second.

Orders reach a warehouse floor in one-second waves, and within a wave queue
in shard (SKU) order; a warehouse ships its hourly capacity first in first
out. Only an order's ship hour matters, and the hourly capacity cuts few
waves: the kernels mark the waves that ship whole, and count places only in
the waves a cut falls in.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from forestock.simulate._arrays import Queue

#: seconds of a block of a chunk's arrivals per warehouse (:func:`warehouse_totals`), and
#: the columns of a shard's arrivals per warehouse: the chunk's, then each block's (128
#: measured faster than 32, 64 and 256)
BLOCK = 128
TOTALS = 1 + (3600 + BLOCK - 1) // BLOCK


@njit(cache=True, nogil=True, inline="always")
def _wave_mark(q: int, n: int, lead: int, cap: int, wait: int, lim: int) -> tuple[int, int, int]:
    """Whether the wave of parcels ``q + 1 .. q + n`` of the chunk (all shards') ships in one
    hour: returns ``(-1 - wait, wait, lim)`` if so (``wait`` hours after the chunk's), else
    ``(0, wait, lim)``. Parcel ``q`` waits ``(q + lead) // cap`` hours; ``lim`` is where the
    wait goes up next (carried from wave to wave: waves come in order, so a division is
    needed only where the wait goes up)."""
    first = q + 1 + lead
    if first >= lim:
        wait = first // cap
        lim = (wait + 1) * cap
    if q + n + lead < lim:
        return -1 - wait, wait, lim
    return 0, wait, lim


@njit(cache=True, nogil=True, inline="always")
def _span_start(total: int, lead: int, cap: int) -> tuple[int, int, int, int]:
    """The waits of a chunk's first and last parcel (``total`` of them), and the parcels
    ``p1`` (the first to wait longer than the first) and ``p2`` (the last to wait less than
    the last): -1 if all wait alike."""
    wait_lo = (lead + 1) // cap
    wait_hi = (total + lead) // cap if total > 0 else wait_lo
    if wait_hi == wait_lo:
        return wait_lo, wait_hi, -1, -1
    return wait_lo, wait_hi, (wait_lo + 1) * cap - lead, wait_hi * cap - lead - 1


@njit(cache=True, nogil=True)
def shard_bases(counts: np.ndarray, totals: np.ndarray, j: int, queue: Queue,
                capacity: np.ndarray, added: np.ndarray, own: np.ndarray) -> None:
    """The reduce, shard ``j``'s part: its queue places of each wave of the chunk (each
    shard works out its own at the same time as the others).

    ``counts[i, w, s]``: shard ``i``'s orders placed at warehouse ``w`` in the
    chunk's second ``s``. Waves queue in time order, and within a wave the
    shards' orders in shard order (SKU order). Only an order's ship hour
    matters, and the hourly capacity cuts few waves, so: ``queue.span[w]`` is
    ``(lo, hi, wait_lo, wait_hi)`` (the same for every shard), every order of a
    wave before ``lo`` ships ``wait_lo`` hours after the chunk's hour, every one
    after ``hi`` ``wait_hi`` hours after it; in between ``queue.base[w, s]``
    (int32: a chunk's arrivals fit) is ``-1 - wait`` where the whole wave (every
    shard's orders) ships ``wait`` hours after, else the arrivals counted from
    the chunk's start before shard ``j``'s first order of the wave (``>= 0``);
    see ``_tallies.settle_chunk``. ``queue.arrived[w]``: arrivals before the
    chunk (not advanced: ``added[w]`` gets the chunk's, ``own[w]`` the shard's);
    ``queue.shipped_before[w]``: parcels shipped before the hour;
    ``capacity[w]`` an hour.

    ``totals[i, w]``: shard ``i``'s arrivals at ``w`` in the chunk and in each
    :data:`BLOCK` of its seconds (see :func:`warehouse_totals`), so that the counts are
    read only at the warehouses an hour's capacity cuts the chunk at (measured on the
    3-million-order day: 3.3 to 1.7 ms a thread), and there only in the blocks holding the
    first and the last cut and in the seconds between (a running sum over the seconds up
    to the last cut took 2.4 ms a thread, now 0.9; 397 of the day's 806 warehouse-chunks
    are cut, 88,000 of their 2.7 million seconds lie between cuts)."""
    arrived, shipped_before, base, span = queue
    n_shards, n_wh, n_sec = counts.shape
    n_blk = (n_sec + BLOCK - 1) // BLOCK
    for w in range(n_wh):
        lead = arrived[w] - shipped_before[w] - 1
        cap = capacity[w]
        total = 0
        for i in range(n_shards):
            total += totals[i, w, 0]
        own[w] = totals[j, w, 0]
        wait_lo, wait_hi, p1, p2 = _span_start(total, lead, cap)
        lo, hi, q_lo = n_sec, -1, 0
        if p1 >= 0:  # the hour's capacity cuts the chunk
            # the wave holding parcel p1: the block by the blocks' sums from the chunk's
            # start, then the second by the seconds' within it
            q = 0
            for b in range(n_blk):
                n = 0
                for i in range(n_shards):
                    n += totals[i, w, 1 + b]
                if p1 <= q + n:
                    for s in range(b * BLOCK, min((b + 1) * BLOCK, n_sec)):
                        n = 0
                        for i in range(n_shards):
                            n += counts[i, w, s]
                        if p1 <= q + n:
                            lo, q_lo = s, q
                            break
                        q += n
                    break
                q += n
            # the wave holding parcel p2 alike, from the chunk's end
            q = total
            for b in range(n_blk - 1, -1, -1):
                n = 0
                for i in range(n_shards):
                    n += totals[i, w, 1 + b]
                if q - n < p2:
                    for s in range(min((b + 1) * BLOCK, n_sec) - 1, b * BLOCK - 1, -1):
                        n = 0
                        for i in range(n_shards):
                            n += counts[i, w, s]
                        if q - n < p2:
                            hi = s
                            break
                        q -= n
                    break
                q -= n
            # the marks and places of the waves between (none if p2 comes first)
            q = q_lo
            wait, lim = wait_lo, (wait_lo + 1) * cap
            for s in range(lo, hi + 1):
                before = q
                for i in range(j):
                    before += counts[i, w, s]
                n = 0
                for i in range(n_shards):
                    n += counts[i, w, s]
                mark, wait, lim = _wave_mark(q, n, lead, cap, wait, lim)
                base[w, s] = mark if mark < 0 else before
                q += n
        span[w, 0], span[w, 1], span[w, 2], span[w, 3] = lo, hi, wait_lo, wait_hi
        added[w] = total


@njit(cache=True, nogil=True)
def warehouse_totals(counts: np.ndarray, out: np.ndarray) -> None:
    """``out[w, 0]``: the chunk's arrivals at warehouse ``w`` (``counts[w, s]`` summed);
    ``out[w, 1 + b]``: those in seconds ``b * BLOCK`` to ``(b + 1) * BLOCK`` of the chunk
    (``out`` has :data:`TOTALS` columns; a chunk lies within an hour)."""
    n_sec = counts.shape[1]
    n_full = n_sec // BLOCK
    for w in range(counts.shape[0]):
        t = 0
        for b in range(n_full):  # (a constant trip count, int32 sums: vectorised)
            n = np.int32(0)
            at = b * BLOCK
            for s in range(BLOCK):
                n += counts[w, at + s]
            out[w, 1 + b] = n
            t += int(n)
        if n_full * BLOCK < n_sec:
            n = np.int32(0)
            for s in range(n_full * BLOCK, n_sec):
                n += counts[w, s]
            out[w, 1 + n_full] = n
            t += int(n)
        out[w, 0] = t
