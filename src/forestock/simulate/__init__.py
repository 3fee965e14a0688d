"""Rehearse the event day order by order: route, queue, carry, and measure the promise.

The day's demand (units per SKU and region, from the truth or a forecast
scenario, or a table of orders) is split into orders of one or more units
(sizes drawn from ``size_probs``; the last order of a SKU and region takes
what is left), each placed at a time that follows the intraday profile (the
midnight surge, the night lull, the evening peak). Arrivals are stratified:
order ``k`` of a SKU and region's ``n`` falls uniformly within the ``k``-th
``n``-quantile band of the profile, so each one's times come out in order
with no sort, and the day's shape is met exactly. ``scale`` multiplies
demand, stock and warehouse capacity alike, up to a Singles' Day of 1.3
billion orders.

The rules, which the SimPy model in the tests implements independently:

* An order goes to the first warehouse on its region's routing list (by
  default every warehouse with a lane, nearest by lane hours first) holding
  all its units; else it ships from the factory (if ``factory_hours`` is
  set) or is unfilled. A SKU's stock depletes in order of order time (ties:
  cell, then order index).
* Orders reach a warehouse floor in one-second waves; within a wave they
  queue in order of SKU code, region code, then order index (time order
  within a SKU and region). Each warehouse ships at most its
  hourly outbound capacity at the end of each hour, first in first out; the
  backlog carries over.
* A parcel shipped at the end of hour ``h`` reaches the buyer after the
  lane's hours (with seeded noise) plus the last mile; its units count as
  delivered within 24 h, 48 h, 72 h of the order, or later.

Orders are generated and consumed in time chunks, so memory stays flat
whatever their number; the work is split by SKU shard over ``workers``
(threads, or processes, or actors on the workers of a Dask cluster:
``simulate(..., cluster=client)``) and reduced per warehouse and second, with
identical results for any number of workers. Every random draw is keyed by
(seed, SKU and region, order index): one 64-bit hash per order gives its
time, size and transit noise. Long runs write checkpoints and resume after a
crash.

An event of several days is rehearsed day by day (:func:`simulate_window`, in
``_window``): each day starts from the stock the day before left and behind the
parcels still waiting at midnight (``SimulateProblem.backlog``), with the plan's
replenishment waves settled before its orders; :func:`check_window` checks the
window's outcomes.

Many rehearsals at once (:func:`rehearse_scenarios`, in ``_scenarios``): the
day in K demand scenarios of the forecast, as planned and under what-ifs
(:class:`WhatIf`: warehouses closed, lanes slowed, demand up in a region), one
task each, in turn or over a cluster's workers, summarised as P10/P50/P90.

The rooms: ``_params``, ``_problem`` and ``_result`` (what goes in and comes
out), ``_run`` (:func:`simulate`: the problem cut into SKU shards);
``_engine`` (the loop over the day's chunks), ``_shard``, ``_pools`` (where
shards run) and ``_reuse`` (what a run leaves the next); the numba kernels
in ``_kernels`` (draws, generation, routing), ``_queues`` (the reduce) and
``_tallies`` (settling), their arguments grouped in ``_arrays``.
"""

from __future__ import annotations

from forestock.simulate._check import OutcomeError, check_outcomes
from forestock.simulate._demand import demand_from_forecast
from forestock.simulate._live import REGION_COLS, SKU_COLS, ChunkView, DayStart, LiveCallbacks
from forestock.simulate._params import SimulateParams
from forestock.simulate._problem import SimulateProblem
from forestock.simulate._result import OUTCOME_TABLES, SimulateResult
from forestock.simulate._routing import ROUTING_POLICIES, RoutingPolicy
from forestock.simulate._run import simulate
from forestock.simulate._scenarios import (
    AS_PLANNED,
    MEASURES,
    SCENARIO_TABLES,
    ScenarioProblem,
    ScenariosResult,
    WhatIf,
    load_what_ifs,
    rehearse_scenarios,
)
from forestock.simulate._window import (
    DAY_COLUMNS,
    RehearsalWindow,
    WindowResult,
    check_window,
    day_outcomes,
    day_seed,
    simulate_window,
)

__all__ = [
    "AS_PLANNED",
    "DAY_COLUMNS",
    "MEASURES",
    "OUTCOME_TABLES",
    "REGION_COLS",
    "ROUTING_POLICIES",
    "SCENARIO_TABLES",
    "SKU_COLS",
    "ChunkView",
    "DayStart",
    "LiveCallbacks",
    "OutcomeError",
    "RehearsalWindow",
    "RoutingPolicy",
    "ScenarioProblem",
    "ScenariosResult",
    "SimulateParams",
    "SimulateProblem",
    "SimulateResult",
    "WhatIf",
    "WindowResult",
    "check_outcomes",
    "check_window",
    "day_outcomes",
    "day_seed",
    "demand_from_forecast",
    "load_what_ifs",
    "rehearse_scenarios",
    "simulate",
    "simulate_window",
]
