"""The PIBT planner: valid paths, progress, determinism, and its kernels against oracles."""

from __future__ import annotations

import numpy as np
import pytest

from forestock.sortation import (
    SortationParams,
    SortationProblem,
    SortationResult,
    TaskList,
    find_conflicts,
    parse_map,
    solve_sortation,
)
from forestock.sortation import _kernels as K
from forestock.sortation._layout import CentreParams, build_centre
from forestock.sortation._maps import GridMap
from forestock.sortation._pibt import (
    _floor_costs,
    _lane_flips,
    _lane_graph,
    _move_costs,
    _open_cells,
)
from forestock.sortation._replay import replay
from tests.sortation import _pibt_reference as ref
from tests.sortation.conftest import random_problem


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("highway", [0, 2])
def test_distance_kernel_matches_plain_search(seed: int, highway: int) -> None:
    """Dial's algorithm in numba gives the plain search's distances, lanes or not, on random
    maps."""
    p = random_problem(seed, height=7, width=9, obstacles=0.3)
    free = np.flatnonzero(p.grid.free)
    dense = np.full(p.grid.size, -1)
    dense[free] = np.arange(free.size)
    full = p.grid.neighbours()
    nbr = np.where(full >= 0, dense[np.maximum(full, 0)], -1)[free].astype(np.int32)
    cost = _move_costs(p.grid, free.astype(np.int32), nbr, 2, highway)
    out = np.empty(free.size, dtype=np.uint16)
    buckets = np.empty((int(cost.max()) + 1, 4 * free.size), dtype=np.int32)
    counts = np.zeros(buckets.shape[0], dtype=np.int64)
    for goal in np.random.default_rng(seed).choice(free.size, size=5, replace=False):
        K.distances(nbr, cost, int(goal), out, buckets, counts)
        assert np.array_equal(out.astype(np.int64), ref.distances(nbr, cost, int(goal)))


def _floor_map(height: int, width: int, margin: int) -> np.ndarray:
    """A sortation floor: pillars at even rows and columns inside an open margin."""
    free = np.ones((height, width), dtype=bool)
    inner = np.zeros_like(free)
    inner[margin:height - margin, margin:width - margin] = True
    r, c = np.indices(free.shape)
    free[inner & (r % 2 == 0) & (c % 2 == 0)] = False
    return free


def test_streets_alternate_corridor_by_corridor() -> None:
    """On a floor whose streets lie every other row and column, neighbouring streets run
    opposite ways (parity would send them all one way), and in the open margin half the
    rows and columns run each way, never three neighbours alike."""
    free = _floor_map(21, 31, 4)
    west, north = _lane_flips(free)
    streets = np.arange(5, 16, 2)  # the inner rows with moves along them
    assert (np.diff(west[streets].astype(int)) != 0).all()
    cols = np.arange(5, 26, 2)
    assert (np.diff(north[cols].astype(int)) != 0).all()
    for flips in (west[:4], north[:4], west[-4:], north[-4:]):
        assert flips.sum() == 2
    for flips in (west, north):
        f = flips.astype(int)
        assert not ((f[2:] == f[1:-1]) & (f[1:-1] == f[:-2])).all()
        assert abs(int(f.sum()) * 2 - f.size) <= 2


def test_moves_against_a_street_cost_more() -> None:
    """A move against its street's direction costs ``highway`` more; with the flips'
    directions."""
    free = _floor_map(11, 13, 2)
    text = "\n".join("".join("." if x else "@" for x in row) for row in free)
    grid = parse_map(f"type octile\nheight 11\nwidth 13\nmap\n{text}")
    cells = np.flatnonzero(grid.free).astype(np.int32)
    dense = np.full(grid.size, -1, dtype=np.int32)
    dense[cells] = np.arange(cells.size, dtype=np.int32)
    nbr, _ = _lane_graph(grid.neighbours(), dense, cells, None)
    cost = _move_costs(grid, cells, nbr, 2, 18)
    west, north = _lane_flips(free)
    r, c = np.divmod(cells, 13)
    has = nbr >= 0
    assert set(np.unique(cost[has])) == {2, 20}
    east_against = has[:, 0] & west[r]
    assert (cost[east_against, 0] == 20).all() and (cost[has[:, 2] & west[r], 2] == 2).all()
    assert (cost[has[:, 1] & north[c], 1] == 20).all()
    assert (cost[has[:, 3] & north[c], 3] == 2).all()


def _dense_floor(grid: GridMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Free cells, and the moves out of and into each, no lanes."""
    cells = np.flatnonzero(grid.free).astype(np.int32)
    dense = np.full(grid.size, -1, dtype=np.int32)
    dense[cells] = np.arange(cells.size, dtype=np.int32)
    nbr, rnbr = _lane_graph(grid.neighbours(), dense, cells, None)
    return cells, nbr, rnbr


def test_open_floor_costs_a_tenth_more() -> None:
    """On a floor with pillars and an open margin, a step costs 20, a move into open floor
    (eight free neighbours) 22, a move against a street 20 + 180; with one-way lanes or on
    a map too long for tables at 20 a step, a step costs 2."""
    free = _floor_map(11, 13, 3)
    text = "\n".join("".join("." if x else "@" for x in row) for row in free)
    grid = parse_map(f"type octile\nheight 11\nwidth 13\nmap\n{text}")
    is_open = _open_cells(grid).reshape(11, 13)
    assert not is_open[0].any() and is_open[1, 1:12].all()  # the wall row has no north side
    assert not is_open[4:7, 4:9].any()  # pillars every other cell inside
    cells, nbr, rnbr = _dense_floor(grid)
    unit, cost = _floor_costs(grid, cells, nbr, rnbr, False, SortationParams())
    assert unit == 20
    into_open = (nbr >= 0) & _open_cells(grid)[cells][np.maximum(nbr, 0)]
    along = cost[(nbr >= 0) & (cost < 100)]
    assert set(np.unique(along)) == {20, 22}
    assert (cost[into_open & (cost < 100)] == 22).all()
    assert set(np.unique(cost[(nbr >= 0) & (cost >= 100)])) == {200, 202}
    flat = SortationParams(open_weight=0)
    assert _floor_costs(grid, cells, nbr, rnbr, False, flat)[1].max() == 200
    unit, cost = _floor_costs(grid, cells, nbr, rnbr, True, SortationParams())
    assert unit == 2 and cost.max() == 2
    long = parse_map("type octile\nheight 1\nwidth 1600\nmap\n" + "." * 1600)
    cells, nbr, rnbr = _dense_floor(long)
    unit, cost = _floor_costs(long, cells, nbr, rnbr, False, SortationParams())
    assert unit == 2 and set(np.unique(cost)) <= {2, 20}


def test_distance_kernel_on_one_way_lanes() -> None:
    """On a centre's lane graph, Dial's distances over incoming moves equal the plain search's
    over outgoing ones."""
    c = build_centre(CentreParams(chute_rows=2, chute_cols=3))
    free = np.flatnonzero(c.grid.free).astype(np.int32)
    dense = np.full(c.grid.size, -1, dtype=np.int32)
    dense[free] = np.arange(free.size, dtype=np.int32)
    nbr, rnbr = _lane_graph(c.grid.neighbours(), dense, free, c.lanes)
    assert (nbr >= 0).sum() < (c.grid.neighbours()[free] >= 0).sum()  # some moves are one way
    cost = _move_costs(c.grid, free, nbr, 2, 0)
    out = np.empty(free.size, dtype=np.uint16)
    buckets = np.empty((int(cost.max()) + 1, 4 * free.size), dtype=np.int32)
    counts = np.zeros(buckets.shape[0], dtype=np.int64)
    for goal in dense[np.concatenate([c.induction, c.drops[:8]])]:
        K.distances(rnbr, cost, int(goal), out, buckets, counts)
        slow = ref.distances(nbr, cost, int(goal))
        assert np.array_equal(out.astype(np.int64), slow) and (slow < K.UNREACH).all()


def _assert_valid_run(p: SortationProblem, r: SortationResult) -> None:
    """The run's paths pass the library's path checker, and the rules it checks hold when
    counted here directly: on free cells, one robot a cell, moves to a neighbour, no swap."""
    assert r.positions is not None and r.headings is not None
    rotation = p.model == "rotation"
    assert find_conflicts(p.grid, r.positions, r.headings if rotation else None,
                          lanes=p.lanes) == []
    pos = r.positions.astype(np.int64)
    assert pos.shape == (p.steps + 1, p.n_agents) and np.array_equal(pos[0], p.starts)
    assert p.grid.free[pos].all()
    assert all(np.unique(row).size == p.n_agents for row in pos)
    (r0, c0), (r1, c1) = np.divmod(pos[:-1], p.grid.width), np.divmod(pos[1:], p.grid.width)
    assert (np.abs(r1 - r0) + np.abs(c1 - c0) <= 1).all()
    for t in range(p.steps):
        moves = {(int(a), int(b)) for a, b in zip(pos[t], pos[t + 1], strict=True) if a != b}
        assert not any((b, a) in moves for a, b in moves), f"a swap at step {t + 1}"
    if rotation:  # a robot that moves does not turn; one that stays turns a quarter at most
        moved = pos[1:] != pos[:-1]
        turn = (r.headings[1:].astype(np.int64) - r.headings[:-1]) % 4
        assert (turn[moved] == 0).all() and (turn[~moved] != 2).all()
    assert r.tasks_finished > 0 and r.finished_per_step.sum() == r.tasks_finished


@pytest.mark.parametrize("model", ["rotation", "four"])
@pytest.mark.parametrize("turning", ["convert", "state"])
@pytest.mark.parametrize("seed", [0, 3])
def test_runs_are_valid_and_make_progress(model: str, turning: str, seed: int) -> None:
    """Every run's paths are legal (checked here, not only inside the planner), and robots
    finish tasks."""
    p = random_problem(seed, robots=15, steps=150, model=model)
    r = solve_sortation(p, SortationParams(planner="pibt", turning=turning, validate=False),
                        seed=seed)
    _assert_valid_run(p, r)
    assert r.plan_seconds.shape == (150,) and (r.plan_seconds >= 0).all()


@pytest.mark.parametrize("seed", [0, 4])
def test_progress_priority_runs_are_valid(seed: int) -> None:
    """Priority by time since last progress also gives legal paths that finish tasks."""
    p = random_problem(seed, robots=25, steps=150)
    r = solve_sortation(p, SortationParams(planner="pibt", priority="progress", validate=False),
                        seed=seed)
    _assert_valid_run(p, r)


@pytest.mark.parametrize("model", ["rotation", "four"])
def test_dense_room_stays_valid(model: str) -> None:
    """Half the free cells full of robots: paths stay legal, robots move and finish tasks."""
    p = random_problem(5, robots=60, steps=100, height=10, width=12, obstacles=0.05,
                       model=model)
    r = solve_sortation(p, SortationParams(validate=False), seed=1)
    _assert_valid_run(p, r)
    assert r.n_agents == 60 and 0.2 < r.moving_share < 1


@pytest.mark.parametrize("planner", ["epibt", "pibt"])
def test_same_seed_same_paths(planner: str) -> None:
    """The same problem and seed give identical paths; under PIBT another seed breaks ties
    otherwise (EPIBT's seed breaks only ties of distance between robots, rare here)."""
    p = random_problem(2, robots=20, steps=80)
    params = SortationParams(planner=planner)
    a, b = solve_sortation(p, params, seed=4), solve_sortation(p, params, seed=4)
    c = solve_sortation(p, params, seed=5)
    assert a.positions is not None and b.positions is not None and c.positions is not None
    assert np.array_equal(a.positions, b.positions) and a.tasks_finished == b.tasks_finished
    if planner == "pibt":
        assert not np.array_equal(a.positions, c.positions)


@pytest.mark.parametrize(("model", "actions"), [("rotation", 10), ("four", 9)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_robot_takes_a_shortest_route(open_room: SortationProblem, model: str,
                                             actions: int, seed: int) -> None:
    """Alone in an empty room, a robot reaches a goal 9 cells away in 9 moves (and 1 turn under
    the rotation model), whatever the seed of the tie-breaks: it never dawdles."""
    p = open_room.replace(starts=np.array([0], np.int32), headings=np.array([0], np.int8),
                          tasks=TaskList(np.array([36, 0], np.int32), np.array([0, 1, 2])),
                          steps=12, model=model)
    r = solve_sortation(p, SortationParams(highway=0), seed=seed)
    assert r.finished_per_step[:actions - 1].sum() == 0
    assert r.finished_per_step[actions - 1] == 1


def test_planner_task_count_agrees_with_replay() -> None:
    """The planner's paths, written as competition actions and replayed, finish as many tasks."""
    p = random_problem(7, robots=10, steps=120)
    r = solve_sortation(p, seed=0)
    assert r.positions is not None and r.headings is not None
    turn = (r.headings[1:].astype(int) - r.headings[:-1]) % 4
    moved = r.positions[1:] != r.positions[:-1]
    codes = np.where(moved, "F", np.where(turn == 1, "R", np.where(turn == 3, "C", "W")))
    w = p.grid.width
    solution = {
        "actionModel": "MAPF_T", "teamSize": p.n_agents, "numTaskFinished": r.tasks_finished,
        "start": [[int(c) // w, int(c) % w, "ESWN"[h]] for c, h in zip(p.starts, p.headings,
                                                                        strict=True)],
        "actualPaths": [",".join(codes[:, a]) for a in range(p.n_agents)],
    }
    rep = replay(p, solution)
    assert rep.conflicts == 0 and rep.tasks_finished == r.tasks_finished
    assert np.array_equal(rep.positions, r.positions)


@pytest.mark.parametrize(
    ("field", "value"),
    [("congestion_weight", -1.0), ("flow_decay", 1.0), ("highway", 99), ("table_mb", 0),
     ("turning", "sideways"), ("priority", "oldest"), ("drop_balance", -1.0),
     ("epibt_depth", 5)],
)
def test_bad_params_are_refused(field: str, value: object) -> None:
    """Out-of-range planner settings raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        SortationParams(**{field: value})  # type: ignore[arg-type]
