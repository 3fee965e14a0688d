"""Numba kernels of the forecast features: the panel's prefix sums in one pass.

The panel of a block holds ~100k series x ~770 periods; NumPy's way (a
float64 copy, a masked copy, three cumulative sums, ``np.add.at`` by SKU)
reads and writes it a dozen times. These kernels read it once.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def prefix_sums(Y, ordinary):  # pragma: no cover - compiled
    """Prefix sums per series: all units, units on ordinary periods, periods with sales;
    and each series' first period with a sale (-1 never). NaN (the future) counts as 0."""
    n, T = Y.shape
    C = np.zeros((n, T + 1))
    C_ord = np.zeros((n, T + 1))
    C_nz = np.zeros((n, T + 1), dtype=np.int32)
    first = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        c = 0.0
        co = 0.0
        cz = 0
        for t in range(T):
            y = np.float64(Y[i, t])
            if y != y:
                y = 0.0
            c += y
            if ordinary[t]:
                co += y
            if y > 0.0:
                cz += 1
                if first[i] < 0:
                    first[i] = t
            C[i, t + 1] = c
            C_ord[i, t + 1] = co
            C_nz[i, t + 1] = cz
    return C, C_ord, C_nz, first


@njit(nogil=True, cache=True)
def group_sums(Y, codes, n_groups):  # pragma: no cover - compiled
    """Rows of ``Y`` summed by group code (NaN counts as 0): ``[n_groups, periods]``."""
    n, T = Y.shape
    out = np.zeros((n_groups, T))
    for i in range(n):
        g = codes[i]
        for t in range(T):
            y = np.float64(Y[i, t])
            if y == y:
                out[g, t] += y
    return out
