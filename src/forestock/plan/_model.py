"""What every method shares: demand scenarios, lanes and their values, unit costs, evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from forestock.plan import _kernels as K
from forestock.plan._problem import PlanParams, PlanProblem, cell_sd, cell_shared

__all__ = ["SolverArrays", "chunks", "evaluate", "scenarios"]


def chunks(n_skus: int, size: int) -> Iterator[tuple[int, int]]:
    """SKU ranges ``[lo, hi)`` of at most ``size`` SKUs."""
    for lo in range(0, n_skus, size):
        yield lo, min(lo + size, n_skus)


def scenarios(problem: PlanProblem, lo: int, hi: int, n: int, seed: int) -> np.ndarray:
    """Demand scenarios ``[cell, scenario]`` of SKUs ``lo..hi``.

    Each cell's normal score is ``sqrt(rho_c) * Z_s + sqrt(1 - rho_c) * e_c``
    (``rho_c`` from :func:`cell_shared`): a national factor per SKU (stratified
    over the scenarios, so that each SKU's national demand spans its
    distribution) plus a regional one; the score is
    mapped through the cell's forecast quantiles (piecewise linear in the normal
    score, extended linearly beyond the outer quantiles, clipped at 0). Draws
    are keyed by SKU and cell codes: any chunking gives the same scenarios.
    """
    p = problem
    c_lo, c_hi = int(p.indptr[lo]), int(p.indptr[hi])
    seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    skus = np.arange(lo, hi, dtype=np.int64)
    u = K.uniforms(seed64, skus, n, 1)
    perm = np.argsort(K.uniforms(seed64, skus, n, 3), axis=1)
    national = ndtri((perm + u) / n)
    e = ndtri(K.uniforms(seed64, np.arange(c_lo, c_hi, dtype=np.int64), n, 2))
    sku_of = np.repeat(np.arange(hi - lo), np.diff(p.indptr[lo:hi + 1]))
    q = p.cell_quant[c_lo:c_hi]
    rho = cell_shared(p.cell_mean[c_lo:c_hi], cell_sd(q, p.levels), p.correlation)
    z = np.sqrt(rho)[:, None] * national[sku_of] + np.sqrt(1.0 - rho)[:, None] * e
    zk = ndtri(p.levels)
    seg = np.clip(np.searchsorted(zk, z) - 1, 0, zk.size - 2)
    v0 = np.take_along_axis(q, seg, axis=1)
    v1 = np.take_along_axis(q, seg + 1, axis=1)
    slope = (v1 - v0) / (zk[seg + 1] - zk[seg])
    return np.asarray(np.maximum(v0 + (z - zk[seg]) * slope, 0.0))


def on_time(hours: np.ndarray, promise: float, noise: float, last_mile: float) -> np.ndarray:
    """Chance that a lane of ``hours`` (varying uniformly by ``noise`` either way) plus the
    last mile delivers within ``promise`` hours; 0 for a missing (infinite) lane."""
    h = np.asarray(hours, dtype=float)
    slack = promise - last_mile
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if noise == 0.0:
            p = (h <= slack).astype(float)
        else:  # h * (1 + u) <= slack  <=>  u <= slack / h - 1, u ~ U(-noise, noise)
            p = np.clip((slack / h - 1.0 + noise) / (2.0 * noise), 0.0, 1.0)
    return np.where(np.isfinite(h) & (h > 0), p, np.where(h <= 0, float(slack >= 0), 0.0))


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
    route: np.ndarray  # int32 [region, warehouse]: all warehouses by lane hours
    route_hours: np.ndarray
    route_cost: np.ndarray
    route_p24: np.ndarray  # float64 [region, warehouse]: chance the lane meets 24 h
    route_p48: np.ndarray

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
        p24, p48 = (on_time(r_hours, t, q.transit_noise, q.last_mile_hours)
                    for t in q.promise_hours)
        v24, v48, vlate = q.tier_values
        tier = v24 * p24 + v48 * (p48 - p24) + vlate * (1.0 - p48)
        fb_cost = np.nanmean(np.where(usable, p.lane_cost, np.nan), axis=1)
        n_s, n_w = len(p.skus), len(p.warehouses)
        short = np.zeros(n_s) if p.shortage_cost is None else p.shortage_cost
        surplus = np.zeros((n_s, n_w)) if p.surplus_cost is None else p.surplus_cost
        ship_cap = (p.outbound * q.outbound_hours * q.units_per_parcel if q.outbound_hours > 0
                    else np.full(n_w, np.inf))
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
            route=route,
            route_hours=np.where(np.isfinite(r_hours), r_hours, 0.0),
            route_cost=r_cost,
            route_p24=p24,
            route_p48=p48,
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


def evaluate(problem: PlanProblem, params: PlanParams, model: SolverArrays, stock: np.ndarray,
             seed: int, mu: np.ndarray | None = None) -> Evaluation:
    """Expected delivery of ``stock [sku, warehouse]``: shares by nearest-first routing,
    and the model's value (lanes by value, then the fallback pool)."""
    p = problem
    n_w = len(p.warehouses)
    out = np.zeros(5)
    ship = np.zeros(n_w)
    value = 0.0
    mu = np.zeros(n_w) if mu is None else mu
    for lo, hi in chunks(len(p.skus), params.chunk_skus):
        D = scenarios(p, lo, hi, params.scenarios, seed)
        ip = p.indptr[lo:hi + 1] - p.indptr[lo]
        regions = p.cell_region[p.indptr[lo]:p.indptr[hi]]
        x = np.ascontiguousarray(stock[lo:hi])
        K.route_share(ip, regions, D, x, model.route, model.route_hours, model.route_cost,
                      model.route_p24, model.route_p48, out)
        vals = np.zeros(hi - lo)
        K.plan_value(ip, regions, D, model.margin[lo:hi], x, model.base_cost[lo:hi],
                     model.reg_w, model.reg_tier, model.reg_cost, model.fb_tier, model.fb_cost,
                     model.prices(mu, lo, hi), ship, vals)
        value += float(vals.sum())
    return Evaluation(demand=float(out[0]), served=float(out[1]), within_24h=float(out[2]),
                      within_48h=float(out[3]), lane_cost=float(out[4]), value=value,
                      shipments=ship)
