"""The rehearsal engine against the SimPy model, its invariants, workers and determinism."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.network import NetworkParams
from forestock.simulate import (
    OutcomeError,
    SimulateParams,
    SimulateProblem,
    _reuse,
    _shard,
    check_outcomes,
    demand_from_forecast,
    simulate,
)
from forestock.simulate import _kernels as K
from forestock.simulate import _queues as Q
from forestock.simulate import _tallies as T
from forestock.simulate._arrays import DayShape, Queue, Start, plain
from forestock.simulate._profile import intraday_cdf
from forestock.tables import IdIndex
from tests.simulate.simpy_model import compare, simpy_rehearse


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
        price=np.round(rng.uniform(5, 500, n_sku), 2),
        cell_sku=s.astype(np.int32),
        cell_region=r.astype(np.int32),
        cell_units=units[s, r].astype(np.int64),
        stock=stock.astype(np.int64),
        transit=transit,
        capacity=rng.integers(0, 40, n_wh).astype(np.int64),
    )


def as_tables(p: SimulateProblem) -> dict[str, pd.DataFrame]:
    """The problem's network, stock and prices back as contract-shaped tables."""
    w, r = np.nonzero(~np.isnan(p.transit))
    s, h = np.nonzero(p.stock)
    return {
        "warehouses": pd.DataFrame({"warehouse_id": p.warehouses.ids,
                                    "outbound_per_hour": p.capacity}),
        "lanes": pd.DataFrame({"warehouse_id": p.warehouses.ids[w], "region_id": p.regions.ids[r],
                               "transit_hours": p.transit[w, r]}),
        "plan": pd.DataFrame({"sku_id": p.skus.ids[s], "warehouse_id": p.warehouses.ids[h],
                              "units": p.stock[s, h]}),
        "skus": pd.DataFrame({"sku_id": p.skus.ids, "brand_id": p.brands.ids[p.sku_brand],
                              "price": p.price}),
        "regions": pd.DataFrame({"region_id": p.regions.ids}),
    }


CASES = {
    "plain": SimulateParams(),
    "scaled": SimulateParams(scale=3.5),
    "factory": SimulateParams(factory_hours=40.0),
    "nearest_only": SimulateParams(policy="nearest_only",
                                   network=NetworkParams(transit_noise=0.0)),
    "busy": SimulateParams(scale=30.0),  # many orders per wave at the hours' edges
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", range(3))
def test_equals_simpy_model_order_by_order(case: str, seed: int) -> None:
    """Every order's time, size, warehouse, ship hour and delivery time, and all five tables,
    equal the SimPy model's on seeded instances (small chunks: many chunk boundaries)."""
    p = random_problem(seed + 10 * list(CASES).index(case))
    if case == "busy":
        p = p.replace(capacity=p.capacity * 10 + 50)  # queues short: waves decide who ships
    params = CASES[case].replace(chunk_orders=1_000, sample_share=1.0)
    got = simulate(p, params, seed=seed)
    assert got.sample is not None and len(got.sample) == got.orders
    assert compare(got, simpy_rehearse(p, params, seed), p) == []


def test_given_orders_equal_simpy_model() -> None:
    """A user's own orders table is rehearsed as given, identically to the SimPy model."""
    p = random_problem(5)
    first = simulate(p, SimulateParams(sample_share=1.0), seed=1).sample
    assert first is not None
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(first))],
        "time": pd.Timestamp(p.day) + pd.to_timedelta(np.floor(first["time"]), unit="s"),
        "sku_id": first["sku_id"], "region_id": first["region_id"], "units": first["units"],
    })
    t = as_tables(p)
    q = SimulateProblem.from_tables(p.day, orders, t["plan"], t["warehouses"], t["lanes"],
                                    t["skus"], t["regions"])
    params = SimulateParams(chunk_orders=1_000, sample_share=1.0)
    got = simulate(q, params, seed=2)
    assert got.orders == len(orders)
    assert compare(got, simpy_rehearse(q, params, 2), q) == []


def test_wave_at_the_hours_edge_ships_whole() -> None:
    """A burst of orders in the last second of an hour ships whole at that hour's end when
    capacity allows, as in the SimPy model."""
    p = random_problem(6)
    t = as_tables(p)
    stocked = t["plan"].groupby("sku_id")["units"].sum()
    sku = str(stocked.idxmax())
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(40)],
        "time": pd.Timestamp(p.day) + pd.to_timedelta([3599.25] * 30 + [7199.5] * 10, unit="s"),
        "sku_id": sku, "region_id": list(p.regions.ids[:2]) * 20, "units": 1,
    })
    t["warehouses"]["outbound_per_hour"] = 500
    q = SimulateProblem.from_tables(p.day, orders, t["plan"], t["warehouses"], t["lanes"],
                                    t["skus"], t["regions"])
    params = SimulateParams(sample_share=1.0)
    got = simulate(q, params, seed=0)
    wh = got.tables["outcomes_warehouse"]
    assert wh.loc[wh["hour"] == 0, "shipped"].sum() == wh.loc[wh["hour"] == 0, "picked"].sum()
    assert (wh["backlog"] == 0).all()
    assert compare(got, simpy_rehearse(q, params, 0), q) == []


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scarce=st.booleans(), factory=st.booleans())
def test_conservation_and_stock(seed: int, scarce: bool, factory: bool) -> None:
    """Every unit ordered is delivered (in time or late) or unfilled; stock never goes
    negative and falls by the units shipped from warehouses; flows add up."""
    p = random_problem(seed % 1000, scarce=scarce)
    r = simulate(p, SimulateParams(factory_hours=30.0 if factory else None), seed=seed)
    check_outcomes(r, p)
    reg = r.tables["outcomes_region"]
    assert (reg["units"] == reg["delivered_48h"] + reg["late"] + reg["unfilled"]).all()
    assert int(reg["units"].sum()) == int(p.cell_units.sum())
    assert (r.stock_left >= 0).all()
    from_wh = int(reg["shipped"].sum()) - int(r.figures["factory_units"])
    assert int((p.stock - r.stock_left).sum()) == from_wh
    assert factory or r.figures["factory_units"] == 0
    wh = r.tables["outcomes_warehouse"]
    assert wh["picked"].sum() == r.tables["outcomes_flow"]["parcels"].sum()


def test_checker_catches_broken_tables() -> None:
    """check_outcomes raises OutcomeError on a table that loses a unit or over-ships."""
    p = random_problem(2)
    r = simulate(p, seed=0)
    reg = r.tables["outcomes_region"].copy()
    reg.loc[reg.index[0], "units"] += 1
    with pytest.raises(OutcomeError, match="shipped \\+ unfilled"):
        check_outcomes(type(r)(**{**r.__dict__, "tables": {**r.tables,
                                                             "outcomes_region": reg}}), p)
    wh = r.tables["outcomes_warehouse"].copy()
    wh["shipped"] += 10_000
    with pytest.raises(OutcomeError, match="capacity"):
        check_outcomes(type(r)(**{**r.__dict__, "tables": {**r.tables,
                                                             "outcomes_warehouse": wh}}), p)


@pytest.mark.parametrize(("pool", "workers"), [("threads", 2), ("threads", 3),
                                               ("processes", 2)])
def test_one_and_two_workers_identical(pool: str, workers: int) -> None:
    """Two or three workers, as threads (each routing a chunk ahead of settling) or as
    processes, give exactly the tables, stock and sample of one."""
    p = random_problem(3, n_sku=40, n_reg=8)
    params = SimulateParams(chunk_orders=1_000, sample_share=0.3, scale=2.0)
    one = simulate(p, params, seed=5)
    two = simulate(p, params.replace(workers=workers, pool=pool), seed=5)
    assert two.figures["workers"] == workers
    for name, table in one.tables.items():
        pd.testing.assert_frame_equal(table, two.tables[name])
    np.testing.assert_array_equal(one.stock_left, two.stock_left)
    assert one.sample is not None and two.sample is not None
    pd.testing.assert_frame_equal(one.sample, two.sample)


def test_threaded_runs_reusing_the_last_runs_buffers_are_identical() -> None:
    """A threaded run on the order buffers and counts the last run left (here filled with
    garbage) gives the tables of a run on fresh ones, and keeps those same arrays, and only
    them, for the next run."""
    p = random_problem(3, n_sku=40, n_reg=8)
    params = SimulateParams(chunk_orders=1_000, workers=2, sample_share=0.3, scale=2.0)
    _reuse.keep_scratch([])
    fresh = simulate(p, params, seed=5)
    kept = [a for v in _reuse._spare.values() for a in v]
    assert len(kept) == 1 + 2 * 2 * len(_shard._BUFFERS)  # counts, two shards' two slots
    rng = np.random.default_rng(0)
    for a in kept:
        a.view(np.uint8)[...] = rng.integers(0, 256, a.nbytes, dtype=np.uint8).reshape(
            a.view(np.uint8).shape)
    again = simulate(p, params, seed=5)
    assert {id(a) for v in _reuse._spare.values() for a in v} == {id(a) for a in kept}
    for name, table in fresh.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[name])
    assert fresh.sample is not None and again.sample is not None
    pd.testing.assert_frame_equal(fresh.sample, again.sample)
    np.testing.assert_array_equal(fresh.stock_left, again.stock_left)


def test_threaded_runs_share_one_idle_executor_at_a_time() -> None:
    """A finished threaded run leaves its threads idle for the next run, which takes them
    (one run at a time), a run needing more threads replaces them, and none pile up."""
    p = random_problem(3, n_sku=40, n_reg=8)
    params = SimulateParams(chunk_orders=1_000, workers=2)
    want = simulate(p, params, seed=5)
    kept = _reuse._idle[-1][2]
    assert _reuse.thread_executor(2) is kept and not _reuse._idle  # taken: not another run's
    _reuse.release_executor(kept)
    simulate(p, params, seed=5)
    assert [ex for _, _, ex in _reuse._idle] == [kept]
    three = simulate(p, params.replace(workers=3), seed=5)
    assert len(_reuse._idle) == 1 and _reuse._idle[0][1] == 2
    busy = threading.active_count()
    for _ in range(3):
        got = simulate(p, params, seed=5)
    assert threading.active_count() == busy
    for name, table in want.tables.items():
        pd.testing.assert_frame_equal(table, got.tables[name])
        pd.testing.assert_frame_equal(table, three.tables[name])


def test_start_pass_in_blocks_on_threads_matches_one_pass() -> None:
    """Cells started in blocks that several threads take in turn get exactly the hashes,
    order counts and first orders of one pass over them all."""
    cdf = intraday_cdf()
    inv_width, lut = K.inverse_widths(cdf), K.cdf_lut(cdf)
    size_thr = K.size_thresholds(np.array([0.6, 0.3, 0.1]))
    keys = np.arange(5, 3000, 7, dtype=np.int64)
    units = np.random.default_rng(4).integers(0, 900, keys.size).astype(np.int64)
    n = keys.size
    want = Start(np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.int64),
                 np.empty(n, dtype=np.uint64), np.empty(n))
    shape = DayShape(size_thr, cdf, inv_width, lut)
    K.start_cells(keys, units, np.uint64(9), plain(shape), plain(want))
    start = _shard.StartPass(keys, units, 9, shape, blocks=13)
    threads = [threading.Thread(target=start.run) for _ in range(3)]
    for t in threads:
        t.start()
    start.run()
    for t in threads:
        t.join()
    for got, exp in zip(start.part(0, n), want, strict=True):
        np.testing.assert_array_equal(got, exp)
    np.testing.assert_array_equal(start.part(10, 20)[1], want[1][10:20])


def test_demand_rows_in_any_order_or_split_give_the_same_tables() -> None:
    """Demand rows shuffled, and a cell's units split over two rows, make the same cells
    and so exactly the same tables as rows in cell order."""
    p = random_problem(8)
    want = simulate(p, SimulateParams(), seed=1)
    order = np.random.default_rng(0).permutation(p.cell_units.size)
    units = p.cell_units[order].copy()
    half = units[0] // 2
    units[0] -= half
    q = p.replace(cell_sku=np.r_[p.cell_sku[order], p.cell_sku[order][:1]],
                  cell_region=np.r_[p.cell_region[order], p.cell_region[order][:1]],
                  cell_units=np.r_[units, half])
    got = simulate(q, SimulateParams(), seed=1)
    for name, table in want.tables.items():
        pd.testing.assert_frame_equal(table, got.tables[name])


def test_more_thread_workers_than_skus() -> None:
    """Threads asked for more workers than there are SKUs run one shard a SKU (here one:
    no pool of threads), with the tables of one worker."""
    p = random_problem(6, n_sku=1, n_reg=4)
    params = SimulateParams(chunk_orders=1_000, scale=3.0)
    one = simulate(p, params, seed=2)
    many = simulate(p, params.replace(workers=4), seed=2)
    assert many.figures["workers"] == 1
    for name, table in one.tables.items():
        pd.testing.assert_frame_equal(table, many.tables[name])


class _Stop(Callbacks):
    """Raises after ``n`` progress steps: a run stopped mid-day."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_step(self, task: str, advance: float) -> None:
        self.n -= 1
        if self.n < 0:
            raise KeyboardInterrupt


@pytest.mark.parametrize("workers", [1, 2])
def test_threads_stopped_mid_day_resume_to_identical_tables(tmp_path: Path,
                                                            workers: int) -> None:
    """Threaded shards stopped mid-day (every thread stops, none hangs) leave a checkpoint
    from which one or two workers finish with exactly the tables of an uninterrupted run."""
    p = random_problem(3, n_sku=40, n_reg=8)
    params = SimulateParams(chunk_orders=1_000, sample_share=0.3, scale=2.0,
                            checkpoint_seconds=0.0)
    want = simulate(p, params, seed=5)
    ckpt = tmp_path / "sim.ckpt"
    with pytest.raises(KeyboardInterrupt):
        simulate(p, params.replace(workers=2), seed=5, callbacks=_Stop(5), checkpoint=ckpt)
    assert ckpt.exists()
    got = simulate(p, params.replace(workers=workers), seed=5, checkpoint=ckpt, resume=True)
    assert got.figures["resumed_at_second"] > 0 and not ckpt.exists()
    for name, table in want.tables.items():
        pd.testing.assert_frame_equal(table, got.tables[name])
    np.testing.assert_array_equal(want.stock_left, got.stock_left)


def test_same_seed_same_tables_any_chunking() -> None:
    """Same seed gives identical tables whatever the chunk size; another seed differs."""
    p = random_problem(3, n_sku=40, n_reg=8)
    a = simulate(p, SimulateParams(chunk_orders=1_000), seed=5)
    b = simulate(p, SimulateParams(chunk_orders=1_000_000), seed=5)
    c = simulate(p, seed=6)
    for name, table in a.tables.items():
        pd.testing.assert_frame_equal(table, b.tables[name])
    assert not a.tables["outcomes_second"].equals(c.tables["outcomes_second"])


def test_scale_multiplies_demand_stock_and_capacity() -> None:
    """scale=k rehearses about k times the units, from k times the stock."""
    p = random_problem(4, n_sku=30, n_reg=6)
    base = simulate(p, seed=0)
    big = simulate(p, SimulateParams(scale=10.0), seed=0)
    assert big.units == int((p.cell_units * 10).sum())
    assert 9 * base.orders < big.orders < 11 * base.orders
    assert int(big.stock_left.sum()) + int(big.tables["outcomes_region"]["shipped"].sum()) \
        == int(p.stock.sum() * 10)


def test_midnight_surge() -> None:
    """The busiest second falls in the first minutes after midnight."""
    p = random_problem(1, n_sku=60, n_reg=10)
    r = simulate(p, SimulateParams(scale=200.0), seed=0)
    assert r.peak_second < 600
    sec = r.tables["outcomes_second"]["orders"].to_numpy()
    assert sec[:3600].sum() > 2.5 * sec[3 * 3600:4 * 3600].sum()


def test_forecast_scenarios() -> None:
    """Scenarios follow the forecast's quantiles: same seed same draw, and the spread of
    many draws matches q10..q90."""
    day = dt.date(2027, 11, 11)
    n = 4_000
    fc = pd.DataFrame({"sku_id": [f"s{i}" for i in range(n)], "region_id": "r0",
                       "date": pd.Timestamp(day), "mean": 100.0, "q10": 60.0, "q50": 100.0,
                       "q90": 140.0})
    a = demand_from_forecast(fc, day, seed=1)
    pd.testing.assert_frame_equal(a, demand_from_forecast(fc, day, seed=1))
    assert not a.equals(demand_from_forecast(fc, day, seed=2))
    assert 0.07 < (a["units"] < 60).mean() < 0.13
    assert 0.45 < (a["units"] < 100).mean() < 0.55
    with pytest.raises(ForestockError, match="no rows"):
        demand_from_forecast(fc, dt.date(2027, 11, 12))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"scale": 0.0}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"scale": -3}, "scale"),
        ({"workers": 0}, "workers"),
        ({"policy": "cheapest"}, "policy"),
        ({"factory_hours": 0.0}, "factory_hours"),
        ({"sample_share": 1.5}, "sample_share"),
        ({"pool": "cluster"}, "pool"),
    ],
)
def test_params_reject_bad_values(change: dict[str, object], match: str) -> None:
    """SimulateParams refuses each out-of-range value with a message naming it."""
    with pytest.raises(ValueError, match=match):
        SimulateParams(**change)  # type: ignore[arg-type]


def test_scaled_orders_table_refused() -> None:
    """A table of orders is rehearsed as given: scaling it is a clear error."""
    p = random_problem(0)
    q = p.replace(orders_cell=np.zeros(1, np.int64), orders_time=np.zeros(1),
                  orders_units=np.ones(1, np.int64))
    with pytest.raises(ForestockError, match="as given"):
        simulate(q, SimulateParams(scale=2.0))


def test_params_from_toml(tmp_path: Path) -> None:
    """SimulateParams load from a [simulate] TOML table; unknown keys are named."""
    path = tmp_path / "sim.toml"
    path.write_text("[simulate]\nscale = 40.0\nworkers = 2\n[network]\nsize_probs = [0.5, 0.5]\n",
                    encoding="utf-8")
    params = SimulateParams.from_file(path)
    assert (params.scale, params.workers, params.network.size_probs) == (40.0, 2, (0.5, 0.5))
    path.write_text("[simulate]\nscael = 40.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="scael"):
        SimulateParams.from_file(path)


def _waits(counts: np.ndarray, arrived: np.ndarray, shipped: np.ndarray,
           capacity: np.ndarray, bases: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Each parcel's hours of wait after the chunk's hour, read off the kernels' bases and
    span as settling reads them (shard by shard, in buffer order), as ``[w][s]`` lists."""
    out = np.empty(counts.shape[1:], dtype=object)
    for w, s in np.ndindex(*counts.shape[1:]):
        lo, hi, wait_lo, wait_hi = span[w]
        waits = []
        for j in range(counts.shape[0]):
            for _ in range(counts[j, w, s]):
                if s < lo:
                    waits.append(int(wait_lo))
                elif s > hi:
                    waits.append(int(wait_hi))
                elif bases[j, w, s] < 0:
                    waits.append(int(-1 - bases[j, w, s]))
                else:
                    bases[j, w, s] += 1
                    waits.append(int((arrived[w] + bases[j, w, s] - shipped[w] - 1)
                                     // capacity[w]))
        out[w, s] = waits
    return out


def _plain_waits(counts: np.ndarray, arrived: np.ndarray, shipped: np.ndarray,
                 capacity: np.ndarray) -> np.ndarray:
    """Each parcel's wait counted one by one: parcel n (from the day's start, in time, then
    shard order) leaves ``(n - shipped - 1) // capacity`` hours after the chunk's hour."""
    out = np.empty(counts.shape[1:], dtype=object)
    for w, s in np.ndindex(*counts.shape[1:]):
        n0 = arrived[w] + counts[:, w, :s].sum()
        out[w, s] = [int((n0 + i - shipped[w] - 1) // capacity[w])
                     for i in range(1, counts[:, w, s].sum() + 1)]
    return out


def test_shard_bases_give_every_parcel_its_wait() -> None:
    """Each shard working out its own bases, span and the chunk's arrivals (all shards' and
    its own) gives its parcels the waits counting every earlier arrival one by one gives
    them (earlier seconds, then earlier shards in the same second), for one to three
    shards, in chunks of one block of seconds and of several, with one cut or many, under
    small and large capacities."""
    rng = np.random.default_rng(1)
    for n_shards, n_sec, top in [(1, 9, 12), (2, 9, 12), (3, 9, 12), (3, 7, 2), (2, 7, 2000),
                                 (1, 200, 12), (2, 200, 400), (3, 3 * Q.BLOCK, 600),
                                 (2, 3600, 5000)]:
        counts = rng.integers(0, 4, (n_shards, 5, n_sec)).astype(np.int32)
        counts[:, 0, : n_sec // 2] = 0  # a warehouse quiet for half the chunk
        arrived = rng.integers(0, 100, 5).astype(np.int64)
        shipped = arrived - rng.integers(0, 20, 5)
        capacity = rng.integers(1, top, 5).astype(np.int64)
        want = _plain_waits(counts, arrived, shipped, capacity)
        totals = np.empty((n_shards, 5, Q.TOTALS), dtype=np.int64)
        for j in range(n_shards):
            Q.warehouse_totals(counts[j], totals[j])
        bases = np.empty(counts.shape, dtype=np.int32)
        span = np.empty((5, 4), dtype=np.int64)
        for j in range(n_shards):
            added, own = np.empty(5, dtype=np.int64), np.empty(5, dtype=np.int64)
            Q.shard_bases(counts, totals, j, plain(Queue(arrived, shipped, bases[j], span)),
                          capacity, added, own)
            np.testing.assert_array_equal(added, counts.sum(axis=(0, 2)))
            np.testing.assert_array_equal(own, counts[j].sum(axis=1))
        assert _waits(counts, arrived, shipped, capacity, bases, span).tolist() == want.tolist()


def test_warehouse_totals_by_block() -> None:
    """A shard's arrivals per warehouse come as the chunk's sum and each block's, the last
    block cut short by the chunk's end."""
    rng = np.random.default_rng(5)
    for n_sec in (1, Q.BLOCK, Q.BLOCK + 1, 3600):
        counts = rng.integers(0, 9, (4, n_sec)).astype(np.int32)
        out = np.zeros((4, Q.TOTALS), dtype=np.int64)
        Q.warehouse_totals(counts, out)
        np.testing.assert_array_equal(out[:, 0], counts.sum(axis=1))
        n_blk = -(-n_sec // Q.BLOCK)
        for b in range(n_blk):
            np.testing.assert_array_equal(
                out[:, 1 + b], counts[:, b * Q.BLOCK:(b + 1) * Q.BLOCK].sum(axis=1))


def test_start_cells_match_plain_draws() -> None:
    """The one-pass start of the cells (hash, order count in blocks of draws, first order's
    time) equals drawing each order's size one by one from the keyed draw, also where a
    block of draws ends exactly on the cell's units, and with one order size only."""
    cdf = intraday_cdf()
    inv_width, lut = K.inverse_widths(cdf), K.cdf_lut(cdf)
    seed = np.uint64(7)
    keys = np.arange(0, 600, 3, dtype=np.int64)
    block = K.START_BLOCK
    for probs in ([0.5, 0.3, 0.15, 0.05], [1.0]):
        size_thr = K.size_thresholds(np.array(probs))
        units = np.random.default_rng(2).integers(0, 600, keys.size).astype(np.int64)
        # none; at and past a block of one-unit orders
        units[:7] = [0, 1, block - 1, block, block + 1, 2 * block, 2 * block + 1]
        for c, orders in ((7, block), (8, 2 * block), (9, block - 1), (10, block + 1),
                          (11, 16)):  # units that a block's orders end on, or one off
            units[c] = sum(1 + int(((int(K.draw(seed, keys[c], k)) >> 16) & 0xFFFF >= size_thr)
                                   .sum()) for k in range(orders))
        n = keys.size
        hashes, n_orders = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.int64)
        z_next, t_next = np.empty(n, dtype=np.uint64), np.empty(n)
        K.start_cells(keys, units, seed, plain(DayShape(size_thr, cdf, inv_width, lut)),
                      plain(Start(hashes, n_orders, z_next, t_next)))
        for c in range(n):
            left, k = int(units[c]), 0
            while left > 0:
                bits = (int(K.draw(seed, keys[c], k)) >> 16) & 0xFFFF
                left -= 1 + int((bits >= size_thr).sum())
                k += 1
            assert n_orders[c] == k
            assert hashes[c] == K.cell_hash(seed, keys[c])
            z = K.draw(seed, keys[c], 0)
            assert z_next[c] == z
            if k:
                u = (float(int(z) >> 32) * 2.0**-32) * (1.0 / k)  # order 0 of k: first band
                assert t_next[c] == plain_second_of(u, cdf)
            else:
                assert t_next[c] == np.inf


def test_order_times_follow_the_profile_in_order() -> None:
    """Each SKU and region's orders come out in time order, and the day's orders follow
    the intraday profile: the share placed by each hour's end is within 0.5 % of it."""
    p = random_problem(7, n_sku=30, n_reg=6)
    r = simulate(p, SimulateParams(scale=20.0, sample_share=1.0), seed=3)
    sample = r.sample
    assert sample is not None
    for _, group in sample.groupby(["sku_id", "region_id"]):
        assert group.sort_values("order")["time"].is_monotonic_increasing
    per_second = r.tables["outcomes_second"]["orders"].to_numpy()
    got = np.cumsum(per_second)[3599::3600] / per_second.sum()
    want = intraday_cdf()[3599::3600]
    assert np.abs(got - want).max() < 0.005


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=9),
       st.integers(0, 2**31))
def test_time_order_matches_a_plain_sort(runs_in: list[list[int]], seed: int) -> None:
    """The pairwise merge of the SKU's runs orders positions as sorting by (time, buffer
    position) does, with ties across runs and with the warehouse filter."""
    rng = np.random.default_rng(seed)
    times = [np.sort(np.array(r, dtype=np.float64) / 4) for r in runs_in]  # many ties
    o_time = np.concatenate(times) if times else np.zeros(0)
    runs = np.r_[0, np.cumsum([t.size for t in times])].astype(np.int64)
    starts = np.array([rng.integers(a, b + 1) for a, b in itertools.pairwise(runs)],
                      dtype=np.int64)
    o_w = rng.integers(-1, 3, o_time.size).astype(np.int32)
    slot = np.array([0, -1, 1], dtype=np.int64)
    for filt in (np.empty(0, dtype=np.int64), slot):
        got = K._time_order(starts, runs, len(times), o_time, o_w, filt)
        pos = [a for q in range(len(times)) for a in range(starts[q], runs[q + 1])
               if filt.size == 0 or (o_w[a] >= 0 and filt[o_w[a]] >= 0)]
        want = sorted(pos, key=lambda a: (o_time[a], a))
        assert got.tolist() == want


def plain_second_of(u: float, cdf: np.ndarray) -> float:
    """The slow oracle of ``K.second_of``: a plain search of the cdf, no lookup table."""
    lo = min(int(np.searchsorted(cdf, u, side="right")), cdf.size - 1)
    prev = cdf[lo - 1] if lo > 0 else 0.0
    width = cdf[lo] - prev
    frac = (u - prev) * (1.0 / width) if width > 0 else 0.0
    return lo + min(max(frac, 0.0), 0.999999)


def test_second_of_matches_a_plain_search() -> None:
    """The bracketing lookup table inverts the intraday cdf exactly as a plain search does:
    at random shares, at the table's bucket edges, at the cdf's own values, and at 0 and 1."""
    for surge in (0.0, 32.0, 500.0):
        cdf = intraday_cdf(surge, 420.0)
        inv_width, lut = K.inverse_widths(cdf), K.cdf_lut(cdf)
        rng = np.random.default_rng(int(surge))
        edges = np.arange(0, 1 << K.LUT_BITS, 997) / float(1 << K.LUT_BITS)
        us = np.r_[rng.random(3_000), edges, np.nextafter(edges[1:], 0.0), cdf[::50],
                   np.nextafter(cdf[::50], 0.0), 0.0, 1.0, np.nextafter(1.0, 0.0)]
        for u in us:
            assert K.second_of(u, cdf, inv_width, lut) == plain_second_of(u, cdf), (surge, u)


def test_turned_away_orders_overdrawing_a_neighbour_equal_simpy_model() -> None:
    """When orders turned away from a warehouse that runs out would overdraw the next one
    (which its own region's orders nearly empty), the replay widens to every warehouse and
    still equals the SimPy model order by order."""
    n_sku, n_reg, n_wh = 6, 4, 3
    transit = np.array([[5.0, 9.0, 30.0, 40.0], [9.0, 5.0, 12.0, 30.0], [30.0, 12.0, 5.0, 6.0]])
    units = np.full((n_sku, n_reg), 400, dtype=np.int64)
    # w0 runs a few units short of region 0 late in the day; w1 holds region 1's demand and
    # a unit or two more: the orders w0 turns away then overdraw it
    k = np.arange(n_sku)
    stock = np.stack([units[:, 0] - 3 - k, units[:, 1] + k % 3, units[:, 2] + units[:, 3]],
                     axis=1).astype(np.int64)
    s, r = np.nonzero(units)
    p = SimulateProblem(
        day=dt.date(2027, 11, 11),
        skus=IdIndex([f"s{i}" for i in range(n_sku)]),
        regions=IdIndex([f"r{i}" for i in range(n_reg)]),
        warehouses=IdIndex([f"w{i}" for i in range(n_wh)]),
        brands=IdIndex(["b0"]),
        sku_brand=np.zeros(n_sku, dtype=np.int32),
        price=np.full(n_sku, 9.9),
        cell_sku=s.astype(np.int32),
        cell_region=r.astype(np.int32),
        cell_units=units[s, r],
        stock=stock,
        transit=transit,
        capacity=np.array([300, 300, 300], dtype=np.int64),
    )
    for chunk in (1_000, 1_000_000):
        params = SimulateParams(chunk_orders=chunk, sample_share=1.0)
        got = simulate(p, params, seed=4)
        assert got.unfilled_share > 0
        assert compare(got, simpy_rehearse(p, params, 4), p) == []


def test_outcome_kernels_match_numpy() -> None:
    """The per-second gmv and peak and the flow table's rows come out of their kernels as
    numpy's division, argmax (first of ties) and flat nonzero unravelled give them."""
    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 500):
        per_second = rng.integers(0, 4, (n, 3)).astype(np.int64) * rng.integers(1, 10**9, (n, 3))
        per_second[:, 0] = rng.integers(0, 3, n)  # ties: the first second wins
        gmv = np.empty(n)
        peak = T.second_columns(per_second, gmv)
        assert np.array_equal(gmv, per_second[:, 2] / 100.0)
        assert peak == (int(np.argmax(per_second[:, 0])) if n else 0)
    flow = rng.integers(0, 3, (4, 50, 6)) * (rng.random((4, 50, 6)) < 0.3)
    for n_hours in (0, 1, 24, 50, 60):
        got = T.flow_rows(flow, n_hours)
        part = np.ascontiguousarray(flow[:, :n_hours])
        at = np.flatnonzero(part)
        want = (*np.unravel_index(at, part.shape), part.ravel()[at])
        for g, w in zip(got, want, strict=True):
            assert g.dtype == np.int64 and np.array_equal(g, w)


def test_the_promise_tiers_are_the_networks() -> None:
    """The rehearsal counts deliveries within the network's promise tiers: tighter tiers
    count fewer units in time, the same orders shipped alike."""
    p = random_problem(3)
    base = simulate(p, SimulateParams(), seed=0)
    tight = simulate(p, SimulateParams(network=NetworkParams(promise_hours=(12.0, 24.0))),
                     seed=0)
    assert tight.units == base.units and tight.unfilled_share == base.unfilled_share
    assert tight.share_24h < base.share_24h
    assert tight.share_48h == pytest.approx(base.share_24h)  # its second tier is 24 h
