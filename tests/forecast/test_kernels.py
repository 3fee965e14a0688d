"""The forecast's numba kernels against plain NumPy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forestock.forecast._kernels import group_sums, prefix_sums


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 12), st.integers(0, 2**31 - 1))
def test_prefix_and_group_sums_match_numpy(n: int, T: int, seed: int) -> None:
    """One pass gives NumPy's cumulative sums, first sales and group sums (NaN as zero)."""
    rng = np.random.default_rng(seed)
    Y = rng.poisson(0.7, size=(n, T)).astype(np.float32)
    Y[:, T - T // 3:] = np.nan  # the future
    ordinary = rng.random(T) < 0.7
    C, C_ord, C_nz, first = prefix_sums(Y, ordinary)
    Z = np.nan_to_num(Y).astype(np.float64)
    zero = np.zeros((n, 1))
    np.testing.assert_array_equal(C, np.hstack([zero, np.cumsum(Z, axis=1)]))
    np.testing.assert_array_equal(C_ord, np.hstack([zero, np.cumsum(Z * ordinary, axis=1)]))
    np.testing.assert_array_equal(C_nz, np.hstack([zero, np.cumsum(Z > 0, axis=1)]))
    want_first = np.where((Z > 0).any(axis=1), np.argmax(Z > 0, axis=1), -1)
    np.testing.assert_array_equal(first, want_first)
    codes = rng.integers(0, 3, size=n)
    want = np.zeros((3, T))
    np.add.at(want, codes, Z)
    np.testing.assert_array_equal(group_sums(Y, codes, 3), want)
