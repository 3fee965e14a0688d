"""The numba EPIBT step against its slow Python oracle, and runs of the planner with it.

Random rooms and states (kernel and oracle each step their own copy), whole
runs of the planner with every EPIBT step checked against the oracle, and
hand-made rooms whose outcome is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forestock.sortation import SortationParams, validate_paths
from forestock.sortation import _epibt as E
from forestock.sortation import _kernels as K
from forestock.sortation._pibt import solve_sortation
from tests.sortation import _epibt_reference as ref
from tests.sortation.conftest import random_problem
from tests.sortation.test_pibt_oracle import PROBLEMS, Room, _random_room, _room


def _tables(room: Room, goals: list[int]) -> dict[int, np.ndarray]:
    return {g: room.floor([g]).dist[0] for g in set(goals)}


def kernel_step(room: Room, width: int, pos: list[int], head: list[int], goal: list[int],
                hold: list[bool], order: list[int], passes: int, max_evictions: int,
                wait: bool = False, lns: int = 0, lns_seed: int = 0, depth: int = 3
                ) -> tuple[list[int], list[int]]:
    """``E.epibt_step`` with the distances read by ``E.gather_patch`` from full tables."""
    n, cells = len(pos), room.nbr.shape[0]
    tables = _tables(room, goal)
    goals = sorted(tables)
    dist = np.array([tables[g] for g in goals], dtype=np.uint16)
    slot = np.array([goals.index(g) for g in goal], dtype=np.int32)
    offsets, index = E.patch_offsets(depth)
    patch = np.empty((n, offsets.shape[0]), dtype=np.uint16)
    height = room.dense.size // width
    p = np.array(pos, dtype=np.int32)
    E.gather_patch(dist, slot, p, room.cell_of, room.dense, width, height, offsets,
                   np.arange(n), patch)
    used_pos = np.full((cells, depth), -1, dtype=np.int32)
    used_edge = np.full((2 * cells, depth), -1, dtype=np.int32)
    nxt, act = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int8)
    E.epibt_step(room.nbr, room.cost, 2, p, np.array(head, dtype=np.int8),
                 np.array(goal, dtype=np.int32), patch, np.array(hold, dtype=np.bool_),
                 np.array(order, dtype=np.int64), E.operation_codes(depth), index, passes,
                 max_evictions, wait, used_pos, used_edge, nxt, act, lns, lns_seed)
    assert (used_pos == -1).all() and (used_edge == -1).all()  # scratch left as found
    return nxt.tolist(), act.tolist()


def oracle_step(room: Room, pos: list[int], head: list[int], goal: list[int],
                hold: list[bool], order: list[int], passes: int, max_evictions: int,
                wait: bool = False, lns: int = 0, lns_seed: int = 0, depth: int = 3
                ) -> tuple[list[int], list[int]]:
    """The oracle's step on full tables."""
    tables = _tables(room, goal)
    o = ref.Oracle(room.nbr, room.cost, 2, pos, head, goal, hold,
                   lambda i, c: int(tables[goal[i]][c]), wait, depth)
    return o.solve(order, passes, max_evictions, lns, lns_seed)


def _apply(nbr: np.ndarray, pos: list[int], head: list[int], nxt: list[int], act: list[int]
           ) -> tuple[list[int], list[int]]:
    """The state after a step; asserts it breaks no rule (moves forward only, no vertex or
    swap conflict)."""
    new_head = [(h + 1) % 4 if a == 1 else (h + 3) % 4 if a == 2 else h
                for h, a in zip(head, act, strict=True)]
    for v, h, u, a in zip(pos, head, nxt, act, strict=True):
        assert u == (int(nbr[v, h]) if a == 0 else v)
    assert len(set(nxt)) == len(nxt)
    moves = {(v, u) for v, u in zip(pos, nxt, strict=True) if u != v}
    assert not any((u, v) in moves for v, u in moves)
    return nxt, new_head


def _plays_like_the_oracle(seed: int, robots: int, holding: float,
                           step_args: Callable[[int, int], tuple[tuple[Any, ...], dict[str, Any]]]
                           ) -> None:
    """From a random room and state (``seed``; up to ``robots`` robots, a share ``holding``
    held), kernel and oracle plan 10 steps alike, each step legal; ``step_args(n, t)`` gives
    step ``t``'s arguments after the state (positional, keyword) for ``n`` robots."""
    rng = np.random.default_rng(seed)
    room, width = _random_room(rng)
    cells = room.nbr.shape[0]
    n = min(robots, cells)
    goal = rng.integers(0, cells, size=n).tolist()
    pos = rng.choice(cells, size=n, replace=False).tolist()
    head = rng.integers(0, 4, n).tolist()
    hold = (rng.random(n) < holding).tolist()
    order = rng.permutation(n).tolist()
    for t in range(10):
        rest, keywords = step_args(n, t)
        got = kernel_step(room, width, pos, head, goal, hold, order, *rest, **keywords)
        want = oracle_step(room, pos, head, goal, hold, order, *rest, **keywords)
        assert got == want, f"step {t}"
        pos, head = _apply(room.nbr, pos, head, *want)
        for i in range(n):
            if pos[i] == goal[i]:
                goal[i] = int(rng.integers(0, cells))
        order = order[1:] + order[:1]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), robots=st.integers(1, 40),
       holding=st.sampled_from([0.0, 0.2]), passes=st.integers(1, 3),
       max_evictions=st.sampled_from([0, 2, 3000]), wait=st.booleans(),
       depth=st.sampled_from(E.DEPTHS))
def test_random_states_step_like_the_oracle(seed: int, robots: int, holding: float,
                                            passes: int, max_evictions: int, wait: bool,
                                            depth: int) -> None:
    """From random rooms and states, kernel and oracle plan 10 steps alike, each step legal,
    with operations of three actions and of four."""
    _plays_like_the_oracle(seed, robots, holding, lambda n, t: (
        (passes, max_evictions, wait), {"depth": depth}))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), robots=st.integers(2, 40),
       holding=st.sampled_from([0.0, 0.2]), passes=st.integers(1, 2),
       max_evictions=st.sampled_from([2, 3000]), wait=st.booleans(),
       lns=st.sampled_from([1, 3, 10]), depth=st.sampled_from(E.DEPTHS))
def test_random_states_with_lns_step_like_the_oracle(seed: int, robots: int, holding: float,
                                                     passes: int, max_evictions: int,
                                                     wait: bool, lns: int, depth: int) -> None:
    """With the large neighbourhood search after the passes, kernel and oracle plan 10 steps
    from random rooms and states alike (the same random draws), each step legal."""
    _plays_like_the_oracle(seed, robots, holding, lambda n, t: (
        (passes, max_evictions, wait, lns * n, seed + t), {"depth": depth}))


def _crowded(seed: int) -> tuple[ref.Oracle, list[int]]:
    """An oracle after its passes on a random room two thirds full, and the priority order."""
    rng = np.random.default_rng(seed)
    room, _ = _random_room(rng)
    cells = room.nbr.shape[0]
    n = max(2, cells * 2 // 3)
    goal = rng.integers(0, cells, size=n).tolist()
    pos = rng.choice(cells, size=n, replace=False).tolist()
    head = rng.integers(0, 4, n).tolist()
    order = rng.permutation(n).tolist()
    tables = _tables(room, goal)
    o = ref.Oracle(room.nbr, room.cost, 2, pos, head, goal, [False] * n,
                   lambda i, c: int(tables[goal[i]][c]), True)
    o.solve(order, 2, 3000)
    return o, order


def test_lns_changes_operations_and_keeps_the_score() -> None:
    """On crowded random rooms the search changes some robots' operations, and never lowers
    the weighted score the passes left (beyond its tolerance of 1e-6 an attempt)."""
    changed = 0
    for seed in range(20):
        o, order = _crowded(seed)
        n = len(order)
        power = ref.powers(order)
        before = list(o.desire)
        score = sum(-power[r] * o.keys[r][before[r]] for r in range(n))
        o.lns(order, 10 * n, seed, 3000)
        after = sum(-power[r] * o.keys[r][o.desire[r]] for r in range(n))
        assert after >= score - 1e-6 * 10 * n
        changed += o.desire != before
    assert changed > 0


class _Checked:
    """A stand-in for ``E.epibt_step`` that checks each call against the oracle, reading the
    distances the planner handed the kernel."""

    def __init__(self) -> None:
        self.step = E.epibt_step
        self.calls = 0
        self.moves = 0

    def __call__(self, *a: Any) -> int:
        (nbr, cost, unit, pos, head, goal, patch, hold, order, ops, _index, passes,
         max_evictions, wait, _used_pos, _used_edge, nxt, act, lns, lns_seed) = a
        depth = ops.shape[1]
        geometry: dict[int, dict[int, int]] = {}  # robot -> cell -> distance
        offsets, _ = E.patch_offsets(depth)
        cell_of, width = self.cell_of, self.width
        dense = self.dense
        for i, v in enumerate(pos.tolist()):
            r0, c0 = divmod(int(cell_of[v]), width)
            geometry[i] = {}
            for k, (dr, dc) in enumerate(offsets.tolist()):
                r, c = r0 + dr, c0 + dc
                if 0 <= r < self.height and 0 <= c < width and dense[r * width + c] >= 0:
                    geometry[i][int(dense[r * width + c])] = int(patch[i, k])
        o = ref.Oracle(nbr, cost, unit, pos.tolist(), head.tolist(), goal.tolist(),
                       hold.tolist(), lambda i, c: geometry[i][c], wait, depth)
        want = o.solve(order.tolist(), passes, max_evictions, lns, lns_seed)
        moving = self.step(*a)
        assert (nxt.tolist(), act.tolist()) == want, f"call {self.calls}"
        self.calls += 1
        self.moves += sum(u != v for u, v in zip(want[0], pos.tolist(), strict=True))
        return int(moving)


@pytest.mark.parametrize("lns", [0, 2])
@pytest.mark.parametrize("depth", E.DEPTHS)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_planner_runs_step_for_step_like_the_oracle(monkeypatch: pytest.MonkeyPatch,
                                                    name: str, depth: int, lns: int) -> None:
    """Every EPIBT step of a run (rooms, corridor, a centre with lanes and held robots), with
    operations of three or four actions, with and without the search, equals the oracle's on
    the distances the planner read, and the paths are legal (validated)."""
    problem = PROBLEMS[name]("rotation")
    c = _Checked()
    grid = problem.grid
    c.cell_of = np.flatnonzero(grid.free)  # type: ignore[attr-defined]
    c.dense = np.full(grid.size, -1)  # type: ignore[attr-defined]
    c.dense[c.cell_of] = np.arange(c.cell_of.size)  # type: ignore[attr-defined]
    c.width, c.height = grid.width, grid.height  # type: ignore[attr-defined]
    monkeypatch.setattr(E, "epibt_step", c)
    params = SortationParams(planner="epibt", epibt_depth=depth, epibt_lns=lns)
    res = solve_sortation(problem, params, seed=1)  # validated
    assert c.calls == problem.steps + 1  # the dry step before the clock, then every step
    assert c.moves > 0
    if name != "corridor":  # two robots each way meet head on: EPIBT deadlocks there
        assert res.tasks_finished > 0


def test_robots_face_to_face_do_not_swap() -> None:
    """Two robots face to face in a corridor with a bay, each bound for the other's cell: they
    do not swap."""
    room = _room([".....", "@@.@@"])
    a, b = int(room.dense[1]), int(room.dense[2])
    nxt, act = kernel_step(room, 5, [a, b], [0, 2], [b, a], [False, False], [0, 1], 2, 3000)
    assert (nxt, act) == oracle_step(room, [a, b], [0, 2], [b, a], [False, False], [0, 1],
                                     2, 3000)
    assert not (nxt[0] == b and nxt[1] == a)


def test_held_robot_is_not_evicted() -> None:
    """A robot being loaded stays; the robot behind it, bound past it, does not move in."""
    room = _room(["...."])
    p = [int(room.dense[1]), int(room.dense[2])]
    nxt, act = kernel_step(room, 4, p, [0, 0], [int(room.dense[3]), p[1]], [False, True],
                           [0, 1], 2, 3000)
    assert nxt == p
    assert act[1] == K.W_ROT


def test_operations_and_patch() -> None:
    """The operation tables spell the winner's 17 and 48 operations (the 17 with a wait
    appended among the 48); the patch covers one move more than an operation."""
    ops = E.operation_codes()
    assert ops.shape == (17, 3) and (ops[0] == K.W_ROT).all()
    offsets, index = E.patch_offsets()
    assert offsets.shape == (41, 2)
    assert all(index[dr + 4, dc + 4] == k for k, (dr, dc) in enumerate(offsets.tolist()))
    ops4 = E.operation_codes(4)
    assert ops4.shape == (48, 4) and (ops4[0] == K.W_ROT).all()
    assert len(set(E.OPERATIONS_4)) == 48
    assert {op + "W" for op in E.OPERATIONS} <= set(E.OPERATIONS_4)
    offsets, index = E.patch_offsets(4)
    assert offsets.shape == (61, 2) and index[5, 5] >= 0
    with pytest.raises(ValueError, match="5"):
        E.operations(5)


def test_epibt_run_is_legal_and_moves_robots() -> None:
    """A dense random room planned by EPIBT: the paths validate and tasks get done."""
    problem = random_problem(5, robots=60, steps=80, height=10, width=12, obstacles=0.05)
    res = solve_sortation(problem, SortationParams(planner="epibt"), seed=0)
    assert res.positions is not None and res.headings is not None
    validate_paths(problem.grid, res.positions, res.headings, problem.lanes)
    assert res.tasks_finished > 0
