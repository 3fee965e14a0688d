"""Plans over an event window: stock before it, replenishment waves during it (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forestock.errors import ForestockError
from forestock.forecast import forecast_with_totals, target_window
from forestock.plan import (
    PlanError,
    PlanParams,
    PlanProblem,
    WindowProblem,
    make_notices,
    solve_plan,
    solve_window,
    validate_plan,
    validate_replenishment,
    wave_bounds,
)
from forestock.tables import validate

EVENT = "추석 세일"


@pytest.fixture(scope="module")
def window(tiny: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tiny network's three-week event forecast (seasonal naive) with its totals."""
    w = target_window(tiny["calendar"], tiny["history"]["date"].max().date(), EVENT)
    fc = forecast_with_totals(tiny["history"], tiny["calendar"], w, tiny["skus"],
                              tiny["regions"], method="seasonal_naive")
    return {**tiny, "forecast": fc.table, "forecast_total": fc.totals}


def _problem(t: dict[str, pd.DataFrame], forecast: pd.DataFrame | None = None,
             quantile: str = "q90") -> WindowProblem:
    return WindowProblem.from_tables(
        t["forecast"] if forecast is None else forecast, t["warehouses"], t["lanes"],
        t["skus"], t["regions"], quantile, forecast_total=t["forecast_total"],
        brands=t["brands"])


def test_a_one_day_event_is_todays_plan(window: dict[str, pd.DataFrame]) -> None:
    """A one-day window is planned as today: the same problem, plan and shares, no waves."""
    t = window
    one = t["forecast"][t["forecast"]["date"] == t["forecast"]["date"].max()]
    w = _problem(t, one)
    today = PlanProblem.from_tables(one, t["warehouses"], t["lanes"], t["skus"], t["regions"],
                                    "q90", brands=t["brands"])
    np.testing.assert_array_equal(w.base.national, today.national)
    assert wave_bounds(w, PlanParams()) == [0, 1]
    got, want = solve_window(w, seed=3), solve_plan(today, seed=3)
    pd.testing.assert_frame_equal(got.plan, want.plan)
    assert got.replenishment.empty and got.waves == 0
    assert got.expected_share_24h == want.expected_share_24h


def test_window_quantities_are_the_totals_not_sums_of_days(
        window: dict[str, pd.DataFrame]) -> None:
    """The whole window's quantities are forecast_total's per SKU (well below the sum of the
    days' q90s); runs of days add their means, and their quantities at least the whole's."""
    t = window
    w = _problem(t)
    national = t["forecast_total"][t["forecast_total"]["region_id"].isna()]
    want = np.ceil(national.set_index("sku_id")["q90"].reindex(w.base.skus.ids) - 1e-9)
    np.testing.assert_array_equal(w.base.national, want.to_numpy(dtype=np.int64))
    daily_q90 = t["forecast"].groupby("sku_id")["q90"].sum().reindex(w.base.skus.ids)
    assert (w.base.national < daily_q90.to_numpy()).all()
    whole = w.part(0, w.n_days)
    np.testing.assert_array_equal(whole[2], w.base.national)
    assert whole[1] is w.base.cell_quant
    halves = [w.part(0, 10), w.part(10, w.n_days)]
    np.testing.assert_allclose(halves[0][0] + halves[1][0], w.base.cell_mean, rtol=1e-12)
    assert (halves[0][2] + halves[1][2] >= w.base.national).all()
    assert (halves[0][2] <= w.base.national).all()
    for m, q, _ in halves:
        assert (np.diff(q, axis=1) >= 0).all() and (q[:, -1] >= m - 1e-9).all()
    with pytest.raises(ValueError, match="first < last"):
        w.part(5, 5)


@pytest.mark.parametrize("wave_days", [3, 7])
def test_waves_replenish_from_hubs_within_rules(window: dict[str, pd.DataFrame],
                                               wave_days: int) -> None:
    """Runs of at most wave_days cover the window; inbound waves go to the hub, transfers
    from it to the forward warehouse in time for their run; the tables meet their
    contracts and the independent checks; the stock placed plus the inbound waves is about
    the window total's quantity, not a sum of the runs'."""
    t = window
    w = _problem(t)
    q = PlanParams(wave_days=wave_days)
    r = solve_window(w, q)
    bounds = wave_bounds(w, q)
    assert bounds[0] == 0 and bounds[-1] == 21 and max(np.diff(bounds)) <= wave_days
    assert r.waves == len(bounds) - 2 and len(r.runs) == len(bounds) - 1
    rep = r.replenishment
    known = {"skus": t["skus"]["sku_id"], "warehouses": t["warehouses"]["warehouse_id"]}
    validate(rep, "replenishment", known=known)
    validate_replenishment(rep, t["warehouses"])
    validate_plan(r.plan, t["warehouses"], pd.Series(r.initial.stock.sum(axis=1),
                                                     index=w.base.skus.ids))
    assert set(rep["wave"]) == set(range(1, len(bounds) - 1))
    inbound, transfer = rep[rep["kind"] == "inbound"], rep[rep["kind"] == "transfer"]
    assert set(inbound["warehouse_id"]) == {"W-SEL"} and set(transfer["from_id"]) == {"W-SEL"}
    assert set(transfer["warehouse_id"]) == {"W-PUS"}
    assert set(inbound["from_id"]) <= set(t["brands"]["brand_id"])
    starts = r.runs.set_index("run")["start"]
    arrive = pd.to_datetime(rep["arrive_on"])
    assert (arrive <= starts.reindex(rep["wave"]).to_numpy()).all()
    hub_in = inbound.groupby("wave")["arrive_on"].max()
    assert (pd.to_datetime(transfer["ship_on"]).to_numpy()
            >= pd.to_datetime(hub_in.reindex(transfer["wave"])).to_numpy()).all()
    total = r.units + r.inbound_units
    assert r.demand < total <= 1.1 * r.quantity
    assert total <= r.runs["units"].sum()


def test_no_waves_places_the_window_total_up_front(window: dict[str, pd.DataFrame]) -> None:
    """wave_days 0: one run, every SKU's window total quantity placed before the event."""
    w = _problem(window)
    r = solve_window(w, PlanParams(wave_days=0))
    assert r.waves == 0 and r.replenishment.empty
    np.testing.assert_array_equal(r.stock[0].sum(axis=1), w.base.national)


def test_window_plan_is_deterministic(window: dict[str, pd.DataFrame]) -> None:
    """The same seed gives the same plan and waves; the baselines plan waves too, and each
    of the fast plan's runs is valued at least as the nearest rule's by the plan's model."""
    w = _problem(window)
    a, b = solve_window(w, seed=2), solve_window(w, seed=2)
    pd.testing.assert_frame_equal(a.plan, b.plan)
    pd.testing.assert_frame_equal(a.replenishment, b.replenishment)
    for method in ("central", "population", "nearest"):
        r = solve_window(w, PlanParams(method=method), seed=2)
        validate_replenishment(r.replenishment, window["warehouses"])
        assert r.waves == a.waves and set(r.runs["method"]) == {method}
        if method == "nearest":
            assert (a.runs["objective"] >= r.runs["objective"]).all()


def test_notices_carry_the_waves(window: dict[str, pd.DataFrame]) -> None:
    """Notices hold wave 0 (before the event) and one per inbound wave row, units adding up."""
    t = window
    r = solve_window(_problem(t))
    notices = make_notices(r.plan, t["skus"], t["brands"], t["warehouses"],
                           r.runs["start"].iloc[0].date(), replenishment=r.replenishment)
    validate(notices, "notices", known={"skus": t["skus"]["sku_id"],
                                        "brands": t["brands"]["brand_id"],
                                        "warehouses": t["warehouses"]["warehouse_id"]})
    assert notices["notice_id"].is_unique
    assert notices.loc[notices["wave"] == 0, "units"].sum() == r.units
    assert notices.loc[notices["wave"] > 0, "units"].sum() == r.inbound_units
    assert set(notices["wave"]) == {0, *range(1, r.waves + 1)}


def test_a_multi_day_window_needs_its_totals(window: dict[str, pd.DataFrame]) -> None:
    """Without forecast_total, or with one of another window, the plan says what to do."""
    t = window
    with pytest.raises(ForestockError, match="needs forecast_total"):
        WindowProblem.from_tables(t["forecast"], t["warehouses"], t["lanes"], t["skus"],
                                  t["regions"])
    other = t["forecast_total"].assign(end=t["forecast_total"]["end"] + pd.Timedelta(days=1))
    with pytest.raises(ForestockError, match="forecast again"):
        WindowProblem.from_tables(t["forecast"], t["warehouses"], t["lanes"], t["skus"],
                                  t["regions"], forecast_total=other)
    with pytest.raises(ForestockError, match="no column 'q95'"):
        _problem(t, quantile="q95")


def _rep(**change: object) -> pd.DataFrame:
    row = {"wave": 1, "kind": "inbound", "sku_id": "S1", "from_id": "B1",
           "warehouse_id": "W-SEL", "units": 10, "up_to": 20,
           "ship_on": pd.Timestamp("2026-09-01"), "arrive_on": pd.Timestamp("2026-09-03")}
    return pd.DataFrame([{**row, **change}])


@pytest.mark.parametrize(("change", "message"), [
    ({"units": 0}, "units is below 1"),
    ({"up_to": 1.5}, "up_to is not a whole number"),
    ({"kind": "airlift"}, "neither inbound nor transfer"),
    ({"arrive_on": pd.Timestamp("2026-08-30")}, "arrives before it ships"),
    ({"warehouse_id": "W-PUS"}, "an inbound wave goes to a hub"),
    ({"kind": "transfer", "from_id": "W-PUS", "warehouse_id": "W-SEL"}, "leaves a hub"),
    ({"kind": "transfer", "from_id": "W-SEL"}, "goes to another warehouse"),
    ({"warehouse_id": "W-X"}, "unknown warehouse"),
    ({"units": 60_001}, "exceed the storage of the warehouse"),
])
def test_bad_replenishment_is_refused(tiny: dict[str, pd.DataFrame], change: dict[str, object],
                                      message: str) -> None:
    """validate_replenishment names the row and the rule each broken wave breaks."""
    with pytest.raises(PlanError, match=message):
        validate_replenishment(_rep(**change), tiny["warehouses"])
