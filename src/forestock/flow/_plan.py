"""The plan stage: solve, check, make the notices, write."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from forestock.callbacks import Callbacks
from forestock.flow._run import StageRun
from forestock.flow._store import Store, history_end
from forestock.workspace import Workspace

if TYPE_CHECKING:
    from distributed import Client

    from forestock.plan import PlanParams, PlanProblem, PlanResult, WindowPlanResult

__all__ = ["DEFAULT_QUANTILE", "PlanRun", "noted_market_sd", "run_plan"]

DEFAULT_QUANTILE = "q90"
"""Service level of each SKU's national quantity unless another is named."""

_INPUTS = ("forecast", "warehouses", "lanes", "skus", "regions", "brands")
_READS = (*_INPUTS, "forecast_total")


def noted_market_sd(store: Store, stage: str = "forecast") -> float:
    """The market's error ``stage`` noted (``market_sd``: the forecast's measurement, or
    what the plan drew its scenarios with); 0 where it noted none."""
    value = store.notes().get(stage, {}).get("market_sd")
    return float(value) if isinstance(value, float | int) else 0.0


@dataclass(frozen=True)
class PlanRun(StageRun):
    """A plan made and checked: the stock placed before the event (``result``, the
    solver's), the plan over the whole window with its replenishment waves (``window``;
    none for a one-day event), the problem (of the stock before the event), the notices'
    pages (written into a workspace's ``notices/`` folder; none in memory)."""

    NAMES: ClassVar[tuple[str, ...]] = ("plan", "notices", "replenishment")

    result: PlanResult
    problem: PlanProblem
    pages: list[Path] = field(default_factory=list)
    window: WindowPlanResult | None = None


def run_plan(store: Store, params: PlanParams | None = None, *,
             quantile: str = DEFAULT_QUANTILE, correlation: float | None = None,
             market_sd: float | None = None,
             costs: pd.DataFrame | str | Path | None = None, seed: int = 0,
             callbacks: Callbacks | None = None, cluster: str | Client | None = None
             ) -> PlanRun:
    """Stock each SKU near its buyers within capacities, check the plan, and make the
    advance shipping notices.

    Reads forecast, warehouses, lanes, skus, regions and brands (and the history's last
    day, to flag notices already past due; for an event of several days the window's
    totals, ``forecast_total``); writes ``plan``, ``replenishment`` (the waves during a
    multi-day event, :func:`~forestock.plan.solve_window`; none for one day) and
    ``notices``, and in a workspace one page per manufacturer in ``notices/``. The plan
    and its waves are checked by :func:`~forestock.plan.validate_plan` and
    :func:`~forestock.plan.validate_replenishment` before anything is written.

    Parameters
    ----------
    store
        A workspace or tables in memory.
    params
        Settings of the planner; default :class:`~forestock.plan.PlanParams`.
    quantile
        Service level of each SKU's national quantity: ``mean``, or ``qNN``.
    correlation
        Share of a region's demand variance common to the SKU's regions; default: read
        from the forecast (see :meth:`~forestock.plan.PlanProblem.from_tables`).
    market_sd
        Relative standard deviation of the event total's error common to every SKU, which
        the scenarios' SKUs share; default: what the forecast measured (its notes'
        ``market_sd``, :class:`~forestock.forecast.MarketError`; 0 where it noted none).
    costs
        Asymmetric per-item costs (a table, or a CSV or Parquet file): sku_id,
        shortage_cny, surplus_cny, optionally warehouse_id.
    seed
        Seed of the demand scenarios.
    callbacks
        Progress of the fast method.
    cluster
        A Dask cluster for the fast method's dual ascent: ``local:N``, a scheduler's
        address, or a :class:`distributed.Client` (see :mod:`forestock.cluster`); the SKUs
        are placed on its workers at each round's prices; the same plan, bit for bit.
    """
    from forestock.cluster import address_of, using
    from forestock.plan import (
        PlanParams,
        WindowProblem,
        make_notices,
        solve_window,
        validate_plan,
        validate_replenishment,
        write_notice_pages,
    )
    from forestock.tables import read_table

    params = params if params is not None else PlanParams()
    store.require(_INPUTS, "plan")
    reads = [t for t in _READS if store.has(t)]
    if market_sd is None:
        market_sd = noted_market_sd(store)
    with store.stage("plan", reads=reads):  # plan, waves, notices, pages, notes together
        warehouses, skus, brands = (store.read(t) for t in ("warehouses", "skus", "brands"))
        window = WindowProblem.from_tables(
            store.read("forecast"), warehouses, store.read("lanes"), skus,
            store.read("regions"), quantile, brands=brands, correlation=correlation,
            market_sd=market_sd,
            forecast_total=store.read("forecast_total") if store.has("forecast_total")
            else None)
        if costs is not None:
            source = "costs" if isinstance(costs, pd.DataFrame) else Path(costs).name
            table = costs if isinstance(costs, pd.DataFrame) else read_table(costs)
            window = window.replace(base=window.base.with_costs(table, source=source))
        with using(cluster if params.method == "fast" else None) as client:
            planned = solve_window(window, params, seed, callbacks, client)
        result = planned.initial
        problem = window.part_problem(0, int(planned.runs["days"].iloc[0]))
        national = pd.Series(planned.quantities[0], index=problem.skus.ids)
        validate_plan(result.plan, warehouses, national[national > 0],
                      allow_shortfall=params.allow_shortfall)
        validate_replenishment(planned.replenishment, warehouses)
        notices = make_notices(result.plan, skus, brands, warehouses, problem.event_start,
                               params, history_end=history_end(store),
                               replenishment=planned.replenishment)
        store.write_many({"plan": result.plan, "notices": notices})
        # (written empty too, for one day: a stale table of earlier waves is replaced;
        # a contract table is checked when it has rows, and these were just checked)
        store.write_many({"replenishment": planned.replenishment}, check=False)
        pages, where = [], None
        if isinstance(store, Workspace):
            with store.stage("plan") as st:  # (the stage opened above)
                pages = write_notice_pages(st.folder("notices"), notices, brands, skus,
                                           warehouses)
            where = str(store.root / "notices")
        facts = {"status": planned.status, "method": params.method, "units": result.units,
                 "demand": result.demand, "shortfall": result.shortfall,
                 "expected_share_24h": planned.expected_share_24h,
                 "expected_share_48h": planned.expected_share_48h, "quantile": quantile,
                 "days": window.n_days, "waves": planned.waves,
                 "window_demand": planned.demand, "window_quantity": planned.quantity,
                 "inbound_units": planned.inbound_units,
                 "transfer_units": planned.transfer_units,
                 "objective": result.objective, "gap": result.gap,
                 "costs": planned.costs if planned.waves else result.costs,
                 "seconds": round(result.seconds, 2), "notices": len(notices),
                 "past_due": int(notices["past_due"].sum()),
                 "notice_pages": where,
                 "event_start": problem.event_start, "seed": seed,
                 "scenarios": params.scenarios, "correlation": correlation,
                 "market_sd": market_sd,
                 "cluster": address_of(cluster) if params.method == "fast" else None,
                 **planned.figures}
        store.note("plan", facts)
    return PlanRun(store, facts, result, problem, pages,
                   planned if planned.waves else None)
