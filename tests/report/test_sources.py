"""The report's data layer: a workspace and the same tables in memory give the same report."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.errors import MissingTableError, TableError
from forestock.report import (
    MemorySource,
    build_report,
    event_date,
    headline,
    render_report,
    report_data,
    seed_of,
    seeds_of,
)
from forestock.simulate import SimulateParams, SimulateProblem, SimulateResult, simulate
from forestock.workspace import Workspace

DAY = dt.date(2025, 11, 11)


def _as_memory(page: str, ws: Workspace) -> str:
    """``page`` (a workspace's report) with its subtitle's source as an in-memory one's."""
    return page.replace(f"workspace <code>{html.escape(str(ws.root))}</code>",
                        "tables in memory")


def _lanes() -> pd.DataFrame:
    """Every warehouse of the tiny world serves every region, the far ones slowly."""
    hours = {("W1", "R1"): 6.0, ("W1", "R2"): 30.0, ("W1", "R3"): 50.0, ("W1", "R4"): 40.0,
             ("W2", "R1"): 30.0, ("W2", "R2"): 5.0, ("W2", "R3"): 20.0, ("W2", "R4"): 60.0}
    return pd.DataFrame({"warehouse_id": [w for w, _ in hours], "region_id": [r for _, r in hours],
                         "transit_hours": list(hours.values()),
                         "cost_per_unit": [h / 10 for h in hours.values()]})


@pytest.fixture(scope="module")
def rehearsal(report_ws: Workspace) -> SimulateResult:
    """A real rehearsal of the tiny world's day (the truth: 60 S1 in R1, 30 S2 in R2...)."""
    tables = {n: report_ws.read(n) for n in ("warehouses", "skus", "regions", "plan")}
    truth = pd.DataFrame({"sku_id": ["S1", "S2", "S3", "S1"], "region_id": ["R1", "R2", "R3", "R4"],
                          "units": [60, 30, 25, 8]})
    problem = SimulateProblem.from_tables(DAY, truth, tables["plan"], tables["warehouses"],
                                          _lanes(), tables["skus"], tables["regions"])
    return simulate(problem, SimulateParams(chunk_orders=1_000), seed=5)


def test_report_from_results_equals_report_from_workspace(
        rehearsal: SimulateResult, world_frames: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    """A rehearsal's result with the world's tables in memory gives the page a workspace holding
    the same tables (and the rehearsal's notes, as the CLI writes them) gives."""
    ws = Workspace(tmp_path / "ws")
    ws.write_many({**world_frames, **rehearsal.tables})
    ws.note("simulate", {"seed": rehearsal.seed, "day": rehearsal.day.isoformat()})
    on_disk = build_report(ws).read_text(encoding="utf-8")
    in_memory = build_report([world_frames, rehearsal], tmp_path / "memory.html")
    page = in_memory.read_text(encoding="utf-8")
    assert "Delivery by region" in page and "Skipped" not in page.split("insights")[0]
    assert _as_memory(on_disk, ws) == page


def test_report_of_a_result_alone(rehearsal: SimulateResult, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``build_report(result)`` writes report.html in the current folder: the day's figures
    from its outcomes, the sections needing the world's tables skipped and named."""
    monkeypatch.chdir(tmp_path)
    out = build_report(rehearsal)
    assert out == Path("report.html") and out.is_file()
    page = out.read_text(encoding="utf-8")
    h = headline(rehearsal)
    assert h.orders == rehearsal.orders and h.units == rehearsal.units
    assert f"{h.orders:,}" in page
    assert "Tuesday 11 November 2025" in page  # the rehearsal's own day
    assert "Skipped: this section needs <code>warehouses</code>" in page
    assert "<h3>Seed</h3><p>5</p>" in page


def test_same_tables_same_page(report_ws: Workspace, world_frames: dict[str, pd.DataFrame],
                               outcome_frames: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    """Tables given by name render exactly as the same tables read from a workspace."""
    ws = Workspace(tmp_path / "plain")
    ws.write_many({**world_frames, **outcome_frames})
    on_disk = render_report(report_data(ws))
    in_memory = render_report(report_data({**world_frames, **outcome_frames}))
    assert _as_memory(on_disk, ws) == in_memory
    assert in_memory == render_report(report_data(MemorySource({**world_frames,
                                                                **outcome_frames})))


def test_headline_from_memory_equals_workspace(report_ws: Workspace,
                                               outcome_frames: dict[str, pd.DataFrame]) -> None:
    """The headline of the outcome tables in memory is the workspace's."""
    assert headline(outcome_frames) == headline(report_ws)


def test_data_layer_lists_what_each_section_lacks(partial_ws: Workspace) -> None:
    """A section without its tables gets no data, and its missing tables are named."""
    data = report_data(partial_ws)
    assert data.headline is None and data.seconds is None and data.brands is None
    assert data.missing["cards"] == ["outcomes_region", "outcomes_second"]
    assert data.missing["warehouses"] == ["outcomes_warehouse or plan"]
    assert "forecast" not in data.missing
    assert data.flow is not None and data.flow.tiers is None
    assert data.flow.national is not None
    assert data.flow.national["mean"].tolist() == [15.0, 90.0, 18.0]


def test_data_layer_computes_the_sections(report_ws: Workspace) -> None:
    """Delivery worst first, brands by GMV, warehouse use and the backlog grid."""
    data = report_data(report_ws)
    assert data.regions is not None and data.brands is not None and data.warehouses is not None
    assert data.regions["region_id"].tolist()[0] == "R3"  # nothing delivered there
    assert data.regions.set_index("region_id").loc["R1", "s_d48"] == pytest.approx(130 / 150)
    assert data.brands["brand_id"].tolist() == ["A", "B", "C"]
    wh = data.warehouses.table.set_index("warehouse_id")
    assert wh.loc["W1", "storage_util"] == pytest.approx(120 / 400)
    assert wh.loc["W2", "out_util"] == pytest.approx(8 / 8)
    assert wh.loc["W1", "cleared"] == 25 and wh.loc["W2", "cleared"] == 2
    grid = data.warehouses.backlog
    assert grid is not None and list(grid.columns) == list(range(26))
    assert grid.loc["W1", 24] == 1 and grid.loc["W1", 10] == 0


def test_seed_is_read_from_the_workspace_notes(report_ws: Workspace, report_html: str) -> None:
    """The seeds are found in forestock.json, one per stage; the run's is the rehearsal's."""
    assert seeds_of(report_ws) == {"world": 7, "simulate": 42}
    assert seed_of(report_ws) == 42
    assert "<h3>Seed</h3><p>42</p>" in report_html
    assert "<td>world</td><td class=\"num\">7</td>" in report_html


@pytest.mark.parametrize(
    ("notes", "seed"),
    [
        ({"world": {"seed": 3}, "forecast": {"seed": 4}, "plan": {"seed": 5}}, 5),
        ({"world": {"seed": 3}, "forecast": {"seed": 4}}, 4),
        ({"sortation": {"seed": 9}}, 9),
        ({"world": {"seed": True}, "plan": {"seed": "5"}}, None),
        ({}, None),
    ],
)
def test_seed_of_prefers_the_rehearsal_then_the_latest_stage(
        tmp_path: Path, notes: dict[str, dict[str, object]], seed: int | None) -> None:
    """Without a rehearsal the plan's seed is the run's, then the forecast's, the world's,
    then any stage's; a seed that is no integer is no seed."""
    ws = Workspace(tmp_path)
    ws.write("regions", pd.DataFrame({"region_id": ["R1"], "name": ["A"], "province": ["A"],
                                      "lat": [30.0], "lon": [120.0], "population": [1]}))
    for stage, facts in notes.items():
        ws.note(stage, facts)
    assert seed_of(ws) == seed
    assert seed_of(MemorySource({}, notes)) == seed


def test_event_date_prefers_the_rehearsed_day(world_frames: dict[str, pd.DataFrame]) -> None:
    """The day the rehearsal recorded wins over the calendar's 11.11 in the forecast window."""
    assert event_date(world_frames) == DAY
    moved = MemorySource(world_frames, {"simulate": {"day": "2025-11-12"}})
    assert event_date(moved) == dt.date(2025, 11, 12)
    assert event_date({}) is None


def test_memory_source_refuses_unknown_tables_and_bad_ones(
        world_frames: dict[str, pd.DataFrame]) -> None:
    """A name that is no table, or a table that breaks its contract, is refused by name."""
    with pytest.raises(ValueError, match="'region'"):
        MemorySource({"region": world_frames["regions"]})
    bad = world_frames["plan"].assign(units=[100, -1, 20])
    src = MemorySource({**world_frames, "plan": bad})
    with pytest.raises(TableError, match="plan"):
        src.read("plan")
    with pytest.raises(MissingTableError, match="outcomes_region"):
        headline(world_frames)


def test_unknown_inputs_are_refused() -> None:
    """Something that is neither a workspace, tables nor a stage result is a TypeError."""
    with pytest.raises(TypeError, match="ndarray"):
        report_data([np.zeros(3)])  # type: ignore[list-item]
