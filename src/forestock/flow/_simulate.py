"""The rehearsal stage: which day, whose demand, the run, and its checked outcomes."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from forestock._runtime import CompileClock
from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.flow._forecast import DEFAULT_EVENT
from forestock.flow._run import StageRun
from forestock.flow._store import Store
from forestock.workspace import Workspace

if TYPE_CHECKING:
    from forestock.simulate import SimulateParams, SimulateProblem, SimulateResult

__all__ = ["CHECKPOINT", "DemandSource", "SimulateRun", "rehearsal_demand", "run_simulate"]

CHECKPOINT = ".simulate-checkpoint.npz"
"""File, inside a workspace, holding the checkpoint of an unfinished rehearsal."""

_INPUTS = ("plan", "warehouses", "lanes", "skus", "regions")


class DemandSource(StrEnum):
    """Where the rehearsed day's demand comes from."""

    truth = "truth"
    """What really sold (the ``truth`` table): a post-mortem."""
    forecast = "forecast"
    """A scenario drawn from the forecast's quantiles: a rehearsal before the event."""
    orders = "orders"
    """Your own ``orders`` table, rehearsed as given."""


@dataclass(frozen=True)
class SimulateRun(StageRun):
    """A day rehearsed: the result (``share_24h``, ``gmv``...), the problem it ran on."""

    result: SimulateResult
    problem: SimulateProblem

    def _names(self) -> tuple[str, ...]:
        return tuple(self.result.tables)


def _event_day(store: Store, dates: pd.Series, weights: pd.Series, event: str | None
               ) -> dt.date:
    """The event's day among ``dates`` if the calendar names it, else the busiest date."""
    days = pd.to_datetime(dates).dt.normalize()
    if event and store.has("calendar"):
        cal = store.read("calendar")
        marked = set(pd.to_datetime(cal.loc[cal["event"] == event, "date"]).dt.date)
        in_data = sorted(marked & set(days.dt.date))
        if in_data:
            return in_data[0]
    totals = weights.groupby(days.to_numpy()).sum()
    return pd.Timestamp(totals.idxmax()).date()


def rehearsal_demand(store: Store, source: DemandSource = DemandSource.truth,
                     day: dt.date | None = None, event: str | None = DEFAULT_EVENT,
                     seed: int = 0, scenario: int | None = None
                     ) -> tuple[dt.date, pd.DataFrame]:
    """The day to rehearse and its demand table (sales-shaped, or orders).

    The day is ``day``, else the first day of the source the calendar marks with
    ``event``, else the source's busiest day. From the forecast, the demand is a
    scenario of the demand model the plan used
    (:func:`~forestock.simulate.demand_from_forecast`, with the correlation the plan
    noted): ``scenario`` K is the plan's own K-th scenario (its seed, of its number of
    scenarios: what the plan expected, rehearsed order by order); without it, a fresh
    scenario drawn with ``seed``.
    """
    from forestock.simulate import demand_from_forecast

    source = DemandSource(source)
    table = source.value
    store.require([table], f"simulate --source {table}")
    frame = store.read(table, categorical=source is not DemandSource.forecast)
    if source is DemandSource.orders:
        when, weights = frame["time"], frame["units"]
    else:
        when = frame["date"]
        weights = frame["mean"] if source is DemandSource.forecast else frame["units"]
    the_day = day or _event_day(store, when, weights, event)
    if source is DemandSource.forecast:
        noted = store.notes().get("plan", {})
        corr = noted.get("correlation")
        correlation = float(corr) if isinstance(corr, float | int) else None
        if scenario is None:
            return the_day, demand_from_forecast(frame, the_day, seed, correlation=correlation)
        n, plan_seed = noted.get("scenarios"), noted.get("seed")
        if not (isinstance(n, int) and isinstance(plan_seed, int)):
            raise ForestockError("--scenario rehearses one of the plan's scenarios: plan "
                                 "first (its notes name its seed and scenarios)")
        if not 0 <= scenario < n:
            raise ForestockError(f"the plan drew {n} scenarios: --scenario must be from 0 to "
                                 f"{n - 1}, got {scenario}")
        return the_day, demand_from_forecast(frame, the_day, plan_seed, scenario=scenario,
                                             scenarios=n, correlation=correlation)
    if source is DemandSource.orders:
        return the_day, frame
    demand = frame[frame["date"].dt.date == the_day]
    if demand.empty:
        raise ForestockError(f"the truth table has no sales on {the_day}")
    return the_day, demand


def run_simulate(
    store: Store,
    params: SimulateParams | None = None,
    *,
    source: DemandSource | str = DemandSource.truth,
    day: dt.date | None = None,
    event: str | None = DEFAULT_EVENT,
    seed: int = 0,
    scenario: int | None = None,
    callbacks: Callbacks | Callable[[SimulateProblem], Callbacks] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
) -> SimulateRun:
    """Rehearse the event day order by order and check its outcomes.

    Reads plan, warehouses, lanes, skus, regions and the demand ``source`` (see
    :func:`rehearsal_demand`); writes the ``outcomes_*`` tables once
    :func:`~forestock.simulate.check_outcomes` has checked them. The facts' speed
    (``orders_per_second_simulated``) leaves out the seconds spent compiling or loading
    numba kernels (``compile_seconds``).

    Parameters
    ----------
    store
        A workspace or tables in memory.
    params
        Rules and run options; default :class:`~forestock.simulate.SimulateParams`.
    source, day, event, scenario
        The demand and the day (see :func:`rehearsal_demand`).
    seed
        Seed of every random draw (the scenario, order sizes and times, transit noise).
    callbacks
        Progress listener, or a function of the problem giving one (the dashboard's
        live writer needs the problem).
    checkpoint
        File for checkpoints of a long run; default, in a workspace, its
        :data:`CHECKPOINT` file; none in memory.
    resume
        Finish an interrupted run (same options) from its checkpoint.
    """
    from forestock.simulate import SimulateParams, SimulateProblem, check_outcomes, simulate

    params = params if params is not None else SimulateParams()
    source = DemandSource(source)
    store.require(_INPUTS, "simulate")
    if checkpoint is None and isinstance(store, Workspace):
        checkpoint = store.root / CHECKPOINT
    if resume and (checkpoint is None or not Path(checkpoint).exists()):
        where = store.root if isinstance(store, Workspace) else checkpoint
        raise ForestockError(f"no interrupted rehearsal to resume in {where}")
    with store.stage("simulate", reads=[*_INPUTS, source.value]):  # outcomes and notes
        the_day, demand = rehearsal_demand(store, source, day, event, seed, scenario)
        problem = SimulateProblem.from_tables(
            the_day, demand, store.read("plan"), store.read("warehouses"), store.read("lanes"),
            store.read("skus"), store.read("regions"))
        cb = callbacks(problem) if callable(callbacks) else callbacks
        t0 = time.perf_counter()
        with CompileClock() as clock:
            result = simulate(problem, params, seed, cb, checkpoint=checkpoint, resume=resume)
        elapsed = time.perf_counter() - t0
        check_outcomes(result, problem)
        store.write_many(result.tables)
        facts = _facts(result, elapsed, clock.seconds, source.value)
        if source is DemandSource.forecast:
            facts["scenario"] = scenario
        store.note("simulate", facts)
    return SimulateRun(store, facts, result, problem)


def _facts(result: SimulateResult, elapsed: float, compiling: float, source: str
           ) -> dict[str, Any]:
    """The rehearsal's figures; its speed leaves out ``compiling`` (seconds this process
    spent compiling or loading numba kernels during the run)."""
    running = max(elapsed - compiling, 1e-9)
    return {
        "day": result.day, "seed": result.seed, "source": source, "orders": result.orders,
        "units": result.units, "gmv": result.gmv, "gmv_per_second": result.gmv / 86_400,
        "peak_orders_per_second": result.peak_orders_per_second,
        "peak_time": str(dt.timedelta(seconds=result.peak_second)),
        "share_24h": result.share_24h, "share_48h": result.share_48h,
        "share_72h": result.figures["share_72h"], "unfilled_share": result.unfilled_share,
        "factory_units": int(result.figures["factory_units"]),
        "backlog_hours": int(result.figures["backlog_hours"]),
        "scale": result.figures["scale"], "workers": int(result.figures["workers"]),
        "resumed_at_second": int(result.figures["resumed_at_second"]),
        "seconds": round(elapsed, 2), "compile_seconds": round(compiling, 2),
        "orders_per_second_simulated": result.orders / running,
    }
