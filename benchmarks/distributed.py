"""Benchmark: the stages on one machine and on a Dask cluster of two local processes.

    python benchmarks/distributed.py [--quick] [--scale S] [--scenarios K] [--stages LIST]

Four sections, each stage on one machine and on ``local:2`` with the same inputs:
identical outputs (true/false), seconds, CPU seconds and peak memory of every
process, and the bytes moved.

1. **forecast**: the block path (:func:`forestock.forecast.forecast_blocks`) on the
   embedded world (600 SKUs x 60 regions; 200 x 40 with ``--quick``) cut into four
   blocks of SKUs; on the cluster one worker learns from the first block and the
   others take the model from it. Bytes: as written on the wire between workers, and
   from the workers to the client.
2. **plan**: the fast method on a China-sized synthetic network (``benchmarks/plan.py``'s
   ``synthetic``: 40,000 SKUs x 40 warehouses x 300 regions; 4,000 SKUs with
   ``--quick``); on the cluster the dual ascent's rounds place the SKUs on the workers.
   Its ``round_trip`` times a round of two SKUs, one per worker, where the round is all
   overhead: a cluster pays off where a round's work is well above it.

The rehearsal's sections run on the embedded China world (500 SKUs x 80 regions; 120 x
31 with ``--quick``), forecast and planned by the flow once (in a temporary workspace, not
timed here):

3. **rehearsal**: its 11.11 truth scaled by ``--scale`` (default 50, about 170
   million orders; 8 with ``--quick``) rehearsed on one machine (one worker) and
   with ``--cluster local:2`` (SKU shards as actors on two worker processes):
   identical tables (true/false), seconds of the rehearsal (the cluster's start
   apart; the first run, kernels loaded in each fresh process, and again; and the
   CPU seconds of the coordinator and of each worker), peak memory of each process
   (the coordinator and each worker), and the bytes moved between the coordinator
   and the workers (the shards' data, each chunk's counts up and queue places down);
4. **scenarios**: ``--scenarios K`` demand scenarios of the forecast (default 100; 8
   with ``--quick``) rehearsed one after the other on one machine and as tasks on
   the cluster: identical tables, seconds and CPU seconds (first and again), peak
   memory per process, bytes moved.

Each run is a fresh process (spawned), so a process's peak memory is its own; the
cluster's workers are fresh for each run too. The last line printed is one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# this file's name is Dask's package's: its folder, which Python puts first on the path for
# a script, must not shadow ``import distributed`` (here and in the spawned runs)
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from forestock import flow  # noqa: E402
from forestock.callbacks import Callbacks  # noqa: E402
from forestock.forecast import ForecastParams, forecast_blocks  # noqa: E402
from forestock.plan import PlanParams, solve_plan  # noqa: E402
from forestock.workspace import Workspace  # noqa: E402
from forestock.world import WorldParams, build_world  # noqa: E402

CLUSTER = "local:2"
SEED = 0


def _benchmark(name: str) -> Any:
    """Another benchmark's module (``benchmarks/<name>.py``), by its file."""
    spec = importlib.util.spec_from_file_location(f"_benchmark_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: benchmarks/plan.py's China-sized synthetic network
synthetic = _benchmark("plan").synthetic


def _peak_mb() -> float:
    """This process's peak resident memory, MB: its ``VmHWM`` (the high-water mark of its
    own memory; ``ru_maxrss`` would carry over the parent's from before the spawn)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # (not Linux)


def _digest(tables: dict[str, pd.DataFrame]) -> str:
    """A hash of every table (values and index), to compare runs across processes."""
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(tables[name], index=True).to_numpy().tobytes())
    return h.hexdigest()


def _cpu_seconds() -> float:
    """CPU seconds this process has used (all its threads)."""
    return time.process_time()


def _timed(client: Any, run: Any) -> tuple[Any, float, float, list[float]]:
    """``run()``: its result, wall seconds, and the CPU seconds it took in this process and
    in each of the cluster's workers."""
    w0 = client.run(_cpu_seconds) if client is not None else {}
    c0, t0 = time.process_time(), time.perf_counter()
    result = run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    w1 = client.run(_cpu_seconds) if client is not None else {}
    return result, round(wall, 2), round(cpu, 2), [round(w1[w] - w0[w], 2) for w in sorted(w0)]


def _workers_peak_mb(client: Any) -> list[float]:
    """Each worker process's peak resident memory, MB, by worker address."""
    peaks = client.run(_peak_mb)
    return [peaks[w] for w in sorted(peaks)]


MODES = ("one", CLUSTER)
#: The benchmark's sections, in the order they run.
STAGES = ("forecast", "plan", "rehearsal", "scenarios")


def _worker_figures(dask_worker: Any) -> dict[str, Any]:
    """A worker's peak memory, and the bytes it sent (as written on the wire) to each
    requester: another worker, or the scheduler or client."""
    sent: dict[str, int] = {}
    for e in dask_worker.transfer_outgoing_log:
        who = str(e["who"])
        sent[who] = sent.get(who, 0) + int(e["compressed"])
    return {"peak_mb": _peak_mb(), "sent_bytes": sent}


def _on(cluster: str | None, work: Any) -> dict[str, Any]:
    """``work(client)`` here (no cluster, no client) or on a fresh LocalCluster: its
    figures, wall and CPU seconds (this process's and each worker's, the cluster's start
    apart), peak memory per process and the bytes the workers sent."""
    from forestock.cluster import connect

    t0 = time.perf_counter()
    with connect(cluster) as client:
        if client is not None:
            client.run(lambda: None)  # every worker up (and its imports done)
        started = time.perf_counter() - t0
        out, wall, cpu, cpu_workers = _timed(client, lambda: work(client))
        workers = client.run(_worker_figures) if client is not None else {}
    sent = [(who, n) for w in workers.values() for who, n in w["sent_bytes"].items()]
    return {**out, "seconds": wall, "cpu_seconds": cpu, "cpu_seconds_workers": cpu_workers,
            "cluster_start_seconds": round(started, 1), "peak_mb_coordinator": _peak_mb(),
            "peak_mb_workers": [workers[w]["peak_mb"] for w in sorted(workers)],
            "bytes_between_workers": sum(n for who, n in sent if who in workers),
            "bytes_workers_to_client": sum(n for who, n in sent if who not in workers)}


# ------------------------------------------------------------------------- forecast
def _forecast_run(mode: str, root: str, block_series: int, out: str) -> dict[str, Any]:
    ws = Workspace(root)
    cal, w = ws.read("calendar"), flow.forecast_window(ws)
    skus, regions = ws.read("skus"), ws.read("regions")

    def work(client: Any) -> dict[str, Any]:
        parts: list[pd.DataFrame] = []
        totals: list[pd.DataFrame] = []
        rep = forecast_blocks(ws.path("history"), cal, w, skus, regions, ForecastParams(),
                              sink=parts.append, totals=totals.append,
                              block_series=block_series, client=client)
        pd.concat(parts, ignore_index=True).to_parquet(f"{out}-forecast.parquet")
        pd.concat(totals, ignore_index=True).to_parquet(f"{out}-totals.parquet")
        return {"blocks": rep.blocks, "series": rep.series, "rows": rep.rows}

    return _on(None if mode == "one" else mode, work)


def forecast_stage(skus: int, regions: int, blocks: int, seed: int, tmp: Path
                   ) -> dict[str, Any]:
    """Section 1: the block forecast of the embedded world, in one process and on the
    cluster."""
    root = tmp / "world"
    build_world(Workspace(root), WorldParams(seed=seed, skus=skus, regions=regions))
    block_series = max(1_000, skus * regions // blocks + regions)
    runs = {m: _fresh(_forecast_run, m, str(root), block_series, str(tmp / m.replace(":", "")))
            for m in MODES}
    same = all(pd.read_parquet(tmp / f"one-{t}.parquet").equals(
        pd.read_parquet(tmp / f"{CLUSTER.replace(':', '')}-{t}.parquet"))
        for t in ("forecast", "totals"))
    return {"skus": skus, "regions": regions, "identical": same, **runs}


# ----------------------------------------------------------------------------- plan
class _Rounds(Callbacks):
    """The wall time of each of the fast method's steps (its rounds, then the repair)."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_start(self, task: str, total: float) -> None:
        self.marks = [time.perf_counter()]

    def on_step(self, task: str, advance: float) -> None:
        self.marks.append(time.perf_counter())

    def seconds(self) -> list[float]:
        return list(np.diff(self.marks))


def _plan_run(mode: str, skus: int, params: PlanParams, out: str) -> dict[str, Any]:
    problem = synthetic(skus, 40, 300, seed=1)

    def work(client: Any) -> dict[str, Any]:
        steps = _Rounds()
        r = solve_plan(problem, params, seed=0, callbacks=steps, client=client)
        np.save(f"{out}-stock.npy", r.stock)
        rounds = steps.seconds()[:-1]  # (the last step: the placement within room, here)
        return {"cells": int(problem.indptr[-1]), "rounds": len(rounds),
                "round_seconds": round(statistics.median(rounds), 3),
                "repair_seconds": round(steps.seconds()[-1], 2), "objective": r.objective,
                "expected_share_24h": r.expected_share_24h}

    return _on(None if mode == "one" else mode, work)


def _round_trip() -> dict[str, Any]:
    """Median seconds of a round of two SKUs in two chunks (one per worker: next to no
    work), here and on the cluster; the difference is what a round costs on the cluster."""
    params = PlanParams(steps=16, iterations=12, chunk_skus=1)
    problem = synthetic(2, 40, 300, seed=2)
    out: dict[str, Any] = {}
    for mode in MODES:

        def work(client: Any) -> dict[str, Any]:
            steps = _Rounds()
            solve_plan(problem, params, seed=0, callbacks=steps, client=client)
            return {"round_seconds": round(statistics.median(steps.seconds()[:-1]), 4)}

        out[mode] = _on(None if mode == "one" else mode, work)["round_seconds"]
    out["overhead_seconds"] = round(out[CLUSTER] - out["one"], 4)
    return out


def plan_stage(skus: int, tmp: Path) -> dict[str, Any]:
    """Section 2: the fast plan of the synthetic network, in one process and on the
    cluster."""
    # whole SKU chunks go to a worker: at least four of them
    params = PlanParams(steps=16, iterations=8, chunk_skus=min(4096, skus // 4))
    runs = {m: _fresh(_plan_run, m, skus, params, str(tmp / m.replace(":", "")))
            for m in MODES}
    a, b = (np.load(tmp / f"{m.replace(':', '')}-stock.npy") for m in MODES)
    same = bool(np.array_equal(a, b)) and runs["one"]["objective"] == runs[CLUSTER]["objective"]
    return {"skus": skus, "warehouses": 40, "regions": 300, "steps": params.steps,
            "chunk_skus": params.chunk_skus, "identical": same, **runs,
            "round_trip": _fresh(_round_trip)}


# ------------------------------------------------------------------ rehearsal, scenarios
def setup(folder: Path, quick: bool) -> dict[str, Any]:
    """The world, forecast and plan the stages read, in the workspace ``folder``."""
    t0 = time.perf_counter()
    ws = Workspace(folder)
    world = WorldParams(seed=SEED, skus=120, regions=31) if quick else WorldParams(seed=SEED)
    flow.run_world(ws, world)
    flow.run_forecast(ws, ForecastParams(rounds=40) if quick else None, seed=SEED)
    # (a small world's network holds less than its q90s: the best partial plan)
    flow.run_plan(ws, PlanParams(allow_shortfall=quick), seed=SEED)
    return {"skus": world.skus, "regions": world.regions,
            "setup_seconds": round(time.perf_counter() - t0, 1)}


def _rehearse(folder: str, scale: float, cluster: str | None) -> dict[str, Any]:
    """In a fresh process: the 11.11 truth at ``scale`` rehearsed, here or on ``cluster``."""
    from forestock.cluster import connect
    from forestock.simulate import SimulateParams, SimulateProblem, simulate

    ws = Workspace(folder)
    day, demand = flow.rehearsal_demand(ws, seed=SEED)
    problem = SimulateProblem.from_tables(day, demand, ws.read("plan"), ws.read("warehouses"),
                                          ws.read("lanes"), ws.read("skus"), ws.read("regions"))
    t0 = time.perf_counter()
    with connect(cluster) as client:
        started = time.perf_counter() - t0
        runs = [_timed(client, lambda: simulate(problem, SimulateParams(scale=scale), SEED,
                                                cluster=client))
                for _ in range(2)]  # cold (kernels loaded in each process), then again
        workers = _workers_peak_mb(client) if client is not None else []
    result = runs[-1][0]
    return {"digest": _digest(result.tables), "orders": result.orders,
            **_times(runs), "cluster_start_seconds": round(started, 1),
            "shards": int(result.figures["workers"]),
            "bytes_moved": int(result.figures["bytes_moved"]),
            "peak_mb_coordinator": _peak_mb(), "peak_mb_workers": workers}


def _scenarios(folder: str, k: int, cluster: str | None) -> dict[str, Any]:
    """In a fresh process: ``k`` scenarios of the forecast rehearsed, here or on
    ``cluster`` (the library's run, without writing to the workspace)."""
    from forestock.cluster import connect
    from forestock.simulate import ScenarioProblem, rehearse_scenarios

    ws = Workspace(folder)
    day, _ = flow.rehearsal_demand(ws)  # (the event's day; the truth is read quickly)
    problem = ScenarioProblem.from_tables(
        day, *(ws.read(n) for n in ("forecast", "plan", "warehouses", "lanes", "skus",
                                    "regions")), k, SEED)
    t0 = time.perf_counter()
    with connect(cluster) as client:
        started = time.perf_counter() - t0
        runs = [_timed(client, lambda: rehearse_scenarios(problem, seed=SEED, cluster=client))
                for _ in range(2)]  # cold (kernels loaded in each process), then again
        workers = _workers_peak_mb(client) if client is not None else []
    result = runs[-1][0]
    p10, p50, p90 = result.quantiles("share_24h")
    return {"digest": _digest(result.tables), "orders": int(result.figures["orders"]),
            **_times(runs), "cluster_start_seconds": round(started, 1),
            "bytes_moved": int(result.figures["bytes_moved"]),
            "share_24h_p10_p50_p90": [round(p10, 4), round(p50, 4), round(p90, 4)],
            "peak_mb_coordinator": _peak_mb(), "peak_mb_workers": workers}


def _times(runs: list[tuple[Any, float, float, list[float]]]) -> dict[str, Any]:
    """The first run's and the second's wall seconds and CPU seconds (this process's, and
    each worker's)."""
    (_, wall, cpu, workers), (_, wall2, cpu2, workers2) = runs
    return {"seconds": wall, "seconds_again": wall2, "cpu_seconds": cpu,
            "cpu_seconds_again": cpu2, "cpu_seconds_workers": workers,
            "cpu_seconds_workers_again": workers2}


def _fresh(fn: Any, *args: Any) -> dict[str, Any]:
    """``fn(*args)`` in a fresh spawned process."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as ex:
        result: dict[str, Any] = ex.submit(fn, *args).result()
    return result


def _compare(name: str, one: dict[str, Any], many: dict[str, Any]) -> dict[str, Any]:
    """The two runs side by side: identical, and their figures."""
    same = one.pop("digest") == many.pop("digest")
    print(f"{name}: one machine {one['seconds']:.1f} s (again {one['seconds_again']:.1f}), "
          f"{CLUSTER} {many['seconds']:.1f} s (again {many['seconds_again']:.1f}; "
          f"+{many['cluster_start_seconds']:.0f} s to start it), "
          f"{many['bytes_moved'] / 1e6:,.1f} MB moved; peak MB one machine "
          f"{one['peak_mb_coordinator']:,.0f}, cluster "
          f"coordinator {many['peak_mb_coordinator']:,.0f} and workers "
          f"{many['peak_mb_workers']}; identical: {same}", flush=True)
    return {"identical": same, "one_machine": one, "cluster": many,
            "speedup": round(one["seconds"] / max(many["seconds"], 1e-9), 2),
            "speedup_again": round(one["seconds_again"] / max(many["seconds_again"], 1e-9), 2)}


def rehearsal_stage(folder: Path, scale: float) -> dict[str, Any]:
    """Section 1: one rehearsal on one machine and on the cluster."""
    one = _fresh(_rehearse, str(folder), scale, None)
    many = _fresh(_rehearse, str(folder), scale, CLUSTER)
    return {"scale": scale, "orders": one["orders"],
            **_compare("rehearsal", one, many)}


def scenarios_stage(folder: Path, k: int) -> dict[str, Any]:
    """Section 2: K scenarios one after the other, and as tasks on the cluster."""
    one = _fresh(_scenarios, str(folder), k, None)
    many = _fresh(_scenarios, str(folder), k, CLUSTER)
    return {"scenarios": k, **_compare("scenarios", one, many)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small world and sizes")
    ap.add_argument("--scale", type=float, default=None,
                    help="the rehearsal's scale (default 50; quick 8)")
    ap.add_argument("--scenarios", type=int, default=None,
                    help="demand scenarios rehearsed (default 100; quick 8)")
    ap.add_argument("--stages", default=",".join(STAGES),
                    help=f"comma-separated sections to run (default all: {','.join(STAGES)})")
    args = ap.parse_args()
    quick = args.quick
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if not stages or set(stages) - set(STAGES):
        ap.error(f"--stages: choose from {', '.join(STAGES)}")
    out: dict[str, Any] = {"quick": quick, "cluster": CLUSTER, "cpus": os.cpu_count(),
                           "load_average_at_start": round(os.getloadavg()[0], 2)}
    f_skus, f_regions, p_skus = (200, 40, 4_000) if quick else (600, 60, 40_000)
    with tempfile.TemporaryDirectory(prefix="forestock-bench-dist-") as tmp:
        if "forecast" in stages:
            out["forecast"] = forecast_stage(f_skus, f_regions, 4, SEED, Path(tmp))
            print("forecast:", json.dumps(out["forecast"]), flush=True)
        if "plan" in stages:
            out["plan"] = plan_stage(p_skus, Path(tmp))
            print("plan:", json.dumps(out["plan"]), flush=True)
        if {"rehearsal", "scenarios"} & set(stages):
            folder = Path(tmp) / "ws"
            out["world"] = setup(folder, quick)
            print(f"world: {out['world']}", flush=True)
        if "rehearsal" in stages:
            out["rehearsal"] = rehearsal_stage(folder, args.scale or (8.0 if quick else 50.0))
        if "scenarios" in stages:
            out["scenarios"] = scenarios_stage(folder, args.scenarios or (8 if quick else 100))
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
