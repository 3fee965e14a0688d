"""The fast method: decompose by SKU, coordinate through warehouse prices, repair.

Only storage (units held) and outbound (units shipped, in expectation)
couple SKUs. Pricing them (a storage price ``lam[w]`` per unit held, an
outbound price ``mu[w]`` per unit shipped) splits the problem into one small
problem per SKU, solved for thousands of SKUs at once by a numba kernel: each
SKU's national units are placed chunk by chunk where the next chunk adds most
expected value over the scenarios, net of prices. A dual-ascent loop raises
the prices of over-used warehouses and lowers those of idle ones (each
warehouse with its own adaptive step, which grows while the sign of its excess
holds and halves when it flips). The repair places every SKU again at the
final prices, now within room and all SKUs together: the next chunk placed is
always the best over all SKUs, so that the room of a full forward warehouse
goes to the chunks worth most there rather than to the SKUs that happen to
come first (placing SKU by SKU cost 1-2% of the optimum at binding forward
warehouses).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.plan import _kernels as K
from forestock.plan._model import SolverArrays, chunks
from forestock.plan._params import PlanParams
from forestock.plan._problem import PlanProblem

__all__ = ["FastOutcome", "solve_fast"]

log = logging.getLogger("forestock.plan")

_SLACK_ROUNDS = 4  # price corrections of warehouses the placement leaves with room
_CACHE_VALUES = 24_000_000  # scenario values kept between iterations (about 190 MB)


@dataclass(frozen=True)
class FastOutcome:
    stock: np.ndarray  # int64 [sku, warehouse]
    value: float
    lam: np.ndarray
    mu: np.ndarray
    iterations: int
    max_excess: float


class _Pass:
    """One placement of every SKU at given prices (optionally within room)."""

    def __init__(self, problem: PlanProblem, params: PlanParams, model: SolverArrays,
                 seed: int) -> None:
        self.p, self.q, self.m, self.seed = problem, params, model, seed
        total = int(problem.indptr[-1]) * params.scenarios
        # a chunk takes at most a twentieth of a warehouse's storage
        self.step_cap = np.maximum(problem.storage // 20, 1).astype(np.int64)
        self.cache: dict[int, np.ndarray] | None = {} if total <= _CACHE_VALUES else None

    def demand(self, lo: int, hi: int) -> np.ndarray:
        if self.cache is not None and lo in self.cache:
            return self.cache[lo]
        D = self.p.uncertainty.scenarios(lo, hi, self.q.scenarios, self.seed)
        if self.cache is not None:
            self.cache[lo] = D
        return D

    def jitter(self, lo: int, hi: int) -> np.ndarray:
        """Each SKU sees the storage prices scaled by its own factor in [0.6, 1.4]: the
        SKUs' responses then change smoothly with the prices, not all at once."""
        seed64 = np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF)
        u = K.uniforms(seed64, np.arange(lo, hi, dtype=np.int64), len(self.p.warehouses), 7)
        return 0.6 + 0.8 * u

    def run(self, lam: np.ndarray, mu: np.ndarray, room: np.ndarray | None,
            allow_short: bool) -> tuple[np.ndarray, np.ndarray, float]:
        p, m = self.p, self.m
        n_s, n_w = len(p.skus), len(p.warehouses)
        stock = np.zeros((n_s, n_w), dtype=np.int64)
        ship = np.zeros(n_w)
        value = 0.0
        use_room = room is not None
        room_arr = room if room is not None else np.zeros(n_w, dtype=np.int64)
        for lo, hi in chunks(n_s, self.q.chunk_skus):
            D = self.demand(lo, hi)
            ip = p.indptr[lo:hi + 1] - p.indptr[lo]
            regions = p.cell_region[p.indptr[lo]:p.indptr[hi]]
            unit = m.base_cost[lo:hi] + lam[None, :] * self.jitter(lo, hi)
            x = np.zeros((hi - lo, n_w), dtype=np.int64)
            vals = np.zeros(hi - lo)
            K.greedy_skus(ip, regions, D, m.margin[lo:hi], p.national[lo:hi], unit, m.reg_w,
                          m.reg_tier, m.reg_cost, m.fb_tier, m.fb_cost, m.prices(mu, lo, hi),
                          self.q.steps,
                          self.step_cap, room_arr, use_room, allow_short, x, ship, vals)
            stock[lo:hi] = x
            value += float(vals.sum() + (x * (unit - m.base_cost[lo:hi])).sum())
        # value at zero prices: add back what the prices took
        return stock, ship, value + float(mu @ ship)

    def place(self, lam: np.ndarray, mu: np.ndarray, use: np.ndarray,
              allow_short: bool) -> tuple[np.ndarray, float]:
        """A feasible plan at the final prices: all SKUs of a chunk placed together within
        room, the next chunk always the best over the SKUs (:func:`K.greedy_joint`).

        With several SKU chunks, each first gets the share of the room left that it used
        at these prices without room (``use [sku, warehouse]``); SKUs still short then
        finish in whatever room is left.
        """
        p = self.p
        n_s, n_w = len(p.skus), len(p.warehouses)
        stock = np.zeros((n_s, n_w), dtype=np.int64)
        room = p.storage.copy()
        parts = list(chunks(n_s, self.q.chunk_skus))
        left_use = use.sum(axis=0).astype(float)
        value = 0.0
        for lo, hi in parts:
            mine = use[lo:hi].sum(axis=0).astype(float)
            budget = room if len(parts) == 1 else np.floor(
                room * np.divide(mine, left_use, out=np.ones(n_w), where=left_use > 0)
            ).astype(np.int64)
            left_use -= mine
            given = budget.copy()
            x, value_c = self._joint(lo, hi, lam, mu, budget, stock[lo:hi], allow_short)
            if budget is not room:
                room -= given - budget
            if not allow_short and (x.sum(axis=1) < p.national[lo:hi]).any():
                x, value_c = self._joint(lo, hi, lam, mu, room, x, allow_short)
            stock[lo:hi] = x
            value += value_c
        return stock, value

    def _joint(self, lo: int, hi: int, lam: np.ndarray, mu: np.ndarray, room: np.ndarray,
               start: np.ndarray, allow_short: bool) -> tuple[np.ndarray, float]:
        """Complete ``start`` for SKUs ``lo..hi`` within ``room``; the stock and its value."""
        p, m = self.p, self.m
        D = self.demand(lo, hi)
        ip = p.indptr[lo:hi + 1] - p.indptr[lo]
        regions = p.cell_region[p.indptr[lo]:p.indptr[hi]]
        unit = m.base_cost[lo:hi] + lam[None, :]
        x = start.copy()
        vals = np.zeros(hi - lo)
        ship = np.zeros(len(p.warehouses))
        K.greedy_joint(ip, regions, D, m.margin[lo:hi], p.national[lo:hi], unit, m.reg_w,
                       m.reg_tier, m.reg_cost, m.fb_tier, m.fb_cost, m.prices(mu, lo, hi),
                       self.q.steps,
                       self.step_cap, room, allow_short, x, ship, vals)
        # value at zero prices: add back what the prices took
        return x, float(vals.sum() + (x * lam[None, :]).sum() + mu @ ship)


def solve_fast(problem: PlanProblem, params: PlanParams, model: SolverArrays, seed: int,
               callbacks: Callbacks | None = None) -> FastOutcome:
    """Dual ascent on warehouse prices, then a feasible placement at the final prices."""
    p, q, m = problem, params, model
    cb = callbacks or NO_CALLBACKS
    n_w = len(p.warehouses)
    runner = _Pass(p, q, m, seed)
    cap = p.storage.astype(float)
    ship_cap = m.ship_cap
    limit_ship = bool(np.isfinite(ship_cap).any())
    lam = np.zeros(n_w)
    mu = np.zeros(n_w)
    scale = float(np.average(m.margin, weights=np.maximum(p.national, 1)))
    step_l = np.full(n_w, 0.05 * scale)
    step_m = np.full(n_w, 0.05 * scale)
    last_l = np.zeros(n_w)
    last_m = np.zeros(n_w)
    max_excess = np.inf
    it = 0
    best: tuple[float, np.ndarray] | None = None
    cb.on_start("plan", q.iterations + 1)
    last_use: np.ndarray | None = None
    for it in range(1, q.iterations + 1):
        stock, ship, value = runner.run(lam, mu, None, q.allow_shortfall)
        last_use = stock
        held = stock.sum(axis=0)
        ex_l = (held - cap) / np.maximum(cap, 1.0)
        ex_m = (ship - ship_cap) / np.maximum(ship_cap, 1.0) if limit_ship else np.zeros(n_w)
        max_excess = float(max(ex_l.max(initial=0.0), ex_m.max(initial=0.0)))
        if max_excess <= 0.0 and (best is None or value > best[0]):
            best = (value, stock)
        lam, step_l, last_l = _ascend(lam, ex_l, step_l, last_l)
        if limit_ship:
            mu, step_m, last_m = _ascend(mu, np.nan_to_num(ex_m, nan=-1.0), step_m, last_m)
        log.debug("fast plan iteration %d: max excess %.4f", it, max_excess)
        cb.on_step("plan", 1)
        if max_excess <= 0.0 and it > 1 and np.all((lam == 0) | (ex_l > -0.02)):
            break
    if last_use is None:
        last_use, _, _ = runner.run(lam, mu, None, q.allow_shortfall)
    stock, value = runner.place(lam, mu, last_use, q.allow_shortfall)
    # complementary slackness: a warehouse the placement leaves with room should not be
    # priced; halve the prices of those and place again while the value improves
    for _ in range(_SLACK_ROUNDS):
        slack = (stock.sum(axis=0) < 0.98 * cap) & (lam > 0)
        if not slack.any():
            break
        lam_try = np.where(slack, 0.5 * lam, lam)
        stock_try, value_try = runner.place(lam_try, mu, last_use, q.allow_shortfall)
        if value_try <= value:
            break
        lam, stock, value = lam_try, stock_try, value_try
    if best is not None and best[0] > value:
        value, stock = best
    cb.on_step("plan", 1)
    cb.on_end("plan")
    return FastOutcome(stock=stock, value=value, lam=lam, mu=mu, iterations=it,
                       max_excess=max_excess)


def _ascend(price: np.ndarray, excess: np.ndarray, step: np.ndarray,
            last: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raise the price where use exceeds capacity, lower it (not below 0) where it does not."""
    sign = np.sign(excess)
    sign = np.where((sign < 0) & (price <= 0), 0.0, sign)
    step = np.where(sign * last > 0, step * 1.5, np.where(sign * last < 0, step * 0.5, step))
    new = np.maximum(price + sign * step * np.minimum(np.abs(excess) * 4.0 + 0.25, 1.0), 0.0)
    return new, step, np.where(sign != 0, sign, last)
