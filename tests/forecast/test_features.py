"""The shrinkage of a SKU's previous event lift and the day-shock variance it rests on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma, polygamma

from forestock.forecast._features import _PRIOR_LIFT_VAR, _shock_terms, _shrunk_lift


def test_shrunk_lift_moves_from_the_sku_to_the_market_as_noise_grows() -> None:
    """No noise keeps the SKU's own lift, overwhelming noise gives the market's, and the
    prior's own variance lands halfway in log space."""
    sku, market = np.array([2.0, 2.0, 2.0]), np.array([10.0, 10.0, 10.0])
    out = _shrunk_lift(sku, market, np.array([0.0, 1e9, _PRIOR_LIFT_VAR]))
    np.testing.assert_allclose(out, [2.0, 10.0, np.sqrt(20.0)], rtol=1e-6)
    assert np.isnan(_shrunk_lift(np.array([np.nan]), np.array([10.0]), np.array([0.1]))[0])


def _mean_term(shape: float, level: float) -> float:
    rng = np.random.default_rng(7)
    T, w = 4000, 28
    N = rng.poisson(level * rng.gamma(shape, 1.0 / shape, T)).astype(float)[None, :]
    CN_ord = np.concatenate([[0.0], np.cumsum(N[0])])[None, :]
    term, ok = _shock_terms(N, CN_ord, np.arange(T + 1), np.ones(T, dtype=bool),
                            np.array([0]), w)
    assert ok[0, :w].sum() == 0 and ok[0, w:].all()
    return float(term[0, ok[0] > 0].mean())


@pytest.mark.parametrize("shape", [2.0, 8.0, 30.0])
def test_shock_terms_recover_the_day_shock_on_a_busy_sku(shape: float) -> None:
    """On busy Poisson days scaled by a gamma shock G, the mean term is E[log(G)**2] (the
    error of a lift read off one day), the Poisson part taken out."""
    want = float(polygamma(1, shape) + (digamma(shape) - np.log(shape)) ** 2)
    assert _mean_term(shape, 400.0) == pytest.approx(want, rel=0.1, abs=0.01)


def test_shock_terms_keep_order_on_a_slow_sku() -> None:
    """On a slow SKU the Poisson correction is rough but a wilder shock still reads wilder,
    and a calm one stays small."""
    calm, wild = _mean_term(30.0, 5.0), _mean_term(2.0, 5.0)
    assert calm < 0.15 < wild
