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

On a Dask cluster the dual ascent's rounds run on the workers: the SKU chunks
are scattered once, each round's prices go to every worker and the per-chunk
sums come back to be added up here in the chunks' order, as in one process, so
the plan is the same, bit for bit. The repair stays here.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.plan import _kernels as K
from forestock.plan._model import SolverArrays, chunks
from forestock.plan._params import PlanParams
from forestock.plan._problem import PlanProblem

if TYPE_CHECKING:
    from distributed import Client

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


class _Shard:
    """SKUs ``lo..hi`` of the problem with what placing them at given prices needs: their
    slices of the demand model and the unit costs, the network's arrays, and their demand
    scenarios once drawn (while they fit :data:`_CACHE_VALUES`). In one process one shard
    holds every SKU (views of the problem's arrays); on a cluster each worker holds one."""

    def __init__(self, problem: PlanProblem, params: PlanParams, model: SolverArrays,
                 seed: int, lo: int, hi: int) -> None:
        p, m = problem, model
        self.lo, self.hi, self.seed = lo, hi, seed
        self.scenarios, self.steps, self.allow_short = (params.scenarios, params.steps,
                                                        params.allow_shortfall)
        self.bounds = [(a + lo, b + lo) for a, b in chunks(hi - lo, params.chunk_skus)]
        u = p.uncertainty
        c_lo, c_hi = int(u.indptr[lo]), int(u.indptr[hi])
        self.demand_model = dataclasses.replace(
            u, indptr=u.indptr[lo:hi + 1] - u.indptr[lo], cell_region=u.cell_region[c_lo:c_hi],
            mean=u.mean[c_lo:c_hi], quant=u.quant[c_lo:c_hi], sku_key=u.sku_key[lo:hi])
        self.national = p.national[lo:hi]
        self.margin, self.base_cost, self.bonus = (m.margin[lo:hi], m.base_cost[lo:hi],
                                                   m.bonus[lo:hi])
        self.net = (m.reg_w, m.reg_tier, m.reg_cost, m.fb_tier, m.fb_cost)
        self.n_w = len(p.warehouses)
        # a chunk takes at most a twentieth of a warehouse's storage
        self.step_cap = np.maximum(p.storage // 20, 1).astype(np.int64)
        total = (c_hi - c_lo) * params.scenarios
        self.cache: dict[int, np.ndarray] | None = {} if total <= _CACHE_VALUES else None

    def demand(self, lo: int, hi: int) -> np.ndarray:
        """Demand ``[cell, scenario]`` of SKUs ``lo..hi`` (the problem's codes)."""
        if self.cache is not None and lo in self.cache:
            return self.cache[lo]
        D = self.demand_model.scenarios(lo - self.lo, hi - self.lo, self.scenarios, self.seed)
        if self.cache is not None:
            self.cache[lo] = D
        return D

    def __sizeof__(self) -> int:  # (Dask's measure of a shard a worker holds)
        arrays = [self.national, self.margin, self.base_cost, self.bonus, self.step_cap,
                  *(getattr(self.demand_model, f.name) for f in dataclasses.fields(
                      self.demand_model) if f.name not in ("levels", "correlation", "market")),
                  *(self.cache or {}).values()]
        return object.__sizeof__(self) + sum(int(a.nbytes) for a in arrays)

    def jitter(self, lo: int, hi: int) -> np.ndarray:
        """Each SKU sees the storage prices scaled by its own factor in [0.6, 1.4]: the
        SKUs' responses then change smoothly with the prices, not all at once."""
        seed64 = np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF)
        u = K.uniforms(seed64, np.arange(lo, hi, dtype=np.int64), self.n_w, 7)
        return 0.6 + 0.8 * u

    def run(self, lam: np.ndarray, mu: np.ndarray) -> _Placed:
        """Every SKU of the shard placed at prices ``lam``, ``mu``, without room."""
        n_w = self.n_w
        stock = np.zeros((self.hi - self.lo, n_w), dtype=np.int64)
        ship = np.zeros((len(self.bounds), n_w))
        value = np.zeros(len(self.bounds))
        room = np.zeros(n_w, dtype=np.int64)
        reg_w, reg_tier, reg_cost, fb_tier, fb_cost = self.net
        dm = self.demand_model
        for k, (lo, hi) in enumerate(self.bounds):
            a, b = lo - self.lo, hi - self.lo
            D = self.demand(lo, hi)
            ip = dm.indptr[a:b + 1] - dm.indptr[a]
            regions = dm.cell_region[dm.indptr[a]:dm.indptr[b]]
            unit = self.base_cost[a:b] + lam[None, :] * self.jitter(lo, hi)
            x = np.zeros((hi - lo, n_w), dtype=np.int64)
            vals = np.zeros(hi - lo)
            K.greedy_skus(ip, regions, D, self.margin[a:b], self.national[a:b], unit, reg_w,
                          reg_tier, reg_cost, fb_tier, fb_cost,
                          np.ascontiguousarray(mu[None, :] - self.bonus[a:b]), self.steps,
                          self.step_cap, room, False, self.allow_short, x, ship[k], vals)
            stock[a:b] = x
            value[k] = float(vals.sum() + (x * (unit - self.base_cost[a:b])).sum())
        return _Placed(stock, ship, value)


@dataclass(frozen=True)
class _Placed:
    """A shard's SKUs placed at given prices: their stock, and per SKU chunk (in order) the
    expected shipments per warehouse and the value net of the unit costs."""

    stock: np.ndarray  # int64 [sku, warehouse]
    ship: np.ndarray  # float64 [chunk, warehouse]
    value: np.ndarray  # float64 [chunk]

    def summary(self) -> _Placed:
        """The same without the stock, only its units per warehouse (a row): what the
        dual ascent's coordinator needs of a round."""
        return _Placed(self.stock.sum(axis=0, keepdims=True), self.ship, self.value)


def _reduce(parts: list[_Placed], mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Units held and shipped per warehouse and the value at zero prices of the shards'
    placements (in the SKUs' order): sums over the SKU chunks taken in their order, so that
    any split of the chunks over shards gives the same floats."""
    held = np.sum([p.stock.sum(axis=0) for p in parts], axis=0)
    ship = np.zeros(len(mu))
    value = 0.0
    for p in parts:
        for k in range(len(p.value)):
            ship += p.ship[k]
            value += float(p.value[k])
    # value at zero prices: add back what the prices took
    return held, ship, value + float(mu @ ship)


@dataclass(frozen=True)
class _Round:
    """A round of the dual ascent: units held and shipped per warehouse, the value at zero
    prices, and the round's stock (``ref``: the array, or on a cluster the futures of the
    shards' placements, fetched only if the round's stock is used)."""

    held: np.ndarray
    ship: np.ndarray
    value: float
    ref: object


def _place_shard(shard: _Shard, lam: np.ndarray, mu: np.ndarray) -> _Placed:
    return shard.run(lam, mu)


def _summarise(placed: _Placed) -> _Placed:
    return placed.summary()


class _Spread:
    """The dual ascent's rounds on a Dask cluster.

    The SKU chunks are split, in order, into one shard per worker, scattered once; a
    shard draws its demand scenarios on its worker and keeps them. Each round sends the
    prices to every shard, gathers per shard and SKU chunk the shipments and values and
    the units held, and reduces them here in the chunks' order (:func:`_reduce`), so the
    rounds are those of one process, bit for bit. The stock of a round stays on the
    workers until it is asked for (the last round's and perhaps the best one's).
    """

    def __init__(self, client: Client, problem: PlanProblem, params: PlanParams,
                 model: SolverArrays, seed: int) -> None:
        self.client = client
        workers = sorted(client.nthreads())
        bounds = list(chunks(len(problem.skus), params.chunk_skus)) or [(0, 0)]
        groups = np.array_split(np.arange(len(bounds)), max(1, min(len(workers), len(bounds))))
        self.shards = []
        for w, group in zip(workers, groups, strict=False):
            shard = _Shard(problem, params, model, seed, bounds[group[0]][0],
                           bounds[group[-1]][1])
            future = client.scatter(shard, workers=[w], hash=False)
            self.shards.append((w, future))
        log.info("fast plan on %d workers: %d SKU chunks", len(self.shards), len(bounds))

    def run(self, lam: np.ndarray, mu: np.ndarray) -> _Round:
        c = self.client
        placed = [c.submit(_place_shard, shard, lam, mu, workers=[w], allow_other_workers=True,
                           pure=False) for w, shard in self.shards]
        parts = c.gather([c.submit(_summarise, f, pure=False) for f in placed])
        held, ship, value = _reduce(parts, mu)
        return _Round(held, ship, value, placed)

    def stock(self, ref: object) -> np.ndarray:
        """The stock of a round (its ``ref``), fetched from the workers."""
        placed: list[_Placed] = self.client.gather(ref)
        return np.concatenate([p.stock for p in placed])


class _Pass:
    """Placements of every SKU in this process: at given prices without room (the dual
    ascent's rounds, as :class:`_Spread` on a cluster) and within room at the final
    prices."""

    def __init__(self, problem: PlanProblem, params: PlanParams, model: SolverArrays,
                 seed: int) -> None:
        self.p, self.q, self.m, self.seed = problem, params, model, seed
        self.local = _Shard(problem, params, model, seed, 0, len(problem.skus))
        self.step_cap = self.local.step_cap

    def demand(self, lo: int, hi: int) -> np.ndarray:
        return self.local.demand(lo, hi)

    def run(self, lam: np.ndarray, mu: np.ndarray) -> _Round:
        placed = self.local.run(lam, mu)
        held, ship, value = _reduce([placed], mu)
        return _Round(held, ship, value, placed.stock)

    def stock(self, ref: object) -> np.ndarray:
        """The stock of a round (its ``ref``)."""
        return np.asarray(ref)

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
               callbacks: Callbacks | None = None, client: Client | None = None
               ) -> FastOutcome:
    """Dual ascent on warehouse prices, then a feasible placement at the final prices.

    With a Dask ``client`` the ascent's rounds place the SKUs on the cluster's workers
    (:class:`_Spread`); the placement within room stays here. Same outcome, bit for bit.
    """
    p, q, m = problem, params, model
    cb = callbacks or NO_CALLBACKS
    n_w = len(p.warehouses)
    runner = _Pass(p, q, m, seed)
    rounds: _Pass | _Spread = runner if client is None else _Spread(client, p, q, m, seed)
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
    best: tuple[float, object] | None = None
    cb.on_start("plan", q.iterations + 1)
    last: _Round | None = None
    for it in range(1, q.iterations + 1):
        last = rounds.run(lam, mu)
        held, ship, value = last.held, last.ship, last.value
        ex_l = (held - cap) / np.maximum(cap, 1.0)
        ex_m = (ship - ship_cap) / np.maximum(ship_cap, 1.0) if limit_ship else np.zeros(n_w)
        max_excess = float(max(ex_l.max(initial=0.0), ex_m.max(initial=0.0)))
        if max_excess <= 0.0 and (best is None or value > best[0]):
            best = (value, last.ref)
        lam, step_l, last_l = _ascend(lam, ex_l, step_l, last_l)
        if limit_ship:
            mu, step_m, last_m = _ascend(mu, np.nan_to_num(ex_m, nan=-1.0), step_m, last_m)
        log.debug("fast plan iteration %d: max excess %.4f", it, max_excess)
        cb.on_step("plan", 1)
        if max_excess <= 0.0 and it > 1 and np.all((lam == 0) | (ex_l > -0.02)):
            break
    if last is None:
        last = rounds.run(lam, mu)
    last_use = rounds.stock(last.ref)
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
        value, stock = best[0], rounds.stock(best[1])
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
