"""numba kernel of the nearest-with-room allocation."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def nearest_with_room(
    cell_sku: np.ndarray,
    cell_region: np.ndarray,
    cell_units: np.ndarray,
    route: np.ndarray,
    room: np.ndarray,
    alloc: np.ndarray,
    route_hours: np.ndarray,
    tally: np.ndarray,
) -> np.ndarray:
    """Place each cell's units, in the order given, in the nearest warehouses with room.

    ``room`` is decreased and ``alloc[sku, warehouse]`` increased in place.
    ``tally[0]``/``tally[1]`` add up the units placed within 24 h/48 h of
    their region (``route_hours[r, j]``: hours to the j-th nearest). Returns
    the units of each cell that found no room.
    """
    short = np.zeros(cell_units.size, dtype=np.int64)
    for c in range(cell_units.size):
        left = cell_units[c]
        r = cell_region[c]
        s = cell_sku[c]
        for j in range(route.shape[1]):
            if left == 0:
                break
            w = route[r, j]
            if w < 0:
                break
            take = min(left, room[w])
            if take > 0:
                room[w] -= take
                alloc[s, w] += take
                if route_hours[r, j] <= 24.0:
                    tally[0] += take
                if route_hours[r, j] <= 48.0:
                    tally[1] += take
                left -= take
        short[c] = left
    return short
