"""Statistical baselines through Nixtla's statsforecast: AutoETS and TSB, bottom-up."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestock.forecast._panel import Panel, build_panel, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem, quantile_columns

_SEASON = {"D": 7, "W": 1, "M": 12}
#: Periods of history an ETS model is fitted on at most (a year of days, two of weeks, all
#: months): an exponentially weighted model gains nothing from older data, and its fit
#: costs time linear in the series' length.
_RECENT = {"D": 364, "W": 104, "M": 10_000}


class StatsBaseline:
    """One statsforecast model per bottom series (SKU x region), summed bottom-up.

    ``model`` is ``"ets"`` (AutoETS) or ``"tsb"`` (Teunter-Syntetos-Babai for
    intermittent demand), AutoETS on the last year of days (two of weeks, all months).
    Quantiles are not produced by these baselines: the
    q columns repeat the mean.
    """

    def __init__(self, model: str = "ets", params: ForecastParams | None = None,
                 seed: int = 0) -> None:
        if model not in ("ets", "tsb"):
            raise ValueError(f"model must be 'ets' or 'tsb', got {model!r}")
        self.model = model
        self.name = {"ets": "auto_ets", "tsb": "tsb"}[model]
        self.params = params or ForecastParams()
        self.seed = seed

    def fit(self, problem: ForecastProblem) -> StatsBaseline:
        self.panel_: Panel = build_panel(problem.history, problem.calendar, problem.window,
                                         None if problem.skus is None else
                                         problem.skus["sku_id"].to_numpy(dtype=object),
                                         None if problem.regions is None else
                                         problem.regions["region_id"].to_numpy(dtype=object))
        self.periods_ = window_periods(self.panel_, problem.window)
        return self

    def predict(self) -> pd.DataFrame:
        from statsforecast import StatsForecast
        from statsforecast.models import TSB, AutoETS

        p = self.panel_
        n, n_hist = p.n_series, p.n_hist
        keep = min(n_hist, _RECENT[p.freq]) if self.model == "ets" else n_hist
        Y = np.nan_to_num(p.Y[:, n_hist - keep:n_hist], nan=0.0)
        active = Y.sum(axis=1) > 0
        idx = np.flatnonzero(active)
        h = int(self.periods_.max() - (n_hist - 1))
        mean = np.zeros((n, self.periods_.size))
        if idx.size:
            long = pd.DataFrame({
                "unique_id": np.repeat(idx, keep),
                "ds": np.tile(np.arange(keep), idx.size),
                "y": Y[idx].ravel(),
            })
            season = _SEASON[p.freq] if keep >= 2 * _SEASON[p.freq] + 2 else 1
            model = (AutoETS(season_length=season) if self.model == "ets"
                     else TSB(alpha_d=0.1, alpha_p=0.1))
            sf = StatsForecast(models=[model], freq=1, n_jobs=1)
            fc = sf.forecast(df=long, h=h)
            col = next(c for c in fc.columns if c not in ("unique_id", "ds"))
            vals = fc[col].to_numpy().reshape(idx.size, h)
            mean[idx] = np.maximum(vals[:, self.periods_ - n_hist], 0.0)
        m = self.periods_.size
        out = pd.DataFrame({
            "sku_id": np.repeat(p.sku_ids[p.series_sku], m),
            "region_id": np.repeat(p.region_ids[p.series_region], m),
            "date": np.tile(p.dates[self.periods_].to_numpy(), n),
            "mean": mean.ravel(),
        })
        levels = tuple(sorted({*self.params.quantiles, 0.1, 0.5, 0.9}))
        for name in quantile_columns(levels):
            out[name] = out["mean"]
        return out
