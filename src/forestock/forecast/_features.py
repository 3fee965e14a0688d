"""Features of (series, origin, target period) rows, vectorised over prefix sums.

Everything a row sees comes from periods up to its origin: levels and
trends, last season, the previous occurrence of the target's event (at the
series, the SKU's national and the whole market's level), the calendar of
the target, static attributes and planned prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.forecast._kernels import group_sums, prefix_sums
from forestock.forecast._panel import LEVELS, Panel

if TYPE_CHECKING:
    from forestock.forecast._price import PooledPrice, PriceResponse

_EPS = 1e-3


@dataclass
class Aggregates:
    """Prefix sums of the panel and of its national and regional aggregates."""

    C: np.ndarray  # float64 [series, periods + 1]
    C_ord: np.ndarray  # ordinary periods only
    C_nz: np.ndarray  # int32, periods with sales
    n_ord: np.ndarray  # int64 [periods + 1]: ordinary periods before t
    N: np.ndarray  # float64 [sku, periods]: national units per SKU
    CN: np.ndarray  # [sku, periods + 1]
    CN_ord: np.ndarray
    CR: np.ndarray  # [region, periods + 1]
    tot: np.ndarray  # [periods]
    Ctot_ord: np.ndarray  # [periods + 1]
    first_sale: np.ndarray  # [series], -1 never
    sku_first_sale: np.ndarray  # [sku], -1 never
    CV: np.ndarray  # [sku, periods + 1]: day-shock variance terms (see _shock_terms)
    CV_n: np.ndarray  # [sku, periods + 1]: periods counted in CV
    typical: np.ndarray  # [periods]: the typical SKU's log lift on event periods (NaN else)
    peaks: np.ndarray  # int64 [peak]: event periods of the history with a clear typical lift
    RXY: np.ndarray  # [sku, peak + 1]: prefix sums of the response regression (see _response)
    RXX: np.ndarray


@dataclass(frozen=True)
class Market:
    """Units per region and period over every SKU, on a panel's period grid.

    A panel holding only some SKUs (a block) takes the market from here, so its
    regional and market features equal those of the whole panel.
    """

    R: np.ndarray  # float64 [region, periods]
    tot: np.ndarray  # float64 [periods]
    typical: np.ndarray | None = None  # [periods]: see typical_log_lift; None: of the panel
    price: PooledPrice | None = None  # the categories' price response; None: of the panel

    @classmethod
    def of(cls, p: Panel) -> Market:
        """The market of a panel holding every SKU."""
        R = group_sums(p.Y, p.series_region, len(p.region_ids))
        return cls(R, R.sum(axis=0), aggregates(p, cls(R, R.sum(axis=0))).typical)


def aggregates(p: Panel, market: Market | None = None) -> Aggregates:
    """Prefix sums over the history (future periods count as zero)."""
    ordm = p.ordinary.astype(np.float64)

    def prefix(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((a.shape[0], 1), dtype=a.dtype), np.cumsum(a, axis=1)],
                              axis=1)

    C, C_ord, C_nz, first = prefix_sums(p.Y, p.ordinary)
    N = group_sums(p.Y, p.series_sku, len(p.sku_ids))
    if market is None:
        R = group_sums(p.Y, p.series_region, len(p.region_ids))
        market = Market(R, R.sum(axis=0))
    m = market
    tot = m.tot
    sku_sold = N > 0
    sku_first = np.where(sku_sold.any(axis=1), np.argmax(sku_sold, axis=1), -1)
    CN_ord = prefix(N * ordm)
    n_ord = np.concatenate([[0], np.cumsum(p.ordinary.astype(np.int64))])
    mid = LEVELS[p.freq][1]
    v, vn = _shock_terms(N, CN_ord, n_ord, p.ordinary, sku_first, mid)
    lifts = _event_lifts(p, N, CN_ord, n_ord, sku_first, mid)
    typical = m.typical if m.typical is not None else typical_log_lift(p, lifts)
    peaks = np.flatnonzero(typical[: p.n_hist] > _PEAK_LOG_LIFT)
    xy, xx = _response(lifts, peaks, typical)
    return Aggregates(
        C=C, C_ord=C_ord, C_nz=C_nz,
        n_ord=n_ord, N=N, CN=prefix(N), CN_ord=CN_ord, CR=prefix(m.R), tot=tot,
        Ctot_ord=np.concatenate([[0.0], np.cumsum(tot * ordm)]), first_sale=first,
        sku_first_sale=sku_first, CV=prefix(v), CV_n=prefix(vn),
        typical=typical, peaks=peaks, RXY=prefix(xy), RXX=prefix(xx),
    )


@dataclass(frozen=True)
class _Lifts:
    """Each SKU's log lift on every event period of the history, over its ordinary level."""

    periods: np.ndarray  # int64 [event]: event periods of the history
    log_lift: np.ndarray  # float64 [sku, event], NaN where the SKU had no level yet
    level: np.ndarray  # float64 [sku, event]: the ordinary level it is measured against


def _event_lifts(p: Panel, N: np.ndarray, CN_ord: np.ndarray, n_ord: np.ndarray,
                 sku_first: np.ndarray, w: int) -> _Lifts:
    periods = np.flatnonzero(p.event_code[: p.n_hist] >= 0).astype(np.int64)
    rows = np.arange(N.shape[0])[:, None]
    level = _ordinary_level(CN_ord, n_ord, rows, periods[None, :] - 1, w)
    known = (np.isfinite(level) & (sku_first[:, None] >= 0)
             & (periods[None, :] >= sku_first[:, None] + w))
    with np.errstate(invalid="ignore"):
        lift = np.log((N[:, periods] + 0.5) / (level + 0.5))
    return _Lifts(periods, np.where(known, lift, np.nan), np.where(known, level, 0.0))


def typical_log_lift(p: Panel, lifts: _Lifts) -> np.ndarray:
    """Per period, the median log lift of the SKUs selling at least
    ``_TYPICAL_MIN_LEVEL`` units an ordinary period (NaN off events or with fewer than
    three such SKUs).

    A market total would follow its few best-sellers' own shocks; the median SKU
    tells how big the event was for a SKU, which is what a SKU's response to
    events is measured against.
    """
    out = np.full(len(p.dates), np.nan)
    ok = np.isfinite(lifts.log_lift) & (lifts.level >= _TYPICAL_MIN_LEVEL)
    for j, t in enumerate(lifts.periods):
        if ok[:, j].sum() >= 3:
            out[t] = float(np.median(lifts.log_lift[ok[:, j], j]))
    return out


def _response(lifts: _Lifts, peaks: np.ndarray, typical: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per SKU and peak period, the terms ``w x y`` and ``w x^2`` of the weighted
    regression through the origin of the SKU's log lift ``y`` on the typical SKU's ``x``;
    ``w = 1 / (day-shock variance + Poisson variance 1 / (level + 1))``."""
    j = np.searchsorted(lifts.periods, peaks)
    y = lifts.log_lift[:, j]
    x = typical[peaks][None, :]
    w = np.where(np.isfinite(y), 1.0 / (_PRIOR_LIFT_VAR + 1.0 / (lifts.level[:, j] + 1.0)),
                 0.0)
    return w * x * np.nan_to_num(y), w * x * x


def _response_of(agg: Aggregates, sku: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Each row's SKU response to peaks seen up to its origin (1: as the typical SKU),
    shrunk towards 1 (normal prior of variance ``_PRIOR_RESPONSE_VAR``); NaN before any
    peak of the SKU."""
    k = np.searchsorted(agg.peaks, origin, side="right")
    xy, xx = agg.RXY[sku, k], agg.RXX[sku, k]
    beta = (1.0 + _PRIOR_RESPONSE_VAR * xy) / (1.0 + _PRIOR_RESPONSE_VAR * xx)
    return np.where(xx > 0, beta, np.nan)


def _shock_terms(N: np.ndarray, CN_ord: np.ndarray, n_ord: np.ndarray, ordinary: np.ndarray,
                 sku_first: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per SKU and ordinary period, an unbiased term of the variance of the SKU's
    national day shock, and whether the period counts.

    The term is ``log((N + 1/2) / (L + 1/2))**2 - 1 / (L + 1)``: the squared log
    deviation of the period's national units from the ordinary level ``L`` of
    the ``w`` periods before it, less the part a Poisson count of mean ``L``
    adds. Averaged over recent periods it tells how far a single day (such as
    the previous event) can stray from what the SKU's level predicts: the
    shrinkage of the SKU's previous event lift uses it.
    """
    t = np.arange(N.shape[1])
    n = n_ord[t] - n_ord[np.maximum(t - w, 0)]
    ok = (ordinary[None, :] & (n >= w // 2)[None, :] & (sku_first[:, None] >= 0)
          & (t[None, :] >= sku_first[:, None] + w))
    L = np.where(ok, _ordinary_level(CN_ord, n_ord, np.arange(N.shape[0])[:, None], t - 1, w),
                 0.0)
    dev = np.log((N + 0.5) / (L + 0.5))
    term = np.where(ok, dev * dev - 1.0 / (L + 1.0), 0.0)
    return term, ok.astype(np.float64)


def _window(C: np.ndarray, rows: np.ndarray, end: np.ndarray, w: int) -> np.ndarray:
    """Mean over the ``w`` periods ending at ``end`` (inclusive), clipped at the start."""
    a = np.maximum(end + 1 - w, 0)
    n = np.maximum(end + 1 - a, 1)
    return (C[rows, end + 1] - C[rows, a]) / n


def _ordinary_level(C_ord: np.ndarray, n_ord: np.ndarray, rows: np.ndarray, end: np.ndarray,
                    w: int, first: np.ndarray | None = None) -> np.ndarray:
    """Mean over the ordinary periods among the ``w`` ending at ``end``; NaN if none.

    With ``first`` (each row's first sale, -1 none), only periods from it count: a
    series launched three weeks ago sells at its level of three weeks, not a quarter
    of it.
    """
    a = np.maximum(end + 1 - w, 0)
    if first is not None:
        a = np.minimum(np.maximum(a, np.where(first >= 0, first, 0)), end + 1)
    n = n_ord[end + 1] - n_ord[a]
    s = C_ord[rows, end + 1] - C_ord[rows, a]
    return np.where(n > 0, s / np.maximum(n, 1), np.nan)


#: Weeks of ordinary days a weekday index is measured over, and the units of evidence
#: before a SKU's own weekday pattern outweighs the market's.
_WEEKDAY_WEEKS = 8
_WEEKDAY_PRIOR = 30.0


def weekday_index(p: Panel, agg: Aggregates, sku: np.ndarray, origin: np.ndarray,
                  *days: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each row's weekday index on the weekday of each of ``days`` (periods): the SKU's
    national units on that weekday over its ordinary mean, over the ordinary days of the
    ``_WEEKDAY_WEEKS`` weeks up to ``origin``, shrunk towards the market's index.

    Returns ``(sku_index, market_index)`` per day; both are 1 on weekly and monthly
    panels.
    """
    if p.freq != "D":
        one = np.ones(len(sku))
        return [(one, one) for _ in days]
    span = 7 * _WEEKDAY_WEEKS
    ones = np.zeros(len(sku), dtype=np.int64)
    level = np.nan_to_num(_ordinary_level(agg.CN_ord, agg.n_ord, sku, origin, span))
    market = np.nan_to_num(_ordinary_level(agg.Ctot_ord[None, :], agg.n_ord, ones, origin,
                                           span))
    return [_weekday_index_on(p, agg, sku, origin, day, level, market) for day in days]


def _weekday_index_on(p: Panel, agg: Aggregates, sku: np.ndarray, origin: np.ndarray,
                      day: np.ndarray, level: np.ndarray, market: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    back = origin - np.mod(origin - day, 7)  # the latest day up to the origin on that weekday
    s_d = np.zeros(len(sku))
    m_d = np.zeros(len(sku))
    n_d = np.zeros(len(sku))
    for k in range(_WEEKDAY_WEEKS):
        t = back - 7 * k
        tc = np.maximum(t, 0)
        ok = (t >= 0) & p.ordinary[tc]
        s_d += np.where(ok, agg.N[sku, tc], 0.0)
        m_d += np.where(ok, agg.tot[tc], 0.0)
        n_d += ok
    good = (n_d > 0) & (market > 0)
    m_idx = np.where(good, m_d / np.where(good, n_d * market, 1.0), 1.0)
    idx = (s_d + _WEEKDAY_PRIOR * m_idx) / (n_d * level + _WEEKDAY_PRIOR)
    return np.clip(idx, 0.2, 5.0), np.clip(m_idx, 0.2, 5.0)


def _shock_variance(agg: Aggregates, sku: np.ndarray, end: np.ndarray, w: int) -> np.ndarray:
    """Variance of the SKU's national day shock over the ``w`` periods ending at ``end``
    (NaN with fewer than ``w // 4`` usable periods)."""
    a = np.maximum(end + 1 - w, 0)
    n = agg.CV_n[sku, end + 1] - agg.CV_n[sku, a]
    v = (agg.CV[sku, end + 1] - agg.CV[sku, a]) / np.maximum(n, 1.0)
    return np.where(n >= max(w // 4, 2), np.maximum(v, 0.0), np.nan)


#: Prior variance of a SKU's log event lift around the market's (a SKU lifts by about
#: exp(+-0.35) times what the market does), the weight of the market in the shrinkage.
_PRIOR_LIFT_VAR = 0.12
#: A SKU counts in the typical event lift from this ordinary level (units per period).
_TYPICAL_MIN_LEVEL = 5.0
#: Event periods where the typical SKU sells over exp(0.2) = 1.22 times its level are peaks:
#: a SKU's lifts there measure its response to events (lulls such as presales are not).
_PEAK_LOG_LIFT = 0.2
#: Prior variance of a SKU's response to peaks (its log lift over the typical SKU's) around
#: 1: log lifts about +-17% of the typical SKU's, that is ``_PRIOR_LIFT_VAR`` at an 11.11-sized
#: peak (log lift 2).
_PRIOR_RESPONSE_VAR = 0.03


def _shrunk_lift(sku_lift: np.ndarray, market_lift: np.ndarray,
                 noise_var: np.ndarray) -> np.ndarray:
    """The SKU's lift shrunk towards the market's in log space, with weight
    ``prior / (prior + noise_var)`` on the SKU's own (normal-normal posterior mean)."""
    weight = _PRIOR_LIFT_VAR / (_PRIOR_LIFT_VAR + noise_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        ls, lm = np.log(sku_lift), np.log(market_lift)
    return np.exp(lm + weight * (ls - lm))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b``, NaN where ``b`` is not positive (or either is unknown)."""
    good = (b > 0) & np.isfinite(a) & np.isfinite(b)
    return np.where(good, np.where(good, a, 0.0) / np.where(good, b, 1.0), np.nan)


def _since(start: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Whether a first sale ``start`` (-1: never) came at or before period ``t``."""
    return (start >= 0) & (start <= t)


def _previous_occurrence(p: Panel, origin: np.ndarray, target: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: whether the target's event occurred before (its aligned day by the
    origin), that aligned period, and the period before that occurrence began."""
    prev = p.prev_start[target].astype(np.int64)
    aligned = prev + p.event_offset[target]
    okp = (prev >= 0) & (aligned <= origin)
    return okp, np.where(okp, aligned, 0), np.maximum(np.where(okp, prev, 0) - 1, 0)


def unread_lift(p: Panel, agg: Aggregates, series: np.ndarray, origin: np.ndarray,
                target: np.ndarray) -> np.ndarray:
    """Rows of an event that occurred before whose SKU's own lift there is not read (see
    ``event_prev_sku_lift``) because the SKU began selling shortly before that occurrence
    or after it: not a SKU selling since the history's first periods (it may be older),
    nor one that never sold."""
    short = LEVELS[p.freq][0]
    okp, _, pb = _previous_occurrence(p, origin, target)
    first = agg.sku_first_sale[p.series_sku[series]]
    return okp & (first >= short) & ~_since(first, pb - short)


def row_features(
    p: Panel,
    agg: Aggregates,
    series: np.ndarray,
    origin: np.ndarray,
    target: np.ndarray,
    sku_static: pd.DataFrame,
    region_static: pd.DataFrame,
    price: PriceResponse | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of each (series, origin, target) row and its baseline level.

    Returns the feature frame and ``base``: the expected units of the row
    were it an ordinary period (the model learns a multiplier on it).
    """
    short, mid, long_ = LEVELS[p.freq]
    sku = p.series_sku[series]
    reg = p.series_region[series]
    ones = np.zeros(len(series), dtype=np.int64)
    # no horizon feature: event targets early in the history come from shorter horizons,
    # and a horizon feature would mistake that for an effect of the horizon
    f: dict[str, np.ndarray] = {}
    for w in (short, mid, long_):
        f[f"level_{w}"] = _window(agg.C, series, origin, w)
    first = agg.first_sale[series]
    sku_first = agg.sku_first_sale[sku]
    # ordinary levels from the first sale on: a recent launch is not diluted by its zeros
    f["level_ord"] = _ordinary_level(agg.C_ord, agg.n_ord, series, origin, mid, first)
    f["trend"] = (f[f"level_{short}"] + _EPS) / (f[f"level_{long_}"] + _EPS)
    a = np.maximum(origin + 1 - long_, 0)
    f["sold_share"] = (agg.C_nz[series, origin + 1] - agg.C_nz[series, a]) / np.maximum(
        origin + 1 - a, 1)
    # periods since the first sale; unknown (NaN) when that was at the history's start,
    # since the series may be older: a censored age would teach the model a false launch
    known = (first >= short) & (first <= origin)
    f["age"] = np.where(known, origin - first, np.where(first < 0, -1, np.nan)).astype(
        np.float32)
    nat_ord = _ordinary_level(agg.CN_ord, agg.n_ord, sku, origin, mid, sku_first)
    f["sku_level_ord"] = nat_ord
    f["sku_level_short"] = _window(agg.CN, sku, origin, short)
    f["region_level"] = _window(agg.CR, reg, origin, mid)
    hist_share = (agg.C[series, origin + 1] + _EPS) / (agg.CN[sku, origin + 1]
                                                       + _EPS * len(p.region_ids))
    f["region_share"] = hist_share
    tot_ord = _ordinary_level(agg.Ctot_ord[None, :], agg.n_ord, ones, origin, mid)
    # last season: the same period a year earlier, and the market's lift there. A year-ago
    # value exists only where the series (or its SKU) had started selling by then: before
    # its launch it is unknown (NaN), not a zero that would read as a dead series.
    s = target - p.season
    ok = (s >= 0) & (s <= origin)
    sc = np.where(ok, s, 0)
    ok_ser, ok_sku = ok & _since(first, sc), ok & _since(sku_first, sc)
    Yh = np.nan_to_num(p.Y, nan=0.0)
    f["last_season"] = np.where(ok_ser, Yh[series, sc], np.nan)
    lo, hi = np.maximum(sc - 1, 0), np.minimum(sc + 1, origin)
    around = (agg.C[series, hi + 1] - agg.C[series, lo]) / np.maximum(hi + 1 - lo, 1)
    f["last_season_around"] = np.where(ok_ser, around, np.nan)
    base_then = _ordinary_level(agg.C_ord, agg.n_ord, series, np.maximum(sc - 1, 0), mid)
    f["last_season_lift"] = np.where(ok_ser, (f["last_season"] + _EPS) / (base_then + _EPS),
                                     np.nan)
    # the same at the SKU's national and the market's level: smoother seasonal indices
    sku_then = _ordinary_level(agg.CN_ord, agg.n_ord, sku, np.maximum(sc - 1, 0), mid)
    f["sku_season_lift"] = np.where(ok_sku, (agg.N[sku, sc] + _EPS) / (sku_then + _EPS),
                                    np.nan)
    tot_then = _ordinary_level(agg.Ctot_ord[None, :], agg.n_ord, ones, np.maximum(sc - 1, 0),
                               mid)
    f["market_season_lift"] = np.where(ok, (agg.tot[sc] + _EPS) / (tot_then + _EPS), np.nan)
    okp, ac, pb = _previous_occurrence(p, origin, target)
    # a lift is read only off a series selling for a while before that occurrence: a launch
    # still ramping up would pass its ramp off as the event's lift
    okp_ser = okp & _since(first, pb - short)
    okp_sku = okp & _since(sku_first, pb - short)
    # weekday indices of the target and of the aligned day of the previous occurrence: lifts
    # are read net of the weekday they fell on and applied on the target's
    (wd, _), (wd_prev, wd_market_prev) = weekday_index(p, agg, sku, origin, target, ac)
    ser_prev = Yh[series, ac]
    ser_base = _ordinary_level(agg.C_ord, agg.n_ord, series, pb, mid, first) * wd_prev
    nat_prev = agg.N[sku, ac]
    nat_base = _ordinary_level(agg.CN_ord, agg.n_ord, sku, pb, mid, sku_first) * wd_prev
    tot_prev = agg.tot[ac]
    tot_base = _ordinary_level(agg.Ctot_ord[None, :], agg.n_ord, ones, pb, mid) * wd_market_prev
    f["event_prev"] = np.where(okp_ser, ser_prev, np.nan)
    f["event_prev_lift"] = np.where(okp_ser, (ser_prev + _EPS) / (ser_base + _EPS), np.nan)
    f["event_prev_sku_lift"] = np.where(okp_sku, (nat_prev + _EPS) / (nat_base + _EPS), np.nan)
    f["event_prev_market_lift"] = np.where(okp, (tot_prev + _EPS) / (tot_base + _EPS), np.nan)
    f["event_prev_sku_share"] = np.where(okp_sku, (nat_prev + _EPS) / (tot_prev + _EPS),
                                         np.nan)
    # the previous event's lift shrunk towards the market's by how far one day of this SKU
    # strays from its level: one noisy event day says little about the next
    shock = _shock_variance(agg, sku, origin, long_)
    f["event_prev_sku_lift_shrunk"] = _shrunk_lift(
        f["event_prev_sku_lift"], f["event_prev_market_lift"],
        np.nan_to_num(shock, nan=_PRIOR_LIFT_VAR) + 1.0 / (nat_prev + 1.0))
    # the SKU's response to every past peak (not only this event's last occurrence): a
    # SKU that lifts more than the typical SKU on each promotion will again
    response = _response_of(agg, sku, origin)
    f["event_response"] = response
    typical_prev = np.where(okp, agg.typical[ac], np.nan)
    f["event_prev_typical_lift"] = np.exp(typical_prev)
    f["event_lift_by_response"] = np.exp(response * (typical_prev - np.log(wd_market_prev)))
    year_ago = origin - p.season
    f["market_growth"] = np.where(
        year_ago >= mid,
        (tot_ord + _EPS) / (_ordinary_level(agg.Ctot_ord[None, :], agg.n_ord, ones,
                                            np.maximum(year_ago, 0), mid) + _EPS),
        np.nan)
    # the target's calendar
    f["event"] = (p.event_code[target] + 1).astype(np.float32)  # 0: no event
    f["event_count"] = p.event_count[target].astype(np.float32)
    f["event_offset"] = np.where(p.event_code[target] >= 0, p.event_offset[target], -1)
    f["event_length"] = p.event_length[target].astype(np.float32)
    f["to_next_event"] = p.to_next[target].astype(np.float32)
    f["since_last_event"] = p.since_last[target].astype(np.float32)
    dates = p.dates[target]
    f["month"] = dates.month.to_numpy(dtype=np.float32)
    if p.freq == "D":  # the weekday shapes event days too (a 22-day sale has weekends)
        # but not a short event's: each occurrence of a one-day 11.11 falls on one weekday,
        # so the trees take the occurrence's own surprise for the weekday's and carry it to
        # none of the next (the world's 11.11 learnt from one Tuesday forecast a Wednesday
        # at 0.57 of the Tuesday's lift); the SKU's weekday index still applies
        short_event = (p.event_code[target] >= 0) & (p.event_length[target] < 7)
        f["weekday"] = np.where(short_event, np.nan,
                                dates.dayofweek.to_numpy(dtype=np.float32)).astype(np.float32)
        f["weekday_index"] = wd
    for col in sku_static.columns:
        f[col] = sku_static[col].to_numpy()[sku]
    for col in region_static.columns:
        f[col] = region_static[col].to_numpy()[reg]
    if price is not None:
        price_ratio = price.ratio  # [series, periods]: planned over regular price
        pr = price_ratio[series, target]
        f["price_ratio"] = pr
        # the promotion's depth against the series' usual price, and last season's price
        # (which explains last season's units)
        seen = np.stack([price_ratio[series, np.maximum(origin - k, 0)] for k in range(mid)])
        have = ~np.isnan(seen)
        recent = np.where(have.any(axis=0), np.where(have, seen, 0.0).sum(axis=0)
                          / np.maximum(have.sum(axis=0), 1), np.nan)
        f["price_vs_recent"] = _ratio(pr, recent)
        f["price_last_season"] = np.where(ok, price_ratio[series, sc], np.nan)
        f["price_vs_last_season"] = _ratio(pr, f["price_last_season"])
        # the deal's expected effect by the SKU's elasticity learnt from its past deals: a
        # feature, not a factor of the base. As a factor (with lifts read net of past
        # prices or not) the trees stacked their own deal lift on it and the suite's promo
        # set went from WRMSSE 1.30/1.48 (seeds 0/1) to 6.6/2.9; as a feature, 1.27/1.34
        elasticity = price.elasticity(sku, origin)
        f["price_elasticity"] = elasticity
        f["price_effect"] = price.effect(series, target, elasticity)
    frame = pd.DataFrame(f)
    # the ordinary level, or the plain one where every recent period carried an event
    level = np.where(np.isnan(f["level_ord"]), f[f"level_{mid}"], f["level_ord"])
    if p.freq == "M":  # monthly: last year's month, grown as the series grew since
        ya = origin - p.season
        then = _window(agg.C, series, np.maximum(ya, 0), mid)
        growth = np.clip((f[f"level_{mid}"] + _EPS) / (then + _EPS), 0.5, 2.0)
        seasonal = f["last_season"] * growth
        level = np.where(np.isnan(seasonal) | (ya < mid), f[f"level_{mid}"],
                         0.5 * seasonal + 0.5 * f[f"level_{mid}"])
    prior = np.nan_to_num(nat_ord, nan=0.0) * hist_share
    # the weekday index is a feature, not a factor of the base: as a factor it cost the
    # world's 11.11 (WRMSSE 8.5 -> 11.6) and two of the suite's three sets
    base = 0.8 * level + 0.2 * prior + _EPS
    return frame, base.astype(np.float64)
