"""The block path against the in-memory forecast, on the same world and its 11.11.

The block path (:func:`forestock.forecast.forecast_blocks`) serves histories too
large for memory: it learns from the first block of SKUs and forecasts block by
block. Here both paths run on a world small enough for memory, with the block
size cut so that the block path makes several blocks, and both are scored
against the world's truth: WAPE at the SKU x region, SKU and region levels, the
total against the truth, wall seconds and peak memory per path (each path in its
own process, so the peaks do not mix).

    python benchmarks/blocks.py [--quick] [--skus N --regions N --blocks N]

Prints, last, one JSON object; ``wape_ratio_blocks_to_memory`` below 1 means
the block path was the more accurate.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from forestock import Workspace
from forestock.forecast import Combined, ForecastProblem, forecast_blocks, next_window
from forestock.world import WorldParams, build_world

LEVELS = {"sku_region": ["sku_id", "region_id"], "sku": ["sku_id"], "region": ["region_id"]}


def _wape(truth: pd.DataFrame, fc: pd.DataFrame, by: list[str]) -> float:
    a = truth.groupby(by)["units"].sum()
    f = fc.groupby(by)["mean"].sum()
    idx = a.index.union(f.index)
    a, f = a.reindex(idx, fill_value=0), f.reindex(idx, fill_value=0)
    return float((a - f).abs().sum() / a.sum())


def _run(path: str, root: str, block_series: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ws = Workspace(root)
    cal = ws.read("calendar")
    history = ws.read("history")
    w = next_window(cal, "11.11", history["date"].max().date())
    t0 = time.perf_counter()
    if path == "memory":
        model = Combined().fit(ForecastProblem(history, cal, w, ws.read("skus"),
                                               ws.read("regions")))
        table = model.predict()
        blocks, weight = 1, model.weight_
    else:
        del history
        parts: list[pd.DataFrame] = []
        rep = forecast_blocks(ws.path("history"), cal, w, ws.read("skus"), ws.read("regions"),
                              sink=parts.append, block_series=block_series)
        table = pd.concat(parts, ignore_index=True)
        blocks, weight = rep.blocks, rep.weight
    seconds = time.perf_counter() - t0
    truth = ws.read("truth")
    d = pd.to_datetime(truth["date"])
    truth = truth[(d >= pd.Timestamp(w.start)) & (d <= pd.Timestamp(w.end))]
    out.put({
        "path": path, "blocks": blocks, "weight": weight, "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "total": round(float(table["mean"].sum())), "truth": int(truth["units"].sum()),
        **{f"wape_{k}": round(_wape(truth, table, by), 4) for k, by in LEVELS.items()},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 SKUs x 40 regions")
    parser.add_argument("--skus", type=int, default=600)
    parser.add_argument("--regions", type=int, default=60)
    parser.add_argument("--blocks", type=int, default=5, help="blocks the block path makes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    skus, regions = (200, 40) if args.quick else (args.skus, args.regions)
    block_series = max(1_000, skus * regions // args.blocks + regions)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        build_world(Workspace(tmp), WorldParams(seed=args.seed, skus=skus, regions=regions))
        ctx = mp.get_context("spawn")
        for path in ("memory", "blocks"):
            q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            p = ctx.Process(target=_run, args=(path, str(Path(tmp)), block_series, q))
            p.start()
            results[path] = q.get()
            p.join()
            print(f"{path}:", json.dumps(results[path]), flush=True)
    mem, blk = results["memory"], results["blocks"]
    print(json.dumps({
        "skus": skus, "regions": regions, "seed": args.seed, "memory": mem, "blocks": blk,
        "wape_ratio_blocks_to_memory": {k: round(blk[f"wape_{k}"] / mem[f"wape_{k}"], 3)
                                        for k in LEVELS},
        "total_error": {k: round(r["total"] / r["truth"] - 1, 4) for k, r in results.items()},
    }))


if __name__ == "__main__":
    main()
