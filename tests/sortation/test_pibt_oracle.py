"""The numba PIBT step against its slow Python oracle, step after step.

Three ways in: whole runs of the planner with every kernel call checked
against the oracle (random rooms, a dense room, a corridor with a passing
bay, a generated centre with one-way lanes and loading stops; every motion
model); runs of random states drawn by hypothesis, kernel and oracle each
on its own copy; and hand-made rooms whose outcome is known (robots that
want to swap, a cycle of four, a robot held at its station, a dead end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forestock.sortation import SortationParams, SortationProblem, TaskList, parse_map
from forestock.sortation import _kernels as K
from forestock.sortation._layout import CentreParams, build_centre, centre_problem
from forestock.sortation._pibt import _lane_graph, _move_costs, _Tables, solve_sortation
from tests.sortation import _pibt_reference as ref
from tests.sortation.conftest import random_problem

#: the planner's settings per motion model and mode of the kernel
MODES = [("four", "convert", 0), ("rotation", "convert", 1), ("rotation", "state", 2)]


@dataclass
class Room:
    """A small map as the kernel sees it: dense cells, moves and their costs."""

    cell_of: np.ndarray  # dense id -> map cell
    dense: np.ndarray  # map cell -> dense id, or -1
    nbr: np.ndarray
    cost: np.ndarray

    def floor(self, goals: list[int]) -> ref.Floor:
        """The oracle's floor with one distance table per goal (dense ids), in order."""
        dist = np.empty((len(goals), self.nbr.shape[0]), dtype=np.uint16)
        buckets = np.empty((int(self.cost.max()) + 1, 4 * self.nbr.shape[0]), dtype=np.int32)
        counts = np.zeros(buckets.shape[0], dtype=np.int64)
        for s, g in enumerate(goals):
            K.distances(self.nbr, self.cost, g, dist[s], buckets, counts)
        return ref.Floor(self.nbr, self.cost, 2, dist)


def _room(rows: list[str]) -> Room:
    """The room drawn by ``rows`` (``.`` free, ``@`` obstacle), moves costing 2."""
    grid = parse_map(f"type octile\nheight {len(rows)}\nwidth {len(rows[0])}\nmap\n"
                     + "\n".join(rows))
    cell_of = np.flatnonzero(grid.free).astype(np.int32)
    dense = np.full(grid.size, -1, dtype=np.int32)
    dense[cell_of] = np.arange(cell_of.size, dtype=np.int32)
    nbr, _ = _lane_graph(grid.neighbours(), dense, cell_of, None)
    return Room(cell_of, dense, nbr, _move_costs(grid, cell_of, nbr, 2, 0))


def _random_room(rng: np.random.Generator) -> tuple[Room, int]:
    """A room 2-10 cells wide (and its width): a free top row over 1-7 rows a quarter
    obstacles."""
    width = int(rng.integers(2, 11))
    rows = ["." * width] + ["".join("@" if rng.random() < 0.25 else "." for _ in range(width))
                            for _ in range(int(rng.integers(1, 8)))]
    return _room(rows), width


def kernel_step(floor: ref.Floor, robots: ref.Robots, mode: int, w: ref.Weights, step: int,
                salt: int) -> ref.Step:
    """``K.plan_step`` on arrays built from ``robots`` (left unchanged)."""
    n, cells = len(robots.pos), floor.nbr.shape[0]
    pos = np.array(robots.pos, dtype=np.int32)
    occ_now = np.full(cells, -1, dtype=np.int32)
    occ_now[pos] = np.arange(n, dtype=np.int32)
    occ_next = np.full(cells, -1, dtype=np.int32)
    nxt, act = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int8)
    commit = np.array(robots.commit, dtype=np.int32)
    K.plan_step(floor.nbr, floor.cost, floor.unit, pos, np.array(robots.head, dtype=np.int8),
                ref.near(floor, robots), np.array(robots.prio, dtype=np.float64),
                np.array(robots.stuck, dtype=np.int32),
                robots.flow.copy(), commit, np.array(robots.hold, dtype=np.bool_), occ_now,
                occ_next, nxt, act, mode, w.congestion, w.stuck_after, w.stuck, w.commit, step,
                salt, np.empty((n, 5), dtype=np.int32), np.empty((n, 5), dtype=np.float64),
                np.empty((n, 5), dtype=np.int8))
    assert (occ_next == -1).all()  # the kernel leaves its scratch as it found it
    return ref.Step(nxt.tolist(), act.tolist(), commit.tolist())


def kernel_apply(nbr: np.ndarray, robots: ref.Robots, step: ref.Step, rotation: bool,
                 waits: np.ndarray) -> ref.Moved:
    """``K.execute`` on copies: the state after ``step``."""
    n = len(robots.pos)
    pos, head = np.array(robots.pos, dtype=np.int32), np.array(robots.head, dtype=np.int8)
    occ_now = np.full(nbr.shape[0], -1, dtype=np.int32)
    occ_now[pos] = np.arange(n, dtype=np.int32)
    stuck, commit = np.array(robots.stuck, dtype=np.int32), np.array(step.commit, np.int32)
    flow, waits = robots.flow.copy(), waits.copy()
    busy = K.execute(nbr, pos, head, np.array(step.nxt, dtype=np.int32),
                     np.array(step.act, dtype=np.int8), occ_now, stuck, flow, commit, waits,
                     np.array(robots.hold, dtype=np.bool_), rotation)
    assert np.array_equal(occ_now[pos], np.arange(n))
    return ref.Moved(pos.tolist(), head.tolist(), stuck.tolist(), commit.tolist(), flow,
                     waits, int(busy))


def _same_moved(a: ref.Moved, b: ref.Moved, where: str) -> None:
    for name in ("pos", "head", "stuck", "commit", "busy"):
        assert getattr(a, name) == getattr(b, name), f"{where}: {name} differs"
    assert np.array_equal(a.flow, b.flow) and np.array_equal(a.waits, b.waits), where


def _same_step(kernel: ref.Step, oracle: ref.Step, where: str) -> None:
    assert kernel.nxt == oracle.nxt, f"{where}: next cells differ"
    assert kernel.act == oracle.act, f"{where}: actions differ"
    assert kernel.commit == oracle.commit, f"{where}: commitments differ"


class _Checked:
    """Stand-ins for ``K.plan_step`` and ``K.execute`` that check each call against the oracle.

    The oracle plans on full tables from its own plain search to the goals
    the planner's cache was last asked for (``_Tables.fill``); the distances
    the kernel was handed must be the ones read from those tables.
    """

    def __init__(self) -> None:
        self.plan_step, self.execute, self.fill = K.plan_step, K.execute, _Tables.fill
        self.goals: list[int] = []
        self.tables: dict[int, list[int]] = {}
        self.steps = 0
        self.applied = 0
        self.moves = 0
        self.mode = 0

    def recorded_fill(self, tables: _Tables, goal: np.ndarray, pos: np.ndarray,
                      near: np.ndarray) -> None:
        self.goals = goal.tolist()
        self.fill(tables, goal, pos, near)

    def checked_plan_step(self, *a: Any) -> None:
        (nbr, cost, unit, pos, head, near, prio, stuck, flow, commit, hold, _occ_now,
         _occ_next, nxt, act, mode, cong_w, stuck_after, stuck_w, commit_w, step, salt,
         *_scratch) = a
        goals = sorted(set(self.goals))
        for g in goals:
            if g not in self.tables:
                self.tables[g] = ref.distances(nbr, cost, g)
        floor = ref.Floor(nbr, cost, unit,
                          np.array([self.tables[g] for g in goals], dtype=np.uint16))
        robots = ref.Robots(pos.tolist(), head.tolist(), [goals.index(g) for g in self.goals],
                            prio.tolist(), stuck.tolist(), commit.tolist(), hold.tolist(),
                            flow.copy())
        assert np.array_equal(near, ref.near(floor, robots)), f"step {step}: distances differ"
        want = ref.plan_step(floor, robots, mode,
                             ref.Weights(cong_w, stuck_after, stuck_w, commit_w), step, salt)
        self.plan_step(*a)
        _same_step(ref.Step(nxt.tolist(), act.tolist(), commit.tolist()), want, f"step {step}")
        self.steps += 1
        self.mode = mode
        self.moves += sum(u != v for u, v in zip(want.nxt, robots.pos, strict=True))

    def checked_execute(self, *a: Any) -> int:
        nbr, pos, head, nxt, act, _occ_now, stuck, flow, commit, waits, hold, rotation = a
        robots = ref.Robots(pos.tolist(), head.tolist(), [], [], stuck.tolist(), [],
                            hold.tolist(), flow.copy())
        want = ref.apply_step(nbr, robots, ref.Step(nxt.tolist(), act.tolist(),
                                                    commit.tolist()), rotation, waits)
        busy = self.execute(*a)
        got = ref.Moved(pos.tolist(), head.tolist(), stuck.tolist(), commit.tolist(), flow,
                        waits, int(busy))
        _same_moved(got, want, f"applying step {self.applied}")
        self.applied += 1
        return int(busy)


def _run_checked(monkeypatch: pytest.MonkeyPatch, problem: SortationProblem, turning: str,
                 seed: int, table_mb: float = 1024.0) -> _Checked:
    """Run the planner with every kernel step checked against the oracle."""
    c = _Checked()
    monkeypatch.setattr(K, "plan_step", c.checked_plan_step)
    monkeypatch.setattr(K, "execute", c.checked_execute)

    def fill(tables: _Tables, goal: np.ndarray, pos: np.ndarray, near: np.ndarray) -> None:
        c.recorded_fill(tables, goal, pos, near)

    monkeypatch.setattr(_Tables, "fill", fill)
    solve_sortation(problem, SortationParams(planner="pibt", turning=turning, table_mb=table_mb),
                    seed=seed)
    assert c.steps == problem.steps + 1  # the dry step before the clock, then every step
    assert c.applied == problem.steps
    return c


def _corridor(model: str) -> SortationProblem:
    """A corridor with one passing bay; robots from each end are sent to the other end."""
    rows = ["..........", "@@@@.@@@@@"]
    grid = parse_map("type octile\nheight 2\nwidth 10\nmap\n" + "\n".join(rows))
    errands = np.array([9, 0, 8, 1] * 10, dtype=np.int32)
    return SortationProblem(
        name="corridor", grid=grid, starts=np.array([0, 9, 1, 8], dtype=np.int32),
        headings=np.array([0, 2, 0, 2], dtype=np.int8),
        tasks=TaskList(errands, np.arange(errands.size + 1, dtype=np.int64)), steps=60,
        model=model,  # type: ignore[arg-type]
    )


def _centre(model: str) -> SortationProblem:
    """A generated centre: one-way lanes, loading and drop stops (held robots)."""
    c = build_centre(CentreParams(chute_rows=2, chute_cols=3))
    share = np.full(c.n_chutes, 1.0 / c.n_chutes)
    return centre_problem(c, 14, share, steps=120, seed=3, model=model)


PROBLEMS: dict[str, Callable[[str], SortationProblem]] = {
    "random room": lambda m: random_problem(0, robots=15, steps=100, model=m),
    "other random room": lambda m: random_problem(3, robots=12, steps=100, model=m,
                                                  obstacles=0.3),
    "dense room": lambda m: random_problem(5, robots=60, steps=80, height=10, width=12,
                                           obstacles=0.05, model=m),
    "corridor": _corridor,
    "centre": _centre,
}


@pytest.mark.parametrize(("model", "turning", "mode"), MODES)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_planner_runs_step_for_step_like_the_oracle(monkeypatch: pytest.MonkeyPatch,
                                                    name: str, model: str, turning: str,
                                                    mode: int) -> None:
    """Every step of a run: the kernel's next cells, actions, commitments and state = oracle's."""
    c = _run_checked(monkeypatch, PROBLEMS[name](model), turning, seed=1)
    assert c.mode == mode
    assert c.moves > 0  # robots moved: the comparison covered more than waiting


_WEIGHTS = st.builds(ref.Weights, congestion=st.sampled_from([0.0, 0.05, 0.7]),
                     stuck_after=st.integers(0, 4), stuck=st.sampled_from([0.0, 0.5, 2.0]),
                     commit=st.sampled_from([0.0, 1.5, 3.0]))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), mode=st.sampled_from([0, 1, 2]),
       robots=st.integers(1, 40), holding=st.sampled_from([0.0, 0.2]), weights=_WEIGHTS)
def test_random_states_step_like_the_oracle(seed: int, mode: int, robots: int, holding: float,
                                            weights: ref.Weights) -> None:
    """From random states (priority ties, stuck robots, commitments, held robots, flow), kernel
    and oracle each run 12 steps on their own copy and stay identical."""
    rng = np.random.default_rng(seed)
    room, _ = _random_room(rng)
    cells = room.nbr.shape[0]
    n = min(robots, cells)
    goals = rng.integers(0, cells, size=n).tolist()
    floor = room.floor(goals)
    pos = rng.choice(cells, size=n, replace=False).tolist()
    nbrs = room.nbr[pos]
    commit = [int(rng.choice(row)) if rng.random() < 0.5 else -1 for row in nbrs]
    state = ref.Robots(pos, rng.integers(0, 4, n).tolist(), list(range(n)),
                       rng.integers(0, 3, n).astype(float).tolist(),
                       rng.integers(0, 8, n).tolist(), commit, (rng.random(n) < holding).tolist(),
                       (rng.random((cells, 4)) * 3).astype(np.float32))
    rotation = mode > 0
    mine, theirs = state, ref.Robots(**vars(state))
    waits = np.zeros(cells, dtype=np.int32)
    for t in range(12):
        got = kernel_step(floor, theirs, mode, weights, t, seed % 997)
        want = ref.plan_step(floor, mine, mode, weights, t, seed % 997)
        _same_step(got, want, f"step {t}")
        moved_k = kernel_apply(room.nbr, theirs, got, rotation, waits)
        moved_o = ref.apply_step(room.nbr, mine, want, rotation, waits)
        _same_moved(moved_k, moved_o, f"step {t}")
        assert len(set(moved_o.pos)) == n  # no two robots in one cell
        waits = moved_o.waits
        prio = [p + 1.0 for p in mine.prio]
        for r in (mine, theirs):
            moved = moved_o if r is mine else moved_k
            r.pos, r.head, r.stuck, r.commit = (list(moved.pos), list(moved.head),
                                                list(moved.stuck), list(moved.commit))
            r.flow, r.prio = moved.flow * np.float32(0.9), list(prio)


def _robots(room: Room, cells: list[tuple[int, int]], width: int, heads: list[int],
            prio: list[float], hold: list[bool] | None = None) -> ref.Robots:
    """Robots at (row, col) map cells, as the oracle's state."""
    pos = [int(room.dense[r * width + c]) for r, c in cells]
    n = len(pos)
    return ref.Robots(pos, heads, list(range(n)), prio, [0] * n, [-1] * n,
                      hold or [False] * n, np.zeros((room.nbr.shape[0], 4), np.float32))


def _both(room: Room, robots: ref.Robots, goals: list[tuple[int, int]], width: int,
          mode: int) -> ref.Step:
    """One step by kernel and oracle, asserted equal; the oracle's step."""
    floor = room.floor([int(room.dense[r * width + c]) for r, c in goals])
    w = ref.Weights(0.05, 3, 0.0, 1.5)
    got = kernel_step(floor, robots, mode, w, 0, 7)
    want = ref.plan_step(floor, robots, mode, w, 0, 7)
    _same_step(got, want, "edge case")
    return want


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_robots_that_want_to_swap_do_not(mode: int) -> None:
    """Two robots face to face in a corridor, each bound for the other's cell: no swap."""
    room = _room(["....."])
    robots = _robots(room, [(0, 1), (0, 2)], 5, [0, 2], [2.0, 1.0])
    step = _both(room, robots, [(0, 2), (0, 1)], 5, mode)
    a, b = robots.pos
    assert not (step.nxt[0] == b and step.nxt[1] == a)
    if mode == 0:  # the first pushes the second back and takes its cell
        assert step.nxt == [b, b + 1]


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_cycle_of_four_turns_round(mode: int) -> None:
    """Four robots filling a 2 x 2 room, each bound for the next cell clockwise, all move."""
    room = _room(["..", ".."])
    cells = [(0, 0), (0, 1), (1, 1), (1, 0)]  # clockwise, each facing the next
    robots = _robots(room, cells, 2, [0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0])
    step = _both(room, robots, cells[1:] + cells[:1], 2, mode)
    assert step.nxt == robots.pos[1:] + robots.pos[:1]
    assert step.act == ([0, 1, 2, 3] if mode == 0 else [ref.FORWARD] * 4)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_held_robot_is_not_pushed(mode: int) -> None:
    """A robot being loaded stays; the robot behind it, with higher priority, waits."""
    room = _room(["...."])
    robots = _robots(room, [(0, 1), (0, 2)], 4, [0, 0], [5.0, 1.0], hold=[False, True])
    step = _both(room, robots, [(0, 3), (0, 2)], 4, mode)
    assert step.nxt == robots.pos
    assert step.act[1] == (ref.STAY if mode == 0 else ref.WAIT)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_failed_push_backtracks(mode: int) -> None:
    """A pushed robot that cannot leave stays, and its pusher takes its next choice."""
    room = _room(["....", ".@@@"])
    # robot 0 is bound east past robot 1, whose only way on is the held robot 2's cell
    robots = _robots(room, [(0, 1), (0, 2), (0, 3)], 4, [0, 0, 0], [5.0, 1.0, 0.0],
                     hold=[False, False, True])
    step = _both(room, robots, [(0, 3), (0, 3), (0, 3)], 4, mode)
    assert step.nxt[1:] == robots.pos[1:]
    assert step.nxt[0] != robots.pos[1]


@pytest.mark.parametrize("mode", [1, 2])
def test_pushed_robot_facing_a_wall_still_turns(mode: int) -> None:
    """A robot facing a wall, pushed by the robot behind it, cannot leave, but turns where
    it wants to go; it used to wait (``"state"``), and both waited for ever."""
    room = _room(["@@@", "...", "..."])
    # robot 0 at (1, 1) faces north into the wall and is bound west; robot 1 below it faces
    # north too, bound for the wall side, with the higher priority
    robots = _robots(room, [(1, 1), (2, 1)], 3, [3, 3], [1.0, 5.0])
    step = _both(room, robots, [(1, 0), (1, 1)], 3, mode)
    assert step.nxt == robots.pos
    assert step.act[0] == ref.COUNTER  # turns west, towards its goal
