"""validate_paths catches each kind of conflict and passes legal paths."""

from __future__ import annotations

import numpy as np
import pytest

from forestock.sortation import PathError, find_conflicts, parse_map, validate_paths

# 3 x 4 room, cell = row * 4 + col; cell 5 is an obstacle
GRID = parse_map("type octile\nheight 3\nwidth 4\nmap\n....\n.@..\n....\n")


def _p(rows: list[list[int]]) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


def test_legal_paths_pass() -> None:
    """Moves along headings, quarter turns, waits and a 3-robot rotation are legal."""
    pos = _p([[0, 2, 11], [1, 2, 11], [1, 6, 10]])
    hd = _p([[0, 0, 2], [0, 1, 2], [0, 1, 2]])
    validate_paths(GRID, pos, hd)
    validate_paths(GRID, _p([[0, 4, 1], [4, 8, 0], [8, 9, 4]]))  # four-neighbour chain


@pytest.mark.parametrize(
    ("pos", "hd", "kind"),
    [
        ([[0, 2], [1, 1]], None, "vertex"),
        ([[0, 1], [1, 0]], None, "swap"),
        ([[4, 0], [5, 0]], None, "obstacle"),
        ([[0, 11], [2, 11]], None, "jump"),
        ([[3, 11], [4, 11]], None, "jump"),  # row wrap: cell 3 to cell 4 is not a neighbour
        ([[0, 11], [1, 11]], [[1, 0], [1, 0]], "heading"),  # moves east facing south
        ([[0, 11], [0, 11]], [[0, 0], [2, 0]], "turn"),  # half turn in one step
        ([[0, 11], [1, 11]], [[0, 0], [1, 0]], "turn"),  # turns while moving
        ([[0, 11], [-1, 11]], None, "obstacle"),  # off the map
    ],
)
def test_each_conflict_kind_is_caught(pos: list[list[int]], hd: list[list[int]] | None,
                                      kind: str) -> None:
    """Every rule broken is reported with its kind, step and robots."""
    with pytest.raises(PathError) as info:
        validate_paths(GRID, _p(pos), None if hd is None else _p(hd))
    assert info.value.kind == kind and info.value.step in (0, 1)


def test_find_conflicts_lists_all() -> None:
    """find_conflicts reports every conflict without raising: a vertex and a swap here."""
    pos = _p([[0, 1, 8, 9], [1, 0, 9, 9]])
    kinds = sorted(e.kind for e in find_conflicts(GRID, pos))
    assert kinds == ["swap", "vertex"]


def test_move_against_a_one_way_lane_is_caught() -> None:
    """With lanes, a move out of a cell in a direction its lane forbids is a 'lane' conflict."""
    lanes = np.full(GRID.size, 0b0001, dtype=np.uint8)  # east only, everywhere
    lanes[[3, 7, 11]] = 0b0010  # the last column runs south
    validate_paths(GRID, _p([[0, 3], [1, 7]]), lanes=lanes)  # east, then south: legal
    with pytest.raises(PathError) as info:
        validate_paths(GRID, _p([[1, 11], [0, 11]]), lanes=lanes)  # west
    assert info.value.kind == "lane" and info.value.agents == (0,)
    with pytest.raises(PathError, match="against its one-way lane"):
        validate_paths(GRID, _p([[0, 7], [4, 11]]), lanes=lanes)  # south out of an east cell
