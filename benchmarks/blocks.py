"""The block path against the in-memory forecast, on the same world and its 11.11.

The block path (:func:`forestock.forecast.forecast_blocks`) serves histories too
large for memory: it learns from the first block of SKUs and forecasts block by
block. Here both paths run on a world small enough for memory, with the block
size cut so that the block path makes several blocks, and both are scored
against the world's truth: WAPE at the SKU x region, SKU and region levels, the
total against the truth, wall seconds and peak memory per path (each path in its
own process, so the peaks do not mix). Each path's seconds cover the forecast and
its window totals (``forecast_total``), as the forecast stage makes them.

The event total's national band: the q10, q50 and q90 of the window's total over
every SKU and region, by the demand model the plan optimises against
(:class:`forestock.uncertainty.DemandUncertainty` over the window totals' cells):
a SKU's cells share its national factor, and the SKUs' national factors share
the market factor with weight ``w`` (``DemandUncertainty.with_market_sd`` of the
forecast's measured ``market_sd``, :func:`forestock.forecast.market_error`), so
the national total's variance is ``sum_s V_s + w ((sum_s A_s)^2 - sum_s A_s^2)``
(``V_s = A_s^2 + sum (1 - rho) sd^2`` a SKU's variance, ``A_s = sum sqrt(rho) sd``
over its cells, as ``DemandUncertainty.total`` has it) and, over thousands of
SKUs, the total is normal. Not sums of the cells' quantiles (far too wide: the
cells' surprises mostly cancel). ``inside`` says whether the truth lies in [q10,
q90]; ``band_independent`` is the band with the SKUs independent (``w`` = 0, the
model before the market factor); ``skus_above_q90`` and ``skus_below_q10`` are
the shares of SKUs (that sold or were forecast) outside their own band, which the
market factor does not change (it takes a share of each SKU's spread, it adds
none).

``--blocks-only`` runs the block path alone, for a world too large for the
in-memory path (10,000 SKUs x 300 regions); the block size is then the
library's default (100,000 series) unless ``--blocks`` is given.

    python benchmarks/blocks.py [--quick] [--skus N --regions N --blocks N]
                                [--blocks-only] [--world DIR]

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
from statistics import NormalDist

import numpy as np
import pandas as pd

from forestock import Workspace
from forestock.forecast import (
    Combined,
    ForecastProblem,
    MarketError,
    forecast_blocks,
    market_error,
    next_window,
    own_spread,
    total_correlation,
    window_totals,
)
from forestock.tables import IdIndex
from forestock.uncertainty import DemandUncertainty
from forestock.world import WorldParams, build_world

LEVELS = {"sku_region": ["sku_id", "region_id"], "sku": ["sku_id"], "region": ["region_id"]}
BAND = (0.1, 0.5, 0.9)


def _wape(truth: pd.DataFrame, fc: pd.DataFrame, by: list[str]) -> float:
    a = truth.groupby(by)["units"].sum()
    f = fc.groupby(by)["mean"].sum()
    idx = a.index.union(f.index)
    a, f = a.reindex(idx, fill_value=0), f.reindex(idx, fill_value=0)
    return float((a - f).abs().sum() / a.sum())


def _band(totals: pd.DataFrame) -> pd.DataFrame:
    """Mean and variance of each SKU's total over the window totals' cells (``totals``:
    rows of a ``forecast_total`` table; those with a region) under the plan's demand model:
    ``sku_id``, ``mean``, ``var`` and ``a`` (the sum of its cells' shared spreads, what a
    factor common to every SKU moves)."""
    cells = totals[totals["region_id"].notna()]
    skus = IdIndex(np.sort(cells["sku_id"].astype(str).unique()))
    regions = IdIndex(np.sort(cells["region_id"].astype(str).unique()))
    model = DemandUncertainty.from_forecast(cells, skus, regions)
    sd, rho, sku = model.sd(), model.shared(), model.cell_sku
    shared = np.bincount(sku, weights=np.sqrt(rho) * sd, minlength=model.n_skus)
    own = np.bincount(sku, weights=(1.0 - rho) * sd * sd, minlength=model.n_skus)
    return pd.DataFrame({"sku_id": skus.ids, "var": shared * shared + own, "a": shared,
                         "mean": np.bincount(sku, weights=model.mean, minlength=model.n_skus)})


def _event_total(per_sku: pd.DataFrame, truth: pd.DataFrame, market: MarketError
                 ) -> dict[str, object]:
    """The national band (the SKUs' variances added up, and the market factor's
    covariances), whether the truth lies in it, the band with the SKUs independent, and the
    shares of SKUs that sold above their own q90 and below their q10."""
    z = {p: NormalDist().inv_cdf(p) for p in BAND}
    mean = float(per_sku["mean"].sum())
    a, a2 = float(per_sku["a"].sum()), float((per_sku["a"] ** 2).sum())
    w = min((market.sd * mean / a) ** 2, 1.0) if a > 0 else 0.0
    sd_ind = float(per_sku["var"].sum()) ** 0.5
    sd = (sd_ind**2 + w * (a * a - a2)) ** 0.5
    units = int(truth["units"].sum())
    q = {f"q{round(p * 100)}": round(mean + z[p] * sd) for p in BAND}
    ind = {f"q{round(p * 100)}": round(mean + z[p] * sd_ind) for p in BAND}
    sold = truth.groupby("sku_id")["units"].sum()
    k = per_sku.set_index("sku_id").join(sold, how="outer").fillna(0.0)
    k = k[(k["units"] > 0) | (k["mean"] > 0)]
    k_sd = np.sqrt(k["var"])
    return {**q, "sd": round(sd), "truth": units, "inside": q["q10"] <= units <= q["q90"],
            "z": round((units - mean) / sd, 2) if sd > 0 else None,
            "market_sd": round(market.sd, 4), "market_share": round(w, 4),
            "market_ordinary_sd": round(market.ordinary, 4),
            "market_errors": [round(e, 4) for e in market.errors],
            "market_own_sd": round(market.own, 4),
            "band_independent": [ind["q10"], ind["q90"]],
            "inside_independent": ind["q10"] <= units <= ind["q90"],
            "z_independent": round((units - mean) / sd_ind, 2) if sd_ind > 0 else None,
            "skus_above_q90": round(float(np.mean(k["units"] > k["mean"] + z[0.9] * k_sd)), 4),
            "skus_below_q10": round(float(np.mean(k["units"] < k["mean"] + z[0.1] * k_sd)), 4)}


def _run(path: str, root: str, block_series: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ws = Workspace(root)
    cal = ws.read("calendar")
    last = pd.Timestamp(ws.sql("SELECT max(date) AS last FROM history")["last"].iloc[0])
    w = next_window(cal, "11.11", last.date())
    t0 = time.perf_counter()
    if path == "memory":
        history = ws.read("history")
        model = Combined().fit(ForecastProblem(history, cal, w, ws.read("skus"),
                                               ws.read("regions")))
        table = model.predict()
        days = max(int(pd.to_datetime(table["date"]).nunique()), 1)
        corr = total_correlation(history, cal, days)
        totals = window_totals(table, corr)
        market = market_error(corr, model.held_, model.total_weight_, own_spread(totals))
        extra = {"blocks": 1, "weight": model.weight_, "without": []}
        seconds = time.perf_counter() - t0
        del history
        per_sku = _band(totals)
        del totals
    else:  # the history stays on disk: the block path reads it block by block
        parts: list[pd.DataFrame] = []
        bands: list[pd.DataFrame] = []  # per block (SKUs never span blocks): a small table

        def keep(table: pd.DataFrame) -> None:
            parts.append(table[["sku_id", "region_id", "mean"]])

        rep = forecast_blocks(ws.path("history"), cal, w, ws.read("skus"), ws.read("regions"),
                              sink=keep, totals=lambda t: bands.append(_band(t)),
                              block_series=block_series)
        seconds = time.perf_counter() - t0
        table = pd.concat(parts, ignore_index=True)
        per_sku = pd.concat(bands, ignore_index=True)
        extra = {"blocks": rep.blocks, "weight": rep.weight, "without": list(rep.without),
                 "series": rep.series, "train_rows": rep.train_rows}
        market = rep.market or MarketError(0.0)
    # the per-SKU band beside the world (a band of another market_sd is then a sum away)
    per_sku.to_parquet(Path(root) / f"band_{path}.parquet")
    truth = ws.sql(f"SELECT sku_id, region_id, units FROM truth "
                   f"WHERE date BETWEEN DATE '{w.start}' AND DATE '{w.end}'")
    out.put({
        "path": path, **extra, "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "total": round(float(table["mean"].sum())), "truth": int(truth["units"].sum()),
        **{f"wape_{k}": round(_wape(truth, table, by), 4) for k, by in LEVELS.items()},
        "event_total": _event_total(per_sku, truth, market),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 SKUs x 40 regions")
    parser.add_argument("--skus", type=int, default=600)
    parser.add_argument("--regions", type=int, default=60)
    parser.add_argument("--blocks", type=int, default=None,
                        help="blocks the block path makes (default 5; with --blocks-only the "
                             "library's block size)")
    parser.add_argument("--blocks-only", action="store_true",
                        help="the block path alone (a world too large for memory)")
    parser.add_argument("--world", type=Path, default=None,
                        help="build the world in DIR, or use the one already there")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    skus, regions = (200, 40) if args.quick else (args.skus, args.regions)
    if args.blocks is None and args.blocks_only:
        block_series = 100_000  # forecast_blocks' default
    else:
        block_series = max(1_000, skus * regions // (args.blocks or 5) + regions)
    paths = ("blocks",) if args.blocks_only else ("memory", "blocks")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.world or Path(tmp)
        t0 = time.perf_counter()
        if not (root / "truth.parquet").exists():
            build_world(Workspace(root), WorldParams(seed=args.seed, skus=skus, regions=regions))
        world_seconds = round(time.perf_counter() - t0, 1)
        ctx = mp.get_context("spawn")
        for path in paths:
            q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            p = ctx.Process(target=_run, args=(path, str(root), block_series, q))
            p.start()
            results[path] = q.get()
            p.join()
            print(f"{path}:", json.dumps(results[path]), flush=True)
    summary: dict[str, object] = {"skus": skus, "regions": regions, "seed": args.seed,
                                  "world_seconds": world_seconds, **results}
    if "memory" in results:
        mem, blk = results["memory"], results["blocks"]
        summary["wape_ratio_blocks_to_memory"] = {
            k: round(blk[f"wape_{k}"] / mem[f"wape_{k}"], 3) for k in LEVELS}
    summary["total_error"] = {k: round(r["total"] / r["truth"] - 1, 4)
                              for k, r in results.items()}
    summary["inside_band"] = {k: r["event_total"]["inside"] for k, r in results.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
