"""Many rehearsals at once: scenarios of the forecast, what-ifs, their table and summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock import flow
from forestock.cli import main
from forestock.errors import ForestockError
from forestock.simulate import (
    AS_PLANNED,
    MEASURES,
    ScenarioProblem,
    SimulateParams,
    SimulateProblem,
    WhatIf,
    demand_from_forecast,
    load_what_ifs,
    rehearse_scenarios,
    simulate,
)
from forestock.simulate._demand import day_model
from forestock.tables import validate
from forestock.workspace import Workspace
from tests.conftest import snapshot
from tests.simulate.planned import DAY, planned_tables


def day_problem(tables: flow.Tables, demand: pd.DataFrame) -> SimulateProblem:
    """The planned world's day with ``demand``."""
    return SimulateProblem.from_tables(DAY, demand, tables["plan"], tables["warehouses"],
                                       tables["lanes"], tables["skus"], tables["regions"])


@pytest.fixture(scope="module")
def scenario_problem() -> ScenarioProblem:
    """Five scenarios of the planned world's day, as planned and under two what-ifs."""
    tables = planned_tables()
    base = day_problem(tables, tables["truth"].iloc[:0])
    what_ifs = (WhatIf(close_warehouses=(str(tables["warehouses"]["warehouse_id"][0]),)),
                WhatIf(name="slow", slow_lanes=1.6,
                       demand_up=((str(tables["regions"]["region_id"][1]), 1.5),)))
    return ScenarioProblem.from_forecast(base, tables["forecast"], DAY, 5, seed=2,
                                         what_ifs=what_ifs)


def test_all_scenarios_at_once_are_each_scenario() -> None:
    """All K scenarios drawn at once give, column by column, each scenario drawn alone."""
    model, _, _ = day_model(planned_tables()["forecast"], DAY)
    every = model.all_scenario_units(7, seed=11, chunk_skus=9)
    assert every.shape == (model.mean.size, 7)
    for k in range(7):
        np.testing.assert_array_equal(every[:, k], model.scenario_units(k, 7, 11))
    with pytest.raises(ValueError, match="at least 1"):
        model.all_scenario_units(0, seed=1)


def test_a_scenario_is_the_rehearsal_of_that_forecast_scenario(
        scenario_problem: ScenarioProblem) -> None:
    """Scenario k as planned is, table for table, a rehearsal of demand_from_forecast's
    scenario k (the plan's model), built from the demand table."""
    tables = planned_tables()
    k = 3
    demand = demand_from_forecast(tables["forecast"], DAY, 2, scenario=k, scenarios=5)
    want = simulate(day_problem(tables, demand), seed=4)
    got = simulate(scenario_problem.problem(k), seed=4)
    for name, table in want.tables.items():
        pd.testing.assert_frame_equal(table, got.tables[name])


def test_table_rows_are_the_rehearsals_and_the_summary_their_quantiles(
        scenario_problem: ScenarioProblem) -> None:
    """Each row is its scenario's rehearsal under its what-if; the summary holds numpy's
    quantiles of the rows; both tables meet their contracts; same seed, same tables."""
    params = SimulateParams(chunk_orders=20_000)
    result = rehearse_scenarios(scenario_problem, params, seed=4)
    table, summary = result.tables["simulate_scenarios"], result.summary
    validate(table, "simulate_scenarios")
    validate(summary, "simulate_scenarios_summary")
    names = [AS_PLANNED, "W110000 closed", "slow"]
    assert result.what_ifs == tuple(names)
    assert list(table["what_if"]) == [n for n in names for _ in range(5)]
    assert list(table["scenario"]) == list(range(5)) * 3
    row = table.iloc[7]  # the closed warehouse, scenario 2
    r = simulate(scenario_problem.problem(2, 1), params, seed=4)
    wh = r.tables["outcomes_warehouse"]
    assert row["units"] == r.units and row["orders"] == r.orders
    assert row["delivered_24h"] == r.tables["outcomes_region"]["delivered_24h"].sum()
    assert row["peak_backlog"] == wh.groupby("hour")["backlog"].sum().max()
    assert row["share_24h"] == pytest.approx(r.share_24h)
    for (name, measure), s in summary.set_index(["what_if", "measure"]).iterrows():
        v = table.loc[table["what_if"] == name, measure].to_numpy(dtype=float)
        np.testing.assert_allclose([s["p10"], s["p50"], s["p90"], s["mean"]],
                                   [*np.quantile(v, [0.1, 0.5, 0.9]), v.mean()])
    assert set(summary["measure"]) == set(MEASURES)
    again = rehearse_scenarios(scenario_problem, params.replace(workers=2), seed=4)
    for name, t in result.tables.items():
        pd.testing.assert_frame_equal(t, again.tables[name])


def test_what_ifs_change_what_they_say(scenario_problem: ScenarioProblem) -> None:
    """A closed warehouse picks nothing; slowed lanes take longer; a region's demand goes up
    by its factor; the plan as it is changes nothing."""
    base = scenario_problem.problem(0)
    closed = scenario_problem.problem(0, 1)
    w = int(np.flatnonzero(base.warehouses.ids == "W110000")[0])
    assert np.isnan(closed.transit[w]).all()
    r = simulate(closed, seed=1)
    wh = r.tables["outcomes_warehouse"]
    assert wh.loc[wh["warehouse_id"] == "W110000", "picked"].sum() == 0
    slow = scenario_problem.problem(0, 2)
    np.testing.assert_array_equal(slow.transit, base.transit * 1.6)
    region = scenario_problem.what_ifs[2].demand_up[0][0]
    in_r = base.cell_region == base.regions.codes([region])[0]
    np.testing.assert_array_equal(slow.cell_units[in_r], np.rint(base.cell_units[in_r] * 1.5))
    np.testing.assert_array_equal(slow.cell_units[~in_r], base.cell_units[~in_r])
    assert WhatIf().apply(base) is base


@pytest.mark.parametrize(
    ("what_if", "match"),
    [
        (WhatIf(close_warehouses=("W-nowhere",)), "unknown warehouse_id to close 'W-nowhere'"),
        (WhatIf(demand_up=(("R-nowhere", 2.0),)), "unknown region_id of demand_up"),
    ],
)
def test_what_ifs_naming_unknown_ids_fail_before_any_work(
        scenario_problem: ScenarioProblem, what_if: WhatIf, match: str) -> None:
    """A what-if naming a warehouse or region the day lacks stops the run, naming it."""
    bad = ScenarioProblem(scenario_problem.base, scenario_problem.units,
                          (WhatIf(), what_if))
    with pytest.raises(ForestockError, match=match):
        rehearse_scenarios(bad)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"slow_lanes": 0.0}, "slow_lanes"),
        ({"slow_lanes": float("nan")}, "slow_lanes"),
        ({"demand_up": (("R1", -1.0),)}, "demand_up"),
        ({"demand_up": (("R1",),)}, "demand_up"),
        ({"close_warehouses": (3,)}, "close_warehouses"),
    ],
)
def test_what_if_rejects_bad_values(fields: dict[str, object], match: str) -> None:
    """Bad what-if values raise ValueError naming the field."""
    with pytest.raises(ValueError, match=match):
        WhatIf(**fields)  # type: ignore[arg-type]


def test_what_ifs_from_toml(tmp_path: Path) -> None:
    """A TOML file's [[what_if]] tables load as what-ifs, labelled by name or by change."""
    path = tmp_path / "what-if.toml"
    path.write_text('[[what_if]]\nname = "Beijing shut"\nclose_warehouses = ["W110000"]\n\n'
                    '[[what_if]]\nslow_lanes = 1.3\ndemand_up = { "440100" = 1.2 }\n',
                    encoding="utf-8")
    a, b = load_what_ifs(path)
    assert a == WhatIf(name="Beijing shut", close_warehouses=("W110000",))
    assert b.label == "lanes x1.3, 440100 demand x1.2"
    assert WhatIf().label == AS_PLANNED


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("slow_lanes = 1.2\n", r"\[\[what_if\]\]"),
        ("[[what_if]]\nshut = ['W1']\n", "unknown key"),
        ("[[what_if]]\nslow_lanes = -1\n", "what_if 1: slow_lanes"),
        ("[[what_if]\n", "not TOML"),
    ],
)
def test_what_if_files_with_errors_name_the_file(tmp_path: Path, text: str,
                                                 match: str) -> None:
    """A what-if file without tables, with an unknown key, a bad value or broken TOML
    raises ValueError naming the file."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match) as err:
        load_what_ifs(path)
    assert "bad.toml" in str(err.value)


def test_scenario_problem_checks_its_parts(scenario_problem: ScenarioProblem) -> None:
    """Units of the wrong shape, no what-ifs or two of one name are refused."""
    p = scenario_problem
    with pytest.raises(ValueError, match="shape"):
        ScenarioProblem(p.base, p.units[1:], p.what_ifs)
    with pytest.raises(ValueError, match="empty"):
        ScenarioProblem(p.base, p.units, ())
    with pytest.raises(ValueError, match="distinct"):
        ScenarioProblem(p.base, p.units, (WhatIf(), WhatIf(name=AS_PLANNED)))


def test_flow_writes_the_scenarios_and_notes_them() -> None:
    """run_scenarios writes both tables in one commit and notes the day, seed and P10/P50/P90
    of the share within 24 h; the same seed gives the same tables."""
    a, b = planned_tables(), planned_tables()
    run = flow.run_scenarios(a, scenarios=4, seed=5)
    again = flow.run_scenarios(b, scenarios=4, seed=5)
    assert set(run.tables) == {"simulate_scenarios", "simulate_scenarios_summary"}
    for name in run.tables:
        pd.testing.assert_frame_equal(a[name], b[name])
    noted = a.notes()["scenarios"]
    assert noted["day"] == DAY.isoformat()
    assert noted["seed"] == 5 and noted["scenarios"] == 4
    p10, p50, p90 = run.result.quantiles("share_24h")
    assert noted["share_24h"][AS_PLANNED] == {"p10": p10, "p50": p50, "p90": p90}
    assert p10 <= p50 <= p90
    assert again.facts["rehearsals"] == 4


def test_flow_scenarios_need_a_forecast() -> None:
    """Without a forecast, the scenarios' stage names what it lacks."""
    tables = planned_tables()
    store = flow.Tables({n: tables[n] for n in tables if n != "forecast"})
    with pytest.raises(ForestockError, match="forecast"):
        flow.run_scenarios(store, scenarios=2)


@pytest.fixture(scope="module")
def planned_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The planned world in a workspace folder."""
    ws = Workspace(tmp_path_factory.mktemp("scenarios") / "ws")
    ws.write_many(dict(planned_tables()))
    return ws


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--close-warehouse", "W110000"], "add --scenarios K"),
        (["--scenarios", "2", "--resume"], "--resume is for one rehearsal"),
        (["--scenarios", "2", "--scenario", "1"], "--scenario is for one rehearsal"),
        (["--scenarios", "2", "--demand-up", "110000"], "REGION=FACTOR"),
        (["--scenarios", "2", "--demand-up", "110000=lots"], "REGION=FACTOR"),
        (["--scenarios", "2", "--close-warehouse", "W-nowhere"], "W-nowhere"),
        (["--scenarios", "2", "--what-if", "missing.toml"], "missing.toml"),
    ],
)
def test_cli_scenarios_refuse_bad_requests(planned_ws: Workspace, args: list[str], match: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """What-ifs without --scenarios, one-rehearsal options with them, a malformed
    --demand-up, an unknown warehouse or a missing file stop with one error line (exit 2)
    and write nothing."""
    before = snapshot(planned_ws.root)
    assert main(["simulate", "-w", str(planned_ws.root), *args]) == 2
    assert match in " ".join(capsys.readouterr().err.split())
    assert snapshot(planned_ws.root) == before


def test_cli_scenarios_print_and_write_the_distribution(
        planned_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`simulate --scenarios K --what-if FILE` prints P10/P50/P90 per what-if and measure
    and writes the tables; --json prints the stage's facts."""
    path = tmp_path / "what-if.toml"
    path.write_text('[[what_if]]\nname = "north shut"\nclose_warehouses = ["W110000"]\n',
                    encoding="utf-8")
    assert main(["simulate", "-w", str(planned_ws.root), "--scenarios", "3",
                 "--what-if", str(path)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "3 demand scenarios of 2027-11-11: 6 rehearsals" in shown
    assert "north shut" in shown and "share within 24 h" in shown
    summary = planned_ws.read("simulate_scenarios_summary")
    p50 = summary.set_index(["what_if", "measure"]).loc[("north shut", "share_24h"), "p50"]
    assert f"{p50:.1%}" in shown
    assert main(["simulate", "-w", str(planned_ws.root), "--scenarios", "3", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["scenarios"] == 3 and facts["what_ifs"] == [AS_PLANNED]
