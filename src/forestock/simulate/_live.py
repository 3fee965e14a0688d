"""A rehearsal's progress chunk by chunk, for listeners that follow it live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forestock.callbacks import Callbacks

REGION_COLS = ("orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "late",
               "unfilled", "delivered_72h")
"""Columns of :attr:`ChunkView.region_hour` (``gmv`` in cents)."""

SKU_COLS = ("orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "unfilled",
            "delivered_72h")
"""Columns of :attr:`ChunkView.per_sku` (``gmv`` in cents)."""


@dataclass(frozen=True)
class ChunkView:
    """The day so far, after the orders placed in seconds ``[s0, s1)`` are settled.

    Every order placed before ``s1`` is routed and queued, and its delivery
    time known (so ``delivered_24h`` counts units that will arrive within 24 h
    of their order). Arrays are the rehearsal's own and valid only during
    :meth:`LiveCallbacks.on_chunk`: copy what you keep.

    Attributes
    ----------
    s0, s1
        The chunk's seconds after midnight.
    orders_done
        Orders placed so far.
    per_second
        int64 ``[s1 - s0, 3]``: orders, units and GMV in cents of each second of
        the chunk (complete: no later chunk adds to them).
    region_hour
        int64 ``[region, hour of order, column]`` tallies so far, columns
        :data:`REGION_COLS`.
    per_sku
        int64 ``[sku, column]`` tallies so far, columns :data:`SKU_COLS`.
    stock
        int64 ``[sku, warehouse]``: units left.
    backlog
        int64 ``[warehouse]``: parcels picked and waiting for the hour's outbound
        capacity.
    """

    s0: int
    s1: int
    orders_done: int
    per_second: np.ndarray
    region_hour: np.ndarray
    per_sku: np.ndarray
    stock: np.ndarray
    backlog: np.ndarray


@dataclass(frozen=True)
class DayStart:
    """What a live listener needs before the first chunk.

    Attributes
    ----------
    capacity
        int64 ``[warehouse]``: parcels shipped per hour (scaled).
    stock
        int64 ``[sku, warehouse]``: units in place at the start (scaled).
    expected_cdf
        float64 ``[second]``: expected share of the day's orders placed by the
        end of each second (the intraday profile).
    """

    capacity: np.ndarray
    stock: np.ndarray
    expected_cdf: np.ndarray


class LiveCallbacks(Callbacks):
    """Progress listener that also sees the day's tallies after every chunk.

    Passing one to :func:`forestock.simulate.simulate` costs a pass over the
    tallies a chunk and the threads' overlap of routing and settling; the
    results are the same bit for bit.
    """

    def on_day(self, start: DayStart) -> None:
        """The day is about to be rehearsed (before ``on_start``)."""

    def on_chunk(self, view: ChunkView) -> None:
        """The orders of ``[view.s0, view.s1)`` are settled."""


def chunk_view(s0: int, s1: int, done: int, views: Sequence[dict[str, np.ndarray]],
               backlog: np.ndarray) -> ChunkView:
    """One view of the shards' views (per-SKU arrays joined, tallies added)."""
    first = views[0]
    region_hour = first["region_hour"]
    per_second = first["per_second"]
    if len(views) > 1:
        region_hour = region_hour + sum(v["region_hour"] for v in views[1:])
        per_second = per_second + sum(v["per_second"] for v in views[1:])
    return ChunkView(
        s0=s0, s1=s1, orders_done=done, per_second=per_second, region_hour=region_hour,
        per_sku=np.concatenate([v["per_sku"] for v in views]) if len(views) > 1
        else first["per_sku"],
        stock=np.concatenate([v["stock"] for v in views]) if len(views) > 1 else first["stock"],
        backlog=backlog,
    )
