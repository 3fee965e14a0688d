"""The intraday shape of a sale day: the midnight surge, the night lull, the evening peak."""

from __future__ import annotations

import numpy as np

SECONDS = 86_400

#: Relative order rate at the middle of each hour of an ordinary sale-day hour (before the surge).
_HOURLY = np.array(
    [1.6, 0.9, 0.45, 0.25, 0.18, 0.18, 0.3, 0.55, 0.85, 1.0, 1.1, 1.1,
     1.0, 1.0, 1.05, 1.05, 1.0, 1.0, 1.05, 1.15, 1.35, 1.55, 1.6, 1.45]
)


def intraday_cdf(surge: float = 32.0, surge_seconds: float = 420.0) -> np.ndarray:
    """Return the cumulative share of the day's orders at the end of each second.

    Parameters
    ----------
    surge
        Order rate in the first second after midnight, as a multiple of the
        day's average rate on top of the diurnal curve (2019: about 36x).
    surge_seconds
        Decay time of the surge (e-folding, seconds).

    Returns
    -------
    numpy.ndarray
        ``float64`` array of length 86,400, increasing, ending at exactly 1.
    """
    if surge < 0 or surge_seconds <= 0:
        raise ValueError(f"surge must be >= 0 and surge_seconds > 0, got {surge}, {surge_seconds}")
    t = np.arange(SECONDS, dtype=np.float64) + 0.5
    centres = np.arange(24) * 3600.0 + 1800.0
    # periodic interpolation of the hourly curve, so 23:59 joins 00:00 smoothly
    base = np.interp(t, np.r_[centres[-1] - SECONDS, centres, centres[0] + SECONDS],
                     np.r_[_HOURLY[-1], _HOURLY, _HOURLY[0]])
    base /= base.mean()
    rate = base + surge * np.exp(-t / surge_seconds)
    cdf = np.cumsum(rate)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf
