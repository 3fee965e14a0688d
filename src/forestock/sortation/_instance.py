"""Problems for the planner: a map, robots, and where their tasks come from.

Two sources of tasks:

- :class:`TaskList`: a competition task file; robot ``i``'s tasks are
  entries ``i, i + n, i + 2n, ...`` (``roundrobin``, the 2023 rule) or the
  next unassigned entry when it becomes free (``greedy``); under the 2024
  rule (``schedule``) a pool of tasks is revealed and the planner assigns
  them. A task is a sequence of errand cells visited in order (one in 2023).
- :class:`ParcelFlow`: a sortation centre; a robot fetches a parcel at an
  induction station, carries it to a drop cell of its destination's chute,
  and goes back for the next. Destinations are drawn from a mix.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from forestock.sortation._errors import InstanceError
from forestock.sortation._maps import DIRECTIONS, GridMap, read_map

__all__ = ["ActionModel", "ParcelFlow", "SortationProblem", "TaskList", "read_instance"]

log = logging.getLogger("forestock.sortation")

ActionModel = Literal["rotation", "four"]
"""``"rotation"``: forward, turn clockwise, turn counter-clockwise, wait (the
competition's MAPF_T). ``"four"``: move to any of the 4 neighbours, or wait."""

DEFAULT_STEPS = 5000


@dataclass(frozen=True)
class TaskList:
    """Tasks from a file: task ``k``'s errands are ``errands[ptr[k]:ptr[k + 1]]``.

    A robot visits a task's errands in order, at most one a step; the task
    is finished at the step it stands on the last.

    Parameters
    ----------
    errands
        ``int32`` cells, the errands of all tasks in order.
    ptr
        ``int64`` [tasks + 1] offsets into ``errands``.
    assignment
        The 2023 rules: ``"roundrobin"`` (robot i takes tasks i, i + n, ...)
        or ``"greedy"`` (a free robot takes the next unassigned task). The
        2024 rules, ``"schedule"``: ``int(reveal * robots)`` tasks are
        revealed at a time (a new one, the next in the file, each time one
        is finished) and the planner assigns them; a task nobody has started
        may be taken back and given to another robot.
    reveal
        ``"schedule"``: tasks revealed per robot (``numTasksReveal``).
    """

    errands: np.ndarray = field(repr=False)
    ptr: np.ndarray = field(repr=False)
    assignment: Literal["roundrobin", "greedy", "schedule"] = "roundrobin"
    reveal: float = 1.0

    def __post_init__(self) -> None:
        if self.assignment not in ("roundrobin", "greedy", "schedule"):
            raise ValueError(f"assignment must be 'roundrobin', 'greedy' or 'schedule', got "
                             f"{self.assignment!r}")
        if self.ptr.size < 2 or (np.diff(self.ptr) < 1).any():
            raise ValueError("a task list needs at least one task, each of >= 1 errand")
        if not self.reveal > 0:
            raise ValueError(f"reveal must be > 0, got {self.reveal}")

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return int(self.ptr.size - 1)

    @property
    def year(self) -> int:
        """The competition whose rules the list follows: 2023 or 2024 (``"schedule"``)."""
        return 2024 if self.assignment == "schedule" else 2023

    def revealed(self, n_agents: int) -> int:
        """Tasks revealed at a time for ``n_agents`` robots, as the 2024 competition counts.

        The competition multiplies in single precision and truncates
        (``int(numTasksReveal * teamSize)``).
        """
        return int(np.float32(self.reveal) * np.float32(n_agents))


@dataclass(frozen=True)
class ParcelFlow:
    """Parcels of a sortation centre.

    Parameters
    ----------
    induction
        ``int32`` cells where robots are loaded.
    drops
        ``int32`` drop cells of all chutes; chute ``k``'s are
        ``drops[drop_ptr[k]:drop_ptr[k + 1]]``.
    drop_ptr
        ``int64`` [chutes + 1].
    chute_share
        ``float64`` [chutes]: share of parcels bound for each chute (adds up to 1).
    step_seconds
        Seconds of one step (one cell of travel, or one quarter turn).
    chute_dest
        ``int32`` [chutes]: destination of each chute. A parcel's destination
        is drawn by the shares of its chutes; the robot then takes it to the
        nearest drop cell of any chute of that destination. ``None``: every
        chute is a destination of its own.
    load_steps, drop_steps
        Steps a robot stands at its station while loaded, and at its drop
        cell while it tips the parcel into the chute.
    """

    induction: np.ndarray = field(repr=False)
    drops: np.ndarray = field(repr=False)
    drop_ptr: np.ndarray = field(repr=False)
    chute_share: np.ndarray = field(repr=False)
    step_seconds: float = 1.0
    chute_dest: np.ndarray | None = field(default=None, repr=False)
    load_steps: int = 0
    drop_steps: int = 0

    def __post_init__(self) -> None:
        if self.induction.size == 0:
            raise ValueError("a parcel flow needs at least one induction cell")
        if self.drop_ptr.size != self.chute_share.size + 1 or (np.diff(self.drop_ptr) < 1).any():
            raise ValueError("every chute needs at least one drop cell and a share")
        s = self.chute_share
        if (s < 0).any() or not np.isclose(s.sum(), 1.0):
            raise ValueError(f"chute_share must be >= 0 and add up to 1, got sum {s.sum()}")
        if not self.step_seconds > 0:
            raise ValueError(f"step_seconds must be > 0, got {self.step_seconds}")
        if self.chute_dest is not None and (self.chute_dest.shape != s.shape
                                            or (self.chute_dest < 0).any()):
            raise ValueError("chute_dest must give every chute a destination >= 0")
        if not (0 <= self.load_steps <= 100 and 0 <= self.drop_steps <= 100):
            raise ValueError(f"load_steps and drop_steps must be in 0..100, got "
                             f"{self.load_steps}, {self.drop_steps}")

    def destinations(self) -> np.ndarray:
        """``int64`` [chutes]: destination of each chute (its own index when not grouped)."""
        if self.chute_dest is None:
            return np.arange(self.chute_share.size, dtype=np.int64)
        return self.chute_dest.astype(np.int64)


@dataclass(frozen=True)
class SortationProblem:
    """A map, a fleet and its tasks, for a number of steps.

    Parameters
    ----------
    name
        A label (the instance file's stem).
    grid
        The map.
    starts
        ``int32`` [robots]: start cells.
    headings
        ``int8`` [robots]: start headings, 0 = east, 1 = south, 2 = west, 3 = north.
    tasks
        Where tasks come from.
    steps
        Number of steps to run.
    model
        ``"rotation"`` or ``"four"`` (see :data:`ActionModel`).
    lanes
        One-way lanes: ``uint8`` [cells], bit ``d`` set where a robot may
        move out of the cell in direction ``d`` (0 east, 1 south, 2 west, 3
        north); turning in place is always allowed. ``None``: every move.
    """

    name: str
    grid: GridMap
    starts: np.ndarray = field(repr=False)
    headings: np.ndarray = field(repr=False)
    tasks: TaskList | ParcelFlow
    steps: int = DEFAULT_STEPS
    model: ActionModel = "rotation"
    lanes: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.model not in ("rotation", "four"):
            raise ValueError(f"model must be 'rotation' or 'four', got {self.model!r}")
        if self.starts.shape != self.headings.shape or self.starts.ndim != 1:
            raise ValueError("starts and headings must be 1-d arrays of one length")
        if self.starts.size == 0:
            raise ValueError("a problem needs at least one robot")
        free = self.grid.free
        _check_cells(self.starts, free, self.grid, "start of robot")
        if np.unique(self.starts).size != self.starts.size:
            _, first = np.unique(self.starts, return_index=True)
            dup = np.setdiff1d(np.arange(self.starts.size), first)[0]
            raise InstanceError(f"robot {dup} starts in cell {self.starts[dup]}, where another "
                                f"robot starts")
        if ((self.headings < 0) | (self.headings > 3)).any():
            raise InstanceError("headings must be 0..3 (east, south, west, north)")
        if self.lanes is not None and (self.lanes.shape != (self.grid.size,)
                                       or self.lanes.dtype != np.uint8 or (self.lanes > 15).any()):
            raise InstanceError(f"lanes must be uint8 [{self.grid.size}] bit masks of 0..15")
        t = self.tasks
        if isinstance(t, TaskList):
            _check_cells(t.errands, free, self.grid, "errand")
        else:
            _check_cells(t.induction, free, self.grid, "induction cell")
            _check_cells(t.drops, free, self.grid, "drop cell")

    @property
    def n_agents(self) -> int:
        """Number of robots."""
        return int(self.starts.size)

    def replace(self, **changes: object) -> SortationProblem:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _check_cells(cells: np.ndarray, free: np.ndarray, grid: GridMap, what: str) -> None:
    off = (cells < 0) | (cells >= grid.size)
    if off.any():
        k = int(np.flatnonzero(off)[0])
        raise InstanceError(f"{what} {k}: cell {cells[k]} is off the {grid.height}x{grid.width} "
                            f"map {grid.name}")
    blocked = ~free[cells]
    if blocked.any():
        k = int(np.flatnonzero(blocked)[0])
        r, c = divmod(int(cells[k]), grid.width)
        raise InstanceError(f"{what} {k}: cell {cells[k]} (row {r}, column {c}) is an obstacle "
                            f"of map {grid.name}")


def _read_lines(path: Path, what: str) -> tuple[list[str], list[tuple[int, str]]]:
    """Comment lines, and the other non-blank lines with their line numbers (1-based)."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        raise InstanceError(f"{what} file {path} does not exist") from None
    except UnicodeDecodeError:
        raise InstanceError(f"{what} file {path} is not ASCII text") from None
    comments = [ln for ln in lines if ln.startswith("#")]
    body = [(k + 1, ln.strip()) for k, ln in enumerate(lines)
            if ln.strip() and not ln.startswith("#")]
    return comments, body


def _count(path: Path, body: list[tuple[int, str]], what: str) -> int:
    """The count on the first line of a file of ``what``, checked against the lines after it."""
    if not body:
        raise InstanceError(f"{path.name}: empty; the first line must be the number of {what}")
    line, text = body[0]
    if not re.fullmatch(r"\d+", text):
        raise InstanceError(f"{path.name}, line {line}: {text!r} is not the number of {what}")
    n = int(text)
    if len(body) - 1 != n:
        raise InstanceError(f"{path.name}, line {line}: says {n} {what}, the file lists "
                            f"{len(body) - 1}")
    return n


def _read_agents(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Start cells, and the line of each."""
    _, body = _read_lines(path, "agents")
    _count(path, body, "agents")
    for line, text in body[1:]:
        if not re.fullmatch(r"-?\d+", text):
            raise InstanceError(f"{path.name}, line {line}: {text!r} is not a cell index")
    return (np.array([int(t) for _, t in body[1:]], dtype=np.int64),
            np.array([ln for ln, _ in body[1:]], dtype=np.int64))


@dataclass(frozen=True)
class _TaskFile:
    errands: np.ndarray
    ptr: np.ndarray
    lines: np.ndarray  # line of each task
    year: int | None  # from a "# version for LoRR <year>" header


def _read_tasks(path: Path) -> _TaskFile:
    comments, body = _read_lines(path, "tasks")
    m = _count(path, body, "tasks")
    year = None
    for c in comments:
        found = re.search(r"version for LoRR (\d{4})", c)
        if found:
            year = int(found.group(1))
    parts: list[int] = []
    ptr = [0]
    for line, text in body[1:]:
        if not re.fullmatch(r"-?\d+(\s*,\s*-?\d+)*\s*,?", text):
            raise InstanceError(f"{path.name}, line {line}: {text!r} is not a cell index or a "
                                f"comma-separated list of them")
        parts.extend(int(x) for x in text.split(",") if x.strip())
        ptr.append(len(parts))
    lines = np.array([ln for ln, _ in body[1:]], dtype=np.int64)
    if m == 0:
        raise InstanceError(f"{path.name}, line {body[0][0]}: no tasks")
    return _TaskFile(np.array(parts, dtype=np.int64), np.array(ptr, dtype=np.int64), lines, year)


def _check_lines(cells: np.ndarray, lines: np.ndarray, grid: GridMap, file: str, what: str
                 ) -> None:
    """Raise naming the file and line of the first cell off the map or on an obstacle."""
    off = (cells < 0) | (cells >= grid.size)
    blocked = ~off & ~grid.free[np.clip(cells, 0, grid.size - 1)]
    bad = np.flatnonzero(off | blocked)
    if not bad.size:
        return
    k = int(bad[0])
    c = int(cells[k])
    where = (f"is off the {grid.height}x{grid.width} map" if off[k] else
             "(row {}, column {}) is an obstacle of the map".format(*divmod(c, grid.width)))
    raise InstanceError(f"{file}, line {lines[k]}: {what} cell {c} {where}")


def _steps_for(path: Path) -> int | None:
    st = path.parent.parent / "simulation_time.json"
    if not st.exists():
        return None
    try:
        table = json.loads(st.read_text())
    except json.JSONDecodeError:
        return None
    for key, val in table.items():
        if path.stem == key or path.stem.endswith("-" + key) or path.stem.endswith(key):
            return int(val)
    return None


def _rules(spec: dict[str, object], name: str, task_year: int | None) -> int:
    """2023 or 2024: the competition whose rules an instance follows."""
    version = spec.get("version")
    year = task_year
    if version is not None:
        found = re.fullmatch(r"\s*(\d{4}) LoRR\s*", str(version))
        if not found:
            raise InstanceError(f"{name}: version {version!r} is not '<year> LoRR'")
        year = int(found.group(1))
    if year is None or year == 2023:
        return 2023
    if year != 2024:
        raise InstanceError(f"{name}: the {year} rules are not known (known: 2023, 2024)")
    if "taskAssignmentStrategy" in spec:
        raise InstanceError(f"{name}: taskAssignmentStrategy is a 2023 rule; under the 2024 "
                            f"rules the planner schedules the tasks")
    return 2024


def read_instance(path: str | Path, steps: int | None = None, model: ActionModel = "rotation"
                  ) -> SortationProblem:
    """Read a League of Robot Runners instance JSON and the files it names.

    A 2023 instance hands out tasks by its ``taskAssignmentStrategy``; a
    2024 one (``"version": "2024 LoRR"``, or a task file headed ``# version
    for LoRR 2024``) reveals ``numTasksReveal`` tasks per robot and leaves
    their assignment to the planner (a :class:`TaskList` of assignment
    ``"schedule"``).

    Parameters
    ----------
    path
        The instance JSON (``mapFile``, ``agentFile``, ``teamSize``,
        ``taskFile``, ``numTasksReveal``, ``taskAssignmentStrategy`` or
        ``version``).
    steps
        Steps to run; default: the instance's entry in
        ``../simulation_time.json`` where there is one, else 5,000.
    model
        The action model; the competitions use ``"rotation"``.

    Raises
    ------
    InstanceError, MapError
        A file is missing or malformed (the message names the file and
        line), an agent stands on an obstacle, a task lies off the map.
    """
    p = Path(path)
    try:
        spec = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError(f"instance file {p} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InstanceError(f"{p.name} is not JSON: {err}") from None
    if not isinstance(spec, dict):
        raise InstanceError(f"{p.name}: expected a JSON object")
    for key in ("mapFile", "agentFile", "taskFile", "teamSize"):
        if key not in spec:
            raise InstanceError(f"{p.name}: no {key!r} entry")
    grid = read_map(p.parent / spec["mapFile"])
    starts, start_lines = _read_agents(p.parent / spec["agentFile"])
    team = spec["teamSize"]
    if not isinstance(team, int) or not 1 <= team <= starts.size:
        raise InstanceError(f"{p.name}: teamSize {team!r} but the agent file lists "
                            f"{starts.size}")
    starts = starts[:team]
    _check_lines(starts, start_lines[:team], grid, spec["agentFile"], "start")
    tf = _read_tasks(p.parent / spec["taskFile"])
    _check_lines(tf.errands, np.repeat(tf.lines, np.diff(tf.ptr)), grid, spec["taskFile"],
                 "errand")
    if _rules(spec, p.name, tf.year) == 2024:
        reveal = spec.get("numTasksReveal", 1)
        if isinstance(reveal, bool) or not isinstance(reveal, int | float) or not reveal > 0:
            raise InstanceError(f"{p.name}: numTasksReveal must be a number > 0, got {reveal!r}")
        tasks = TaskList(tf.errands.astype(np.int32), tf.ptr, "schedule", float(reveal))
    else:
        strategy = spec.get("taskAssignmentStrategy", "greedy")
        if strategy not in ("roundrobin", "greedy"):
            raise InstanceError(f"{p.name}: unknown taskAssignmentStrategy {strategy!r} "
                                f"(known: 'roundrobin', 'greedy')")
        tasks = TaskList(tf.errands.astype(np.int32), tf.ptr, strategy)
    n_steps = steps if steps is not None else (_steps_for(p) or DEFAULT_STEPS)
    return SortationProblem(
        name=p.stem,
        grid=grid,
        starts=starts.astype(np.int32),
        headings=np.zeros(team, dtype=np.int8),
        tasks=tasks,
        steps=n_steps,
        model=model,
    )


def heading_code(ch: str) -> int:
    """0..3 for ``E``, ``S``, ``W``, ``N``."""
    i = DIRECTIONS.find(ch)
    if i < 0 or len(ch) != 1:
        raise ValueError(f"unknown heading {ch!r} (known: E, S, W, N)")
    return i
