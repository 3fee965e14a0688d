"""One model of demand uncertainty over the forecast's quantiles, for plan and rehearsal alike.

The forecast gives each SKU and region (a *cell*) a mean and quantiles. This
module turns them into a joint distribution, and every stage that needs one
uses it: the plan optimises stock against its scenarios and its national
quantities, ``simulate --source forecast`` rehearses the very same scenarios,
and the report compares the two. So the gap between the plan's expectation
and a rehearsal of the truth is the forecast's error alone, never two models
disagreeing.

The model, per cell ``c`` of SKU ``s``:

- its marginal is the forecast's quantile function, piecewise linear in the
  normal score between the ``qNN`` levels, extended linearly beyond the outer
  ones and floored at zero;
- its normal score is ``sqrt(rho_c) * Z_s + sqrt(1 - rho_c) * e_c``: a national
  factor ``Z_s`` shared by the SKU's regions plus the region's own ``e_c``.
  ``rho_c`` is a given ``correlation``, or (``None``) the share of the cell's
  variance beyond a Poisson count's: a best-seller's regions rise and fall
  together, a slow SKU's scatter independently (Poisson counts under one shared
  multiplier);
- the national factor is itself ``sqrt(w) * M + sqrt(1 - w) * Z'_s``: a *market*
  factor ``M``, one per scenario for every SKU (the event's market lift misjudged,
  an error the forecast makes on every SKU at once), and the SKU's own. ``w``
  (``market``) is the share that makes the market's part of the national total's
  spread the one measured: :meth:`DemandUncertainty.with_market_sd` takes the
  relative standard deviation of the event total's error common to every SKU
  (what the forecast measured, :class:`forestock.forecast.MarketError`) and sets
  ``w = (sd * sum mean / sum sqrt(rho_c) sd_c)^2`` over every cell, at most 1.
  Each cell's marginal and each SKU's national distribution stay what they were
  (the market takes a share of the SKU's national factor, it adds no variance);
  only SKUs now rise and fall together, so the national total's band widens
  from the SKUs' independent errors (narrowing with their count) to the market's;
- draws are keyed by hashes of the SKU and region *ids* and by the scenario's
  index (the market factor by the scenario alone): any order of the tables and
  any chunking of the SKUs give the same scenarios.

A day of an event window that lasts several days is drawn afresh
(:meth:`DemandUncertainty.day_units`): its normal scores are
``sqrt(k_c) * W_c + sqrt(1 - k_c) * D_c``, ``W`` drawn once for the window (the
same on every day: the part of a surprise the window's days share) and ``D``
drawn with the day in the hash (its own), both with the national and regional
structure above; ``k_c`` is the correlation of a cell's days, the forecast's
``correlation_days`` (of the errors beyond a Poisson count's) times the cell's
share of variance beyond a Poisson count's, as the window totals
(``forecast_total``) have it. The market factor is drawn once for the window
(with ``seed`` alone) and loads every day fully: a misjudged lift is the whole
event's, so each day's national total, and the window's, carry the same relative
market error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.special import ndtri

from forestock._draws import GOLDEN as _GOLDEN
from forestock._draws import uniforms
from forestock.errors import ForestockError
from forestock.tables import IdIndex

__all__ = ["DemandUncertainty", "day_seed64", "id_keys", "quantile_columns", "quantile_level"]

log = logging.getLogger("forestock.uncertainty")

_QUANTILE = re.compile(r"q(\d{2})")

#: Largest share of a cell's variance taken as national (some is always the region's own).
MAX_SHARED = 0.95

# draw streams: national factor, its stratification, regional factor, rounding to units,
# the market factor and its stratification (keyed by _MARKET_KEY alone: no SKU)
_NATIONAL, _REGIONAL, _STRATA, _ROUNDING, _MARKET, _MARKET_STRATA = 1, 2, 3, 4, 5, 6
_MARKET_KEY = np.zeros(1, dtype=np.int64)
# what a window's shared scores and a day's own are keyed by, beside the seed (and the day)
_WINDOW, _DAY = 1, 2


def day_seed64(seed: int, day: int | None) -> int:
    """The seed of a window's draws common to its days (``day`` None), or of day ``day``'s
    own (any integer naming the day: a date's ordinal), derived from ``seed``."""
    words = [seed & 0xFFFFFFFFFFFFFFFF, _WINDOW] if day is None else \
        [seed & 0xFFFFFFFFFFFFFFFF, _DAY, day & 0xFFFFFFFFFFFFFFFF]
    state = np.random.SeedSequence(words).generate_state(2)
    return int(int(state[0]) << 32 | int(state[1]))


def quantile_level(name: str) -> float:
    """Level of a quantile column (``q90`` -> 0.9); ``ValueError`` for anything else."""
    m = _QUANTILE.fullmatch(str(name))
    if m is None or m.group(1) == "00":
        raise ValueError(f"a quantile is named like 'q90' (q01 to q99), got {name!r}")
    return int(m.group(1)) / 100


def quantile_columns(columns: Iterable[object]) -> list[str]:
    """The ``qNN`` columns among ``columns``, by increasing level."""
    names = [str(c) for c in columns if _QUANTILE.fullmatch(str(c)) and str(c) != "q00"]
    return sorted(names, key=quantile_level)


def id_keys(ids: Iterable[str] | np.ndarray) -> np.ndarray:
    """A stable 63-bit key per id (its hash): draws keyed by it do not depend on the order
    of the tables."""
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=object)
    h = pd.util.hash_array(arr.astype(str).astype(object))
    return (h >> np.uint64(1)).astype(np.int64)


def _cell_keys(sku_key: np.ndarray, region_key: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        k = sku_key.astype(np.uint64) * _GOLDEN + region_key.astype(np.uint64)
    return (k >> np.uint64(1)).astype(np.int64)


def _sd(quant: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Standard deviation implied by the outermost quantiles (a normal's spread)."""
    z = NormalDist().inv_cdf(float(levels[-1])) - NormalDist().inv_cdf(float(levels[0]))
    return np.maximum(quant[:, -1] - quant[:, 0], 0.0) / z


def _shared(mean: np.ndarray, sd: np.ndarray, correlation: float | None) -> np.ndarray:
    if correlation is not None:
        return np.full(mean.size, float(correlation))
    var = sd * sd
    excess = np.divide(var - mean, var, out=np.zeros(mean.size), where=var > 0)
    return np.clip(excess, 0.0, MAX_SHARED)


@dataclass(frozen=True)
class DemandUncertainty:
    """The joint distribution of demand over cells (SKU x region), sorted by SKU.

    ``indptr[s]:indptr[s+1]`` are SKU ``s``'s cells. Build it with
    :meth:`from_forecast` (the forecast table) or directly from arrays.
    """

    indptr: np.ndarray  # int64 [sku + 1]
    cell_region: np.ndarray  # int32 [cell]
    mean: np.ndarray  # float64 [cell]
    quant: np.ndarray  # float64 [cell, level], non-decreasing along levels
    levels: np.ndarray  # float64 [level], increasing in (0, 1)
    sku_key: np.ndarray  # int64 [sku]: hash of the SKU's id
    region_key: np.ndarray  # int64 [region]: hash of the region's id
    correlation: float | None = None
    market: float = 0.0  # share of the national factor common to every SKU (w)

    def __post_init__(self) -> None:
        if self.correlation is not None and not 0.0 <= self.correlation < 1.0:
            raise ValueError(f"correlation must be in [0, 1) or None, got {self.correlation}")
        if not 0.0 <= self.market <= 1.0:
            raise ValueError(f"market must be in [0, 1], got {self.market}")
        if self.levels.size < 2:
            raise ValueError("the demand model needs at least two quantile levels")

    @classmethod
    def from_forecast(cls, forecast: pd.DataFrame, skus: IdIndex, regions: IdIndex,
                      correlation: float | None = None,
                      source: str = "forecast") -> DemandUncertainty:
        """The model of ``forecast``'s rows (a window of several dates is added up per cell).

        Cells whose mean and quantiles are all zero are left out; crossed
        quantiles are made non-decreasing.

        Raises
        ------
        ForestockError
            Without a mean and two quantile columns, or naming an unknown SKU or region.
        """
        qcols = quantile_columns(forecast.columns)
        if len(qcols) < 2 or "mean" not in forecast.columns:
            raise ForestockError(
                f"{source}: the forecast needs a mean and at least two quantile columns "
                f"(has {list(forecast.columns)})")
        try:
            fs = skus.codes(forecast["sku_id"], what="sku_id")
            fr = regions.codes(forecast["region_id"], what="region_id")
        except ValueError as err:
            raise ForestockError(
                f"{source}: the forecast names an {str(err).removeprefix('unknown ')}, which is "
                "not in the skus or regions table; forecast again or load the missing rows"
            ) from None
        cells = pd.DataFrame({"s": fs, "r": fr})
        cells["mean"] = forecast["mean"].to_numpy(dtype=float)
        for c in qcols:
            cells[c] = forecast[c].to_numpy(dtype=float)
        cells = cells.groupby(["s", "r"], sort=True).sum()
        cells = cells[cells[["mean", *qcols]].to_numpy().max(axis=1) > 0]
        s_code = cells.index.get_level_values("s").to_numpy()
        indptr = np.zeros(len(skus) + 1, dtype=np.int64)
        np.add.at(indptr, s_code + 1, 1)
        return cls(
            indptr=np.cumsum(indptr),
            cell_region=cells.index.get_level_values("r").to_numpy().astype(np.int32),
            mean=cells["mean"].to_numpy(dtype=float),
            quant=np.maximum.accumulate(cells[qcols].to_numpy(dtype=float), axis=1),
            levels=np.array([quantile_level(c) for c in qcols]),
            sku_key=id_keys(skus.ids),
            region_key=id_keys(regions.ids),
            correlation=correlation,
        )

    @property
    def n_skus(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def cell_sku(self) -> np.ndarray:
        """SKU code of every cell."""
        return np.repeat(np.arange(self.n_skus, dtype=np.int32), np.diff(self.indptr))

    def sd(self) -> np.ndarray:
        """Each cell's standard deviation implied by its outermost quantiles."""
        return _sd(self.quant, self.levels)

    def shared(self) -> np.ndarray:
        """Each cell's share of variance common to its SKU's regions (``rho_c``)."""
        return _shared(self.mean, self.sd(), self.correlation)

    def with_market_sd(self, sd: float) -> DemandUncertainty:
        """This model with a market factor whose part of the total over every cell has the
        relative standard deviation ``sd`` (0: SKUs independent).

        ``market`` becomes ``(sd * sum mean / sum sqrt(rho_c) sd_c)^2`` over every cell:
        the market factor moves each cell by ``sqrt(market * rho_c) sd_c`` per unit, so
        the total by ``sd`` times its mean. A market error larger than the cells' shared
        spread allows (``market`` above 1: the forecast's quantiles are narrower than its
        national error) is cut to every SKU moving together, and logged.
        """
        if not (sd >= 0.0 and np.isfinite(sd)):
            raise ValueError(f"sd must be a finite number >= 0, got {sd}")
        loading = float(np.sum(np.sqrt(self.shared()) * self.sd()))
        mean = float(self.mean.sum())
        if sd == 0.0 or loading <= 0.0:
            return replace(self, market=0.0)
        w = (sd * mean / loading) ** 2
        if w > 1.0:
            log.warning("the market's error (sd %.3f of the total) exceeds what the cells' "
                        "shared spread allows (%.3f): every SKU moves together", sd,
                        loading / mean)
        return replace(self, market=float(min(w, 1.0)))

    def total(self) -> tuple[float, float]:
        """Mean and standard deviation of the total over every cell: ``(1 - w) sum_s
        A_s^2 + w (sum_s A_s)^2 + sum_c (1 - rho_c) sd_c^2``, ``A_s`` the sum of
        ``sqrt(rho_c) sd_c`` over SKU ``s``'s cells and ``w`` the market's share (for a
        normal band: SKUs' national factors correlate by ``w``)."""
        sku = self.cell_sku
        sd = self.sd()
        rho = _shared(self.mean, sd, self.correlation)
        a = np.bincount(sku, weights=np.sqrt(rho) * sd, minlength=self.n_skus)
        own = float(np.sum((1.0 - rho) * sd * sd))
        var = (1.0 - self.market) * float(np.sum(a * a)) + self.market * float(a.sum()) ** 2
        return float(self.mean.sum()), float(np.sqrt(var + own))

    def market_factor(self, n: int, seed: int) -> np.ndarray:
        """The market factor ``[n]`` of ``n`` scenarios, stratified over them (they span its
        distribution), keyed by the seed alone: the same for every SKU and chunk."""
        seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        u = uniforms(seed64, _MARKET_KEY, n, _MARKET)[0]
        perm = np.argsort(uniforms(seed64, _MARKET_KEY, n, _MARKET_STRATA)[0])
        return np.asarray(ndtri((perm + u) / n))

    def national(self, level: float | None) -> np.ndarray:
        """Units of each SKU to cover: its mean (``level`` None), or the ``level`` quantile
        of a normal whose variance is ``(sum sqrt(rho) sd)**2 + sum (1 - rho) sd**2`` over
        the SKU's regions, rounded up."""
        sku = self.cell_sku
        n_s = self.n_skus
        mu = np.bincount(sku, weights=self.mean, minlength=n_s)
        if level is None:
            return np.ceil(mu - 1e-9).astype(np.int64)
        sd = self.sd()
        rho = _shared(self.mean, sd, self.correlation)
        s1 = np.bincount(sku, weights=np.sqrt(rho) * sd, minlength=n_s)
        s2 = np.bincount(sku, weights=(1.0 - rho) * sd * sd, minlength=n_s)
        z = NormalDist().inv_cdf(level)
        return np.ceil(np.maximum(mu + z * np.sqrt(s1 * s1 + s2), 0.0) - 1e-9).astype(np.int64)

    def scenarios(self, lo: int, hi: int, n: int, seed: int) -> np.ndarray:
        """Demand ``[cell, scenario]`` of SKUs ``lo..hi`` in ``n`` scenarios (real units).

        The national factor is stratified over the ``n`` scenarios (each SKU's national
        demand spans its distribution); scenario ``k`` of ``n`` is the same whatever
        chunk of SKUs asks for it.
        """
        return self.at_scores(lo, hi, self.scores(lo, hi, n, seed))

    def scores(self, lo: int, hi: int, n: int, seed: int) -> np.ndarray:
        """Normal scores ``[cell, scenario]`` of the cells of SKUs ``lo..hi`` in ``n``
        scenarios: ``sqrt(rho_c) * Z_s + sqrt(1 - rho_c) * e_c``, the national factor
        ``Z_s = sqrt(w) M + sqrt(1 - w) Z'_s`` (``w``: ``market``), ``M`` and ``Z'_s``
        each stratified over the scenarios."""
        market = self.market_factor(n, seed) if self.market > 0.0 else None
        return self._scores(lo, hi, n, seed, market)

    def _scores(self, lo: int, hi: int, n: int, seed: int, market: np.ndarray | None
                ) -> np.ndarray:
        """:meth:`scores` with the market factor ``market`` ``[n]`` (None: its part left
        out, the SKU's own part still scaled by ``sqrt(1 - w)``)."""
        c_lo, c_hi = int(self.indptr[lo]), int(self.indptr[hi])
        seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        skus = np.ascontiguousarray(self.sku_key[lo:hi])
        u = uniforms(seed64, skus, n, _NATIONAL)
        perm = np.argsort(uniforms(seed64, skus, n, _STRATA), axis=1)
        national = ndtri((perm + u) / n)
        if self.market > 0.0:
            national = np.sqrt(1.0 - self.market) * national
            if market is not None:
                national = national + np.sqrt(self.market) * market[None, :]
        sku_of = np.repeat(np.arange(hi - lo), np.diff(self.indptr[lo:hi + 1]))
        region = self.cell_region[c_lo:c_hi]
        keys = _cell_keys(self.sku_key[lo:hi][sku_of], self.region_key[region])
        e = ndtri(uniforms(seed64, keys, n, _REGIONAL))
        q = self.quant[c_lo:c_hi]
        rho = _shared(self.mean[c_lo:c_hi], _sd(q, self.levels), self.correlation)
        return np.asarray(np.sqrt(rho)[:, None] * national[sku_of]
                          + np.sqrt(1.0 - rho)[:, None] * e)

    def at_scores(self, lo: int, hi: int, z: np.ndarray) -> np.ndarray:
        """Demand (real units) of the cells of SKUs ``lo..hi`` at normal scores ``z``
        ``[cell, column]``: each cell's quantile function, piecewise linear in the score
        between its levels, extended linearly beyond and floored at zero."""
        c_lo, c_hi = int(self.indptr[lo]), int(self.indptr[hi])
        q = self.quant[c_lo:c_hi]
        zk = ndtri(self.levels)
        seg = np.clip(np.searchsorted(zk, z) - 1, 0, zk.size - 2)
        v0 = np.take_along_axis(q, seg, axis=1)
        v1 = np.take_along_axis(q, seg + 1, axis=1)
        slope = (v1 - v0) / (zk[seg + 1] - zk[seg])
        return np.asarray(np.maximum(v0 + (z - zk[seg]) * slope, 0.0))

    def scenario_units(self, k: int, n: int, seed: int, chunk_skus: int = 4096) -> np.ndarray:
        """Whole units ``[cell]`` of scenario ``k`` of ``n``: :meth:`scenarios` rounded up or
        down at random in proportion to the fraction, so each cell keeps its expectation."""
        if not 0 <= k < n:
            raise ValueError(f"scenario must be in [0, {n}), got {k}")
        return self._whole(lambda lo, hi: self.scenarios(lo, hi, n, seed)[:, k:k + 1], seed,
                           slice(k, k + 1), chunk_skus)[:, 0]

    def all_scenario_units(self, n: int, seed: int, chunk_skus: int = 4096) -> np.ndarray:
        """Whole units ``[cell, scenario]`` of all ``n`` scenarios at once: column ``k`` is
        :meth:`scenario_units` ``(k, n, seed)``, for the cost of one of them (each draws
        every scenario of its SKUs to keep one)."""
        if n < 1:
            raise ValueError(f"scenarios must be at least 1, got {n}")
        return self._whole(lambda lo, hi: self.scenarios(lo, hi, n, seed), seed, slice(0, n),
                           chunk_skus)

    def day_units(self, seed: int, day: int, day_correlation: float = 0.0,
                  chunk_skus: int = 4096) -> np.ndarray:
        """Whole units ``[cell]`` of day ``day`` (a date's ordinal) of an event window: a
        fresh scenario, not one of the plan's.

        Each cell's normal score is ``sqrt(k_c) * W_c + sqrt(1 - k_c) * D_c`` (see the
        module's docstring): ``W`` is drawn with ``seed`` alone, the same for every day
        of the window, ``D`` with ``seed`` and ``day``, and ``k_c`` is
        ``day_correlation`` times the cell's share of variance beyond a Poisson count's;
        with ``day_correlation`` 0 the days are independent. The same seed and day give
        the same units whatever the window's other days; rounding (up or down in
        proportion to the fraction) draws with the day in the hash too. The market
        factor (``market`` > 0) is drawn with ``seed`` alone and loads every day fully:
        ``sqrt(w rho_c) M`` beside the days' shares of the SKU's own national factor.
        """
        if not 0.0 <= day_correlation <= 1.0:
            raise ValueError(f"day_correlation must be in [0, 1], got {day_correlation}")
        shared_seed, own_seed = day_seed64(seed, None), day_seed64(seed, day)

        market = self.market_factor(1, shared_seed) if self.market > 0.0 else None

        def real(lo: int, hi: int) -> np.ndarray:
            z = self._scores(lo, hi, 1, own_seed, None)
            c_lo, c_hi = int(self.indptr[lo]), int(self.indptr[hi])
            if day_correlation > 0.0:
                k = day_correlation * _shared(self.mean[c_lo:c_hi],
                                              _sd(self.quant[c_lo:c_hi], self.levels), None)
                z = (np.sqrt(k)[:, None] * self._scores(lo, hi, 1, shared_seed, None)
                     + np.sqrt(1.0 - k)[:, None] * z)
            if market is not None:
                rho = _shared(self.mean[c_lo:c_hi], _sd(self.quant[c_lo:c_hi], self.levels),
                              self.correlation)
                z = z + np.sqrt(self.market * rho)[:, None] * market[None, :]
            return self.at_scores(lo, hi, z)

        return self._whole(real, own_seed, slice(0, 1), chunk_skus)[:, 0]

    def _whole(self, real: Callable[[int, int], np.ndarray], seed: int, ks: slice,
               chunk_skus: int) -> np.ndarray:
        """Whole units ``[cell, len(ks)]`` of the real units ``real(lo, hi)`` gives for the
        cells of SKUs ``lo..hi`` (``[cell, len(ks)]``, SKUs ``chunk_skus`` at a time), each
        rounded up or down at random in proportion to its fraction (draws ``ks`` of the
        rounding stream)."""
        seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        out = np.empty((self.mean.size, ks.stop - ks.start), dtype=np.int64)
        for lo in range(0, self.n_skus, chunk_skus):
            hi = min(lo + chunk_skus, self.n_skus)
            c_lo, c_hi = int(self.indptr[lo]), int(self.indptr[hi])
            if c_hi == c_lo:
                continue
            d = real(lo, hi)
            sku_of = np.repeat(np.arange(lo, hi), np.diff(self.indptr[lo:hi + 1]))
            keys = _cell_keys(self.sku_key[sku_of], self.region_key[self.cell_region[c_lo:c_hi]])
            r = uniforms(seed64, keys, ks.stop, _ROUNDING)[:, ks]
            out[c_lo:c_hi] = np.floor(d + r).astype(np.int64)
        return out
