"""Robot sortation: lifelong multi-agent path finding on grid maps.

Maps in the MovingAI / League of Robot Runners format, generated sortation
centres, a PIBT planner with a numba kernel, an independent path checker,
replay of published competition solutions, the planner's runs written as
solutions in the competition's format, and fleet sizing for a warehouse's
peak hour.
"""

from __future__ import annotations

from forestock.sortation._errors import InstanceError, MapError, PathError, SolutionError
from forestock.sortation._instance import (
    ActionModel,
    ParcelFlow,
    SortationProblem,
    TaskList,
    read_instance,
)
from forestock.sortation._maps import GridMap, parse_map, read_map
from forestock.sortation._pibt import SortationParams, SortationResult, solve_sortation
from forestock.sortation._solution import competition_solution, write_solution
from forestock.sortation._validate import find_conflicts, validate_paths

__all__ = [
    "ActionModel",
    "GridMap",
    "InstanceError",
    "MapError",
    "ParcelFlow",
    "PathError",
    "SolutionError",
    "SortationParams",
    "SortationProblem",
    "SortationResult",
    "TaskList",
    "competition_solution",
    "find_conflicts",
    "parse_map",
    "read_instance",
    "read_map",
    "solve_sortation",
    "validate_paths",
    "write_solution",
]
