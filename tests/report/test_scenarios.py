"""The report's section on rehearsals in many demand scenarios: there when their tables are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.simulate.planned import planned_tables

from forestock import flow
from forestock.report import build_report, report_data
from forestock.simulate import WhatIf
from forestock.workspace import Workspace


@pytest.fixture(scope="module")
def scenarios_run() -> flow.ScenariosRun:
    """Six scenarios of the planned world, as planned and with lanes 1.5 times slower."""
    return flow.run_scenarios(planned_tables(), scenarios=6, seed=7,
                              what_ifs=[WhatIf(slow_lanes=1.5)])


def test_report_shows_the_scenarios_distribution(scenarios_run: flow.ScenariosRun,
                                                 tmp_path: Path) -> None:
    """With the scenarios' tables the report has their section: box plots of every what-if's
    scenarios and the table of P10/P50/P90 (the summary's, as printed)."""
    result = scenarios_run.result
    html = build_report([dict(scenarios_run.store), result], tmp_path / "r.html") \
        .read_text(encoding="utf-8")
    section = html[html.index('<section id="scenarios">'):]
    section = section[:section.index("</section>")]
    assert "6 demand scenarios" in section and "seed 7" in section
    assert section.count('class="fig"') == 2
    p10, p50, p90 = result.quantiles("share_24h", "lanes x1.5")
    row = re.search(r"lanes x1\.5</td><td[^>]*>share of units within 24 h</td>(.*?)</tr>",
                    section)
    assert row is not None
    for q in (p10, p50, p90):
        assert f"{100 * q:.1f}%" in row.group(1)


def test_report_without_scenarios_has_no_such_section(tmp_path: Path) -> None:
    """A report of tables without the scenarios' has no scenarios section, and no note of
    one missing (the section is optional)."""
    data = report_data(dict(planned_tables()))
    assert data.scenarios is None
    html = build_report(dict(planned_tables()), tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="scenarios"' not in html


def test_workspace_report_reads_the_scenarios_and_their_seed(
        scenarios_run: flow.ScenariosRun, tmp_path: Path) -> None:
    """From a workspace the section reads the same tables and the seed the stage noted."""
    ws = Workspace(tmp_path / "ws")
    ws.write_many(dict(planned_tables()))
    flow.run_scenarios(ws, scenarios=6, seed=7, what_ifs=[WhatIf(slow_lanes=1.5)])
    data = report_data(ws)
    assert data.scenarios is not None and data.scenarios.seed == 7
    mem = scenarios_run.result.tables["simulate_scenarios"]
    assert data.scenarios.table["share_24h"].tolist() == mem["share_24h"].tolist()
