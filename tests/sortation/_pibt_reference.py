"""A slow, plain Python PIBT step: the oracle of ``forestock.sortation._kernels``.

One planning step spelled out robot by robot, with recursion where the
kernel keeps an explicit stack and dictionaries where it keeps flat arrays:

1. each robot ranks the cells it could be in next (:func:`choices`), best
   first, with the kernel's costs and tie-breaks;
2. robots are planned in decreasing priority (ties: lower index first); a
   robot takes its best cell that is free next step and would not swap it
   with a robot already planned into its own; if that cell's robot is not
   yet planned, it is pushed (it must leave, planned recursively without
   the choice of staying) and, if it cannot, the next choice is tried
   (priority inheritance with backtracking); a robot left without choice
   stays;
3. under the rotation model planned over cells (``mode`` 1), the cells
   become actions: a robot facing its next cell moves, one that is not
   turns towards it, and a robot moving into the cell of a robot that stays
   stays too.

:func:`apply_step` is the oracle of ``execute``, :func:`distances` of the
distance tables (``distances`` and ``gather``). Directions are 0 east,
1 south, 2 west, 3 north; cells are dense ids as in the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORWARD, CLOCKWISE, COUNTER, WAIT = 0, 1, 2, 3  # rotation-model actions
STAY = 4  # four-neighbour model: 0..3 move in that direction, 4 stays


@dataclass(frozen=True)
class Floor:
    """What a step reads and does not change: moves, their costs, distance tables."""

    nbr: np.ndarray  # [F, 4] cell reached by a move in each direction, or -1
    cost: np.ndarray  # [F, 4] cost of that move, in units
    unit: int  # cost of one step
    dist: np.ndarray  # [slots, F] cost to each slot's goal


@dataclass(frozen=True)
class Weights:
    """The planner's guidance weights, as ``SortationParams`` names them."""

    congestion: float
    stuck_after: int
    stuck: float
    commit: float


@dataclass
class Robots:
    """Every robot's state at the start of a step (lists, one entry per robot)."""

    pos: list[int]
    head: list[int]
    slot: list[int]  # row of ``Floor.dist`` of its goal
    prio: list[float]
    stuck: list[int]  # steps waited
    commit: list[int]  # the cell it turned towards, or -1
    hold: list[bool]  # being loaded or unloaded: stays, cannot be pushed
    flow: np.ndarray  # [F, 4] recent moves into each cell, by direction


@dataclass
class Step:
    """What a step decides: each robot's next cell and action, and its commitment."""

    nxt: list[int]
    act: list[int]
    commit: list[int]


def distances(nbr: np.ndarray, cost: np.ndarray, goal: int, unreach: int = 65535) -> np.ndarray:
    """``int64`` [F]: cost of the cheapest path from each cell to ``goal``, by relaxing every
    move until nothing changes (Bellman-Ford); ``unreach`` where there is none.

    ``nbr[v, d]`` is the cell a move from ``v`` in direction ``d`` reaches
    (or -1), ``cost[v, d]`` that move's cost.
    """
    dist = [unreach] * nbr.shape[0]
    dist[goal] = 0
    changed = True
    while changed:
        changed = False
        for v in range(nbr.shape[0]):
            for d in range(4):
                u = int(nbr[v, d])
                if u >= 0 and dist[u] != unreach and dist[u] + int(cost[v, d]) < dist[v]:
                    dist[v] = dist[u] + int(cost[v, d])
                    changed = True
    return np.array(dist, dtype=np.int64)


def near(floor: Floor, robots: Robots) -> np.ndarray:
    """``uint16`` [n, 5]: each robot's distances to its goal from its neighbours (by
    direction; ``65535`` where there is none) and from its cell, as the kernel reads them."""
    out = np.full((len(robots.pos), 5), 65535, dtype=np.uint16)
    for i, v in enumerate(robots.pos):
        for d in range(4):
            u = int(floor.nbr[v, d])
            if u >= 0:
                out[i, d] = floor.dist[robots.slot[i], u]
        out[i, 4] = floor.dist[robots.slot[i], v]
    return out


def tie(robot: int, cell: int, step: int, salt: int) -> float:
    """The kernel's tie-break: a tiny, deterministic cost of ``robot`` entering ``cell``."""
    return ((robot * 7919 + cell * 104729 + step * 31 + salt) % 1009) * 1e-6


def turns(head: int, d: int) -> float:
    """Quarter turns from heading ``head`` to face direction ``d``."""
    if d == head:
        return 0.0
    return 2.0 if d == (head + 2) % 4 else 1.0


def _opposite(d: int) -> int:
    return (d + 2) % 4


class _Planner:
    """One step of PIBT; :meth:`plan` fills ``nxt`` and ``act``."""

    def __init__(self, floor: Floor, robots: Robots, mode: int, w: Weights, step: int,
                 salt: int) -> None:
        self.f, self.r, self.mode, self.w = floor, robots, mode, w
        self.step, self.salt = step, salt
        self.occupant = {cell: i for i, cell in enumerate(robots.pos)}
        self.taken: dict[int, int] = {}  # cell -> robot planned into it next step
        self.nxt: dict[int, int] = {}
        self.act: dict[int, int] = {}

    def _move_key(self, i: int, d: int) -> float:
        """Cost of robot ``i`` moving in direction ``d``: the move, the rest, the flow."""
        f, r = self.f, self.r
        v, u = r.pos[i], int(f.nbr[r.pos[i], d])
        base = int(f.cost[v, d]) + int(f.dist[r.slot[i], u])
        return base + f.unit * self.w.congestion * float(r.flow[u, _opposite(d)])

    def choices(self, i: int, pushed: bool) -> list[tuple[int, int]]:
        """Robot ``i``'s next (cell, action) pairs, best first; none to stay when pushed."""
        r = self.r
        v = r.pos[i]
        if r.hold[i]:
            return [] if pushed else [(v, WAIT if self.mode == 2 else STAY)]
        if self.mode == 2:
            return self._turning_choices(i, pushed)
        rotation = self.mode == 1
        h, unit = r.head[i], self.f.unit
        keyed = []
        for d in range(4):
            u = int(self.f.nbr[v, d])
            if u < 0:
                continue
            key = self._move_key(i, d) + tie(i, u, self.step, self.salt)
            if rotation and d != h:
                key += unit * turns(h, d)
            if r.stuck[i] > self.w.stuck_after and d == h:
                key += unit * self.w.stuck * (r.stuck[i] - self.w.stuck_after)
            elif u == r.commit[i]:
                key -= unit * self.w.commit
            keyed.append((key, u, d))
        if not pushed:
            key = int(self.f.dist[r.slot[i], v]) + unit  # staying costs a step
            keyed.append((key + tie(i, v, self.step, self.salt), v, STAY))
        keyed.sort(key=lambda k: k[0])  # stable: equal keys keep the order east .. north, stay
        return [(u, a) for _, u, a in keyed]

    def _turning_choices(self, i: int, pushed: bool) -> list[tuple[int, int]]:
        """Rotation model over cells and headings: move forward, or stay (wait or turn)."""
        r, unit = self.r, self.f.unit
        v, h = r.pos[i], r.head[i]
        over = 0.0
        if r.stuck[i] > self.w.stuck_after:
            over = unit * self.w.stuck * (r.stuck[i] - self.w.stuck_after)
        wait = float("inf")  # waiting pays only for the cell ahead to clear
        out: list[tuple[float, int, int]] = []
        ahead = int(self.f.nbr[v, h])
        if ahead >= 0:
            key = self._move_key(i, h) + tie(i, ahead, self.step, self.salt)
            if ahead == r.commit[i]:
                key -= unit * self.w.commit
            wait = min(wait, key + unit)  # wait for the cell ahead to clear
            out.append((key + over, ahead, FORWARD))
        if not pushed:
            best, action = wait + over + 1e-3, WAIT
            for d in range(4):
                u = int(self.f.nbr[v, d])
                if d == h or u < 0:
                    continue
                key = (self._move_key(i, d) + unit * turns(h, d)
                       + tie(i, u, self.step, self.salt))
                if key < best:
                    best, action = key, (COUNTER if d == (h + 3) % 4 else CLOCKWISE)
            out.append((best, v, action))
        out.sort(key=lambda k: k[0])
        return [(u, a) for _, u, a in out]

    def push(self, i: int, pushed: bool) -> bool:
        """Plan robot ``i``; False when it found no cell and stays."""
        v = self.r.pos[i]
        for u, a in self.choices(i, pushed):
            if u in self.taken:
                continue
            k = self.occupant.get(u, i)
            if k != i and self.nxt.get(k) == v:
                continue  # k is planned into my cell: taking its cell would swap
            self.nxt[i], self.taken[u], self.act[i] = u, i, a
            if k != i and k not in self.nxt:
                if self.push(k, pushed=True):
                    return True
                continue  # k could not leave and stays in u
            return True
        self.nxt[i], self.taken[v] = v, i
        self.act[i] = STAY
        if self.mode == 2:  # it stays, but may still turn where it wants to go
            self.act[i] = next(a for u, a in self.choices(i, False) if u == v)
        return False

    def plan(self) -> None:
        n = len(self.r.pos)
        for i in sorted(range(n), key=lambda j: -self.r.prio[j]):
            if i not in self.nxt:
                self.push(i, pushed=False)


def _as_rotation(floor: Floor, r: Robots, nxt: list[int], act: list[int],
                 commit: list[int]) -> None:
    """Turn cells into rotation-model actions (``mode`` 1), in place."""
    n = len(r.pos)
    moving = set()
    for i in range(n):
        v, h, d = r.pos[i], r.head[i], act[i]
        if r.hold[i]:
            act[i] = WAIT
            continue
        if d == STAY:  # turn towards the best neighbour, facing first
            best, d = float("inf"), h
            for e in range(4):
                u = int(floor.nbr[v, e])
                if u < 0:
                    continue
                key = (int(floor.cost[v, e]) + int(floor.dist[r.slot[i], u])
                       + floor.unit * turns(h, e))
                if key < best:
                    best, d = key, e
        commit[i] = int(floor.nbr[v, d])
        if d != h:
            act[i] = COUNTER if d == (h + 3) % 4 else CLOCKWISE
            nxt[i] = v
        elif nxt[i] == v:
            act[i] = WAIT
        else:
            act[i] = FORWARD
            moving.add(i)
    occupant = {cell: i for i, cell in enumerate(r.pos)}
    changed = True
    while changed:  # a robot moving into a robot that stays stays; cycles keep moving
        changed = False
        for i in sorted(moving):
            k = occupant.get(nxt[i])
            if k is not None and k not in moving:
                moving.discard(i)
                nxt[i], act[i] = r.pos[i], WAIT
                changed = True


def plan_step(floor: Floor, robots: Robots, mode: int, weights: Weights, step: int,
              salt: int) -> Step:
    """One planning step; ``mode`` 0 four-neighbour, 1 rotation over cells, 2 over states.

    Nothing passed in is changed.
    """
    p = _Planner(floor, robots, mode, weights, step, salt)
    p.plan()
    n = len(robots.pos)
    nxt = [p.nxt[i] for i in range(n)]
    act = [p.act[i] for i in range(n)]
    commit = list(robots.commit)
    if mode == 1:
        _as_rotation(floor, robots, nxt, act, commit)
    return Step(nxt, act, commit)


@dataclass
class Moved:
    """State after a step is applied."""

    pos: list[int]
    head: list[int]
    stuck: list[int]
    commit: list[int]
    flow: np.ndarray
    waits: np.ndarray
    busy: int


def apply_step(nbr: np.ndarray, robots: Robots, step: Step, rotation: bool,
               waits: np.ndarray) -> Moved:
    """The oracle of ``execute``: robots move or turn; counters, flow and waits follow.

    A robot that moves adds to the flow into its new cell along its direction
    of travel and forgets its commitment; one that turns commits to the cell
    it now faces; one that only waits counts a wait in its cell unless held.
    """
    flow, waits = robots.flow.copy(), waits.copy()
    pos, head = list(step.nxt), list(robots.head)
    stuck, commit = list(robots.stuck), list(step.commit)
    busy = 0
    for i, (v, u, a) in enumerate(zip(robots.pos, step.nxt, step.act, strict=True)):
        if u != v:
            travel = robots.head[i] if rotation else a
            head[i] = travel
            flow[u, travel] += np.float32(1.0)
            stuck[i], commit[i] = 0, -1
            busy += 1
            continue
        quarter = {CLOCKWISE: 1, COUNTER: 3}.get(a, 0) if rotation else 0
        if quarter:
            head[i] = (head[i] + quarter) % 4
            stuck[i], commit[i] = 0, int(nbr[v, head[i]])
            busy += 1
            continue
        stuck[i] += 1
        if not robots.hold[i]:
            waits[v] += 1
    return Moved(pos, head, stuck, commit, flow, waits, busy)
