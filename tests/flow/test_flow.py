"""The library flow: the same stages over tables in memory and over a workspace folder."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from forestock import flow
from forestock.errors import ForestockError, InfeasibleError, MissingTableError, TableError
from forestock.forecast import ForecastParams
from forestock.insights import InsightsParams
from forestock.plan import PastDueWarning
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world
from tests.conftest import tiny_tables

#: A small embedded world (40 SKUs, 31 regions) and a short forecast: the whole flow in
#: seconds.
WORLD = WorldParams(seed=3, skus=40, regions=31)
FORECAST = ForecastParams(rounds=20)
STAGES = ("world", "forecast", "plan", "simulate")


@dataclass
class Runs:
    """The flow run once in memory and once in a workspace, on the same world and seeds."""

    memory: flow.Tables
    folder: Workspace
    inputs: dict[str, pd.DataFrame]  # the world's tables, copied before the other stages


def _run(store: flow.Store) -> None:
    flow.run_forecast(store, FORECAST, seed=3)
    with warnings.catch_warnings():  # the world's overseas brands: notices past due, as a
        warnings.simplefilter("ignore", PastDueWarning)  # reader of the flow sees them
        flow.run_plan(store, seed=3)
    flow.run_simulate(store, seed=3)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """World, forecast, plan and rehearsal of :data:`WORLD`, in memory and in a folder."""
    memory = flow.run_world(params=WORLD).store
    assert isinstance(memory, flow.Tables)
    inputs = {name: memory[name].copy() for name in memory}
    _run(memory)
    folder = Workspace(tmp_path_factory.mktemp("flow") / "ws")
    flow.run_world(folder, WORLD)
    _run(folder)
    return Runs(memory, folder, inputs)


def test_memory_and_folder_give_the_same_tables(runs: Runs) -> None:
    """Every table of world, forecast, plan and rehearsal is the same in memory as in a
    workspace folder read back (values and dtypes)."""
    names = runs.folder.tables()
    assert set(names) == set(runs.memory)
    assert {"forecast", "forecast_total", "plan", "notices", "outcomes_region"} <= set(names)
    for name in names:
        pd.testing.assert_frame_equal(runs.memory[name], runs.folder.read(name), obj=name)


def test_memory_and_folder_note_the_same_facts(runs: Runs) -> None:
    """The stages note the same facts (timings aside) in memory as in a folder."""
    timed = {"seconds", "compile_seconds", "orders_per_second_simulated", "notice_pages"}
    mine, theirs = runs.memory.notes(), runs.folder.notes()
    for stage in STAGES:
        left = {k: v for k, v in mine[stage].items() if k not in timed}
        right = {k: v for k, v in theirs[stage].items() if k not in timed}
        assert left == right, stage
    assert mine["plan"]["notice_pages"] is None
    assert theirs["plan"]["notice_pages"] == str(runs.folder.root / "notices")


def test_flow_leaves_the_tables_it_reads_as_they_were(runs: Runs) -> None:
    """Forecast, plan and rehearsal read the world's tables in memory without changing them."""
    for name, before in runs.inputs.items():
        pd.testing.assert_frame_equal(runs.memory[name], before, obj=name)


def test_build_world_into_tables_matches_the_folder(tmp_path: Path) -> None:
    """``build_world`` writes the same tables into memory as into a folder."""
    params = WorldParams(seed=1, skus=12, regions=31, history_days=60)
    memory, folder = flow.Tables(), Workspace(tmp_path / "ws")
    build_world(memory, params)
    build_world(folder, params)
    assert memory.tables() == folder.tables()
    for name in memory:
        pd.testing.assert_frame_equal(memory[name], folder.read(name), obj=name)
        pd.testing.assert_frame_equal(memory.read(name, categorical=True),
                                      folder.read(name, categorical=True), obj=name)


def test_run_views_are_the_stage_tables(runs: Runs) -> None:
    """A run's ``tables`` are the tables its stage wrote, read from its store."""
    run = flow.run_simulate(runs.memory, seed=3)
    assert set(run.tables) == set(run.result.tables)
    pd.testing.assert_frame_equal(run.tables["outcomes_region"],
                                  runs.folder.read("outcomes_region"))
    assert run.facts["share_24h"] == run.result.share_24h
    with pytest.raises(KeyError):
        run.tables["plan"]


def test_tables_check_their_contract() -> None:
    """Tables given in memory are checked like a load: a bad one names table, row, column."""
    tables = tiny_tables()
    skus = tables["skus"].copy()
    skus.loc[1, "price"] = -3.0
    with pytest.raises(TableError, match=r"skus, row 2, column 'price'"):
        flow.Tables({**tables, "skus": skus})
    history = tables["history"].copy()
    history.loc[0, "sku_id"] = "nope"
    with pytest.raises(TableError, match="history"):
        flow.Tables({**tables, "history": history})


def test_a_failed_stage_adds_nothing() -> None:
    """A plan refused for lack of room adds no table and no note to the tables in memory."""
    given = tiny_tables()
    wh = given["warehouses"].copy()
    wh["storage_units"] = 10
    tables = flow.Tables({**given, "warehouses": wh})
    flow.run_forecast(tables, window=flow.forecast_window(tables, "추석 세일"),
                      method="seasonal_naive")
    before, notes = list(tables), tables.notes()
    with pytest.raises(InfeasibleError):
        flow.run_plan(tables)
    assert list(tables) == before and tables.notes() == notes
    assert "plan" not in tables


def test_missing_tables_are_named() -> None:
    """A stage without its inputs raises MissingTableError naming them."""
    with pytest.raises(MissingTableError, match=r"plan needs the table.*forecast"):
        flow.run_plan(flow.Tables(tiny_tables()))


@pytest.mark.parametrize(
    ("event", "day"),
    [("추석 세일", dt.date(2026, 9, 1)), ("christmas", None), (None, None)],
)
def test_rehearsal_day_is_the_event_else_the_busiest(event: str | None,
                                                      day: dt.date | None) -> None:
    """The day rehearsed is the first day of the truth the calendar marks with the event;
    an event outside the truth (or none) gives the truth's busiest day."""
    tables = flow.Tables(tiny_tables())
    the_day, demand = flow.rehearsal_demand(tables, flow.DemandSource.truth, event=event)
    truth = tables["truth"]
    busiest = truth.groupby("date")["units"].sum().idxmax().date()
    assert the_day == (day or busiest)
    assert demand["units"].sum() == truth.loc[truth["date"].dt.date == the_day, "units"].sum()
    with pytest.raises(ForestockError, match="no sales on 2026-10-01"):
        flow.rehearsal_demand(tables, day=dt.date(2026, 10, 1))


def test_forecast_source_is_a_seeded_scenario(runs: Runs) -> None:
    """Demand from the forecast is one scenario of the forecast's day, the same for a seed."""
    a = flow.rehearsal_demand(runs.memory, flow.DemandSource.forecast, seed=5)
    b = flow.rehearsal_demand(runs.memory, "forecast", seed=5)
    assert a[0] == b[0] == dt.date(2027, 11, 11)
    pd.testing.assert_frame_equal(a[1], b[1])
    other = flow.rehearsal_demand(runs.memory, "forecast", seed=6)[1]
    assert not other["units"].equals(a[1]["units"])


def test_insights_and_report_from_memory(runs: Runs, tmp_path: Path) -> None:
    """Insights computed in memory are the folder's; the report of tables in memory is the
    folder's page, but for the subtitle naming the folder."""
    params = InsightsParams(counterfactual=False)
    mine = flow.run_insights(runs.memory, params, seed=3)
    theirs = flow.run_insights(runs.folder, params, seed=3)
    assert set(mine.tables) == set(theirs.tables) and "insight_stock" in mine.tables
    for name in mine.tables:
        pd.testing.assert_frame_equal(mine.tables[name], theirs.tables[name], obj=name)
    assert mine.facts == theirs.facts
    report = flow.run_report(runs.memory, tmp_path / "report.html")
    text = report.path.read_text(encoding="utf-8")
    assert report.path == tmp_path / "report.html" and report.stale == {}
    assert "<title>Singles&#x27; Day rehearsal</title>" in text
    assert "No headline figures" not in text  # (the rehearsal's outcomes reached it)
    assert "No event lift" in text  # (and the insights: without their counterfactual)
    folder = flow.run_report(runs.folder, tmp_path / "folder.html").path.read_text("utf-8")
    named = f"workspace <code>{runs.folder.root}</code>"
    assert named in folder and text == folder.replace(named, "tables in memory")


def test_forecast_window_defaults_to_the_next_singles_day(runs: Runs) -> None:
    """Without an event or dates the window is the next 11.11 after the history."""
    window = flow.forecast_window(runs.memory)
    assert (window.event, window.start, window.end) == (flow.DEFAULT_EVENT,
                                                        dt.date(2027, 11, 11),
                                                        dt.date(2027, 11, 11))


def test_forecast_without_history_names_what_it_lacks() -> None:
    """A forecast of tables without history and calendar says which it needs."""
    tables = tiny_tables()
    given = flow.Tables({n: tables[n] for n in ("regions", "skus", "brands")})
    with pytest.raises(MissingTableError, match=r"forecast needs the table.*history, calendar"):
        flow.run_forecast(given)
