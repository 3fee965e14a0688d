"""Each SKU's price response: elasticities learnt from its history, as features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forestock.events import Window
from forestock.forecast import GlobalModel
from forestock.forecast._panel import build_panel
from forestock.forecast._problem import ForecastProblem

ELASTICITY = {"soap": 1.0, "tv": 2.5}


def _priced(seed: int = 0, days: int = 500) -> tuple[ForecastProblem, np.ndarray]:
    """Eight SKUs in two categories over two regions; a random tenth of days at 10-50% off
    (SKU S7 never), units Poisson around level x (price / regular) ** -elasticity."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=days)
    ids = [f"S{i}" for i in range(8)]
    cats = ["soap"] * 4 + ["tv"] * 4
    skus = pd.DataFrame({"sku_id": ids, "brand_id": "B", "category": cats,
                         "price": 10.0, "volume_l": 1.0})
    regions = pd.DataFrame({"region_id": ["R1", "R2"], "population": [2e6, 1e6]})
    off = np.where(rng.random((days, 8)) < 0.1, rng.uniform(0.1, 0.5, (days, 8)), 0.0)
    off[:, 7] = 0.0
    ratio = 1.0 - off
    e = np.array([ELASTICITY[c] for c in cats])
    level = rng.uniform(5.0, 20.0, 8)
    mean = level[None, :, None] * ratio[:, :, None] ** -e[None, :, None] * np.array([0.6, 0.4])
    units = rng.poisson(mean)
    d, s, r = np.nonzero(units >= 0)
    history = pd.DataFrame({"date": dates[d], "sku_id": np.array(ids)[s],
                            "region_id": np.array(["R1", "R2"])[r], "units": units[d, s, r]})
    prices = pd.DataFrame({"date": np.repeat(dates, 8), "sku_id": np.tile(ids, days),
                           "price": (10.0 * ratio).ravel()})
    end = dates[-1].date()
    window = Window("custom", end + dt.timedelta(days=7), end + dt.timedelta(days=9))
    calendar = pd.DataFrame({"date": pd.to_datetime([]), "event": pd.Series([], dtype=str)})
    return ForecastProblem(history, calendar, window, skus, regions, prices), e


def _elasticity(problem: ForecastProblem) -> np.ndarray:
    panel = build_panel(problem.history, problem.calendar, problem.window)
    view = GlobalModel().view(problem, panel)
    assert view.price is not None
    sku = np.arange(len(panel.sku_ids))
    out = view.price.elasticity(sku, np.full(sku.size, panel.n_hist - 1))
    order = pd.Index(panel.sku_ids).get_indexer(problem.skus["sku_id"])  # type: ignore[index]
    return out[order]


def test_elasticities_are_recovered() -> None:
    """Each discounted SKU's elasticity comes back within a fifth of the truth."""
    problem, truth = _priced()
    got = _elasticity(problem)
    assert got[:7] == pytest.approx(truth[:7], rel=0.2)


def test_a_sku_never_discounted_takes_its_categorys_elasticity() -> None:
    """S7 never ran a deal: its elasticity is its category's (TVs), not zero."""
    problem, _ = _priced()
    got = _elasticity(problem)
    assert got[7] == pytest.approx(np.mean(got[4:7]), rel=0.15)


def test_no_deals_no_elasticity() -> None:
    """Prices that never move teach nothing: every elasticity is 0."""
    problem, _ = _priced()
    flat = problem.prices.assign(price=10.0)  # type: ignore[union-attr]
    got = _elasticity(ForecastProblem(problem.history, problem.calendar, problem.window,
                                      problem.skus, problem.regions, flat))
    assert np.all(got == 0.0)


def test_a_deal_raises_the_forecast_by_the_skus_elasticity() -> None:
    """A 40%-off day in the window: the TV SKUs' forecast rises by about 0.6^-2.5 = 3.6,
    the soap's by about 0.6^-1 = 1.7, against the same window at the regular price."""
    problem, _ = _priced(days=600)
    w = problem.window
    future = pd.DataFrame({"date": np.repeat(pd.date_range(w.start, w.end), 8),
                           "sku_id": np.tile([f"S{i}" for i in range(8)], w.days)})
    regular = pd.concat([problem.prices, future.assign(price=10.0)])
    deal = pd.concat([problem.prices, future.assign(price=6.0)])

    def units(prices: pd.DataFrame) -> pd.Series:
        p = ForecastProblem(problem.history, problem.calendar, w, problem.skus,
                            problem.regions, prices)
        fc = GlobalModel(seed=1).fit(p).predict()
        return fc.merge(problem.skus, on="sku_id").groupby("category")["mean"].sum()

    lift = units(deal) / units(regular)
    assert lift["tv"] > lift["soap"] > 1.3
    assert lift["tv"] > 2.0
