"""Generated sortation centres: a one-way grid around chutes, induction lanes on two edges.

The field is a grid of chutes (holes) on a pitch of 3 cells. Between two
rows of chutes run two full lanes, one each way, and so between two columns
of chutes: every chute is circled clockwise by the four lanes beside it,
and a robot drops its parcel from any of those four cells (``S``) without
entering the chute, as it passes. The lanes alternate (east, west along
rows; north, south along columns), as on the one-way grids of Geek+ and
Cainiao centres, so robots never meet head on.

Above and below the field run the induction lanes (one way, east along the
top, west along the bottom). A robot bound for a station (``E``) leaves the
field up a northbound column (down a southbound one at the bottom), queues
in the induction lane off the field's traffic, is loaded as it reaches the
station and re-enters the field down the next column. One station serves
every ``station_every`` chute columns on each edge. Each chute serves one
destination region; a region gets chutes in proportion to its parcels,
spread over the field, and a robot takes a parcel to the chute of its
destination cheapest to reach.

Density: at the fleets the real world runs (67 parcels per robot-hour) a
centre generated for the fleet's throughput has 7 to 9 free cells per
robot (with 1 m cells, 7 to 9 m2 of floor a robot).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from forestock.params import Params, within
from forestock.sortation._instance import ParcelFlow, SortationProblem
from forestock.sortation._maps import GridMap

__all__ = ["Centre", "CentreParams", "build_centre", "centre_problem", "params_for"]

PITCH = 3
"""Cells from one chute to the next, down and across."""


@dataclass(frozen=True)
class CentreParams(Params):
    """Shape of a generated centre.

    Parameters
    ----------
    chute_rows, chute_cols
        Chutes down and across the field.
    station_every
        One induction station on each of the top and bottom lanes every this
        many chute columns.
    step_seconds
        Seconds per step: a robot crosses a cell, or turns a quarter, in one step.
    load_steps, drop_steps
        Steps a robot stands at the station while an operator loads it, and
        beside the chute while it tips the parcel in.
    """

    section = "centre"
    checks = (
        within("[1, 400]", "chute_rows", "chute_cols", integer=True),
        within("[1, 50]", "station_every", integer=True),
        within("(0, inf]", "step_seconds"),
        within("[0, 100]", "load_steps", "drop_steps", integer=True),
    )

    chute_rows: int = 8
    chute_cols: int = 12
    station_every: int = 2
    step_seconds: float = 1.0
    load_steps: int = 2
    drop_steps: int = 1

    @property
    def shape(self) -> tuple[int, int]:
        """Height and width of the grid in cells."""
        return PITCH * self.chute_rows + 2, PITCH * self.chute_cols


@dataclass(frozen=True)
class Centre:
    """A generated centre.

    Attributes
    ----------
    grid
        The map (``E`` induction, ``S`` drop cells, ``@`` chutes).
    lanes
        ``uint8`` [cells] one-way lanes (bit ``d``: a robot may leave the
        cell in direction ``d``; 0 east, 1 south, 2 west, 3 north).
    induction
        ``int32`` induction cells.
    chutes
        ``int32`` chute (hole) cells, row by row.
    drops, drop_ptr
        Drop cells of chute ``k``: ``drops[drop_ptr[k]:drop_ptr[k + 1]]``.
    """

    params: CentreParams
    grid: GridMap
    lanes: np.ndarray = field(repr=False)
    induction: np.ndarray = field(repr=False)
    chutes: np.ndarray = field(repr=False)
    drops: np.ndarray = field(repr=False)
    drop_ptr: np.ndarray = field(repr=False)

    @property
    def n_chutes(self) -> int:
        """Number of chutes."""
        return int(self.chutes.size)

    @property
    def n_free(self) -> int:
        """Cells a robot may stand on."""
        return int(self.grid.free.sum())

    def assign(self, parcels: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Map chutes to destinations in proportion to their parcels.

        Every destination with parcels gets at least one chute; a
        destination's chutes are spread evenly over the field (stride
        scheduling over the chutes taken column by column, down one column
        and up the next), so that the chutes nearest a station of different
        destinations lie at different depths and robots use the whole
        field rather than crowd its edges. Returns the destination of each
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
        # stride scheduling: destination j takes every (chutes / count_j)-th chute
        rows, cols = self.params.chute_rows, self.params.chute_cols
        snake = np.arange(rows * cols).reshape(rows, cols).T.copy()  # [column, row]
        snake[1::2] = snake[1::2, ::-1]
        stride = 1.0 / count
        passes = stride / 2
        dest = np.empty(self.n_chutes, dtype=object)
        share = np.zeros(self.n_chutes)
        for k in snake.ravel():
            j = int(np.argmin(passes))
            dest[k] = names[j]
            share[k] = vols[j] / vols.sum() / count[j]
            passes[j] += stride[j]
        return dest, share / share.sum()


def _lanes(h: int, w: int) -> np.ndarray:
    """``uint8`` [h * w] exits of the one-way grid (before obstacles are masked)."""
    r, c = np.divmod(np.arange(h * w), w)
    fr = r - 1
    east, south, west, north = 1, 2, 4, 8
    out = np.zeros(h * w, dtype=np.uint8)
    top, bottom, inner = r == 0, r == h - 1, (r > 0) & (r < h - 1)
    out[top & (c < w - 1)] |= east
    out[top & (c % PITCH == 2)] |= south
    out[bottom & (c > 0)] |= west
    out[bottom & (c % PITCH == 0)] |= north
    out[inner & (fr % PITCH == 0) & (c < w - 1)] |= east
    out[inner & (fr % PITCH == 2) & (c > 0)] |= west
    out[inner & (c % PITCH == 0)] |= north
    out[inner & (c % PITCH == 2)] |= south
    return out


def build_centre(params: CentreParams | None = None) -> Centre:
    """Build a centre's grid, lanes, stations, chutes and drop cells."""
    p = params or CentreParams()
    h, w = p.shape
    chars = np.full(h * w, ord("."), dtype=np.uint8)
    cr = 1 + 1 + PITCH * np.arange(p.chute_rows)
    cc = 1 + PITCH * np.arange(p.chute_cols)
    chute = (cr[:, None] * w + cc[None, :]).ravel()
    chars[chute] = ord("@")
    drops = np.stack([chute + 1, chute + w, chute - 1, chute - w], axis=1)
    chars[drops.ravel()] = ord("S")
    # stations centred in each group of station_every chute columns, on both lanes
    blocks = np.arange(p.station_every // 2, p.chute_cols, p.station_every)
    sc = PITCH * blocks + 1
    induction = np.sort(np.concatenate([sc, (h - 1) * w + sc])).astype(np.int32)
    chars[induction] = ord("E")
    grid = GridMap(f"centre-{p.chute_rows}x{p.chute_cols}", h, w, chars)
    nb = grid.neighbours()
    lanes = _lanes(h, w) & (((nb >= 0) << np.arange(4)).sum(axis=1)).astype(np.uint8)
    lanes[~grid.free] = 0
    ptr = np.arange(0, 4 * chute.size + 1, 4, dtype=np.int64)
    return Centre(p, grid, lanes, induction, chute.astype(np.int32),
                  drops.ravel().astype(np.int32), ptr)


def centre_problem(centre: Centre, robots: int, chute_share: np.ndarray, steps: int,
                   seed: int = 0, model: str = "rotation",
                   chute_dest: np.ndarray | None = None) -> SortationProblem:
    """A problem on ``centre`` with ``robots`` robots at random plain cells.

    ``chute_dest`` (any labels, one per chute) groups chutes by destination:
    a robot takes a parcel to the nearest chute of its destination.

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
    codes = None
    if chute_dest is not None:
        codes = np.unique(np.asarray(chute_dest).astype(str), return_inverse=True)[1]
        codes = codes.astype(np.int32)
    flow = ParcelFlow(centre.induction, centre.drops, centre.drop_ptr,
                      np.asarray(chute_share, dtype=np.float64), centre.params.step_seconds,
                      codes, centre.params.load_steps, centre.params.drop_steps)
    return SortationProblem(
        name=centre.grid.name, grid=centre.grid, starts=starts,
        headings=rng.integers(0, 4, size=robots).astype(np.int8), tasks=flow, steps=steps,
        model=model, lanes=centre.lanes,  # type: ignore[arg-type]
    )


def params_for(stations: int, destinations: int, base: CentreParams | None = None
               ) -> CentreParams:
    """Centre parameters with at least ``stations`` stations and a chute per destination.

    The field keeps ``base``'s depth and grows across: ``station_every``
    chute columns per pair of stations (one on each edge).
    """
    b = base or CentreParams()
    cols = max(b.station_every * math.ceil(stations / 2), math.ceil(destinations / b.chute_rows),
               2)
    return dataclasses.replace(b, chute_cols=cols)
