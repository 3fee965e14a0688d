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

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.events import Window
from forestock.forecast._features import (
    Aggregates,
    Market,
    aggregates,
    row_features,
    unread_lift,
)
from forestock.forecast._panel import LEVELS, Panel, build_panel, period_index, window_periods
from forestock.forecast._price import PriceResponse, price_response
from forestock.forecast._problem import ForecastParams, ForecastProblem, quantile_columns

log = logging.getLogger("forestock.forecast")

_CATEGORICAL = ("event", "category", "brand", "region")
#: The SKU table's attributes among the features (see ``GlobalModel(without=...)``).
SKU_FEATURES = ("category", "brand", "log_price")
#: The global model's weight at most in the mean of a cell whose SKU's own lift at the
#: event's last occurrence cannot be read (it began selling shortly before it, or after):
#: the trees' lift for such a SKU rests on the few SKUs launched around earlier
#: occurrences. On the suite's festival (seeds 0 and 1) five or six of them lifted 0.48
#: and 0.56 times as much as the other SKUs at the 2024 sale; the trees gave the 2025
#: sale's launches 0.95 and 0.62 times the others' lift, where they lifted 1.25 and 1.06
#: times as much. Level x lift gives them the market's. With 0.5 there (benchmarks/forecast.py)
#: festival s0 / s1 went 0.815 / 1.524 -> 0.812 / 1.476, promo s0 / s1 1.266 / 1.346 ->
#: 1.256 / 1.328, the worlds 3.419 -> 3.423 (grocery has no launches, Stallion's windows
#: are not events); with level x lift alone there (0, rescored offline) festival s1 came
#: out 1.412 but s0 0.836 (benchmarks/NOTES.md).
UNREAD_WEIGHT = 0.5
_DISPERSIONS = np.array([0.0, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6,
                         0.8, 1.0, 1.3, 1.7, 2.2, 3.0, 4.0, 6.0])


#: The share of a training target's series drawn by their last year's units (the rest
#: evenly) where the row budget cannot take them all. 0.5 against 0 (every series
#: alike): festival 0.812 -> 0.788, promo 1.256 -> 1.197, grocery 1.272 -> 1.275, and of
#: seed 1 -3.8%, -1.3%, -0.8%; the worlds' mean 3.423 -> 3.401; Stallion the same (its
#: budget takes every series) (``benchmarks/NOTES.md``).
VOLUME_SHARE = 0.5


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
    weight: np.ndarray | None = None


@dataclass(frozen=True)
class _View:
    """A panel (all SKUs, or a block of them) with what its features need."""

    panel: Panel
    agg: Aggregates
    sku_static: pd.DataFrame
    region_static: pd.DataFrame
    price: PriceResponse | None


class GlobalModel:
    """forestock's engine: a global LightGBM direct model with calibrated quantiles.

    ``fit(problem)`` learns from the history; ``predict()`` returns the
    forecast table for the problem's window. ``callbacks`` hears the fit as the
    task ``task``: a step for the panel, one for the features, then one per
    boosting round. ``without`` names SKU attributes (of :data:`SKU_FEATURES`)
    the model does not learn from: the block path leaves out those whose values
    the SKUs it learns from do not all cover.
    """

    name = "forestock"

    def __init__(self, params: ForecastParams | None = None, seed: int = 0,
                 callbacks: Callbacks | None = None, task: str = "fit",
                 without: tuple[str, ...] = ()) -> None:
        unknown = [c for c in without if c not in SKU_FEATURES]
        if unknown:
            raise ValueError(f"without names {unknown[0]!r}, not one of the SKU features "
                             f"{', '.join(SKU_FEATURES)}")
        self.params = params or ForecastParams()
        self.seed = seed
        self.callbacks = callbacks or NO_CALLBACKS
        self.task = task
        self.without = tuple(without)
        self._started = False

    # ------------------------------------------------------------------ data
    @staticmethod
    def _static(problem: ForecastProblem, panel: Panel) -> tuple[pd.DataFrame, pd.DataFrame]:
        """SKU and region attributes; codes come from the whole tables, so every block of
        SKUs codes a brand or category alike."""
        sku = pd.DataFrame(index=range(len(panel.sku_ids)))
        if problem.skus is not None:
            s = problem.skus.set_index("sku_id")
            category = pd.Series(pd.factorize(s["category"], sort=True)[0], index=s.index)
            brand = pd.Series(pd.factorize(s["brand_id"], sort=True)[0], index=s.index)
            ids = pd.Index(panel.sku_ids)
            sku["category"] = category.reindex(ids).to_numpy(dtype=np.float32)
            sku["brand"] = brand.reindex(ids).to_numpy(dtype=np.float32)
            sku["log_price"] = np.log1p(s["price"].reindex(ids).to_numpy(dtype=float)).astype(
                np.float32)
        reg = pd.DataFrame({"region": np.arange(len(panel.region_ids), dtype=np.float32)})
        if problem.regions is not None:
            r = problem.regions.set_index("region_id").reindex(panel.region_ids)
            reg["log_population"] = np.log1p(r["population"].to_numpy(dtype=float))
        return sku, reg

    def view(self, problem: ForecastProblem, panel: Panel, market: Market | None = None
             ) -> _View:
        """``panel`` ready for features; ``market`` when it holds only some SKUs."""
        sku, reg = self._static(problem, panel)
        agg = aggregates(panel, market)
        ratio = self._price_matrix(problem, panel)
        price = None
        if ratio is not None and problem.skus is not None:
            # categories coded over the whole SKU table (one more for SKUs without one)
            n_cat = int(problem.skus["category"].nunique()) + 1
            codes = np.nan_to_num(sku["category"].to_numpy(dtype=float), nan=n_cat - 1)
            price = price_response(panel, agg, ratio, codes.astype(np.int64), n_cat,
                                   None if market is None else market.price)
        return _View(panel, agg, sku, reg, price)

    def _price_matrix(self, problem: ForecastProblem, panel: Panel) -> np.ndarray | None:
        """Planned over regular price per series and period (NaN where not planned).

        A price row without a region applies to the SKU everywhere; a row for a
        region overrides it there.
        """
        if problem.prices is None or problem.skus is None or problem.prices.empty:
            return None
        pr = problem.prices
        s = pd.Index(panel.sku_ids).get_indexer(pr["sku_id"].astype(object))
        t = period_index(pr["date"], panel.start, panel.freq)
        regional = pr["region_id"].notna().to_numpy() if "region_id" in pr else np.zeros(
            len(pr), dtype=bool)
        r = np.full(len(pr), -1)
        if regional.any():
            r[regional] = pd.Index(panel.region_ids).get_indexer(
                pr["region_id"][regional].astype(object))
        n_t = panel.Y.shape[1]
        price = pr["price"].to_numpy(dtype=float)
        regular = problem.skus.set_index("sku_id").reindex(panel.sku_ids)["price"].to_numpy(
            dtype=float)

        def mean_at(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
            total = np.zeros((n, n_t))
            count = np.zeros_like(total)
            np.add.at(total, (rows, cols), vals)
            np.add.at(count, (rows, cols), 1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(count > 0, total / count, np.nan)

        ok = (s >= 0) & (t >= 0) & (t < n_t)
        nat = ok & ~regional
        if not nat.any():  # regional prices only: the SKU's mean stands in where none given
            nat = ok
        sku_price = mean_at(s[nat], t[nat], price[nat], len(panel.sku_ids))
        out = sku_price[panel.series_sku]
        reg = ok & regional & (r >= 0)
        if reg.any():
            row = panel.series_of(s[reg], r[reg])
            have = row >= 0
            own = mean_at(row[have], t[reg][have], price[reg][have], panel.n_series)
            out = np.where(np.isnan(own), out, own)
        reg_price = regular[panel.series_sku, None]
        good = reg_price > 0
        return np.where(good, out / np.where(good, reg_price, 1.0), np.nan).astype(np.float32)

    def _rows(self, v: _View, horizons: np.ndarray, rng: np.random.Generator) -> _Rows:
        """Training rows: origins through the history at the window's horizons."""
        panel = v.panel
        long_ = LEVELS[panel.freq][2]
        t_min = min(long_, max(panel.n_hist // 4, 1))
        last = panel.n_hist - 1
        pairs: set[tuple[int, int]] = set()
        stride = 7 if panel.freq == "D" else 1
        for h in horizons:
            for o in range(last - int(h), t_min - 1, -stride):
                pairs.add((o, o + int(h)))
            # every past event period is a target; early ones from the earliest origin
            # with a little history (a shorter horizon beats not learning the event), but
            # only for an event no occurrence of which is seen at the full horizon: a
            # shortened horizon sees a level too close to the event to be like the forecast's
            early = {"D": 14, "W": 3, "M": 2}[panel.freq]
            events = np.flatnonzero(panel.event_code[: panel.n_hist] >= 0)
            full = {int(panel.event_code[e]) for e in events if int(e) - int(h) >= t_min}
            for e in events:
                o = max(int(e) - int(h), min(t_min, early))
                if o < int(e) and (int(e) - o == int(h) or
                                   int(panel.event_code[e]) not in full):
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
        # every series that sold, and as many that never did (weighted up to all of them):
        # those teach that an empty series stays near empty, at a fraction of the rows
        live = np.flatnonzero(v.agg.first_sale >= 0)
        dead = np.flatnonzero(v.agg.first_sale < 0)
        keep = dead if dead.size <= max(live.size, 1) else np.sort(
            rng.choice(dead, size=max(live.size, 1), replace=False))
        pool = np.concatenate([live, keep])
        pool_weight = np.concatenate([np.ones(live.size),
                                      np.full(keep.size, dead.size / max(keep.size, 1))])
        n = max(pool.size, 1)
        budget = self.params.max_train_rows
        n_ev, n_or = int(is_event.sum()), int((~is_event).sum())
        ev_quota = min(n, budget // 2 // max(n_ev, 1)) if n_ev else 0
        or_quota = min(n, (budget - ev_quota * n_ev) // max(n_or, 1)) if n_or else 0
        # where a target's quota is short of the pool, its series are drawn half evenly and
        # half by their last year's units (each row weighted by the inverse of its
        # chance, so the loss is the same in expectation): the largest series, most of the
        # units and of any unit-weighted score, teach the trees more rows of their own
        year = v.agg.C[pool, panel.n_hist] - v.agg.C[pool, max(panel.n_hist - panel.season, 0)]
        in_year = float(year.sum())
        share = VOLUME_SHARE if in_year > 0 else 0.0
        chance = (1.0 - share) / n + share * year / max(in_year, 1e-300)
        ser, org, tgt, wts = [], [], [], []
        for o, t, ev in zip(origin, target, is_event, strict=True):
            k = ev_quota if ev else or_quota
            if k <= 0 or pool.size == 0:
                continue
            if k >= n:
                pick, scale = np.arange(n), np.ones(n)
            elif share > 0:  # Poisson sampling: each series in with its own chance
                inc = np.minimum(k * chance, 1.0)
                pick = np.flatnonzero(rng.random(n) < inc)
                scale = (k / n) / inc[pick]
            else:
                pick = np.sort(rng.choice(n, size=k, replace=False))
                scale = np.ones(k)
            ser.append(pool[pick])
            wts.append(pool_weight[pick] * scale)
            org.append(np.full(pick.size, o))
            tgt.append(np.full(pick.size, t))
        out = _Rows(np.concatenate(ser), np.concatenate(org), np.concatenate(tgt),
                    np.concatenate(wts))
        # a series' periods before its first sale say nothing about how it sells (its launch
        # date is not what the model forecasts), but their zeros would teach that its SKU
        # never sells in, say, the event it was launched after
        first = v.agg.first_sale[out.series]
        keep_row = (first < 0) | (out.target >= first)
        return _Rows(out.series[keep_row], out.origin[keep_row], out.target[keep_row],
                     out.weight[keep_row] if out.weight is not None else None)

    def _features(self, v: _View, rows: _Rows) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and base (the row's expected units were it an ordinary period), less
        the SKU attributes the model does without."""
        X, base = row_features(v.panel, v.agg, rows.series, rows.origin, rows.target,
                               v.sku_static, v.region_static, v.price)
        return (X.drop(columns=[c for c in self.without if c in X.columns]) if self.without
                else X), base

    # ------------------------------------------------------------------ model
    def _dataset(self, X: pd.DataFrame, y: np.ndarray, base: np.ndarray, weight: np.ndarray
                 ) -> lgb.Dataset:
        """The training rows, binned once (folds are subsets of it); binning drops features
        by the boosters' own ``min_data_in_leaf``."""
        cats = [c for c in _CATEGORICAL if c in X.columns]
        return lgb.Dataset(X, label=y, init_score=np.log(base), weight=weight,
                           categorical_feature=cats, free_raw_data=True,
                           params={"verbose": -1, "max_bin": 127,
                                   "min_data_in_leaf": self.params.min_data_in_leaf}
                           ).construct()

    def _booster(self, data: lgb.Dataset, rows: int, speed: float = 1.0) -> lgb.Booster:
        """Boost on ``data``; ``speed`` > 1 takes fewer, larger steps (for calibration)."""
        p = self.params
        cfg = {
            "objective": "tweedie",
            "tweedie_variance_power": p.tweedie_power,
            "learning_rate": min(p.learning_rate * speed, 1.0),
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
            "num_threads": p.threads if rows >= 200_000 else 1,
            "verbose": -1,
        }
        return lgb.train(cfg, data, num_boost_round=max(1, round(p.rounds / speed)),
                         callbacks=[self._round_done])

    def _round_done(self, env: object) -> None:
        """LightGBM's callback after each boosting round: progress only."""
        self.callbacks.on_step(self.task, 1)

    @staticmethod
    def _mean(booster: lgb.Booster, X: pd.DataFrame, base: np.ndarray) -> np.ndarray:
        raw = booster.predict(X, raw_score=True)
        return np.asarray(base * np.exp(np.clip(raw, -20, 20)))

    def fit(self, problem: ForecastProblem) -> GlobalModel:
        """Build the panel and features, fit the model, calibrate the quantiles."""
        self._start()
        panel = build_panel(problem.history, problem.calendar, problem.window,
                            _ids(problem.skus, "sku_id"), _ids(problem.regions, "region_id"))
        self.problem_ = problem
        self.view_ = self.view(problem, panel)
        self.callbacks.on_step(self.task, 1)
        return self.fit_view(self.view_, problem.window)

    def _start(self) -> None:
        """Progress: the fit begins (panel, features, the fold models' and the model's
        rounds), once per fit."""
        if not self._started:
            rounds = self.params.rounds
            self.callbacks.on_start(self.task, 2 + 2 * max(1, round(rounds / 4.0)) + rounds)
            self._started = True

    def fit_view(self, v: _View, window: Window) -> GlobalModel:
        """Fit on a prepared panel (all SKUs, or a sample of them for a large history)."""
        rng = np.random.default_rng(self.seed)
        periods = window_periods(v.panel, window)
        if periods.size == 0:
            raise ForestockError(f"the window {window.start}..{window.end} "
                                 "holds no period after the history")
        self.window_ = window
        cb, task = self.callbacks, self.task
        self._start()  # (a prepared panel: its step is the caller's)
        horizons = periods - (v.panel.n_hist - 1)
        rows = self._rows(v, horizons, rng)
        # no event offset in the base: a SKU's predicted event lift (its response to past
        # peaks) is a feature. As an offset it forced the world's own structure (one
        # response scaling every event) on data without it: on the evaluation suite's
        # festival, promo and grocery sets WRMSSE went 0.800/1.639/1.798 with it and
        # 0.832/1.370/1.334 without (benchmarks/forecast.py).
        X, base = self._features(v, rows)
        cb.on_step(task, 1)
        y = v.panel.Y[rows.series, rows.target].astype(np.float64)
        # out-of-fold means for calibration: two folds of SKUs. Both folds see every event,
        # as the forecast will; a SKU's regions share its shocks, so they share a fold.
        sku_fold = rng.permutation(len(v.panel.sku_ids)) % 2
        fold = sku_fold[v.panel.series_sku[rows.series]]
        w = rows.weight if rows.weight is not None else np.ones(len(y))
        data = self._dataset(X, y, base, w)
        # calibration needs the out-of-fold means of a sample of rows, not of all; its
        # fold models take a quarter of the steps at four times the rate
        sample = np.sort(rng.choice(len(y), size=min(len(y), 60_000), replace=False))
        oof = base[sample].copy()
        for k in (0, 1):
            train, test = np.flatnonzero(fold != k), sample[fold[sample] == k]
            if train.size == 0 or test.size == 0:
                continue
            b = self._booster(data.subset(train.tolist()), train.size, speed=4.0)
            oof[fold[sample] == k] = self._mean(b, X.iloc[test], base[test])
        self.booster_ = self._booster(data, len(y))
        self.dispersion_ = _calibrate(oof, y[sample], (X["event"].to_numpy()[sample] > 0),
                                      self.params.coverage)
        self.train_rows_ = len(y)
        cb.on_end(task)
        self._started = False
        log.info("global model: %s training rows, %s features", len(y), X.shape[1])
        return self

    def predict(self, other: pd.DataFrame | None = None, weight: float = 1.0,
                total: float | None = None) -> pd.DataFrame:
        """The forecast table: every series on every period of the window.

        With ``other`` (another method's forecast table), the mean is ``weight`` times
        the model's plus ``1 - weight`` times ``other``'s, and the quantiles are the
        model's calibrated ones around it. With ``total`` too, each period's means are
        then scaled so that their total is that of ``total`` times the model's plus
        ``1 - total`` times ``other``'s (:func:`reconciled_means`): ``total`` 0, ``other``
        sets each period's level and the blend splits it among the series.
        """
        return self.predict_view(self.view_, other, weight, total)

    def predict_view(self, v: _View, other: pd.DataFrame | None = None, weight: float = 1.0,
                     total: float | None = None) -> pd.DataFrame:
        """The forecast table of a prepared panel's series (``other``, ``weight``,
        ``total``: as :meth:`predict`)."""
        p = v.panel
        periods = window_periods(p, self.window_)
        n, m = p.n_series, periods.size
        rows = _Rows(np.repeat(np.arange(n), m), np.full(n * m, p.n_hist - 1),
                     np.tile(periods, n))
        X, base = self._features(v, rows)
        mean = self._mean(self.booster_, X, base)
        event = X["event"].to_numpy() > 0
        self.unread_ = unread_lift(p, v.agg, rows.series, rows.origin, rows.target)
        if other is not None:
            keys = pd.DataFrame({"sku_id": p.sku_ids[p.series_sku[rows.series]],
                                 "region_id": p.region_ids[p.series_region[rows.series]],
                                 "date": p.dates[rows.target], "mean": mean})
            mean = reconciled_means(keys, other, weight, total, self.unread_)
        phi = _dispersion_for(self.dispersion_, mean, event)
        return _table(p, rows, mean, phi, self.params)


_KEYS = ["sku_id", "region_id", "date"]


def _aligned(model: pd.DataFrame, peer: pd.DataFrame) -> tuple[pd.MultiIndex, np.ndarray]:
    """The model's rows as keys, and the peer's mean on each (NaN where the peer lacks it)."""
    key = pd.MultiIndex.from_frame(model[_KEYS].astype({"date": "datetime64[ns]"}))
    other = peer.assign(date=pd.to_datetime(peer["date"])).set_index(_KEYS)["mean"]
    return key, other.reindex(key).to_numpy(dtype=float)


def blend_means(model: pd.DataFrame, peer: pd.DataFrame, weight: float,
                unread: np.ndarray | None = None) -> np.ndarray:
    """``weight x`` the model's means ``+ (1 - weight) x`` the peer's, on the model's rows
    (a cell the peer lacks keeps the model's mean); on the ``unread`` rows (see
    :func:`~forestock.forecast._features.unread_lift`) the weight is at most
    :data:`UNREAD_WEIGHT`."""
    _, theirs = _aligned(model, peer)
    mine = model["mean"].to_numpy(dtype=float)
    w = weight if unread is None else np.where(unread, min(weight, UNREAD_WEIGHT), weight)
    return np.where(np.isnan(theirs), mine, w * mine + (1.0 - w) * theirs)


def top_down_means(model: pd.DataFrame, peer: pd.DataFrame) -> np.ndarray:
    """The model's means scaled, date by date, to the peer's total of that date over the
    model's series (a date the model forecasts nothing on, or the peer lacks, is kept)."""
    key, theirs = _aligned(model, peer)
    date = key.get_level_values("date")
    mine = model["mean"].to_numpy(dtype=float)
    have = ~np.isnan(theirs)
    mine_total = pd.Series(np.where(have, mine, 0.0)).groupby(date).transform("sum")
    their_total = pd.Series(np.where(have, theirs, 0.0)).groupby(date).transform("sum")
    m, t = mine_total.to_numpy(), their_total.to_numpy()
    scale = np.where((m > 0) & (t > 0), t / np.where(m > 0, m, 1.0), 1.0)
    return np.where(have, mine * scale, mine)


def reconciled_means(model: pd.DataFrame, peer: pd.DataFrame, weight: float,
                     total: float | None = None, unread: np.ndarray | None = None
                     ) -> np.ndarray:
    """The blend at ``weight`` (:func:`blend_means`, ``unread`` rows at most
    :data:`UNREAD_WEIGHT`) split among the cells as it is, each date's total that of the
    blend at ``total`` (:func:`top_down_means`); ``total`` None: the blend at ``weight``
    alone.

    The levels may favour different weights: the model's shares of a date among SKUs and
    regions, level x lift's national lift of an event day copied from its last occurrence
    (the trees shrink a rare peak: the national total low, its split right).
    """
    mean = blend_means(model, peer, weight, unread)
    if total is None:
        return mean
    national = model.assign(mean=blend_means(model, peer, total))
    return top_down_means(model.assign(mean=mean), national)


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
