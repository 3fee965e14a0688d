"""The 2024 rules: instances, the replay's count against a slow oracle, the planner's schedule,
published solutions, and runs written and replayed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forestock.cli import main
from forestock.sortation import (
    InstanceError,
    SolutionError,
    SortationParams,
    SortationProblem,
    TaskList,
    competition_solution,
    read_instance,
    solve_sortation,
    write_solution,
)
from forestock.sortation._replay import follow_schedule, load_solution, parse_schedule, replay
from forestock.sortation._schedule import Scheduler
from tests.sortation import _rules2024_reference as ref
from tests.sortation.conftest import lorr24_path, random_problem

ROOM = "type octile\nheight 6\nwidth 8\nmap\n" + "........\n" * 2 + "..@@@@..\n" + "........\n" * 3


def _instance(folder: Path, tasks: str = "", agents: str = "3\n0\n9\n40\n",
              **spec: object) -> Path:
    """A 6 x 8 room with a wall of 4 cells, 3 robots and 2024 tasks of 1 to 3 errands."""
    (folder / "m.map").write_text(ROOM)
    (folder / "a.agents").write_text("# version for LoRR 2024\n" + agents)
    if not tasks:
        rng = np.random.default_rng(0)
        free = np.flatnonzero(np.frombuffer(ROOM.split("map\n")[1].replace("\n", "").encode(),
                                            np.uint8) == ord("."))
        rows = [",".join(str(c) for c in rng.choice(free, size=rng.integers(1, 4)))
                for _ in range(40)]
        tasks = "40\n" + "\n".join(rows) + "\n"
    (folder / "t.tasks").write_text("# version for LoRR 2024\n" + tasks)
    base = {"mapFile": "m.map", "agentFile": "a.agents", "teamSize": 3, "taskFile": "t.tasks",
            "numTasksReveal": 1.5, "version": "2024 LoRR"}
    (folder / "i.json").write_text(json.dumps({**base, **spec}))
    return folder / "i.json"


def _scheduled(p: SortationProblem, reveal: float = 1.5) -> SortationProblem:
    """``p`` under the 2024 rules, its tasks cut into tasks of 1 to 3 errands."""
    assert isinstance(p.tasks, TaskList)
    rng = np.random.default_rng(p.n_agents)
    ptr = np.concatenate([[0], np.cumsum(rng.integers(1, 4, size=p.tasks.errands.size))])
    ptr = ptr[ptr < p.tasks.errands.size]
    ptr = np.append(ptr, p.tasks.errands.size)
    return p.replace(tasks=TaskList(p.tasks.errands, ptr, "schedule", reveal))


def test_read_2024_instance(tmp_path: Path) -> None:
    """A 2024 instance reads its errand lists, and reveals int(1.5 * robots) tasks."""
    p = read_instance(_instance(tmp_path, "3\n1,5\n7\n30,31,47\n"), steps=10)
    t = p.tasks
    assert isinstance(t, TaskList) and (t.assignment, t.reveal, t.year) == ("schedule", 1.5, 2024)
    assert list(t.errands) == [1, 5, 7, 30, 31, 47] and list(t.ptr) == [0, 2, 3, 6]
    assert t.revealed(p.n_agents) == 4 and TaskList(t.errands, t.ptr, "schedule",
                                                     1.1).revealed(1000) == 1100


def test_task_file_header_alone_means_2024(tmp_path: Path) -> None:
    """A task file headed `# version for LoRR 2024` sets the 2024 rules without a version entry."""
    path = _instance(tmp_path)
    spec = json.loads(path.read_text())
    del spec["version"]
    path.write_text(json.dumps(spec))
    assert read_instance(path).tasks.assignment == "schedule"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tasks", "spec", "message"),
    [
        ("2\n1,5\n7,x\n", {}, r"t\.tasks, line 4: '7,x' is not a cell index"),
        ("2\n1,5\n7,,9\n", {}, r"t\.tasks, line 4: '7,,9'"),
        ("2\n1,5\n7,99\n", {}, r"t\.tasks, line 4: errand cell 99 is off the 6x8 map"),
        ("2\n1,5\n7,20\n", {}, r"t\.tasks, line 4: errand cell 20 \(row 2, column 4\) is an "
                               "obstacle"),
        ("3\n1,5\n7\n", {}, r"t\.tasks, line 2: says 3 tasks, the file lists 2"),
        ("two\n1\n", {}, r"t\.tasks, line 2: 'two' is not the number of tasks"),
        ("", {"numTasksReveal": "many"}, "numTasksReveal must be a number > 0, got 'many'"),
        ("", {"numTasksReveal": 0}, "numTasksReveal must be a number > 0"),
        ("", {"version": "2026 LoRR"}, "the 2026 rules are not known"),
        ("", {"version": "LoRR"}, "version 'LoRR' is not '<year> LoRR'"),
        ("", {"taskAssignmentStrategy": "greedy"}, "taskAssignmentStrategy is a 2023 rule"),
    ],
)
def test_malformed_2024_instances_name_file_and_line(
        tmp_path: Path, tasks: str, spec: dict[str, object], message: str) -> None:
    """Bad task lines, cells off the map or on obstacles and bad entries raise InstanceError."""
    with pytest.raises(InstanceError, match=message):
        read_instance(_instance(tmp_path, tasks, **spec))


def test_agent_on_an_obstacle_names_its_line(tmp_path: Path) -> None:
    """A start on an obstacle names the agent file's line (after the version comment)."""
    with pytest.raises(InstanceError, match=r"a\.agents, line 4: start cell 19 \(row 2, column 3"):
        read_instance(_instance(tmp_path, agents="3\n0\n19\n40\n"))


def _random_schedule(rng: np.random.Generator, steps: int, n: int, revealed: int
                     ) -> np.ndarray:
    """Random changes, many against the rules (tasks not revealed, given twice, taken back)."""
    rows = {(int(t), int(a)): int(rng.integers(-1, revealed + 4))
            for t, a in zip(rng.integers(1, steps + 1, size=steps),
                            rng.integers(0, n, size=steps), strict=True)}
    out = np.array([(t, a, j) for (t, a), j in rows.items()], dtype=np.int64)
    return out[np.lexsort((out[:, 1], out[:, 0]))]


@pytest.mark.parametrize("seed", range(6))
def test_follow_schedule_matches_the_start_kits_task_manager(seed: int) -> None:
    """The replay's 2024 count, events and refusals equal the slow TaskManager's, step by step."""
    rng = np.random.default_rng(seed)
    n, steps, cells = 5, 60, 6  # few cells: robots stand on errands often
    m = 12
    ptr = np.concatenate([[0], np.cumsum(rng.integers(1, 4, size=m))])
    tasks = TaskList(rng.integers(0, cells, size=ptr[-1]).astype(np.int32), ptr, "schedule",
                     float(rng.choice([0.6, 1.0, 1.5])))
    positions = rng.integers(0, cells, size=(steps + 1, n))
    schedule = _random_schedule(rng, steps, n, tasks.revealed(n) + steps // 4)
    finished, events, errors, _ = follow_schedule(tasks, positions, schedule)
    per_step, slow_events, slow_errors = ref.follow(tasks, positions, schedule)
    assert finished.tolist() == per_step and sum(per_step) > 0
    assert [tuple(e) for e in events.tolist()] == slow_events
    assert errors == slow_errors > 0


def test_parse_schedule_reads_the_competitions_strings() -> None:
    """`actualSchedule` strings become (step, robot, task) rows by step; bad entries raise."""
    rows = parse_schedule(["1:4,5:-1,9:7", "", "2:3"], 3)
    assert rows.tolist() == [[1, 0, 4], [2, 2, 3], [5, 0, -1], [9, 0, 7]]
    with pytest.raises(SolutionError, match="robot 1, entry 1: '3:2'"):
        parse_schedule(["1:4", "5:1,3:2", ""], 3)
    with pytest.raises(SolutionError, match="one string per robot"):
        parse_schedule(["1:4"], 3)


@pytest.mark.parametrize(("margin", "taken"), [(0.0, True), (5.0, False)])
def test_scheduler_gives_the_nearest_task_and_takes_back_unstarted_ones(margin: float,
                                                                        taken: bool) -> None:
    """Free robots take the nearest revealed task; a freed robot nearer an unstarted task (by
    more than the margin) takes it, its holder then the nearest task nobody holds."""
    tasks = TaskList(np.array([9, 1, 90, 95], np.int32), np.arange(5), "schedule", 1.5)
    s = Scheduler(tasks, 2, 10, length_weight=0.0, steal_margin=margin)
    goals = s.start(np.array([0, 99]))  # robot 0 at (0, 0), robot 1 at (9, 9); 3 tasks revealed
    assert goals.tolist() == [1, 9] and s.schedule().tolist() == [[1, 0, 1], [1, 1, 0]]
    # step 1: robot 0 finishes task 1 at (0, 1), which reveals task 3 (cell 95); task 0 at
    # (0, 9) is 8 from robot 0 and 10 from robot 1, now at (9, 8); task 2 at (9, 0) is 10 away
    robots, goals = s.step(1, np.array([1, 98]))
    assert s.finished == 1
    if taken:
        assert robots.tolist() == [0, 1] and goals.tolist() == [9, 95]
        assert s.schedule()[2:].tolist() == [[2, 0, 0], [2, 1, 3]]
    else:
        assert robots.tolist() == [0] and goals.tolist() == [90]
        assert s.schedule()[2:].tolist() == [[2, 0, 2]]
    robots, goals = s.step(2, np.array([1, 97]), last=True)  # nothing reached, none assigned
    assert robots.size == 0 and s.schedule().shape[0] == (4 if taken else 3)


def test_scheduler_weighs_the_tasks_length() -> None:
    """With the length weighed, a robot prefers a short task a little farther away."""
    tasks = TaskList(np.array([2, 9, 4, 5], np.int32), np.array([0, 2, 4]), "schedule", 2.0)
    assert Scheduler(tasks, 1, 10, 0.0, -1.0).start(np.array([0])).tolist() == [2]
    assert Scheduler(tasks, 1, 10, 1.0, -1.0).start(np.array([0])).tolist() == [4]


@pytest.mark.parametrize(("seed", "model_reassign"), [(3, True), (4, False)])
def test_planner_schedule_is_valid_and_counts_as_the_replay(seed: int,
                                                            model_reassign: bool) -> None:
    """The planner's 2024 run: its schedule breaks no rule and the slow oracle counts the same."""
    p = _scheduled(random_problem(seed, robots=10, steps=150))
    r = solve_sortation(p, SortationParams(reassign=model_reassign), seed=seed)
    assert r.schedule is not None and r.positions is not None
    per_step, _, errors = ref.follow(p.tasks, r.positions, r.schedule)  # type: ignore[arg-type]
    assert errors == 0 and sum(per_step) == r.tasks_finished > 0
    assert per_step == r.finished_per_step.tolist()
    assert r.schedule[:, 0].min() == 1 and r.schedule[:, 0].max() <= p.steps


def test_planner_takes_back_unstarted_tasks() -> None:
    """With reassignment on, some robot loses a task it had not started to a nearer robot."""
    p = _scheduled(random_problem(8, robots=12, steps=200, height=16, width=20))
    r = solve_sortation(p, SortationParams(reassign_margin=0.0))
    assert r.schedule is not None
    held = {}
    taken = 0
    for _, robot, task in r.schedule.tolist():
        if task >= 0 and task in held and held[task] != robot:
            taken += 1
        held[task] = robot
    assert taken > 0


def test_2024_runs_are_deterministic() -> None:
    """Same seed, same paths and schedule; the schedule follows the distances, not the seed."""
    p = _scheduled(random_problem(5, robots=8, steps=80))
    a, b = solve_sortation(p, seed=2), solve_sortation(p, seed=2)
    assert a.positions is not None and b.positions is not None
    assert np.array_equal(a.positions, b.positions)
    assert a.schedule is not None and b.schedule is not None
    assert np.array_equal(a.schedule, b.schedule)


def test_fewer_tasks_than_robots_parks_the_rest() -> None:
    """With numTasksReveal 0.5 half the robots hold no task at a time, the longest waiting
    served first; the count still agrees."""
    p = _scheduled(random_problem(6, robots=8, steps=120), reveal=0.5)
    r = solve_sortation(p)
    assert r.schedule is not None and r.positions is not None
    finished, _, errors, _ = follow_schedule(p.tasks, r.positions,  # type: ignore[arg-type]
                                             r.schedule)
    assert errors == 0 and int(finished.sum()) == r.tasks_finished > 0
    first = r.schedule[r.schedule[:, 0] == 1]
    assert (first[:, 2] >= 0).sum() == 4
    assert np.unique(r.schedule[r.schedule[:, 2] >= 0, 1]).size == 8  # every robot gets tasks


def test_written_2024_solution_has_the_start_kits_fields(tmp_path: Path) -> None:
    """A 2024 run is written with the schedule, errand events and revealed tasks, and replays."""
    p = _scheduled(random_problem(7, robots=6, steps=100))
    r = solve_sortation(p)
    data = json.loads(write_solution(p, r, tmp_path / "s.json").read_text())
    assert data["version"] == "2024 LoRR" and data["numTaskFinished"] == r.tasks_finished > 0
    assert len(data["actualSchedule"]) == 6 and data["actualSchedule"][0].startswith("1:")
    assert data["scheduleErrors"] == [] and data["numScheduleErrors"] == 0
    pool = p.tasks.revealed(6)  # type: ignore[union-attr]
    assert len(data["tasks"]) == pool + r.tasks_finished
    assert [t[1] for t in data["tasks"][:pool]] == [0] * pool
    assert sum(e[3] == len(data["tasks"][e[2]][2]) // 2 for e in data["events"]) == r.tasks_finished
    rep = replay(p, tmp_path / "s.json")
    assert (rep.tasks_finished, rep.published, rep.conflicts) == (r.tasks_finished,) * 2 + (0,)
    assert rep.events.tolist() == data["events"]


def test_a_schedule_that_breaks_the_rules_is_refused_by_the_writer() -> None:
    """A run whose schedule gives one task to two robots cannot be written."""
    p = _scheduled(random_problem(7, robots=6, steps=40))
    r = solve_sortation(p)
    assert r.schedule is not None
    bad = np.vstack([r.schedule, [[2, 0, 0], [2, 1, 0]]])
    bad = bad[np.lexsort((bad[:, 1], bad[:, 0]))]
    from dataclasses import replace

    with pytest.raises(ValueError, match="refused assignments"):
        competition_solution(p, replace(r, schedule=bad))


def test_tr24_sortation_short_run_written_and_replayed(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`sortation run --output` on TR24 sortation_large_2000 (100 steps) replays to its count."""
    inst = lorr24_path("Test Round Evaluation Instances", "warehouse.domain",
                       "sortation_large_2000.json")
    sol = tmp_path / "solution.json"
    assert main(["sortation", "run", str(inst), "--steps", "100", "--output", str(sol),
                 "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["tasks_finished"] > 0 and ran["rules"] == "2024"
    assert main(["sortation", "replay", str(inst), str(sol), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["tasks_finished"], rep["published"], rep["conflicts"]) == (
        ran["tasks_finished"], ran["tasks_finished"], 0)
    data = load_solution(sol)
    assert {"actualSchedule", "events", "tasks", "version"} <= set(data)


def test_tr24_sortation_published_solution_replays_to_its_count() -> None:
    """The published best TR24 sortation_large_2000 run finishes exactly 15,508 tasks."""
    inst = lorr24_path("Test Round Evaluation Instances", "warehouse.domain",
                       "sortation_large_2000.json")
    sol = lorr24_path("Test Round Evaluation Instances", "best_solutions",
                      "TR24-sortation_large_2000.json.zip")
    r = replay(read_instance(inst), sol)
    assert (r.tasks_finished, r.published, r.conflicts, r.steps) == (15508, 15508, 0, 2000)


def test_published_2024_solution_without_schedule_is_refused() -> None:
    """MR24-SORTATION's published file has no actualSchedule: the replay says so, not a count."""
    inst = lorr24_path("Main Round Evaluation Instances", "warehouse.domain", "SORTATION.json")
    sol = lorr24_path("Main Round Evaluation Instances", "best_solutions",
                      "MR24-SORTATION.json.zip")
    with pytest.raises(SolutionError, match="no actualSchedule"):
        replay(read_instance(inst), sol)
