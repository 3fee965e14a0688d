"""forestock insights on a small generated world: each insight recomputed with pandas from
the world's truth, history and the stages' tables, and matched."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forestock import ForestockWarning, flow
from forestock.insights import InsightsParams, InsightsResult, compute_insights
from forestock.world import WorldParams

#: 30 SKUs (24 brands) in 31 regions, 400 days of history (so the 2026 11.11 is in it).
WORLD = WorldParams(seed=5, skus=30, regions=31, history_days=400)
DAY = pd.Timestamp(WORLD.event_date)


@pytest.fixture(scope="module")
def small_flow() -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, object]],
                          InsightsResult, float]:
    """The small world run through forecast (seasonal naive), plan and simulate in memory,
    and its insights at the world's scale (the counterfactual forecast included)."""
    run = flow.run_world(None, WORLD)
    store = run.store
    flow.run_forecast(store, window=flow.forecast_window(store), method="seasonal_naive")
    with warnings.catch_warnings():  # past-due notices of a small world, as a reader sees
        warnings.simplefilter("ignore", ForestockWarning)
        flow.run_plan(store)
    flow.run_simulate(store)
    tables = {name: store.read(name) for name in store}
    notes = store.notes()
    scale = run.result.market_scale
    result = compute_insights(tables, InsightsParams(scale=scale), notes=notes)
    return tables, notes, result, scale


def _brand_gmv(sales: pd.DataFrame, skus: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    x = sales[sales["date"] == day].merge(skus, on="sku_id")
    return (x["units"] * x["price"]).groupby(x["brand_id"]).sum()


def test_leaderboards_match_the_truth_and_history(small_flow) -> None:  # type: ignore[no-untyped-def]
    """The rehearsal's brand GMV is the truth's 11.11 at list prices, the 2026 board the
    history's, and the counts at the world's scale are pandas counts by country."""
    t, _, r, scale = small_flow
    board = r.tables["insight_leaderboard"]
    for scope, sales, day in ((f"rehearsal {DAY.date()}", t["truth"], DAY),
                              ("history 2026-11-11", t["history"],
                               pd.Timestamp("2026-11-11"))):
        mine = board[board["scope"] == scope].set_index("brand_id")
        want = _brand_gmv(sales, t["skus"], day)
        assert mine["gmv"].reindex(want.index).to_numpy() == pytest.approx(want.to_numpy())
        assert mine["gmv_full"].to_numpy() == pytest.approx(mine["gmv"].to_numpy() / scale)
        assert list(mine["rank"]) == list(range(1, len(mine) + 1))
        counts = r.tables["insight_brand_counts"]
        for thr in (1e9, 1e8):
            hit = want[want >= thr * scale]
            by_country = t["brands"].set_index("brand_id").loc[hit.index, "country"]
            got = counts[(counts["scope"] == scope) & (counts["threshold"] == thr)
                         & (counts["category"] == "all")].set_index("country")["brands"]
            assert got["all"] == len(hit)
            assert got.drop("all").to_dict() == by_country.value_counts().to_dict()
            tiered = mine.index[mine["tier"].notna()]
            if thr == 1e8:
                assert set(tiered) == set(hit.index)
    assert r.figures["scale"] == scale


def test_taste_matches_pandas(small_flow) -> None:  # type: ignore[no-untyped-def]
    """Ordinary days are the history's last 365 without calendar events; the event period is
    the truth's 11.11; each category's location quotient is a pandas computation."""
    t, _, r, _ = small_flow
    cal = set(pd.to_datetime(t["calendar"]["date"]))
    h = t["history"]
    last = h["date"].max()
    ordinary = h[(h["date"] > last - pd.Timedelta(days=365)) & ~h["date"].isin(cal)]
    event = t["truth"][t["truth"]["date"] == DAY]
    taste = r.tables["insight_taste"]
    for period, sales in (("ordinary", ordinary), ("event", event)):
        x = sales.merge(t["skus"], on="sku_id")
        u = x.groupby(["category", "region_id"])["units"].sum()
        share = u / u.groupby(level=0).transform("sum")
        reg = x.groupby("region_id")["units"].sum() / x["units"].sum()
        lq = share / reg.reindex(u.index.get_level_values(1)).to_numpy()
        mine = taste[(taste["level"] == "category") & (taste["period"] == period)]
        mine = mine.set_index(["item", "region_id"])["lq"].sort_index()
        np.testing.assert_allclose(mine.to_numpy(), lq.sort_index().to_numpy())


def test_lift_and_events_match_pandas(small_flow) -> None:  # type: ignore[no-untyped-def]
    """The event's lift by category is the truth over the no-event forecast; the event
    comparison's 11.11s are the daily totals, and the rehearsed day's busiest hour its
    share of outcomes_second."""
    t, _, r, _ = small_flow
    cf = r.tables["insight_counterfactual"]
    day = t["truth"][t["truth"]["date"] == DAY].merge(t["skus"], on="sku_id")
    c = cf.merge(t["skus"], on="sku_id")
    lift = r.tables["insight_lift"].set_index(["dimension", "item"])
    for cat, g in day.groupby("category"):
        mine = lift.loc[("category", cat)]
        base = c.loc[c["category"] == cat, "mean"].sum()
        assert mine["units"] == pytest.approx(g["units"].sum())
        assert mine["counterfactual"] == pytest.approx(base)
        assert mine["lift"] == pytest.approx(g["units"].sum() / base)
    assert lift.loc[("total", "all"), "added_gmv"] == pytest.approx(
        (day["units"] * day["price"]).sum() - (c["mean"] * c["price"]).sum())

    daily = pd.concat([t["history"], t["truth"]]).groupby("date")["units"].sum()
    busy = set(pd.to_datetime(t["calendar"]["date"]))
    ev = r.tables["insight_events"]
    ev = ev[ev["event"] == "11.11"].set_index("start")
    for d in (pd.Timestamp("2026-11-11"), DAY):
        row = ev.loc[d.date()]
        before = daily[d - pd.Timedelta(days=28):d - pd.Timedelta(days=1)]
        assert row["units_per_day"] == pytest.approx(daily[d])
        assert row["lift"] == pytest.approx(daily[d] / before[~before.index.isin(busy)].mean())
    sec = t["outcomes_second"]
    per_hour = sec.groupby(sec["second"] // 3600)["units"].sum()
    assert ev.loc[DAY.date(), "peak_hour_share"] == pytest.approx(per_hour.max()
                                                                  / per_hour.sum())
    assert ev.loc[DAY.date(), "source"] == "rehearsal"


def test_post_mortem_and_next_year_match_pandas(small_flow) -> None:  # type: ignore[no-untyped-def]
    """Stock short and left per SKU and warehouse, the moves, late units by reason, the gap
    and the q10-q90 misses equal pandas computations from the truth and the stages'
    tables."""
    t, notes, r, _ = small_flow
    stock = t["outcomes_stock"].set_index(["sku_id", "warehouse_id"])
    near = (t["outcomes_reason"][["region_id", "warehouse_id"]].dropna()
            .drop_duplicates("region_id"))
    day = t["truth"][t["truth"]["date"] == DAY].merge(near, on="region_id")
    demand = day.groupby(["sku_id", "warehouse_id"])["units"].sum()
    both = pd.concat([stock[["placed", "left"]], demand.rename("demand")], axis=1).fillna(0)
    short = (both["demand"] - both["placed"]).clip(lower=0)
    pm = r.tables["insight_stock"].set_index(["sku_id", "warehouse_id"])
    np.testing.assert_array_equal(pm.loc[both.index, "short"], short.astype(int))
    np.testing.assert_array_equal(pm.loc[both.index, "left"], both["left"].astype(int))
    assert r.figures["units_left"] == int(t["outcomes_stock"]["left"].sum())
    assert r.figures["units_short_nearest"] == int(short.sum())
    moves = r.tables["insight_moves"].set_index("warehouse_id")
    by_w = pd.DataFrame({"short": short, "left": both["left"]}).groupby(level=1).sum()
    np.testing.assert_array_equal(moves.loc[by_w.index, "net"], by_w["short"] - by_w["left"])

    late = r.tables["insight_late"].set_index("region_id")
    want = t["outcomes_reason"].groupby("region_id")[["stock", "backlog", "transit"]].sum()
    np.testing.assert_array_equal(late.loc[want.index, ["stock", "backlog", "transit"]],
                                  want.to_numpy())
    gap = r.tables["insight_gap"].set_index("component")["share"]
    reg = t["outcomes_region"]
    assert gap["rehearsed_24h"] == pytest.approx(reg["delivered_24h"].sum()
                                                 / reg["units"].sum())
    assert gap["plan_expected_24h"] == pytest.approx(notes["plan"]["expected_share_24h"])

    tot = t["forecast_total"]
    tot = tot[tot["region_id"].isna() | (tot["region_id"].astype(str) == "")].set_index("sku_id")
    actual = (t["truth"][t["truth"]["date"] == DAY].groupby("sku_id")["units"].sum()
              .reindex(tot.index, fill_value=0))
    outside = actual[(actual > tot["q90"]) | (actual < tot["q10"])]
    ms = r.tables["insight_misses"].set_index("sku_id")
    assert set(ms.index) == set(outside.index)
    assert r.figures["skus_outside_q10_q90"] == len(outside)

    err = r.tables["insight_error"]
    fc = t["forecast"].merge(t["truth"][t["truth"]["date"] == DAY], how="outer",
                             on=["sku_id", "region_id", "date"]).fillna(
        {"units": 0.0, "mean": 0.0}).merge(t["skus"], on="sku_id")
    for cat, g in fc.groupby("category"):
        row = err[(err["dimension"] == "category") & (err["item"] == cat)].iloc[0]
        assert row["wape"] == pytest.approx((g["mean"] - g["units"]).abs().sum()
                                            / g["units"].sum())
