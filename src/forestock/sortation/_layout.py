"""Generated sortation centres: induction stations on two edges, a field of chutes, aisles.

A centre is a grid: chutes are single holes (obstacles) on a regular pitch
with one-cell aisles between them; a robot drops its parcel from any free
cell beside the hole (an ``S`` cell). Induction stations (``E`` cells) sit
along the left and right edges, which stay open lanes (a station in a
dead end would trap the robot in it behind the next one). Each chute serves one destination region;
busier regions get more chutes, and the chutes nearest the stations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from forestock.sortation._instance import ParcelFlow, SortationProblem
from forestock.sortation._maps import GridMap

__all__ = ["Centre", "CentreParams", "build_centre", "centre_problem"]


@dataclass(frozen=True)
class CentreParams:
    """Shape of a generated centre.

    Parameters
    ----------
    chute_rows, chute_cols
        Chutes down and across the field.
    pitch
        Cells from one chute to the next (2: one aisle between chutes).
    margin
        Free cells between the field and the walls (queues and turning room).
    station_every
        One induction station every this many rows of the side walls.
    step_seconds
        Seconds per step: a robot crosses a cell, or turns a quarter, in one step.
    """

    chute_rows: int = 8
    chute_cols: int = 10
    pitch: int = 2
    margin: int = 3
    station_every: int = 2
    step_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.chute_rows < 1 or self.chute_cols < 1:
            raise ValueError(f"chute_rows and chute_cols must be >= 1, got {self.chute_rows}, "
                             f"{self.chute_cols}")
        if not 2 <= self.pitch <= 10:
            raise ValueError(f"pitch must be in 2..10, got {self.pitch}")
        if not 1 <= self.margin <= 20:
            raise ValueError(f"margin must be in 1..20, got {self.margin}")
        if not 1 <= self.station_every <= 20:
            raise ValueError(f"station_every must be in 1..20, got {self.station_every}")
        if not self.step_seconds > 0:
            raise ValueError(f"step_seconds must be > 0, got {self.step_seconds}")


@dataclass(frozen=True)
class Centre:
    """A generated centre.

    Attributes
    ----------
    grid
        The map (``E`` induction, ``S`` drop cells, ``@`` chutes and walls).
    induction
        ``int32`` induction cells.
    chutes
        ``int32`` chute (hole) cells, nearest to a station first.
    drops, drop_ptr
        Drop cells of chute ``k``: ``drops[drop_ptr[k]:drop_ptr[k + 1]]``.
    """

    params: CentreParams
    grid: GridMap
    induction: np.ndarray = field(repr=False)
    chutes: np.ndarray = field(repr=False)
    drops: np.ndarray = field(repr=False)
    drop_ptr: np.ndarray = field(repr=False)

    @property
    def n_chutes(self) -> int:
        """Number of chutes."""
        return int(self.chutes.size)

    def assign(self, parcels: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Map chutes to destinations in proportion to their parcels.

        Every destination with parcels gets at least one chute; the busiest
        get the chutes nearest the stations. Returns the destination of each
        chute (object array) and each chute's share of all parcels.

        Raises
        ------
        ValueError
            More destinations than chutes, or no parcels.
        """
        names = [k for k, v in parcels.items() if v > 0]
        vols = np.array([float(parcels[k]) for k in names])
        if vols.size == 0:
            raise ValueError("no destination has parcels")
        if vols.size > self.n_chutes:
            raise ValueError(f"{vols.size} destinations but only {self.n_chutes} chutes")
        order = np.argsort(-vols, kind="stable")
        names = [names[i] for i in order]
        vols = vols[order]
        extra = self.n_chutes - vols.size
        quota = vols / vols.sum() * extra
        count = 1 + np.floor(quota).astype(np.int64)
        left = extra - int(count.sum() - vols.size)
        count[np.argsort(-(quota - np.floor(quota)), kind="stable")[:left]] += 1
        # deal chutes nearest-first round robin, busiest destination first
        dest = np.empty(self.n_chutes, dtype=object)
        share = np.zeros(self.n_chutes)
        remaining = count.copy()
        k = 0
        while k < self.n_chutes:
            for j in range(vols.size):
                if remaining[j] > 0 and k < self.n_chutes:
                    dest[k] = names[j]
                    share[k] = vols[j] / vols.sum() / count[j]
                    remaining[j] -= 1
                    k += 1
        return dest, share / share.sum()


def build_centre(params: CentreParams | None = None) -> Centre:
    """Build a centre's grid with its stations, chutes and drop cells."""
    p = params or CentreParams()
    field_h = (p.chute_rows - 1) * p.pitch + 1
    field_w = (p.chute_cols - 1) * p.pitch + 1
    h = field_h + 2 * p.margin
    w = field_w + 2 * p.margin + 2
    chars = np.full((h, w), ord("."), dtype=np.uint8)
    rows = np.arange(1, h - 1, p.station_every)
    chars[rows, 0] = chars[rows, -1] = ord("E")
    cr = p.margin + np.arange(p.chute_rows) * p.pitch
    cc = 1 + p.margin + np.arange(p.chute_cols) * p.pitch
    rr, ccc = np.meshgrid(cr, cc, indexing="ij")
    chute = (rr * w + ccc).ravel()
    flat = chars.ravel()
    flat[chute] = ord("@")
    drops: list[np.ndarray] = []
    for cell in chute:
        r, c = divmod(int(cell), w)
        nb = [(r, c + 1), (r + 1, c), (r, c - 1), (r - 1, c)]
        drops.append(np.array([a * w + b for a, b in nb if flat[a * w + b] != ord("@")],
                              dtype=np.int64))
    for d in drops:
        flat[d] = ord("S")
    grid = GridMap(f"centre-{p.chute_rows}x{p.chute_cols}", h, w, flat.copy())
    induction = grid.cells_of("E")
    # the nearest chutes (to any station) first
    ir, ic = np.divmod(induction.astype(np.int64), w)
    kr, kc = np.divmod(chute.astype(np.int64), w)
    near = (np.abs(kr[:, None] - ir[None, :]) + np.abs(kc[:, None] - ic[None, :])).min(axis=1)
    order = np.lexsort((chute, near))
    drops = [drops[k] for k in order]
    ptr = np.zeros(len(drops) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([d.size for d in drops])
    return Centre(p, grid, induction, chute[order].astype(np.int32),
                  np.concatenate(drops).astype(np.int32), ptr)


def centre_problem(centre: Centre, robots: int, chute_share: np.ndarray, steps: int,
                   seed: int = 0, model: str = "rotation") -> SortationProblem:
    """A problem on ``centre`` with ``robots`` robots at random plain cells.

    Raises
    ------
    ValueError
        More robots than plain cells.
    """
    plain = np.flatnonzero(centre.grid.chars == ord("."))
    if not 1 <= robots <= plain.size:
        raise ValueError(f"robots must be in 1..{plain.size} (plain cells of the centre), got "
                         f"{robots}")
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(plain, size=robots, replace=False)).astype(np.int32)
    flow = ParcelFlow(centre.induction, centre.drops, centre.drop_ptr,
                      np.asarray(chute_share, dtype=np.float64), centre.params.step_seconds)
    return SortationProblem(
        name=centre.grid.name, grid=centre.grid, starts=starts,
        headings=rng.integers(0, 4, size=robots).astype(np.int8), tasks=flow, steps=steps,
        model=model,  # type: ignore[arg-type]
    )


def params_for(stations: int, chutes: int, base: CentreParams | None = None) -> CentreParams:
    """Centre parameters with at least ``stations`` induction stations and ``chutes`` chutes."""
    b = base or CentreParams()
    per_side = math.ceil(stations / 2)
    need_h = per_side * b.station_every
    rows = max(b.chute_rows, math.ceil((need_h - 2 * b.margin + 1 - 1) / b.pitch) + 1)
    cols = max(b.chute_cols, math.ceil(chutes / rows))
    return CentreParams(rows, cols, b.pitch, b.margin, b.station_every, b.step_seconds)
