"""Planner runs written as competition solutions, and read back by the replay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forestock.cli import main
from forestock.sortation import (
    SortationParams,
    SortationProblem,
    TaskList,
    competition_solution,
    solve_sortation,
    write_solution,
)
from forestock.sortation._replay import load_solution, replay
from tests.sortation.conftest import lorr_path, random_problem

FIELDS = ("actionModel", "teamSize", "start", "actualPaths", "events", "tasks",
          "numTaskFinished", "makespan")


@pytest.mark.parametrize("seed", [3, 7])
def test_written_solution_replays_to_the_planners_count(seed: int, tmp_path: Path) -> None:
    """A planned run written to JSON has the competition's fields and replays to its count."""
    p = random_problem(seed, robots=10, steps=150)
    r = solve_sortation(p, seed=seed)
    path = write_solution(p, r, tmp_path / "solution.json")
    data = json.loads(path.read_text())
    assert set(FIELDS) <= set(data)
    assert (data["actionModel"], data["teamSize"], data["makespan"]) == ("MAPF_T", 10, 150)
    assert data["numTaskFinished"] == r.tasks_finished > 0
    assert all(len(s.split(",")) == 150 for s in data["actualPaths"])
    rep = replay(p, path)
    assert (rep.tasks_finished, rep.published, rep.conflicts) == (r.tasks_finished,
                                                                   r.tasks_finished, 0)
    assert np.array_equal(rep.positions, r.positions)


def _check_events(p: SortationProblem, positions: np.ndarray, data: dict[str, object]) -> int:
    """Slow oracle: each robot's events alternate assigned/finished, finishes on the task's cell,
    and task rows name the cells of the instance's round-robin tasks."""
    assert isinstance(p.tasks, TaskList)
    w = p.grid.width
    tasks = {k: (r, c) for k, r, c in data["tasks"]}  # type: ignore[attr-defined]
    assert sorted(tasks) == list(range(len(tasks)))
    finished = 0
    for robot, events in enumerate(data["events"]):  # type: ignore[arg-type]
        holding = None
        given = [e for e in events if e[2] == "assigned"]
        for n_assigned, (k, _, _) in enumerate(given):
            cell = int(p.tasks.errands[(robot + n_assigned * p.n_agents) % p.tasks.n_tasks])
            assert tasks[k] == divmod(cell, w)
        last = 0
        for k, step, kind in events:
            assert step >= last
            last = step
            if kind == "assigned":
                assert holding is None
                holding = k
            else:
                assert k == holding and kind == "finished"
                assert divmod(int(positions[step, robot]), w) == tasks[k]
                holding = None
                finished += 1
        assert holding is not None  # every robot ends holding a task
    return finished


def test_events_and_tasks_match_a_slow_oracle() -> None:
    """Events and task rows agree, robot by robot, with the paths and the round-robin rule."""
    p = random_problem(11, robots=8, steps=200)
    r = solve_sortation(p, seed=1)
    data = competition_solution(p, r)
    assert r.positions is not None
    assert _check_events(p, r.positions, data) == r.tasks_finished == data["numTaskFinished"]


def test_greedy_assignment_is_written_with_the_planners_count() -> None:
    """Under the greedy rule the written events count the planner's tasks."""
    p = random_problem(5, robots=10, steps=150)
    assert isinstance(p.tasks, TaskList)
    p = p.replace(tasks=TaskList(p.tasks.errands, p.tasks.ptr, "greedy"))
    r = solve_sortation(p)
    data = competition_solution(p, r)
    done = sum(e[2] == "finished" for ev in data["events"] for e in ev)
    assert done == data["numTaskFinished"] == r.tasks_finished
    assert len(data["tasks"]) == r.tasks_finished + p.n_agents


def _several_errands(p: SortationProblem) -> SortationProblem:
    assert isinstance(p.tasks, TaskList)
    return p.replace(tasks=TaskList(p.tasks.errands, p.tasks.ptr[::2].copy()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.replace(model="four"), "only the rotation model"),
        (_several_errands, "several errands"),
    ],
)
def test_unwritable_problems_are_refused(change: object, message: str) -> None:
    """The four-neighbour model and tasks of several errands raise ValueError."""
    p = change(random_problem(0, robots=3, steps=20))  # type: ignore[operator]
    r = solve_sortation(p, SortationParams(validate=False))
    with pytest.raises(ValueError, match=message):
        competition_solution(p, r)


def test_run_without_paths_is_refused() -> None:
    """A run that kept no paths cannot be written."""
    p = random_problem(0, robots=3, steps=20)
    r = solve_sortation(p, SortationParams(record_paths=False, validate=False))
    with pytest.raises(ValueError, match="kept no paths"):
        competition_solution(p, r)


def _tiny_instance(folder: Path, strategy: str = "roundrobin", tasks: str = "") -> Path:
    """A 6 x 8 open room with 4 robots and 30 single-errand tasks, as competition files."""
    (folder / "m.map").write_text("type octile\nheight 6\nwidth 8\nmap\n" + "........\n" * 6)
    (folder / "a.agents").write_text("4\n0\n9\n18\n27\n")
    cells = np.random.default_rng(0).integers(0, 48, size=30)
    (folder / "t.tasks").write_text(tasks or "30\n" + "".join(f"{c}\n" for c in cells))
    (folder / "i.json").write_text(json.dumps({
        "mapFile": "m.map", "agentFile": "a.agents", "teamSize": 4, "taskFile": "t.tasks",
        "numTasksReveal": 1, "taskAssignmentStrategy": strategy}))
    return folder / "i.json"


def test_cli_run_output_replays_to_the_same_count(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`sortation run --output` writes a solution that `sortation replay` counts the same."""
    inst = _tiny_instance(tmp_path)
    sol = tmp_path / "out" / "solution.json"
    assert main(["sortation", "run", str(inst), "--steps", "100", "--output", str(sol),
                 "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["solution"] == str(sol) and ran["tasks_finished"] > 0
    assert main(["sortation", "replay", str(inst), str(sol), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["tasks_finished"] == rep["published"] == ran["tasks_finished"]
    assert rep["conflicts"] == 0
    assert set(FIELDS) <= set(load_solution(sol))


def test_cli_run_output_refuses_several_errands_before_planning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Errand lists under the 2023 rules (one cell a task in their format) exit 2 with --output,
    writing nothing."""
    inst = _tiny_instance(tmp_path, "greedy", "2\n1,5\n7,30\n")
    sol = tmp_path / "solution.json"
    assert main(["sortation", "run", str(inst), "--steps", "20", "--output", str(sol)]) == 2
    assert "several errands" in capsys.readouterr().err and not sol.exists()


def test_tr23_warehouse_large_short_run_replays_to_the_same_count(tmp_path: Path) -> None:
    """100 steps of TR23-warehouse_large (1,000 robots), written and replayed, agree."""
    from forestock.sortation import read_instance

    inst = lorr_path("warehouse.domain", "TR23-warehouse_large.json")
    p = read_instance(inst, steps=100)
    r = solve_sortation(p)
    rep = replay(p, write_solution(p, r, tmp_path / "s.json"))
    assert rep.tasks_finished == r.tasks_finished and rep.conflicts == 0
