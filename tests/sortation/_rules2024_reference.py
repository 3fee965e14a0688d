"""A slow oracle of the 2024 task rules: the start kit's ``TaskManager``, line by line.

Plain Python over dicts and lists, as the competition's C++ (start kit
v2.1.2, ``src/TaskManager.cpp`` and ``BaseSystem::simulate``) does it: the
planner proposes a whole assignment each step (the last one accepted, with
finished tasks dropped, plus the schedule's changes); the step's proposal is
validated (every task ongoing, none twice, no robot taken off a task it has
started) and refused as a whole when it breaks a rule; then each robot
checks its next errand, and tasks are revealed until as many are ongoing as
at the start. Used to check :func:`forestock.sortation._replay.follow_schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forestock.sortation import TaskList


@dataclass
class _Task:
    task_id: int
    locations: list[int]
    idx_next_loc: int = 0
    agent_assigned: int = -1


@dataclass
class TaskManager:
    """The competition's task manager for ``tasks`` and ``n`` robots."""

    tasks: TaskList
    n: int
    ongoing: dict[int, _Task] = field(default_factory=dict)
    current: list[int] = field(default_factory=list)
    task_id: int = 0
    finished: int = 0
    errors: int = 0
    events: list[tuple[int, int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.current = [-1] * self.n
        self.reveal()

    def reveal(self) -> None:
        while len(self.ongoing) < self.tasks.revealed(self.n):
            k = self.task_id % self.tasks.n_tasks
            cells = self.tasks.errands[self.tasks.ptr[k]:self.tasks.ptr[k + 1]]
            self.ongoing[self.task_id] = _Task(self.task_id, [int(c) for c in cells])
            self.task_id += 1

    def valid(self, assignment: list[int]) -> bool:
        seen: set[int] = set()
        for a, j in enumerate(assignment):
            if j != -1 and j not in self.ongoing:
                return False
            if j != -1 and j in seen:
                return False
            cur = self.current[a]
            if cur != -1 and self.ongoing[cur].idx_next_loc > 0 and j != cur:
                return False
            if j != -1:
                seen.add(j)
        return True

    def update(self, cells: list[int], assignment: list[int], t: int) -> int:
        """One step: set the assignment, check errands, reveal; return tasks finished."""
        if self.valid(assignment):
            for a in range(self.n):
                if self.current[a] >= 0:
                    self.ongoing[self.current[a]].agent_assigned = -1
            for a, j in enumerate(assignment):
                self.current[a] = j
                if j >= 0:
                    self.ongoing[j].agent_assigned = a
        else:
            self.errors += 1
        done = 0
        for a in range(self.n):
            j = self.current[a]
            if j != -1 and cells[a] == self.ongoing[j].locations[self.ongoing[j].idx_next_loc]:
                task = self.ongoing[j]
                task.idx_next_loc += 1
                if task.idx_next_loc == len(task.locations):
                    self.current[a] = -1
                    del self.ongoing[j]
                    done += 1
                self.events.append((t, a, j, task.idx_next_loc))
        self.finished += done
        self.reveal()
        return done


def follow(tasks: TaskList, positions: np.ndarray, schedule: np.ndarray
           ) -> tuple[list[int], list[tuple[int, int, int, int]], int]:
    """Tasks finished per step, errand events and refused steps, the slow way."""
    steps, n = positions.shape[0] - 1, positions.shape[1]
    tm = TaskManager(tasks, n)
    per_step = []
    for t in range(1, steps + 1):
        proposal = list(tm.current)
        for step, robot, task in schedule.tolist():
            if step == t:
                proposal[robot] = task
        per_step.append(tm.update([int(c) for c in positions[t]], proposal, t))
    return per_step, tm.events, tm.errors
