"""Replays of published competition solutions, and bad solutions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forestock.cli import main
from forestock.sortation import SolutionError, read_instance
from forestock.sortation._replay import replay
from tests.sortation.conftest import lorr_path, random_problem


def test_tr23_sortation_large_replays_to_the_published_figure() -> None:
    """The best TR23-sortation_large solution finishes exactly 24,577 tasks with no conflict."""
    inst = lorr_path("warehouse.domain", "TR23-sortation_large.json")
    sol = lorr_path("best_solutions", "TR23-sortation_large.json.zip")
    r = replay(read_instance(inst), sol)
    assert (r.tasks_finished, r.published, r.conflicts, r.steps) == (24577, 24577, 0, 5000)


def _solution(p: object, paths: list[str]) -> dict[str, object]:
    from forestock.sortation import SortationProblem

    assert isinstance(p, SortationProblem)
    w = p.grid.width
    return {"actionModel": "MAPF_T", "teamSize": p.n_agents,
            "start": [[int(c) // w, int(c) % w, "E"] for c in p.starts], "actualPaths": paths}


def test_replay_reports_conflicts_not_raises() -> None:
    """Robots driven into each other are counted as conflicts, with messages."""
    p = random_problem(0, robots=2, steps=5, obstacles=0.0)
    p = p.replace(starts=np.array([0, 2], np.int32), headings=np.zeros(2, np.int8))
    r = replay(p, _solution(p, ["F,F", "W,W"]))  # robot 0 drives into robot 1's cell
    assert r.conflicts >= 1 and "vertex" in r.first_conflicts[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"actualPaths": ["F,X", "W,W"]}, "robot 0, step 2: unknown action 'X'"),
        ({"actionModel": "MAPF"}, "action model 'MAPF'"),
        ({"teamSize": 3}, "teamSize 3"),
        ({"start": [[0, 1, "E"], [0, 2, "E"]]}, "robot 0 starts at row 0, column 1"),
    ],
)
def test_bad_solutions_are_refused(change: dict[str, object], message: str) -> None:
    """Unknown actions, another model, a wrong team or start raise SolutionError."""
    p = random_problem(0, robots=2, steps=5, obstacles=0.0)
    p = p.replace(starts=np.array([0, 2], np.int32), headings=np.zeros(2, np.int8))
    with pytest.raises(SolutionError, match=message):
        replay(p, {**_solution(p, ["F,W", "W,W"]), **change})


def test_cli_replay_bad_action_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    """`forestock sortation replay` with an unknown action exits 2 and names it."""
    (tmp_path / "m.map").write_text("type octile\nheight 1\nwidth 4\nmap\n....\n")
    (tmp_path / "a.agents").write_text("1\n0\n")
    (tmp_path / "t.tasks").write_text("1\n3\n")
    (tmp_path / "i.json").write_text(json.dumps({
        "mapFile": "m.map", "agentFile": "a.agents", "teamSize": 1, "taskFile": "t.tasks",
        "numTasksReveal": 1, "taskAssignmentStrategy": "roundrobin"}))
    (tmp_path / "s.json").write_text(json.dumps({
        "actionModel": "MAPF_T", "teamSize": 1, "start": [[0, 0, "E"]],
        "actualPaths": ["F,F,J"]}))
    assert main(["sortation", "replay", str(tmp_path / "i.json"), str(tmp_path / "s.json")]) == 2
    assert "unknown action 'J'" in capsys.readouterr().err
    (tmp_path / "s.json").write_text(json.dumps({
        "actionModel": "MAPF_T", "teamSize": 1, "start": [[0, 0, "E"]],
        "actualPaths": ["F,F,F"], "numTaskFinished": 1}))
    assert main(["sortation", "replay", str(tmp_path / "i.json"), str(tmp_path / "s.json"),
                 "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["tasks_finished"] == 1 and facts["conflicts"] == 0
