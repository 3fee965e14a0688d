"""Benchmark: the stages on one machine and on a Dask cluster of two local processes.

    python benchmarks/distributed.py [--quick] [--scale S] [--scenarios K]

On the embedded China world (500 SKUs x 80 regions; 120 x 31 with ``--quick``),
forecast and planned by the flow once (in a temporary workspace, not timed here):

1. **rehearsal**: its 11.11 truth scaled by ``--scale`` (default 50, about 170
   million orders; 8 with ``--quick``) rehearsed on one machine (one worker) and
   with ``--cluster local:2`` (SKU shards as actors on two worker processes):
   identical tables (true/false), seconds of the rehearsal (the cluster's start
   apart; the first run, kernels loaded in each fresh process, and again; and the
   CPU seconds of the coordinator and of each worker), peak memory of each process
   (the coordinator and each worker), and the bytes moved between the coordinator
   and the workers (the shards' data, each chunk's counts up and queue places down);
2. **scenarios**: ``--scenarios K`` demand scenarios of the forecast (default 100; 8
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
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

# this file's name is Dask's package's: its folder, which Python puts first on the path for
# a script, must not shadow ``import distributed`` (here and in the spawned runs)
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from forestock import flow  # noqa: E402
from forestock.forecast import ForecastParams  # noqa: E402
from forestock.plan import PlanParams  # noqa: E402
from forestock.workspace import Workspace  # noqa: E402
from forestock.world import WorldParams  # noqa: E402

CLUSTER = "local:2"
SEED = 0


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
    args = ap.parse_args()
    quick = args.quick
    out: dict[str, Any] = {"quick": quick, "cluster": CLUSTER, "cpus": os.cpu_count(),
                           "load_average_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="forestock-bench-dist-") as tmp:
        folder = Path(tmp) / "ws"
        out["world"] = setup(folder, quick)
        print(f"world: {out['world']}", flush=True)
        out["rehearsal"] = rehearsal_stage(folder, args.scale or (8.0 if quick else 50.0))
        out["scenarios"] = scenarios_stage(folder, args.scenarios or (8 if quick else 100))
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
