"""Each SKU's response to its own price: a log-log elasticity learnt from its history.

Trees cannot extrapolate: a 50%-off deal on a household good (elasticity 2.8,
seven times the units) lands in a leaf with the milder deals beside it. The
deal's expected effect ``(price / regular) ** -elasticity`` is a feature the
trees can split on directly, SKU by SKU.

The elasticity of a SKU is the weighted regression through the origin of its
national log units over its ordinary level on its log discount, over the
ordinary periods up to the row's origin (prefix sums, so no row sees its
future), shrunk towards its category's pooled elasticity, which is shrunk
towards zero (no price effect) until the category has shown one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forestock.forecast._features import Aggregates
from forestock.forecast._kernels import group_sums
from forestock.forecast._panel import LEVELS, Panel

#: Prior weight (in units of weighted squared log discount: about four days at 30% off
#: on a SKU selling well) of the category's elasticity in a SKU's, and of zero in a
#: category's.
_PRIOR_WEIGHT = 5.0
#: Day-shock variance in the regression's weights (as the event lifts' prior).
_SHOCK_VAR = 0.12
#: Elasticities are kept in [0, _MAX_ELASTICITY]: demand does not rise with price.
_MAX_ELASTICITY = 4.0
#: A price ratio below this is a discount.
_REGULAR = 0.995


@dataclass(frozen=True)
class PooledPrice:
    """Per category, prefix sums of the pooled regression (``[category, periods + 1]``)."""

    XY: np.ndarray
    XX: np.ndarray


@dataclass(frozen=True)
class PriceResponse:
    """Planned prices and every SKU's learnt response to them."""

    ratio: np.ndarray  # float32 [series, periods]: planned over regular price, NaN unknown
    XY: np.ndarray  # [sku, periods + 1]: prefix sums of w x y
    XX: np.ndarray  # [sku, periods + 1]: prefix sums of w x^2
    category: np.ndarray  # int64 [sku]: category code
    pooled: PooledPrice

    def elasticity(self, sku: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Each row's SKU elasticity learnt from the periods up to its origin."""
        cat = self.category[sku]
        xy_c, xx_c = self.pooled.XY[cat, origin + 1], self.pooled.XX[cat, origin + 1]
        prior = xy_c / (xx_c + _PRIOR_WEIGHT)
        xy, xx = self.XY[sku, origin + 1], self.XX[sku, origin + 1]
        beta = (xy + _PRIOR_WEIGHT * prior) / (xx + _PRIOR_WEIGHT)
        return np.clip(beta, 0.0, _MAX_ELASTICITY)

    def effect(self, series: np.ndarray, period: np.ndarray, elasticity: np.ndarray
               ) -> np.ndarray:
        """The multiplier ``(price / regular) ** -elasticity`` of each row at ``period``
        (1 where the price is not known)."""
        r = self.ratio[series, period].astype(np.float64)
        good = np.isfinite(r) & (r > 0)
        x = -np.log(np.where(good, r, 1.0))
        return np.clip(np.exp(elasticity * x), 0.05, 20.0)


def _regular_level(N: np.ndarray, regular: np.ndarray, t: np.ndarray, w: int) -> np.ndarray:
    """Per SKU and period, the mean units of the regular periods among the ``w`` before it
    (NaN with fewer than ``w // 4`` of them)."""
    zero = np.zeros((N.shape[0], 1))
    S = np.concatenate([zero, np.cumsum(np.where(regular, N, 0.0), axis=1)], axis=1)
    K = np.concatenate([zero, np.cumsum(regular.astype(np.float64), axis=1)], axis=1)
    a = np.maximum(t - w, 0)
    n = K[:, t] - K[:, a]
    return np.where(n >= max(w // 4, 1), (S[:, t] - S[:, a]) / np.maximum(n, 1.0), np.nan)


def price_response(p: Panel, agg: Aggregates, ratio: np.ndarray, category: np.ndarray,
                   n_categories: int, pooled: PooledPrice | None = None) -> PriceResponse:
    """Fit the prefix sums of each SKU's price regression on the panel's history.

    ``category`` codes each SKU's category in ``range(n_categories)``. ``pooled``: the
    categories' regression measured on another panel (the block
    path's training block), so every block shrinks towards the same elasticities.
    """
    n_sku, T = agg.N.shape
    mid = LEVELS[p.freq][1]
    # the SKU's national price ratio per period: the mean over its series that have one
    known = np.isfinite(ratio)
    total = group_sums(np.where(known, ratio, 0.0), p.series_sku, n_sku)
    count = group_sums(known.astype(np.float64), p.series_sku, n_sku)
    r = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
    t = np.arange(T)
    first = agg.sku_first_sale[:, None]
    # the level a discount is measured against: the ordinary periods at the regular price
    # (a level counting the first days of a two-week deal would hide half of its effect)
    regular = p.ordinary[None, :] & ~((count > 0) & (r < _REGULAR))
    level = _regular_level(agg.N, regular, t, mid)
    ok = ((count > 0) & (r > 0) & p.ordinary[None, :] & (t < p.n_hist)[None, :]
          & (first >= 0) & (t[None, :] >= first + mid) & np.isfinite(level) & (level > 0))
    x = np.where(ok, -np.log(np.where(ok, r, 1.0)), 0.0)
    lv = np.where(ok, level, 0.0)
    y = np.where(ok, np.log((agg.N + 0.5) / (lv + 0.5)), 0.0)
    w = np.where(ok, 1.0 / (_SHOCK_VAR + 1.0 / (lv + 1.0)), 0.0)

    def prefix(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)

    XY, XX = prefix(w * x * y), prefix(w * x * x)
    codes = category.astype(np.int64)
    if pooled is None:
        pooled = PooledPrice(group_sums(XY, codes, n_categories),
                             group_sums(XX, codes, n_categories))
    return PriceResponse(ratio, XY, XX, codes, pooled)
