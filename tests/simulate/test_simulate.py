"""The rehearsal kernel against a per-order oracle, and its invariants."""

from __future__ import annotations

import collections
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forestock.simulate import SimulateParams, SimulateProblem, simulate
from forestock.simulate import _kernels as K
from forestock.simulate._profile import intraday_cdf
from forestock.tables import IdIndex


def random_problem(seed: int, n_sku: int = 12, n_reg: int = 5, n_wh: int = 3,
                   scarce: bool = True) -> SimulateProblem:
    """A random small day: few SKUs, regions and warehouses, stock often short."""
    rng = np.random.default_rng(seed)
    units = rng.poisson(rng.uniform(0.5, 60, (n_sku, n_reg)))
    s, r = np.nonzero(units)
    stock = rng.poisson(units.sum(axis=1)[:, None] / (n_wh * (1.6 if scarce else 0.5)),
                        (n_sku, n_wh))
    transit = rng.uniform(3, 70, (n_wh, n_reg))
    transit[rng.random((n_wh, n_reg)) < 0.1] = np.nan  # some missing lanes
    return SimulateProblem(
        day=dt.date(2027, 11, 11),
        skus=IdIndex([f"s{i}" for i in range(n_sku)]),
        regions=IdIndex([f"r{i}" for i in range(n_reg)]),
        warehouses=IdIndex([f"w{i}" for i in range(n_wh)]),
        brands=IdIndex(["b0", "b1"]),
        sku_brand=(np.arange(n_sku) % 2).astype(np.int32),
        price=rng.uniform(5, 500, n_sku),
        cell_sku=s.astype(np.int32),
        cell_region=r.astype(np.int32),
        cell_units=units[s, r].astype(np.int64),
        stock=stock.astype(np.int64),
        transit=transit,
        capacity=rng.integers(0, 40, n_wh).astype(np.int64),
    )


def oracle(p: SimulateProblem, params: SimulateParams, seed: int) -> dict[str, np.ndarray]:
    """The obvious per-order loop: explicit FIFO queues emptied hour by hour."""
    seed64 = np.uint64(seed)
    size_cdf = np.cumsum(params.size_probs)
    size_cdf[-1] = 1.0
    cdf = intraday_cdf(params.surge, params.surge_seconds)
    units = p.cell_units.astype(np.int64)
    n_orders = K.count_orders(units, seed64, size_cdf)
    total = int(n_orders.sum())
    cell, k = np.empty(total, np.int64), np.empty(total, np.int64)
    time, size = np.empty(total), np.empty(total, np.int64)
    m = K.emit_orders(units, n_orders, np.zeros_like(units), np.zeros(units.size),
                      units.copy(), seed64, size_cdf, cdf, 86_400.0, cell, k, time, size)
    assert m == total
    orders = sorted(range(total), key=lambda i: (time[i], i))
    n_reg, n_wh = len(p.regions), len(p.warehouses)
    stock = p.stock.copy()
    region = np.zeros((n_reg, 8))
    queues: list[collections.deque[tuple[int, float]]] = [collections.deque()
                                                          for _ in range(n_wh)]
    by_hour: dict[int, list[int]] = collections.defaultdict(list)
    for i in orders:
        by_hour[int(time[i] // 3600)].append(i)

    def depart(w: int, hour: int) -> None:
        for _ in range(int(p.capacity[w])):
            if not queues[w]:
                break
            i, _t = queues[w].popleft()
            c = cell[i]
            r = p.cell_region[c]
            noise = (K.uniform(seed64, c, k[i], K.NOISE) * 2 - 1) * params.transit_noise
            arrive = hour + 1 + p.transit[w, r] * (1 + noise) + params.last_mile_hours
            elapsed = arrive - time[i] / 3600
            region[r, 3] += size[i]
            region[r, 4] += size[i] * (elapsed <= 24)
            region[r, 5] += size[i] * (elapsed <= 48)
            region[r, 6] += size[i] * (elapsed > 48)

    hour = 0
    while hour < 24 or any(queues):
        for i in by_hour.get(hour, []):
            c = cell[i]
            s, r = p.cell_sku[c], p.cell_region[c]
            region[r, 0] += 1
            region[r, 1] += size[i]
            region[r, 2] += size[i] * p.price[s]
            near = sorted((p.transit[w, r], w) for w in range(n_wh)
                          if not np.isnan(p.transit[w, r]) and p.capacity[w] > 0)
            for _h, w in near:
                if stock[s, w] >= size[i]:
                    stock[s, w] -= size[i]
                    queues[w].append((i, time[i]))
                    break
            else:
                region[r, 7] += size[i]
        for w in range(n_wh):
            depart(w, hour)
        hour += 1
    return {"region": region, "stock": stock}


@pytest.mark.parametrize("seed", range(8))
def test_equals_per_order_oracle(seed: int) -> None:
    """Kernel tallies equal an explicit per-order FIFO simulation on seeded instances."""
    p = random_problem(seed)
    params = SimulateParams(chunk_orders=1_000)
    got = simulate(p, params, seed=seed)
    want = oracle(p, params, seed)
    reg = got.tables["outcomes_region"].groupby("region_id", sort=False).sum(numeric_only=True)
    cols = ["orders", "units", "gmv", "shipped", "delivered_24h", "delivered_48h", "late",
            "unfilled"]
    np.testing.assert_allclose(reg[cols].to_numpy(), want["region"], rtol=1e-9)
    np.testing.assert_array_equal(got.stock_left, want["stock"])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scarce=st.booleans())
def test_conservation_and_stock(seed: int, scarce: bool) -> None:
    """Every unit ordered is shipped or unfilled; stock never goes negative; flows add up."""
    p = random_problem(seed % 1000, scarce=scarce)
    r = simulate(p, seed=seed)
    reg = r.tables["outcomes_region"]
    assert (reg["units"] == reg["shipped"] + reg["unfilled"]).all()
    assert (reg["shipped"] == reg["delivered_48h"] + reg["late"]).all()
    assert (reg["delivered_24h"] <= reg["delivered_48h"]).all()
    assert int(reg["units"].sum()) == int(p.cell_units.sum())
    assert (r.stock_left >= 0).all()
    assert int((p.stock - r.stock_left).sum()) == int(reg["shipped"].sum())
    wh = r.tables["outcomes_warehouse"]
    final = wh.groupby("warehouse_id")["backlog"].last().sum()
    assert wh["picked"].sum() == wh["shipped"].sum() + final
    assert wh["picked"].sum() == r.tables["outcomes_flow"]["parcels"].sum()
    cap = pd.Series(p.capacity, index=p.warehouses.ids)
    assert (wh["shipped"].to_numpy() <= cap[wh["warehouse_id"]].to_numpy()).all()
    sec = r.tables["outcomes_second"]
    assert sec["orders"].sum() == reg["orders"].sum()


def test_same_seed_same_tables_any_chunking() -> None:
    """Same seed gives identical tables whatever the chunk size; another seed differs."""
    p = random_problem(3, n_sku=40, n_reg=8)
    a = simulate(p, SimulateParams(chunk_orders=1_000), seed=5)
    b = simulate(p, SimulateParams(chunk_orders=1_000_000), seed=5)
    c = simulate(p, seed=6)
    for name, table in a.tables.items():
        pd.testing.assert_frame_equal(table, b.tables[name])
    assert not a.tables["outcomes_second"].equals(c.tables["outcomes_second"])


def test_midnight_surge() -> None:
    """The busiest second falls in the first minutes after midnight."""
    p = random_problem(1, n_sku=60, n_reg=10)
    p = p.replace(cell_units=p.cell_units * 200)
    r = simulate(p, seed=0)
    assert r.peak_second < 600
    sec = r.tables["outcomes_second"]["orders"].to_numpy()
    assert sec[:3600].sum() > 2.5 * sec[3 * 3600:4 * 3600].sum()


def test_params_reject_bad_values() -> None:
    """SimulateParams refuses probabilities that do not add up, and negative times."""
    with pytest.raises(ValueError, match="size_probs"):
        SimulateParams(size_probs=(0.5, 0.2))
    with pytest.raises(ValueError, match="last_mile"):
        SimulateParams(last_mile_hours=-1)
