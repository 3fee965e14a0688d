"""Peer forecasters for the benchmark: Nixtla's mlforecast with LightGBM, and level x lift.

Both speak the :class:`~forestock.forecast.Forecaster` interface (``fit(problem)``
returns the method, ``predict()`` the forecast table) and forecast every SKU x
region series of the panel on every date of the problem's window.

* :class:`MLForecastPeer` is the global gradient-boosting model a competent
  practitioner builds with mlforecast in an afternoon: lags, rolling means,
  date and event features, static attributes and prices, a Tweedie LightGBM,
  forecast recursively from the end of the history.
* :class:`LevelLift` is the planner's simple method that tends to beat
  sophisticated models on festival data: each series' recent ordinary level
  times the event's lift at its last occurrence, measured per SKU nationally.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.forecast._model import nb_quantiles
from forestock.forecast._panel import Panel, build_panel, period_index, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem, quantile_columns

__all__ = ["LevelLift", "MLForecastPeer"]

log = logging.getLogger("forestock.forecast")


def _panel(problem: ForecastProblem) -> Panel:
    """The problem's panel, over every SKU x region pair when the tables are given."""
    return build_panel(problem.history, problem.calendar, problem.window,
                       None if problem.skus is None else
                       problem.skus["sku_id"].to_numpy(dtype=object),
                       None if problem.regions is None else
                       problem.regions["region_id"].to_numpy(dtype=object))


def _levels(params: ForecastParams) -> tuple[float, ...]:
    return tuple(sorted({*params.quantiles, 0.1, 0.5, 0.9}))


def _table(p: Panel, periods: np.ndarray, mean: np.ndarray, names: list[str],
           quantiles: np.ndarray) -> pd.DataFrame:
    """The forecast table from ``mean[series, period]`` and ``quantiles[level, series,
    period]``, columns named ``names``."""
    n, m = p.n_series, periods.size
    out = pd.DataFrame({
        "sku_id": np.repeat(p.sku_ids[p.series_sku], m),
        "region_id": np.repeat(p.region_ids[p.series_region], m),
        "date": np.tile(p.dates[periods].to_numpy(), n),
        "mean": mean.ravel(),
    })
    for k, name in enumerate(names):
        out[name] = quantiles[k].ravel()
    return out


def _group(Y: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``Y`` summed by ``codes`` into ``n`` groups."""
    out = np.zeros((n, Y.shape[1]))
    np.add.at(out, codes, Y)
    return out


# --------------------------------------------------------------------------- mlforecast


@dataclass(frozen=True)
class _Setup:
    """Lags and rolling means of one frequency (periods; all recursive-safe)."""

    lags: tuple[int, ...]
    rolling_lag: int
    rolling: tuple[int, ...]


#: Daily: nothing under a week (a recursive forecast 30+ days out would feed on itself
#: at every step); weekly and monthly: the last periods are the best evidence.
_SETUPS = {
    "D": _Setup(lags=(7, 14, 21, 28), rolling_lag=7, rolling=(7, 28, 91)),
    "W": _Setup(lags=(1, 2, 3, 4, 52), rolling_lag=1, rolling=(4, 13)),
    "M": _Setup(lags=(1, 2, 3, 6, 12), rolling_lag=1, rolling=(3, 6, 12)),
}
#: Calibration windows of the conformal intervals, and the rows (the model's and its
#: refits' together) up to which they are cheap enough to fit.
_CONFORMAL_WINDOWS = 2
_CONFORMAL_ROWS = 100_000
#: LightGBM settings: shared, then for large training tables and for those below
#: ``_SMALL_ROWS`` rows (small data sets want small leaves).
_SMALL_ROWS = 50_000
_LGBM = {"learning_rate": 0.05, "subsample_freq": 1, "colsample_bytree": 0.8,
         "reg_lambda": 0.1}
_LGBM_BIG = {"objective": "tweedie", "tweedie_variance_power": 1.1, "n_estimators": 600,
             "num_leaves": 127, "min_child_samples": 100, "subsample": 0.8}
_LGBM_SMALL = {"objective": "poisson", "n_estimators": 300, "num_leaves": 15,
               "min_child_samples": 10, "subsample": 0.8}


#: Static codes LightGBM splits as categories (the rest are ordered codes).
_CATEGORICAL = ("category", "brand_id", "region")


def _lgbm_settings(rows: int, seed: int, threads: int) -> dict[str, Any]:
    return {**_LGBM, **(_LGBM_BIG if rows > _SMALL_ROWS else _LGBM_SMALL),
            "random_state": seed, "deterministic": True, "force_col_wise": True,
            "n_jobs": threads, "verbosity": -1}


def _event_columns(p: Panel, calendar: pd.DataFrame) -> pd.DataFrame:
    """Known-in-advance calendar features per period: one dummy per event name, the
    period into the event and its length, periods to the next and since the last event,
    and the date's parts."""
    n = p.Y.shape[1]
    cols: dict[str, np.ndarray] = {}
    if len(calendar):
        t = period_index(calendar["date"], p.start, p.freq)
        names = calendar["event"].astype(str).to_numpy()
        for k, name in enumerate(p.event_names):
            on = np.zeros(n, dtype=np.float32)
            at = t[(names == name) & (t >= 0) & (t < n)]
            on[at] = 1.0
            cols[f"event_{k}"] = on
    busy = p.event_code >= 0
    cols["event_day"] = np.where(busy, p.event_offset, -1).astype(np.float32)
    cols["event_length"] = np.where(busy, p.event_length, 0).astype(np.float32)
    cols["to_next_event"] = np.minimum(p.to_next, 400).astype(np.float32)
    cols["since_event"] = np.minimum(p.since_last, 400).astype(np.float32)
    d = p.dates
    cols["month"] = d.month.to_numpy(dtype=np.float32)
    if p.freq == "D":
        cols["dayofweek"] = d.dayofweek.to_numpy(dtype=np.float32)
        cols["dayofyear"] = d.dayofyear.to_numpy(dtype=np.float32)
        cols["day"] = d.day.to_numpy(dtype=np.float32)
    elif p.freq == "W":
        cols["week"] = d.isocalendar().week.to_numpy(dtype=np.float32)
    return pd.DataFrame(cols)


def _price_columns(p: Panel, problem: ForecastProblem) -> dict[str, np.ndarray] | None:
    """Price per series and period (a row without a region holds for every region of its
    SKU; carried forward, then back, over periods without a price), and its ratio to the
    series' mean price over the history."""
    pr = problem.prices
    if pr is None or pr.empty:
        return None
    n_t = p.Y.shape[1]
    s = pd.Index(p.sku_ids).get_indexer(pr["sku_id"].astype(object))
    t = period_index(pr["date"], p.start, p.freq)
    regional = (pr["region_id"].notna().to_numpy() if "region_id" in pr
                else np.zeros(len(pr), dtype=bool))
    r = np.full(len(pr), -1, dtype=np.int64)
    if regional.any():
        r[regional] = pd.Index(p.region_ids).get_indexer(pr["region_id"][regional].astype(object))
    price = pr["price"].to_numpy(dtype=float)
    ok = (s >= 0) & (t >= 0) & (t < n_t)
    total = np.zeros((p.n_series, n_t))
    count = np.zeros_like(total)
    reg = ok & regional & (r >= 0)
    row = p.series_of(s[reg], r[reg])
    have = row >= 0
    np.add.at(total, (row[have], t[reg][have]), price[reg][have])
    np.add.at(count, (row[have], t[reg][have]), 1.0)
    nat = ok & ~regional
    if nat.any():
        sku_total = np.zeros((len(p.sku_ids), n_t))
        sku_count = np.zeros_like(sku_total)
        np.add.at(sku_total, (s[nat], t[nat]), price[nat])
        np.add.at(sku_count, (s[nat], t[nat]), 1.0)
        fill = count == 0
        total = np.where(fill, sku_total[p.series_sku], total)
        count = np.where(fill, sku_count[p.series_sku], count)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = pd.DataFrame(np.where(count > 0, total / count, np.nan).T)
    level = level.ffill().bfill()
    if problem.skus is not None:  # never priced: the SKU's list price
        listed = problem.skus.set_index("sku_id").reindex(p.sku_ids)["price"]
        level = level.fillna(pd.Series(listed.to_numpy(dtype=float)[p.series_sku]))
    values = level.to_numpy(dtype=float).T
    usual = np.nanmean(np.where(np.isnan(values[:, : p.n_hist]), np.nan,
                                values[:, : p.n_hist]), axis=1, keepdims=True) \
        if np.isfinite(values[:, : p.n_hist]).any() else np.full((p.n_series, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = values / usual
    return {"price": values.astype(np.float32), "price_ratio": ratio.astype(np.float32)}


def _static_columns(p: Panel, problem: ForecastProblem) -> pd.DataFrame:
    """Codes of each series' SKU, region, category and brand."""
    out = pd.DataFrame({"sku": p.series_sku.astype(np.int32),
                        "region": p.series_region.astype(np.int32)})
    if problem.skus is not None:
        s = problem.skus.set_index("sku_id").reindex(p.sku_ids)
        for col in ("category", "brand_id"):
            if col in s:
                codes = pd.factorize(s[col], sort=True)[0].astype(np.int32)
                out[col] = codes[p.series_sku]
    return out


def _long_frames(p: Panel, problem: ForecastProblem, active: np.ndarray, h: int
                 ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The training table (the ``active`` series over the whole history), the known
    features of their next ``h`` periods (``X_df``), and the static columns' names."""
    n_hist = p.n_hist
    idx = active
    sid = np.repeat(idx, n_hist)
    t = np.tile(np.arange(n_hist), idx.size)
    exog = _event_columns(p, problem.calendar)
    static = _static_columns(p, problem)
    prices = _price_columns(p, problem)
    Y = np.nan_to_num(p.Y[:, :n_hist], nan=0.0)
    df = pd.DataFrame({"unique_id": sid, "ds": t, "y": Y[sid, t].astype(np.float32)})
    for col in static.columns:
        df[col] = static[col].to_numpy()[sid]
    ft = np.tile(np.arange(n_hist, n_hist + h), idx.size)
    fs = np.repeat(idx, h)
    future = pd.DataFrame({"unique_id": fs, "ds": ft})
    for col in exog.columns:
        df[col] = exog[col].to_numpy()[t]
        future[col] = exog[col].to_numpy()[ft]
    for col, values in (prices or {}).items():
        df[col] = values[sid, t]
        future[col] = values[fs, ft]
    return df, future, list(static.columns)


class MLForecastPeer:
    """Nixtla's mlforecast with a LightGBM regressor: a practitioner's global model.

    One long table (``unique_id`` = SKU x region, ``ds`` = the panel's period,
    ``y`` = units) at the panel's frequency, over the whole history for every
    series that sold (series that never sold forecast 0). Features:

    * lags and rolling means by frequency (daily: lags 7, 14, 21, 28 and
      rolling means of 7, 28 and 91 days from lag 7, nothing under a week so
      that a window a month past the history does not feed on its own
      forecasts every day; weekly: lags 1-4 and 52, means of 4 and 13 weeks;
      monthly: lags 1, 2, 3, 6, 12, means of 3, 6 and 12 months); rolling means
      need one observation (``min_samples=1``) and rows with missing lags are
      kept (LightGBM reads them as missing), so an event early in a short
      history is still learnt from;
    * date parts (month; day of week, day of year and day of month for daily
      data; ISO week for weekly data);
    * the calendar's events, known in advance (``X_df``): a dummy per event
      name, the period into the event and its length, periods to the next event
      and since the last;
    * static codes of the SKU, region (categorical), category and brand
      (categorical);
    * with ``problem.prices``: the planned price and its ratio to the series'
      mean price over the history (dynamic, known in advance).

    LightGBM, learning rate 0.05, row and column subsampling 0.8, L2 0.1;
    from 50,000 training rows a Tweedie objective (variance power 1.1) with
    600 trees of 127 leaves (100 rows or more each), below that a Poisson
    objective with 300 trees of 15 leaves (10 rows); seeded,
    ``deterministic=True``, ``params.threads`` threads. A training table over
    ``params.max_train_rows`` (the engine's row budget) keeps every row on an
    event period and a seeded uniform sample of the others.

    The forecast is recursive (mlforecast's default) from the period after the
    history to the window's end; only the window's dates are returned. Direct
    forecasting (``max_horizon``) would fit one model per period of a horizon
    of up to two months, and is not used.

    Quantiles: mlforecast's conformal intervals (``PredictionIntervals``, two
    calibration windows of the horizon's length; the 80% interval gives q10 and
    q90, q50 is the mean) when the model and its two calibration refits fit in
    100,000 rows and the history holds three horizons; otherwise Poisson
    quantiles of the mean (the refits would triple the cost of a large panel,
    and windows of ordinary days say little about the spread on an event day).
    """

    name = "mlforecast"

    def __init__(self, params: ForecastParams | None = None, seed: int = 0) -> None:
        self.params = params or ForecastParams()
        self.seed = seed

    def fit(self, problem: ForecastProblem) -> MLForecastPeer:
        try:
            from lightgbm import LGBMRegressor
            from mlforecast import MLForecast
            from mlforecast.lag_transforms import RollingMean
            from mlforecast.utils import PredictionIntervals
        except ImportError as err:
            raise ForestockError(
                "mlforecast is not installed: pip install 'forestock[dev]'") from err

        p = self.panel_ = _panel(problem)
        self.periods_ = window_periods(p, problem.window)
        n_hist = p.n_hist
        self.active_ = np.flatnonzero(np.nan_to_num(p.Y[:, :n_hist], nan=0.0).sum(axis=1) > 0)
        self.h_ = int(self.periods_.max()) - n_hist + 1 if self.periods_.size else 0
        if self.active_.size == 0 or self.h_ <= 0:
            self.model_ = None
            return self
        df, self.future_, static = _long_frames(p, problem, self.active_, self.h_)
        setup = _SETUPS[p.freq]
        lags = [k for k in setup.lags if k < n_hist]
        rolling: list[Any] = [RollingMean(window_size=w, min_samples=1) for w in setup.rolling]
        self.model_ = MLForecast(
            models={"lgbm": LGBMRegressor(**_lgbm_settings(len(df), self.seed,
                                                           self.params.threads))},
            freq=1,
            lags=lags,
            lag_transforms={setup.rolling_lag: rolling},
            num_threads=self.params.threads,
        )
        fit_kwargs = {"lgbm": {"categorical_feature": [c for c in static if c in _CATEGORICAL]}}
        self.conformal_ = ((_CONFORMAL_WINDOWS + 1) * len(df) <= _CONFORMAL_ROWS
                           and n_hist >= (_CONFORMAL_WINDOWS + 1) * self.h_)
        log.debug("mlforecast: %d rows, %s quantiles", len(df),
                  "conformal" if self.conformal_ else "Poisson")
        with warnings.catch_warnings():  # lags before the history starts are missing
            warnings.filterwarnings("ignore", message="Found null values", category=UserWarning)
            if self.conformal_:
                self.model_.fit(df, static_features=static, dropna=False,
                                models_fit_kwargs=fit_kwargs,
                                prediction_intervals=PredictionIntervals(
                                    n_windows=_CONFORMAL_WINDOWS, h=self.h_))
            else:  # the row budget (forestock's engine's), every event row kept
                X, y = self.model_.preprocess(df, static_features=static, dropna=False,
                                              return_X_y=True)
                keep = _sample_rows(X["event_day"].to_numpy() >= 0,
                                    self.params.max_train_rows, self.seed)
                self.model_.fit_models(X.iloc[keep], np.asarray(y)[keep], fit_kwargs)
        return self

    def predict(self) -> pd.DataFrame:
        p, periods = self.panel_, self.periods_
        levels = _levels(self.params)
        mean = np.zeros((p.n_series, periods.size))
        q = np.zeros((len(levels), p.n_series, periods.size))
        if self.model_ is not None:
            cover: list[int | float] = sorted({round(abs(2 * lv - 1) * 100)
                                               for lv in levels} - {0})
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Found null values",
                                        category=UserWarning)
                fc = self.model_.predict(self.h_, X_df=self.future_,
                                         level=cover if self.conformal_ else None)
            fc = fc.sort_values(["unique_id", "ds"], kind="stable")

            def window(col: str) -> np.ndarray:
                v = np.maximum(fc[col].to_numpy(dtype=float), 0.0)
                return v.reshape(self.active_.size, self.h_)[:, periods - p.n_hist]

            mean[self.active_] = window("lgbm")
            if self.conformal_:
                for k, lv in enumerate(levels):
                    c = round(abs(2 * lv - 1) * 100)
                    col = "lgbm" if c == 0 else f"lgbm-{'lo' if lv < 0.5 else 'hi'}-{c}"
                    q[k, self.active_] = window(col)
                q = np.maximum.accumulate(q, axis=0)
        if self.model_ is None or not self.conformal_:
            q = nb_quantiles(mean.ravel(), np.zeros(1), levels).reshape(
                len(levels), *mean.shape)
        return _table(p, periods, mean, quantile_columns(levels), q)


def _sample_rows(event: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Rows to train on, in order: every row on an event period (``event``), and a uniform
    sample of the others up to ``budget`` rows in all."""
    rest = np.flatnonzero(~event)
    take = max(budget - int(event.sum()), 0)
    if take < rest.size:
        rest = np.random.default_rng(seed).choice(rest, size=take, replace=False)
    return np.sort(np.concatenate([np.flatnonzero(event), rest]))


# --------------------------------------------------------------------------- level x lift


@dataclass(frozen=True)
class _Spans:
    """How :class:`LevelLift` reads one frequency.

    ``level`` periods make a level, ``min_level`` of them a known one; the
    weekday index spans ``weekday`` days (0: none); ``ordinary``: levels count
    event-free periods only; ``seasonal``: periods without an event are aligned
    with the same period a season earlier, like an event's day.
    """

    level: int
    min_level: int
    weekday: int
    ordinary: bool
    seasonal: bool


_SPANS = {"D": _Spans(28, 7, 56, True, False), "W": _Spans(8, 2, 0, True, False),
          "M": _Spans(12, 6, 0, False, True)}
#: Prior evidence pulling a SKU's lift toward the market's, in levels of the average SKU
#: (a SKU selling ``_LIFT_PRIOR`` times the average SKU weighs its own lift and the
#: market's alike), and pulling its weekday index toward the market's, in days of the
#: average SKU.
_LIFT_PRIOR = 10.0
_WEEKDAY_PRIOR = 7.0


def _recent_mean(C: np.ndarray, n_ok: np.ndarray, first: np.ndarray, ok_at: np.ndarray,
                 end: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean per row over the last ``k`` usable periods before ``end`` (exclusive), counting
    only periods at or after the row's ``first`` one; and the number of periods counted.

    ``C`` are prefix sums of units on usable periods ``[rows, periods + 1]``, ``n_ok`` the
    prefix count of usable periods, ``ok_at`` the usable periods in order.
    """
    before = ok_at[ok_at < end]
    lo = int(before[-k]) if before.size >= k else 0
    a = np.maximum(np.maximum(first, 0), lo)
    a = np.minimum(a, end)
    n = n_ok[end] - n_ok[a]
    s = C[np.arange(C.shape[0]), end] - C[np.arange(C.shape[0]), a]
    return np.where(n > 0, s / np.maximum(n, 1), 0.0), n


class LevelLift:
    """Each series' recent ordinary level times the event's lift at its last occurrence.

    * **Level**: the mean units of the series over its last 28 ordinary
      (event-free) days, or 8 ordinary weeks; for monthly data, where most
      months hold some event, over its last 12 months. Only periods from the
      SKU's first sale on count (a SKU launched lately is measured since its
      launch). Series that never sold forecast 0.
    * **Lift** of day *k* of an event: at the previous occurrence of the event,
      the SKU's national units on its day *k* (its last day when this
      occurrence is longer) over the SKU's national level, measured the same way
      just before that occurrence started, shrunk toward the market's lift
      ``L`` (all SKUs' units over their level): ``(N_k + a L) / (level + a)``
      with ``a`` ten times the average SKU's level, so a SKU selling ten times
      the average SKU weighs its own lift and the market's alike (one
      occurrence's SKU lift is mostly that day's noise). With ``toward``
      ``"category"`` (the default) and a ``category`` column in the SKU table,
      ``L`` is the SKU's category's lift, itself shrunk toward the market's the
      same way (``a`` per category): categories lift differently (the suite's
      grocery, festival and promo sets: WRMSSE 1.453 -> 1.356, 1.314 -> 1.151,
      2.064 -> 1.760, benchmarks/NOTES.md). A SKU without a level before that
      occurrence (launched since) takes the category's (market's) lift; an
      event without a previous occurrence in the history has lift 1.
    * **Periods without an event**: for daily data, the level times the SKU's
      weekday index (its units on the weekday over its mean, on the ordinary days
      of the last 8 weeks, nationally, shrunk toward the market's index with a
      week of the average SKU's units as prior evidence); event days take no
      weekday index, last year's lift carries its own. Weekly data: the level.
      Monthly data: each month is aligned with the same month a year earlier and
      lifted like an event's day (the seasonal profile of the year).

    Quantiles: negative binomial with one dispersion for the whole panel, fitted
    by moments to the units of the periods the level was measured on about each
    series' level (times its weekday index).
    """

    name = "level_lift"

    def __init__(self, params: ForecastParams | None = None, seed: int = 0, *,
                 toward: str = "category") -> None:
        if toward not in ("category", "market"):
            raise ValueError(f"toward must be 'category' or 'market', got {toward!r}")
        self.params = params or ForecastParams()
        self.seed = seed
        self.toward = toward

    def _categories(self, problem: ForecastProblem, p: Panel) -> np.ndarray:
        """Each SKU's category code (all 0: one pool, the market)."""
        skus = problem.skus
        if self.toward == "market" or skus is None or "category" not in skus.columns:
            return np.zeros(len(p.sku_ids), dtype=np.int64)
        cat = skus.drop_duplicates("sku_id").set_index("sku_id")["category"].reindex(p.sku_ids)
        codes, _ = pd.factorize(cat.astype(object).fillna(""))
        return codes.astype(np.int64)

    def fit(self, problem: ForecastProblem) -> LevelLift:
        p = self.panel_ = _panel(problem)
        category = self._categories(problem, p)
        self.periods_ = window_periods(p, problem.window)
        spans = _SPANS[p.freq]
        n_hist, n_sku = p.n_hist, len(p.sku_ids)
        Y = np.nan_to_num(p.Y[:, :n_hist], nan=0.0).astype(float)
        N = _group(Y, p.series_sku, n_sku)
        tot = N.sum(axis=0)
        ordinary = p.ordinary[:n_hist]
        usable = ordinary if spans.ordinary else np.ones(n_hist, dtype=bool)
        ok_at = np.flatnonzero(usable)
        n_ok = np.concatenate([[0], np.cumsum(usable)])

        def prefix(A: np.ndarray) -> np.ndarray:
            return np.concatenate([np.zeros((A.shape[0], 1)), np.cumsum(A * usable, axis=1)],
                                  axis=1)

        CY, CN, Ct = prefix(Y), prefix(N), prefix(tot[None, :])
        sold = N > 0
        sku_first = np.where(sold.any(axis=1), np.argmax(sold, axis=1), n_hist)
        level, _ = _recent_mean(CY, n_ok, sku_first[p.series_sku], ok_at, n_hist, spans.level)
        self.level_ = level
        # each window period: the lift of its event day at the previous occurrence
        m = self.periods_.size
        lift = np.ones((n_sku, m))
        has_event = np.zeros(m, dtype=bool)
        cache: dict[tuple[int, int], np.ndarray] = {}
        for j, t in enumerate(self.periods_):
            if p.event_code[t] >= 0:
                has_event[j] = True
                start = int(p.prev_start[t])
                r = start + min(int(p.event_offset[t]), int(p.event_length[max(start, 0)]) - 1)
            elif spans.seasonal:
                has_event[j] = True
                start = r = int(t) - p.season
            else:
                continue
            if start < 0 or r >= n_hist:
                continue
            if (start, r) not in cache:
                cache[start, r] = self._lift(N, tot, CN, Ct, n_ok, ok_at, sku_first, start, r,
                                             spans, category)
            lift[:, j] = cache[start, r]
        self.lift_, self.has_event_ = lift, has_event
        # weekday index (daily) over the ordinary days of the last weeks
        index = np.ones((n_sku, m))
        fitted_index = np.ones((n_sku, n_hist))
        if p.freq == "D":
            wd = p.dates.dayofweek.to_numpy()
            days = np.arange(max(n_hist - spans.weekday, 0), n_hist)
            use = ordinary[days][None, :] & (days[None, :] >= sku_first[:, None])
            idx_wd = self._weekday_index(N[:, days], ordinary[days], use, wd[days])
            index = idx_wd[:, wd[self.periods_]]
            fitted_index = idx_wd[:, wd[:n_hist]]
        self.index_ = index
        self.dispersion_ = self._dispersion(Y, usable, level, fitted_index, spans, p)
        return self

    @staticmethod
    def _lift(N: np.ndarray, tot: np.ndarray, CN: np.ndarray, Ct: np.ndarray,
              n_ok: np.ndarray, ok_at: np.ndarray, sku_first: np.ndarray, start: int, r: int,
              spans: _Spans, category: np.ndarray) -> np.ndarray:
        """Each SKU's lift on period ``r`` of the occurrence starting at ``start``, shrunk
        toward its ``category``'s lift, itself shrunk toward the market's."""
        base, count = _recent_mean(CN, n_ok, sku_first, ok_at, start, spans.level)
        mbase, _ = _recent_mean(Ct, n_ok, np.zeros(1, dtype=np.int64), ok_at, start,
                                spans.level)
        market = tot[r] / mbase[0] if mbase[0] > 0 else 1.0
        known = count >= spans.min_level
        units = np.where(known, N[:, r], 0.0)
        base = np.where(known, base, 0.0)
        prior = _LIFT_PRIOR * (base[known].mean() if known.any() else 1.0)
        k = int(category.max()) + 1 if category.size else 1
        if k > 1:
            pooled = (np.bincount(category, units, k) + prior * market) / (
                np.bincount(category, base, k) + prior)
            lift = pooled[category]
        else:
            lift = np.full(units.size, market)
        return (units + prior * lift) / (base + prior)

    @staticmethod
    def _weekday_index(N: np.ndarray, ordinary: np.ndarray, use: np.ndarray, wd: np.ndarray
                       ) -> np.ndarray:
        """``[sku, 7]``: each SKU's units on a weekday over its mean (on the days it may
        use), shrunk toward the market's index on the ordinary days."""
        onehot = (wd[:, None] == np.arange(7)[None, :]).astype(float)  # [days, 7]
        units = (N * use) @ onehot
        days = use.astype(float) @ onehot
        mean = (N * use).sum(axis=1, keepdims=True) / np.maximum(
            use.sum(axis=1, keepdims=True), 1)
        tot = N.sum(axis=0) * ordinary
        mdays = ordinary.astype(float) @ onehot
        mmean = tot.sum() / max(int(ordinary.sum()), 1)
        market = np.ones(7)
        if mmean > 0:
            market = np.where(mdays > 0, (tot @ onehot) / np.maximum(mdays, 1) / mmean, 1.0)
        prior = _WEEKDAY_PRIOR * float(mean.mean())
        if prior <= 0:
            return np.ones((N.shape[0], 7))
        return (units + prior * market[None, :]) / (days * mean + prior)

    @staticmethod
    def _dispersion(Y: np.ndarray, usable: np.ndarray, level: np.ndarray,
                    index: np.ndarray, spans: _Spans, p: Panel) -> float:
        """One negative binomial dispersion by moments: units on the periods the level was
        measured on (daily: the usable days of the weekday index's span) about each series'
        level (times its weekday index)."""
        span = spans.weekday or spans.level
        days = np.flatnonzero(usable)
        days = days[days >= p.n_hist - span] if spans.weekday else days[-span:]
        if days.size == 0:
            return 0.0
        mu = level[:, None] * index[p.series_sku][:, days]
        y = Y[:, days]
        den = float((mu**2).sum())
        return max(float(((y - mu) ** 2 - mu).sum()) / den, 0.0) if den > 0 else 0.0

    def predict(self) -> pd.DataFrame:
        p = self.panel_
        sku = p.series_sku
        factor = np.where(self.has_event_[None, :], self.lift_[sku], self.index_[sku])
        mean = self.level_[:, None] * factor
        levels = _levels(self.params)
        q = nb_quantiles(mean.ravel(), np.full(1, self.dispersion_), levels).reshape(
            len(levels), *mean.shape)
        return _table(p, self.periods_, mean, quantile_columns(levels), q)

