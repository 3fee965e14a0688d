"""What every method shares: lanes and their values, unit costs, evaluation (demand
scenarios come from ``PlanProblem.uncertainty``, the model plan and rehearsal share)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from forestock import network
from forestock.plan import _kernels as K
from forestock.plan._params import PlanParams
from forestock.plan._problem import PlanProblem

__all__ = ["SolverArrays", "chunks", "evaluate"]


def chunks(n_skus: int, size: int) -> Iterator[tuple[int, int]]:
    """SKU ranges ``[lo, hi)`` of at most ``size`` SKUs."""
    for lo in range(0, n_skus, size):
        yield lo, min(lo + size, n_skus)


@dataclass(frozen=True)
class SolverArrays:
    """The problem's arrays as the solvers use them: each region's routing list with its
    lanes' hours, costs and delivery-tier values, and the unit costs and margins per SKU
    and warehouse (built once per solve by :meth:`build`)."""

    reg_w: np.ndarray  # int32 [region, lane]: nearest warehouses, -1 past the last
    reg_tier: np.ndarray  # float64 [region, lane]: share of margin by delivery tier
    reg_cost: np.ndarray  # float64 [region, lane]: lane cost less the promise's value
    reg_hours: np.ndarray  # float64 [region, lane]
    fb_tier: float
    fb_cost: np.ndarray  # float64 [warehouse]
    margin: np.ndarray  # float64 [sku]
    base_cost: np.ndarray  # float64 [sku, warehouse]: inbound + holding (+ surplus) per unit
    bonus: np.ndarray  # float64 [sku, warehouse]: shortage + surplus cost a unit served saves
    ship_cap: np.ndarray  # float64 [warehouse]: units it may ship (inf: no limit)
    route: np.ndarray  # int32 [region, rank]: the rehearsal's routes (forestock.network)

    @classmethod
    def build(cls, problem: PlanProblem, params: PlanParams) -> SolverArrays:
        p, q = problem, params
        usable = ~np.isnan(p.transit)
        hours = np.where(usable, p.transit, np.inf).T  # [region, warehouse]
        order = np.argsort(hours, axis=1, kind="stable").astype(np.int32)
        r_hours = np.take_along_axis(hours, order, axis=1)
        r_cost = np.take_along_axis(np.nan_to_num(p.lane_cost.T, nan=0.0), order, axis=1)
        route = np.where(np.isfinite(r_hours), order, -1).astype(np.int32)
        L = min(q.lanes_per_region, route.shape[1])
        net = q.network
        p24, p48 = (network.on_time(r_hours, t, net.transit_noise, net.last_mile_hours)
                    for t in net.promise_hours)
        v24, v48, vlate = q.tier_values
        tier = v24 * p24 + v48 * (p48 - p24) + vlate * (1.0 - p48)
        fb_cost = np.nanmean(np.where(usable, p.lane_cost, np.nan), axis=1)
        n_s, n_w = len(p.skus), len(p.warehouses)
        short = np.zeros(n_s) if p.shortage_cost is None else p.shortage_cost
        surplus = np.zeros((n_s, n_w)) if p.surplus_cost is None else p.surplus_cost
        ship_cap = (p.outbound * q.outbound_hours * q.network.units_per_order
                    if q.outbound_hours > 0 else np.full(n_w, np.inf))
        return cls(
            reg_w=np.ascontiguousarray(route[:, :L]),
            reg_tier=np.ascontiguousarray(tier[:, :L]),
            reg_cost=np.ascontiguousarray((r_cost - q.promise_cny * p24)[:, :L]),
            reg_hours=np.ascontiguousarray(r_hours[:, :L]),
            fb_tier=float(vlate),
            fb_cost=np.nan_to_num(fb_cost, nan=0.0),
            margin=p.price * q.margin_rate,
            # a unit left over costs its surplus cost, a unit of demand unserved its
            # shortage cost: so a unit placed costs the surplus cost and a unit served saves
            # both (up to a constant, the shortage cost of all demand)
            base_cost=(p.inbound_km * q.inbound_cny_per_km
                       + (p.price * q.holding_rate)[:, None] + surplus),
            bonus=short[:, None] + surplus,
            ship_cap=ship_cap.astype(float),
            route=network.nearest(p.transit, p.outbound),
        )


    def prices(self, mu: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """The kernels' per-unit price of shipping SKU ``lo..hi`` from each warehouse: the
        warehouse's outbound price ``mu`` less what a unit served there saves."""
        return np.ascontiguousarray(mu[None, :] - self.bonus[lo:hi])


@dataclass(frozen=True)
class Evaluation:
    """What a plan is expected to deliver over the scenarios."""

    demand: float
    served: float
    within_24h: float
    within_48h: float
    lane_cost: float
    value: float
    shipments: np.ndarray  # float64 [warehouse]: expected units shipped (model routing)
    late_24h: dict[str, float]  # expected units not within 24 h: stock, backlog, transit


def evaluate(problem: PlanProblem, params: PlanParams, model: SolverArrays, stock: np.ndarray,
             seed: int, mu: np.ndarray | None = None) -> Evaluation:
    """Expected delivery of ``stock [sku, warehouse]`` over the plan's scenarios, by the
    network's rules as the rehearsal applies them (:mod:`forestock.network`: nearest
    warehouse with stock, the warehouses' hourly queues, noisy lanes), and the
    model's value (lanes by value, then the fallback pool)."""
    p = problem
    n_w, n_r, n_k = len(p.warehouses), len(p.regions), params.scenarios
    ship = np.zeros(n_w)
    value = 0.0
    mu = np.zeros(n_w) if mu is None else mu
    flow = np.zeros((n_k, n_w, n_r))
    unserved_k = np.zeros(n_k)
    for lo, hi in chunks(len(p.skus), params.chunk_skus):
        D = p.uncertainty.scenarios(lo, hi, n_k, seed)
        ip = p.indptr[lo:hi + 1] - p.indptr[lo]
        regions = p.cell_region[p.indptr[lo]:p.indptr[hi]]
        x = np.ascontiguousarray(stock[lo:hi], dtype=np.float64)
        for k in range(n_k):
            unserved_k[k] += network.fluid_route(ip, regions, np.ascontiguousarray(D[:, k]), x,
                                            model.route, flow[k])
        vals = np.zeros(hi - lo)
        K.plan_value(ip, regions, D, model.margin[lo:hi], x, model.base_cost[lo:hi],
                     model.reg_w, model.reg_tier, model.reg_cost, model.fb_tier, model.fb_cost,
                     model.prices(mu, lo, hi), ship, vals)
        value += float(vals.sum())
    within = np.zeros(2)
    late = dict.fromkeys(("stock", "backlog", "transit"), 0.0)
    net = params.network
    cdf = net.day_cdf()
    own_hour = network.own_hour_on_time(p.transit, net.promise_hours[0], net.transit_noise,
                                        net.last_mile_hours, cdf)
    for k in range(n_k):
        got = network.serve_flow(flow[k], unserved_k[k], model.route, p.transit, p.outbound,
                                 units_per_parcel=net.units_per_order,
                                 promise=net.promise_hours, noise=net.transit_noise,
                                 last_mile=net.last_mile_hours, cdf=cdf, own_hour=own_hour)
        within += got.within
        for why, units in got.late.items():
            late[why] += units / n_k
    served = float(flow.sum()) / n_k
    return Evaluation(demand=served + float(unserved_k.mean()), served=served,
                      within_24h=float(within[0]) / n_k, within_48h=float(within[1]) / n_k,
                      lane_cost=float((flow.sum(axis=0) * np.nan_to_num(p.lane_cost)).sum())
                      / n_k, value=value, shipments=ship, late_24h=late)
