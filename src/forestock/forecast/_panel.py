"""The history as a dense panel: series x periods, at the data's own frequency.

A *period* is a day, a week or a month, inferred from the dates. Events are
mapped onto periods; each period knows the event occurrences covering it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.events import Window, normalise_calendar, occurrences

FREQS = {"D": "daily", "W": "weekly", "M": "monthly"}
#: Periods in a season (a year) per frequency, and the window lengths used as levels.
SEASON = {"D": 364, "W": 52, "M": 12}
LEVELS = {"D": (7, 28, 91), "W": (2, 4, 13), "M": (1, 3, 6)}


def infer_freq(dates: pd.Series | pd.DatetimeIndex) -> str:
    """Return ``"D"``, ``"W"`` or ``"M"`` from the spacing of the distinct dates."""
    uniq = pd.DatetimeIndex(pd.unique(pd.to_datetime(pd.Series(dates)))).sort_values()
    if len(uniq) < 3:
        raise ForestockError("the history needs at least three distinct dates")
    gaps = np.diff(uniq.to_numpy().astype("datetime64[D]").astype(np.int64)).astype(float)
    g = float(np.median(gaps))
    if g <= 1.5:
        return "D"
    if 6 <= g <= 8 and np.all(np.mod(gaps, 7) == 0):
        return "W"
    if 27 <= g <= 32 and (uniq.day == uniq.day[0]).all():
        return "M"
    raise ForestockError(
        f"cannot tell the history's frequency: dates are {g:.1f} days apart (median); "
        "use daily, weekly (same weekday) or monthly (same day of month) dates"
    )


def period_index(dates: pd.Series | pd.DatetimeIndex, start: pd.Timestamp, freq: str
                 ) -> np.ndarray:
    """Period number of each date counted from ``start`` (may be fractional off-grid)."""
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates)))
    if freq == "M":
        return np.asarray((d.year - start.year) * 12 + (d.month - start.month), dtype=np.int64)
    days = (d - start).days.to_numpy()
    return np.asarray(days // (7 if freq == "W" else 1), dtype=np.int64)


def period_dates(start: pd.Timestamp, n: int, freq: str) -> pd.DatetimeIndex:
    """Dates of periods ``0..n-1``."""
    if freq == "M":
        return pd.date_range(start, periods=n, freq="MS") + (start - start.replace(day=1))
    return pd.date_range(start, periods=n, freq="7D" if freq == "W" else "D")


@dataclass(frozen=True)
class Grid:
    """The history's periods: frequency, first period and number of periods."""

    freq: str
    start: pd.Timestamp
    n_hist: int

    @classmethod
    def of(cls, dates: pd.Series | pd.DatetimeIndex) -> Grid:
        """The grid of a history's dates (``dates`` may be its distinct dates)."""
        freq = infer_freq(dates)
        d = pd.DatetimeIndex(pd.unique(pd.to_datetime(pd.Series(dates))))
        start = d.min()
        n = int(period_index(pd.DatetimeIndex([d.max()]), start, freq)[0]) + 1
        seen = np.zeros(n, dtype=bool)
        seen[period_index(d, start, freq)] = True
        if not seen.all():
            missing = period_dates(start, n, freq)[~seen]
            unit = FREQS[freq].removesuffix("ly").replace("dai", "day")
            raise ForestockError(
                f"history has no rows at all for {missing.size} of its {n} {unit}s between "
                f"{start.date()} and {d.max().date()} (first missing: {missing[0].date()}); a "
                f"{unit} without one sale anywhere is almost surely missing data, and would be "
                "read as no sales: add its rows (zero units where nothing sold) or start the "
                "history after the gap")
        return cls(freq, start, n)


@dataclass(frozen=True)
class Panel:
    """Dense units per series and period, plus what the features need.

    ``Y[i, t]`` are the units of series ``i`` (a SKU in a region) in period
    ``t``; periods run from the history's first date to the end of the
    window to forecast, the future being NaN.
    """

    freq: str
    start: pd.Timestamp
    dates: pd.DatetimeIndex  # one per period
    n_hist: int  # periods of history
    sku_ids: np.ndarray
    region_ids: np.ndarray
    series_sku: np.ndarray  # int32 [series]
    series_region: np.ndarray  # int32 [series]
    Y: np.ndarray  # float32 [series, periods], NaN in the future
    event_names: tuple[str, ...]
    event_code: np.ndarray  # int16 [periods]: first event on the period, -1 none
    event_count: np.ndarray  # int8 [periods]
    event_offset: np.ndarray  # int16 [periods]: periods into the occurrence
    event_length: np.ndarray  # int16 [periods]
    prev_start: np.ndarray  # int32 [periods]: start of the previous occurrence, -1 none
    to_next: np.ndarray  # int16 [periods]: periods to the next occurrence of any event
    since_last: np.ndarray  # int16 [periods]: periods since the last occurrence ended
    ordinary: np.ndarray  # bool [periods]: no event

    @property
    def n_series(self) -> int:
        return int(self.Y.shape[0])

    @property
    def season(self) -> int:
        return SEASON[self.freq]

    def series_of(self, sku: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Series of each (SKU position, region position) pair; -1 where there is none
        (or either position is -1)."""
        n_r = len(self.region_ids)
        pos = np.full(len(self.sku_ids) * n_r, -1, dtype=np.int64)
        pos[self.series_sku.astype(np.int64) * n_r + self.series_region] = np.arange(
            self.n_series)
        sku, region = np.asarray(sku, dtype=np.int64), np.asarray(region, dtype=np.int64)
        ok = (sku >= 0) & (region >= 0)
        out = np.full(sku.size, -1, dtype=np.int64)
        out[ok] = pos[sku[ok] * n_r + region[ok]]
        return out


def build_panel(
    history: pd.DataFrame,
    calendar: pd.DataFrame,
    window: Window,
    sku_ids: np.ndarray | None = None,
    region_ids: np.ndarray | None = None,
    *,
    grid: Grid | None = None,
) -> Panel:
    """Lay the history out as a dense panel running to the end of ``window``.

    Series are every SKU x region pair of ``sku_ids`` x ``region_ids`` when
    given (so SKUs that never sold in a region still get a forecast), else
    the pairs present in the history. ``grid`` fixes the periods (for a block
    of SKUs cut from a larger history); by default the history sets them.
    """
    dates = pd.to_datetime(history["date"])
    if grid is None:
        grid = Grid.of(dates)
    freq, start = grid.freq, grid.start
    skus = np.asarray(sku_ids if sku_ids is not None else pd.unique(history["sku_id"]),
                      dtype=object)
    regions = np.asarray(region_ids if region_ids is not None
                         else pd.unique(history["region_id"]), dtype=object)
    s_ix = pd.Index(skus).get_indexer(history["sku_id"].astype(object))
    r_ix = pd.Index(regions).get_indexer(history["region_id"].astype(object))
    if (s_ix < 0).any() or (r_ix < 0).any():
        bad = history["sku_id"].iloc[int(np.flatnonzero(s_ix < 0)[0])] if (s_ix < 0).any() \
            else history["region_id"].iloc[int(np.flatnonzero(r_ix < 0)[0])]
        raise ForestockError(f"history names {bad!r}, which is not in the skus/regions tables")
    t_ix = period_index(dates, start, freq)
    n_hist = grid.n_hist
    if len(t_ix) and (t_ix.min() < 0 or t_ix.max() >= n_hist):
        raise ForestockError("history dates fall outside the panel's periods")
    end = period_index(pd.DatetimeIndex([pd.Timestamp(window.end)]), start, freq)[0]
    n_periods = max(int(end) + 1, n_hist + 1)
    if sku_ids is not None or region_ids is not None:
        s_grid, r_grid = np.meshgrid(np.arange(len(skus)), np.arange(len(regions)),
                                     indexing="ij")
        series_sku, series_region = s_grid.ravel(), r_grid.ravel()
        row = s_ix.astype(np.int64) * len(regions) + r_ix
    else:
        pairs, row = np.unique(s_ix.astype(np.int64) * len(regions) + r_ix, return_inverse=True)
        series_sku, series_region = pairs // len(regions), pairs % len(regions)
    Y = np.zeros((len(series_sku), n_periods), dtype=np.float32)
    np.add.at(Y, (row, t_ix), history["units"].to_numpy(dtype=np.float32))
    Y[:, n_hist:] = np.nan
    pdates = period_dates(start, n_periods, freq)
    cal = _calendar_arrays(calendar, start, freq, n_periods)
    return Panel(freq=freq, start=start, dates=pdates, n_hist=n_hist, sku_ids=skus,
                 region_ids=regions, series_sku=series_sku.astype(np.int32),
                 series_region=series_region.astype(np.int32), Y=Y, **cal)


def _calendar_arrays(calendar: pd.DataFrame, start: pd.Timestamp, freq: str, n: int
                     ) -> dict[str, Any]:
    calendar = normalise_calendar(calendar)
    names = tuple(sorted(pd.unique(calendar["event"])))
    code = np.full(n, -1, dtype=np.int16)
    count = np.zeros(n, dtype=np.int8)
    offset = np.zeros(n, dtype=np.int16)
    length = np.zeros(n, dtype=np.int16)
    prev = np.full(n, -1, dtype=np.int32)
    busy = np.zeros(n, dtype=bool)
    gap = 1 if freq == "D" else 0
    for k, name in enumerate(names):
        prev_start = -1
        for w in occurrences(calendar, name, gap_days=max(gap, 31 if freq == "M" else 7)):
            a = int(period_index(pd.DatetimeIndex([pd.Timestamp(w.start)]), start, freq)[0])
            b = int(period_index(pd.DatetimeIndex([pd.Timestamp(w.end)]), start, freq)[0])
            for t in range(max(a, 0), min(b, n - 1) + 1):
                count[t] += 1
                busy[t] = True
                if code[t] < 0:  # the first event (by name) describes the period
                    code[t] = k
                    offset[t] = t - a
                    length[t] = b - a + 1
                    prev[t] = prev_start
            prev_start = a
    to_next = np.full(n, 999, dtype=np.int16)
    since = np.full(n, 999, dtype=np.int16)
    nxt, last = 999, 999
    for t in range(n - 1, -1, -1):
        nxt = 0 if busy[t] else min(nxt + 1, 999)
        to_next[t] = nxt
    for t in range(n):
        last = 0 if busy[t] else min(last + 1, 999)
        since[t] = last
    return {"event_names": names, "event_code": code, "event_count": count,
            "event_offset": offset, "event_length": length, "prev_start": prev,
            "to_next": to_next, "since_last": since, "ordinary": ~busy}


def window_periods(panel: Panel, window: Window) -> np.ndarray:
    """Period numbers of the window's dates (distinct, in order)."""
    dates = pd.date_range(window.start, window.end, freq="D")
    idx = np.unique(period_index(dates, panel.start, panel.freq))
    return idx[idx >= panel.n_hist]


def first_date(panel: Panel, t: int) -> dt.date:
    return pd.Timestamp(panel.dates[t]).date()
