"""Seasonal naive: last year's event aligned by event day, scaled by growth."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from forestock.forecast._features import Aggregates, _ordinary_level, _window, aggregates
from forestock.forecast._panel import LEVELS, Panel, build_panel, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem, quantile_columns


def reference_periods(p: Panel, periods: np.ndarray) -> np.ndarray:
    """Each window period's reference: the aligned day of the previous occurrence of its
    event, else the same period a season earlier; -1 where neither is in the history."""
    prev = p.prev_start[periods].astype(np.int64)
    aligned = prev + p.event_offset[periods]
    ref = np.where((prev >= 0) & (aligned < p.n_hist), aligned, periods - p.season)
    return np.where((ref >= 0) & (ref < p.n_hist), ref, -1)


class SeasonalNaive:
    """The planner's classic, and the baseline to beat.

    Growth compares the ordinary (non-event) level of recent periods with the
    same periods a season earlier, per SKU, shrunk toward the market's growth
    with ``params.shrink`` units of evidence. Both windows lie inside the
    history: with less than a season and a quarter of ``growth_days`` of history
    there is no year-ago twin of the recent periods, and last year's units are
    kept as they were (growth 1). Series whose SKU did not sell at the reference
    take their recent level times the market's lift at the reference.
    """

    name = "seasonal_naive"

    def __init__(self, params: ForecastParams | None = None, seed: int = 0) -> None:
        self.params = params or ForecastParams()
        self.seed = seed

    def fit(self, problem: ForecastProblem) -> SeasonalNaive:
        self.panel_ = build_panel(problem.history, problem.calendar, problem.window,
                                  None if problem.skus is None else
                                  problem.skus["sku_id"].to_numpy(dtype=object),
                                  None if problem.regions is None else
                                  problem.regions["region_id"].to_numpy(dtype=object))
        self.agg_: Aggregates = aggregates(self.panel_)
        self.periods_ = window_periods(self.panel_, problem.window)
        return self

    def predict(self) -> pd.DataFrame:
        p, a, prm = self.panel_, self.agg_, self.params
        end = p.n_hist - 1
        span = {"D": prm.growth_days, "W": max(prm.growth_days // 7, 2), "M": 3}[p.freq]
        n_sku = len(p.sku_ids)
        # Growth compares the last k periods with the same k periods a season earlier, both
        # inside the history; a history too short for that (a year and a few days) has no
        # year-ago twin to compare with and keeps last year's units as they were.
        k = min(span, end - p.season + 1)
        now = then = np.zeros(n_sku)
        growth = np.ones(n_sku)
        if k >= max(span // 4, 1):
            skus = np.arange(n_sku)
            last = np.full(n_sku, end)
            then_end = np.full(n_sku, end - p.season)
            now = _ordinary_level(a.CN_ord, a.n_ord, skus, last, k)
            then = _ordinary_level(a.CN_ord, a.n_ord, skus, then_end, k)
            n_then = a.n_ord[end - p.season + 1] - a.n_ord[end - p.season + 1 - k]
            if np.isnan(now).all() or np.isnan(then).all():  # every recent period had an event
                now = _window(a.CN, skus, last, k)
                then = _window(a.CN, skus, then_end, k)
                n_then = k
            now, then = np.nan_to_num(now), np.nan_to_num(then)
            market = (now.sum() + 1e-9) / (then.sum() + 1e-9) if then.sum() > 0 else 1.0
            # a SKU's growth, shrunk toward the market's by ``shrink`` units of evidence: the
            # units it sold a season ago against what it sells now on as many periods
            growth = np.clip((now * n_then + prm.shrink * market)
                             / (then * n_then + prm.shrink), 0.2, 5.0)
        ref = reference_periods(p, self.periods_)
        Y = np.nan_to_num(p.Y, nan=0.0)
        n, m = p.n_series, self.periods_.size
        mean = np.zeros((n, m))
        series = np.arange(n)
        level = _ordinary_level(a.C_ord, a.n_ord, series, np.full(n, end), LEVELS[p.freq][1])
        level = np.where(np.isnan(level), _window(a.C, series, np.full(n, end),
                                                  LEVELS[p.freq][1]), level)
        for j, r in enumerate(ref):
            if r < 0:
                mean[:, j] = np.nan_to_num(level)
                continue
            mean[:, j] = Y[:, r] * growth[p.series_sku]
            base = _ordinary_level(a.Ctot_ord[None, :], a.n_ord, np.zeros(1, dtype=np.int64),
                                   np.array([max(r - 1, 0)]), LEVELS[p.freq][1])[0]
            lift = a.tot[r] / base if base and base > 0 else 1.0
            unsold = a.N[p.series_sku, r] == 0
            mean[unsold, j] = np.nan_to_num(level[unsold]) * lift
        flat = mean.ravel()
        out = pd.DataFrame({
            "sku_id": np.repeat(p.sku_ids[p.series_sku], m),
            "region_id": np.repeat(p.region_ids[p.series_region], m),
            "date": np.tile(p.dates[self.periods_].to_numpy(), n),
            "mean": flat,
        })
        logs = np.log((now + 1) / (then + 1))
        spread = float(np.clip(1.4826 * np.median(np.abs(logs - np.median(logs))), 0.1, 1.0))
        sd = np.sqrt(flat + (spread * flat) ** 2)
        levels = tuple(sorted({*prm.quantiles, 0.1, 0.5, 0.9}))
        for name, q in zip(quantile_columns(levels), levels, strict=True):
            out[name] = np.maximum(flat + NormalDist().inv_cdf(q) * sd, 0.0)
        return out
