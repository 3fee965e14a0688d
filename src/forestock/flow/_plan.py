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
    from forestock.plan import PlanParams, PlanProblem, PlanResult

__all__ = ["DEFAULT_QUANTILE", "PlanRun", "run_plan"]

DEFAULT_QUANTILE = "q90"
"""Service level of each SKU's national quantity unless another is named."""

_INPUTS = ("forecast", "warehouses", "lanes", "skus", "regions", "brands")


@dataclass(frozen=True)
class PlanRun(StageRun):
    """A plan made and checked: the solver's result, the problem, the notices' pages
    (written into a workspace's ``notices/`` folder; none in memory)."""

    NAMES: ClassVar[tuple[str, ...]] = ("plan", "notices")

    result: PlanResult
    problem: PlanProblem
    pages: list[Path] = field(default_factory=list)


def run_plan(store: Store, params: PlanParams | None = None, *,
             quantile: str = DEFAULT_QUANTILE, correlation: float | None = None,
             costs: pd.DataFrame | str | Path | None = None, seed: int = 0,
             callbacks: Callbacks | None = None) -> PlanRun:
    """Stock each SKU near its buyers within capacities, check the plan, and make the
    advance shipping notices.

    Reads forecast, warehouses, lanes, skus, regions and brands (and the history's last
    day, to flag notices already past due); writes ``plan`` and ``notices``, and in a
    workspace one page per manufacturer in ``notices/``. The plan is checked by
    :func:`~forestock.plan.validate_plan` before anything is written.

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
    costs
        Asymmetric per-item costs (a table, or a CSV or Parquet file): sku_id,
        shortage_cny, surplus_cny, optionally warehouse_id.
    seed
        Seed of the demand scenarios.
    callbacks
        Progress of the fast method.
    """
    from forestock.plan import (
        PlanParams,
        PlanProblem,
        make_notices,
        solve_plan,
        validate_plan,
        write_notice_pages,
    )
    from forestock.tables import read_table

    params = params if params is not None else PlanParams()
    store.require(_INPUTS, "plan")
    with store.stage("plan", reads=_INPUTS):  # plan, notices, pages, notes together
        warehouses, skus, brands = (store.read(t) for t in ("warehouses", "skus", "brands"))
        problem = PlanProblem.from_tables(store.read("forecast"), warehouses,
                                          store.read("lanes"), skus, store.read("regions"),
                                          quantile, brands=brands, correlation=correlation)
        if costs is not None:
            source = "costs" if isinstance(costs, pd.DataFrame) else Path(costs).name
            table = costs if isinstance(costs, pd.DataFrame) else read_table(costs)
            problem = problem.with_costs(table, source=source)
        result = solve_plan(problem, params, seed, callbacks)
        national = pd.Series(problem.national, index=problem.skus.ids)
        validate_plan(result.plan, warehouses, national[national > 0],
                      allow_shortfall=params.allow_shortfall)
        notices = make_notices(result.plan, skus, brands, warehouses, problem.event_start,
                               params, history_end=history_end(store))
        store.write_many({"plan": result.plan, "notices": notices})
        pages, where = [], None
        if isinstance(store, Workspace):
            with store.stage("plan") as st:  # (the stage opened above)
                pages = write_notice_pages(st.folder("notices"), notices, brands, skus,
                                           warehouses)
            where = str(store.root / "notices")
        facts = {"status": result.status, "method": params.method, "units": result.units,
                 "demand": result.demand, "shortfall": result.shortfall,
                 "expected_share_24h": result.expected_share_24h,
                 "expected_share_48h": result.expected_share_48h, "quantile": quantile,
                 "objective": result.objective, "gap": result.gap, "costs": result.costs,
                 "seconds": round(result.seconds, 2), "notices": len(notices),
                 "past_due": int(notices["past_due"].sum()),
                 "notice_pages": where,
                 "event_start": problem.event_start, "seed": seed,
                 "scenarios": params.scenarios, "correlation": correlation,
                 **{k: v for k, v in result.figures.items()
                    if k.startswith("expected_lost_24h_")}}
        store.note("plan", facts)
    return PlanRun(store, facts, result, problem, pages)
