"""Fleet sizing: the smallest fleet whose centre meets a warehouse's peak hour.

The simulate stage's ``outcomes_flow`` gives parcels per warehouse, hour and
destination region. The peak hour (most parcels) sets the target and its
destination mix sets the chutes. A centre is generated for the target
(:func:`centre_for`): one induction station per ``station_rate`` parcels an
hour, and a field of fixed depth that grows across with the stations, so
the floor space grows with the throughput (and the fleet). Fleets are tried
on it (doubling, then bisection) with the planner, each for a warm-up then
a measured window (:func:`run_fleet`); throughput rises with the fleet
until the stations or the aisles saturate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestock.errors import ForestockError
from forestock.params import Params, within
from forestock.sortation._layout import (
    Centre,
    CentreParams,
    build_centre,
    centre_problem,
    params_for,
)
from forestock.sortation._pibt import SortationParams, solve_sortation

__all__ = ["SizingParams", "SizingResult", "centre_for", "fleet_curve", "peak_hour", "run_fleet",
           "size_fleet"]

log = logging.getLogger("forestock.sortation")


@dataclass(frozen=True)
class SizingParams(Params):
    """How centres are laid out and fleets tried.

    Parameters
    ----------
    station_rate
        Parcels an induction station feeds per hour (sets the number of
        stations; a station loads a robot in ``centre.load_steps`` steps, so
        it can feed at most 3,600 / (load_steps + 1) an hour).
    warmup_steps, measure_steps
        Steps run before measuring, and measured; throughput is scaled to an hour.
    max_density
        Largest fleet tried, as a share of the centre's free cells.
    centre
        Base shape of the centre (its depth; the width grows to fit the stations).
    """

    section = "sizing"
    checks = (
        within("(0, inf]", "station_rate"),
        within("[0, inf)", "warmup_steps", integer=True),
        within("[10, inf)", "measure_steps", integer=True),
        within("(0, 0.8]", "max_density"),
    )

    station_rate: float = 800.0
    warmup_steps: int = 300
    measure_steps: int = 1200
    max_density: float = 0.3
    centre: CentreParams = field(default_factory=lambda: CentreParams(chute_rows=10))


@dataclass(frozen=True)
class SizingResult:
    """The fleet found, and every fleet tried.

    Attributes
    ----------
    robots
        Smallest fleet that met the target (the largest tried if none did).
    met
        Whether any fleet met the target.
    curve
        One row per fleet tried: robots, parcels_per_hour, per_robot_hour,
        cells_per_robot (free cells of the centre per robot), plan_ms (mean
        planning time per step), moving_share.
    """

    warehouse: str
    peak_hour: int
    target_per_hour: float
    robots: int
    met: bool
    per_hour: float
    per_robot_hour: float
    centre: Centre = field(repr=False)
    chute_region: np.ndarray = field(repr=False)
    curve: pd.DataFrame = field(repr=False)
    waits: np.ndarray = field(repr=False)
    seed: int = 0

    @property
    def cells_per_robot(self) -> float:
        """Free cells of the centre per robot of the fleet found."""
        return self.centre.n_free / self.robots


def peak_hour(flow: pd.DataFrame, warehouse: str) -> tuple[int, dict[str, float]]:
    """The hour with the most parcels of ``warehouse`` and its parcels per region.

    Raises
    ------
    ForestockError
        The warehouse ships nothing in ``flow``.
    """
    rows = flow[flow["warehouse_id"].astype(str) == warehouse]
    rows = rows[rows["parcels"] > 0]
    if rows.empty:
        known = sorted(flow["warehouse_id"].astype(str).unique())[:10]
        raise ForestockError(f"outcomes_flow has no parcels for warehouse {warehouse!r} (some "
                             f"that ship: {', '.join(known)})")
    per_hour = rows.groupby("hour")["parcels"].sum()
    hour = int(per_hour.idxmax())
    mix = rows[rows["hour"] == hour].groupby(rows["region_id"].astype(str))["parcels"].sum()
    return hour, {str(k): float(v) for k, v in mix.items()}


def centre_for(target_per_hour: float, mix: dict[str, float], params: SizingParams | None = None,
               grow: int = 0) -> tuple[Centre, np.ndarray, np.ndarray]:
    """The centre generated for ``target_per_hour`` parcels, its chutes' regions and shares.

    One station per ``station_rate`` parcels an hour (times 1.5 per ``grow``),
    at least two, and a chute per destination at least.
    """
    sp = params or SizingParams()
    if not target_per_hour > 0:
        raise ValueError(f"target_per_hour must be > 0, got {target_per_hour}")
    stations = max(2, math.ceil(target_per_hour / sp.station_rate * 1.5**grow))
    centre = build_centre(params_for(stations, len(mix), sp.centre))
    dest, share = centre.assign(mix)
    return centre, dest, share


def run_fleet(centre: Centre, dest: np.ndarray, share: np.ndarray, robots: int,
              params: SizingParams | None = None, planner: SortationParams | None = None,
              seed: int = 0, lanes: bool = True) -> tuple[dict[str, float], np.ndarray]:
    """Run ``robots`` robots on ``centre``: one row of the fleet curve, and the waits per cell.

    ``lanes=False`` lets robots move both ways everywhere (for comparison).
    """
    sp = params or SizingParams()
    pl = planner or SortationParams(record_paths=False, validate=False)
    steps = sp.warmup_steps + sp.measure_steps
    problem = centre_problem(centre, robots, share, steps, seed, chute_dest=dest)
    if not lanes:
        problem = problem.replace(lanes=None)
    r = solve_sortation(problem, pl, seed)
    done = int(r.finished_per_step[sp.warmup_steps:].sum())
    hours = sp.measure_steps * centre.params.step_seconds / 3600
    row = {"robots": robots, "parcels_per_hour": done / hours,
           "per_robot_hour": done / hours / robots,
           "cells_per_robot": centre.n_free / robots, "plan_ms": r.mean_plan_ms,
           "moving_share": r.moving_share}
    log.info("%s, %d robots: %.0f parcels an hour", centre.grid.name, robots, done / hours)
    return row, r.waits


def fleet_curve(centre: Centre, dest: np.ndarray, share: np.ndarray, fleets: list[int],
                params: SizingParams | None = None, planner: SortationParams | None = None,
                seed: int = 0) -> pd.DataFrame:
    """Throughput against fleet size on ``centre``: one :func:`run_fleet` row per fleet."""
    rows = [run_fleet(centre, dest, share, n, params, planner, seed)[0] for n in fleets]
    return pd.DataFrame(rows).astype({"robots": np.int64})


def _search(centre: Centre, dest: np.ndarray, share: np.ndarray, target: float,
            sp: SizingParams, pl: SortationParams, seed: int
            ) -> tuple[int | None, dict[int, dict[str, float]], dict[int, np.ndarray]]:
    plain = int((centre.grid.chars == ord(".")).sum())
    cap = max(1, min(plain, int(centre.n_free * sp.max_density)))
    tried: dict[int, dict[str, float]] = {}
    waits: dict[int, np.ndarray] = {}

    def run(n: int) -> float:
        if n not in tried:
            tried[n], waits[n] = run_fleet(centre, dest, share, n, sp, pl, seed)
        return tried[n]["parcels_per_hour"]

    lo, hi = 0, None
    n = max(1, min(cap, math.ceil(target / 120)))
    while True:
        if run(n) >= target:
            hi = n
            break
        lo = n
        if n >= cap:
            break
        n = min(cap, n * 2)
    if hi is not None:
        while hi - lo > max(1, hi // 50):
            mid = (lo + hi) // 2
            if run(mid) >= target:
                hi = mid
            else:
                lo = mid
    return hi, tried, waits


def size_fleet(target_per_hour: float, mix: dict[str, float], params: SizingParams | None = None,
               planner: SortationParams | None = None, seed: int = 0, warehouse: str = "",
               hour: int = 0) -> SizingResult:
    """Find the smallest fleet whose generated centre sorts ``target_per_hour`` parcels.

    Parameters
    ----------
    target_per_hour
        Parcels an hour to sort (the peak hour).
    mix
        Parcels per destination (sets chutes and destination shares).
    params, planner
        Layout, search and planner settings.
    seed
        Seed of robot starts, tie-breaks and parcel destinations.

    Returns
    -------
    SizingResult
        The fleet, its throughput, the centre and every fleet tried. A
        centre whose stations or aisles saturate below the target is
        generated again with 1.5 times the stations (three times at most).
    """
    sp = params or SizingParams()
    pl = planner or SortationParams(record_paths=False, validate=False)
    for grow in range(4):
        centre, dest, share = centre_for(target_per_hour, mix, sp, grow)
        hi, tried, waits = _search(centre, dest, share, target_per_hour, sp, pl, seed)
        if hi is not None:
            break
    met = hi is not None
    best = hi if hi is not None else max(tried, key=lambda k: tried[k]["parcels_per_hour"])
    curve = pd.DataFrame(sorted(tried.values(), key=lambda d: d["robots"]))
    curve["robots"] = curve["robots"].astype(np.int64)
    return SizingResult(
        warehouse=warehouse, peak_hour=hour, target_per_hour=float(target_per_hour),
        robots=int(best), met=met, per_hour=tried[best]["parcels_per_hour"],
        per_robot_hour=tried[best]["per_robot_hour"], centre=centre, chute_region=dest,
        curve=curve, waits=waits[best], seed=seed,
    )
