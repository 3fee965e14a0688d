"""Plan statuses: string enums whose values tables, notes and JSON keep as they were."""

from __future__ import annotations

import json

import pytest

from forestock.plan import PlanParams, PlanStatus, solve_plan
from forestock.plan._lp import solve_lp
from forestock.plan._model import SolverArrays
from forestock.plan._status import LpStatus
from forestock.workspace import jsonable
from tests.plan.test_plan import random_problem


def test_values_are_the_strings_recorded_before() -> None:
    """The enum's values are the strings notes and benchmarks recorded; JSON writes them."""
    assert [s.value for s in PlanStatus] == ["ok", "optimal", "time_limit", "shortfall"]
    assert json.dumps({"status": PlanStatus.SHORTFALL}) == '{"status": "shortfall"}'
    assert jsonable({"status": PlanStatus.OK}) == {"status": "ok"}
    assert f"{PlanStatus.TIME_LIMIT}" == "time_limit"


@pytest.mark.parametrize(("method", "status"), [("fast", PlanStatus.OK),
                                                ("nearest", PlanStatus.OK),
                                                ("exact", PlanStatus.OPTIMAL)])
def test_solve_plan_returns_a_status_enum(method: str, status: PlanStatus) -> None:
    """Every method's result carries a PlanStatus member, not a bare string."""
    r = solve_plan(random_problem(0, n_s=8, n_r=5, n_w=3), PlanParams(method=method, scenarios=4))
    assert r.status is status


def test_lp_status_keeps_highs_name() -> None:
    """The LP's status is mapped from HiGHS's, whose own name is kept for messages."""
    p = random_problem(2, n_s=6, n_r=4, n_w=3)
    q = PlanParams(method="exact", scenarios=3)
    lp = solve_lp(p, q, SolverArrays.build(p, q), seed=0)
    assert lp.status is LpStatus.OPTIMAL and lp.highs_status == "kOptimal"
