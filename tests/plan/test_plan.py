"""The nearest-with-room planner, validate_plan and the shipping notices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forestock.errors import InfeasibleError
from forestock.plan import (
    PlanError,
    PlanParams,
    PlanProblem,
    make_notices,
    solve_plan,
    validate_plan,
)
from forestock.tables import IdIndex


def problem(demand: np.ndarray, storage: list[int], transit: np.ndarray) -> PlanProblem:
    """A plan problem over plain arrays (SKUs x regions demand, warehouses x regions hours)."""
    n_s, n_r = demand.shape
    return PlanProblem(
        event_start=dt.date(2027, 11, 11),
        skus=IdIndex([f"s{i}" for i in range(n_s)]),
        regions=IdIndex([f"r{i}" for i in range(n_r)]),
        warehouses=IdIndex([f"w{i}" for i in range(len(storage))]),
        demand=demand.astype(np.int64),
        storage=np.asarray(storage, dtype=np.int64),
        transit=transit.astype(float),
        price=np.ones(n_s),
    )


def test_nearest_first_then_spill() -> None:
    """Demand goes to the nearest warehouse until it is full, then to the next nearest."""
    p = problem(np.array([[70, 0], [0, 50]]), [60, 100], np.array([[5.0, 30.0], [30.0, 6.0]]))
    r = solve_plan(p)
    got = r.plan.set_index(["sku_id", "warehouse_id"])["units"].to_dict()
    assert got == {("s0", "w0"): 60, ("s0", "w1"): 10, ("s1", "w1"): 50}
    assert r.expected_share_24h == pytest.approx(110 / 120)


def test_random_plans_respect_capacity(tiny: dict[str, pd.DataFrame]) -> None:
    """On random instances no warehouse exceeds its storage and all demand is placed."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        demand = rng.poisson(rng.uniform(0, 30, (15, 6)))
        storage = rng.integers(0, 200, 4)
        storage[0] += demand.sum()  # room for everything somewhere
        transit = rng.uniform(2, 80, (4, 6))
        r = solve_plan(problem(demand, list(storage), transit))
        wh = pd.DataFrame({"warehouse_id": [f"w{i}" for i in range(4)], "storage_units": storage})
        national = pd.Series(demand.sum(axis=1), index=[f"s{i}" for i in range(15)])
        validate_plan(r.plan, wh, national[national > 0])
        assert r.shortfall == 0 and r.units == demand.sum()


def test_shortfall_is_refused_then_allowed() -> None:
    """Demand beyond total storage stops the plan, unless a shortfall is allowed."""
    p = problem(np.array([[100]]), [30, 20], np.array([[5.0], [9.0]]))
    with pytest.raises(InfeasibleError, match="50 units"):
        solve_plan(p)
    r = solve_plan(p, PlanParams(allow_shortfall=True))
    assert (r.units, r.shortfall, r.status) == (50, 50, "shortfall")


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [-1]}), "negative"),
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [1.5]}), "whole"),
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["zz"], "units": [1]}), "unknown"),
        (pd.DataFrame({"sku_id": ["a", "b"], "warehouse_id": ["w0", "w0"], "units": [6, 5]}),
         "over its storage"),
    ],
)
def test_validate_plan_catches(plan: pd.DataFrame, match: str) -> None:
    """validate_plan raises PlanError for each broken rule."""
    wh = pd.DataFrame({"warehouse_id": ["w0"], "storage_units": [10]})
    with pytest.raises(PlanError, match=match):
        validate_plan(plan, wh)


def test_validate_plan_checks_national_totals() -> None:
    """A SKU whose plan total differs from its national quantity is caught."""
    wh = pd.DataFrame({"warehouse_id": ["w0"], "storage_units": [10]})
    plan = pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [4]})
    with pytest.raises(PlanError, match="national quantity"):
        validate_plan(plan, wh, pd.Series({"a": 5}))


def test_notices_add_up_and_leave_in_time(tiny: dict[str, pd.DataFrame]) -> None:
    """Notices' units add up to the plan; overseas goods ship earlier than domestic ones."""
    plan = pd.DataFrame({"sku_id": ["S1", "S1", "S3"], "warehouse_id": ["W-SEL", "W-PUS", "W-SEL"],
                         "units": [10, 5, 7]})
    notices = make_notices(plan, tiny["skus"], tiny["brands"], tiny["warehouses"],
                           dt.date(2026, 9, 1))
    assert notices["units"].sum() == plan["units"].sum()
    assert (notices["ship_by"] < notices["arrive_by"]).all()
    assert (notices["arrive_by"] == pd.Timestamp("2026-08-29")).all()
    assert notices["notice_id"].is_unique
    kr = notices.loc[notices["sku_id"] == "S1", "ship_by"].min()  # Korean brand, by sea
    cn = notices.loc[notices["sku_id"] == "S3", "ship_by"].min()  # Shanghai brand, by road
    assert kr < cn
