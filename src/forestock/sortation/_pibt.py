"""Lifelong multi-agent path finding with PIBT: the planner and its run loop.

Each step, every robot picks its next cell by priority inheritance with
backtracking (PIBT, Okumura et al. 2022) over distance tables to its goal
(one breadth-first table per goal, kept in a bounded cache), with two
guides: congestion (a move against the recent flow through a cell costs
more) and, under the rotation model, the turns a move needs. A robot that
waits too long in front of a blocked cell is nudged to go round it. Under
the rotation model the default step is EPIBT instead
(:mod:`forestock.sortation._epibt`): each robot plans an operation of four
actions, checked for conflicts over its length, robots nearest their goal
first. Python runs the loop, hands out tasks and times each step; numba
computes the step.

On a map with one-way lanes (generated centres) robots move only along the
lanes, and the distance tables are computed on that directed graph, so that
guidance respects the lanes. Under the 2024 rules a :class:`Scheduler`
assigns the revealed tasks and counts errands as the competition does. In a
parcel flow a free robot picks the station cheapest to reach (distance plus
the robots already bound there), a loaded robot the chute of its parcel's
destination cheapest to reach (distance plus the robots already bound for
it), and robots stand at the station and at the chute for the loading and
drop steps, during which no robot can push them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import InfeasibleError
from forestock.params import Params, one_of, within
from forestock.sortation import _epibt as E
from forestock.sortation import _kernels as K
from forestock.sortation._instance import ParcelFlow, SortationProblem, TaskList
from forestock.sortation._maps import GridMap
from forestock.sortation._schedule import Scheduler

__all__ = ["SortationParams", "SortationResult", "solve_sortation"]

log = logging.getLogger("forestock.sortation")


@dataclass(frozen=True)
class SortationParams(Params):
    """Settings of the PIBT planner.

    Parameters
    ----------
    congestion_weight
        Cost, in cells, of each recent robot that crossed the target cell in
        the opposite direction.
    flow_decay
        Per-step decay of the remembered flow (0 forgets at once).
    stuck_after
        Steps a robot may wait before its blocked forward move costs more.
    stuck_weight
        Extra cost per step waited beyond ``stuck_after``.
    commit_weight
        Rotation model: bonus, in cells, of the neighbour a robot turned
        towards, so that turns are not undone the next step. From about 10
        the robot always takes the cell it turned to when it is free. At
        10,000 robots (5,000 steps) 12 finished 160,986 tasks on MR23-I-06
        and 144,942 on MR23-I-10 (1.5: 144,586 and 136,774), and kept
        MR24-WAREHOUSE flowing (94,206), where at 1.5 the floor locked up
        after 2,000 steps (57,835).
    highway
        Extra cost, in half steps, of a move against its street (rows and
        columns with many moves along them alternate in direction, street by
        street; see ``_lane_flips``); 0 for none. At 18 a move against a
        street costs ten: robots keep to the one-way system unless it is far
        round. On MR23-I-06 (10,000 robots, 1,500 steps) streets alternating
        by parity gave 8,587 tasks in 600 steps, street by street 15,604 at
        2 and 16,351 at 18.
    turning
        Rotation model: ``"state"`` plans over cells and headings (a robot
        moves forward or stays and turns; a pushed robot can only move
        forward); ``"convert"`` plans over cells, then a robot not facing its
        next cell turns towards it and stays. ``"state"`` gridlocks at
        density (MR23-I-06, 10,000 robots, 1,500 steps: 8,515 tasks against
        44,251 by ``"convert"``).
    open_weight
        Extra cost, in steps, of a move into open floor (a cell whose eight
        neighbours are free): through traffic keeps to the streets, off the
        open plates by the walls where robots queue and turn at their goals.
        Only where the map has no one-way lanes. At 1,500 steps against
        none: MR23-I-10 +7% (0.05). Over 5,000 steps with ``commit_weight``
        12, 0.2 finished 9% more than 0.05 on MR23-I-10 but locked
        MR24-WAREHOUSE up (50,613 tasks against 94,206); 0.1 kept it flowing
        (95,899, and 0.05 on another seed 95,567).
    induction_balance
        Parcel flows: cost, in cells, of each robot already bound for an
        induction station when a robot picks one.
    drop_balance
        Parcel flows: cost, in cells, of each robot already bound for a
        chute when a loaded robot picks one of its destination's chutes (so
        that robots spread over the field rather than crowd the chutes
        nearest the stations).
    task_length_weight
        2024 rules: a free robot takes the revealed task of least distance
        to its first errand plus this weight times the task's length (both
        Manhattan). A little weight favours short tasks among the near
        ones; with none, on TR24 sortation_large_2000, throughput fell by
        a third over the run (11,088 tasks against 14,512 at 0.1). The start
        kit's scheduler uses 1 and true distances.
    reassign
        2024 rules: a free robot may take a task its holder has not started
        when it is nearer its first errand by more than ``reassign_margin``
        cells (the holder takes another).
    reassign_margin
        See ``reassign``.
    priority
        ``"task"``: a robot's priority is the steps since it got its goal;
        ``"progress"``: the steps since it last came nearer its goal, ties
        going to the robot nearer its goal.
    planner
        Rotation model: ``"epibt"`` plans each robot an operation of
        ``epibt_depth`` actions, checked for conflicts over its steps, robots nearest
        their goal first (:mod:`forestock.sortation._epibt`, after the 2024
        winner's EPIBT); ``"pibt"`` plans one step over cells and turns the
        cells into actions (``turning``). The four-neighbour model always
        uses PIBT. In a one-lane corridor where robots meet head on EPIBT
        can deadlock (three or four actions are too few to turn round and
        clear the way); PIBT does not.
    epibt_passes
        EPIBT: passes over the robots, each revising its operation against
        the others' latest.
    epibt_lns
        EPIBT: after the passes, attempts per robot (times the robots) of a
        large neighbourhood search over the operations (the 2024 winner's
        EPIBT+LNS): a random robot is built again, evictions skipped at
        random, and the new operations stand if the robots' score, weighted
        towards the first in priority, does not drop. 0: none. Most of the
        gain comes with the first attempt per robot and flattens past 3
        while the time grows (``benchmarks/NOTES.md``).
    epibt_depth
        EPIBT: actions in an operation, 3 (the winner's 17 operations) or 4
        (its 48), checked for conflicts over as many steps. With both at
        their defaults the main round's four instances (10,000 robots,
        5,000 steps) finish 0.95 to 0.97 of the best-known tasks, against
        0.93 to 0.96 with the search alone and 0.87 to 0.93 with neither.
    table_mb
        Memory for the cache of distance tables (one per goal cell, two
        bytes a free cell); beyond it the least recently used table is
        dropped and computed again when next needed. Any size gives the same
        paths; a small one costs time.
    record_paths
        Keep every robot's cell and heading at every step (for
        :func:`validate_paths` and figures).
    validate
        Check the recorded paths with :func:`validate_paths` before returning.
    """

    section = "sortation"
    checks = (
        within("[0, 10]", "congestion_weight"),
        within("[0, 1)", "flow_decay"),
        within("[0, 20]", "highway", integer=True),
        within("[0, 1]", "open_weight"),
        one_of(("task", "progress"), "priority"),
        one_of(("state", "convert"), "turning"),
        one_of(("pibt", "epibt"), "planner"),
        within("[1, 20]", "epibt_passes", integer=True),
        within("[0, 100]", "epibt_lns", integer=True),
        one_of((3, 4), "epibt_depth"),
        within("[0, inf]", "commit_weight", "stuck_weight", "induction_balance",
               "drop_balance"),
        within("[0, inf)", "task_length_weight", "reassign_margin"),
        within("[0, inf)", "stuck_after", integer=True),
        within("(0, inf)", "table_mb"),
    )

    congestion_weight: float = 0.05
    flow_decay: float = 0.98
    stuck_after: int = 3
    stuck_weight: float = 0.0
    commit_weight: float = 12.0
    highway: int = 18
    open_weight: float = 0.1
    turning: str = "convert"
    induction_balance: float = 2.0
    drop_balance: float = 10.0
    task_length_weight: float = 0.1
    reassign: bool = True
    reassign_margin: float = 6.0
    priority: str = "task"
    planner: str = "epibt"
    epibt_passes: int = 2
    epibt_lns: int = 3
    epibt_depth: int = 4
    table_mb: float = 1024.0
    record_paths: bool = True
    validate: bool = True

    def _validate(self) -> None:
        if self.validate and not self.record_paths:
            raise ValueError("validate needs record_paths")


@dataclass(frozen=True)
class SortationResult:
    """What a run did.

    Attributes
    ----------
    tasks_finished
        Tasks finished (a task list) or parcels dropped in their chute (a
        parcel flow).
    finished_per_step
        ``int32`` [steps]: tasks finished at each step.
    plan_seconds
        ``float64`` [steps]: planning time of each step (PIBT plus the
        distance tables of new goals).
    waits
        ``int32`` [cells]: robot-steps spent waiting in each cell, loading
        and drop steps not counted (the congestion heat map).
    moving_share
        Share of robot-steps spent moving or turning (utilisation).
    loaded_share
        Parcel flows: share of robot-steps spent carrying a parcel; NaN for
        task lists.
    positions, headings
        [steps + 1, robots] cells and headings, when recorded.
    schedule
        2024 rules: ``int64`` [changes, 3] rows ``(step, robot, task)``,
        the task each robot holds from that step (-1: none), by step then
        robot (the competition's ``actualSchedule``); None otherwise.
    """

    name: str
    seed: int
    model: str
    steps: int
    n_agents: int
    tasks_finished: int
    finished_per_step: np.ndarray = field(repr=False)
    plan_seconds: np.ndarray = field(repr=False)
    waits: np.ndarray = field(repr=False)
    moving_share: float
    loaded_share: float
    step_seconds: float
    positions: np.ndarray | None = field(default=None, repr=False)
    headings: np.ndarray | None = field(default=None, repr=False)
    schedule: np.ndarray | None = field(default=None, repr=False)

    @property
    def mean_plan_ms(self) -> float:
        """Mean planning time per step, in milliseconds."""
        return float(self.plan_seconds.mean() * 1e3)

    @property
    def max_plan_ms(self) -> float:
        """Longest planning time of a step, in milliseconds."""
        return float(self.plan_seconds.max() * 1e3)

    @property
    def hours(self) -> float:
        """Length of the run in hours of the modelled centre."""
        return self.steps * self.step_seconds / 3600

    @property
    def per_robot_hour(self) -> float:
        """Tasks (parcels) per robot and hour."""
        return self.tasks_finished / (self.n_agents * self.hours)

    def throughput_per_hour(self) -> np.ndarray:
        """Tasks finished in each (started) hour of the run."""
        per_hour = max(1, round(3600 / self.step_seconds))
        n = -(-self.steps // per_hour)
        out = np.zeros(n, dtype=np.int64)
        np.add.at(out, np.arange(self.steps) // per_hour, self.finished_per_step)
        return out


class _Tables:
    """Distance tables, one per goal cell, shared by every robot bound there.

    A goal's table is computed on first use (Dial's algorithm on the lane
    graph) and kept in a cache of at most ``table_mb`` megabytes; when it is
    full, the table least recently used goes. Each step :meth:`fill` hands
    the kernel only the five distances a robot's step reads (from its cell
    and its neighbours), so a step needs no table to stay: any cache, down to
    one table, gives the same distances, a small one computing more often.
    Distances are ``uint16``; a map on which one would reach ``UNREACH`` is
    refused, never wrapped round.
    """

    def __init__(self, nbr: np.ndarray, rnbr: np.ndarray, cost: np.ndarray,
                 table_mb: float) -> None:
        n_free = rnbr.shape[0]
        self.cap = int(max(1, min(n_free, table_mb * 2**20 // (2 * n_free))))
        self.nbr = nbr
        self.rnbr = rnbr
        self.cost = cost
        nb = int(cost.max()) + 1
        self.buckets = np.empty((nb, 4 * n_free), dtype=np.int32)
        self.counts = np.zeros(nb, dtype=np.int64)
        # np.empty: the pages of a slot are touched (resident) only once it is filled
        self.dist = np.empty((self.cap, n_free), dtype=np.uint16)
        self.slot_of = np.full(n_free, -1, dtype=np.int32)
        self.goal_of = np.full(self.cap, -1, dtype=np.int32)
        self.used = np.zeros(self.cap, dtype=np.int64)  # clock of the last use
        self.clock = 0
        self.filled = 0
        self.computed = 0

    def _compute(self, goal: int) -> int:
        """Compute ``goal``'s table into a free slot or the least recently used one."""
        if self.filled < self.cap:
            s = self.filled
            self.filled += 1
        else:
            s = int(np.argmin(self.used))  # ties: the lowest slot
            if self.goal_of[s] >= 0:
                self.slot_of[self.goal_of[s]] = -1
        self.goal_of[s] = -1
        top = K.distances(self.rnbr, self.cost, goal, self.dist[s], self.buckets, self.counts)
        if top < 0:
            raise InfeasibleError(
                f"a distance to cell {goal} (dense id) exceeds {K.UNREACH - 1}, the most a "
                f"uint16 table holds: the map ({self.rnbr.shape[0]:,} free cells) is too large "
                "for the move costs")
        self.computed += 1
        self.goal_of[s] = goal
        self.slot_of[goal] = s
        return s

    def table(self, goal: int) -> np.ndarray:
        """``goal``'s table (valid until the next call to the cache)."""
        self.clock += 1
        s = int(self.slot_of[goal])
        if s < 0:
            s = self._compute(goal)
        self.used[s] = self.clock
        return self.dist[s]

    def fill(self, goal: np.ndarray, pos: np.ndarray, near: np.ndarray) -> None:
        """``near`` [n, 5]: each robot's distances to ``goal`` from its neighbours and its cell."""
        self._read(goal, lambda slot, sel: K.gather(self.dist, slot, pos, self.nbr, sel, near))

    def fill_patch(self, goal: np.ndarray, pos: np.ndarray, patch: np.ndarray,
                   grid: GridMap, cell_of: np.ndarray, dense: np.ndarray,
                   offsets: np.ndarray) -> None:
        """``patch`` [n, K]: each robot's distances to ``goal`` from the cells at ``offsets``
        (row, column) from its own (EPIBT reads those within four moves)."""
        self._read(goal, lambda slot, sel: E.gather_patch(
            self.dist, slot, pos, cell_of, dense, grid.width, grid.height, offsets, sel, patch))

    def _read(self, goal: np.ndarray, read: Callable[[np.ndarray, np.ndarray], None]) -> None:
        """Call ``read(slot, robots)`` for every robot, with its goal's table in ``slot``."""
        self.clock += 1
        slot = self.slot_of[goal]
        have = slot >= 0
        self.used[slot[have]] = self.clock
        read(slot, np.flatnonzero(have))
        miss = np.flatnonzero(~have)
        if miss.size == 0:
            return
        # robots of the goals not cached, goal by goal: compute, read, and the table may go
        order = miss[np.argsort(goal[miss], kind="stable")]
        cut = np.flatnonzero(np.diff(goal[order])) + 1
        for group in np.split(order, cut):
            s = self._compute(int(goal[group[0]]))
            self.used[s] = self.clock
            slot[group] = s
            read(slot, group)


class _Tasks:
    """Hands out goals; counts finished tasks.

    Parcel flows: a free robot goes to the induction station cheapest to
    reach (distance on the lane graph plus ``balance`` per robot already
    bound there); a loaded robot goes to the drop cell of its parcel's
    destination cheapest to reach from its station (plus ``drop_balance``
    per robot already bound for that chute).
    """

    def __init__(self, problem: SortationProblem, dense: np.ndarray, seed: int,
                 balance: float, drop_balance: float, table: Callable[[int], np.ndarray]
                 ) -> None:
        self.p = problem
        self.n = problem.n_agents
        self.dense = dense
        self.finished = 0
        self.rng = np.random.default_rng(seed)
        t = problem.tasks
        if isinstance(t, TaskList):
            self.task = np.full(self.n, -1, dtype=np.int64)
            self.errand = np.zeros(self.n, dtype=np.int64)
            self.count = np.zeros(self.n, dtype=np.int64)
            self.next_free = 0
            return
        self.loaded = np.zeros(self.n, dtype=bool)
        self.bound = np.zeros(t.induction.size, dtype=np.int64)
        self.bound_chute = np.zeros(t.chute_share.size, dtype=np.int64)
        self.chute_of_drop = np.repeat(np.arange(t.chute_share.size), np.diff(t.drop_ptr))
        self.station = np.full(self.n, -1, dtype=np.int64)
        self.drop = np.full(self.n, -1, dtype=np.int64)
        self.balance = balance
        self.drop_balance = drop_balance
        # distances on the lane graph: to each station from every cell, and
        # from each station to each drop cell
        self.to_station = np.stack([table(int(dense[c])).astype(np.int64)
                                    for c in t.induction])
        st = dense[t.induction]
        self.to_drop = np.stack([table(int(dense[c]))[st].astype(np.int64) for c in t.drops],
                                axis=1)
        dest = t.destinations()
        _, dest = np.unique(dest, return_inverse=True)
        self.dest_share = np.bincount(dest, weights=t.chute_share)
        self.dest_drops = np.argsort(dest[self.chute_of_drop], kind="stable")
        self.dest_ptr = np.zeros(self.dest_share.size + 1, dtype=np.int64)
        self.dest_ptr[1:] = np.cumsum(np.bincount(dest[self.chute_of_drop],
                                                  minlength=self.dest_share.size))
        self.draws = np.empty(0, dtype=np.int64)
        self.drawn = 0

    def dwell(self) -> np.ndarray | int:
        """Steps each robot must stand on its goal before it counts as reached."""
        t = self.p.tasks
        if isinstance(t, TaskList) or t.load_steps == t.drop_steps == 0:
            return 0
        return np.where(self.loaded, t.drop_steps, t.load_steps)

    def first_goals(self, cells: np.ndarray) -> np.ndarray:
        return np.array([self._next(i, int(cells[i]), finished=False) for i in range(self.n)],
                        dtype=np.int64)

    def reached(self, i: int, cell: int) -> int:
        """Robot ``i`` stands on its goal ``cell``; return its next goal (a full cell index)."""
        return self._next(i, cell, finished=True)

    def _next(self, i: int, cell: int, finished: bool) -> int:
        t = self.p.tasks
        if isinstance(t, TaskList):
            if finished:
                self.errand[i] += 1
                if t.ptr[self.task[i]] + self.errand[i] < t.ptr[self.task[i] + 1]:
                    return int(t.errands[t.ptr[self.task[i]] + self.errand[i]])
                self.finished += 1
            if t.assignment == "roundrobin":
                self.task[i] = (i + self.count[i] * self.n) % t.n_tasks
                self.count[i] += 1
            else:
                self.task[i] = self.next_free % t.n_tasks
                self.next_free += 1
            self.errand[i] = 0
            return int(t.errands[t.ptr[self.task[i]]])
        if finished and not self.loaded[i]:  # loaded at an induction station
            k = self.station[i]
            self.bound[k] -= 1
            self.loaded[i] = True
            g = self._draw()
            cand = self.dest_drops[self.dest_ptr[g]:self.dest_ptr[g + 1]]
            busy = self.bound_chute[self.chute_of_drop[cand]]
            j = int(cand[np.argmin(self.to_drop[k, cand] + self.drop_balance * busy)])
            self.drop[i] = j
            self.bound_chute[self.chute_of_drop[j]] += 1
            return int(t.drops[j])
        if finished:  # dropped its parcel
            self.finished += 1
            self.loaded[i] = False
            self.bound_chute[self.chute_of_drop[self.drop[i]]] -= 1
        v = int(self.dense[cell])
        k = int(np.argmin(self.to_station[:, v] + self.balance * self.bound))
        self.station[i] = k
        self.bound[k] += 1
        return int(t.induction[k])

    def _draw(self) -> int:
        if self.drawn == self.draws.size:
            self.draws = self.rng.choice(self.dest_share.size, size=4096, p=self.dest_share)
            self.drawn = 0
        self.drawn += 1
        return int(self.draws[self.drawn - 1])


def _lane_graph(full_nbr: np.ndarray, dense: np.ndarray, cell_of: np.ndarray,
                lanes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Dense moves out of each free cell, and into it, with one-way lanes respected.

    Returns ``nbr[v, d]`` (the cell a move from ``v`` in direction ``d``
    reaches, or -1) and ``rnbr[v, d]`` (the neighbour ``u`` of ``v`` in
    direction ``d`` when ``u`` may move to ``v``, or -1).
    """
    phys = np.where(full_nbr >= 0, dense[np.maximum(full_nbr, 0)], -1)[cell_of].astype(np.int32)
    if lanes is None:
        return phys, phys
    allowed = ((lanes[cell_of][:, None].astype(np.int32) >> np.arange(4)) & 1).astype(bool)
    nbr = np.where(allowed, phys, -1).astype(np.int32)
    back = nbr[np.maximum(phys, 0), (np.arange(4)[None, :] + 2) % 4]
    rnbr = np.where((phys >= 0) & (back == np.arange(phys.shape[0])[:, None]), phys, -1)
    return nbr, rnbr.astype(np.int32)


def _lane_flips(free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows run west and which columns run north, corridor by corridor.

    A corridor is a row (column) with at least half as many free moves along
    it as the busiest one; corridors alternate in direction in the order they
    come, so that neighbouring streets run opposite ways even where the
    streets lie every other row (a sortation floor) or every third (between
    shelves). The other rows (columns) alternate among themselves, so that
    in an open area, where every row is a street, half run each way.
    """
    along_rows = (free[:, 1:] & free[:, :-1]).sum(axis=1)
    along_cols = (free[1:, :] & free[:-1, :]).sum(axis=0)
    flips = []
    for along in (along_rows, along_cols):
        street = along >= 0.5 * max(int(along.max()), 1)
        flips.append(np.where(street, np.cumsum(street) % 2 == 0,
                              np.cumsum(~street) % 2 == 0))
    return flips[0], flips[1]


def _move_costs(grid: GridMap, cell_of: np.ndarray, nbr: np.ndarray, unit: int,
                highway: int) -> np.ndarray:
    """``uint8`` [F, 4]: cost of each move; against a lane's direction it costs more.

    Lanes (the "highways" of one-way streets): see :func:`_lane_flips`.
    """
    r, c = np.divmod(cell_of.astype(np.int64), grid.width)
    west_rows, north_cols = _lane_flips(grid.free.reshape(grid.height, grid.width))
    west, north = west_rows[r], north_cols[c]
    cost = np.full((cell_of.size, 4), unit, dtype=np.uint8)
    against = np.stack([west, north, ~west, ~north], axis=1)
    cost[against] += np.uint8(highway)
    cost[nbr < 0] = unit
    return cost


def _open_cells(grid: GridMap) -> np.ndarray:
    """``bool`` [cells]: free cells whose eight neighbours are all free (open floor)."""
    free = grid.free.reshape(grid.height, grid.width)
    pad = np.pad(free, 1, constant_values=False)
    out = free.copy()
    for dr in range(3):
        for dc in range(3):
            out &= pad[dr:dr + grid.height, dc:dc + grid.width]
    return out.ravel()


def _floor_costs(grid: GridMap, cell_of: np.ndarray, nbr: np.ndarray, rnbr: np.ndarray,
                 lanes: bool, params: SortationParams) -> tuple[int, np.ndarray]:
    """The cost of a step (``unit``) and of each move, ``uint8`` [F, 4].

    On a map with one-way lanes a step costs 2 and nothing more. Otherwise a
    step costs 20, so that a move into open floor can cost a fraction of a
    step more (``open_weight``, in twentieths), and a move against its
    street ``highway`` half steps more. Where distances at 20 a step could
    overflow a table (a map on which a cell lies more than 1,500 steps from
    one cell), a step costs 2 and open floor nothing more.
    """
    if lanes:
        return 2, _move_costs(grid, cell_of, nbr, 2, 0)
    probe = np.empty(cell_of.size, dtype=np.uint16)
    cost = _move_costs(grid, cell_of, nbr, 2, params.highway)
    buckets = np.empty((int(cost.max()) + 1, 4 * cell_of.size), dtype=np.int32)
    top = K.distances(rnbr, cost, 0, probe, buckets, np.zeros(buckets.shape[0], np.int64))
    unit = 20 if 0 <= top <= 3_000 else 2  # 20 a step: distances ten times, twice as far
    cost *= np.uint8(unit // 2)  # every move, along or against its street, scales alike
    extra = round(params.open_weight * unit)
    if extra:
        into = (nbr >= 0) & _open_cells(grid)[cell_of][np.maximum(nbr, 0)]
        cost += (into * extra).astype(np.uint8)
    return unit, cost


def solve_sortation(problem: SortationProblem, params: SortationParams | None = None,
                    seed: int = 0, callbacks: Callbacks = NO_CALLBACKS) -> SortationResult:
    """Run the planner on ``problem`` for ``problem.steps`` steps.

    Parameters
    ----------
    problem
        Map, robots and tasks.
    params
        Planner settings; default :class:`SortationParams`.
    seed
        Seed of the tie-breaks and of parcel destinations.
    callbacks
        Told of progress, in steps.

    Returns
    -------
    SortationResult
        Tasks finished, planning time per step, congestion, paths.

    Raises
    ------
    PathError
        If ``params.validate`` and the paths break a rule (a bug).
    """
    from forestock.sortation._validate import validate_paths

    params = params or SortationParams()
    grid = problem.grid
    full_nbr = grid.neighbours()
    free = grid.free
    cell_of = np.flatnonzero(free).astype(np.int32)
    dense = np.full(grid.size, -1, dtype=np.int32)
    dense[cell_of] = np.arange(cell_of.size, dtype=np.int32)
    nbr, rnbr = _lane_graph(full_nbr, dense, cell_of, problem.lanes)
    n, steps = problem.n_agents, problem.steps
    rotation = problem.model == "rotation"
    mode = 0 if not rotation else (2 if params.turning == "state" else 1)
    unit, cost = _floor_costs(grid, cell_of, nbr, rnbr, problem.lanes is not None, params)
    tables = _Tables(nbr, rnbr, cost, params.table_mb)
    tasks = _Tasks(problem, dense, seed, params.induction_balance, params.drop_balance,
                   tables.table)
    sched = None
    if isinstance(problem.tasks, TaskList) and problem.tasks.assignment == "schedule":
        sched = Scheduler(problem.tasks, n, grid.width, params.task_length_weight,
                          params.reassign_margin if params.reassign else -1.0)
    rng = np.random.default_rng(seed)
    salt = int(rng.integers(0, 1 << 20))
    frac = rng.permutation(n) / n  # distinct tie-breaks of equal priorities

    pos = dense[problem.starts].astype(np.int32)
    head = problem.headings.astype(np.int8).copy()
    counter: _Tasks | Scheduler = tasks if sched is None else sched  # counts finished tasks
    first = tasks.first_goals(problem.starts) if sched is None else sched.start(problem.starts)
    goal = dense[first].astype(np.int32)
    since = np.zeros(n, dtype=np.float64)
    best = np.full(n, np.inf)  # nearest a robot has come to its goal (priority "progress")
    stuck = np.zeros(n, dtype=np.int32)
    commit = np.full(n, -1, dtype=np.int32)
    hold = np.zeros(n, dtype=np.bool_)  # loading or unloading at the goal
    arrived = np.zeros(n, dtype=np.int64)  # steps spent on the goal so far
    flow = np.zeros((cell_of.size, 4), dtype=np.float32)
    occ_now = np.full(cell_of.size, -1, dtype=np.int32)
    occ_now[pos] = np.arange(n, dtype=np.int32)
    occ_next = np.full(cell_of.size, -1, dtype=np.int32)
    nxt = np.empty(n, dtype=np.int32)
    act = np.empty(n, dtype=np.int8)
    cand = np.empty((n, 5), dtype=np.int32)
    ckey = np.empty((n, 5), dtype=np.float64)
    cact = np.empty((n, 5), dtype=np.int8)
    near = np.empty((n, 5), dtype=np.uint16)
    waits = np.zeros(cell_of.size, dtype=np.int32)
    finished_per_step = np.zeros(steps, dtype=np.int32)
    plan_seconds = np.zeros(steps, dtype=np.float64)
    positions = headings = None
    if params.record_paths:
        positions = np.empty((steps + 1, n), dtype=np.int32)
        headings = np.empty((steps + 1, n), dtype=np.int8)
        positions[0] = problem.starts
        headings[0] = head
    is_flow = isinstance(problem.tasks, ParcelFlow)
    loaded_steps = 0
    busy_steps = 0
    decay = np.float32(params.flow_decay)
    callbacks.on_start("steps", steps)
    carry = 0.0  # goal handling of the last step, charged to the planner's next step
    weights = (params.congestion_weight, params.stuck_after, params.stuck_weight,
               params.commit_weight)
    epibt = rotation and params.planner == "epibt"
    if epibt:
        depth = params.epibt_depth
        ops = E.operation_codes(depth)
        offsets, index = E.patch_offsets(depth)
        centre = int(index[depth + 1, depth + 1])
        patch = np.empty((n, offsets.shape[0]), dtype=np.uint16)
        used_pos = np.full((cell_of.size, depth), -1, dtype=np.int32)
        used_edge = np.full((2 * cell_of.size, depth), -1, dtype=np.int32)
    # compile (or load) the kernels before the clock runs: a dry step on copies
    tables.fill(goal, pos, near)
    if epibt:
        tables.fill_patch(goal, pos, patch, grid, cell_of, dense, offsets)
        E.epibt_step(nbr, cost, unit, pos, head, goal, patch, hold, np.arange(n), ops, index,
                     params.epibt_passes, 3000, True, used_pos, used_edge, nxt, act,
                     params.epibt_lns * n, salt)
    else:
        K.plan_step(nbr, cost, unit, pos, head.copy(), near, since + frac, stuck, flow,
                    commit.copy(), hold, occ_now, occ_next, nxt, act, mode, *weights, 0, salt,
                    cand, ckey, cact)
    for t in range(steps):
        t0 = time.perf_counter()
        if epibt:
            tables.fill_patch(goal, pos, patch, grid, cell_of, dense, offsets)
            order = np.argsort(patch[:, centre] + frac, kind="stable")  # nearest its goal first
            E.epibt_step(nbr, cost, unit, pos, head, goal, patch, hold, order, ops, index,
                         params.epibt_passes, 3000, True, used_pos, used_edge, nxt, act,
                         params.epibt_lns * n, salt + t)
        else:
            tables.fill(goal, pos, near)
            if params.priority == "progress":
                dnow = near[:, 4].astype(np.float64)
                gain = dnow < best
                since = np.where(gain, 0.0, since)
                best = np.minimum(best, dnow)
                prio = since + frac - dnow / (2.0 * K.UNREACH)
            else:
                prio = since + frac
            K.plan_step(nbr, cost, unit, pos, head, near, prio, stuck, flow, commit, hold,
                        occ_now, occ_next, nxt, act, mode, *weights, t, salt, cand, ckey, cact)
        plan_seconds[t] = time.perf_counter() - t0 + carry
        flow *= decay
        busy_steps += K.execute(nbr, pos, head, nxt, act, occ_now, stuck, flow, commit, waits,
                                hold, rotation)
        since += 1.0
        if is_flow:
            loaded_steps += int(tasks.loaded.sum())
        t1 = time.perf_counter()
        before = counter.finished
        if sched is None:
            at = pos == goal
            arrived = np.where(at, arrived + 1, 0)
            retarget = np.flatnonzero(at & (arrived > tasks.dwell()))
            new = [dense[tasks.reached(int(i), int(cell_of[pos[i]]))] for i in retarget]
        else:  # errands counted, tasks reassigned, as the 2024 competition does
            retarget, cells = sched.step(t + 1, cell_of[pos], last=t + 1 == steps)
            new = list(dense[cells])
        for i, g in zip(retarget.tolist(), new, strict=True):
            goal[i] = g
            since[i] = 0.0
            best[i] = np.inf
            arrived[i] = 0
        hold[:] = arrived > 0
        finished_per_step[t] = counter.finished - before
        carry = time.perf_counter() - t1
        if positions is not None and headings is not None:
            positions[t + 1] = cell_of[pos]
            headings[t + 1] = head
        if (t + 1) % 100 == 0 or t + 1 == steps:
            callbacks.on_step("steps", 100 if (t + 1) % 100 == 0 else (t + 1) % 100)
    callbacks.on_end("steps")
    full_waits = np.zeros(grid.size, dtype=np.int32)
    full_waits[cell_of] = waits
    step_seconds = problem.tasks.step_seconds if isinstance(problem.tasks, ParcelFlow) else 1.0
    result = SortationResult(
        name=problem.name, seed=seed, model=problem.model, steps=steps, n_agents=n,
        tasks_finished=int(counter.finished), finished_per_step=finished_per_step,
        plan_seconds=plan_seconds, waits=full_waits,
        moving_share=busy_steps / (n * steps),
        loaded_share=loaded_steps / (n * steps) if is_flow else float("nan"),
        step_seconds=step_seconds, positions=positions, headings=headings,
        schedule=None if sched is None else sched.schedule(),
    )
    log.info("%s: %d robots, %d steps, %d tasks finished, %.2f ms planning per step, "
             "%d distance tables", problem.name, n, steps, result.tasks_finished,
             result.mean_plan_ms, tables.computed)
    if params.validate and positions is not None and headings is not None:
        validate_paths(grid, positions, headings if rotation else None, problem.lanes)
    return result
