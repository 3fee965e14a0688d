"""forestock insights: each insight recomputed independently with pandas, and the CLI flow."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.cli import main
from forestock.events import Window
from forestock.insights import (
    InsightsParams,
    brand_counts,
    counterfactual_calendar,
    elasticity,
    event_comparison,
    event_lift,
    forecast_error,
    leaderboard,
    misses,
    moves,
    share_gap,
    stock_post_mortem,
    taste,
)
from forestock.simulate import SimulateParams, simulate
from forestock.workspace import Workspace
from tests.simulate.test_simulate import as_tables, random_problem

EVENT = "추석 세일"
WINDOW = Window(EVENT, dt.date(2026, 9, 1), dt.date(2026, 9, 21))


def _counterfactual(tiny: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """A seeded stand-in for the no-event forecast on every SKU x region x window day."""
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([tiny["skus"]["sku_id"], tiny["regions"]["region_id"],
                                      pd.date_range(WINDOW.start, WINDOW.end)],
                                     names=["sku_id", "region_id", "date"])
    return idx.to_frame(index=False).assign(mean=rng.uniform(0.1, 5.0, len(idx)))


def test_leaderboard_and_counts_match_pandas(tiny: dict[str, pd.DataFrame]) -> None:
    """Brand GMV, rank, tiers and counts by country equal a pandas groupby of the truth."""
    day = tiny["truth"][tiny["truth"]["date"] == "2026-09-05"].merge(tiny["skus"], on="sku_id")
    want = (day.assign(gmv=day["units"] * day["price"]).groupby("brand_id")
            .agg(units=("units", "sum"), gmv=("gmv", "sum")).reset_index())
    thresholds = (float(want["gmv"].max()), float(want["gmv"].min()))
    board = leaderboard(want, tiny["brands"], tiny["skus"], thresholds)
    want = want.sort_values("gmv", ascending=False).reset_index(drop=True)
    assert board["brand_id"].tolist() == want["brand_id"].tolist()
    np.testing.assert_allclose(board["gmv"], want["gmv"])
    assert board["rank"].tolist() == [1, 2]
    assert board["tier"].tolist() == [f">= {thresholds[0]:,.0f}", f">= {thresholds[1]:,.0f}"]
    counts = brand_counts(board, thresholds)
    top = counts[(counts["threshold"] == thresholds[0]) & (counts["country"] == "all")]
    assert top["brands"].tolist() == [1]
    low = counts[(counts["threshold"] == thresholds[1]) & (counts["category"] == "all")]
    assert dict(zip(low["country"], low["brands"], strict=True)) == {"all": 2, "KR": 1, "CN": 1}


def test_taste_location_quotients_match_pandas(tiny: dict[str, pd.DataFrame]) -> None:
    """Each category's and brand's location quotient by region equals a pandas computation."""
    sales = tiny["history"]
    got = taste(sales, tiny["skus"], "ordinary")
    x = sales.merge(tiny["skus"], on="sku_id")
    for level, col in (("category", "category"), ("brand", "brand_id")):
        u = x.groupby([col, "region_id"])["units"].sum()
        share = u / u.groupby(level=0).transform("sum")
        reg = x.groupby("region_id")["units"].sum() / x["units"].sum()
        lq = share / reg.reindex(u.index.get_level_values(1)).to_numpy()
        mine = got[got["level"] == level].set_index(["item", "region_id"])["lq"]
        np.testing.assert_allclose(mine.sort_index().to_numpy(), lq.sort_index().to_numpy())


def test_event_lift_matches_pandas(tiny: dict[str, pd.DataFrame]) -> None:
    """Units and GMV added over the counterfactual by brand, category, region and price band
    equal a pandas merge and groupby."""
    cf = _counterfactual(tiny)
    got = event_lift(tiny["truth"], cf, tiny["skus"]).set_index(["dimension", "item"])
    t = tiny["truth"].groupby(["sku_id", "region_id", "date"], as_index=False)["units"].sum()
    x = cf.merge(t, on=["sku_id", "region_id", "date"], how="outer").fillna(
        {"units": 0.0, "mean": 0.0}).merge(tiny["skus"], on="sku_id")
    x["added_gmv"] = (x["units"] - x["mean"]) * x["price"]
    for dim, col in (("brand", "brand_id"), ("category", "category"), ("region", "region_id")):
        g = x.groupby(col)[["units", "mean", "added_gmv"]].sum()
        for item, row in g.iterrows():
            mine = got.loc[(dim, item)]
            assert mine["units"] == pytest.approx(row["units"])
            assert mine["counterfactual"] == pytest.approx(row["mean"])
            assert mine["added_gmv"] == pytest.approx(row["added_gmv"])
            assert mine["lift"] == pytest.approx(row["units"] / row["mean"])
    band = got.loc["price_band"]
    # prices 120, 45.5, 300, 19.9: S2 and S4 below 50, S1 50-200, S3 200-1000
    low = x[x["price"] < 50]
    assert band.loc["0-50 CNY", "units"] == pytest.approx(low["units"].sum())
    assert band["units"].sum() == pytest.approx(x["units"].sum())


def test_counterfactual_calendar_blanks_only_the_window(tiny: dict[str, pd.DataFrame]) -> None:
    """The counterfactual calendar loses the window's events and keeps every other row."""
    cal = counterfactual_calendar(tiny["calendar"], WINDOW)
    assert not ((cal["date"].dt.date >= WINDOW.start) & (cal["date"].dt.date <= WINDOW.end)).any()
    assert len(cal) == len(tiny["calendar"]) - 21


def test_counterfactual_calendar_blanks_an_event_around_the_window() -> None:
    """A multi-day event around the window (the 11.11 season around 11.11) goes whole from
    the counterfactual calendar; its other years' occurrences and other events stay."""
    days = pd.date_range
    cal = pd.DataFrame(
        [(d, "11.11 season") for y in (2026, 2027) for d in days(f"{y}-10-31", f"{y}-11-13")]
        + [(pd.Timestamp(f"{y}-11-11"), "11.11") for y in (2026, 2027)]
        + [(pd.Timestamp("2027-12-12"), "12.12")], columns=["date", "event"])
    got = counterfactual_calendar(cal, Window("11.11", dt.date(2027, 11, 11),
                                              dt.date(2027, 11, 11)))
    assert not (got["date"].dt.year.eq(2027) & got["event"].isin(["11.11 season",
                                                                  "11.11"])).any()
    assert (got["date"].dt.year.eq(2026)).sum() == 15
    assert "12.12" in set(got["event"])


def test_elasticity_matches_least_squares() -> None:
    """The statsmodels elasticity is minus the least-squares slope of log lift on log price
    ratio, near the true 2.0 of seeded data."""
    rng = np.random.default_rng(3)
    ratio = rng.uniform(0.5, 1.0, 60)
    lift = 1.5 * ratio ** -2.0 * np.exp(rng.normal(0, 0.05, 60))
    pts = pd.DataFrame({"sku_id": [f"S{i}" for i in range(60)], "price_ratio": ratio,
                        "depth": 1 - ratio, "lift": lift})
    got = elasticity(pts).set_index("term")
    slope = np.polyfit(np.log(ratio), np.log(lift), 1)[0]
    assert got.loc["elasticity", "estimate"] == pytest.approx(-slope)
    assert got.loc["elasticity", "estimate"] == pytest.approx(2.0, abs=0.1)
    assert elasticity(pts.head(2)).empty


def test_event_comparison_matches_pandas(tiny: dict[str, pd.DataFrame]) -> None:
    """Units per day, lift over the 28 days before and share of the year of each occurrence
    equal a pandas computation over daily totals."""
    sales = pd.concat([tiny["history"], tiny["truth"]])
    got = event_comparison(sales, tiny["calendar"], WINDOW).set_index(["event", "start"])
    daily = sales.groupby("date")["units"].sum()
    busy = set(pd.to_datetime(tiny["calendar"]["date"]))
    for a, b in ((dt.date(2025, 9, 1), dt.date(2025, 9, 21)), (WINDOW.start, WINDOW.end)):
        a_, b_ = pd.Timestamp(a), pd.Timestamp(b)
        units = daily[a_:b_].sum()
        before = daily[a_ - pd.Timedelta(days=28):a_ - pd.Timedelta(days=1)]
        ordinary = before[~before.index.isin(busy)].mean()
        row = got.loc[(EVENT, a)]
        assert row["units_per_day"] == pytest.approx(units / 21)
        assert row["lift"] == pytest.approx(units / 21 / ordinary)
    year = daily[pd.Timestamp("2025-09-22"):pd.Timestamp("2026-09-21")].sum()
    assert got.loc[(EVENT, WINDOW.start), "share_of_year"] == pytest.approx(
        daily["2026-09-01":"2026-09-21"].sum() / year)
    assert got.loc[(EVENT, WINDOW.start), "source"] == "rehearsal"
    assert np.isnan(got.loc[(EVENT, dt.date(2025, 9, 1)), "share_of_year"])  # data from 2025-01


@pytest.mark.parametrize("factory", [False, True])
def test_reasons_not_within_24h_match_the_orders(factory: bool) -> None:
    """outcomes_reason equals the reasons recomputed order by order from the full order
    sample: not from the nearest warehouse, else backlog, else transit; the reasons add up
    to the units not delivered within 24 h, and the other tables are unchanged by it."""
    p = random_problem(5, n_sku=10, n_reg=4, n_wh=3)
    params = SimulateParams(sample_share=1.0, factory_hours=30.0 if factory else None)
    r = simulate(p, params, seed=1)
    s = r.sample
    assert s is not None
    near = pd.Series(np.nanargmin(p.transit, axis=0), index=p.regions.ids)
    near_id = pd.Series(p.warehouses.ids[near.to_numpy()], index=near.index)
    hour = (s["time"] // 3600).astype(int)
    wh = s["warehouse_id"]
    off_nearest = wh.isna() | (wh.astype(object) != s["region_id"].map(near_id))
    late = wh.isna() | (s["hours_to_door"] > 24.0)
    wait = s["ship_hour"] - hour
    own_hour = s["hours_to_door"] - wait
    reason = np.where(off_nearest, "stock", np.where(own_hour <= 24.0, "backlog", "transit"))
    want = (pd.DataFrame({"region_id": s["region_id"], "hour": hour, "reason": reason,
                          "units": s["units"]})[late.to_numpy()]
            .pivot_table(index=["region_id", "hour"], columns="reason", values="units",
                         aggfunc="sum", fill_value=0))
    got = r.tables["outcomes_reason"].set_index(["region_id", "hour"])
    for col in ("stock", "backlog", "transit"):
        mine = got[col][got[col] > 0]
        theirs = want[col][want[col] > 0] if col in want else pd.Series(dtype=int)
        assert {k: int(v) for k, v in mine.items()} == {k: int(v) for k, v in theirs.items()}
    reg = r.tables["outcomes_region"]
    assert got[["stock", "backlog", "transit"]].to_numpy().sum() == \
        reg["units"].sum() - reg["delivered_24h"].sum()
    assert (got["warehouse_id"] == got.index.get_level_values(0).map(near_id)).all()
    plain = simulate(p, params.replace(sample_share=0.0), seed=1)
    for name in ("outcomes_region", "outcomes_warehouse", "outcomes_brand", "outcomes_flow"):
        pd.testing.assert_frame_equal(plain.tables[name], r.tables[name])
    stock = r.tables["outcomes_stock"]
    placed = stock.pivot_table(index="sku_id", columns="warehouse_id", values="placed",
                               fill_value=0)
    assert placed.to_numpy().sum() == p.stock.sum()


def test_post_mortem_and_next_year_match_pandas(tiny: dict[str, pd.DataFrame]) -> None:
    """Short, left over, moves, forecast errors and q10-q90 misses equal pandas computations."""
    p = random_problem(7, n_sku=6, n_reg=4, n_wh=3)
    r = simulate(p, seed=0)
    t = as_tables(p)
    truth_day = pd.DataFrame({"sku_id": p.skus.ids[p.cell_sku],
                              "region_id": p.regions.ids[p.cell_region],
                              "units": p.cell_units})
    pm = stock_post_mortem(r.tables["outcomes_stock"], truth_day, t["lanes"])
    near = t["lanes"].loc[t["lanes"].groupby("region_id")["transit_hours"].idxmin()]
    d = truth_day.merge(near, on="region_id").groupby(["sku_id", "warehouse_id"])["units"].sum()
    st = r.tables["outcomes_stock"].set_index(["sku_id", "warehouse_id"])
    both = pd.concat([st, d.rename("demand")], axis=1).fillna(0)
    short = (both["demand"] - both["placed"]).clip(lower=0)
    mine = pm.set_index(["sku_id", "warehouse_id"])
    np.testing.assert_array_equal(mine.loc[both.index, "short"], short.astype(int))
    np.testing.assert_array_equal(mine.loc[both.index, "left"], both["left"].astype(int))
    assert pm["shipped"].sum() == p.stock.sum() - r.stock_left.sum()
    mv = moves(pm, pd.DataFrame({"warehouse_id": p.warehouses.ids,
                                 "region_id": p.regions.ids[:3]})).set_index("warehouse_id")
    by_w = mine.groupby(level=1)[["short", "left"]].sum()
    np.testing.assert_array_equal(mv.loc[by_w.index, "net"], by_w["short"] - by_w["left"])

    # forecast error by category and q10-q90 misses on the tiny network
    fc = _counterfactual(tiny, seed=4)
    err = forecast_error(fc, tiny["truth"], tiny["history"], tiny["skus"])
    x = fc.merge(tiny["truth"], on=["sku_id", "region_id", "date"], how="outer").fillna(0)
    x = x.merge(tiny["skus"], on="sku_id")
    x = x[(x["date"] >= pd.Timestamp(WINDOW.start)) & (x["date"] <= pd.Timestamp(WINDOW.end))]
    for cat, g in x.groupby("category"):
        row = err[(err["dimension"] == "category") & (err["item"] == cat)].iloc[0]
        assert row["wape"] == pytest.approx((g["mean"] - g["units"]).abs().sum()
                                            / g["units"].sum())
        assert row["bias"] == pytest.approx((g["mean"] - g["units"]).sum() / g["units"].sum())
    actual = x.groupby("sku_id")["units"].sum()
    totals = pd.DataFrame({"sku_id": actual.index, "region_id": None,
                           "q10": actual.to_numpy() * [0.5, 1.2, 0.9, 0.5],
                           "q90": actual.to_numpy() * [2.0, 1.5, 1.1, 0.8]})
    ms = misses(totals, tiny["truth"], WINDOW).set_index("sku_id")
    assert ms["side"].to_dict() == {"S2": "below q10", "S4": "above q90"}
    assert ms.loc["S4", "miss"] == pytest.approx(actual["S4"] * 0.2)


def test_cli_insights_on_a_tiny_flow(tmp_path: Path, tiny: dict[str, pd.DataFrame],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """forecast, plan, simulate, insights (with the counterfactual forecast), export and the
    report's section run on the tiny network; a bad threshold exits 2."""
    from tests.conftest import write_csvs

    ws = str(tmp_path / "ws")
    assert main(["load", str(write_csvs(tmp_path / "in", tiny)), "-w", ws]) == 0
    assert main(["forecast", "-w", ws, "--event", EVENT, "--method", "seasonal_naive"]) == 0
    assert main(["plan", "-w", ws]) == 0
    assert main(["simulate", "-w", ws, "--event", EVENT]) == 0
    capsys.readouterr()
    assert main(["insights", "-w", ws, "--json", "--export", str(tmp_path / "x"),
                 "--format", "parquet", "--threshold", "1000"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["window"]["event"] == EVENT
    for name in ("insight_leaderboard", "insight_taste", "insight_lift", "insight_events",
                 "insight_stock", "insight_late", "insight_gap", "insight_misses"):
        assert got["tables"][name] > 0, name
        assert (tmp_path / "x" / f"{name}.parquet").exists()
    w = Workspace(ws)
    lineage = w.lineage()["insight_lift"]
    assert lineage["stage"] == "insights" and "truth" in lineage["inputs"]
    gap = w.read("insight_gap").set_index("component")["share"]
    assert gap["gap"] == pytest.approx(gap["plan_expected_24h"] - gap["rehearsed_24h"])
    assert gap["gap"] == pytest.approx(gap["lost_stock"] + gap["lost_backlog"]
                                       + gap["lost_transit"] - gap["plan_expected_loss"])
    assert main(["report", "-w", ws]) == 0
    html = (Path(ws) / "report.html").read_text(encoding="utf-8")
    assert "After the event" in html and "Why 24 h was missed" in html
    assert main(["insights", "-w", ws, "--threshold", "-5"]) == 2
    with pytest.raises(ValueError, match="thresholds"):
        InsightsParams(thresholds=())


def test_gap_splits_by_reason_when_the_plan_noted_its_losses() -> None:
    """With the plan's expected losses by reason, the gap between its expected share and the
    rehearsed one splits into the three reasons, adding up to the whole gap."""
    late = pd.DataFrame({"warehouse_id": ["W1", "W2"], "region_id": ["R1", "R2"],
                         "stock": [30, 10], "backlog": [5, 0], "transit": [2, 3],
                         "units": [37, 13]})
    g = share_gap(0.95, 1000.0, late, {"stock": 0.02, "backlog": 0.01, "transit": 0.02})
    s = g.set_index("component")["share"]
    assert s["rehearsed_24h"] == pytest.approx(0.95)
    assert s["gap_stock"] == pytest.approx(0.04 - 0.02)
    assert s["gap_backlog"] == pytest.approx(0.005 - 0.01)
    # the plan's expected losses add up to its expected loss: the split is the whole gap
    assert s["gap_stock"] + s["gap_backlog"] + s["gap_transit"] == pytest.approx(s["gap"])
    no_split = share_gap(0.95, 1000.0, late).set_index("component")["share"]
    assert "gap_stock" not in no_split.index


def test_sums_are_the_same_bit_for_bit_run_to_run() -> None:
    """Insights' SQL adds floats in one order (one thread): the same sums every run, on a
    table large enough for DuckDB to split over threads if it could."""
    from forestock.insights._compute import _sql

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"g": rng.integers(0, 5, 2_000_000),
                      "v": rng.lognormal(3.0, 2.0, 2_000_000)})
    runs = [_sql("SELECT g, sum(v) AS s FROM x GROUP BY g ORDER BY g", x=x) for _ in range(4)]
    for r in runs[1:]:
        pd.testing.assert_frame_equal(r, runs[0], check_exact=True)


def test_thresholds_apply_at_the_data_scale(tiny: dict[str, pd.DataFrame]) -> None:
    """With a scale, a brand crosses a threshold when its GMV reaches threshold x scale
    (pandas counts), ``gmv_full`` is its GMV over the scale, and a bad scale is refused."""
    day = tiny["truth"][tiny["truth"]["date"] == "2026-09-05"].merge(tiny["skus"], on="sku_id")
    gmv = (day.assign(gmv=day["units"] * day["price"]).groupby("brand_id")
           .agg(units=("units", "sum"), gmv=("gmv", "sum")).reset_index())
    scale = 0.999 * float(gmv["gmv"].min()) / 1e8  # the smaller brand just above 100 m
    board = leaderboard(gmv, tiny["brands"], tiny["skus"], (1e9, 1e8), "day", scale)
    np.testing.assert_allclose(board["gmv_full"], board["gmv"] / scale)
    want = {t: int((gmv["gmv"] >= t * scale).sum()) for t in (1e9, 1e8)}
    assert want[1e8] == 2
    counts = brand_counts(board, (1e9, 1e8), scale)
    allc = counts[counts["country"] == "all"].set_index("threshold")
    assert allc["brands"].to_dict() == want
    np.testing.assert_allclose(allc["applied"], allc.index.to_numpy() * scale)
    assert board["tier"].notna().sum() == 2
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="scale"):
            leaderboard(gmv, tiny["brands"], tiny["skus"], scale=bad)
        with pytest.raises(ValueError, match="scale"):
            InsightsParams(scale=bad)



def test_cli_scale_world_reads_the_worlds_note(tmp_path: Path, tiny: dict[str, pd.DataFrame],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``--scale world`` takes the scale the world stage noted, the counts say what they
    were applied at; without such a note, or with a scale that is no number, it exits 2."""
    from tests.conftest import write_csvs

    ws = str(tmp_path / "ws")
    assert main(["load", str(write_csvs(tmp_path / "in", tiny)), "-w", ws]) == 0
    assert main(["forecast", "-w", ws, "--event", EVENT, "--method", "seasonal_naive"]) == 0
    assert main(["insights", "-w", ws, "--scale", "world"]) == 2
    assert main(["insights", "-w", ws, "--scale", "half"]) == 2
    Workspace(ws).note("world", {"market_scale": 0.005})
    capsys.readouterr()
    assert main(["insights", "-w", ws, "--scale", "world", "--no-counterfactual",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["figures"]["scale"] == 0.005
    counts = Workspace(ws).read("insight_brand_counts")
    np.testing.assert_allclose(counts["applied"], counts["threshold"] * 0.005)


def test_report_counts_brand_clubs_at_the_insights_scale(tmp_path: Path) -> None:
    """Given insights at a scale, the report's cards, brand section and leaderboard count the
    clubs at threshold x scale and say so; at scale 1 they count as given."""
    from forestock.report import build_report
    from tests.report.conftest import _outcomes, _world

    frames = {**_world(), **_outcomes()}
    ob = frames["outcomes_brand"]  # GMV 1.5 bn, 250 m and 1 m
    for scale, top, club in ((0.1, 2, 2), (1.0, 1, 2)):
        board = leaderboard(ob, frames["brands"], frames["skus"], (1e9, 1e8), "rehearsal",
                            scale)
        tables = {**frames, "insight_leaderboard": board,
                  "insight_brand_counts": brand_counts(board, (1e9, 1e8), scale)}
        html = build_report(tables, tmp_path / f"r{scale}.html").read_text(encoding="utf-8")
        if scale != 1.0:
            assert f"Brands above CNY 1 billion at the data's scale (from CNY 100.0 m): {top}" \
                in html
            assert "This data runs at 1/10 of the market the thresholds are set for" in html
            assert "at the data's scale, 1/10" in html
        else:
            assert f"Brands above CNY 1 billion: {top}" in html
            assert "The thresholds apply as given" in html
        assert f"{club} in all" in html
