"""Map and instance files: reading them, and a clear error for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forestock.cli import main
from forestock.sortation import InstanceError, MapError, parse_map, read_instance

GOOD = "type octile\nheight 3\nwidth 4\nmap\n.E..\n.@S.\n....\n"


def test_parse_map_cells_and_neighbours() -> None:
    """Free cells, obstacles and the east/south/west/north neighbour table are read right."""
    g = parse_map(GOOD)
    assert (g.height, g.width) == (3, 4)
    assert g.free.sum() == 11 and not g.free[5]
    nb = g.neighbours()
    assert list(nb[1]) == [2, -1, 0, -1]  # cell (0,1): east 2, south is the obstacle, west 0
    assert list(g.cells_of("E")) == [1] and list(g.cells_of("S")) == [6]
    assert parse_map(g.text()).chars.tobytes() == g.chars.tobytes()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace(".@S.", ".@X."), "line 6, column 3: unknown character 'X'"),
        (GOOD.replace("height 3", "height 4"), "height 4 but 3 map rows"),
        (GOOD.replace(".@S.", ".@S"), "width 4 but the row has 3"),
        (GOOD.replace("map\n", ""), "line 4: expected 'type', 'height', 'width' or 'map'"),
        (GOOD.replace("width 4", "width four"), "is not an integer"),
    ],
)
def test_bad_maps_name_line_and_column(text: str, message: str) -> None:
    """Each malformed map raises MapError saying where and what."""
    with pytest.raises(MapError, match=message):
        parse_map(text, "bad.map")


def _instance(folder: Path, map_text: str = GOOD, agents: str = "2\n0\n3\n",
              tasks: str = "3\n2\n7\n11\n") -> Path:
    (folder / "maps").mkdir(parents=True, exist_ok=True)
    (folder / "maps" / "m.map").write_text(map_text)
    (folder / "a.agents").write_text(agents)
    (folder / "t.tasks").write_text(tasks)
    spec = {"mapFile": "maps/m.map", "agentFile": "a.agents", "teamSize": 2,
            "taskFile": "t.tasks", "numTasksReveal": 1, "taskAssignmentStrategy": "roundrobin"}
    path = folder / "inst.json"
    path.write_text(json.dumps(spec))
    return path


def test_read_instance(tmp_path: Path) -> None:
    """An instance reads its map, the first teamSize agents facing east, and its tasks."""
    p = read_instance(_instance(tmp_path), steps=10)
    assert list(p.starts) == [0, 3] and list(p.headings) == [0, 0]
    assert list(p.tasks.errands) == [2, 7, 11] and p.steps == 10  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"agents": "2\n0\n5\n"}, InstanceError,
         r"a\.agents, line 3: start cell 5 .* is an obstacle"),
        ({"tasks": "2\n2\n99\n"}, InstanceError, r"t\.tasks, line 3: errand cell 99 is off"),
        ({"tasks": "2\n2\nx\n"}, InstanceError, r"t\.tasks, line 3: 'x' is not a cell index"),
        ({"agents": "3\n0\n1\n"}, InstanceError, r"a\.agents, line 1: says 3 agents"),
        ({"map_text": GOOD.replace("....\n", "..?.\n")}, MapError, "unknown character '\\?'"),
    ],
)
def test_bad_instances(tmp_path: Path, kw: dict[str, str], error: type[Exception],
                       message: str) -> None:
    """Agents on obstacles, tasks off the map, bad numbers and bad maps name file and line."""
    with pytest.raises(error, match=message):
        read_instance(_instance(tmp_path, **kw))


def test_cli_bad_instance_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock sortation run` on a map with an unknown character exits 2 with the place."""
    path = _instance(tmp_path, map_text=GOOD.replace(".@S.", ".@X."))
    assert main(["sortation", "run", str(path), "--steps", "5"]) == 2
    assert "unknown character 'X'" in capsys.readouterr().err


def test_headings_must_be_known() -> None:
    """A heading outside 0..3 is refused."""
    from forestock.sortation import SortationProblem, TaskList

    g = parse_map(GOOD)
    with pytest.raises(InstanceError, match="headings"):
        SortationProblem("x", g, np.array([0], np.int32), np.array([7], np.int8),
                         TaskList(np.array([2], np.int32), np.array([0, 1])))
