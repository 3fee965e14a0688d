"""Write a planner run as a League of Robot Runners solution file (2023 or 2024 format).

The file holds what the competition's tools read (PlanViz shows it, and
:func:`forestock.sortation._replay.replay` checks it): ``actionModel``,
``teamSize``, ``start`` (``[row, col, heading]`` per robot), ``actualPaths``
(one comma-separated string of ``F``, ``R``, ``C``, ``W`` per robot),
``numTaskFinished``, ``makespan``, and as in published files
``plannerPaths``, ``plannerTimes``, ``sumOfCost``, ``AllValid`` and
``errors``. Then, by the instance's rules:

- 2023: ``events`` (per robot, ``[task id, step, "assigned" | "finished"]``)
  and ``tasks`` (``[task id, row, col]``, ids in the order the tasks were
  handed out), following the instance's assignment rule as the replay does.
- 2024 (``"version": "2024 LoRR"``): ``actualSchedule`` and
  ``plannerSchedule`` (per robot, ``"step:task,..."``: the task held from
  that step), ``events`` (``[step, robot, task, errands done]`` for each
  errand reached), ``tasks`` (``[task id, step revealed, [row, col, row,
  col, ...]]`` for every task revealed), ``scheduleErrors`` and the error
  counts, as the 2024 start kit writes them. The count is the replay's
  (:func:`forestock.sortation._replay.follow_schedule`) of the run's
  schedule, and must equal the planner's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from forestock.sortation._instance import SortationProblem, TaskList
from forestock.sortation._maps import DIRECTIONS
from forestock.sortation._pibt import SortationResult
from forestock.sortation._replay import follow_schedule, follow_tasks

__all__ = ["competition_solution", "writable", "write_solution"]

_LETTERS = np.frombuffer(b"FRCW", dtype=np.uint8)


def _action_strings(positions: np.ndarray, headings: np.ndarray) -> list[str]:
    """One ``"F,R,C,W"`` string per robot from [steps + 1, robots] cells and headings."""
    turn = (headings[1:].astype(np.int64) - headings[:-1]) % 4
    moved = positions[1:] != positions[:-1]
    if (moved & (turn != 0)).any() or (turn == 2).any():
        t, a = (int(x[0]) for x in np.nonzero((moved & (turn != 0)) | (turn == 2)))
        raise ValueError(f"robot {a}, step {t + 1}: moves and turns at once, or turns twice; "
                         f"not one MAPF_T action")
    code = np.where(moved, 0, np.where(turn == 1, 1, np.where(turn == 3, 2, 3)))
    steps, n = code.shape
    text = np.full((n, 2 * steps), ord(","), dtype=np.uint8)
    text[:, ::2] = _LETTERS[code.T]
    return [row[:-1].tobytes().decode("ascii") for row in text]


def writable(problem: SortationProblem) -> TaskList:
    """The task list of ``problem`` if its runs can be written as solutions.

    Raises
    ------
    ValueError
        The problem is not a competition one: not the rotation model, a
        parcel flow, or tasks of several errands under the 2023 rules (whose
        format has one cell a task).
    """
    tasks = problem.tasks
    if problem.model != "rotation":
        raise ValueError(f"model {problem.model!r}: only the rotation model (MAPF_T) is written")
    if not isinstance(tasks, TaskList):
        raise ValueError("only task lists (competition instances) are written, not parcel flows")
    if tasks.assignment != "schedule" and (np.diff(tasks.ptr) != 1).any():
        raise ValueError("tasks of several errands are written under the 2024 rules only (the "
                         "2023 format has one cell a task)")
    return tasks


def competition_solution(problem: SortationProblem, result: SortationResult) -> dict[str, Any]:
    """The run ``result`` of ``problem`` as a competition solution (a JSON-ready dict).

    Raises
    ------
    ValueError
        The problem is not a competition one (rotation model, a task list;
        one errand per task under the 2023 rules), or the run kept no paths,
        or its task count differs from the one its paths (and, under the
        2024 rules, its schedule) give under the instance's rules.
    """
    tasks = writable(problem)
    if result.positions is None or result.headings is None:
        raise ValueError("the run kept no paths; plan with SortationParams(record_paths=True)")
    w = problem.grid.width
    paths = _action_strings(result.positions, result.headings)
    common: dict[str, Any] = {
        "actionModel": "MAPF_T",
        "AllValid": "Yes",
        "teamSize": problem.n_agents,
        "start": [[int(c) // w, int(c) % w, DIRECTIONS[int(h)]]
                  for c, h in zip(problem.starts, problem.headings, strict=True)],
        "numTaskFinished": result.tasks_finished,
        "sumOfCost": problem.n_agents * result.steps,
        "makespan": result.steps,
        "actualPaths": paths,
        "plannerPaths": paths,
        "plannerTimes": [round(float(s), 6) for s in result.plan_seconds],
        "errors": [],
    }
    if tasks.assignment == "schedule":
        return {**common, "version": "2024 LoRR",
                **_fields_2024(problem, result, tasks, result.positions)}
    return {**common, **_fields_2023(problem, result, tasks, result.positions)}


def _fields_2023(problem: SortationProblem, result: SortationResult, tasks: TaskList,
                 positions: np.ndarray) -> dict[str, Any]:
    """``events`` and ``tasks`` of a 2023 solution, by the instance's assignment rule."""
    finished, log = follow_tasks(tasks, positions)
    if int(finished.sum()) != result.tasks_finished:
        raise ValueError(f"the paths finish {int(finished.sum())} tasks under the "
                         f"{tasks.assignment!r} rule, the planner counted "
                         f"{result.tasks_finished}")
    w = problem.grid.width
    assigned = log[:, 3] == 0
    ids = np.full(log.shape[0], -1, dtype=np.int64)
    ids[assigned] = np.arange(int(assigned.sum()))
    # a finish belongs to the robot's latest assignment: carry ids forward per robot
    order = np.lexsort((np.arange(log.shape[0]), log[:, 0]))
    carried = ids[order]
    idx = np.where(carried >= 0, np.arange(carried.size), 0)
    np.maximum.accumulate(idx, out=idx)
    ids[order] = carried[idx]
    kinds = ("assigned", "finished")
    events: list[list[list[Any]]] = [[] for _ in range(problem.n_agents)]
    for (robot, _, step, kind), k in zip(log.tolist(), ids.tolist(), strict=True):
        events[robot].append([k, step, kinds[kind]])
    cells = tasks.errands[log[assigned, 1]].astype(np.int64)
    task_rows = [[k, c // w, c % w] for k, c in enumerate(cells.tolist())]
    return {"events": events, "tasks": task_rows}


def _fields_2024(problem: SortationProblem, result: SortationResult, tasks: TaskList,
                 positions: np.ndarray) -> dict[str, Any]:
    """Schedules, errand events and revealed tasks of a 2024 solution."""
    if result.schedule is None:
        raise ValueError("the run kept no schedule; a 2024 instance's run records one")
    finished, events, errors, why = follow_schedule(tasks, positions, result.schedule)
    if errors or int(finished.sum()) != result.tasks_finished:
        raise ValueError(f"the paths and schedule finish {int(finished.sum())} tasks under the "
                         f"2024 rules ({errors} refused assignments{': ' if why else ''}"
                         f"{'; '.join(why)}), the planner counted {result.tasks_finished}")
    n, w = problem.n_agents, problem.grid.width
    per_robot: list[list[str]] = [[] for _ in range(n)]
    for step, robot, task in result.schedule.tolist():
        per_robot[robot].append(f"{step}:{task}")
    schedule = [",".join(x) for x in per_robot]
    pool = tasks.revealed(n)
    revealed = np.concatenate([np.zeros(pool, dtype=np.int64),
                               np.repeat(np.arange(1, finished.size + 1), finished)])
    rows = []
    for k, step in enumerate(revealed.tolist()):
        f = k % tasks.n_tasks
        cells = tasks.errands[tasks.ptr[f]:tasks.ptr[f + 1]].astype(np.int64)
        rows.append([k, step, np.stack(np.divmod(cells, w), axis=1).ravel().tolist()])
    return {
        "numPlannerErrors": 0,
        "numScheduleErrors": 0,
        "numEntryTimeouts": 0,
        "actualSchedule": schedule,
        "plannerSchedule": schedule,
        "scheduleErrors": [],
        "events": events.tolist(),
        "tasks": rows,
    }


def write_solution(problem: SortationProblem, result: SortationResult, path: str | Path
                   ) -> Path:
    """Write :func:`competition_solution` of the run to ``path`` (JSON); return the path."""
    p = Path(path)
    data = competition_solution(problem, result)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"))
    return p
