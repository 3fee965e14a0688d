"""Errors of the sortation stage: bad maps, instances, solutions and paths."""

from __future__ import annotations

from forestock.errors import ForestockError

__all__ = ["InstanceError", "MapError", "PathError", "SolutionError"]


class MapError(ForestockError):
    """A grid map breaks the MovingAI / League of Robot Runners format.

    The message names the file, the line and the column.
    """

    def __init__(self, file: str, line: int, column: int, problem: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        where = f"line {line}" + (f", column {column}" if column > 0 else "")
        super().__init__(f"{file}, {where}: {problem}")


class InstanceError(ForestockError):
    """An instance (agents, tasks, JSON) is malformed or does not fit its map."""


class SolutionError(ForestockError):
    """A published solution cannot be read or uses actions the model does not know."""


class PathError(ForestockError):
    """Robot paths break the rules: a vertex or swap conflict, or an illegal move.

    Attributes
    ----------
    kind
        ``"vertex"`` (two robots in one cell), ``"swap"`` (two robots
        exchange cells), ``"obstacle"`` (a robot on an obstacle or off the
        map), ``"jump"`` (a move to a non-neighbour), ``"turn"`` (a heading
        change of more than 90 degrees, or while moving), ``"heading"``
        (a move against the robot's heading), or ``"lane"`` (a move against
        a one-way lane).
    step
        The step after which the rule is broken (0 is the start).
    agents
        The robots involved.
    cell
        The cell index (``row * width + col``) where it happens.
    """

    def __init__(self, kind: str, step: int, agents: tuple[int, ...], cell: int,
                 detail: str = "") -> None:
        self.kind = kind
        self.step = step
        self.agents = agents
        self.cell = cell
        who = " and ".join(f"robot {a}" for a in agents)
        super().__init__(f"{kind} conflict at step {step}: {who} at cell {cell}"
                         + (f" ({detail})" if detail else ""))
