"""A plan over an event window: stock placed before it, and replenishment waves during it.

The window is cut into runs of days, each starting with a wave (:func:`wave_bounds`):
at most ``wave_days`` days, fewer where the next days' quantities would fill more than
``wave_fill`` of the network's storage. Each run is planned as a one-day plan of its
own total (:meth:`WindowProblem.part_problem`, by ``params.method``; with ``fast``, the
nearest rule's stock where the plan's own model values it more): its stock
``X_k[sku, warehouse]`` is what each warehouse should hold when the run begins. The
first run's is the stock placed before the event; each later one is reached by a wave:

- **transfers** (hub -> each warehouse it replenishes) leave the hub on the day the
  hub's inbound wave arrives and arrive the lane's hours plus handling later, by the
  run's first day. Each brings the warehouse's position (on hand and on the way) up to
  ``up_to = X_k + its demand until the run begins``, at most ``units`` (as much as
  ``up_to``: a refill from empty);
- **inbound** (manufacturer -> hub) arrives in time for the transfers, shipped the
  factory's lead time and ``safety_days`` before. It brings the position of the hub
  and every warehouse it replenishes up to ``up_to = X_k`` of them all plus their
  demand until the run begins, at most ``units``: what that order-up-to rule ships
  when the demand until it is shipped runs at the plan's quantile (the quantile of the
  days' total, not a sum of daily quantiles), so the stock placed before the event plus
  every inbound wave adds up to about the window total's quantile.

The demand until a run begins is its days' mean scaled as their run's quantity is
(``units / mean`` of the run): at the plan's level, as the run's stock is, so that a
wave set while demand runs hot still brings the run's stock (with the mean, the
embedded world's 11.11 season left 6.4% of its units unfilled, against 2.3%).

A rehearsal ships what the rule asks, at most the plan's ``units``: less when demand
runs below the quantile. A one-day window is one run: the plan of today, no waves.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.callbacks import Callbacks
from forestock.plan._params import PlanParams
from forestock.plan._result import PlanResult
from forestock.plan._status import PlanStatus
from forestock.plan._window import WindowProblem

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["WindowPlanResult", "solve_window", "wave_bounds"]

log = logging.getLogger("forestock.plan")


@dataclass(frozen=True)
class WindowPlanResult:
    """A plan over an event window: the stock placed before it and the replenishment
    waves during it.

    Attributes
    ----------
    plan
        The ``plan`` table: units per SKU and warehouse placed before the event.
    replenishment
        The ``replenishment`` table: one row per wave, kind, SKU and destination (empty
        for a one-day window, or without waves).
    runs
        Per run of days (``run``, 0 first): ``start``, ``end``, ``days``, ``mean``
        (forecast units), ``units`` (the run's quantity at the plan's level), ``placed``
        (the stock its plan holds when it begins), ``expected_share_24h`` and
        ``_48h``, ``objective`` (its plan's value) and ``method`` (the one whose stock
        it holds: with ``fast``, a run takes the nearest rule's stock where the plan's
        model values that more).
    initial
        The first run's plan (:func:`~forestock.plan.solve_plan`'s result); for a
        one-day window the plan of today.
    status
        ``shortfall`` when any run's quantities did not all fit, else the first run's.
    units
        Units placed before the event.
    inbound_units, transfer_units
        The waves' planned units (at most): from manufacturers, and from hubs on.
    demand
        Forecast units of the window (means).
    quantity
        The window total's quantities at the plan's level, all SKUs.
    expected_share_24h, expected_share_48h
        Each run's expected shares (by the rehearsal's rules) weighted by its forecast
        units.
    costs
        Planned CNY: ``inbound`` (placement and inbound waves at their most),
        ``transfer``, ``holding`` and ``outbound`` (expected, every run), ``total``.
    figures
        ``expected_lost_24h_stock``, ``_backlog`` and ``_transit``: the runs' expected
        shares of demand missing 24 h by reason, weighted as the shares.
    stock
        ``int64 [run, sku, warehouse]``: each run's stock when it begins.
    quantities
        ``int64 [run, sku]``: each run's quantities at the plan's level (the first
        run's are what the stock before the event was asked to hold).
    """

    plan: pd.DataFrame
    replenishment: pd.DataFrame
    runs: pd.DataFrame
    initial: PlanResult
    status: PlanStatus
    units: int
    inbound_units: int
    transfer_units: int
    demand: float
    quantity: int
    expected_share_24h: float
    expected_share_48h: float
    method: str = "fast"
    seconds: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    figures: dict[str, float] = field(default_factory=dict)
    stock: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.int64),
                              repr=False)
    quantities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64),
                                   repr=False)

    @property
    def waves(self) -> int:
        """Replenishment waves during the event."""
        return int(len(self.runs) - 1)


def wave_bounds(problem: WindowProblem, params: PlanParams) -> list[int]:
    """The window's runs of days as bounds ``[0, s_1, ..., n_days]``: a run lasts at most
    ``wave_days`` days, and ends sooner where one more day would make its quantities
    exceed ``wave_fill`` of the network's storage (a day alone is always a run). One run
    for a one-day window or ``wave_days`` 0."""
    n = problem.n_days
    if n == 1 or params.wave_days == 0:
        return [0, n]
    room = params.wave_fill * float(problem.base.storage.sum())
    bounds = [0]
    first = 0
    while first < n:
        last = first + 1
        while (last < n and last - first < params.wave_days
               and float(problem.part(first, last + 1)[2].sum()) <= room):
            last += 1
        bounds.append(last)
        first = last
    return bounds


def solve_window(problem: WindowProblem, params: PlanParams | None = None, seed: int = 0,
                 callbacks: Callbacks | None = None, client: Client | None = None
                 ) -> WindowPlanResult:
    """Plan the window: stock before the event, replenishment waves during it.

    Parameters
    ----------
    problem
        The window, its demand and the network.
    params
        Settings (``method``, ``wave_days``, ``wave_fill``, lead times...); default
        :class:`PlanParams()`.
    seed
        Seed of the demand scenarios; same seed, same plan.
    callbacks
        Progress listener (each run's plan, task ``"plan"``).
    client
        A Dask client: each run's fast plan places its SKUs on the workers (see
        :func:`~forestock.plan.solve_plan`).

    Raises
    ------
    InfeasibleError
        When a run's quantities exceed storage (a run of one day can: a peak day larger
        than the network), unless ``allow_shortfall``.
    """
    from forestock.plan import solve_plan

    q = params or PlanParams()
    t0 = time.perf_counter()
    bounds = wave_bounds(problem, q)
    n_runs = len(bounds) - 1
    parts = [problem.part_problem(bounds[k], bounds[k + 1]) for k in range(n_runs)]
    results = [solve_plan(p, q, seed, callbacks, client) for p in parts]
    if n_runs > 1 and q.method == "fast":
        # a run's stock is the fast method's, or the nearest rule's where the plan's own
        # model (the same scenarios) values that more: runs between waves seldom fill the
        # network, where the fast method's coarse chunks can lose to the simple rule
        rules = [solve_plan(p, q.replace(method="nearest"), seed) for p in parts]
        results = [r if r.objective >= b.objective else b
                   for r, b in zip(results, rules, strict=True)]
    stock = np.stack([r.stock.astype(np.int64) for r in results])
    quantities = np.stack([p.national for p in parts])
    waves = _waves(problem, q, bounds, stock, quantities) if n_runs > 1 else _no_waves()
    seconds = time.perf_counter() - t0
    daily = problem.day_mean.sum(axis=0)
    mean = np.array([daily[bounds[k]:bounds[k + 1]].sum() for k in range(n_runs)])
    weight = mean / mean.sum() if mean.sum() > 0 else np.full(n_runs, 1.0 / n_runs)
    dates = problem.dates
    runs = pd.DataFrame({
        "run": np.arange(n_runs),
        "start": pd.to_datetime([dates[b] for b in bounds[:-1]]),
        "end": pd.to_datetime([dates[b - 1] for b in bounds[1:]]),
        "days": np.diff(bounds),
        "mean": mean,
        "units": [int(p.national.sum()) for p in parts],
        "placed": stock.sum(axis=(1, 2)),
        "expected_share_24h": [r.expected_share_24h for r in results],
        "expected_share_48h": [r.expected_share_48h for r in results],
        "objective": [r.objective for r in results],
        "method": [r.method for r in results],
    })
    short = any(r.status == PlanStatus.SHORTFALL for r in results)
    status = PlanStatus.SHORTFALL if short else results[0].status
    inbound = waves[waves["kind"] == "inbound"]
    transfer = waves[waves["kind"] == "transfer"]
    costs = _costs(problem, q, results, inbound, transfer)
    result = WindowPlanResult(
        plan=results[0].plan, replenishment=waves, runs=runs, initial=results[0],
        status=status, units=results[0].units, inbound_units=int(inbound["units"].sum()),
        transfer_units=int(transfer["units"].sum()), demand=float(daily.sum()),
        quantity=int(problem.base.national.sum()),
        expected_share_24h=float(weight @ runs["expected_share_24h"]),
        expected_share_48h=float(weight @ runs["expected_share_48h"]),
        method=q.method, seconds=seconds, costs=costs, seed=seed,
        figures={name: float(weight @ [r.figures.get(name, 0.0) for r in results])
                 for name in results[0].figures if name.startswith("expected_lost_24h_")},
        stock=stock, quantities=quantities)
    log.info("window plan (%s): %d days in %d runs, %s units placed, %s inbound and %s "
             "transfer units planned in %d waves, %.1f%% expected within 24 h, %.1f s",
             q.method, problem.n_days, n_runs, result.units, result.inbound_units,
             result.transfer_units, n_runs - 1, 100 * result.expected_share_24h, seconds)
    return result


_COLUMNS = ("wave", "kind", "sku_id", "from_id", "warehouse_id", "units", "up_to", "ship_on",
            "arrive_on")


def _no_waves() -> pd.DataFrame:
    return pd.DataFrame({
        "wave": pd.Series(dtype=np.int64), "kind": pd.Series(dtype=object),
        "sku_id": pd.Series(dtype=object), "from_id": pd.Series(dtype=object),
        "warehouse_id": pd.Series(dtype=object), "units": pd.Series(dtype=np.int64),
        "up_to": pd.Series(dtype=np.int64), "ship_on": pd.Series(dtype="datetime64[ns]"),
        "arrive_on": pd.Series(dtype="datetime64[ns]")})


class _Draw:
    """Units each warehouse serves of each SKU over days: the SKU's mean demand of each day
    (or its demand at the plan's quantile: the mean scaled as the day's run's quantity is),
    shared as the stock of the day's run is placed."""

    def __init__(self, problem: WindowProblem, bounds: list[int], stock: np.ndarray,
                 quantities: np.ndarray) -> None:
        daily = problem.daily_national()  # [sku, day]
        self.cum = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)],
                                  axis=1)
        placed = stock.sum(axis=2, keepdims=True)
        self.share = np.divide(stock, placed, out=np.zeros(stock.shape), where=placed > 0)
        self.bounds = bounds
        mean = np.stack([self.cum[:, b1] - self.cum[:, b0]
                         for b0, b1 in itertools.pairwise(bounds)])  # [run, sku]
        self.safety = np.maximum(np.divide(quantities, mean, out=np.ones(mean.shape),
                                           where=mean > 0), 1.0)

    def over(self, first: np.ndarray, last: np.ndarray, warehouses: np.ndarray,
             at_quantile: bool = False) -> np.ndarray:
        """Units ``[sku, j]`` warehouse ``warehouses[j]`` serves over days ``first[sku, j]``
        to ``last[sku, j] - 1`` within the window: expected, or ``at_quantile``."""
        rows = np.arange(self.cum.shape[0])[:, None]
        out = np.zeros(np.broadcast_shapes(first.shape, last.shape))
        for k in range(len(self.bounds) - 1):
            lo = np.clip(first, self.bounds[k], self.bounds[k + 1])
            hi = np.maximum(np.clip(last, self.bounds[k], self.bounds[k + 1]), lo)
            units = (self.cum[rows, hi] - self.cum[rows, lo]) * self.share[k][:, warehouses]
            out += units * self.safety[k][:, None] if at_quantile else units
        return out

    def total(self, last: np.ndarray) -> np.ndarray:
        """Each SKU's mean units of days ``0`` to ``last - 1``."""
        rows = np.arange(self.cum.shape[0])[:, None]
        return np.asarray(self.cum[rows, np.clip(last, 0, self.cum.shape[1] - 1)])


def _waves(problem: WindowProblem, q: PlanParams, bounds: list[int], stock: np.ndarray,
           quantities: np.ndarray) -> pd.DataFrame:
    """The replenishment table of the runs ``bounds`` whose stock at their start is
    ``stock [run, sku, warehouse]``, of quantities ``[run, sku]`` (see the module's
    notes)."""
    w = problem
    n_s, n_w = stock.shape[1], stock.shape[2]
    hub = w.hub.astype(np.int64)
    hubs = np.flatnonzero(w.is_hub)
    spokes = np.flatnonzero(~w.is_hub)
    member = (hub[None, :] == hubs[:, None]).astype(np.int64)  # [hub, warehouse]
    t_days = np.where(w.is_hub, 0, np.ceil((w.transfer_hours + q.transfer_hours) / 24.0)
                      ).astype(np.int64)
    span = (member * t_days[None, :]).max(axis=1)  # [hub]: its slowest transfer
    lead = w.inbound_days(q)[:, hubs] + q.safety_days  # [sku, hub]
    of_hub = np.searchsorted(hubs, hub)  # [warehouse]: its hub's position among hubs
    draw = _Draw(w, bounds, stock, quantities)
    group = stock @ member.T  # [run, sku, hub]
    planned = group[0].astype(float)  # units each hub's group was planned to hold so far
    quantity: dict[int, np.ndarray] = {0: np.zeros(n_s)}
    frames = []
    for k in range(1, len(bounds) - 1):
        first = bounds[k]
        arrive = first - span  # [hub]
        ship = arrive[None, :] - lead  # [sku, hub]
        start = np.maximum(ship, 0)
        per_wh = start[:, of_hub]  # [sku, warehouse]: its hub's inbound ship day
        lead_units = draw.over(per_wh, np.full_like(per_wh, first), np.arange(n_w),
                               at_quantile=True) @ member.T
        up_to = group[k] + lead_units
        served = draw.over(np.zeros_like(per_wh), per_wh, np.arange(n_w)) @ member.T
        total = draw.total(start)
        share = np.divide(served, total, out=(draw.share[0] @ member.T), where=total > 0)
        before = np.zeros(start.shape)  # the quantity of the days before the shipping
        for d in np.unique(start):
            if int(d) not in quantity:
                quantity[int(d)] = w.part(0, int(d))[2].astype(float)
            rows = start == d
            before[rows] = np.broadcast_to(quantity[int(d)][:, None], start.shape)[rows]
        # (what the hub sends on leaves the day it arrives: a wave fits the hub's group)
        cap = _within(np.maximum(np.ceil(up_to + share * before - planned - 1e-9), 0.0),
                      member @ w.base.storage)
        planned = planned + cap
        frames.append(_rows(w, k, "inbound", cap, up_to, ship,
                            np.broadcast_to(arrive[None, :], ship.shape), hubs,
                            np.broadcast_to(w.sku_brand[:, None], ship.shape)))
        if spokes.size:
            t_ship = np.broadcast_to(arrive[of_hub[spokes]][None, :], (n_s, spokes.size))
            want = stock[k][:, spokes] + draw.over(np.maximum(t_ship, 0),
                                                   np.full_like(t_ship, first), spokes,
                                                   at_quantile=True)
            source = w.base.warehouses.ids[hub[spokes]]
            units = _within(np.ceil(want - 1e-9), w.base.storage[spokes])
            frames.append(_rows(w, k, "transfer", units, want, t_ship,
                                t_ship + t_days[spokes][None, :], spokes,
                                np.broadcast_to(source[None, :], t_ship.shape)))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["wave", "kind", "sku_id", "warehouse_id"], ignore_index=True)


def _within(units: np.ndarray, storage: np.ndarray) -> np.ndarray:
    """``units [sku, j]`` scaled down (whole units) where a destination's column adds up to
    more than its ``storage [j]``: a wave never brings more than a warehouse holds (a
    hub's: more than it and the warehouses it sends on to hold)."""
    total = units.sum(axis=0)
    over = total > storage
    if not over.any():
        return units
    scale = np.where(over, storage / np.maximum(total, 1.0), 1.0)
    return np.where(over[None, :], np.floor(units * scale[None, :]), units)


def _rows(w: WindowProblem, wave: int, kind: str, units: np.ndarray, up_to: np.ndarray,
          ship: np.ndarray, arrive: np.ndarray, dest: np.ndarray,
          source: np.ndarray) -> pd.DataFrame:
    """The rows ``[sku, j]`` with a unit or more, to ``dest[j]`` from ``source[sku, j]``."""
    s, j = np.nonzero(units >= 1)
    day0 = w.days[0]
    return pd.DataFrame({
        "wave": np.full(s.size, wave, dtype=np.int64),
        "kind": np.full(s.size, kind, dtype=object),
        "sku_id": w.base.skus.ids[s],
        "from_id": np.asarray(source, dtype=object)[s, j],
        "warehouse_id": w.base.warehouses.ids[dest[j]],
        "units": units[s, j].astype(np.int64),
        "up_to": np.ceil(up_to[s, j] - 1e-9).astype(np.int64),
        "ship_on": pd.to_datetime(day0 + ship[s, j].astype("timedelta64[D]")),
        "arrive_on": pd.to_datetime(day0 + arrive[s, j].astype("timedelta64[D]")),
    })


def _costs(problem: WindowProblem, q: PlanParams, results: list[PlanResult],
           inbound: pd.DataFrame, transfer: pd.DataFrame) -> dict[str, float]:
    """The plan's costs (CNY): the first run's inbound plus the inbound waves' at their
    most, the transfers', and every run's expected holding and outbound."""
    b = problem.base
    s = b.skus.codes(inbound["sku_id"])
    h = b.warehouses.codes(inbound["warehouse_id"])
    wave_in = float((inbound["units"].to_numpy() * b.inbound_km[s, h]).sum()
                    * q.inbound_cny_per_km)
    f = b.warehouses.codes(transfer["warehouse_id"])
    moved = float((transfer["units"].to_numpy() * problem.transfer_cost[f]).sum()
                  * q.transfer_cost_share)
    costs = {
        "inbound": results[0].costs["inbound"] + wave_in,
        "transfer": moved,
        "holding": sum(r.costs["holding"] for r in results),
        "outbound": sum(r.costs["outbound"] for r in results),
    }
    costs["total"] = sum(costs.values())
    return costs
