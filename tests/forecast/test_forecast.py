"""The forecast engines: windows, alignment, accuracy, quantiles, coherence, scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forestock.errors import ForestockError
from forestock.events import occurrences
from forestock.forecast import (
    ForecastParams,
    aggregate,
    backtest,
    forecast,
    infer_freq,
    nb_quantiles,
    target_window,
)

EVENT = "추석 세일"


def test_windows_of_a_moving_event(tiny: dict[str, pd.DataFrame]) -> None:
    """Runs of consecutive calendar dates form one occurrence each."""
    occ = occurrences(tiny["calendar"], EVENT)
    assert [(w.start, w.days) for w in occ] == [(dt.date(2025, 9, 1), 21),
                                                (dt.date(2026, 9, 1), 21)]
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    assert (w.start, w.end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 21))


def test_unknown_event_and_bad_windows(tiny: dict[str, pd.DataFrame]) -> None:
    """An event not in the calendar, or a window inside the history, is refused clearly."""
    with pytest.raises(ForestockError, match="not in the calendar"):
        target_window(tiny["calendar"], dt.date(2026, 8, 31), "black friday")
    with pytest.raises(ForestockError, match="inside the history"):
        target_window(tiny["calendar"], dt.date(2026, 8, 31), None, dt.date(2026, 8, 1),
                      dt.date(2026, 8, 5))


@pytest.mark.parametrize("method", ["forestock", "seasonal_naive"])
def test_three_week_event_is_complete_coherent_and_close(
    tiny: dict[str, pd.DataFrame], method: str
) -> None:
    """Every SKU x region x date gets a row; totals add up; the event is within 25% of truth."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    fc = forecast(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"],
                  method=method)
    assert len(fc) == 4 * 3 * 21
    assert not fc[["mean", "q10", "q50", "q90"]].isna().any().any()
    assert fc["mean"].sum() == pytest.approx(tiny["truth"]["units"].sum(), rel=0.25)
    national = aggregate(fc, ["sku_id", "date"])
    regional = aggregate(fc, ["region_id", "date"])
    assert national["mean"].sum() == pytest.approx(regional["mean"].sum())
    assert national["mean"].sum() == pytest.approx(fc["mean"].sum())
    assert fc.loc[fc["sku_id"] == "S4", "mean"].sum() > 0  # launched after last year's event


def test_quantiles_never_cross(tiny: dict[str, pd.DataFrame]) -> None:
    """q05 <= q10 <= q50 <= q90 <= q95 everywhere, all non-negative."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    fc = forecast(tiny["history"], tiny["calendar"], w,
                  params=ForecastParams(quantiles=(0.05, 0.5, 0.95)))
    q = fc[["q05", "q10", "q50", "q90", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()


def test_same_seed_same_forecast(tiny: dict[str, pd.DataFrame]) -> None:
    """The global model is deterministic for a seed."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    a = forecast(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"], seed=3)
    b = forecast(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"], seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_seasonal_naive_aligned_by_event_day() -> None:
    """With flat growth, the seasonal naive repeats last year's event day by day."""
    days = pd.date_range("2025-01-01", "2026-06-30")
    units = np.where((days.month == 6) & (days.day <= 3) & (days.year == 2025),
                     100 * days.day, 10)
    hist = pd.DataFrame({"date": days, "sku_id": "a", "region_id": "r", "units": units})
    cal = pd.DataFrame({"date": pd.to_datetime(["2025-06-01", "2025-06-02", "2025-06-03",
                                                "2026-07-01", "2026-07-02", "2026-07-03"]),
                        "event": "sale"})
    w = target_window(cal, dt.date(2026, 6, 30), "sale")
    fc = forecast(hist, cal, w, params=ForecastParams(shrink=0.0), method="seasonal_naive")
    np.testing.assert_allclose(fc["mean"], [100, 200, 300])


@pytest.mark.parametrize(("freq", "dates"), [
    ("D", pd.date_range("2025-01-01", periods=10, freq="D")),
    ("W", pd.date_range("2025-01-06", periods=10, freq="7D")),
    ("M", pd.date_range("2025-01-01", periods=10, freq="MS")),
])
def test_frequency_is_inferred(freq: str, dates: pd.DatetimeIndex) -> None:
    """Daily, weekly and monthly histories are told apart from their dates."""
    assert infer_freq(dates) == freq


def test_monthly_history_with_prices() -> None:
    """A monthly history with planned prices forecasts a whole year, month by month."""
    rng = np.random.default_rng(0)
    months = pd.date_range("2020-01-01", "2023-12-01", freq="MS")
    rows = []
    for s in ("a", "b"):
        for r in ("x", "y"):
            base = rng.uniform(20, 80)
            for m in months:
                rows.append((m, s, r, int(rng.poisson(base * (1.5 if m.month == 12 else 1)))))
    hist = pd.DataFrame(rows, columns=["date", "sku_id", "region_id", "units"])
    cal = pd.DataFrame({"date": pd.date_range("2020-12-01", "2024-12-01", freq="12MS"),
                        "event": "christmas"})
    skus = pd.DataFrame({"sku_id": ["a", "b"], "brand_id": "B", "category": "c",
                         "price": [10.0, 12.0], "volume_l": 1.0})
    prices = pd.DataFrame({"date": pd.date_range("2020-01-01", "2024-12-01", freq="MS")})
    prices = prices.assign(key=1).merge(pd.DataFrame({"sku_id": ["a", "b"], "key": 1}))
    prices = prices.drop(columns="key").assign(region_id=None, price=9.0)
    w = target_window(cal, dt.date(2023, 12, 1), None, dt.date(2024, 1, 1), dt.date(2024, 12, 1))
    fc = forecast(hist, cal, w, skus, prices=prices)
    assert len(fc) == 2 * 2 * 12
    dec = fc[fc["date"].dt.month == 12]["mean"].mean()
    assert dec > fc[fc["date"].dt.month == 6]["mean"].mean()


def test_nb_quantiles_match_scipy_and_poisson() -> None:
    """Negative binomial quantiles are Poisson at zero dispersion and widen with it."""
    mean = np.array([0.0, 2.0, 50.0])
    poi = nb_quantiles(mean, np.zeros(3), (0.1, 0.9))
    wide = nb_quantiles(mean, np.full(3, 0.5), (0.1, 0.9))
    assert poi[:, 0].tolist() == [0, 0]
    assert (wide[1] - wide[0] >= poi[1] - poi[0]).all()
    assert poi[1, 2] == 59.0  # scipy.stats.poisson.ppf(0.9, 50)


def test_backtest_scores_every_method(tiny: dict[str, pd.DataFrame]) -> None:
    """A backtest of the 2026 event scores each method on the same cells."""
    hist = pd.concat([tiny["history"], tiny["truth"]], ignore_index=True)
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    r = backtest(hist, tiny["calendar"], w, 1, tiny["skus"], tiny["regions"],
                 methods=["forestock", "seasonal_naive"])
    assert set(r.scores) == {"forestock", "seasonal_naive"}
    assert r.actual_units == tiny["truth"]["units"].sum()
    for s in r.scores.values():
        assert 0 < float(s["wrmsse"]) < 5  # type: ignore[arg-type]
        assert 0 <= float(s["coverage"]) <= 1  # type: ignore[arg-type]
    perfect = r.forecasts["forestock"].copy()
    assert {"wrmsse", "wape_total", "bias", "pinball"} <= set(r.scores["forestock"])
    assert len(perfect) == 4 * 3 * 21


def test_negative_history_is_refused(tiny: dict[str, pd.DataFrame]) -> None:
    """Negative units in the history stop the forecast with the row named."""
    bad = tiny["history"].copy()
    bad.loc[4, "units"] = -2
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    with pytest.raises(ForestockError, match="row 5"):
        forecast(bad, tiny["calendar"], w)


def test_history_with_a_gap_is_refused(tiny: dict[str, pd.DataFrame]) -> None:
    """Days with no rows at all inside the history: refused, with the first one named."""
    h = tiny["history"]
    dates = pd.to_datetime(h["date"])
    gap = (dates >= "2026-03-01") & (dates <= "2026-03-04")
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    with pytest.raises(ForestockError, match=r"4 of its 608 days .* \(first missing: 2026-03-01\)"):
        forecast(h[~gap], tiny["calendar"], w)


def test_a_short_row_budget_draws_the_largest_series_more_often(
        tiny: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a target's rows cannot take every series, half are drawn by last year's units:
    the copies three times as large give more rows than those as large as the original;
    the weights undo the draw (at most twice a uniform row's, summing to about as many
    rows as the uniform draw takes)."""
    from forestock.forecast import GlobalModel
    from forestock.forecast import _model as model_mod
    from forestock.forecast._panel import window_periods
    from forestock.forecast._problem import ForecastProblem

    from .test_blocks import _many_skus

    t = _many_skus(tiny, 30)  # 120 SKUs x 3 regions, the copies' units 1x, 2x, 3x
    w = target_window(t["calendar"], dt.date(2026, 8, 31), EVENT)
    problem = ForecastProblem(t["history"], t["calendar"], w, t["skus"], t["regions"])
    model = GlobalModel(ForecastParams(max_train_rows=5_000, rounds=5)).fit(problem)
    v = model.view_
    horizons = window_periods(v.panel, w) - (v.panel.n_hist - 1)
    rows = model._rows(v, horizons, np.random.default_rng(0))
    assert rows.weight is not None
    copy = pd.Series(v.panel.sku_ids[v.panel.series_sku]).str.rsplit("-", n=1).str[1]
    size = copy.astype(int).to_numpy() % 3 + 1
    per_series = np.bincount(rows.series, minlength=v.panel.n_series)
    assert per_series.max() < len(np.unique(rows.target))  # the budget is short
    assert per_series[size == 3].mean() > 1.3 * per_series[size == 1].mean()
    assert rows.weight.max() <= 2.0 + 1e-9
    monkeypatch.setattr(model_mod, "VOLUME_SHARE", 0.0)
    uniform = model._rows(v, horizons, np.random.default_rng(0))
    assert rows.weight.sum() == pytest.approx(len(uniform.series), rel=0.05)
