"""Forecast accuracy and speed: forestock against its peers, on data it was not built from.

Data sets (each forecast from the history before its window, scored on what sold):

- ``festival``, ``promo``, ``grocery``: the evaluation suite
  (:mod:`forestock.evaluate`), generators written apart from forestock's world
  and model, each with its own structure; their true means give the noise floor.
- ``world``: the embedded world's last 11.11, in three worlds of seeds from
  ``--seed`` (``--worlds``; the world is one data set of the suite, not the one the
  model is tuned on).
- ``stallion``: real monthly beverage sales, three rolling origins of six
  months each (2015-07..12, 2016-01..06, 2016-07..12), averaged.

Peers, in the same process on the same cuts: mlforecast + LightGBM (lags,
rolling means, date and calendar features), statsforecast AutoETS, the
seasonal naive and level x lift (each series' recent level times last
occurrence's lift per day of the event). AutoETS and mlforecast are
single-threaded (statsforecast ``n_jobs=1``); mlforecast's and forestock's
LightGBM use ``ForecastParams.threads`` (2). Each data set's wall and CPU
seconds over all methods are given as ``case_seconds`` and ``case_cpu_seconds``.

Prints, last, one JSON object: per data set, WRMSSE per method and per level,
the noise floor (WRMSSE of the generator's true means) where known, the ratio
of forestock's WRMSSE to the best peer's, the shares of outcomes above q90 and
below q10 (cells of series that ever sold), bias, and fit-plus-predict
seconds per method.

    python benchmarks/forecast.py [--quick] [--cases festival,promo,...] [--methods ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from forestock import Workspace
from forestock.adapters import stallion_tables
from forestock.evaluate import DataSet, KnownMeans, make_dataset
from forestock.forecast import (
    OriginsResult,
    Window,
    backtest_origins,
    holdout_window,
    rolling_windows,
)
from forestock.world import WorldParams, build_world

STALLION = (Path(__file__).resolve().parents[2] / "shared" / "data" / "stallion"
            / "stallion_2013_2016.parquet")
PEERS = ("mlforecast", "auto_ets", "seasonal_naive", "level_lift")
CASES = ("festival", "promo", "grocery", "world", "stallion")
LEVELS = ("total", "region", "category", "sku", "sku_region")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def summarise(result: OriginsResult) -> dict[str, object]:
    """The figures of one data set, averaged over its origins."""
    mean = result.mean()
    methods = [m for m in mean if m != "true_means"]
    wr = {m: round(mean[m]["wrmsse"], 4) for m in methods}
    peers = {m: v for m, v in wr.items() if m != "forestock"}
    out: dict[str, object] = {
        "origins": [f"{w.start}..{w.end}" for w in result.windows],
        "wrmsse": wr,
        "rmsse_by_level": {m: {lv: round(mean[m][f"rmsse_{lv}"], 4) for lv in LEVELS
                               if f"rmsse_{lv}" in mean[m]} for m in methods},
    }
    if "true_means" in mean:
        out["noise_floor_wrmsse"] = round(mean["true_means"]["wrmsse"], 4)
    if "forestock" in wr and peers:
        best = min(peers, key=peers.__getitem__)
        out["best_peer"] = best
        out["ratio_to_best_peer"] = round(wr["forestock"] / peers[best], 4)
    out["above_q90"] = {m: round(mean[m]["above_q90"], 4) for m in methods}
    out["below_q10"] = {m: round(mean[m]["below_q10"], 4) for m in methods}
    out["bias"] = {m: round(mean[m]["bias"], 4) for m in methods}
    out["seconds"] = {m: round(mean[m]["seconds"], 2) for m in methods}
    if "forestock" in wr and "auto_ets" in wr:
        out["speedup_over_auto_ets"] = round(mean["auto_ets"]["seconds"]
                                             / mean["forestock"]["seconds"], 2)
    return out


def dataset_case(ds: DataSet, methods: list[str], seed: int) -> OriginsResult:
    return backtest_origins(ds.history, ds.calendar, [ds.window], ds.lead_days, ds.skus,
                            ds.regions, ds.prices, [*methods, KnownMeans(ds.true_mean)],
                            seed=seed)


def world_case(skus: int, regions: int, methods: list[str], seed: int, worlds: int
               ) -> OriginsResult:
    """The last 11.11 of ``worlds`` embedded worlds (seeds ``seed``, ``seed + 1``, ...), each
    held out and scored on its own; the figures are their means. One world's single day is
    a noisy figure: with seeds 0 and 1 the same code scored 0.77 and 1.93 of the best peer."""
    runs = []
    for s in range(seed, seed + worlds):
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace(tmp)
            build_world(ws, WorldParams(seed=s, skus=skus, regions=regions))
            h = ws.read("history", categorical=True)
            cal = ws.read("calendar")
            w = holdout_window(cal, "11.11", h["date"].max().date(), h["date"].min().date(), 32)
            runs.extend(backtest_origins(h, cal, [w], 32, ws.read("skus"), ws.read("regions"),
                                         methods=methods, seed=s).origins)
    return OriginsResult(tuple(runs))


def stallion_case(methods: list[str], seed: int, origins: int) -> OriginsResult | None:
    if not STALLION.exists():
        print(f"skipping Stallion: {STALLION} is absent")
        return None
    t = stallion_tables(STALLION)
    last = Window("custom", dt.date(2016, 7, 1), dt.date(2016, 12, 1))
    windows = rolling_windows(last, origins, 6, "M")
    return backtest_origins(t["history"], t["calendar"], windows, 1, t["skus"], t["regions"],
                            t["prices"], methods, seed=seed)


def run_case(name: str, methods: list[str], quick: bool, seed: int, worlds: int
             ) -> OriginsResult | None:
    if name == "world":
        skus, regions = (60, 31) if quick else (200, 40)
        return world_case(skus, regions, methods, seed, worlds)
    if name == "stallion":
        return stallion_case(methods, seed, 2 if quick else 3)
    return dataset_case(make_dataset(name, seed=seed, size="small" if quick else "full"),
                        methods, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instances, two origins")
    parser.add_argument("--cases", default=",".join(CASES), help="data sets to run")
    parser.add_argument("--methods", default=",".join(("forestock", *PEERS)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worlds", type=int, default=None,
                        help="embedded worlds (seeds from --seed) the world case averages "
                             "over (default 3, 1 with --quick)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    out: dict[str, object] = {"quick": args.quick, "seed": args.seed, "methods": methods}
    ratios = {}
    for name in args.cases.split(","):
        t0, c0 = time.perf_counter(), _cpu()
        worlds = args.worlds or (1 if args.quick else 3)
        result = run_case(name, methods, args.quick, args.seed, worlds)
        if result is None:
            continue
        figures = summarise(result)
        if name == "world":
            figures["worlds"] = list(range(args.seed, args.seed + worlds))
        figures["case_seconds"] = round(time.perf_counter() - t0, 1)
        figures["case_cpu_seconds"] = round(_cpu() - c0, 1)
        out[name] = figures
        if "ratio_to_best_peer" in figures:
            ratios[name] = figures["ratio_to_best_peer"]
        print(f"{name}:", json.dumps(figures), flush=True)
    if ratios:
        out["ratio_to_best_peer"] = ratios
        out["worst_ratio_to_best_peer"] = float(np.max(list(ratios.values())))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
