"""Fixtures of the sortation tests: small generated maps and the competition data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forestock.sortation import SortationProblem, TaskList, parse_map
from tests.conftest import SHARED

LORR = SHARED / "data" / "lorr"
TR23 = LORR / "2023 Competition" / "Test Round Evaluation Instances"
LORR24 = LORR / "2024 Competition"


def lorr_path(*parts: str) -> Path:
    """A path under the competition data, or skip the test where it is absent."""
    p = TR23.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"League of Robot Runners data not found at {p} (../shared is absent)")
    return p


def lorr24_path(*parts: str) -> Path:
    """A path under the 2024 competition data, or skip the test where it is absent."""
    p = LORR24.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is absent (not in this copy of the League of Robot Runners data, "
                    f"../shared/data/lorr)")
    return p


def random_problem(seed: int, robots: int = 12, steps: int = 120, model: str = "rotation",
                   height: int = 12, width: int = 16, obstacles: float = 0.15,
                   tasks: int = 200) -> SortationProblem:
    """A random grid with ring corridors kept open, robots and single-errand tasks."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(height):
        row = ["@" if rng.random() < obstacles else "." for _ in range(width)]
        if r in (0, height - 1) or r % 3 == 0:
            row = ["."] * width
        row[0] = row[-1] = "."
        rows.append("".join(row))
    grid = parse_map(f"type octile\nheight {height}\nwidth {width}\nmap\n" + "\n".join(rows))
    free = np.flatnonzero(grid.free)
    starts = rng.choice(free, size=robots, replace=False).astype(np.int32)
    errands = rng.choice(free, size=tasks).astype(np.int32)
    return SortationProblem(
        name=f"random-{seed}", grid=grid, starts=starts,
        headings=rng.integers(0, 4, size=robots).astype(np.int8),
        tasks=TaskList(errands, np.arange(tasks + 1, dtype=np.int64)), steps=steps,
        model=model,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def open_room() -> SortationProblem:
    """An 8 x 10 room without obstacles, 6 robots facing east, 40 steps."""
    return random_problem(1, robots=6, steps=40, height=8, width=10, obstacles=0.0, tasks=50)
