"""Replay a published League of Robot Runners solution and count what it finished.

The solution's executed actions (``actualPaths``) are applied step by step
under the rotation model from the instance's start cells; tasks follow the
instance's assignment rule, and a task is finished at the first step its
robot stands on its cell. Every conflict found by :func:`find_conflicts`
is reported, not raised.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forestock.sortation._errors import SolutionError
from forestock.sortation._instance import SortationProblem, TaskList
from forestock.sortation._validate import find_conflicts

__all__ = ["ReplayResult", "follow_tasks", "load_solution", "replay"]

_ACTIONS = "FRCW"
_CODE = np.full(256, -1, dtype=np.int8)
for _k, _ch in enumerate(_ACTIONS):
    _CODE[ord(_ch)] = _k
_DR = np.array([0, 1, 0, -1])
_DC = np.array([1, 0, -1, 0])


@dataclass(frozen=True)
class ReplayResult:
    """What a published solution does when replayed.

    Attributes
    ----------
    tasks_finished
        Tasks finished by the replay.
    published
        The solution's own ``numTaskFinished`` (None if absent).
    conflicts
        Number of broken rules found.
    first_conflicts
        Messages of the first few.
    """

    name: str
    steps: int
    n_agents: int
    tasks_finished: int
    published: int | None
    conflicts: int
    first_conflicts: tuple[str, ...]
    finished_per_step: np.ndarray = field(repr=False)
    positions: np.ndarray = field(repr=False)
    headings: np.ndarray = field(repr=False)


def load_solution(path: str | Path) -> dict[str, Any]:
    """Read a solution ``.json`` or ``.json.zip`` (one JSON member)."""
    p = Path(path)
    try:
        if p.suffix == ".zip":
            with zipfile.ZipFile(p) as z:
                members = [m for m in z.namelist() if m.endswith(".json")]
                if len(members) != 1:
                    raise SolutionError(f"{p.name}: expected one .json inside, found "
                                        f"{len(members)}")
                raw = z.read(members[0])
        else:
            raw = p.read_bytes()
        data = json.loads(raw)
    except FileNotFoundError:
        raise SolutionError(f"solution file {p} does not exist") from None
    except zipfile.BadZipFile:
        raise SolutionError(f"{p.name} is not a zip file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SolutionError(f"{p.name} is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise SolutionError(f"{p.name}: expected a JSON object")
    return data


def _actions(paths: list[Any], name: str) -> np.ndarray:
    rows = []
    for a, text in enumerate(paths):
        if not isinstance(text, str):
            raise SolutionError(f"{name}: actualPaths of robot {a} is not a string")
        raw = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)
        if raw.size and raw[-1] == ord(","):
            raw = raw[:-1]
        if raw.size == 0:
            rows.append(np.empty(0, dtype=np.int8))
            continue
        if (raw.size % 2 == 1) and (raw[1::2] == ord(",")).all():
            codes = _CODE[raw[::2]]
        else:
            toks = text.strip(",").split(",")
            codes = np.array([_CODE[ord(t)] if len(t) == 1 and ord(t) < 256 else -1
                              for t in toks], dtype=np.int8)
            raw = np.frombuffer(",".join(t if len(t) == 1 else "?" for t in toks).encode(
                "ascii", "replace"), dtype=np.uint8)
        bad = np.flatnonzero(codes < 0)
        if bad.size:
            k = int(bad[0])
            tok = text.strip(",").split(",")[k]
            raise SolutionError(f"{name}: robot {a}, step {k + 1}: unknown action {tok!r} "
                                f"(the rotation model knows {', '.join(_ACTIONS)})")
        rows.append(codes)
    steps = min(r.size for r in rows)
    return np.stack([r[:steps] for r in rows], axis=1)  # [steps, robots]


def follow_tasks(tasks: TaskList, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand out ``tasks`` by their rule along ``positions`` and count what is finished.

    Robot ``i`` starts on task ``i`` (modulo the tasks). A robot standing on
    its next errand's cell after a step moves on to the errand after it;
    after the last, the task is finished and the robot takes its next task
    in the same step: ``i + n, i + 2n, ...`` under ``"roundrobin"``, the next
    unhanded task under ``"greedy"`` (robots in index order).

    Parameters
    ----------
    tasks
        The task list and its assignment rule.
    positions
        [steps + 1, robots] cells; row 0 is the start.

    Returns
    -------
    finished : np.ndarray
        ``int64`` [steps]: tasks finished at each step.
    log : np.ndarray
        ``int64`` [events, 4] rows ``(robot, task, step, kind)`` in the order
        they happen, ``kind`` 0 for assigned and 1 for finished, ``task`` an
        index into ``tasks``.
    """
    steps, n = positions.shape[0] - 1, positions.shape[1]
    m = tasks.n_tasks
    robots = np.arange(n, dtype=np.int64)
    task = robots % m
    count = np.ones(n, dtype=np.int64)
    handed = n  # greedy: tasks handed out so far
    errand = np.zeros(n, dtype=np.int64)
    finished = np.zeros(steps, dtype=np.int64)
    logs = [np.stack([robots, task, np.zeros(n, np.int64), np.zeros(n, np.int64)], axis=1)]
    for t in range(steps):
        goal = tasks.errands[tasks.ptr[task] + errand]
        hit = robots[positions[t + 1] == goal]
        if not hit.size:
            continue
        errand[hit] += 1
        done = hit[tasks.ptr[task[hit]] + errand[hit] == tasks.ptr[task[hit] + 1]]
        if not done.size:
            continue
        finished[t] = done.size
        old = task[done]
        if tasks.assignment == "roundrobin":
            task[done] = (done + count[done] * n) % m
            count[done] += 1
        else:
            task[done] = (handed + np.arange(done.size)) % m
            handed += done.size
        errand[done] = 0
        at = np.full(done.size, t + 1, dtype=np.int64)
        logs.append(np.stack([done, old, at, np.ones_like(at)], axis=1))
        logs.append(np.stack([done, task[done], at, np.zeros_like(at)], axis=1))
    return finished, np.concatenate(logs)


def replay(problem: SortationProblem, solution: str | Path | dict[str, Any],
           max_messages: int = 5) -> ReplayResult:
    """Replay ``solution`` on ``problem``; count tasks finished and conflicts.

    Raises
    ------
    SolutionError
        The solution is unreadable, uses another action model or unknown
        actions, or does not start where the instance's robots start.
    """
    name = Path(solution).name if isinstance(solution, str | Path) else "solution"
    data = solution if isinstance(solution, dict) else load_solution(solution)
    model = data.get("actionModel")
    if model != "MAPF_T":
        raise SolutionError(f"{name}: action model {model!r}; only 'MAPF_T' (forward, turns, "
                            f"wait) is replayed")
    tasks = problem.tasks
    if not isinstance(tasks, TaskList):
        raise SolutionError("solutions are replayed on competition instances (task lists)")
    if tasks.assignment != "roundrobin":
        raise SolutionError(f"{name}: only the 2023 'roundrobin' task assignment is replayed")
    n = problem.n_agents
    if data.get("teamSize") != n:
        raise SolutionError(f"{name}: teamSize {data.get('teamSize')} but the instance has {n} "
                            f"robots")
    paths = data.get("actualPaths")
    if not isinstance(paths, list) or len(paths) != n:
        raise SolutionError(f"{name}: actualPaths must list one string per robot")
    w = problem.grid.width
    start = data.get("start")
    if not isinstance(start, list) or len(start) != n:
        raise SolutionError(f"{name}: start must list [row, col, heading] per robot")
    try:
        sr = np.array([s[0] for s in start], dtype=np.int64)
        sc = np.array([s[1] for s in start], dtype=np.int64)
        sh = np.array(["ESWN".index(s[2]) for s in start], dtype=np.int64)
    except (ValueError, TypeError, IndexError):
        raise SolutionError(f"{name}: start entries must be [row, col, E|S|W|N]") from None
    differ = np.flatnonzero(sr * w + sc != problem.starts)
    if differ.size:
        a = int(differ[0])
        raise SolutionError(f"{name}: robot {a} starts at row {sr[a]}, column {sc[a]}, the "
                            f"instance puts it in cell {problem.starts[a]}")
    acts = _actions(paths, name)
    steps = acts.shape[0]
    h, wd = problem.grid.height, w
    positions = np.empty((steps + 1, n), dtype=np.int64)
    headings = np.empty((steps + 1, n), dtype=np.int8)
    r, c, hd = sr.copy(), sc.copy(), sh.copy()
    positions[0] = r * wd + c
    headings[0] = hd
    for t in range(steps):
        a = acts[t]
        fw = a == 0
        r = np.where(fw, r + _DR[hd], r)
        c = np.where(fw, c + _DC[hd], c)
        hd = np.where(a == 1, (hd + 1) % 4, np.where(a == 2, (hd + 3) % 4, hd))
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < wd)
        positions[t + 1] = np.where(inside, r * wd + c, -1)
        headings[t + 1] = hd
    finished, _ = follow_tasks(tasks, positions)
    found = find_conflicts(problem.grid, positions, headings, lanes=problem.lanes)
    published = data.get("numTaskFinished")
    return ReplayResult(
        name=problem.name, steps=steps, n_agents=n, tasks_finished=int(finished.sum()),
        published=int(published) if isinstance(published, int) else None,
        conflicts=len(found), first_conflicts=tuple(str(e) for e in found[:max_messages]),
        finished_per_step=finished, positions=positions, headings=headings,
    )
