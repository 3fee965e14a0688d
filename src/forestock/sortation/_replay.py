"""Replay a published League of Robot Runners solution and count what it finished.

The solution's executed actions (``actualPaths``) are applied step by step
under the rotation model from the instance's start cells (``T``, a step the
planner ran out of time, is a wait). Under the 2023 rules tasks follow the
instance's assignment rule, and a task is finished at the first step its
robot stands on its cell. Under the 2024 rules the solution's
``actualSchedule`` says which task each robot holds from which step; the
robot visits the task's errands in order, one a step, and the task is
finished at the step it stands on the last, as the competition's
``TaskManager`` counts. Every conflict found by :func:`find_conflicts`, and
every assignment the 2024 rules forbid, is reported, not raised.
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

__all__ = ["ReplayResult", "follow_schedule", "follow_tasks", "load_solution", "parse_schedule",
           "replay"]

_ACTIONS = "FRCW"
_CODE = np.full(256, -1, dtype=np.int8)
for _k, _ch in enumerate(_ACTIONS):
    _CODE[ord(_ch)] = _k
_CODE[ord("T")] = 3  # the planner ran out of time: every robot waits
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
        Number of broken rules found (paths, and 2024 assignments).
    first_conflicts
        Messages of the first few.
    events
        ``int64`` [events, 4] rows ``(step, robot, task, errands done)``:
        each errand reached, as the 2024 competition logs it (2024 rules;
        empty under 2023).
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
    events: np.ndarray = field(default_factory=lambda: np.empty((0, 4), np.int64), repr=False)


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
                                f"(the rotation model knows {', '.join(_ACTIONS)}, and T: "
                                f"a timed-out wait)")
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


def parse_schedule(entries: list[Any], n_agents: int, name: str = "solution") -> np.ndarray:
    """Read an ``actualSchedule``: per robot, a string ``"step:task,step:task,..."``.

    Returns
    -------
    np.ndarray
        ``int64`` [changes, 3] rows ``(step, robot, task)``, by step then
        robot: from ``step`` on, ``robot`` holds ``task`` (-1: none).

    Raises
    ------
    SolutionError
        Not one string per robot, or an entry that is not ``step:task``, or
        steps that do not increase.
    """
    if not isinstance(entries, list) or len(entries) != n_agents:
        raise SolutionError(f"{name}: actualSchedule must list one string per robot")
    rows: list[tuple[int, int, int]] = []
    for a, text in enumerate(entries):
        if not isinstance(text, str):
            raise SolutionError(f"{name}: actualSchedule of robot {a} is not a string")
        last = 0
        for k, item in enumerate(x for x in text.split(",") if x.strip()):
            step, sep, task = item.partition(":")
            try:
                t, j = int(step), int(task)
            except ValueError:
                raise SolutionError(f"{name}: actualSchedule of robot {a}, entry {k}: {item!r} "
                                    f"is not step:task") from None
            if not sep or t <= last or j < -1:
                raise SolutionError(f"{name}: actualSchedule of robot {a}, entry {k}: {item!r} "
                                    f"(steps must increase from 1, tasks be >= -1)")
            last = t
            rows.append((t, a, j))
    out = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def follow_schedule(tasks: TaskList, positions: np.ndarray, schedule: np.ndarray,
                    max_messages: int = 5) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Count the tasks finished along ``positions`` under the 2024 rules and ``schedule``.

    As the competition's ``TaskManager``: ``tasks.revealed(robots)`` tasks
    are revealed before the first step, task ``k`` being the file's entry
    ``k`` modulo the tasks; at each step ``t`` (from 1) the assignment
    changes of ``schedule`` at ``t`` take effect, then each robot holding a
    task and standing on its next errand moves on to the errand after it
    (finishing the task after the last), then new tasks are revealed until
    as many are unfinished as at the start. A step's changes are refused,
    all of them, when one gives a task not revealed or already finished,
    gives one task to two robots, or takes a robot off a task it has
    started.

    Parameters
    ----------
    tasks
        The instance's tasks (any assignment rule; the reveal count is theirs).
    positions
        [steps + 1, robots] cells; row 0 is the start.
    schedule
        ``int64`` [changes, 3] rows ``(step, robot, task)``, by step (see
        :func:`parse_schedule`).

    Returns
    -------
    finished : np.ndarray
        ``int64`` [steps]: tasks finished at each step.
    events : np.ndarray
        ``int64`` [events, 4] rows ``(step, robot, task, errands done)``.
    errors : int
        Steps whose changes were refused.
    messages : list of str
        The first ``max_messages`` reasons.
    """
    steps, n = positions.shape[0] - 1, positions.shape[1]
    m = tasks.n_tasks
    pool = tasks.revealed(n)
    cap = pool + 1024
    state = np.zeros(cap, dtype=np.int8)  # 0 hidden, 1 revealed, 2 finished
    state[:pool] = 1
    revealed = pool
    holding = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.int64)  # errands done of the task held
    finished = np.zeros(steps, dtype=np.int64)
    logs: list[np.ndarray] = []
    errors = 0
    messages: list[str] = []
    cut = np.searchsorted(schedule[:, 0], np.arange(1, steps + 2))
    for t in range(1, steps + 1):
        ch = schedule[cut[t - 1]:cut[t]]
        if ch.size:
            problem = _refused(ch, holding, done, state, revealed)
            if problem:
                errors += 1
                if len(messages) < max_messages:
                    messages.append(f"schedule error at step {t}: {problem}")
            else:
                done[ch[:, 1]] = np.where(holding[ch[:, 1]] == ch[:, 2], done[ch[:, 1]], 0)
                holding[ch[:, 1]] = ch[:, 2]
        who = np.flatnonzero(holding >= 0)
        k = holding[who] % m
        hit = positions[t, who] == tasks.errands[tasks.ptr[k] + done[who]]
        who, k = who[hit], k[hit]
        if who.size:
            done[who] += 1
            logs.append(np.stack([np.full(who.size, t), who, holding[who], done[who]], axis=1))
            over = who[tasks.ptr[k] + done[who] == tasks.ptr[k + 1]]
            if over.size:
                finished[t - 1] = over.size
                state[holding[over]] = 2
                holding[over] = -1
                done[over] = 0
                if revealed + over.size > state.size:
                    state = np.concatenate([state, np.zeros(state.size + over.size, np.int8)])
                state[revealed:revealed + over.size] = 1
                revealed += over.size
    events = np.concatenate(logs) if logs else np.empty((0, 4), dtype=np.int64)
    return finished, events, errors, messages


def _refused(ch: np.ndarray, holding: np.ndarray, done: np.ndarray, state: np.ndarray,
             revealed: int) -> str:
    """Why the competition refuses a step's assignment changes ``ch``, or ``""``."""
    for _, a, j in ch.tolist():
        if j >= 0 and (j >= revealed or state[j] != 1):
            return f"robot {a} is given task {j}, " + (
                "not revealed" if j >= revealed else "already finished")
        if holding[a] >= 0 and done[a] > 0 and j != holding[a]:
            return f"robot {a} is taken off task {holding[a]}, which it has started"
    after = holding.copy()
    after[ch[:, 1]] = ch[:, 2]
    held = np.sort(after[after >= 0])
    twice = held[1:][held[1:] == held[:-1]]
    if twice.size:
        both = np.flatnonzero(after == twice[0])
        return f"task {twice[0]} is given to robots {both[0]} and {both[1]}"
    return ""


def replay(problem: SortationProblem, solution: str | Path | dict[str, Any],
           max_messages: int = 5) -> ReplayResult:
    """Replay ``solution`` on ``problem``; count tasks finished and conflicts.

    A 2023 instance (``roundrobin``) hands out its tasks by its rule; a 2024
    one (``schedule``) follows the solution's ``actualSchedule``.

    Raises
    ------
    SolutionError
        The solution is unreadable, uses another action model or unknown
        actions, does not start where the instance's robots start, or is a
        2024 one without its ``actualSchedule``.
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
    if tasks.assignment == "greedy":
        raise SolutionError(f"{name}: the 2023 'greedy' task assignment is not replayed (known: "
                            f"2023 'roundrobin', and the 2024 rules)")
    n = problem.n_agents
    if data.get("teamSize") != n:
        raise SolutionError(f"{name}: teamSize {data.get('teamSize')} but the instance has {n} "
                            f"robots")
    paths = data.get("actualPaths")
    if not isinstance(paths, list) or len(paths) != n:
        raise SolutionError(f"{name}: actualPaths must list one string per robot")
    schedule = None
    if tasks.assignment == "schedule":
        if "actualSchedule" not in data:
            raise SolutionError(f"{name}: no actualSchedule; under the 2024 rules the tasks a "
                                f"robot finishes depend on the tasks it held (the competition "
                                f"writes it when run with --outputScreen 1)")
        schedule = parse_schedule(data["actualSchedule"], n, name)
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
    found = [str(e) for e in find_conflicts(problem.grid, positions, headings,
                                             lanes=problem.lanes)]
    conflicts = len(found)
    events = np.empty((0, 4), dtype=np.int64)
    if schedule is not None:
        finished, events, errors, why = follow_schedule(tasks, positions, schedule,
                                                        max_messages)
        conflicts += errors
        found = why + found
    else:
        finished, _ = follow_tasks(tasks, positions)
    published = data.get("numTaskFinished")
    return ReplayResult(
        name=problem.name, steps=steps, n_agents=n, tasks_finished=int(finished.sum()),
        published=int(published) if isinstance(published, int) else None,
        conflicts=conflicts, first_conflicts=tuple(found[:max_messages]),
        finished_per_step=finished, positions=positions, headings=headings, events=events,
    )
