"""The benchmark's peers (mlforecast, level x lift) and the corrected seasonal naive."""

from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import forestock.forecast._peers as peers
from forestock.errors import ForestockError
from forestock.events import Window
from forestock.forecast import (
    METHODS,
    ForecastParams,
    ForecastProblem,
    LevelLift,
    MLForecastPeer,
    forecast,
    make_method,
    target_window,
)

EVENT = "추석 세일"
PEERS = ["mlforecast", "level_lift"]


def _check_contract(fc: pd.DataFrame, n_series: int, dates: pd.DatetimeIndex) -> None:
    assert len(fc) == n_series * len(dates)
    assert set(pd.to_datetime(fc["date"])) == set(dates)
    assert not fc.duplicated(["sku_id", "region_id", "date"]).any()
    q = fc[["q10", "q50", "q90"]].to_numpy()
    assert not fc[["mean", "q10", "q50", "q90"]].isna().any().any()
    assert (fc["mean"] >= 0).all() and (q >= 0).all()
    assert (np.diff(q, axis=1) >= 0).all()


@pytest.mark.parametrize("method", PEERS)
def test_peers_fill_the_table_contract(tiny: dict[str, pd.DataFrame], method: str) -> None:
    """Every SKU x region x window date gets a non-negative row with ordered quantiles."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    fc = forecast(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"],
                  method=method)
    _check_contract(fc, 4 * 3, pd.date_range(w.start, w.end))
    assert fc["mean"].sum() == pytest.approx(tiny["truth"]["units"].sum(), rel=0.25)


@pytest.mark.parametrize("method", PEERS)
def test_peers_are_deterministic(tiny: dict[str, pd.DataFrame], method: str) -> None:
    """The same seed gives the same table."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    a, b = (forecast(tiny["history"], tiny["calendar"], w, method=method, seed=4)
            for _ in range(2))
    pd.testing.assert_frame_equal(a, b)


def test_peers_are_registered() -> None:
    """Both peers are methods of the benchmark under their names."""
    assert {"mlforecast", "level_lift"} <= set(METHODS)
    assert isinstance(make_method("mlforecast"), MLForecastPeer)
    assert isinstance(make_method("level_lift"), LevelLift)


def test_mlforecast_bridges_a_gap_of_two_weeks(tiny: dict[str, pd.DataFrame]) -> None:
    """A window starting 14 days after the history ends is forecast, and stays sane."""
    hist = tiny["history"][tiny["history"]["date"] <= "2026-08-17"]
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    fc = forecast(hist, tiny["calendar"], w, tiny["skus"], tiny["regions"],
                  method="mlforecast")
    _check_contract(fc, 4 * 3, pd.date_range(w.start, w.end))
    assert fc["mean"].sum() == pytest.approx(tiny["truth"]["units"].sum(), rel=0.3)


def test_mlforecast_on_a_row_budget(tiny: dict[str, pd.DataFrame],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the conformal refits' rows it samples the row budget and gives Poisson quantiles."""
    monkeypatch.setattr(peers, "_CONFORMAL_ROWS", 0)
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    fc = forecast(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"],
                  ForecastParams(max_train_rows=1_000), method="mlforecast")
    _check_contract(fc, 4 * 3, pd.date_range(w.start, w.end))
    np.testing.assert_array_equal(fc["q90"], stats.poisson.ppf(0.9, fc["mean"]))


@pytest.mark.parametrize("method", PEERS)
def test_peers_on_monthly_data_with_prices(method: str) -> None:
    """A monthly history with planned prices gets a year of months, December lifted."""
    rng = np.random.default_rng(0)
    months = pd.date_range("2020-01-01", "2023-12-01", freq="MS")
    rows = [(m, s, r, int(rng.poisson(base * (1.5 if m.month == 12 else 1))))
            for s in ("a", "b") for r in ("x", "y") for base in [rng.uniform(20, 80)]
            for m in months]
    hist = pd.DataFrame(rows, columns=["date", "sku_id", "region_id", "units"])
    cal = pd.DataFrame({"date": pd.date_range("2020-12-01", "2024-12-01", freq="12MS"),
                        "event": "christmas"})
    skus = pd.DataFrame({"sku_id": ["a", "b"], "brand_id": "B", "category": "c",
                         "price": [10.0, 12.0], "volume_l": 1.0})
    prices = pd.DataFrame({"date": np.repeat(pd.date_range("2020-01-01", "2024-12-01",
                                                           freq="MS"), 2),
                           "sku_id": ["a", "b"] * 60, "region_id": None, "price": 9.0})
    w = Window("custom", dt.date(2024, 1, 1), dt.date(2024, 12, 1))
    fc = forecast(hist, cal, w, skus, prices=prices, method=method)
    _check_contract(fc, 2 * 2, pd.date_range("2024-01-01", "2024-12-01", freq="MS"))
    month = pd.to_datetime(fc["date"]).dt.month
    assert fc.loc[month == 12, "mean"].mean() > fc.loc[month == 6, "mean"].mean()


def test_mlforecast_missing_is_named(tiny: dict[str, pd.DataFrame],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without mlforecast installed the peer says which extra to install."""
    monkeypatch.setitem(sys.modules, "mlforecast", None)
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    with pytest.raises(ForestockError, match=r"forestock\[dev\]"):
        forecast(tiny["history"], tiny["calendar"], w, method="mlforecast")


def _weekly_shop(launch: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SKU ``a`` (and ``b`` from ``launch``) in region ``r``: 24 units on weekends, 10 on
    weekdays (a level of 14), 5 x 14 = 70 on the sale day of 2025; region ``s`` never sells.
    """
    days = pd.date_range("2025-01-01", "2026-06-30")
    units = np.where(days.dayofweek >= 5, 24.0, 10.0)
    units[days == pd.Timestamp("2025-06-02")] = 70.0
    rows = [pd.DataFrame({"date": days, "sku_id": "a", "region_id": "r", "units": units})]
    if launch is not None:
        on = days >= pd.Timestamp(launch)
        rows.append(pd.DataFrame({"date": days[on], "sku_id": "b", "region_id": "r",
                                  "units": units[on]}))
    cal = pd.DataFrame({"date": pd.to_datetime(["2025-06-02", "2026-07-01"]), "event": "sale"})
    return pd.concat(rows, ignore_index=True), cal


def test_level_lift_by_hand() -> None:
    """Level 14 times last year's lift of 5 is 70 on the sale day (no weekday index there);
    other days are the level times the weekday index: 24 on weekends, 10 on weekdays."""
    hist, cal = _weekly_shop()
    w = Window("custom", dt.date(2026, 7, 1), dt.date(2026, 7, 7))
    regions = pd.DataFrame({"region_id": ["r", "s"]})
    fc = forecast(hist, cal, w, pd.DataFrame({"sku_id": ["a"], "brand_id": "B",
                                              "category": "c", "price": 1.0}),
                  regions, method="level_lift")
    got = fc[fc["region_id"] == "r"].set_index("date")["mean"]
    np.testing.assert_allclose(got.to_numpy(), [70, 10, 10, 24, 24, 10, 10])
    assert (fc.loc[fc["region_id"] == "s", ["mean", "q90"]].to_numpy() == 0).all()


def test_level_lift_takes_the_market_lift_for_a_new_sku() -> None:
    """A SKU launched after last year's sale takes the market's lift on its level."""
    hist, cal = _weekly_shop(launch="2026-01-05")
    w = Window("custom", dt.date(2026, 7, 1), dt.date(2026, 7, 1))
    fc = forecast(hist, cal, w, method="level_lift")
    np.testing.assert_allclose(fc.set_index("sku_id")["mean"].loc[["a", "b"]], [70, 70])


def test_level_lift_shrinks_a_skus_lift_toward_its_categorys() -> None:
    """Twenty SKUs of a category that lifted 5x at last year's sale and twenty of one that
    did not (a level of 14 each): the market lifted 3x. A SKU launched since takes its
    category's lift, shrunk toward the market's with ten average SKUs' weight:
    (20 x 70 + 10 x 14 x 3) / (20 x 14 + 10 x 14) = 4.33 in the first, (20 x 14 + 420) /
    420 = 1.67 in the other; toward the market, 3 in both."""
    base, cal = _weekly_shop()
    days = pd.to_datetime(base["date"])
    rows = []
    for cat, lift in (("hot", 5.0), ("cold", 1.0)):
        units = base["units"].where(days != pd.Timestamp("2025-06-02"), 14.0 * lift)
        for k in range(20):
            rows.append(base.assign(sku_id=f"{cat}{k}", units=units))
        rows.append(base.assign(sku_id=f"{cat}-new", units=units)[days >= "2026-01-05"])
    hist = pd.concat(rows, ignore_index=True)
    skus = pd.DataFrame({"sku_id": hist["sku_id"].unique()})
    skus["category"] = np.where(skus["sku_id"].str.startswith("hot"), "hot", "cold")
    problem = ForecastProblem(hist, cal, Window("custom", dt.date(2026, 7, 1),
                                                dt.date(2026, 7, 1)), skus)
    for toward, want in (("category", [14 * 1820 / 420, 14 * 700 / 420]),
                         ("market", [42.0, 42.0])):
        fc = LevelLift(toward=toward).fit(problem).predict().set_index("sku_id")["mean"]
        np.testing.assert_allclose(fc.loc[["hot-new", "cold-new"]], want)
    with pytest.raises(ValueError, match="toward"):
        LevelLift(toward="brand")


def test_seasonal_naive_keeps_a_flat_year_flat() -> None:
    """On a flat year of history (same level, same event lift; some SKUs launched after
    its first day), the seasonal naive forecasts the event within 10% of last year's."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2025-10-11", "2026-10-10")
    n_sku = 12
    level = rng.gamma(1.0, 4.0, n_sku)
    launch = np.where(np.arange(n_sku) < 4, rng.integers(1, 20, n_sku), 0)
    lift = np.where(days == pd.Timestamp("2025-11-11"), 10.0, 1.0)
    rate = level[:, None] * lift[None, :] * (np.arange(days.size)[None, :] >= launch[:, None])
    units = rng.poisson(rate)
    s, d = np.nonzero(units)
    hist = pd.DataFrame({"date": days[d], "sku_id": [f"S{i}" for i in s], "region_id": "r",
                         "units": units[s, d]})
    cal = pd.DataFrame({"date": pd.to_datetime(["2025-11-11", "2026-11-11"]),
                        "event": "11.11"})
    w = target_window(cal, dt.date(2026, 10, 10), "11.11")
    fc = forecast(hist, cal, w, method="seasonal_naive")
    last_year = units[:, days == pd.Timestamp("2025-11-11")].sum()
    assert fc["mean"].sum() == pytest.approx(last_year, rel=0.10)
