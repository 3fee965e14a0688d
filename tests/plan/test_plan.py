"""The planner: exact and fast agree, plans are valid, bad input is refused, notices add up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.errors import ForestockError, InfeasibleError
from forestock.network import NetworkParams
from forestock.plan import (
    PlanError,
    PlanParams,
    PlanProblem,
    exact_value,
    make_notices,
    solve_plan,
    validate_plan,
    write_notice_pages,
)
from tests.conftest import SHARED


def random_problem(seed: int, n_s: int = 24, n_r: int = 12, n_w: int = 5,
                   room: float = 1.3) -> PlanProblem:
    """Random SKUs on a square map: warehouses in some regions, storage ``room`` x demand,
    small warehouses first so that capacity binds near the buyers."""
    rng = np.random.default_rng(seed)
    mean = rng.gamma(0.6, 6.0, (n_s, n_r)) * (rng.random((n_s, n_r)) < 0.7)
    xy = rng.uniform(0, 10, (n_r, 2))
    home = rng.choice(n_r, n_w, replace=False)
    dist = np.hypot(*(xy[home][:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    p = PlanProblem.from_arrays(mean, np.ones(n_w), 5.0 + 5.0 * dist, lane_cost=2 + 0.4 * dist,
                                price=rng.uniform(20, 300, n_s))
    share = np.r_[0.4, np.full(n_w - 1, 0.6 / (n_w - 1))][rng.permutation(n_w)]
    return p.replace(storage=np.ceil(p.demand * room * share).astype(np.int64))


def _frames(p: PlanProblem) -> tuple[pd.DataFrame, pd.Series]:
    wh = pd.DataFrame({"warehouse_id": p.warehouses.ids, "storage_units": p.storage})
    return wh, pd.Series(p.national, index=p.skus.ids)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_is_within_one_percent_of_the_exact_optimum(seed: int) -> None:
    """On small binding instances the fast plan's exact value is within 1% of the LP optimum."""
    p = random_problem(seed)
    q = PlanParams(scenarios=6)
    exact = solve_plan(p, q.replace(method="exact"))
    fast = solve_plan(p, q)
    value = exact_value(p, fast.stock, q)
    assert exact.status == "optimal"
    assert value <= exact.bound * (1 + 1e-7)
    assert value >= exact.bound * 0.99
    assert fast.expected_share_24h >= exact.expected_share_24h - 0.03


def test_exact_rounding_loses_little_and_reports_its_gap() -> None:
    """The exact method's whole-unit plan is within 1% of its LP bound, and says so."""
    p = random_problem(5)
    r = solve_plan(p, PlanParams(method="exact", scenarios=6, check_gap=True))
    assert 0.0 <= r.gap <= 0.01
    assert r.figures["exact_value"] <= r.bound * (1 + 1e-7)


@pytest.mark.parametrize("method", ["fast", "exact", "central", "population", "nearest"])
def test_every_method_gives_a_valid_plan(method: str) -> None:
    """Each method's plan passes validate_plan with the national totals."""
    p = random_problem(3)
    r = solve_plan(p, PlanParams(method=method, scenarios=4))
    wh, national = _frames(p)
    validate_plan(r.plan, wh, national[national > 0])
    assert r.units == r.demand == p.national.sum() and r.shortfall == 0
    assert 0.0 <= r.expected_share_24h <= r.expected_share_48h <= 1.0


def test_fast_beats_the_baselines_in_expected_value() -> None:
    """The fast plan's value beats all three rules of thumb on the same quantities."""
    p = random_problem(4)
    q = PlanParams(scenarios=6)
    fast = solve_plan(p, q).objective
    for method in ("central", "population", "nearest"):
        assert fast > solve_plan(p, q.replace(method=method)).objective


def test_promise_value_puts_more_units_within_24h() -> None:
    """Valuing the next-day promise per unit, whatever the price, raises the expected share
    of units within 24 h over a plan that serves margin only: clearly on average over
    instances with tight forward storage, and on most of them; the default value (units
    first) does so at least as much as a small one. (The share is valued by the rehearsal's
    rules, regions drawing on their nearest stock all at once, while the optimiser serves
    its best lanes first: on one of these tiny instances, 900 units, the promise costs
    1.5 points.)"""
    gains, small = [], []
    for seed in range(6):
        p = random_problem(seed, room=1.1)
        margin_only = solve_plan(p, PlanParams(scenarios=6, promise_cny=0.0))
        promised = solve_plan(p, PlanParams(scenarios=6))
        some = solve_plan(p, PlanParams(scenarios=6, promise_cny=30.0))
        gains.append(promised.expected_share_24h - margin_only.expected_share_24h)
        small.append(some.expected_share_24h - margin_only.expected_share_24h)
    assert np.mean(gains) > 0.005
    assert sum(g > 0 for g in gains) >= 5 and min(gains) > -0.02
    assert np.mean(gains) >= np.mean(small) - 1e-9


def test_same_seed_same_plan() -> None:
    """The fast plan is identical for the same seed."""
    p = random_problem(6)
    a = solve_plan(p, PlanParams(scenarios=4), seed=3).plan
    b = solve_plan(p, PlanParams(scenarios=4), seed=3).plan
    pd.testing.assert_frame_equal(a, b)


def test_central_keeps_everything_in_one_warehouse_when_it_fits() -> None:
    """With room to spare, the central baseline uses a single warehouse."""
    p = random_problem(2, room=1.0)
    p = p.replace(storage=np.full(len(p.warehouses), p.demand, dtype=np.int64))
    r = solve_plan(p, PlanParams(method="central"))
    assert r.plan["warehouse_id"].nunique() == 1


def test_scenarios_are_chunk_independent_and_follow_the_forecast() -> None:
    """Scenarios are the same whatever the chunking; their median tracks the forecast's q50."""
    p = random_problem(7)
    whole = p.uncertainty.scenarios(0, len(p.skus), 64, 1)
    mid = len(p.skus) // 2
    u = p.uncertainty
    parts = np.vstack([u.scenarios(0, mid, 64, 1), u.scenarios(mid, len(p.skus), 64, 1)])
    assert (whole == parts).all() and (whole >= 0).all()
    med = np.median(whole, axis=1)
    q50 = p.cell_quant[:, 1]
    assert np.corrcoef(med, q50)[0, 1] > 0.95


def test_shared_share_comes_from_the_forecasts_dispersion() -> None:
    """With the correlation read from the forecast, a best-seller's regions rise and fall
    together in the scenarios and its national quantity nears the sum of its regions'
    quantiles, while a Poisson-like slow SKU's regions scatter independently."""
    busy = np.full((1, 12), 500.0)
    slow = np.full((1, 12), 2.0)
    p = PlanProblem.from_arrays(np.vstack([busy, slow]), np.full(2, 10**6),
                                np.full((2, 12), 10.0), spread=0.4, correlation=None)
    rho = p.uncertainty.shared()
    assert (rho[:12] > 0.9).all() and (rho[12:] < 0.3).all()
    D = p.uncertainty.scenarios(0, 2, 400, 3)
    c_busy = np.corrcoef(D[:12])[np.triu_indices(12, 1)].mean()
    c_slow = np.corrcoef(D[12:])[np.triu_indices(12, 1)].mean()
    assert c_busy > 0.85 and c_slow < 0.35
    q90_sum = p.cell_quant[:12, -1].sum()
    fixed = PlanProblem.from_arrays(busy, np.full(2, 10**6), np.full((2, 12), 10.0),
                                    spread=0.4, correlation=0.5)
    assert fixed.national[0] < p.national[0] <= np.ceil(q90_sum)
    assert p.national[0] > 0.97 * q90_sum


def test_beyond_storage_is_refused_then_partially_planned() -> None:
    """National quantities beyond storage name the overflow and the full warehouses, unless
    a shortfall is allowed, which places what fits."""
    p = random_problem(1)
    p = p.replace(storage=(p.storage * 0.5).astype(np.int64))
    over = p.demand - int(p.storage.sum())
    with pytest.raises(InfeasibleError, match=f"{over:,} units") as info:
        solve_plan(p)
    assert "every warehouse full" in str(info.value) and "w0" in str(info.value)
    r = solve_plan(p, PlanParams(allow_shortfall=True, scenarios=4))
    assert r.status == "shortfall" and 0 < r.units <= p.storage.sum()
    assert r.shortfall == p.demand - r.units
    wh, national = _frames(p)
    validate_plan(r.plan, wh, national, allow_shortfall=True)


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [-1]}), "negative"),
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [1.5]}), "whole"),
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [np.nan]}),
         "not a number"),
        (pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["zz"], "units": [1]}), "unknown"),
        (pd.DataFrame({"sku_id": ["a", "a"], "warehouse_id": ["w0", "w0"], "units": [1, 1]}),
         "twice"),
        (pd.DataFrame({"sku_id": ["a", "b"], "warehouse_id": ["w0", "w0"], "units": [6, 5]}),
         "over its storage"),
    ],
)
def test_validate_plan_catches(plan: pd.DataFrame, match: str) -> None:
    """validate_plan raises PlanError for each broken rule."""
    wh = pd.DataFrame({"warehouse_id": ["w0"], "storage_units": [10]})
    with pytest.raises(PlanError, match=match):
        validate_plan(plan, wh)


def test_validate_plan_checks_national_totals() -> None:
    """A SKU whose plan total differs from its national quantity is caught (short or over)."""
    wh = pd.DataFrame({"warehouse_id": ["w0"], "storage_units": [10]})
    plan = pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w0"], "units": [4]})
    with pytest.raises(PlanError, match="national quantity"):
        validate_plan(plan, wh, pd.Series({"a": 5}))
    validate_plan(plan, wh, pd.Series({"a": 5}), allow_shortfall=True)
    with pytest.raises(PlanError, match="national quantity"):
        validate_plan(plan, wh, pd.Series({"a": 3}), allow_shortfall=True)


def _tiny_forecast(tiny: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A one-day forecast for every SKU and region of the tiny network."""
    rows = [(s, r, 10.0 + i) for i, (s, r) in enumerate(
        (s, r) for s in tiny["skus"]["sku_id"] for r in tiny["regions"]["region_id"])]
    fc = pd.DataFrame(rows, columns=["sku_id", "region_id", "mean"])
    fc["date"] = pd.Timestamp("2026-09-01")
    fc["q10"], fc["q50"], fc["q90"] = fc["mean"] * 0.5, fc["mean"], fc["mean"] * 1.6
    return fc


def test_from_tables_builds_national_quantities(tiny: dict[str, pd.DataFrame]) -> None:
    """National quantities grow with the service level, and a given one is kept."""
    t = tiny
    fc = _tiny_forecast(t)
    args = (fc, t["warehouses"], t["lanes"], t["skus"], t["regions"])
    mean = PlanProblem.from_tables(*args, "mean", brands=t["brands"])
    q90 = PlanProblem.from_tables(*args, "q90", brands=t["brands"])
    assert (mean.national == np.ceil(fc.groupby("sku_id")["mean"].sum().to_numpy())).all()
    assert (q90.national > mean.national).all()
    assert (q90.inbound_km > 0).all() and q90.event_start == dt.date(2026, 9, 1)
    given = PlanProblem.from_tables(*args, national=pd.Series({"S1": 7, "S3": 2}))
    assert list(given.national) == [7, 0, 2, 0]


@pytest.mark.parametrize(
    ("break_it", "match"),
    [
        (lambda t: {**t, "lanes": t["lanes"].iloc[1:]}, "no lane from warehouse W-SEL"),
        (lambda t: {**t, "skus": t["skus"].iloc[1:]}, "sku_id 'S1'"),
        (lambda t: {**t, "warehouses": t["warehouses"].assign(storage_units=[-5, 10])},
         "negative storage_units"),
    ],
)
def test_from_tables_refuses_bad_input(tiny: dict[str, pd.DataFrame], break_it: object,
                                       match: str) -> None:
    """Missing lanes, a forecast for unknown SKUs and negative capacities are named."""
    t = break_it(dict(tiny))  # type: ignore[operator]
    with pytest.raises(ForestockError, match=match):
        PlanProblem.from_tables(_tiny_forecast(tiny), t["warehouses"], t["lanes"], t["skus"],
                                t["regions"])


def test_notices_add_up_and_pages_are_written(tiny: dict[str, pd.DataFrame],
                                              tmp_path: Path) -> None:
    """Notices' units add up to the plan per SKU and warehouse; overseas goods ship earlier;
    each manufacturer gets one page, written without leftovers."""
    t = tiny
    p = PlanProblem.from_tables(_tiny_forecast(t), t["warehouses"], t["lanes"], t["skus"],
                                t["regions"], brands=t["brands"])
    r = solve_plan(p, PlanParams(scenarios=4, allow_shortfall=True))
    notices = make_notices(r.plan, t["skus"], t["brands"], t["warehouses"], p.event_start)
    got = notices.groupby(["sku_id", "warehouse_id"])["units"].sum()
    want = r.plan.set_index(["sku_id", "warehouse_id"])["units"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)
    assert (notices["ship_by"] < notices["arrive_by"]).all()
    assert (notices["arrive_by"] == pd.Timestamp("2026-08-29")).all()
    assert notices["notice_id"].is_unique
    kr = notices.loc[notices["brand_id"] == "B1", "ship_by"].max()  # Korean brand, by sea
    cn = notices.loc[notices["brand_id"] == "B2", "ship_by"].max()  # Shanghai brand, by road
    assert kr < cn
    pages = write_notice_pages(tmp_path / "notices", notices, t["brands"], t["skus"],
                               t["warehouses"])
    assert sorted(x.name for x in pages) == ["B1.html", "B2.html"]
    assert sorted(x.name for x in (tmp_path / "notices").iterdir()) == ["B1.html", "B2.html"]
    text = pages[0].read_text(encoding="utf-8")
    total = int(notices.loc[notices["brand_id"] == "B1", "units"].sum())
    assert "아모레" in text and f"{total:,}" in text


def test_params_check_their_ranges(tmp_path: Path) -> None:
    """Bad parameters raise ValueError naming the field; TOML files load."""
    with pytest.raises(ValueError, match="method"):
        PlanParams(method="magic")
    with pytest.raises(ValueError, match="scenarios"):
        PlanParams(scenarios=0)
    path = tmp_path / "plan.toml"
    path.write_text('[plan]\nmethod = "exact"\n[plan.network]\npromise_hours = [20.0, 40.0]\n',
                    encoding="utf-8")
    assert PlanParams.from_file(path) == PlanParams(
        method="exact", network=NetworkParams(promise_hours=(20.0, 40.0)))


def _costs(p: PlanProblem, seed: int) -> pd.DataFrame:
    """Random asymmetric costs: a row per SKU for every warehouse, and a surplus cost of its
    own in one warehouse for a third of them."""
    rng = np.random.default_rng(seed)
    n_s = len(p.skus)
    every = pd.DataFrame({"sku_id": p.skus.ids, "warehouse_id": "",
                          "shortage_cny": rng.uniform(0, 60, n_s),
                          "surplus_cny": rng.uniform(0, 30, n_s)})
    some = every.sample(frac=1 / 3, random_state=seed).assign(
        warehouse_id=lambda t: rng.choice(p.warehouses.ids, len(t)),
        surplus_cny=lambda t: rng.uniform(0, 30, len(t)))
    return pd.concat([every, some], ignore_index=True)


def test_cost_table_sets_shortage_per_sku_and_surplus_per_warehouse() -> None:
    """A row without a warehouse sets the SKU's shortage and its surplus everywhere; a row with
    one overrides the surplus there; SKUs without rows cost nothing."""
    p = random_problem(0)
    ids, whs = p.skus.ids, p.warehouses.ids
    table = pd.DataFrame({"sku_id": [ids[2], ids[2], ids[5]], "warehouse_id": ["", whs[1], "all"],
                          "shortage_cny": [30.0, 99.0, 7.0], "surplus_cny": [4.0, 11.0, 2.0]})
    q = p.with_costs(table)
    assert q.shortage_cost is not None and q.surplus_cost is not None
    assert q.shortage_cost[2] == 30.0 and q.shortage_cost[5] == 7.0
    assert q.shortage_cost.sum() == 37.0
    assert list(q.surplus_cost[2]) == [4.0, 11.0] + [4.0] * (len(whs) - 2)
    assert (q.surplus_cost[5] == 2.0).all() and q.surplus_cost.sum() == 4.0 * (len(whs) - 1) \
        + 11.0 + 2.0 * len(whs)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"sku_id": "nope", "shortage_cny": 1, "surplus_cny": 1},
         "costs.csv, row 2, column 'sku_id': 'nope' is not a known sku_id"),
        ({"sku_id": "s1", "warehouse_id": "w99", "shortage_cny": 1, "surplus_cny": 1},
         "costs.csv, row 2, column 'warehouse_id': 'w99' is not a known warehouse_id"),
        ({"sku_id": "s1", "shortage_cny": "abc", "surplus_cny": 1},
         "costs.csv, row 2, column 'shortage_cny': value 'abc' is not a number >= 0"),
        ({"sku_id": "s1", "shortage_cny": 1, "surplus_cny": -2},
         "costs.csv, row 2, column 'surplus_cny': value -2 is not a number >= 0"),
    ],
)
def test_bad_cost_rows_are_named(row: dict[str, object], message: str) -> None:
    """An unknown SKU or warehouse, or a cost that is not a number >= 0, names its row."""
    p = random_problem(0)
    table = pd.DataFrame([{"sku_id": "s0", "warehouse_id": "", "shortage_cny": 1,
                           "surplus_cny": 1}, row])
    with pytest.raises(ForestockError, match=message):
        p.with_costs(table, source="costs.csv")
    with pytest.raises(ForestockError, match="missing column"):
        p.with_costs(table.drop(columns="surplus_cny"), source="costs.csv")


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_is_within_one_percent_of_the_exact_optimum_with_costs(seed: int) -> None:
    """With per-item shortage and surplus costs the fast plan's exact value is still within 1%
    of the LP optimum."""
    p = random_problem(seed).with_costs(_costs(random_problem(seed), seed))
    q = PlanParams(scenarios=6)
    exact = solve_plan(p, q.replace(method="exact"))
    value = exact_value(p, solve_plan(p, q).stock, q)
    assert exact.status == "optimal"
    assert exact.bound * 0.99 <= value <= exact.bound * (1 + 1e-7)


def test_shortage_cost_wins_room_for_its_sku() -> None:
    """Where storage falls short, a SKU whose unserved demand costs much gets more of the room
    than it does without costs; a surplus cost on another SKU's leftovers stocks fewer of its
    units."""
    p = random_problem(1, room=0.6)
    q = PlanParams(scenarios=6, allow_shortfall=True)
    base = solve_plan(p, q).stock.sum(axis=1)
    short = np.flatnonzero(base < p.national)
    s = int(short[np.argmax(p.national[short] - base[short])])
    ids = p.skus.ids
    costly = solve_plan(p.with_costs(pd.DataFrame(
        {"sku_id": [ids[s]], "shortage_cny": [5_000.0], "surplus_cny": [0.0]})), q)
    assert costly.stock.sum(axis=1)[s] > base[s]
    assert costly.stock.sum() <= p.storage.sum()
    t = int(np.argmax(np.where(np.arange(len(ids)) == s, -1, base)))
    leftover = solve_plan(p.with_costs(pd.DataFrame(
        {"sku_id": [ids[t]], "shortage_cny": [0.0], "surplus_cny": [5_000.0]})), q)
    assert leftover.stock.sum(axis=1)[t] < base[t]


CAINIAO = SHARED / "data" / "cainiao-costs" / "config2.csv"


@pytest.mark.skipif(not CAINIAO.exists(), reason=f"{CAINIAO} not found (../shared is absent)")
def test_cainiao_costs_table_plans() -> None:
    """Cainiao's per-item costs (item, store 'all' or 1-5, shortage_surplus) given to the first
    SKUs and five warehouses set exactly those costs, and the plan is valid."""
    raw = pd.read_csv(CAINIAO, header=None, names=["item", "store", "ab"], dtype=str)
    ab = raw["ab"].str.split("_", expand=True).astype(float)
    raw = raw.assign(shortage_cny=ab[0], surplus_cny=ab[1])
    p = random_problem(2, n_w=5)
    items = raw["item"].drop_duplicates().to_numpy()[: len(p.skus)]
    part = raw[raw["item"].isin(items)]
    table = pd.DataFrame({
        "sku_id": p.skus.ids[pd.Index(items).get_indexer(part["item"])],
        "warehouse_id": np.where(part["store"] == "all", "",
                                 p.warehouses.ids[np.clip(pd.to_numeric(part["store"],
                                                                        errors="coerce")
                                                          .fillna(1).astype(int) - 1, 0, 4)]),
        "shortage_cny": part["shortage_cny"], "surplus_cny": part["surplus_cny"]})
    q = p.with_costs(table, source="config2.csv")
    first = part[part["item"] == items[0]]
    assert q.shortage_cost is not None and q.surplus_cost is not None
    assert q.shortage_cost[0] == first.loc[first["store"] == "all", "shortage_cny"].iloc[0]
    for _, r in first[first["store"] != "all"].iterrows():
        assert q.surplus_cost[0, int(r["store"]) - 1] == r["surplus_cny"]
    r = solve_plan(q, PlanParams(scenarios=4))
    wh, national = _frames(q)
    validate_plan(r.plan, wh, national[national > 0])
