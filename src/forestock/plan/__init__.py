"""Pre-position stock before the event and tell each manufacturer what to ship where, by when.

The forecast's quantiles become demand scenarios (regions of a SKU correlated
through a national factor). Each SKU's national quantity (a service level of
national demand, or given) is split over the warehouses to maximise the
expected value of the deliveries: margin by delivery tier (within 24 h, 48 h,
later; demand a warehouse cannot serve falls back to the next with stock)
plus a value per unit within 24 h whatever its price (the promise), minus
inbound, holding and outbound costs and any per-item shortage and surplus
costs (:meth:`PlanProblem.with_costs`), within storage and outbound
capacity. Two solvers share one model:

- ``exact``: the two-stage stochastic LP, solved by HiGHS, rounded to whole units;
- ``fast`` (default): decomposition by SKU with warehouse prices set by dual
  ascent, a vectorised per-SKU placement, and a repair to a feasible integer plan.

Three baselines (``central``, ``population``, ``nearest``) run on the same
national quantities. :func:`validate_plan` checks any plan independently,
:func:`make_notices` turns it into advance shipping notices and
:func:`write_notice_pages` into one printable page per manufacturer.

An event of several days (:class:`WindowProblem`) is planned by
:func:`solve_window`: stock placed before it, sized for the days until the first
replenishment wave, and waves during it (manufacturers to hubs, hubs on to the
warehouses they serve), each a quantity at most that an order-up-to rule ships,
sized from the quantiles of the days' totals (:func:`validate_replenishment` checks
them). A one-day event is today's plan, without waves.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.callbacks import Callbacks
from forestock.errors import InfeasibleError
from forestock.plan._lagrange import solve_fast
from forestock.plan._lp import lp_size, round_plan, solve_lp
from forestock.plan._model import Evaluation, SolverArrays, evaluate
from forestock.plan._notices import (
    PastDueWarning,
    lead_days,
    make_notices,
    notice_page_names,
    write_notice_pages,
)
from forestock.plan._params import METHODS, PlanParams
from forestock.plan._problem import PlanProblem
from forestock.plan._result import PlanError, PlanResult
from forestock.plan._status import LpStatus, PlanStatus
from forestock.plan._validate import validate_plan
from forestock.plan._waves import WindowPlanResult, solve_window, wave_bounds
from forestock.plan._window import WindowProblem
from forestock.plan._window_check import validate_replenishment

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "METHODS",
    "PastDueWarning",
    "PlanError",
    "PlanParams",
    "PlanProblem",
    "PlanResult",
    "PlanStatus",
    "WindowPlanResult",
    "WindowProblem",
    "exact_value",
    "lead_days",
    "lp_columns",
    "make_notices",
    "notice_page_names",
    "solve_plan",
    "solve_window",
    "validate_plan",
    "validate_replenishment",
    "wave_bounds",
    "write_notice_pages",
]

log = logging.getLogger("forestock.plan")


def _check_room(problem: PlanProblem, params: PlanParams) -> None:
    total = problem.demand
    room = int(problem.storage.sum())
    if total <= room or params.allow_shortfall:
        return
    ids = problem.warehouses.ids
    order = np.argsort(-problem.storage, kind="stable")
    full = ", ".join(f"{ids[w]} ({problem.storage[w]:,})" for w in order[:5])
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    raise InfeasibleError(
        f"the national quantities add up to {total:,} units but the warehouses hold "
        f"{room:,}: {total - room:,} units ({(total - room) / total:.1%}) do not fit, with "
        f"every warehouse full: {full}{more}; add storage, lower the service level "
        "(--quantile), or pass --allow-shortfall for the best partial plan"
    )


def solve_plan(problem: PlanProblem, params: PlanParams | None = None, seed: int = 0,
               callbacks: Callbacks | None = None, client: Client | None = None
               ) -> PlanResult:
    """Choose the units of each SKU in each warehouse.

    Parameters
    ----------
    problem
        Demand, national quantities and the network.
    params
        Settings, including ``method``; default :class:`PlanParams()`.
    seed
        Seed of the demand scenarios; same seed, same plan.
    callbacks
        Progress listener (task ``"plan"``, fast method).
    client
        A Dask client (:func:`forestock.cluster.connect`): the fast method's dual ascent
        places the SKUs on its workers; the same plan, bit for bit. Other methods ignore it.

    Returns
    -------
    PlanResult
        The plan, its expected shares within 24 h and 48 h, costs, value and
        (exact method) the LP bound and gap.

    Raises
    ------
    InfeasibleError
        When the national quantities exceed total storage (saying by how
        much and which warehouses are full), unless ``allow_shortfall``.
    """
    q = params or PlanParams()
    p = problem
    _check_room(p, q)
    t0 = time.perf_counter()
    model = SolverArrays.build(p, q)
    bound = gap = float("nan")
    figures: dict[str, float] = {}
    status = PlanStatus.OK
    lp = None
    if q.method == "exact" or (q.check_gap and q.method == "fast"):
        lp = solve_lp(p, q, model, seed)
        if lp.status not in (LpStatus.OPTIMAL, LpStatus.TIME_LIMIT):
            raise InfeasibleError(f"the plan LP is {lp.status} (HiGHS: {lp.highs_status})")
        bound = lp.objective if lp.status == LpStatus.OPTIMAL else float("nan")
        figures.update(lp_columns=float(lp.columns), lp_rows=float(lp.rows),
                       lp_seconds=lp.seconds)
    if q.method == "exact" and lp is not None:
        stock = round_plan(lp.stock, p.national, p.storage, q.allow_shortfall)
        status = (PlanStatus.OPTIMAL if lp.status == LpStatus.OPTIMAL
                  else PlanStatus.TIME_LIMIT)
    elif q.method == "fast":
        fast = solve_fast(p, q, model, seed, callbacks, client)
        stock = fast.stock
        figures.update(iterations=float(fast.iterations), max_excess=fast.max_excess)
    else:
        from forestock.plan._baselines import baseline

        stock = baseline(p, model, q.method)
    seconds = time.perf_counter() - t0
    ev = evaluate(p, q, model, stock, seed)
    if q.check_gap and np.isfinite(bound) and bound != 0:
        value = solve_lp(p, q, model, seed, fixed=stock).objective
        gap = max(bound - value, 0.0) / abs(bound)
        figures["exact_value"] = value
    units = int(stock.sum())
    if ev.demand > 0:
        figures.update({f"expected_lost_24h_{why}": units_late / ev.demand
                        for why, units_late in ev.late_24h.items()})
    shortfall = p.demand - units
    if shortfall > 0 and status == PlanStatus.OK:
        status = PlanStatus.SHORTFALL
    result = _result(p, q, stock, ev, seed, seconds)
    log.info("plan (%s): %s of %s units, %.1f%% expected within 24 h, %.1f s", q.method,
             units, p.demand, 100 * result.expected_share_24h, seconds)
    return PlanResult(
        plan=result.plan, status=status, units=units, demand=p.demand, shortfall=shortfall,
        expected_share_24h=result.expected_share_24h,
        expected_share_48h=result.expected_share_48h, warehouses=result.warehouses,
        method=q.method, objective=ev.value, bound=bound, gap=gap, seconds=seconds,
        costs=result.costs, seed=seed, figures=figures, stock=stock,
    )


def _result(p: PlanProblem, q: PlanParams, stock: np.ndarray, ev: Evaluation, seed: int,
            seconds: float) -> PlanResult:
    nz_s, nz_w = np.nonzero(stock)
    plan = pd.DataFrame({
        "sku_id": p.skus.ids[nz_s],
        "warehouse_id": p.warehouses.ids[nz_w],
        "units": stock[nz_s, nz_w].astype(np.int64),
    })
    used = stock.sum(axis=0)
    wh = pd.DataFrame({
        "warehouse_id": p.warehouses.ids,
        "units": used.astype(np.int64),
        "storage_units": p.storage,
        "utilisation": np.divide(used, p.storage, out=np.zeros(len(used)),
                                 where=p.storage > 0),
        "expected_outbound": ev.shipments,
    })
    inbound = float((stock * p.inbound_km).sum() * q.inbound_cny_per_km)
    holding = float((stock.sum(axis=1) * p.price).sum() * q.holding_rate)
    costs = {"inbound": inbound, "holding": holding, "outbound": ev.lane_cost,
             "total": inbound + holding + ev.lane_cost}
    d = ev.demand
    return PlanResult(plan=plan, status=PlanStatus.OK, units=0, demand=0, shortfall=0,
                      expected_share_24h=ev.within_24h / d if d else 0.0,
                      expected_share_48h=ev.within_48h / d if d else 0.0,
                      warehouses=wh, costs=costs, seed=seed, seconds=seconds)


def exact_value(problem: PlanProblem, stock: np.ndarray, params: PlanParams | None = None,
                seed: int = 0) -> float:
    """The value of a given plan ``stock [sku, warehouse]`` with the best recourse in every
    scenario (the LP's second stage): the yardstick for gaps to the LP optimum."""
    q = params or PlanParams()
    model = SolverArrays.build(problem, q)
    return solve_lp(problem, q, model, seed, fixed=stock).objective


def lp_columns(problem: PlanProblem, params: PlanParams | None = None) -> int:
    """Columns of the exact LP (to see whether it is small enough to solve)."""
    q = params or PlanParams()
    return lp_size(problem, q, SolverArrays.build(problem, q))[0]
