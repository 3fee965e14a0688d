"""Many rehearsals at once: the event's day in K demand scenarios of the forecast, and
what-ifs, as one stage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from forestock.callbacks import Callbacks
from forestock.flow._forecast import DEFAULT_EVENT
from forestock.flow._run import StageRun
from forestock.flow._simulate import _event_day
from forestock.flow._store import Store

if TYPE_CHECKING:
    from distributed import Client

    from forestock.simulate import ScenariosResult, SimulateParams, WhatIf

__all__ = ["ScenariosRun", "run_scenarios"]

_INPUTS = ("plan", "warehouses", "lanes", "skus", "regions", "forecast")


@dataclass(frozen=True)
class ScenariosRun(StageRun):
    """Scenarios rehearsed: the result (its ``simulate_scenarios`` and
    ``simulate_scenarios_summary`` tables, and
    :meth:`~forestock.simulate.ScenariosResult.quantiles`)."""

    result: ScenariosResult

    def _names(self) -> tuple[str, ...]:
        return tuple(self.result.tables)


def run_scenarios(
    store: Store,
    params: SimulateParams | None = None,
    *,
    scenarios: int = 8,
    what_ifs: Sequence[WhatIf] = (),
    day: dt.date | None = None,
    event: str | None = DEFAULT_EVENT,
    seed: int = 0,
    callbacks: Callbacks | None = None,
    cluster: str | Client | None = None,
) -> ScenariosRun:
    """Rehearse the event's day in ``scenarios`` demand scenarios drawn from the forecast,
    as planned and under each of ``what_ifs``, and write their distribution.

    The scenarios are the plan's demand model's (with the correlation the plan noted),
    drawn with ``seed``; every rehearsal uses ``seed`` too. Reads plan, warehouses,
    lanes, skus, regions and forecast; writes ``simulate_scenarios`` (one row per
    what-if and scenario) and ``simulate_scenarios_summary`` (P10, P50, P90 and mean of
    each measure) as one commit, and notes the stage ``scenarios``. A plan of several
    days is rehearsed on its first day (``day`` names another).

    Parameters
    ----------
    store
        A workspace or tables in memory.
    params
        The rehearsals' rules (:class:`~forestock.simulate.SimulateParams`).
    scenarios
        K, the number of demand scenarios.
    what_ifs
        Changes rehearsed beside the plan as it is, each on the same K scenarios.
    day, event
        The day: ``day``, else the first day the calendar marks with ``event`` in the
        forecast, else the forecast's busiest.
    seed
        Seed of the scenarios and of every rehearsal's draws.
    callbacks
        Progress: one task ``"scenarios"`` counted in rehearsals.
    cluster
        A Dask cluster to spread the rehearsals over: ``local:N``, a scheduler's
        address or a :class:`distributed.Client`; the same tables as without one.
    """
    from forestock.cluster import using
    from forestock.flow._plan import noted_market_sd
    from forestock.simulate import ScenarioProblem, rehearse_scenarios

    store.require(_INPUTS, "simulate --scenarios")
    with using(cluster) as client, store.stage("scenarios", reads=list(_INPUTS)):
        forecast = store.read("forecast")
        the_day = day or _event_day(store, forecast["date"], forecast["mean"], event)
        corr = store.notes().get("plan", {}).get("correlation")
        problem = ScenarioProblem.from_tables(
            the_day, forecast, store.read("plan"), store.read("warehouses"),
            store.read("lanes"), store.read("skus"), store.read("regions"), scenarios, seed,
            correlation=float(corr) if isinstance(corr, float | int) else None,
            market_sd=noted_market_sd(store, "plan"), what_ifs=what_ifs)
        result = rehearse_scenarios(problem, params, seed, callbacks, cluster=client)
        store.write_many(result.tables)
        facts: dict[str, Any] = {
            "day": the_day, "seed": seed, "scenarios": scenarios,
            "what_ifs": list(result.what_ifs), "rehearsals": int(result.figures["rehearsals"]),
            "orders": int(result.figures["orders"]),
            "workers": int(result.figures["workers"]),
            "seconds": round(result.figures["seconds"], 2),
            "share_24h": {name: dict(zip(("p10", "p50", "p90"),
                                         result.quantiles("share_24h", name), strict=True))
                          for name in result.what_ifs}}
        store.note("scenarios", facts)
    return ScenariosRun(store, facts, result)
