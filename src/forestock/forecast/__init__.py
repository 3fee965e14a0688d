"""Forecast units per SKU, region and date for an event window, with calibrated quantiles.

forestock's engine (:class:`GlobalModel`) is one LightGBM model over every
SKU x region series, learning from the history at the window's horizons:
levels and trends, last season, the previous occurrences of the target's
event at the series, SKU and market levels, the calendar, static attributes
and planned prices. Its quantiles are negative binomial around the mean,
with dispersions calibrated on out-of-fold predictions. Forecasts are made
at the bottom (SKU x region) and summed upward, so every level is coherent.

Baselines in the same interface: :class:`SeasonalNaive` (last year's event
aligned by event day, scaled by growth) and :class:`StatsBaseline`
(statsforecast AutoETS or TSB per series, bottom-up). :func:`backtest`
scores any of them on a held-out earlier occurrence of the event.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.events import Window, next_window, occurrences
from forestock.forecast._baselines import StatsBaseline
from forestock.forecast._blocks import BLOCK_CELLS, BlockReport, forecast_blocks
from forestock.forecast._metrics import score
from forestock.forecast._model import GlobalModel, nb_quantiles
from forestock.forecast._naive import SeasonalNaive
from forestock.forecast._panel import build_panel, infer_freq, period_index, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem

__all__ = [
    "BLOCK_CELLS",
    "METHODS",
    "BacktestResult",
    "BlockReport",
    "ForecastParams",
    "ForecastProblem",
    "Forecaster",
    "GlobalModel",
    "SeasonalNaive",
    "StatsBaseline",
    "Window",
    "aggregate",
    "backtest",
    "forecast",
    "forecast_blocks",
    "holdout_window",
    "infer_freq",
    "make_method",
    "nb_quantiles",
    "next_window",
    "target_window",
]

log = logging.getLogger("forestock.forecast")

METHODS = ("forestock", "seasonal_naive", "auto_ets", "tsb")


class Forecaster(Protocol):
    """What every method offers: ``fit(problem)`` returning itself, ``predict()`` a table."""

    name: str

    def fit(self, problem: ForecastProblem) -> Forecaster: ...

    def predict(self) -> pd.DataFrame: ...


def make_method(name: str, params: ForecastParams | None = None, seed: int = 0) -> Forecaster:
    """The forecaster called ``name`` (one of :data:`METHODS`)."""
    if name == "forestock":
        return GlobalModel(params, seed)
    if name == "seasonal_naive":
        return SeasonalNaive(params, seed)
    if name == "auto_ets":
        return StatsBaseline("ets", params, seed)
    if name == "tsb":
        return StatsBaseline("tsb", params, seed)
    raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")


def target_window(
    calendar: pd.DataFrame,
    history_end: dt.date,
    event: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Window:
    """The window to forecast: the next occurrence of ``event``, or ``start``..``end``."""
    if event is not None:
        return next_window(calendar, event, history_end)
    if start is None or end is None:
        raise ForestockError("give an event (--event NAME) or a window (--start D --end D)")
    if end < start:
        raise ForestockError(f"the window ends ({end}) before it starts ({start})")
    if start <= history_end:
        raise ForestockError(f"the window starts {start}, inside the history (ends {history_end})")
    return Window("custom", start, end)


def _check_history(history: pd.DataFrame) -> None:
    if history.empty:
        raise ForestockError("history is empty: nothing to forecast from")
    if (history["units"] < 0).any():
        row = int(np.flatnonzero((history["units"] < 0).to_numpy())[0])
        raise ForestockError(f"history, row {row + 1}, column 'units': negative units")


def forecast(
    history: pd.DataFrame,
    calendar: pd.DataFrame,
    window: Window,
    skus: pd.DataFrame | None = None,
    regions: pd.DataFrame | None = None,
    params: ForecastParams | None = None,
    *,
    prices: pd.DataFrame | None = None,
    method: str = "forestock",
    seed: int = 0,
) -> pd.DataFrame:
    """Forecast every SKU x region on every date of ``window`` (the ``forecast`` table).

    ``method`` picks forestock's engine (default) or a baseline.
    """
    _check_history(history)
    problem = ForecastProblem(history, calendar, window, skus, regions, prices)
    return make_method(method, params, seed).fit(problem).predict()


def aggregate(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Sum the forecast's means over the columns not in ``by`` (national: ``["sku_id",
    "date"]``; regional totals: ``["region_id", "date"]``)."""
    return table.groupby(list(by), as_index=False, observed=True)["mean"].sum()


def holdout_window(calendar: pd.DataFrame, event: str, history_end: dt.date,
                   history_start: dt.date, lead_days: int) -> Window:
    """The latest occurrence of ``event`` inside the history with history before it."""
    inside = [w for w in occurrences(calendar, event)
              if w.end <= history_end and w.start - dt.timedelta(days=lead_days) > history_start]
    if not inside:
        raise ForestockError(
            f"no occurrence of {event!r} lies inside the history ({history_start} to "
            f"{history_end}) with history before it to learn from"
        )
    return inside[-1]


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
    methods: Sequence[str] = METHODS,
    params: ForecastParams | None = None,
    seed: int = 0,
) -> BacktestResult:
    """Hold out ``window``, forecast it from the history up to ``lead_days`` before it,
    and score every method on the same cells.
    """
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
    for name in methods:
        t0 = time.perf_counter()
        table = make_method(name, params, seed).fit(problem).predict()
        seconds[name] = time.perf_counter() - t0
        scores[name] = score(panel, periods, table, actual, skus)
        tables[name] = table
        log.info("backtest %s: WRMSSE %.3f in %.1f s", name, scores[name]["wrmsse"],
                 seconds[name])
    return BacktestResult(window, cut.date(), scores, seconds, float(actual.sum()), tables)
