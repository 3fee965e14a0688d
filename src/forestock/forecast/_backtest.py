"""Backtests: hold out windows of the history, forecast each from the history before it,
and score every method on the same cells.

One window (:func:`backtest`) or several (:func:`backtest_origins`, rolling
origins): the last occurrences of an event (:func:`holdout_windows`), or a
custom window stepped back period by period (:func:`rolling_windows`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.events import Window, occurrences
from forestock.forecast._metrics import score
from forestock.forecast._panel import FREQS, build_panel, period_index, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem

if TYPE_CHECKING:
    from forestock.forecast import Forecaster

log = logging.getLogger("forestock.forecast")


def holdout_windows(calendar: pd.DataFrame, event: str, history_end: dt.date,
                    history_start: dt.date, lead_days: int, k: int = 1) -> list[Window]:
    """The last ``k`` occurrences of ``event`` inside the history, oldest first.

    Each ends by ``history_end`` and leaves history to learn from before it:
    it starts more than ``lead_days`` days after ``history_start``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    inside = [w for w in occurrences(calendar, event)
              if w.end <= history_end and w.start - dt.timedelta(days=lead_days) > history_start]
    if not inside:
        raise ForestockError(
            f"no occurrence of {event!r} lies inside the history ({history_start} to "
            f"{history_end}) with history before it to learn from"
        )
    if len(inside) < k:
        starts = ", ".join(str(w.start) for w in inside)
        raise ForestockError(
            f"{k} origins asked, but only {len(inside)} occurrence(s) of {event!r} ({starts}) "
            f"lie inside the history ({history_start} to {history_end}) with history before "
            f"them to learn from; ask for at most {len(inside)}"
        )
    return inside[-k:]


def holdout_window(calendar: pd.DataFrame, event: str, history_end: dt.date,
                   history_start: dt.date, lead_days: int) -> Window:
    """The latest occurrence of ``event`` inside the history with history before it."""
    return holdout_windows(calendar, event, history_end, history_start, lead_days)[0]


def _shift(day: dt.date, periods: int, freq: str) -> dt.date:
    """``day`` moved ``periods`` periods (days, weeks or months) earlier."""
    if freq == "M":
        return (pd.Timestamp(day) - pd.DateOffset(months=periods)).date()
    return day - dt.timedelta(days=periods * (7 if freq == "W" else 1))


def rolling_windows(window: Window, k: int, step: int | None = None, freq: str = "D"
                    ) -> list[Window]:
    """``window`` and the ``k - 1`` windows of its length before it, oldest first.

    Parameters
    ----------
    window
        The latest window (for a backtest: one inside the history).
    k
        Number of windows.
    step
        Periods from one window's start to the next one's: days, weeks or
        months as ``freq``. Default: the window's length in periods, so the
        windows follow each other without overlapping.
    freq
        The history's frequency: ``"D"``, ``"W"`` or ``"M"`` (as
        :func:`~forestock.forecast.infer_freq` gives it).
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if window.end < window.start:
        raise ValueError(f"the window ends ({window.end}) before it starts ({window.start})")
    start = pd.Timestamp(window.start)
    length = int(period_index(pd.DatetimeIndex([pd.Timestamp(window.end)]), start, freq)[0]) + 1
    step = length if step is None else step
    if step < 1:
        raise ValueError(f"step must be >= 1 period, got {step}")
    return [Window(window.event, _shift(window.start, i * step, freq),
                   _shift(window.end, i * step, freq)) for i in range(k - 1, -1, -1)]


@dataclass(frozen=True)
class BacktestResult:
    """Scores of each method on a held-out window."""

    window: Window
    history_end: dt.date
    scores: dict[str, dict[str, object]]
    seconds: dict[str, float]
    actual_units: float
    forecasts: dict[str, pd.DataFrame] = field(repr=False, default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per method: the headline scores and seconds."""
        rows = []
        for name, s in self.scores.items():
            rows.append({"method": name, **{k: v for k, v in s.items() if k != "cells"},
                         "seconds": self.seconds[name]})
        return pd.DataFrame(rows)


def backtest(
    history: pd.DataFrame,
    calendar: pd.DataFrame,
    window: Window,
    lead_days: int = 1,
    skus: pd.DataFrame | None = None,
    regions: pd.DataFrame | None = None,
    prices: pd.DataFrame | None = None,
    methods: Sequence[str | Forecaster] | None = None,
    params: ForecastParams | None = None,
    seed: int = 0,
    *,
    callbacks: Callbacks | None = None,
) -> BacktestResult:
    """Hold out ``window``, forecast it from the history up to ``lead_days`` before it,
    and score every method (default: every one of :data:`~forestock.forecast.METHODS`)
    on the same cells.

    ``callbacks`` hears the task ``"backtest"``, one step per method.
    """
    from forestock.forecast import METHODS

    names: list[str | Forecaster] = list(METHODS if methods is None else methods)
    cb = callbacks or Callbacks()
    cb.on_start("backtest", len(names))
    result = _backtest(history, calendar, window, lead_days, skus, regions, prices, names,
                       params, seed, cb)
    cb.on_end("backtest")
    return result


def _backtest(history: pd.DataFrame, calendar: pd.DataFrame, window: Window, lead_days: int,
              skus: pd.DataFrame | None, regions: pd.DataFrame | None,
              prices: pd.DataFrame | None, methods: Sequence[str | Forecaster],
              params: ForecastParams | None, seed: int, cb: Callbacks) -> BacktestResult:
    from forestock.forecast import _check_history, make_method

    _check_history(history)
    dates = pd.to_datetime(history["date"])
    cut = pd.Timestamp(window.start) - pd.Timedelta(days=max(lead_days, 1))
    train = history[dates <= cut]
    if train.empty or dates.min() >= cut:
        raise ForestockError(f"no history before {cut.date()} to forecast {window.start} from")
    problem = ForecastProblem(train, calendar, window, skus, regions, prices)
    panel = build_panel(train, calendar, window,
                        None if skus is None else skus["sku_id"].to_numpy(dtype=object),
                        None if regions is None else regions["region_id"].to_numpy(dtype=object))
    periods = window_periods(panel, window)
    held = history[(dates >= pd.Timestamp(window.start)) & (dates <= pd.Timestamp(window.end))]
    actual = np.zeros((panel.n_series, periods.size))
    row = panel.series_of(pd.Index(panel.sku_ids).get_indexer(held["sku_id"].astype(object)),
                          pd.Index(panel.region_ids).get_indexer(
                              held["region_id"].astype(object)))
    col = pd.Index(periods).get_indexer(period_index(held["date"], panel.start, panel.freq))
    ok = (row >= 0) & (col >= 0)
    np.add.at(actual, (row[ok], col[ok]), held["units"].to_numpy(float)[ok])
    scores: dict[str, dict[str, object]] = {}
    seconds: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    for method in methods:
        t0 = time.perf_counter()
        model = make_method(method, params, seed) if isinstance(method, str) else method
        name = model.name
        table = model.fit(problem).predict()
        seconds[name] = time.perf_counter() - t0
        scores[name] = score(panel, periods, table, actual, skus)
        tables[name] = table
        log.info("backtest %s of %s: WRMSSE %.3f in %.1f s", name, window.start,
                 scores[name]["wrmsse"], seconds[name])
        cb.on_step("backtest", 1)
    return BacktestResult(window, cut.date(), scores, seconds, float(actual.sum()), tables)


@dataclass(frozen=True)
class OriginsResult:
    """Scores of each method on several held-out windows (rolling origins), oldest first."""

    origins: tuple[BacktestResult, ...]

    @property
    def windows(self) -> list[Window]:
        return [r.window for r in self.origins]

    @property
    def methods(self) -> list[str]:
        return list(self.origins[0].scores)

    def table(self) -> pd.DataFrame:
        """One row per method and origin, then per method a row averaging its origins.

        Columns: ``method``, ``origin`` (the window, ``"mean"`` on the mean
        rows), ``history_end`` (the last date learned from), ``actual_units``,
        every score and ``seconds``. A mean is NaN where an origin lacks the
        score.
        """
        rows = []
        for r in self.origins:
            frame = r.table()
            w = r.window
            frame.insert(1, "origin", str(w.start) if w.days == 1 else f"{w.start}..{w.end}")
            frame.insert(2, "history_end", r.history_end)
            frame.insert(3, "actual_units", r.actual_units)
            rows.append(frame)
        per_origin = pd.concat(rows, ignore_index=True)
        numeric = [c for c in per_origin.columns
                   if c not in ("method", "origin", "history_end")]
        out = []
        for name in self.methods:
            mine = per_origin[per_origin["method"] == name]
            mean = {c: float(pd.to_numeric(mine[c]).mean(skipna=False)) for c in numeric}
            out += [mine, pd.DataFrame([{"method": name, "origin": "mean",
                                         "history_end": None, **mean}])]
        return pd.concat(out, ignore_index=True)

    def mean(self) -> dict[str, dict[str, float]]:
        """Per method, every score (and ``actual_units``, ``seconds``) averaged over the
        origins, as in :meth:`table`'s mean rows."""
        t = self.table()
        t = t[t["origin"] == "mean"].drop(columns=["origin", "history_end"])
        return {str(m): {str(k): float(v) for k, v in row.items()}
                for m, row in t.set_index("method").iterrows()}


def backtest_origins(
    history: pd.DataFrame,
    calendar: pd.DataFrame,
    windows: Sequence[Window],
    lead_days: int = 1,
    skus: pd.DataFrame | None = None,
    regions: pd.DataFrame | None = None,
    prices: pd.DataFrame | None = None,
    methods: Sequence[str | Forecaster] | None = None,
    params: ForecastParams | None = None,
    seed: int = 0,
    *,
    callbacks: Callbacks | None = None,
) -> OriginsResult:
    """:func:`backtest` on each of ``windows`` (rolling origins), every method on each.

    Every window must lie inside the history with history before it (more
    than ``lead_days`` days); this is checked for all of them before any is
    run. ``callbacks`` hears the task ``"backtest"`` with one step per method
    and window.
    """
    from forestock.forecast import METHODS, _check_history

    if not windows:
        raise ValueError("windows is empty: give at least one window to hold out")
    _check_history(history)
    dates = pd.to_datetime(history["date"])
    first, last = dates.min().date(), dates.max().date()
    for i, w in enumerate(windows, 1):
        cut = w.start - dt.timedelta(days=max(lead_days, 1))
        if w.end > last:
            raise ForestockError(
                f"origin {i} ({w.start} to {w.end}) ends after the history ({first} to "
                f"{last}): only dates the history has can be scored")
        if cut <= first:
            raise ForestockError(
                f"origin {i} ({w.start} to {w.end}) leaves no history to learn from: "
                f"{lead_days} day(s) ahead it learns up to {cut}, and the history starts "
                f"{first}")
    names: list[str | Forecaster] = list(METHODS if methods is None else methods)
    cb = callbacks or Callbacks()
    cb.on_start("backtest", len(windows) * len(names))
    results = tuple(_backtest(history, calendar, w, lead_days, skus, regions, prices, names,
                              params, seed, cb) for w in windows)
    cb.on_end("backtest")
    return OriginsResult(results)
