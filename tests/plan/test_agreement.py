"""The plan's expectation against rehearsals of its own demand scenarios (issue 16).

Plan and rehearsal share one model of demand uncertainty (forestock.uncertainty) and one
of the network (forestock.network), so on the plan's own scenarios the plan's expected
share within 24 h is what the rehearsal delivers: whatever gap remains on the truth is
the forecast's error alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.forecast import forecast, target_window
from forestock.plan import PlanParams, PlanProblem, solve_plan
from forestock.simulate import SimulateParams, SimulateProblem, demand_from_forecast, simulate
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The embedded world, small: 150 SKUs, 40 regions, a year and a half of history,
    its 11.11 forecast by level x lift."""
    ws = Workspace(Path(tmp_path_factory.mktemp("agree")) / "ws")
    build_world(ws, WorldParams(seed=3, skus=150, regions=40, history_days=500))
    t = {n: ws.read(n) for n in ("history", "calendar", "skus", "regions", "warehouses",
                                 "lanes", "brands")}
    end = pd.Timestamp(t["history"]["date"].max()).date()
    window = target_window(t["calendar"], end, "11.11")
    t["forecast"] = forecast(t["history"], t["calendar"], window, t["skus"], t["regions"],
                             method="level_lift")
    return t


def test_plan_expects_what_its_scenarios_rehearse(world: dict[str, pd.DataFrame]) -> None:
    """Within one percentage point: the plan's expected share of units within 24 h (and
    48 h) and the rehearsal, order by order, of the very scenarios the plan was valued on;
    and the units it expects to miss 24 h for each reason (stock, backlog, transit) are
    what the rehearsal misses for it."""
    t = world
    problem = PlanProblem.from_tables(t["forecast"], t["warehouses"], t["lanes"], t["skus"],
                                      t["regions"], "q90", brands=t["brands"])
    params = PlanParams(scenarios=6)
    plan = solve_plan(problem, params, seed=5)
    day = pd.Timestamp(t["forecast"]["date"].min()).date()
    units = within24 = within48 = 0.0
    late = dict.fromkeys(("stock", "backlog", "transit"), 0.0)
    for k in range(params.scenarios):
        demand = demand_from_forecast(t["forecast"], day, seed=5, scenario=k,
                                      scenarios=params.scenarios)
        sim = SimulateProblem.from_tables(day, demand, plan.plan, t["warehouses"], t["lanes"],
                                          t["skus"], t["regions"])
        r = simulate(sim, SimulateParams(), seed=k)
        units += r.units
        within24 += r.share_24h * r.units
        within48 += r.share_48h * r.units
        for why in late:
            late[why] += float(r.tables["outcomes_reason"][why].sum())
    assert units > 10_000
    assert abs(plan.expected_share_24h - within24 / units) < 0.01
    assert abs(plan.expected_share_48h - within48 / units) < 0.01
    assert plan.expected_share_24h < 0.995  # queues and lanes do cost something here
    for why, lost in late.items():  # and for the same reasons
        assert abs(plan.figures[f"expected_lost_24h_{why}"] - lost / units) < 0.005, why


def test_rehearsed_scenario_is_the_plans_scenario(world: dict[str, pd.DataFrame]) -> None:
    """The scenario a rehearsal draws is the plan's, cell by cell (rounded to whole units),
    whatever the order of the tables."""
    t = world
    problem = PlanProblem.from_tables(t["forecast"], t["warehouses"], t["lanes"], t["skus"],
                                      t["regions"], "q90")
    u = problem.uncertainty
    real = u.scenarios(0, len(problem.skus), 4, 11)[:, 2]
    day = pd.Timestamp(t["forecast"]["date"].min()).date()
    shuffled = t["forecast"].sample(frac=1.0, random_state=1)
    drawn = demand_from_forecast(shuffled, day, seed=11, scenario=2, scenarios=4)
    key = pd.MultiIndex.from_arrays([problem.skus.ids[u.cell_sku],
                                     problem.regions.ids[u.cell_region]])
    got = drawn.set_index(["sku_id", "region_id"])["units"].reindex(key, fill_value=0)
    assert (np.abs(got.to_numpy() - real) < 1.0).all()
    assert got.sum() == pytest.approx(real.sum(), rel=0.01)
