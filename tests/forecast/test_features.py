"""The shrinkage of a SKU's previous event lift and the day-shock variance it rests on; the
typical SKU's event lifts and a SKU's response to them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma, polygamma

from forestock.events import Window
from forestock.forecast._features import (
    _PRIOR_LIFT_VAR,
    Aggregates,
    _response_of,
    _shock_terms,
    _shrunk_lift,
    aggregates,
    unread_lift,
)
from forestock.forecast._model import GlobalModel
from forestock.forecast._panel import Panel, build_panel, window_periods
from forestock.forecast._problem import ForecastParams, ForecastProblem


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


def _response_history(betas: np.ndarray, days: pd.DatetimeIndex
                      ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Busy SKUs (200 units a day, one region) lifting ``exp(beta * x)`` on three peak
    events a year (x = log 10, log 4, log 3), flat otherwise."""
    x_of = {(11, 11): np.log(10.0), (6, 18): np.log(4.0), (12, 12): np.log(3.0)}
    x = np.array([x_of.get((d.month, d.day), 0.0) for d in days])
    rng = np.random.default_rng(3)
    units = rng.poisson(200.0 * np.exp(betas[:, None] * x[None, :]))
    skus = np.array([f"S{i}" for i in range(betas.size)], dtype=object)
    history = pd.DataFrame({"date": np.tile(days, betas.size), "sku_id": np.repeat(skus, days.size),
                            "region_id": "R", "units": units.ravel()})
    names = {(11, 11): "11.11", (6, 18): "6.18", (12, 12): "12.12"}
    calendar = pd.DataFrame([(d, names[d.month, d.day]) for d in days if (d.month, d.day) in names],
                            columns=["date", "event"])
    return history, calendar, x


def _response_panel(betas: np.ndarray, years: int) -> tuple[Panel, Aggregates, np.ndarray]:
    days = pd.date_range("2024-01-01", periods=365 * years, freq="D")
    history, calendar, x = _response_history(betas, days)
    end = days[-1] + pd.Timedelta(days=1)
    panel = build_panel(history, calendar, Window("custom", end.date(), end.date()),
                        history["sku_id"].unique(), np.array(["R"], dtype=object))
    return panel, aggregates(panel), x


def test_typical_lift_is_the_median_skus_and_response_recovers_each_skus() -> None:
    """The typical log lift of a peak is the median SKU's; a SKU's response, its lift over
    the typical SKU's, orders the SKUs as their true responses do, shrunk towards 1."""
    betas = np.linspace(0.6, 1.4, 21)  # median 1.0
    panel, agg, x = _response_panel(betas, 2)
    peaks = agg.peaks
    assert peaks.size == 6  # two years of three peaks
    np.testing.assert_allclose(agg.typical[peaks], x[peaks], rtol=0.05)
    origin = np.full(betas.size, panel.n_hist - 1)
    got = _response_of(agg, np.arange(betas.size), origin)
    assert np.all(np.diff(got) > 0)
    assert np.all(np.abs(got - 1.0) <= np.abs(betas - 1.0) + 0.02)  # shrunk, not amplified
    assert np.abs(got - 1.0)[[0, -1]].min() > 0.5 * 0.4  # but most of the way there
    # before the first peak nothing is known
    assert np.isnan(_response_of(agg, np.arange(2), np.array([peaks[0] - 1] * 2))).all()


@pytest.mark.parametrize("start", ["2025-10-01", "2024-10-01"])
def test_event_from_one_or_two_earlier_occurrences_is_sane(start: str) -> None:
    """Forecasting 11.11 2026 from one or two earlier 11.11s gives a 10x event, neither
    missed nor double-counted (the SKU's response is a feature, not an offset)."""
    days = pd.date_range(start, "2026-10-10", freq="D")
    history, calendar, _ = _response_history(np.linspace(0.6, 1.4, 21), days)
    calendar = pd.concat([calendar, pd.DataFrame({"date": [pd.Timestamp("2026-11-11")],
                                                  "event": ["11.11"]})], ignore_index=True)
    window = Window("11.11", dt.date(2026, 11, 11), dt.date(2026, 11, 11))
    params = ForecastParams(rounds=20, min_data_in_leaf=10)
    model = GlobalModel(params).fit(ForecastProblem(history, calendar, window))
    fc = model.predict()
    assert np.isfinite(fc["mean"]).all()
    level = history.groupby("sku_id")["units"].median().mean()
    assert 3.0 < fc["mean"].mean() / level < 30.0  # a 10x event, not a double-counted 100x


def test_unread_lift_marks_skus_that_began_selling_at_or_after_the_last_occurrence() -> None:
    """11.11 2026 from a history with 11.11 2025: a SKU selling since the history's start
    has its lift read there; one first selling four days before it, or two months after,
    has not; one never sold is not a launch; an ordinary day is never marked."""
    days = pd.date_range("2024-10-01", "2026-10-10", freq="D")
    first = {"old": days[0], "eve": pd.Timestamp("2025-11-07"),
             "after": pd.Timestamp("2026-01-10")}
    history = pd.DataFrame([(d, s, "r", 3) for s, f in first.items() for d in days if d >= f],
                           columns=["date", "sku_id", "region_id", "units"])
    calendar = pd.DataFrame({"date": pd.to_datetime(["2024-11-11", "2025-11-11",
                                                     "2026-11-11"]), "event": "11.11"})
    skus = np.array(["old", "eve", "after", "never"], dtype=object)
    for window in (Window("11.11", dt.date(2026, 11, 11), dt.date(2026, 11, 11)),
                   Window("custom", dt.date(2026, 11, 1), dt.date(2026, 11, 1))):
        panel = build_panel(history, calendar, window, skus, np.array(["r"], dtype=object))
        agg = aggregates(panel)
        series = np.arange(panel.n_series)
        target = np.full(series.size, window_periods(panel, window)[0])
        got = unread_lift(panel, agg, series, np.full(series.size, panel.n_hist - 1), target)
        marked = set(panel.sku_ids[panel.series_sku[series[got]]])
        assert marked == ({"eve", "after"} if window.event == "11.11" else set())
