"""The demand model's market factor: SKUs that rise and fall together, as measured."""

from __future__ import annotations

import dataclasses
from statistics import NormalDist

import numpy as np
import pytest

from forestock.uncertainty import DemandUncertainty

Z90 = NormalDist().inv_cdf(0.9)


def _model(skus: int = 400, regions: int = 6, mean: float = 200.0, cv: float = 0.3,
           seed: int = 0) -> DemandUncertainty:
    """``skus`` x ``regions`` cells with normal quantiles (q10, q50, q90) far from zero, so
    every cell's demand is exactly normal in its score (no floor at zero)."""
    rng = np.random.default_rng(seed)
    mu = mean * rng.uniform(0.5, 1.5, skus * regions)
    sd = np.sqrt(mu + (cv * mu) ** 2)
    quant = np.column_stack([mu - Z90 * sd, mu, mu + Z90 * sd])
    return DemandUncertainty(
        indptr=np.arange(0, skus * regions + 1, regions, dtype=np.int64),
        cell_region=np.tile(np.arange(regions, dtype=np.int32), skus), mean=mu, quant=quant,
        levels=np.array([0.1, 0.5, 0.9]),
        sku_key=np.arange(1, skus + 1, dtype=np.int64) * 7919,
        region_key=np.arange(1, regions + 1, dtype=np.int64) * 104729)


def _totals(model: DemandUncertainty, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """National total ``[scenario]`` and SKU totals ``[sku, scenario]`` of ``n`` scenarios."""
    d = model.scenarios(0, model.n_skus, n, seed)
    per_sku = np.add.reduceat(d, model.indptr[:-1], axis=0)
    return per_sku.sum(axis=0), per_sku


def test_a_known_market_error_is_recovered_by_monte_carlo() -> None:
    """Scenarios of a model with a market error of 8% give back, from the SKUs' covariances
    alone, a market error of 8% (within 1.5 points) and the model's own total spread; each
    SKU's spread is what it was without the market."""
    base = _model()
    model = base.with_market_sd(0.08)
    assert 0 < model.market < 1
    total, per_sku = _totals(model, 4000, seed=3)
    mean, sd = model.total()
    assert total.mean() == pytest.approx(mean, rel=0.01)
    assert total.std() == pytest.approx(sd, rel=0.06)
    cross = total.var() - per_sku.var(axis=1).sum()  # covariances of different SKUs
    a = np.bincount(base.cell_sku, weights=np.sqrt(base.shared()) * base.sd())
    market = np.sqrt(cross / (1.0 - (a * a).sum() / a.sum() ** 2)) / mean
    assert market == pytest.approx(0.08, abs=0.015)
    _, alone = _totals(base, 4000, seed=3)
    np.testing.assert_allclose(per_sku.std(axis=1).mean(), alone.std(axis=1).mean(), rtol=0.03)


def test_the_national_band_widens_with_the_market_and_not_the_skus_quantities() -> None:
    """Without a market the band of the total narrows as the SKUs grow; with one it keeps
    the market's width at any count. The SKUs' national quantities do not change."""
    widths = {}
    for skus in (100, 1600):
        base = _model(skus=skus)
        for sd in (0.0, 0.1):
            model = base.with_market_sd(sd)
            mean, spread = model.total()
            widths[skus, sd] = spread / mean
            np.testing.assert_array_equal(model.national(0.9), base.national(0.9))
    assert widths[1600, 0.0] < 0.3 * widths[100, 0.0]
    assert widths[100, 0.1] > widths[100, 0.0] and widths[1600, 0.1] > 0.1
    assert widths[1600, 0.1] == pytest.approx(0.1, rel=0.05)


def test_a_market_error_beyond_the_cells_spread_moves_every_sku_together() -> None:
    """A market error wider than the cells' shared spread is cut to a share of 1; 0 keeps
    the SKUs independent, and a bad value is refused."""
    base = _model()
    assert base.with_market_sd(5.0).market == 1.0
    assert base.with_market_sd(0.0).market == 0.0
    with pytest.raises(ValueError, match="sd must be"):
        base.with_market_sd(-0.1)
    with pytest.raises(ValueError, match="market must be"):
        dataclasses.replace(base, market=1.5)


def test_without_a_market_the_scenarios_are_those_of_before() -> None:
    """A market error of 0 draws exactly the scenarios of the model without one."""
    base = _model(skus=50)
    np.testing.assert_array_equal(base.with_market_sd(0.0).scenarios(0, 50, 16, 7),
                                  base.scenarios(0, 50, 16, 7))


def test_market_draws_are_deterministic_and_chunk_invariant() -> None:
    """The same seed gives the same scenarios bit for bit, another seed others; SKUs drawn
    a chunk at a time (the plan's and the rehearsal's chunks) give the same scenarios, so
    the market factor is one per scenario across chunks; units too."""
    model = _model(skus=90).with_market_sd(0.1)
    whole = model.scenarios(0, 90, 12, seed=5)
    np.testing.assert_array_equal(whole, model.scenarios(0, 90, 12, seed=5))
    assert not np.array_equal(whole, model.scenarios(0, 90, 12, seed=6))
    parts = np.concatenate([model.scenarios(lo, min(lo + 17, 90), 12, seed=5)
                            for lo in range(0, 90, 17)])
    np.testing.assert_array_equal(whole, parts)
    np.testing.assert_array_equal(model.all_scenario_units(12, 5, chunk_skus=7),
                                  model.all_scenario_units(12, 5, chunk_skus=4096))
    np.testing.assert_array_equal(model.day_units(5, 800, 0.3, chunk_skus=11),
                                  model.day_units(5, 800, 0.3))
    # a slice of SKUs (a plan's shard on a worker) keeps the whole model's market share
    c = int(model.indptr[30])
    shard = dataclasses.replace(model, indptr=model.indptr[30:61] - c,
                                cell_region=model.cell_region[c:int(model.indptr[60])],
                                mean=model.mean[c:int(model.indptr[60])],
                                quant=model.quant[c:int(model.indptr[60])],
                                sku_key=model.sku_key[30:60])
    np.testing.assert_array_equal(shard.scenarios(0, 30, 12, 5), whole[c:int(model.indptr[60])])


def test_market_factor_is_stratified_over_the_scenarios() -> None:
    """The market factor of n scenarios takes one value in each n-th of its distribution."""
    m = _model(skus=5).market_factor(20, seed=1)
    cdf = np.array([NormalDist().cdf(float(x)) for x in m])
    np.testing.assert_array_equal(np.sort(np.floor(cdf * 20)), np.arange(20))


def test_a_windows_days_share_the_market_factor() -> None:
    """Fresh days of a window (days independent but for the market) have national totals
    that rise and fall together, by the market's share of their spread; the SKUs' totals of
    two days stay as independent as without a market."""
    base = _model(skus=300, regions=4)
    model = base.with_market_sd(0.1)
    mean, sd = model.total()
    share = (0.1 * mean / sd) ** 2
    days = np.array([[model.day_units(seed, day).sum() for day in (10, 11)]
                     for seed in range(300)], dtype=float)
    assert np.corrcoef(days.T)[0, 1] == pytest.approx(share, abs=0.12)
    alone = np.array([[base.day_units(seed, day).sum() for day in (10, 11)]
                      for seed in range(300)], dtype=float)
    assert abs(np.corrcoef(alone.T)[0, 1]) < 0.15
