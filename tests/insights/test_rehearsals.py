"""Rehearsals side by side (issue 17): a one-day event beside a multi-day event of the same
network, recomputed with pandas from each workspace's tables, through the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock import flow
from forestock.cli import main
from forestock.insights import THIS_REHEARSAL, Rehearsal, rehearsal_comparison
from forestock.insights._rehearsals import event_of_days
from forestock.workspace import Workspace
from tests.conftest import write_csvs

EVENT = "추석 세일"
ONE_DAY = "2026-09-05"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny Korean network loaded twice and planned for its three-week event: in the
    first workspace every day of it rehearsed, in the second one day of it (its own
    one-day event); insights of the second compared with the first, and both reports."""
    from tests.conftest import tiny_tables

    tmp = tmp_path_factory.mktemp("rehearsals")
    src = write_csvs(tmp / "in", tiny_tables())
    window, day = tmp / "window", tmp / "day"
    for ws in (window, day):
        assert main(["load", str(src), "-w", str(ws)]) == 0
        assert main(["forecast", "-w", str(ws), "--event", EVENT, "--method",
                     "seasonal_naive"]) == 0
        assert main(["plan", "-w", str(ws)]) == 0
    assert main(["simulate", "-w", str(window)]) == 0
    assert main(["simulate", "-w", str(day), "--day", ONE_DAY]) == 0
    assert main(["insights", "-w", str(day), "--no-counterfactual", "--compare",
                 str(window)]) == 0
    for ws in (window, day):
        assert main(["report", "-w", str(ws)]) == 0
    return window, day


def _oracle(ws: Workspace) -> dict[str, float]:
    """A rehearsal's row recomputed from its workspace's tables with pandas."""
    days = ws.read("outcomes_day").sort_values("date")
    first = days["date"].iloc[0]
    sales = pd.concat([ws.read("history"), ws.read("truth")])
    daily = sales.groupby("date")["units"].sum()
    busy = set(ws.read("calendar")["date"])
    before = daily[(daily.index >= first - pd.Timedelta(days=28)) & (daily.index < first)
                   & ~daily.index.isin(busy)]
    ordinary = before.mean()
    q = ws.read("outcomes_warehouse").merge(ws.read("warehouses"), on="warehouse_id")
    network = q.groupby("hour")["picked"].sum() / ws.read("warehouses")["outbound_per_hour"].sum()
    placed = ws.read("outcomes_stock")["placed"].sum()
    replenished = days["inbound"].sum()
    units = days["units"].sum()
    return {
        "days": len(days), "units_per_day": units / len(days), "ordinary_per_day": ordinary,
        "lift": units / len(days) / ordinary,
        "busiest_day_lift": days["units"].max() / ordinary,
        "peak_hour_load": network.max(),
        "peak_warehouse_load": (q["picked"] / q["outbound_per_hour"]).max(),
        "share_24h": days["delivered_24h"].sum() / units,
        "unfilled_share": days["unfilled"].sum() / units,
        "placed": placed, "replenished": replenished,
        "stock_left": days["stock_left"].iloc[-1],
        "stock_left_share": days["stock_left"].iloc[-1] / (placed + replenished),
    }


def test_rehearsals_side_by_side_match_pandas(two: tuple[Path, Path]) -> None:
    """`insights --compare` puts the one-day rehearsal and the 21-day one side by side:
    units per day, lift over an ordinary day, the peak hour's load on the warehouses, the
    share within 24 h and the stock placed, replenished and left equal a pandas
    computation from each workspace's own tables; each day of each is listed."""
    window, day = (Workspace(p) for p in two)
    reh = day.read("insight_rehearsals").set_index("rehearsal")
    assert list(reh.index) == [THIS_REHEARSAL, str(window.root)]  # shortest first
    assert list(reh["days"]) == [1, 21] and set(reh["event"]) == {EVENT}
    for ws, label in ((day, THIS_REHEARSAL), (window, str(window.root))):
        want = _oracle(ws)
        got = reh.loc[label]
        for col, value in want.items():
            assert got[col] == pytest.approx(value, rel=1e-9), (ws.root, col)
    assert reh.loc[str(window.root), "replenished"] > 0
    assert reh.loc[THIS_REHEARSAL, "replenished"] == 0
    days = day.read("insight_rehearsal_days")
    assert len(days) == 22
    mine = days[days["rehearsal"] == str(window.root)].sort_values("date")
    assert list(mine["day"]) == list(range(1, 22))
    od = window.read("outcomes_day").sort_values("date")
    np.testing.assert_array_equal(mine["units"], od["units"])
    np.testing.assert_array_equal(mine["stock_left"], od["stock_left"])
    np.testing.assert_array_equal(mine["inbound"], od["inbound"])
    np.testing.assert_allclose(mine["share_24h"], od["delivered_24h"] / od["units"])
    np.testing.assert_allclose(mine["lift"], od["units"] / _oracle(window)["ordinary_per_day"])
    notes = day.notes()["insights"]
    assert notes["compared"] == [str(window.root)]


def test_reports_show_the_window_and_the_comparison(two: tuple[Path, Path]) -> None:
    """The window's own report has its days (outcomes_day: units, within 24 h, stock left,
    replenished) and names the window in its title; the one-day report has the
    comparison's table and figures and no days section; GMV per second is over the days."""
    window, day = two
    html = (window / "report.html").read_text(encoding="utf-8")
    assert "The window, day by day" in html and "21 days" in html
    assert "stock left each night, units replenished" in html
    one = (day / "report.html").read_text(encoding="utf-8")
    assert "Rehearsals side by side" in one and "The window, day by day" not in one
    assert "The events side by side" in one and "Day by day: units over an ordinary day" in one
    from forestock.report import headline

    od = Workspace(window).read("outcomes_day")
    h = headline(Workspace(window))
    assert h.gmv_per_second == pytest.approx(od["gmv"].sum() / (86_400 * len(od)))


def test_compare_needs_a_rehearsal(two: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Comparing with a workspace holding no rehearsal stops with a message naming it (exit
    2), and the insights of the workspace alone hold its own rehearsal only."""
    window, day = two
    empty = tmp_path / "empty"
    assert main(["world", "-w", str(empty), "--skus", "8", "--regions", "31"]) == 0
    capsys.readouterr()
    assert main(["insights", "-w", str(day), "--no-counterfactual", "--compare",
                 str(empty)]) == 2
    assert "no rehearsal to compare with in" in capsys.readouterr().err.replace("\n", " ")
    with pytest.raises(Exception, match="no rehearsal"):
        flow.rehearsal_of(empty)
    run = flow.run_insights(flow.Tables({n: Workspace(window).read(n) for n in
                                         Workspace(window).tables()}),
                            compare=[day])
    reh = run.result.tables["insight_rehearsals"]
    assert list(reh["rehearsal"]) == [str(day), THIS_REHEARSAL]
    assert json.dumps(run.result.figures, default=str)


def test_event_of_days_prefers_the_occurrence_on_exactly_those_days() -> None:
    """Days covered by a presale (Oct 22 - Nov 11) and a season (Oct 31 - Nov 13) are named
    after the event occurring on exactly them; days inside an event take its name; days
    without one are custom."""
    cal = pd.DataFrame({"date": [*pd.date_range("2027-10-22", "2027-11-11"),
                                 *pd.date_range("2027-10-31", "2027-11-13"),
                                 pd.Timestamp("2027-11-11")],
                        "event": ["11.11 presale"] * 21 + ["11.11 season"] * 14 + ["11.11"]})
    d = dt.date
    assert event_of_days(cal, d(2027, 10, 31), d(2027, 11, 13)) == "11.11 season"
    assert event_of_days(cal, d(2027, 11, 11), d(2027, 11, 11)) == "11.11"
    assert event_of_days(cal, d(2027, 11, 12), d(2027, 11, 12)) == "11.11 season"
    assert event_of_days(cal, d(2027, 12, 1), d(2027, 12, 3)) == "custom"


def test_a_label_given_twice_is_compared_once() -> None:
    """The comparison keeps one row per rehearsal (the first of a label), shortest first."""
    def one(label: str, n: int) -> Rehearsal:
        days = pd.DataFrame({"date": pd.date_range("2027-11-01", periods=n), "orders": 5,
                             "units": 10, "gmv": 1.0, "shipped": 10, "unfilled": 0,
                             "delivered_24h": 9, "delivered_48h": 10, "delivered_72h": 10,
                             "stock_left": 4, "inbound": 2, "transfers": 1, "backlog": 0})
        return Rehearsal(label=label, event="e", days=days, ordinary_per_day=5.0, skus=3,
                         placed=20.0, load=pd.DataFrame({"hour": [0], "network": [0.5],
                                                         "warehouse": [0.9]}))

    summary, days = rehearsal_comparison([one("b", 3), one("a", 1), one("b", 7)])
    assert list(summary["rehearsal"]) == ["a", "b"] and list(summary["days"]) == [1, 3]
    assert len(days) == 4
    b = summary.set_index("rehearsal").loc["b"]
    assert b["lift"] == pytest.approx(2.0) and b["share_24h"] == pytest.approx(0.9)
    assert b["stock_left_share"] == pytest.approx(4 / (20 + 6))
