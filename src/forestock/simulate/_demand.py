"""Demand sources of a rehearsal: a scenario drawn from the forecast's quantiles, or orders."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from forestock.errors import ForestockError, TableError

__all__ = ["demand_from_forecast", "orders_in_day"]

_QUANTILE = re.compile(r"q(\d{2})")


def demand_from_forecast(forecast: pd.DataFrame, day: dt.date, seed: int = 0) -> pd.DataFrame:
    """Draw one demand scenario for ``day`` from the forecast's quantiles.

    Each SKU and region draws a uniform level ``u`` and takes the forecast's
    inverse cdf at ``u``: linear between the ``qNN`` columns (sorted, so
    crossed quantiles do no harm), extended linearly beyond the outer ones
    and floored at zero; the value is rounded up or down at random in
    proportion to its fraction, so the expected units are kept.

    Parameters
    ----------
    forecast
        The ``forecast`` table (sku_id, region_id, date, mean, qNN...).
    day
        The day to rehearse.
    seed
        Seed of the scenario.

    Returns
    -------
    pandas.DataFrame
        sku_id, region_id, units (rows with zero units dropped).

    Raises
    ------
    ForestockError
        When the forecast has no rows for ``day`` or no quantile columns.
    """
    cols = sorted((c for c in forecast.columns if _QUANTILE.fullmatch(str(c))),
                  key=lambda c: int(str(c)[1:]))
    if len(cols) < 2:
        raise ForestockError("the forecast needs at least two quantile columns (q10, q90...) "
                             "to draw scenarios from")
    rows = forecast[pd.to_datetime(forecast["date"]).dt.date == day]
    if rows.empty:
        raise ForestockError(f"the forecast has no rows for {day}")
    levels = np.array([int(str(c)[1:]) / 100 for c in cols])
    q = np.sort(rows[cols].to_numpy(dtype=np.float64), axis=1)
    rng = np.random.default_rng(seed)
    u = rng.random(len(rows))
    hi = np.clip(np.searchsorted(levels, u), 1, len(levels) - 1)
    lo = hi - 1
    q_lo = np.take_along_axis(q, lo[:, None], axis=1)[:, 0]
    q_hi = np.take_along_axis(q, hi[:, None], axis=1)[:, 0]
    value = q_lo + (q_hi - q_lo) * (u - levels[lo]) / (levels[hi] - levels[lo])
    value = np.maximum(value, 0.0)
    units = np.floor(value + rng.random(len(rows))).astype(np.int64)
    out = pd.DataFrame({"sku_id": rows["sku_id"].astype(str).to_numpy(),
                        "region_id": rows["region_id"].astype(str).to_numpy(), "units": units})
    return out[out["units"] > 0].reset_index(drop=True)


def orders_in_day(orders: pd.DataFrame, day: dt.date, source: str = "orders") -> np.ndarray:
    """Seconds after ``day``'s midnight of each order; raise naming a row outside the day."""
    start = pd.Timestamp(day)
    secs = (pd.to_datetime(orders["time"]) - start).dt.total_seconds().to_numpy()
    bad = ~((secs >= 0) & (secs < 86_400))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TableError(source, row + 1, "time",
                         f"{orders['time'].iloc[row]} is outside the rehearsed day {day}")
    return secs.astype(np.float64)
