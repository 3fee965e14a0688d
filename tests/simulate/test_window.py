"""Rehearsals of an event window: every day, stock and backlogs carried, waves (issue 17)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock import flow
from forestock.cli import main
from forestock.plan import PastDueWarning
from forestock.simulate import (
    RehearsalWindow,
    SimulateParams,
    WindowResult,
    check_window,
    simulate,
    simulate_window,
)
from forestock.workspace import Workspace
from forestock.world import SEASON, WorldParams
from tests.conftest import write_csvs
from tests.simulate.simpy_model import compare, simpy_rehearse
from tests.simulate.test_simulate import random_problem

#: A small embedded world (20 SKUs, 31 regions): its 11.11 season runs 14 days.
WORLD = WorldParams(seed=0, skus=20, regions=31)


@pytest.fixture(scope="module")
def season() -> flow.Tables:
    """The small world, its season forecast (seasonal naive), planned with waves (its
    overseas brands' first notices past due: the season starts three weeks after the
    history) and rehearsed over every day of it, in memory."""
    tables = flow.run_world(params=WORLD).store
    assert isinstance(tables, flow.Tables)
    flow.run_forecast(tables, window=flow.forecast_window(tables, SEASON),
                      method="seasonal_naive")
    with pytest.warns(PastDueWarning):  # (overseas brands' sea lead times: weeks)
        flow.run_plan(tables)
    flow.run_simulate(tables)
    return tables


def test_every_unit_of_every_day_is_shipped_or_unfilled(season: flow.Tables) -> None:
    """Every day of the season is rehearsed on its truth: each day's units are shipped or
    unfilled, the days add up to the window's tables, and the stock is never negative."""
    days = season["outcomes_day"]
    want = pd.date_range(WORLD.season_start, WORLD.season_end)
    assert list(days["date"]) == list(want)
    truth = season["truth"]
    per_day = truth[truth["date"].isin(want)].groupby("date")["units"].sum()
    np.testing.assert_array_equal(days["units"], per_day.reindex(want).to_numpy())
    assert (days["units"] == days["shipped"] + days["unfilled"]).all()
    assert (days["delivered_24h"] <= days["delivered_48h"]).all()
    assert (days["delivered_48h"] <= days["delivered_72h"]).all()
    assert (days["stock_left"] >= 0).all()
    reg, brand = season["outcomes_region"], season["outcomes_brand"]
    for col in ("orders", "units", "shipped", "unfilled", "delivered_24h", "delivered_48h"):
        assert days[col].sum() == reg[col].sum() == brand[col].sum()
    assert days["orders"].sum() == season["outcomes_second"]["orders"].sum()
    stock = season["outcomes_stock"]
    assert (stock["left"] >= 0).all() and stock["left"].sum() == days["stock_left"].iloc[-1]
    notes = season.notes()["simulate"]
    assert notes["days"] == 14 and notes["units"] == int(days["units"].sum())
    assert notes["share_24h"] == pytest.approx(days["delivered_24h"].sum()
                                               / days["units"].sum())


def test_waves_never_ship_above_their_plan(season: flow.Tables) -> None:
    """Each wave ships at most its plan and its destination keeps at most what it shipped;
    the units received add up to the days'; stock placed plus received less shipped from
    warehouses is what is left."""
    waves, days = season["outcomes_replenishment"], season["outcomes_day"]
    planned = season["replenishment"]
    assert len(waves) == len(planned) > 0
    assert (waves["shipped"] <= waves["planned"]).all()
    assert (waves["received"] <= waves["shipped"]).all()
    assert waves["shipped"].sum() > 0
    inbound = waves["kind"] == "inbound"
    assert waves.loc[inbound, "received"].sum() == days["inbound"].sum()
    assert waves.loc[~inbound, "received"].sum() == days["transfers"].sum()
    stock = season["outcomes_stock"]
    placed = season["plan"]["units"].sum()
    assert stock["placed"].sum() == placed
    notes = season.notes()["simulate"]
    assert notes["placed"] + notes["inbound"] - days["shipped"].sum() == stock["left"].sum()


def test_warehouse_queues_run_through_the_window(season: flow.Tables) -> None:
    """The warehouses' hours run from the window's first midnight: parcels picked less
    shipped so far is the backlog at every hour, every parcel ships, and the flows add
    up to the parcels picked."""
    wh = season["outcomes_warehouse"]
    assert wh["hour"].max() >= 14 * 24 - 1
    picked = wh.groupby("warehouse_id")["picked"].cumsum()
    shipped = wh.groupby("warehouse_id")["shipped"].cumsum()
    assert (wh["backlog"] == picked - shipped).all()
    assert wh["picked"].sum() == wh["shipped"].sum() == season["outcomes_flow"]["parcels"].sum()


def _window(p: object, days: int, rng: np.random.Generator) -> RehearsalWindow:
    """``days`` days of the random problem ``p``'s network, each with fresh demand."""
    from forestock.simulate import SimulateProblem

    assert isinstance(p, SimulateProblem)
    problems = []
    for d in range(days):
        units = rng.poisson(p.cell_units * rng.uniform(0.5, 1.5))
        keep = units > 0
        problems.append(p.replace(day=p.day + dt.timedelta(days=d), cell_units=units[keep],
                                  cell_sku=p.cell_sku[keep], cell_region=p.cell_region[keep]))
    return RehearsalWindow(problems=tuple(problems),
                           storage=np.full(len(p.warehouses), 10**9, dtype=np.int64))


def test_a_one_day_window_is_the_day() -> None:
    """A window of one day without waves gives the one-day rehearsal's tables, at any
    scale."""
    p = random_problem(4)
    for params in (SimulateParams(), SimulateParams(scale=3.5)):
        one = simulate_window(RehearsalWindow(problems=(p,), storage=np.full(3, 10**9)),
                              params, seed=5)
        day = simulate(p, params, seed=5)
        for name, table in day.tables.items():
            pd.testing.assert_frame_equal(one.tables[name], table, check_dtype=False)
        assert one.share_24h == day.share_24h and one.units == day.units


@pytest.mark.parametrize("seed", range(3))
def test_a_backlog_at_midnight_queues_as_in_the_simpy_model(seed: int) -> None:
    """Parcels waiting at midnight ship first: each order's warehouse, ship hour and
    delivery match the SimPy model holding the same parcels on its floors."""
    p = random_problem(seed)
    p = p.replace(capacity=np.maximum(p.capacity, 5),
                  backlog=np.array([40, 0, 75], dtype=np.int64))
    params = SimulateParams(sample_share=1.0)
    ours = simulate(p, params, seed=seed)
    assert compare(ours, simpy_rehearse(p, params, seed=seed), p) == []
    wh = ours.tables["outcomes_warehouse"]
    first = wh[wh["hour"] == 0].set_index("warehouse_id")
    cap = pd.Series(p.capacity, index=p.warehouses.ids)
    assert (first["shipped"] >= np.minimum(cap, [40, 0, 75])).all()


def test_days_carry_stock_and_backlog() -> None:
    """Over three days of a scarce, slow network the stock one day leaves is the next day's
    (never negative), the backlog at midnight is carried, every parcel picked ships, and
    the same seed gives the same tables (another seed other orders)."""
    rng = np.random.default_rng(1)
    p = random_problem(2).replace(capacity=np.array([3, 2, 4], dtype=np.int64))
    window = _window(p, 3, rng)
    r = simulate_window(window, seed=3)
    check_window(r, window)
    assert isinstance(r, WindowResult) and r.last_day == p.day + dt.timedelta(days=2)
    days = r.by_day
    assert (days["backlog"] > 0).any() and (days["stock_left"] >= 0).all()
    assert (days["stock_left"].diff().dropna() <= 0).all()  # no waves: stock only goes
    wh = r.tables["outcomes_warehouse"]
    picked = wh.groupby("warehouse_id")["picked"].cumsum()
    shipped = wh.groupby("warehouse_id")["shipped"].cumsum()
    assert (wh["backlog"] == picked - shipped).all()
    assert wh["picked"].sum() == wh["shipped"].sum()
    at_midnight = wh[wh["hour"] == 23].groupby("warehouse_id")["backlog"].sum()
    assert at_midnight.sum() == days["backlog"].iloc[0]
    again = simulate_window(window, seed=3)
    pd.testing.assert_frame_equal(r.by_day, again.by_day)
    other = simulate_window(window, seed=4)
    assert not r.tables["outcomes_second"].equals(other.tables["outcomes_second"])


def _waves(p: object, rng: np.random.Generator, n_days: int) -> pd.DataFrame:
    """Random waves on a two-tier network: warehouse w0 a hub sending on to w1 and w2."""
    from forestock.simulate import SimulateProblem

    assert isinstance(p, SimulateProblem)
    rows = []
    first = p.day
    for wave in range(1, 4):
        start = min(wave * n_days // 4 + 1, n_days - 1)
        for s in p.skus.ids:
            rows.append((wave, "inbound", s, "b0", "w0", int(rng.integers(1, 80)),
                         int(rng.integers(0, 200)), start - int(rng.integers(1, 4)), start - 1))
            for f in ("w1", "w2"):
                rows.append((wave, "transfer", s, "w0", f, int(rng.integers(1, 40)),
                             int(rng.integers(0, 90)), start - 1, start))
    frame = pd.DataFrame(rows, columns=["wave", "kind", "sku_id", "from_id", "warehouse_id",
                                        "units", "up_to", "ship", "arrive"])
    for col, new in (("ship", "ship_on"), ("arrive", "arrive_on")):
        frame[new] = pd.to_datetime(first) + pd.to_timedelta(frame.pop(col), unit="D")
    return frame


@pytest.mark.parametrize("seed", range(4))
def test_waves_keep_plan_room_and_stock(seed: int) -> None:
    """Random waves on a random network: no wave ships above its plan, transfers never take
    more than the hub holds, no warehouse holds more than its storage when a day begins,
    and stock is conserved."""
    from forestock.simulate._window import Waves

    rng = np.random.default_rng(seed)
    p = random_problem(seed, n_sku=6)
    p = p.replace(capacity=np.maximum(p.capacity, 1))
    window = _window(p, 6, rng)
    waves = Waves.from_table(_waves(p, rng, 6), p.day, p.skus, p.warehouses)
    storage = p.stock.sum(axis=0) + rng.integers(0, 120, 3)
    window = dataclasses.replace(window, waves=waves, storage=storage.astype(np.int64))
    r = simulate_window(window, seed=seed)
    check_window(r, window)
    rep = r.tables["outcomes_replenishment"]
    assert (rep["shipped"] <= rep["planned"]).all() and (rep["received"] <= rep["shipped"]).all()
    assert r.figures["max_stock_share"] <= 1.0
    assert (r.by_day["stock_left"] >= 0).all()


def test_cli_rehearses_every_day_of_a_multi_day_event(tmp_path: Path,
                                                      tiny: dict[str, pd.DataFrame],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock simulate` after planning a loaded user's three-week event rehearses every
    day of it by default, keeping the window's rules (every unit of every day shipped or
    unfilled, the days adding up to the window's tables, stock never negative, no wave
    above its plan); --day D still rehearses that one day."""
    ws = str(tmp_path / "ws")
    assert main(["load", str(write_csvs(tmp_path / "in", tiny)), "-w", ws]) == 0
    assert main(["forecast", "-w", ws, "--event", "추석 세일", "--method",
                 "seasonal_naive"]) == 0
    assert main(["plan", "-w", ws]) == 0
    capsys.readouterr()
    assert main(["simulate", "-w", ws, "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    days = Workspace(ws).read("outcomes_day")
    assert facts["days"] == 21 and len(days) == 21
    assert str(days["date"].min().date()) == "2026-09-01" == facts["day"]
    assert facts["last_day"] == "2026-09-21"
    truth = tiny["truth"]
    assert facts["units"] == int(truth["units"].sum())
    assert 0.0 < facts["share_24h"] <= 1.0 and facts["inbound"] > 0
    w = Workspace(ws)
    assert (days["units"] == days["shipped"] + days["unfilled"]).all()
    per_day = truth.groupby("date")["units"].sum()
    np.testing.assert_array_equal(days.sort_values("date")["units"], per_day.sort_index())
    reg = w.read("outcomes_region")
    for col in ("orders", "units", "shipped", "unfilled", "delivered_24h", "delivered_48h"):
        assert days[col].sum() == reg[col].sum(), col
    assert (days["stock_left"] >= 0).all() and (w.read("outcomes_stock")["left"] >= 0).all()
    waves = w.read("outcomes_replenishment")
    assert len(waves) == len(w.read("replenishment")) > 0
    assert (waves["shipped"] <= waves["planned"]).all()
    assert (waves["received"] <= waves["shipped"]).all()
    assert waves.loc[waves["kind"] == "inbound", "received"].sum() == days["inbound"].sum()
    assert main(["simulate", "-w", ws, "--day", "2026-09-05", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["day"] == "2026-09-05" and "days" not in one
    days = Workspace(ws).read("outcomes_day")
    assert len(days) == 1 and days["units"].iloc[0] == one["units"]


def _flat_forecast(days: list[dt.date], n_skus: int = 3_000) -> pd.DataFrame:
    """A forecast of ``n_skus`` SKUs in one region, alike on every day: mean 40, spread well
    beyond a Poisson count's (so nearly all of a cell's variance can be shared)."""
    return pd.DataFrame([(f"s{i}", "r0", pd.Timestamp(d), 40.0, 10.0, 35.0, 80.0)
                         for d in days for i in range(n_skus)],
                        columns=["sku_id", "region_id", "date", "mean", "q10", "q50", "q90"])


def _units(frame: pd.DataFrame, n_skus: int = 3_000) -> np.ndarray:
    got = frame.set_index("sku_id")["units"]
    return got.reindex([f"s{i}" for i in range(n_skus)], fill_value=0).to_numpy(float)


def test_forecast_days_draw_their_own_surprise() -> None:
    """A fresh scenario of the forecast has the day in its hash: two days of identical
    forecasts drawn with one seed differ and are independent (correlation about 0) unless
    the window's days share part of their surprise (``day_correlation``: then about that
    share); the same seed and day draw the same units, whatever else is drawn."""
    from forestock.simulate import demand_from_forecast

    days = [dt.date(2027, 11, 1), dt.date(2027, 11, 2)]
    fc = _flat_forecast(days)
    a, b = (_units(demand_from_forecast(fc, d, seed=7)) for d in days)
    assert not np.array_equal(a, b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.06
    np.testing.assert_array_equal(a, _units(demand_from_forecast(fc, days[0], seed=7)))
    assert not np.array_equal(a, _units(demand_from_forecast(fc, days[0], seed=8)))
    # both days' marginals follow the quantiles
    for x in (a, b):
        assert 0.06 < (x < 10).mean() < 0.14 and 0.84 < (x < 80).mean() < 0.93
    sa, sb = (_units(demand_from_forecast(fc, d, seed=7, day_correlation=0.6)) for d in days)
    assert 0.4 < np.corrcoef(sa, sb)[0, 1] < 0.65
    assert 0.06 < (sa < 10).mean() < 0.14  # sharing leaves the day's marginal alone


def test_window_from_the_forecast_draws_each_day_as_alone(season: flow.Tables) -> None:
    """`simulate --source forecast` over a window: every day's demand is the fresh scenario
    `--day` draws for that day with the same seed, the days differ from one another, and
    another seed draws other days."""
    days = flow.planned_window(season)
    assert len(days) == 14
    demand = flow.window_demand(season, days, flow.DemandSource.forecast, seed=3)
    per_day = {pd.Timestamp(d).date(): g.drop(columns="date").reset_index(drop=True)
               for d, g in demand.groupby("date")}
    assert sorted(per_day) == days
    for d in (days[0], days[6], days[-1]):
        the_day, alone = flow.rehearsal_demand(season, flow.DemandSource.forecast, d, seed=3)
        assert the_day == d
        pd.testing.assert_frame_equal(per_day[d], alone)
    key = ["sku_id", "region_id"]
    first = per_day[days[1]].set_index(key)["units"]
    second = per_day[days[2]].set_index(key)["units"]
    both = first.to_frame("a").join(second.rename("b"), how="inner")
    assert len(both) > 100 and (both["a"] != both["b"]).mean() > 0.3
    other = flow.window_demand(season, days, flow.DemandSource.forecast, seed=4)
    assert not other["units"].equals(demand["units"])
