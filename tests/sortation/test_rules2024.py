"""The 2024 rules: instances, and the replay's count against a slow oracle and published
solutions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forestock.sortation import InstanceError, SolutionError, TaskList, read_instance
from forestock.sortation._replay import follow_schedule, parse_schedule, replay
from tests.sortation import _rules2024_reference as ref
from tests.sortation.conftest import lorr24_path

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
