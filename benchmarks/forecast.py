"""Forecast accuracy and speed: forestock against every baseline, on two data sets.

1. The embedded world's 11.11: fit on the history up to 32 days before the
   2026 event, forecast its day, score against what sold.
2. Stallion (real, monthly): fit to 2015-12, forecast the twelve months of 2016.

Prints, last, one JSON object: per data set, WRMSSE per method, the ratio of
forestock's WRMSSE to the best baseline's, the coverage of q10..q90, and
fit-plus-predict seconds per method (and forestock's speed-up over AutoETS).
forestock's figures are means over ``--seeds`` seeds (its row sampling and
bagging are seeded; the baselines are deterministic), with each seed's WRMSSE.

    python benchmarks/forecast.py [--quick] [--seeds N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np

from forestock import Workspace
from forestock.adapters import stallion_tables
from forestock.forecast import METHODS, BacktestResult, Window, backtest, holdout_window
from forestock.world import WorldParams, build_world

STALLION = (Path(__file__).resolve().parents[2] / "shared" / "data" / "stallion"
            / "stallion_2013_2016.parquet")


def summarise(result: BacktestResult, extra: list[BacktestResult]) -> dict[str, object]:
    """The figures of one data set; ``extra`` holds forestock's runs with other seeds."""
    runs = [result, *extra]
    ours = [float(r.scores["forestock"]["wrmsse"]) for r in runs]  # type: ignore[arg-type]
    wr = {m: round(float(s["wrmsse"]), 4) for m, s in result.scores.items()}  # type: ignore[arg-type]
    wr["forestock"] = round(float(np.mean(ours)), 4)
    baselines = {m: v for m, v in wr.items() if m != "forestock"}
    best = min(baselines, key=baselines.__getitem__)
    seconds = {m: round(v, 2) for m, v in result.seconds.items()}
    seconds["forestock"] = round(float(np.mean([r.seconds["forestock"] for r in runs])), 2)
    coverage = np.mean([float(r.scores["forestock"]["coverage"]) for r in runs])  # type: ignore[arg-type]
    return {
        "window": [str(result.window.start), str(result.window.end)],
        "wrmsse": wr,
        "forestock_wrmsse_by_seed": [round(v, 4) for v in ours],
        "best_baseline": best,
        "ratio_to_best_baseline": round(wr["forestock"] / baselines[best], 4),
        "improvement_over_best_baseline": round(1 - wr["forestock"] / baselines[best], 4),
        "worst_seed_improvement": round(1 - max(ours) / baselines[best], 4),
        "coverage_q10_q90": round(float(coverage), 4),
        "wape_sku_region": {m: round(float(s["wape_sku_region"]), 4)  # type: ignore[arg-type]
                            for m, s in result.scores.items()},
        "bias": {m: round(float(s["bias"]), 4) for m, s in result.scores.items()},  # type: ignore[arg-type]
        "seconds": seconds,
        "speedup_over_auto_ets": round(result.seconds["auto_ets"] / seconds["forestock"], 2),
    }


def world_case(skus: int, regions: int, seeds: int) -> list[BacktestResult]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        build_world(ws, WorldParams(seed=0, skus=skus, regions=regions))
        h = ws.read("history", categorical=True)
        cal = ws.read("calendar")
        w = holdout_window(cal, "11.11", h["date"].max().date(), h["date"].min().date(), 32)
        return [backtest(h, cal, w, 32, ws.read("skus"), ws.read("regions"),
                         methods=METHODS if s == 0 else ["forestock"], seed=s)
                for s in range(seeds)]


def stallion_case(seeds: int) -> list[BacktestResult] | None:
    if not STALLION.exists():
        print(f"skipping Stallion: {STALLION} is absent")
        return None
    t = stallion_tables(STALLION)
    w = Window("custom", dt.date(2016, 1, 1), dt.date(2016, 12, 1))
    return [backtest(t["history"], t["calendar"], w, 1, t["skus"], t["regions"], t["prices"],
                     methods=METHODS if s == 0 else ["forestock"], seed=s)
            for s in range(seeds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small world")
    parser.add_argument("--seeds", type=int, default=None,
                        help="forestock seeds to average (default: 1 quick, 3 full)")
    args = parser.parse_args()
    skus, regions = (60, 31) if args.quick else (200, 40)
    seeds = args.seeds or (1 if args.quick else 3)
    out: dict[str, object] = {"quick": args.quick, "seeds": seeds,
                              "world": {"skus": skus, "regions": regions}}
    world = world_case(skus, regions, seeds)
    out["world_11.11"] = summarise(world[0], world[1:])
    print("world:", json.dumps(out["world_11.11"]))
    st = stallion_case(seeds)
    if st is not None:
        out["stallion_2016"] = summarise(st[0], st[1:])
        print("stallion:", json.dumps(out["stallion_2016"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
