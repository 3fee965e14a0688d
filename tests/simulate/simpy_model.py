"""A SimPy model of the rehearsal's rules: the slow, independent oracle of ``forestock.simulate``.

It shares only the primitives with the engine: the keyed 64-bit draw of an
order (``_kernels.draw``) and the intraday cdf; it splits the draw into time,
size and noise bits itself. Orders are generated one by one
in plain Python; then SimPy runs the day as processes:

* one *shopper* per SKU places its orders at their times, in time order
  (ties: cell, order index), and routes each to the nearest warehouse with a
  lane and capacity holding all its units (else the factory, else unfilled);
* a *wave* per warehouse and second releases that second's orders onto the
  warehouse floor (a ``simpy.Store``) at the end of the second, in order of
  SKU, region and order index;
* a *dispatcher* per warehouse takes up to the hourly capacity off the floor,
  first in first out, at the end of every hour (after the hour's last wave);
  each parcel is carried to the buyer.

The benchmark imports this module by path, so it depends on nothing in tests.
"""

from __future__ import annotations

import bisect
import collections
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import simpy

from forestock.simulate import SimulateParams, SimulateProblem, SimulateResult
from forestock.simulate import _kernels as K

SECONDS = 86_400


@dataclass(slots=True)
class Order:
    """One order: its cell key, SKU, region, index in the cell, time (s), units."""

    key: int
    sku: int
    region: int
    k: int
    t: float
    size: int


def _scaled(x: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return np.asarray(x, dtype=np.int64).copy()
    return np.floor(np.asarray(x, dtype=np.float64) * scale + 0.5).astype(np.int64)


def reference_orders(p: SimulateProblem, params: SimulateParams, seed: int) -> list[Order]:
    """Every order of the day, generated one at a time in plain Python."""
    n_reg = len(p.regions)
    seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    keys = p.cell_sku.astype(np.int64) * n_reg + p.cell_region
    orders: list[Order] = []
    if p.orders_cell is not None:
        assert p.orders_time is not None and p.orders_units is not None
        by_key: dict[int, list[tuple[float, int, int]]] = collections.defaultdict(list)
        for i, (c, t, u) in enumerate(zip(p.orders_cell, p.orders_time, p.orders_units,
                                          strict=True)):
            by_key[int(keys[c])].append((float(t), i, int(u)))
        for key, rows in by_key.items():
            for k, (t, _i, u) in enumerate(sorted(rows)):
                orders.append(Order(key, key // n_reg, key % n_reg, k, t, u))
        return orders
    units: dict[int, int] = collections.defaultdict(int)
    for key, u in zip(keys, p.cell_units, strict=True):
        units[int(key)] += int(u)
    cdf = params.network.day_cdf().tolist()
    # an order of 2, 3, ... units when its 16 size bits reach these thresholds
    thresholds = [int(np.floor(c * 65536.0 + 0.5))
                  for c in np.cumsum(params.network.size_probs)[:-1]]

    def size_of(z: int) -> int:
        bits = (z >> 16) & 0xFFFF
        return 1 + sum(1 for _ in itertools.takewhile(lambda t: bits >= t, thresholds))

    def second_of(u: float) -> float:
        lo = min(bisect.bisect_right(cdf, u), len(cdf) - 1)
        prev = cdf[lo - 1] if lo > 0 else 0.0
        width = cdf[lo] - prev
        frac = (u - prev) * (1.0 / width) if width > 0 else 0.0
        return lo + min(max(frac, 0.0), 0.999999)

    for key in sorted(units):
        total = int(_scaled(np.array([units[key]]), params.scale)[0])
        draws: list[int] = []
        left = total
        while left > 0:
            draws.append(int(K.draw(seed64, key, len(draws))))
            left -= size_of(draws[-1])
        n, rest = len(draws), total
        for k, z in enumerate(draws):
            # stratified arrivals: order k falls in the k-th n-quantile band of the profile
            t = second_of((k + (z >> 32) * 2.0**-32) * (1.0 / n))
            size = size_of(z)
            if size > rest or k == n - 1:
                size = rest
            rest -= size
            orders.append(Order(key, key // n_reg, key % n_reg, k, t, size))
    return orders


@dataclass
class ModelRun:
    """What the model saw: per-order outcomes and the five outcome tables."""

    per_order: dict[tuple[int, int], tuple[float, int, int, int, float]]  # (t, units, w, ship, h)
    tables: dict[str, pd.DataFrame]
    stock_left: np.ndarray
    orders: int


def simpy_rehearse(p: SimulateProblem, params: SimulateParams | None = None,
                   seed: int = 0) -> ModelRun:
    """Run the day in SimPy under the rules of ``forestock.simulate`` (nearest routing);
    ``p.backlog`` parcels (an earlier day's) wait on each warehouse's floor at midnight."""
    params = params or SimulateParams()
    orders = reference_orders(p, params, seed)
    seed64 = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    n_reg, n_wh, n_sku = len(p.regions), len(p.warehouses), len(p.skus)
    horizon = params.horizon_hours
    stock = _scaled(p.stock, params.scale)
    cap = _scaled(p.capacity, params.scale)
    price = np.rint(p.price * 100).astype(np.int64)
    routes = []
    for r in range(n_reg):
        near = sorted((float(p.transit[w, r]), w) for w in range(n_wh)
                      if not np.isnan(p.transit[w, r]) and cap[w] > 0)
        ranked = [w for _, w in near]
        routes.append(ranked[:1] if params.policy == "nearest_only" else ranked)

    env = simpy.Environment()
    floors = [simpy.Store(env) for _ in range(n_wh)]
    pending: dict[tuple[int, int], list[Order]] = {}
    region = np.zeros((n_reg, 24, 8), dtype=np.int64)
    second = np.zeros((SECONDS, 3), dtype=np.int64)
    sku_t = np.zeros((n_sku, 7), dtype=np.int64)
    picked = np.zeros((n_wh, horizon), dtype=np.int64)
    shipped_h = np.zeros((n_wh, horizon), dtype=np.int64)
    backlog_h = np.zeros((n_wh, horizon), dtype=np.int64)
    flow = np.zeros((n_wh, horizon, n_reg), dtype=np.int64)
    per_order: dict[tuple[int, int], tuple[float, int, int, int, float]] = {}

    def deliver(o: Order, w: int, ship: int, elapsed: float) -> None:
        per_order[(o.key, o.k)] = (o.t, o.size, w, ship, elapsed)
        h = int(o.t) // 3600
        region[o.region, h, 3] += o.size
        sku_t[o.sku, 3] += o.size
        if elapsed <= 24.0:
            region[o.region, h, 4] += o.size
            sku_t[o.sku, 4] += o.size
        if elapsed <= 48.0:
            region[o.region, h, 5] += o.size
            sku_t[o.sku, 5] += o.size
        else:
            region[o.region, h, 6] += o.size

    def jitter(o: Order) -> float:
        bits = int(K.draw(seed64, o.key, o.k)) & 0xFFFF
        return (bits * (1.0 / 65536.0) * 2.0 - 1.0) * params.network.transit_noise

    def shopper(mine: list[Order]) -> Iterator[Any]:
        for o in mine:
            if o.t > env.now:
                yield env.timeout(o.t - env.now)
            s, h, value = int(o.t), int(o.t) // 3600, o.size * int(price[o.sku])
            region[o.region, h, :3] += (1, o.size, value)
            second[s] += (1, o.size, value)
            sku_t[o.sku, :3] += (1, o.size, value)
            w = next((w for w in routes[o.region] if stock[o.sku, w] >= o.size), -1)
            if w >= 0:
                stock[o.sku, w] -= o.size
                picked[w, h] += 1
                if (w, s) not in pending:
                    pending[(w, s)] = []
                    env.process(wave(w, s))
                pending[(w, s)].append(o)
            elif params.factory_hours is not None:
                deliver(o, -2, -1, params.factory_hours * (1.0 + jitter(o)))
            else:
                per_order[(o.key, o.k)] = (o.t, o.size, -1, -1, float("nan"))
                region[o.region, h, 7] += o.size
                sku_t[o.sku, 6] += o.size

    def wave(w: int, s: int) -> Iterator[Any]:
        yield env.timeout(s + 1 - env.now)
        # the floor is unbounded, so each put succeeds at once; not yielding between them
        # keeps the wave whole: a dispatcher due now cannot run in the middle of it
        for o in sorted(pending.pop((w, s)), key=lambda o: (o.key, o.k)):
            floors[w].put(o)

    def dispatcher(w: int) -> Iterator[Any]:
        h = 0
        while True:
            yield env.timeout((h + 1) * 3600 - env.now)
            yield env.timeout(0)  # the waves due now were scheduled earlier: they go first
            n = min(int(cap[w]), len(floors[w].items))
            for _ in range(n):
                o = yield floors[w].get()
                if o is None:  # a parcel of an earlier day: its outcome was that day's
                    continue
                arrive = (h + 1) + p.transit[w, o.region] * (1.0 + jitter(o)) \
                    + params.network.last_mile_hours
                deliver(o, w, h, arrive - o.t * (1.0 / 3600.0))
                flow[w, min(h, horizon - 1), o.region] += 1
            if h < horizon:
                shipped_h[w, h], backlog_h[w, h] = n, len(floors[w].items)
            h += 1
            if h >= 24 and not floors[w].items:
                return

    by_sku: dict[int, list[Order]] = collections.defaultdict(list)
    for o in orders:
        by_sku[o.sku].append(o)
    for sku in sorted(by_sku):
        env.process(shopper(sorted(by_sku[sku], key=lambda o: (o.t, o.key, o.k))))
    waiting = getattr(p, "backlog", None)
    for w in range(n_wh):
        for _ in range(0 if waiting is None else int(_scaled(waiting, params.scale)[w])):
            floors[w].put(None)
        if cap[w] > 0:
            env.process(dispatcher(w))
    env.run()
    return ModelRun(per_order, _tables(p, region, second, sku_t, picked, shipped_h, backlog_h,
                                       flow), stock, len(orders))


def _tables(p: SimulateProblem, region: np.ndarray, second: np.ndarray, sku_t: np.ndarray,
            picked: np.ndarray, shipped_h: np.ndarray, backlog_h: np.ndarray,
            flow: np.ndarray) -> dict[str, pd.DataFrame]:
    cols = ["orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "late",
            "unfilled"]
    reg = pd.DataFrame([(rid, h) for rid in p.regions.ids for h in range(24)],
                       columns=["region_id", "hour"])
    for j, col in enumerate(cols):
        reg[col] = region[:, :, j].ravel() / 100.0 if col == "gmv" else region[:, :, j].ravel()
    sec = pd.DataFrame({"second": np.arange(SECONDS), "orders": second[:, 0],
                        "units": second[:, 1], "gmv": second[:, 2] / 100.0})
    brand = pd.DataFrame(sku_t, columns=["orders", "units", "gmv", "shipped", "delivered_24h",
                                         "delivered_48h", "unfilled"])
    brand.insert(0, "brand_id", p.brands.ids[p.sku_brand])
    brand = brand.groupby("brand_id", sort=False).sum().reindex(p.brands.ids, fill_value=0)
    brand = brand.rename_axis("brand_id").reset_index()
    brand["gmv"] = brand["gmv"] / 100.0
    brand = brand.sort_values(["gmv", "brand_id"], ascending=[False, True], ignore_index=True)
    busy = np.flatnonzero((picked + shipped_h + backlog_h).any(axis=0))
    n_hours = max(int(busy.max(initial=23)) + 1, 24)
    wh = pd.DataFrame([(wid, h) for wid in p.warehouses.ids for h in range(n_hours)],
                      columns=["warehouse_id", "hour"])
    wh["picked"] = picked[:, :n_hours].ravel()
    wh["shipped"] = shipped_h[:, :n_hours].ravel()
    wh["backlog"] = backlog_h[:, :n_hours].ravel()
    rows = [(p.warehouses.ids[w], h, p.regions.ids[r], int(flow[w, h, r]))
            for w, h, r in zip(*np.nonzero(flow), strict=True)]
    flows = pd.DataFrame(rows, columns=["warehouse_id", "hour", "region_id", "parcels"])
    return {"outcomes_region": reg, "outcomes_warehouse": wh, "outcomes_second": sec,
            "outcomes_brand": brand, "outcomes_flow": flows}


def compare(result: SimulateResult, model: ModelRun, problem: SimulateProblem) -> list[str]:
    """Where the engine and the model disagree: the five tables, the stock left, and order by
    order when the engine kept every order in its sample. Empty: identical outcomes."""
    found = []
    for name, want in model.tables.items():
        try:
            pd.testing.assert_frame_equal(result.tables[name].reset_index(drop=True), want,
                                          check_dtype=False, check_exact=True)
        except AssertionError as err:
            found.append(f"{name}: {' '.join(str(err).split())[:300]}")
    if not np.array_equal(result.stock_left, model.stock_left):
        found.append("stock_left differs")
    if result.sample is None:
        return found
    n_reg = len(problem.regions)
    sku_code = {sid: i for i, sid in enumerate(problem.skus.ids)}
    reg_code = {rid: i for i, rid in enumerate(problem.regions.ids)}
    wh_code: dict[Any, int] = {wid: i for i, wid in enumerate(problem.warehouses.ids)}
    wh_code.update({None: -1, "factory": -2})
    got = {}
    for row in result.sample.itertuples(index=False):
        key = sku_code[row.sku_id] * n_reg + reg_code[row.region_id]
        got[(key, int(row.order))] = (float(row.time), int(row.units), wh_code[row.warehouse_id],
                                      int(row.ship_hour), float(row.hours_to_door))
    if len(got) != len(model.per_order):
        found.append(f"orders: engine kept {len(got)}, model placed {len(model.per_order)}")
    bad = [(key, want, got.get(key)) for key, want in model.per_order.items()
           if key not in got or not _same(got[key], want)]
    found += [f"order {key}: engine {g}, model {w}" for key, w, g in bad[:3]]
    if bad:
        found.append(f"{len(bad)} orders differ")
    return found


def _same(a: tuple[float, int, int, int, float], b: tuple[float, int, int, int, float]) -> bool:
    return a[:4] == b[:4] and (a[4] == b[4] or (np.isnan(a[4]) and np.isnan(b[4])))
