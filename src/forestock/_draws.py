"""Counter-based random draws (SplitMix64) shared by the stages: a draw depends only on its
seed, key, column and stream, so any chunking or order of work gives the same numbers."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["GOLDEN", "mix", "uniforms"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def mix(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def uniforms(seed: np.uint64, keys: np.ndarray, k: int, stream: int) -> np.ndarray:
    """Uniform draws in (0, 1), shape ``(keys.size, k)``, keyed by (seed, key, column, stream).

    A draw depends only on its own key, so any chunking of the keys gives the same numbers.
    """
    out = np.empty((keys.size, k))
    for i in range(keys.size):
        base = mix(seed + GOLDEN * np.uint64(keys[i] + 1))
        base = mix(base + GOLDEN * np.uint64(stream))
        for j in range(k):
            z = mix(base + GOLDEN * np.uint64(j + 1))
            out[i, j] = (float(z >> np.uint64(11)) + 0.5) * _TO_UNIT
    return out
