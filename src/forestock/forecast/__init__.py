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
scores any of them on a held-out earlier occurrence of the event, and
:func:`backtest_origins` on several (rolling origins).

:func:`window_totals` turns a forecast into quantiles of the window's total
per SKU x region and per SKU (the ``forecast_total`` table), with the
correlation of a window's days and regions measured on the history by
:func:`total_correlation`; :func:`forecast_with_totals` does both, and
measures the event total's error common to every SKU (:func:`market_error`, from
the ordinary periods and the event's last occurrence held out) that the plan's
demand model gives its SKUs in common.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.events import Window, next_window
from forestock.forecast._backtest import (
    BacktestResult,
    OriginsResult,
    backtest,
    backtest_origins,
    holdout_window,
    holdout_windows,
    rolling_windows,
)
from forestock.forecast._baselines import StatsBaseline
from forestock.forecast._blocks import BLOCK_CELLS, BlockReport, forecast_blocks
from forestock.forecast._combine import Combined, HeldOut
from forestock.forecast._model import GlobalModel, nb_quantiles
from forestock.forecast._naive import SeasonalNaive
from forestock.forecast._panel import infer_freq
from forestock.forecast._peers import LevelLift, MLForecastPeer
from forestock.forecast._problem import ForecastParams, ForecastProblem
from forestock.forecast._total import (
    PRIOR_OCCURRENCES,
    MarketError,
    TotalCorrelation,
    WindowForecast,
    forecast_with_totals,
    market_error,
    own_spread,
    total_correlation,
    window_totals,
)

__all__ = [
    "BLOCK_CELLS",
    "METHODS",
    "PRIOR_OCCURRENCES",
    "BacktestResult",
    "BlockReport",
    "Combined",
    "ForecastParams",
    "ForecastProblem",
    "Forecaster",
    "GlobalModel",
    "HeldOut",
    "LevelLift",
    "MLForecastPeer",
    "MarketError",
    "OriginsResult",
    "SeasonalNaive",
    "StatsBaseline",
    "TotalCorrelation",
    "Window",
    "WindowForecast",
    "aggregate",
    "backtest",
    "backtest_origins",
    "fit_predict",
    "forecast",
    "forecast_blocks",
    "forecast_with_totals",
    "holdout_window",
    "holdout_windows",
    "infer_freq",
    "make_method",
    "market_error",
    "nb_quantiles",
    "next_window",
    "own_spread",
    "rolling_windows",
    "target_window",
    "total_correlation",
    "window_totals",
]

log = logging.getLogger("forestock.forecast")

METHODS = ("forestock", "seasonal_naive", "auto_ets", "tsb", "mlforecast", "level_lift")


class Forecaster(Protocol):
    """What every method offers: ``fit(problem)`` returning itself, ``predict()`` a table."""

    name: str

    def fit(self, problem: ForecastProblem) -> Forecaster: ...

    def predict(self) -> pd.DataFrame: ...


def make_method(name: str, params: ForecastParams | None = None, seed: int = 0,
                callbacks: Callbacks | None = None) -> Forecaster:
    """The forecaster called ``name`` (one of :data:`METHODS`); ``callbacks`` hears the
    progress of forestock's fits."""
    if name == "forestock":
        return Combined(params, seed, callbacks)
    if name == "seasonal_naive":
        return SeasonalNaive(params, seed)
    if name == "auto_ets":
        return StatsBaseline("ets", params, seed)
    if name == "tsb":
        return StatsBaseline("tsb", params, seed)
    if name == "mlforecast":
        return MLForecastPeer(params, seed)
    if name == "level_lift":
        return LevelLift(params, seed)
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
    callbacks: Callbacks | None = None,
) -> pd.DataFrame:
    """Forecast every SKU x region on every date of ``window`` (the ``forecast`` table).

    ``method`` picks forestock's engine (default) or a baseline; ``callbacks`` hears
    the task ``"forecast"`` (two steps: fitted, predicted) and forestock's fits (see
    :class:`Combined`).
    """
    return fit_predict(history, calendar, window, skus, regions, params, prices=prices,
                       method=method, seed=seed, callbacks=callbacks)[1]


def fit_predict(
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
    callbacks: Callbacks | None = None,
) -> tuple[Forecaster, pd.DataFrame]:
    """:func:`forecast`, with the fitted method beside the table (forestock's
    :class:`Combined` keeps what it measured on the event's last occurrence)."""
    _check_history(history)
    cb = callbacks or Callbacks()
    cb.on_start("forecast", 2)
    problem = ForecastProblem(history, calendar, window, skus, regions, prices)
    fitted = make_method(method, params, seed, callbacks).fit(problem)
    cb.on_step("forecast", 1)
    table = fitted.predict()
    cb.on_end("forecast")
    return fitted, table


def aggregate(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Sum the forecast's means over the columns not in ``by`` (national: ``["sku_id",
    "date"]``; regional totals: ``["region_id", "date"]``)."""
    return table.groupby(list(by), as_index=False, observed=True)["mean"].sum()
