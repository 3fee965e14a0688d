"""The 2024 rules: instances of errand lists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forestock.sortation import InstanceError, TaskList, read_instance

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
