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
    from distributed import Client

    from forestock.simulate import SimulateParams, SimulateProblem, SimulateResult

__all__ = ["CHECKPOINT", "DemandSource", "SimulateRun", "planned_window", "rehearsal_demand",
           "run_simulate", "window_demand"]

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
    """A day, or every day of the planned window, rehearsed: the result (``share_24h``,
    ``gmv``...; for a window a :class:`~forestock.simulate.WindowResult`), the problem it
    ran on (a window's first day's)."""

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
    scenario of the day drawn with ``seed`` (the day in the hash: see
    :func:`window_demand`).
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
        correlation, days, market = _correlations(store)
        if scenario is None:
            return the_day, demand_from_forecast(frame, the_day, seed, correlation=correlation,
                                                 day_correlation=days, market_sd=market)
        n, plan_seed = noted.get("scenarios"), noted.get("seed")
        if not (isinstance(n, int) and isinstance(plan_seed, int)):
            raise ForestockError("--scenario rehearses one of the plan's scenarios: plan "
                                 "first (its notes name its seed and scenarios)")
        if not 0 <= scenario < n:
            raise ForestockError(f"the plan drew {n} scenarios: --scenario must be from 0 to "
                                 f"{n - 1}, got {scenario}")
        return the_day, demand_from_forecast(frame, the_day, plan_seed, scenario=scenario,
                                             scenarios=n, correlation=correlation,
                                             market_sd=market)
    if source is DemandSource.orders:
        return the_day, frame
    demand = frame[frame["date"].dt.date == the_day]
    if demand.empty:
        raise ForestockError(f"the truth table has no sales on {the_day}")
    return the_day, demand


def planned_window(store: Store) -> list[dt.date]:
    """The days the plan was made for (its notes: the event's first day and its days);
    none without a plan's notes."""
    noted = store.notes().get("plan", {})
    start, days = noted.get("event_start"), noted.get("days")
    if start is None or not isinstance(days, int) or days < 1:
        return []
    first = pd.Timestamp(str(start)).date()
    return [first + dt.timedelta(days=i) for i in range(days)]


def _correlations(store: Store) -> tuple[float | None, float, float]:
    """The correlations a scenario of the forecast is drawn with: of a SKU's regions (the
    plan's, None: from the forecast's dispersion), of a cell's days (the forecast's
    ``correlation_days``, 0 where it noted none), and the market's error common to every
    SKU (the plan's ``market_sd``, else the forecast's, else 0)."""
    from forestock.flow._plan import noted_market_sd

    notes = store.notes()
    regions = notes.get("plan", {}).get("correlation")
    days = notes.get("forecast", {}).get("correlation_days")
    market = (noted_market_sd(store, "plan") if "market_sd" in notes.get("plan", {})
              else noted_market_sd(store))
    return (float(regions) if isinstance(regions, float | int) else None,
            float(days) if isinstance(days, float | int) else 0.0, market)


def window_demand(store: Store, days: list[dt.date],
                  source: DemandSource = DemandSource.truth, seed: int = 0) -> pd.DataFrame:
    """The demand of every day of a window: the truth's sales on those dates, your orders,
    or from the forecast a fresh scenario of each day, drawn with ``seed`` and the day (the
    day in the draws' hash: a day's own surprise, independent of the other days', plus the
    part of it the window's days share, as the forecast's ``correlation_days`` measured;
    :func:`~forestock.simulate.demand_from_forecast`), the same as ``--day`` draws for it."""
    from forestock.simulate import demand_from_forecast

    source = DemandSource(source)
    store.require([source.value], f"simulate --source {source.value}")
    frame = store.read(source.value, categorical=source is not DemandSource.forecast)
    if source is DemandSource.orders:
        return frame
    if source is DemandSource.truth:
        on = frame["date"].dt.date.isin(set(days))
        return frame[on.to_numpy()]
    correlation, shared, market = _correlations(store)
    parts = [demand_from_forecast(frame, d, seed, correlation=correlation,
                                  day_correlation=shared, market_sd=market
                                  ).assign(date=pd.Timestamp(d))
             for d in days]
    return pd.concat(parts, ignore_index=True)


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
    cluster: str | Client | None = None,
) -> SimulateRun:
    """Rehearse the event order by order and check its outcomes: its day, or every day of
    a multi-day event.

    Reads plan, warehouses, lanes, skus, regions and the demand ``source`` (see
    :func:`rehearsal_demand`); writes the ``outcomes_*`` tables once
    :func:`~forestock.simulate.check_outcomes` has checked them. When the plan was made
    for several days (its notes say so) and no ``day`` is named, every day of them is
    rehearsed (:func:`~forestock.simulate.simulate_window`: stock and backlogs carried
    over midnight, the plan's ``replenishment`` waves arriving as it says), checked by
    :func:`~forestock.simulate.check_window`, and ``outcomes_day`` and
    ``outcomes_replenishment`` written besides; a window is neither checkpointed nor
    followed live (name a ``day`` for those). The facts' speed
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
        Finish an interrupted run (same options) from its checkpoint (written by a run on
        a cluster or on this machine: either resumes it).
    cluster
        A Dask cluster to run the SKU shards on: ``local:N``, a scheduler's address, or
        a :class:`distributed.Client` (see :mod:`forestock.cluster`); the same tables
        as without one, bit for bit.
    """
    from forestock.cluster import using
    from forestock.simulate import (
        SimulateParams,
        SimulateProblem,
        check_outcomes,
        day_outcomes,
        simulate,
    )

    params = params if params is not None else SimulateParams()
    source = DemandSource(source)
    store.require(_INPUTS, "simulate")
    if checkpoint is None and isinstance(store, Workspace):
        checkpoint = store.root / CHECKPOINT
    if resume and (checkpoint is None or not Path(checkpoint).exists()):
        where = store.root if isinstance(store, Workspace) else checkpoint
        raise ForestockError(f"no interrupted rehearsal to resume in {where}")
    days = [] if day is not None else planned_window(store)
    if len(days) > 1:
        if resume:
            raise ForestockError("a window's days are rehearsed whole, without checkpoints: "
                                 "--resume finishes one day (--day)")
        if scenario is not None:
            raise ForestockError("--scenario rehearses one of the plan's scenarios of one "
                                 "day: name the day (--day)")
        with using(cluster) as client:
            return _run_window(store, params, days, source, seed, callbacks, client)
    with using(cluster) as client, \
            store.stage("simulate", reads=[*_INPUTS, source.value]):  # outcomes and notes
        the_day, demand = rehearsal_demand(store, source, day, event, seed, scenario)
        problem = SimulateProblem.from_tables(
            the_day, demand, store.read("plan"), store.read("warehouses"), store.read("lanes"),
            store.read("skus"), store.read("regions"))
        cb = callbacks(problem) if callable(callbacks) else callbacks
        t0 = time.perf_counter()
        with CompileClock() as clock:
            result = simulate(problem, params, seed, cb, checkpoint=checkpoint, resume=resume,
                              cluster=client)
        elapsed = time.perf_counter() - t0
        check_outcomes(result, problem)
        store.write_many(result.tables)
        # the day's row, and no waves: a window's tables of an earlier run are replaced
        store.write_many({"outcomes_day": pd.DataFrame([day_outcomes(result)]),
                          "outcomes_replenishment": _no_waves()}, check=False)
        facts = _facts(result, elapsed, clock.seconds, source.value)
        if source is DemandSource.forecast:
            facts["scenario"] = scenario
        store.note("simulate", facts)
    return SimulateRun(store, facts, result, problem)


def _run_window(store: Store, params: SimulateParams, days: list[dt.date],
                source: DemandSource, seed: int,
                callbacks: Callbacks | Callable[[SimulateProblem], Callbacks] | None,
                client: Client | None = None) -> SimulateRun:
    """Rehearse every day of ``days`` (see :func:`run_simulate`)."""
    from forestock.simulate import RehearsalWindow, check_window, simulate_window

    reads = [*_INPUTS, source.value, *(["replenishment"] if store.has("replenishment")
                                       else [])]
    with store.stage("simulate", reads=reads):  # outcomes and notes
        window = RehearsalWindow.from_tables(
            days, window_demand(store, days, source, seed), store.read("plan"),
            store.read("warehouses"), store.read("lanes"), store.read("skus"),
            store.read("regions"),
            store.read("replenishment") if store.has("replenishment") else None)
        problem = window.problems[0]
        cb = callbacks(problem) if callable(callbacks) else callbacks
        t0 = time.perf_counter()
        with CompileClock() as clock:
            result = simulate_window(window, params, seed, cb, cluster=client)
        elapsed = time.perf_counter() - t0
        check_window(result, window)
        store.write_many(result.tables)
        if "outcomes_replenishment" not in result.tables:
            store.write_many({"outcomes_replenishment": _no_waves()}, check=False)
        facts = _facts(result, elapsed, clock.seconds, source.value)
        f = result.figures
        facts.update(last_day=result.last_day, days=len(days), placed=int(f["placed"]),
                     inbound=int(f["inbound"]), transfers=int(f["transfers"]),
                     stock_left=int(f["stock_left"]),
                     units_over_demand=(f["placed"] + f["inbound"]) / max(result.units, 1))
        store.note("simulate", facts)
    return SimulateRun(store, facts, result, problem)


def _no_waves() -> pd.DataFrame:
    """An empty ``outcomes_replenishment`` table."""
    return pd.DataFrame({"wave": pd.Series(dtype="int64"), "kind": pd.Series(dtype=object),
                         "sku_id": pd.Series(dtype=object),
                         "warehouse_id": pd.Series(dtype=object),
                         **{c: pd.Series(dtype="int64")
                            for c in ("planned", "shipped", "received")}})


def _facts(result: SimulateResult, elapsed: float, compiling: float, source: str
           ) -> dict[str, Any]:
    """The rehearsal's figures (GMV per second over its days); its speed leaves out
    ``compiling`` (seconds this process spent compiling or loading numba kernels during
    the run)."""
    running = max(elapsed - compiling, 1e-9)
    return {
        "day": result.day, "seed": result.seed, "source": source, "orders": result.orders,
        "units": result.units, "gmv": result.gmv,
        "gmv_per_second": result.gmv / (86_400 * int(result.figures.get("days", 1))),
        "peak_orders_per_second": result.peak_orders_per_second,
        "peak_time": str(dt.timedelta(seconds=result.peak_second)),
        "share_24h": result.share_24h, "share_48h": result.share_48h,
        "share_72h": result.figures["share_72h"], "unfilled_share": result.unfilled_share,
        "factory_units": int(result.figures["factory_units"]),
        "backlog_hours": int(result.figures["backlog_hours"]),
        "scale": result.figures["scale"], "workers": int(result.figures["workers"]),
        "resumed_at_second": int(result.figures["resumed_at_second"]),
        "bytes_moved": int(result.figures["bytes_moved"]),
        "seconds": round(elapsed, 2), "compile_seconds": round(compiling, 2),
        "orders_per_second_simulated": result.orders / running,
    }
