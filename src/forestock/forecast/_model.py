"""The global LightGBM model: one direct model over every SKU x region series.

Rows are (series, origin, target) triples taken from the history at the
horizons of the window to forecast; the model learns a multiplier on each
row's ordinary level (a Tweedie GLM offset), so one model serves series of
any size. Quantiles come from a negative binomial around the mean whose
dispersion is calibrated, per bucket, on out-of-fold predictions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import stats

from forestock.errors import ForestockError
from forestock.forecast._features import aggregates, row_features
from forestock.forecast._panel import LEVELS, Panel, build_panel, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem, quantile_columns

log = logging.getLogger("forestock.forecast")

_CATEGORICAL = ("event", "category", "brand", "region")
_DISPERSIONS = np.array([0.0, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6,
                         0.8, 1.0, 1.3, 1.7, 2.2, 3.0, 4.0, 6.0])


def nb_quantiles(mean: np.ndarray, phi: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """Quantiles of a negative binomial with ``mean`` and variance ``mean + phi mean^2``.

    ``phi == 0`` is Poisson. Returns ``[len(levels), len(mean)]``, never crossing.
    """
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    phi = np.broadcast_to(np.asarray(phi, dtype=float), mean.shape)
    out = np.zeros((len(levels), mean.size))
    pos = mean > 0
    poi = pos & (phi <= 0)
    nb = pos & (phi > 0)
    n = 1.0 / np.where(nb, phi, 1.0)
    prob = n / (n + np.where(nb, mean, 1.0))
    for k, q in enumerate(levels):
        if poi.any():
            out[k, poi] = stats.poisson.ppf(q, mean[poi])
        if nb.any():
            out[k, nb] = stats.nbinom.ppf(q, n[nb], prob[nb])
    return np.maximum.accumulate(out, axis=0)


@dataclass(frozen=True)
class _Rows:
    series: np.ndarray
    origin: np.ndarray
    target: np.ndarray


class GlobalModel:
    """forestock's engine: a global LightGBM direct model with calibrated quantiles.

    ``fit(problem)`` learns from the history; ``predict()`` returns the
    forecast table for the problem's window.
    """

    name = "forestock"

    def __init__(self, params: ForecastParams | None = None, seed: int = 0) -> None:
        self.params = params or ForecastParams()
        self.seed = seed

    # ------------------------------------------------------------------ data
    def _static(self, problem: ForecastProblem, panel: Panel) -> tuple[pd.DataFrame,
                                                                        pd.DataFrame]:
        sku = pd.DataFrame(index=range(len(panel.sku_ids)))
        if problem.skus is not None:
            s = problem.skus.set_index("sku_id").reindex(panel.sku_ids)
            sku["category"] = pd.factorize(s["category"])[0].astype(np.float32)
            sku["brand"] = pd.factorize(s["brand_id"])[0].astype(np.float32)
            sku["log_price"] = np.log1p(s["price"].to_numpy(dtype=float)).astype(np.float32)
        reg = pd.DataFrame({"region": np.arange(len(panel.region_ids), dtype=np.float32)})
        if problem.regions is not None:
            r = problem.regions.set_index("region_id").reindex(panel.region_ids)
            reg["log_population"] = np.log1p(r["population"].to_numpy(dtype=float))
        return sku, reg

    def _price_matrix(self, problem: ForecastProblem, panel: Panel) -> np.ndarray | None:
        """Planned over regular price per SKU and period (NaN where not planned)."""
        if problem.prices is None or problem.skus is None or problem.prices.empty:
            return None
        from forestock.forecast._panel import period_index

        pr = problem.prices
        s = pd.Index(panel.sku_ids).get_indexer(pr["sku_id"].astype(object))
        t = period_index(pr["date"], panel.start, panel.freq)
        ok = (s >= 0) & (t >= 0) & (t < panel.Y.shape[1])
        total = np.zeros((len(panel.sku_ids), panel.Y.shape[1]))
        count = np.zeros_like(total)
        np.add.at(total, (s[ok], t[ok]), pr["price"].to_numpy(dtype=float)[ok])
        np.add.at(count, (s[ok], t[ok]), 1.0)
        regular = problem.skus.set_index("sku_id").reindex(panel.sku_ids)["price"].to_numpy(
            dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = total / count / regular[:, None]
        return np.where(count > 0, ratio, np.nan)

    def _rows(self, panel: Panel, horizons: np.ndarray, rng: np.random.Generator) -> _Rows:
        """Training rows: origins through the history at the window's horizons."""
        long_ = LEVELS[panel.freq][2]
        t_min = min(long_, max(panel.n_hist // 4, 1))
        last = panel.n_hist - 1
        pairs: set[tuple[int, int]] = set()
        stride = 7 if panel.freq == "D" else 1
        for h in horizons:
            for o in range(last - int(h), t_min - 1, -stride):
                pairs.add((o, o + int(h)))
            # every past event period is a target; early ones from the earliest origin
            # with a little history (a shorter horizon beats not learning the event)
            early = {"D": 14, "W": 3, "M": 2}[panel.freq]
            for e in np.flatnonzero(panel.event_code[: panel.n_hist] >= 0):
                o = max(int(e) - int(h), min(t_min, early))
                if o < int(e):
                    pairs.add((o, int(e)))
        if not pairs:
            raise ForestockError(
                f"the history ({panel.n_hist} periods) is too short to learn a forecast "
                f"{int(horizons.max())} periods ahead"
            )
        ordered = sorted(pairs)
        origin = np.array([o for o, _ in ordered])
        target = np.array([t for _, t in ordered])
        is_event = panel.event_code[target] >= 0
        n = panel.n_series
        budget = self.params.max_train_rows
        n_ev, n_or = int(is_event.sum()), int((~is_event).sum())
        ev_quota = min(n, budget // 2 // max(n_ev, 1)) if n_ev else 0
        or_quota = min(n, (budget - ev_quota * n_ev) // max(n_or, 1)) if n_or else 0
        ser, org, tgt = [], [], []
        for o, t, ev in zip(origin, target, is_event, strict=True):
            k = ev_quota if ev else or_quota
            if k <= 0:
                continue
            pick = np.arange(n) if k >= n else np.sort(rng.choice(n, size=k, replace=False))
            ser.append(pick)
            org.append(np.full(pick.size, o))
            tgt.append(np.full(pick.size, t))
        return _Rows(np.concatenate(ser), np.concatenate(org), np.concatenate(tgt))

    def _features(self, rows: _Rows) -> tuple[pd.DataFrame, np.ndarray]:
        price = None
        if self.price_ is not None:
            price = self.price_[self.panel_.series_sku[rows.series], rows.target]
        return row_features(self.panel_, self.agg_, rows.series, rows.origin, rows.target,
                            self.sku_static_, self.region_static_, price)

    # ------------------------------------------------------------------ model
    def _booster(self, X: pd.DataFrame, y: np.ndarray, base: np.ndarray) -> lgb.Booster:
        p = self.params
        cats = [c for c in _CATEGORICAL if c in X.columns]
        data = lgb.Dataset(X, label=y, init_score=np.log(base), categorical_feature=cats,
                           free_raw_data=True, params={"verbose": -1})
        cfg = {
            "objective": "tweedie",
            "tweedie_variance_power": p.tweedie_power,
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "min_data_in_leaf": p.min_data_in_leaf,
            "feature_fraction": 0.85,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "cat_smooth": 20.0,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            # small data: one thread (OpenMP threads spin-waiting cost more than they give)
            "num_threads": p.threads if len(y) >= 200_000 else 1,
            "verbose": -1,
        }
        return lgb.train(cfg, data, num_boost_round=p.rounds)

    @staticmethod
    def _mean(booster: lgb.Booster, X: pd.DataFrame, base: np.ndarray) -> np.ndarray:
        raw = booster.predict(X, raw_score=True)
        return np.asarray(base * np.exp(np.clip(raw, -20, 20)))

    def fit(self, problem: ForecastProblem) -> GlobalModel:
        """Build the panel and features, fit the model, calibrate the quantiles."""
        rng = np.random.default_rng(self.seed)
        self.problem_ = problem
        self.panel_ = build_panel(problem.history, problem.calendar, problem.window,
                                  _ids(problem.skus, "sku_id"), _ids(problem.regions, "region_id"))
        self.agg_ = aggregates(self.panel_)
        self.periods_ = window_periods(self.panel_, problem.window)
        if self.periods_.size == 0:
            raise ForestockError(f"the window {problem.window.start}..{problem.window.end} "
                                 "holds no period after the history")
        horizons = self.periods_ - (self.panel_.n_hist - 1)
        self.sku_static_, self.region_static_ = self._static(problem, self.panel_)
        self.price_ = self._price_matrix(problem, self.panel_)
        rows = self._rows(self.panel_, horizons, rng)
        X, base = self._features(rows)
        y = self.panel_.Y[rows.series, rows.target].astype(np.float64)
        # out-of-fold means for calibration: two folds of SKUs. Both folds see every event,
        # as the forecast will; a SKU's regions share its shocks, so they share a fold.
        sku_fold = rng.permutation(len(self.panel_.sku_ids)) % 2
        fold = sku_fold[self.panel_.series_sku[rows.series]]
        oof = np.empty(len(y))
        for k in (0, 1):
            train, test = fold != k, fold == k
            if train.sum() == 0 or test.sum() == 0:
                oof[test] = base[test]
                continue
            b = self._booster(X[train], y[train], base[train])
            oof[test] = self._mean(b, X[test], base[test])
        self.booster_ = self._booster(X, y, base)
        self.dispersion_ = _calibrate(oof, y, (X["event"].to_numpy() > 0),
                                      self.params.coverage)
        self.train_rows_ = len(y)
        log.info("global model: %s training rows, %s features", len(y), X.shape[1])
        return self

    def predict(self) -> pd.DataFrame:
        """The forecast table: every series on every period of the window."""
        p = self.panel_
        n, m = p.n_series, self.periods_.size
        rows = _Rows(np.repeat(np.arange(n), m), np.full(n * m, p.n_hist - 1),
                     np.tile(self.periods_, n))
        X, base = self._features(rows)
        mean = self._mean(self.booster_, X, base)
        phi = _dispersion_for(self.dispersion_, mean, X["event"].to_numpy() > 0)
        return _table(p, rows, mean, phi, self.params)


def _ids(frame: pd.DataFrame | None, col: str) -> np.ndarray | None:
    return None if frame is None else frame[col].to_numpy(dtype=object)


def _buckets(mean: np.ndarray) -> np.ndarray:
    edges = np.array([0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0])
    return np.searchsorted(edges, mean)


def _calibrate(mean: np.ndarray, y: np.ndarray, event: np.ndarray, coverage: float
               ) -> dict[tuple[bool, int], float]:
    """Per (event or not, size) bucket, the dispersion whose central interval covers best."""
    lo, hi = (1 - coverage) / 2, 1 - (1 - coverage) / 2
    out: dict[tuple[bool, int], float] = {}
    b = _buckets(mean)
    for ev in (False, True):
        for k in np.unique(b):
            sel = (b == k) & (event == ev)
            if sel.sum() < 30:
                continue
            idx = np.flatnonzero(sel)
            if idx.size > 4000:  # a fixed subsample keeps calibration quick
                idx = idx[:: idx.size // 4000 + 1]
            mu, obs = mean[idx], y[idx]
            best, best_gap = 0.0, np.inf
            for phi in _DISPERSIONS:
                q = nb_quantiles(mu, np.full(mu.size, phi), (lo, hi))
                cov = float(np.mean((obs >= q[0]) & (obs <= q[1])))
                gap = abs(cov - coverage)
                if gap < best_gap - 1e-9:
                    best, best_gap = float(phi), gap
                if cov >= coverage:
                    break
            out[(ev, int(k))] = best
    return out


def _dispersion_for(table: dict[tuple[bool, int], float], mean: np.ndarray, event: np.ndarray
                    ) -> np.ndarray:
    b = _buckets(mean)
    fallback = max(table.values()) if table else 0.3
    phi = np.full(mean.size, fallback)
    for ev in (False, True):
        for k in np.unique(b):
            sel = (b == k) & (event == ev)
            if (ev, int(k)) in table:
                phi[sel] = table[(ev, int(k))]
            elif (not ev, int(k)) in table:
                phi[sel] = table[(not ev, int(k))]
    return phi


def _table(p: Panel, rows: _Rows, mean: np.ndarray, phi: np.ndarray, params: ForecastParams
           ) -> pd.DataFrame:
    levels = tuple(sorted({*params.quantiles, 0.1, 0.5, 0.9}))
    q = nb_quantiles(mean, phi, levels)
    out = pd.DataFrame({
        "sku_id": p.sku_ids[p.series_sku[rows.series]],
        "region_id": p.region_ids[p.series_region[rows.series]],
        "date": p.dates[rows.target],
        "mean": mean,
    })
    for name, k in zip(quantile_columns(levels), range(len(levels)), strict=True):
        out[name] = q[k]
    return out
