"""The planner's distance tables: one per goal, computed lazily, in a cache bounded in bytes."""

from __future__ import annotations

import numpy as np
import pytest

from forestock.errors import InfeasibleError
from forestock.sortation import SortationParams, SortationProblem, TaskList, parse_map
from forestock.sortation import _kernels as K
from forestock.sortation._layout import CentreParams, build_centre, centre_problem
from forestock.sortation._maps import GridMap
from forestock.sortation._pibt import _lane_graph, _move_costs, _Tables, solve_sortation
from tests.sortation import _pibt_reference as ref
from tests.sortation.conftest import random_problem


def _floor(grid: GridMap, lanes: np.ndarray | None, highway: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moves out of and into each free cell, and their costs, as the planner builds them."""
    free = np.flatnonzero(grid.free).astype(np.int32)
    dense = np.full(grid.size, -1, dtype=np.int32)
    dense[free] = np.arange(free.size, dtype=np.int32)
    nbr, rnbr = _lane_graph(grid.neighbours(), dense, free, lanes)
    return nbr, rnbr, _move_costs(grid, free, nbr, 2, highway)


def _mb(tables: int, cells: int) -> float:
    """``table_mb`` that holds exactly ``tables`` tables of ``cells`` cells."""
    return tables * 2 * cells / 2**20


@pytest.mark.parametrize("held", [1, 3, 10_000])
@pytest.mark.parametrize("where", ["random room", "centre with lanes"])
def test_lazy_distances_equal_a_plain_search(where: str, held: int) -> None:
    """Step after step of random goals and cells, the distances handed to the kernel equal
    the plain search's, whether the cache holds one table, three or all."""
    if where == "centre with lanes":
        c = build_centre(CentreParams(chute_rows=2, chute_cols=3))
        nbr, rnbr, cost = _floor(c.grid, c.lanes, 0)
    else:
        nbr, rnbr, cost = _floor(random_problem(4, obstacles=0.3).grid, None, 2)
    cells = nbr.shape[0]
    tables = _Tables(nbr, rnbr, cost, _mb(held, cells))
    assert tables.cap == min(held, cells)
    rng = np.random.default_rng(held)
    goals = rng.choice(cells, size=12, replace=False)  # robots share goals among 12
    plain = {int(g): ref.distances(nbr, cost, int(g)) for g in goals}
    near = np.empty((30, 5), dtype=np.uint16)
    for _ in range(8):
        goal = rng.choice(goals, size=30).astype(np.int32)
        pos = rng.choice(cells, size=30, replace=False).astype(np.int32)
        tables.fill(goal, pos, near)
        uniq = sorted(set(goal.tolist()))
        floor = ref.Floor(nbr, cost, 2, np.array([plain[g] for g in uniq], dtype=np.uint16))
        robots = ref.Robots(pos.tolist(), [0] * 30, [uniq.index(g) for g in goal.tolist()],
                            [], [], [], [], np.zeros((cells, 4), np.float32))
        assert np.array_equal(near, ref.near(floor, robots))
        g = int(goal[0])
        assert np.array_equal(tables.table(g), plain[g])
    assert tables.filled <= tables.cap
    if held == 1:
        assert tables.computed > len(goals)  # tables were dropped and computed again
    if held == 10_000:
        assert tables.computed == len(goals)  # each goal's table computed once, shared


def _centre_flow(model: str) -> SortationProblem:
    """A generated centre: one-way lanes, stations and chutes (tables of every goal kept)."""
    c = build_centre(CentreParams(chute_rows=2, chute_cols=3))
    return centre_problem(c, 14, np.full(c.n_chutes, 1.0 / c.n_chutes), steps=150, seed=2,
                          model=model)


@pytest.mark.parametrize("model", ["rotation", "four"])
@pytest.mark.parametrize("make", [
    lambda m: random_problem(6, robots=30, steps=150, model=m),
    _centre_flow,
], ids=["random room", "centre"])
def test_eviction_does_not_change_the_run(make: object, model: str) -> None:
    """A cache of two tables (computed again and again) and one of every goal give the same
    paths, headings and tasks."""
    p = make(model)  # type: ignore[operator]
    cells = int(p.grid.free.sum())
    tiny = solve_sortation(p, SortationParams(table_mb=_mb(2, cells)), seed=3)
    large = solve_sortation(p, SortationParams(), seed=3)
    assert tiny.tasks_finished == large.tasks_finished > 0
    assert tiny.positions is not None and large.positions is not None
    assert np.array_equal(tiny.positions, large.positions)
    assert np.array_equal(tiny.headings, large.headings)  # type: ignore[arg-type]


def _corridor_tables(length: int) -> tuple[_Tables, int]:
    """Tables of a one-row corridor ``length`` cells long, moves costing 2; its east end."""
    grid = parse_map(f"type octile\nheight 1\nwidth {length}\nmap\n" + "." * length)
    nbr, rnbr, cost = _floor(grid, None, 0)
    return _Tables(nbr, rnbr, cost, 1.0), length - 1


def test_longest_distance_a_uint16_table_holds() -> None:
    """A corridor whose far end is 65,534 away (one below "unreachable") is held exactly."""
    tables, end = _corridor_tables(32_768)
    dist = tables.table(end).astype(np.int64)
    assert dist[0] == 2 * end == K.UNREACH - 1
    assert np.array_equal(dist, 2 * (end - np.arange(end + 1)))


def test_distance_that_would_overflow_is_refused() -> None:
    """One cell longer, a distance would reach 65,535: refused, not wrapped round to near 0."""
    tables, end = _corridor_tables(32_769)
    with pytest.raises(InfeasibleError, match="exceeds 65534"):
        tables.table(end)
    grid = parse_map("type octile\nheight 1\nwidth 32769\nmap\n" + "." * 32_769)
    p = SortationProblem(name="long corridor", grid=grid, starts=np.array([0], dtype=np.int32),
                         headings=np.zeros(1, dtype=np.int8),
                         tasks=TaskList(np.array([32_768], dtype=np.int32),
                                        np.array([0, 1], dtype=np.int64)),
                         steps=2, model="four")
    with pytest.raises(InfeasibleError, match="uint16"):
        solve_sortation(p, SortationParams(highway=0))


def test_unreachable_cells_keep_their_mark() -> None:
    """Cells cut off from the goal read ``UNREACH`` (the two halves of a walled room)."""
    grid = parse_map("type octile\nheight 2\nwidth 5\nmap\n..@..\n..@..")
    nbr, rnbr, cost = _floor(grid, None, 0)
    dist = _Tables(nbr, rnbr, cost, 1.0).table(0)
    assert np.array_equal(dist, ref.distances(nbr, cost, 0))
    assert (dist == K.UNREACH).sum() == 4
