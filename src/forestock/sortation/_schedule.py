"""The planner's side of the 2024 rules: reveal tasks, assign them, follow errands, count.

The competition keeps ``int(numTasksReveal * robots)`` tasks unfinished and
revealed: task ``k`` is the task file's entry ``k`` modulo its length, and
each finished task reveals the next. The planner proposes, every step, the
task each robot holds; the proposal takes effect at the next step, before
errands are checked. A robot holding a task and standing on its next errand
moves on to the errand after it (one a step); after the last, the task is
finished and the robot is free. A task a robot has not started (its first
errand not yet reached) may be taken back and given to another robot.

The :class:`Scheduler` gives each free robot (longest free first) the
revealed task it can finish soonest by Manhattan distance (to the first errand, plus, weighted, the
task's own length from errand to errand); a free robot may take an
unstarted task from its holder when it is nearer its first errand by more
than a margin, the holder then taking the best task nobody holds.
Assignments are logged as ``(step, robot, task)`` rows, the competition's
``actualSchedule``.
"""

from __future__ import annotations

import numpy as np

from forestock.sortation._instance import TaskList

__all__ = ["Scheduler"]


class Scheduler:
    """Tasks of a 2024 instance for the planner's run loop.

    Parameters
    ----------
    tasks
        The instance's task list (its reveal count is used).
    n_agents
        Robots.
    width
        Map width (cells are ``row * width + col``).
    length_weight
        Weight of a task's own length (Manhattan, errand to errand) beside
        the distance to its first errand when a robot picks a task.
    steal_margin
        A free robot takes an unstarted task from its holder when it is
        nearer the first errand by more than this many cells; negative: never.
    """

    def __init__(self, tasks: TaskList, n_agents: int, width: int, length_weight: float,
                 steal_margin: float) -> None:
        self.tasks = tasks
        self.n = n_agents
        self.width = width
        self.length_weight = length_weight
        self.steal_margin = steal_margin
        self.finished = 0
        pool = tasks.revealed(n_agents)
        r, c = np.divmod(tasks.errands.astype(np.int64), width)
        first = tasks.ptr[:-1]
        self._r1, self._c1 = r[first], c[first]
        hop = np.abs(np.diff(r)) + np.abs(np.diff(c))  # errand to next errand, across tasks too
        within = np.ones(r.size - 1, dtype=bool) if r.size > 1 else np.zeros(0, dtype=bool)
        within[tasks.ptr[1:-1] - 1] = False  # hops from a task's last errand to the next task's
        acc = np.concatenate([[0], np.cumsum(np.where(within, hop, 0))])
        self._length = (acc[tasks.ptr[1:] - 1] - acc[first]).astype(np.float64)
        # the pool: one slot per revealed, unfinished task
        self.slot_task = np.arange(pool, dtype=np.int64)  # task id in each slot
        self.slot_holder = np.full(pool, -1, dtype=np.int64)
        self.next_id = pool
        self.holding = np.full(n_agents, -1, dtype=np.int64)  # task id held, or -1
        self.slot_of = np.full(n_agents, -1, dtype=np.int64)  # slot of the task held
        self.done = np.zeros(n_agents, dtype=np.int64)  # errands done of the task held
        self.free_since = np.zeros(n_agents, dtype=np.int64)  # step a robot last became free
        self._log: list[tuple[int, int, int]] = []

    def _file(self, task: int | np.ndarray) -> np.ndarray:
        return np.asarray(task) % self.tasks.n_tasks

    def goal(self, robot: int, cell: int) -> int:
        """The robot's next errand, or ``cell`` (stay) when it holds no task."""
        k = self.holding[robot]
        if k < 0:
            return cell
        f = int(self._file(k))
        return int(self.tasks.errands[self.tasks.ptr[f] + self.done[robot]])

    def start(self, cells: np.ndarray) -> np.ndarray:
        """Assign the first tasks (in force from step 1); return every robot's goal cell."""
        self._assign(np.arange(self.n), cells, 1, steal=False)
        return np.array([self.goal(i, int(cells[i])) for i in range(self.n)], dtype=np.int64)

    def step(self, t: int, cells: np.ndarray, last: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
        """Robots stand on ``cells`` after step ``t``: count errands, then reassign.

        Returns the robots whose goal changed and their new goal cells.
        Assignments made here take effect at step ``t + 1`` (none after the
        ``last`` step).
        """
        who = np.flatnonzero(self.holding >= 0)
        f = self._file(self.holding[who])
        at = cells[who] == self.tasks.errands[self.tasks.ptr[f] + self.done[who]]
        who, f = who[at], f[at]
        self.done[who] += 1
        over = self.tasks.ptr[f] + self.done[who] == self.tasks.ptr[f + 1]
        freed = who[over]
        for i in freed.tolist():  # finished: its slot takes the next task revealed
            s = self.slot_of[i]
            self.slot_task[s] = self.next_id
            self.slot_holder[s] = -1
            self.next_id += 1
            self.holding[i] = -1
            self.slot_of[i] = -1
            self.done[i] = 0
            self.free_since[i] = t
        self.finished += int(freed.size)
        changed = set(who.tolist())
        if not last:  # the robots just freed, and any still waiting for a task
            changed |= self._assign(np.flatnonzero(self.holding < 0), cells, t + 1,
                                    steal=self.steal_margin >= 0)
        robots = np.array(sorted(changed), dtype=np.int64)
        goals = np.array([self.goal(i, int(cells[i])) for i in robots.tolist()], dtype=np.int64)
        return robots, goals

    def _assign(self, free: np.ndarray, cells: np.ndarray, at: int, steal: bool) -> set[int]:
        """Give each free robot a task, longest free first; return the robots whose task changed.
        """
        changed: set[int] = set()
        if not free.size or not self.slot_task.size:
            return changed
        f = self._file(self.slot_task)
        r1, c1 = self._r1[f], self._c1[f]
        base = self.length_weight * self._length[f]
        hr, hc = np.divmod(cells.astype(np.int64), self.width)
        order = free[np.lexsort((free, self.free_since[free]))]
        queue = [(i, steal) for i in order.tolist()]
        k = 0
        while k < len(queue):
            i, may_steal = queue[k]
            k += 1
            holder = self.slot_holder
            if not may_steal and (holder >= 0).all():
                continue  # no task nobody holds
            d = np.abs(r1 - hr[i]) + np.abs(c1 - hc[i])
            cost = np.where(holder < 0, d + base, np.inf)
            if may_steal:
                h = np.maximum(holder, 0)
                theirs = np.abs(r1 - hr[h]) + np.abs(c1 - hc[h])
                open_ = (holder >= 0) & (self.done[h] == 0) & (d + self.steal_margin < theirs)
                cost = np.where(open_, d + base, cost)
            s = int(np.argmin(cost))
            if not np.isfinite(cost[s]):
                continue
            victim = int(holder[s])
            if victim >= 0:  # taken back from a robot that has not started it
                self.holding[victim] = -1
                self.slot_of[victim] = -1
                queue.append((victim, False))  # takes a task nobody holds
            self.slot_holder[s] = i
            self.slot_of[i] = s
            self.holding[i] = self.slot_task[s]
            self.done[i] = 0
            changed.add(i)
            if victim >= 0:
                changed.add(victim)
        for i in sorted(changed):
            self._log.append((at, i, int(self.holding[i])))
        return changed

    def schedule(self) -> np.ndarray:
        """``int64`` [changes, 3] rows ``(step, robot, task)`` by step then robot (-1: none)."""
        out = np.array(self._log, dtype=np.int64).reshape(-1, 3)
        return out[np.lexsort((out[:, 1], out[:, 0]))]
