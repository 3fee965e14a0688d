"""Quantiles of a window's total demand, per SKU x region and per SKU over every region.

Quantiles of a sum are not sums of quantiles: the q90s of 22 days add up to far
more than the q90 of the 22 days' total, because a day's surprise is partly its
own and cancels against the others. How much does not cancel is a property of
the history, measured here by the method of moments: the share of a cell's
extra-Poisson variance common to every day of a block (``days``), and common to
every cell of a SKU across regions (``regions``). The total's quantiles are then
those of a negative binomial with the total's mean and variance.

Every cell ``i`` is a count around a multiplicative error: variance
``mu_i + phi_i mu_i^2``, the second term from an error of standard deviation
``s_i = sqrt(phi_i) mu_i``; two errors of one series correlate by ``rho_d``, of
one SKU in different regions by ``rho_n <= rho_d``. A total over cells ``i``
(in regions ``r``, ``S_r`` the sum of the ``s_i`` of region ``r``) has

    Var(T) = sum mu_i + rho_n (sum s_i)^2 + (rho_d - rho_n) sum_r S_r^2
             + (1 - rho_d) sum s_i^2,

which for one region is ``sum mu_i + rho_d (sum s_i)^2 + (1 - rho_d) sum s_i^2``.

Beyond a SKU, an error common to every SKU (``market``, the correlation of two
cells of different SKUs) makes the national total's spread; the ordinary periods
measure it the same way, and the event's last occurrence, held out and forecast
by the combination, measures it where it matters: :func:`market_error` shrinks
the one towards the other (:class:`MarketError`), and the plan's demand model
gives its SKUs a common factor of that size
(:meth:`forestock.uncertainty.DemandUncertainty.with_market_sd`).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError, ForestockWarning
from forestock.events import Window
from forestock.forecast._model import nb_quantiles
from forestock.forecast._panel import SEASON, Grid, Panel, build_panel
from forestock.forecast._problem import ForecastParams
from forestock.tables import IdIndex
from forestock.uncertainty import DemandUncertainty, quantile_columns, quantile_level

if TYPE_CHECKING:
    from forestock.forecast._combine import HeldOut

__all__ = [
    "PRIOR_OCCURRENCES",
    "MarketError",
    "TotalCorrelation",
    "WindowForecast",
    "forecast_with_totals",
    "market_error",
    "own_spread",
    "panel_correlation",
    "recover_dispersion",
    "total_correlation",
    "window_totals",
]

log = logging.getLogger("forestock.forecast")

#: Ordinary periods whose mean is a series' level (the naive prediction), per frequency.
LEVEL_PERIODS = {"D": 28, "W": 4, "M": 3}
#: Most periods in a block measuring the correlation of a window's days.
MAX_BLOCK = 28
#: Cells (series x periods) of the panel turned into float64 sums at a time.
_CHUNK_CELLS = 4_000_000
#: Dispersions scanned when recovering a cell's from its quantiles; the best is refined.
_GRID = np.r_[0.0, np.geomspace(1e-3, 100.0, 13)]
_REFINE_STEPS = 10
_GOLD = (np.sqrt(5.0) - 1) / 2
#: The highest quantile (q90, what a plan stocks to) counts this much more when they disagree.
_TOP_WEIGHT = 16.0
#: Occurrences of the event the ordinary periods' market error counts for, beside the held-out
#: ones, when the two are pooled (:func:`market_error`): one, so a single occurrence does not
#: set the market's error alone (an occurrence forecast exactly right halves the ordinary
#: periods' variance, it does not zero it), and a second occurrence outweighs them.
PRIOR_OCCURRENCES = 1.0


@dataclass(frozen=True)
class TotalCorrelation:
    """How much of a cell's extra-Poisson variance its window's other cells share.

    Parameters
    ----------
    days
        Correlation of the multiplicative errors of two periods of one series
        (SKU x region) within a block of ``block`` periods.
    regions
        Correlation of the errors of two cells of one SKU in different regions
        (the periods of one region correlating by ``days``); at most ``days``.
    block
        Periods per block the correlation was measured on.
    blocks
        Series x blocks measured (``days`` and the dispersion).
    groups
        SKU x blocks with at least two regions measured (``regions``).
    dispersion
        The pooled one-period dispersion ``phi`` of the naive errors.
    market
        Correlation of the errors of two cells of different SKUs (an error common to
        the whole market); at most ``regions``. ``market * dispersion`` is the relative
        variance of the national total's common error over a block.
    """

    days: float
    regions: float
    block: int = 1
    blocks: int = 0
    groups: int = 0
    dispersion: float = 0.0
    market: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.days <= 1:
            raise ValueError(f"days must lie in [0, 1], got {self.days}")
        if not 0 <= self.regions <= self.days:
            raise ValueError(f"regions must lie in [0, days={self.days}], got {self.regions}")
        if not 0 <= self.market <= self.regions:
            raise ValueError(f"market must lie in [0, regions={self.regions}], "
                             f"got {self.market}")
        if self.block < 1 or self.blocks < 0 or self.groups < 0 or self.dispersion < 0:
            raise ValueError("block must be >= 1; blocks, groups and dispersion >= 0")

    def replace(self, **changes: object) -> TotalCorrelation:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ correlation
def total_correlation(
    history: pd.DataFrame,
    calendar: pd.DataFrame,
    days: int,
    *,
    sku_ids: np.ndarray | None = None,
    region_ids: np.ndarray | None = None,
) -> TotalCorrelation:
    """Measure on ``history`` how a window of ``days`` periods' errors correlate.

    Parameters
    ----------
    history
        Units per ``date``, ``sku_id``, ``region_id`` (daily, weekly or monthly).
    calendar
        Event dates; event periods are left out of the measurement.
    days
        Periods of the window (days on daily data, weeks on weekly); blocks
        of ``min(max(days, 2), 28)`` periods are measured.
    sku_ids, region_ids
        Measure on these SKUs and regions only (default: every one).

    Returns
    -------
    TotalCorrelation
        The correlation across a series' periods and across a SKU's regions.
        Where the history is too short for one block (28 ordinary periods of
        level, on daily data, and a block after them), both are 0 and a
        :class:`~forestock.errors.ForestockWarning` says so.
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if history.empty:
        raise ForestockError("history is empty: nothing to measure the correlation on")
    grid = Grid.of(history["date"])
    keep = np.ones(len(history), dtype=bool)
    if sku_ids is not None:
        keep &= history["sku_id"].astype(object).isin(list(sku_ids)).to_numpy()
    if region_ids is not None:
        keep &= history["region_id"].astype(object).isin(list(region_ids)).to_numpy()
    hist = history if keep.all() else history.loc[keep]
    ids = [c for c in ("sku_id", "region_id") if hist[c].dtype == object]
    if ids:  # codes once: the panel looks ids up much faster as categories
        hist = hist.astype(dict.fromkeys(ids, "category"))
    last = pd.Timestamp(history["date"].max()).date()
    panel = build_panel(hist, calendar, Window("history", last, last), grid=grid)
    return panel_correlation(panel, days)


def panel_correlation(panel: Panel, days: int) -> TotalCorrelation:
    """:func:`total_correlation` on a panel already built (the history's periods).

    The ordinary periods of the last season (52 weeks; all the history if
    shorter) are cut into runs of consecutive ordinary periods and the runs
    into blocks of ``m`` periods. A series' naive prediction for a block is its
    level ``L``, the mean of its previous 28 ordinary periods (4 weeks, 3
    months); ``e_t = y_t - L``. Over series and blocks with ``L > 0``:
    ``phi = sum(e_t^2 - L) / sum(L^2)``; ``days`` solves ``sum(E^2 - m L) =
    phi sum(rho (m^2 - m) L^2 + m L^2)`` for the block sums ``E = sum_t e_t``;
    ``regions`` the same over the cross products of a SKU's regions, ``sum
    E_r E_r' = rho_n phi sum m^2 L_r L_r'`` (``r != r'``), so that the periods of
    one region keep ``days`` (as :func:`window_totals` has them); ``market`` the
    same over the cross products of different SKUs' block sums, ``sum_b ((sum E)^2 -
    sum_s E_s^2) = rho_m phi sum_b ((sum m L)^2 - sum_s (m L_s)^2)`` (``E_s``, ``L_s``
    a SKU's sums over its regions in block ``b``).

    The errors are those of the naive level, whose own error is common to every
    period of a block: it reads as shared, as a forecast's own level error is
    (on blocks of 22 days with a true correlation of 0.6 the measure is near 0.7).
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    m = int(min(max(days, 2), MAX_BLOCK))
    k = LEVEL_PERIODS[panel.freq]
    n = panel.n_hist
    ordinary = panel.ordinary[:n]
    ord_idx = np.flatnonzero(ordinary)
    starts = _block_starts(ordinary, ord_idx, m, k, max(n - SEASON[panel.freq], 0))
    if starts.size == 0:
        warnings.warn(f"the history is too short to measure how a window's days correlate "
                      f"({k} ordinary periods of level and a block of {m} after them are "
                      "needed): window totals treat days and regions as independent",
                      ForestockWarning, stacklevel=2)
        return TotalCorrelation(0.0, 0.0, block=m)
    lo = int(ord_idx[np.searchsorted(ord_idx, starts[0]) - k])
    level, s, q = _block_sums(panel.Y[:, lo:n], starts - lo, ord_idx[ord_idx >= lo] - lo, m, k)
    valid = level > 0
    L = np.where(valid, level, 0.0)
    E = np.where(valid, s - m * L, 0.0)
    sq = np.where(valid, q - 2 * L * s + m * L * L, 0.0)  # sum_t e_t^2
    l2 = float(np.sum(L * L))
    n_valid = int(valid.sum())
    if n_valid == 0 or l2 <= 0:
        warnings.warn("no series sold in the periods before the measured blocks: window "
                      "totals treat days and regions as independent", ForestockWarning,
                      stacklevel=2)
        return TotalCorrelation(0.0, 0.0, block=m)
    phi = max(float(np.sum(sq) - m * np.sum(L)) / (m * l2), 1e-6)
    num = float(np.sum(E * E) - m * np.sum(L)) - phi * m * l2
    rho_d = float(np.clip(num / (phi * (m * m - m) * l2), 0.0, 1.0))
    # regions: cross products of a SKU's series within a block
    order = np.argsort(panel.series_sku, kind="stable")
    sku_sorted = panel.series_sku[order]
    first = np.flatnonzero(np.r_[True, sku_sorted[1:] != sku_sorted[:-1]])
    g_e = np.add.reduceat(E[order], first, axis=0)
    g_l = np.add.reduceat(m * L[order], first, axis=0)
    g_e2 = np.add.reduceat((E * E)[order], first, axis=0)
    g_l2 = np.add.reduceat((m * L * m * L)[order], first, axis=0)
    cross_l = g_l * g_l - g_l2
    cross_den = phi * float(np.sum(cross_l))
    groups = int(np.sum(np.add.reduceat(valid[order].astype(np.int64), first, axis=0) >= 2))
    rho_n = 0.0
    if cross_den > 0:
        rho_n = float(np.clip(float(np.sum(g_e * g_e - g_e2)) / cross_den, 0.0, rho_d))
    # market: cross products of different SKUs' block sums
    all_e, all_l = g_e.sum(axis=0), g_l.sum(axis=0)
    market_den = phi * float(np.sum(all_l * all_l - np.sum(g_l * g_l, axis=0)))
    rho_m = 0.0
    if market_den > 0:
        rho_m = float(np.clip(float(np.sum(all_e * all_e - np.sum(g_e * g_e, axis=0)))
                              / market_den, 0.0, rho_n))
    log.info("window correlation over blocks of %s periods: days %.3f, regions %.3f, "
             "market %.4f (phi %.3f, %s series-blocks, %s SKU-blocks)", m, rho_d, rho_n,
             rho_m, phi, n_valid, groups)
    return TotalCorrelation(rho_d, rho_n, block=m, blocks=n_valid, groups=groups,
                            dispersion=phi, market=rho_m)


def _block_sums(Y: np.ndarray, starts: np.ndarray, ordinary: np.ndarray, m: int, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series and block: the level (mean of the ``k`` ordinary periods before it), and
    the sum and the sum of squares of its ``m`` periods; ``[series, blocks]`` each, computed
    a slice of series at a time so that memory stays a fraction of the panel's."""
    n_s, width = Y.shape
    pos = np.searchsorted(ordinary, starts)  # ordinary periods before each block
    level = np.empty((n_s, starts.size))
    s = np.empty_like(level)
    q = np.empty_like(level)
    step = max(1, _CHUNK_CELLS // max(width, 1))
    for a in range(0, n_s, step):
        y = Y[a:a + step].astype(np.float64)
        zero = np.zeros((y.shape[0], 1))
        run = np.concatenate([zero, np.cumsum(y, axis=1)], axis=1)
        s[a:a + step] = run[:, starts + m] - run[:, starts]
        run = np.concatenate([zero, np.cumsum(y * y, axis=1)], axis=1)
        q[a:a + step] = run[:, starts + m] - run[:, starts]
        run = np.concatenate([zero, np.cumsum(y[:, ordinary], axis=1)], axis=1)
        level[a:a + step] = (run[:, pos] - run[:, pos - k]) / k
    return level, s, q


def _block_starts(ordinary: np.ndarray, ord_idx: np.ndarray, m: int, k: int, first: int
                  ) -> np.ndarray:
    """First periods of the blocks: ``m`` consecutive ordinary periods from ``first`` on
    (runs cut from their start), each with ``k`` ordinary periods before it."""
    if ord_idx.size <= k:
        return np.zeros(0, dtype=np.int64)
    first = max(first, int(ord_idx[k - 1]) + 1)
    mask = ordinary.copy()
    mask[:first] = False
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    run_start, run_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = [np.arange(a, a + (b - a) // m * m, m) for a, b in zip(run_start, run_end,
                                                                 strict=True)]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------ dispersion
def _cdf(x: np.ndarray, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The negative binomial's CDF continued to real ``x > -1`` (Poisson where phi is 0):
    at whole ``x`` it is ``P(Y <= x)``, and it rises with ``x``."""
    out = np.empty(mu.size)
    poi = phi <= 0
    if poi.any():
        out[poi] = special.gammaincc(x[poi] + 1, mu[poi])
    nb = ~poi
    if nb.any():
        size = 1.0 / phi[nb]
        out[nb] = special.betainc(size, x[nb] + 1, size / (size + mu[nb]))
    return out


def _misses(mu: np.ndarray, x: np.ndarray, zero: np.ndarray, levels: tuple[float, ...],
            phi: np.ndarray) -> np.ndarray:
    """Sum over the levels of the squared miss of the continued CDF at ``q - 1/2`` (the
    middle of the dispersions giving the whole quantile ``q``); where ``q`` is 0 only a
    ``P(0)`` short of the level counts."""
    out = np.zeros(mu.size)
    top = max(levels)
    for k, level in enumerate(levels):
        f = _cdf(x[k], mu, phi) - level
        out += np.where(zero[k], np.minimum(f, 0.0), f) ** 2 * (_TOP_WEIGHT if level == top
                                                                 else 1.0)
    return out


def recover_dispersion(mean: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...]
                       ) -> np.ndarray:
    """The negative binomial dispersion of each cell, from its mean and quantiles.

    Inverts :func:`~forestock.forecast.nb_quantiles`: where a Poisson gives
    every quantile the dispersion is 0 (the least the quantiles allow); else each
    quantile ``q`` of level ``p`` asks that the CDF continued to real values reach ``p`` at ``q -
    1/2``, the middle of the dispersions giving ``q`` (a quantile of 0 only that
    ``P(0) >= p``); the dispersion missing these by the least squares is found on
    a log grid and refined by golden section. Quantiles that no negative
    binomial gives (a baseline's) get the closest one.

    Parameters
    ----------
    mean
        The cells' means, ``[n]``.
    quantiles
        The cells' quantiles, ``[len(levels), n]``.
    levels
        The quantiles' levels, in (0, 1).

    Returns
    -------
    numpy.ndarray
        ``phi >= 0`` per cell (0: Poisson, or a mean of 0).
    """
    mu = np.maximum(np.asarray(mean, dtype=float), 0.0)
    qs = np.asarray(quantiles, dtype=float).reshape(len(levels), mu.size)
    phi = np.zeros(mu.size)
    pos = np.flatnonzero(mu > 0)
    if pos.size == 0:
        return phi
    q = np.maximum(qs[:, pos], 0.0)
    # a Poisson that gives every quantile is taken as it is (the least dispersion they allow)
    poisson = np.ones(pos.size, dtype=bool)
    for k, level in enumerate(levels):
        poisson &= _cdf(q[k], mu[pos], np.zeros(pos.size)) >= level
        poisson &= (q[k] < 1) | (_cdf(q[k] - 1, mu[pos], np.zeros(pos.size)) < level)
    pos, q = pos[~poisson], q[:, ~poisson]
    if pos.size == 0:
        return phi
    m = mu[pos]
    zero = q < 1
    x = np.where(zero, 0.0, q - 0.5)

    def misses(values: np.ndarray) -> np.ndarray:
        return _misses(m, x, zero, levels, values)

    scan = np.stack([misses(np.full(m.size, g)) for g in _GRID])  # [grid, cells]
    best = np.argmin(scan, axis=0)
    # golden section on log(phi) between the best grid point's neighbours
    a = np.log(np.where(best > 1, _GRID[np.maximum(best - 1, 0)], _GRID[1] / 100))
    b = np.log(_GRID[np.minimum(best + 1, _GRID.size - 1)])
    c, d = b - _GOLD * (b - a), a + _GOLD * (b - a)
    fc, fd = misses(np.exp(c)), misses(np.exp(d))
    for _ in range(_REFINE_STEPS):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = np.where(left, b - _GOLD * (b - a), d)
        d_new = np.where(left, c, a + _GOLD * (b - a))
        moved = np.where(left, c_new, d_new)
        f_moved = misses(np.exp(moved))
        fc, fd = np.where(left, f_moved, fd), np.where(left, fc, f_moved)
        c, d = c_new, d_new
    refined = np.exp((a + b) / 2)
    keep_grid = scan[best, np.arange(m.size)] <= misses(refined)
    phi[pos] = np.where(keep_grid, _GRID[best], refined)
    return phi


# ------------------------------------------------------------------ totals
def _levels(columns: pd.Index) -> tuple[list[str], tuple[float, ...]]:
    names = quantile_columns(columns)
    return names, tuple(quantile_level(c) for c in names)


def window_totals(forecast: pd.DataFrame, correlation: TotalCorrelation, *,
                  dispersion: np.ndarray | None = None) -> pd.DataFrame:
    """Quantiles of the window's total per SKU x region and per SKU (the ``forecast_total``
    table).

    Parameters
    ----------
    forecast
        The ``forecast`` table: ``sku_id``, ``region_id``, ``date``, ``mean`` and
        ``qNN`` columns, every date of the window per series.
    correlation
        How the cells' errors correlate (:func:`total_correlation`).
    dispersion
        Each row's negative binomial dispersion, when known; by default
        recovered from its mean and quantiles (:func:`recover_dispersion`).

    Returns
    -------
    pandas.DataFrame
        ``sku_id``, ``region_id``, ``start``, ``end``, ``days`` (dates summed),
        ``mean`` and the forecast's ``qNN`` for the total over the window: one
        row per SKU x region, then one per SKU with ``region_id`` None (every
        region). A total is negative binomial with the sum of the means and the
        variance of the module's formula; a total of one cell keeps the cell's
        own quantiles.
    """
    names, levels = _levels(forecast.columns)
    if not names:
        raise ForestockError("the forecast has no quantile columns (q10, q90, ...)")
    missing = [c for c in ("sku_id", "region_id", "date", "mean") if c not in forecast.columns]
    if missing:
        raise ForestockError(f"the forecast lacks column(s) {', '.join(missing)}")
    if forecast.empty:
        raise ForestockError("the forecast has no rows")
    mu = np.maximum(forecast["mean"].to_numpy(dtype=float), 0.0)
    qs = forecast[names].to_numpy(dtype=float).T
    if dispersion is None:
        phi = recover_dispersion(mu, qs, levels)
    else:
        phi = np.asarray(dispersion, dtype=float)
        if phi.shape != mu.shape or (phi < 0).any() or not np.isfinite(phi).all():
            raise ValueError(f"dispersion must hold one finite value >= 0 per forecast row "
                             f"({mu.size}), got shape {phi.shape}")
    sku_code, sku_ids = pd.factorize(forecast["sku_id"].astype(object), sort=False)
    reg_code, reg_ids = pd.factorize(forecast["region_id"].astype(object), sort=False)
    if (sku_code < 0).any() or (reg_code < 0).any():
        raise ForestockError("the forecast has rows without a sku_id or region_id")
    dates = pd.to_datetime(forecast["date"]).to_numpy()
    # series (SKU x region pairs) numbered in order of appearance
    series, pairs = pd.factorize(sku_code.astype(np.int64) * len(reg_ids) + reg_code)
    pair = np.asarray(pairs, dtype=np.int64)
    n_s = pair.size
    s_sku, s_reg = pair // len(reg_ids), pair % len(reg_ids)
    s = np.sqrt(phi) * mu

    def per(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=size)

    m_s, sum_s, sq_s = per(series, mu, n_s), per(series, s, n_s), per(series, s * s, n_s)
    cells_s = np.bincount(series, minlength=n_s)
    rho_d, rho_n = correlation.days, correlation.regions
    var_s = m_s + rho_d * sum_s**2 + (1 - rho_d) * sq_s
    n_k = len(sku_ids)
    m_k, sum_k = per(s_sku, m_s, n_k), per(s_sku, sum_s, n_k)
    var_k = (m_k + rho_n * sum_k**2 + (rho_d - rho_n) * per(s_sku, sum_s**2, n_k)
             + (1 - rho_d) * per(s_sku, sq_s, n_k))
    cells_k = np.bincount(s_sku, weights=cells_s, minlength=n_k).astype(np.int64)
    q_s = _total_quantiles(m_s, var_s, levels)
    q_k = _total_quantiles(m_k, var_k, levels)
    # a total of one cell is that cell: its own quantiles, whatever made them
    row_of = np.full(n_s, -1, dtype=np.int64)
    row_of[series] = np.arange(series.size)
    one = cells_s == 1
    q_s[:, one] = qs[:, row_of[one]]
    row_sku = np.full(n_k, -1, dtype=np.int64)
    row_sku[sku_code] = np.arange(sku_code.size)
    one_k = cells_k == 1
    q_k[:, one_k] = qs[:, row_sku[one_k]]
    date_ns = dates.astype("datetime64[ns]").astype(np.int64)
    start_s = _group_extreme(series, date_ns, n_s, np.minimum)
    end_s = _group_extreme(series, date_ns, n_s, np.maximum)
    start_k = _group_extreme(s_sku, start_s, n_k, np.minimum)
    end_k = _group_extreme(s_sku, end_s, n_k, np.maximum)
    date_code, uniq_dates = pd.factorize(date_ns)
    regional = pd.DataFrame({
        "sku_id": np.asarray(sku_ids, dtype=object)[s_sku],
        "region_id": np.asarray(reg_ids, dtype=object)[s_reg],
        "start": _dates(start_s), "end": _dates(end_s),
        "days": _distinct(series, date_code, n_s, len(uniq_dates)), "mean": m_s,
    })
    national = pd.DataFrame({
        "sku_id": np.asarray(sku_ids, dtype=object),
        "region_id": np.full(n_k, None, dtype=object),
        "start": _dates(start_k), "end": _dates(end_k),
        "days": _distinct(sku_code, date_code, n_k, len(uniq_dates)), "mean": m_k,
    })
    for j, name in enumerate(names):
        regional[name] = q_s[j]
        national[name] = q_k[j]
    out = pd.concat([regional, national], ignore_index=True)
    sku_of_row = np.r_[s_sku, np.arange(n_k)]
    national_last = np.r_[np.zeros(n_s, dtype=np.int8), np.ones(n_k, dtype=np.int8)]
    return out.iloc[np.lexsort((national_last, sku_of_row))].reset_index(drop=True)


def _total_quantiles(mean: np.ndarray, var: np.ndarray, levels: tuple[float, ...]
                     ) -> np.ndarray:
    safe = np.where(mean > 0, mean, 1.0)
    phi = np.where(mean > 0, np.maximum((var - mean) / safe**2, 0.0), 0.0)
    return nb_quantiles(mean, phi, levels)


def _group_extreme(group: np.ndarray, values: np.ndarray, size: int,
                   ufunc: np.ufunc) -> np.ndarray:
    """The least (``np.minimum``) or greatest (``np.maximum``) of ``values`` per group."""
    init = np.iinfo(np.int64).max if ufunc is np.minimum else np.iinfo(np.int64).min
    out = np.full(size, init, dtype=np.int64)
    ufunc.at(out, group, values)
    return out


def _dates(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("datetime64[ns]"))


def _distinct(group: np.ndarray, code: np.ndarray, size: int, n_codes: int) -> np.ndarray:
    """Distinct codes (dates) per group."""
    keys = np.unique(group.astype(np.int64) * n_codes + code)
    return np.bincount(keys // n_codes, minlength=size).astype(np.int64)


# ------------------------------------------------------------------ market
@dataclass(frozen=True)
class MarketError:
    """The error of the event total common to every SKU: its relative standard deviation.

    Parameters
    ----------
    sd
        The measurement: ``sqrt((k ordinary^2 + sum_i max(e_i^2 - own^2, 0)) / (k + n))``
        over the ``n`` held-out ``errors``, ``k`` = ``prior`` (:func:`market_error`).
    ordinary
        What the history's ordinary periods say: ``sqrt(market * dispersion)`` of
        :class:`TotalCorrelation`, the relative spread of a naive level's error common to
        every SKU over a block of the window's length.
    errors
        ``log(sold / forecast)`` of the national total on each held-out occurrence of the
        event (the combination's forecast of it at the weight it chose).
    own
        Relative standard deviation of such a total expected from the SKUs' own errors
        (their independent spread under the demand model), taken out of each ``e_i^2``.
    prior
        Occurrences the ordinary periods count for.
    """

    sd: float
    ordinary: float = 0.0
    errors: tuple[float, ...] = ()
    own: float = 0.0
    prior: float = PRIOR_OCCURRENCES

    def __post_init__(self) -> None:
        for name in ("sd", "ordinary", "own", "prior"):
            value = getattr(self, name)
            if not (value >= 0 and np.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")

    def facts(self) -> dict[str, object]:
        """The measurement as notes: ``market_sd`` (what the plan reads), and its parts."""
        return {"market_sd": self.sd, "market_ordinary_sd": self.ordinary,
                "market_errors": list(self.errors), "market_own_sd": self.own,
                "market_prior": self.prior}


def own_spread(totals: pd.DataFrame) -> float:
    """Relative standard deviation of the total over ``totals``' cells (the rows of a
    ``forecast_total`` table with a region) when the SKUs' errors are independent: the
    demand model's national total without a market factor (0 without demand)."""
    cells = totals[totals["region_id"].notna() & (totals["region_id"] != "")]
    if cells.empty:
        return 0.0
    skus = IdIndex(np.sort(cells["sku_id"].astype(str).unique()))
    regions = IdIndex(np.sort(cells["region_id"].astype(str).unique()))
    mean, sd = DemandUncertainty.from_forecast(cells, skus, regions).total()
    return sd / mean if mean > 0 else 0.0


def market_error(correlation: TotalCorrelation, held: HeldOut | Sequence[HeldOut] | None = None,
                 weight: float | None = None, own: float = 0.0,
                 prior: float = PRIOR_OCCURRENCES) -> MarketError:
    """The event total's error common to every SKU, from the ordinary periods and the
    held-out occurrences of the event.

    Each held-out occurrence forecast as the target is (``comparable``: with an earlier
    occurrence of the event in the history before it, so knowing the event's past lift;
    the first occurrence of an event is forecast without it, and its error, several-fold
    on a history of one year, says nothing of the target's; or a custom window's twin)
    gives ``e = log(sold / forecast)`` of its national total, the forecast being the
    combination's at ``weight`` (the one it chose); its square, less ``own^2`` (what
    the SKUs' own errors add to a total of that many SKUs, at least 0), is a sample of
    the market's variance. One or two samples are too few to stand alone (an occurrence
    forecast exactly right would say the market never errs), so they are pooled with the
    ordinary periods' variance (``correlation.market * correlation.dispersion``) counted
    as ``prior`` occurrences: the scale of the posterior of a variance whose prior is a
    scaled inverse chi-square with ``prior`` degrees of freedom and the ordinary
    periods' variance as its scale, ``(prior * ordinary^2 + sum e^2) / (prior + n)``.

    Parameters
    ----------
    correlation
        What :func:`total_correlation` measured on the history (its ``market``).
    held
        The held-out occurrence(s) (:attr:`Combined.held_
        <forestock.forecast.Combined>`); none: the ordinary periods alone.
    weight
        The candidate weight whose forecast counts (default: the global model's alone, 1).
    own
        :func:`own_spread` of the same SKUs' forecast.
    prior
        Occurrences the ordinary periods count for (:data:`PRIOR_OCCURRENCES`).
    """
    if prior <= 0:
        raise ValueError(f"prior must be > 0, got {prior}")
    ordinary_var = correlation.market * correlation.dispersion
    occurrences = [] if held is None else [held] if not isinstance(held, Sequence) else held
    errors = []
    for h in occurrences:
        f = h.forecast.get(1.0 if weight is None else weight)
        if h.comparable and f is not None and f > 0 and h.actual > 0:
            errors.append(float(np.log(h.actual / f)))
    var = (prior * ordinary_var + sum(max(e * e - own * own, 0.0) for e in errors)) / (
        prior + len(errors))
    out = MarketError(float(np.sqrt(var)), float(np.sqrt(ordinary_var)), tuple(errors),
                      float(own), float(prior))
    log.info("market error: sd %.4f (ordinary periods %.4f, held-out %s, own %.4f)", out.sd,
             out.ordinary, [round(e, 4) for e in errors], out.own)
    return out


# ------------------------------------------------------------------ forecast + totals
@dataclass(frozen=True, eq=False)
class WindowForecast:
    """A window's forecast per date, its totals, the correlation the totals used and the
    event total's error common to every SKU.

    Parameters
    ----------
    table
        The ``forecast`` table (per SKU, region and date).
    totals
        The ``forecast_total`` table (:func:`window_totals`).
    correlation
        What :func:`total_correlation` measured on the history.
    market
        What :func:`market_error` measured (the plan's ``market_sd``).
    """

    table: pd.DataFrame
    totals: pd.DataFrame
    correlation: TotalCorrelation
    market: MarketError = MarketError(0.0)


def forecast_with_totals(
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
) -> WindowForecast:
    """Forecast ``window`` (:func:`~forestock.forecast.forecast`) and its totals.

    The correlation is measured on ``history`` over blocks as long as the
    window (in the history's periods), and the ``forecast_total`` table built
    from the forecast with it; the market's error (:func:`market_error`) from the
    ordinary periods and, with forestock's method, the event's last occurrence the
    combination held out. ``callbacks`` hears the forecast's progress, then the task
    ``"window totals"`` (one step).
    """
    from forestock.forecast import fit_predict  # the package's entry point imports this module

    fitted, table = fit_predict(history, calendar, window, skus, regions, params,
                                prices=prices, method=method, seed=seed, callbacks=callbacks)
    cb = callbacks or Callbacks()
    cb.on_start("window totals", 1)
    periods = max(int(pd.to_datetime(table["date"]).nunique()), 1)
    correlation = total_correlation(history, calendar, periods)
    totals = window_totals(table, correlation)
    held = getattr(fitted, "held_", None)
    market = market_error(correlation, held, getattr(fitted, "total_weight_", None),
                          own_spread(totals) if held is not None else 0.0)
    result = WindowForecast(table, totals, correlation, market)
    cb.on_end("window totals")
    return result
