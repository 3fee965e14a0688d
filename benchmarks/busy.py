"""Benchmark: forecast, plan and rehearsal on a quiet machine and beside a CPU-bound load.

    python benchmarks/busy.py [--quick] [--load N] [--seed S]

Planners run forestock on shared servers and laptops that are doing other
things. This builds a small world (300 SKUs x 40 regions; 120 x 31 with
``--quick``), runs each stage once to compile its kernels and warm its caches
(not timed), then times each stage twice in this process: on the machine as it
is ("quiet") and beside a background load it starts and stops itself: ``N``
processes spinning on the CPU for the duration (default: one per CPU this
process may use). Each run reports wall seconds, CPU seconds of this process
(all its threads) and wall / CPU; each stage reports busy wall / quiet wall,
the figure the target bounds (at most 2.5). A stage whose quiet run takes
under 10 s runs ``--repeat`` (3) quiet/busy pairs and reports the median of
each, since a short run is at the mercy of whatever else wakes up. The
forecasts, plans and rehearsals of the two runs must be identical; a hash of
each stage's tables (``sha256``) compares them across commits.

The 1-minute load average is printed before each run: a machine that is not
quiet when the "quiet" run starts makes the ratio look better than it is.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from forestock.forecast import forecast, target_window
from forestock.plan import PlanParams, PlanProblem, solve_plan
from forestock.simulate import SimulateParams, SimulateProblem, simulate
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world

TARGET = 2.5
#: Stages whose quiet run takes less than this many seconds repeat (``--repeat``).
SHORT_S = 10.0
SPIN = "while True:\n    pass\n"


def cpus() -> int:
    """CPUs this process may use (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not Linux)
        return os.cpu_count() or 1


@contextmanager
def background_load(n: int) -> Iterator[None]:
    """``n`` processes spinning on the CPU while the block runs; stopped after it."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
    try:
        time.sleep(0.5)  # they are running before the stage starts
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def timed(run: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """``run()``'s result, its wall and CPU seconds (every thread of this process) and
    the 1-minute load average when it started."""
    load = os.getloadavg()[0]
    w0, c0 = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return result, {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                    "wall_per_cpu": round(wall / max(cpu, 1e-9), 3), "load_1min": load}


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median wall time (the upper one of an even count)."""
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def digest(result: Any) -> str:
    """A hash of a stage's tables, to compare runs (and commits) bit for bit."""
    frames = result if isinstance(result, tuple) else (result,)
    h = hashlib.sha256()
    for frame in frames:
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def same(a: Any, b: Any) -> bool:
    """Whether two stage results are identical (tables bit for bit)."""
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def stages(folder: Path, skus: int, regions: int, scale: float, seed: int
           ) -> list[tuple[str, Callable[[], Any]]]:
    """The three stages of a small world, each a closure over the previous one's result."""
    ws = Workspace(folder)
    build_world(ws, WorldParams(seed=seed, skus=skus, regions=regions))
    t = {name: ws.read(name) for name in ("history", "calendar", "skus", "regions",
                                            "warehouses", "lanes", "brands", "truth")}
    last = pd.to_datetime(t["history"]["date"]).max().date()
    window = target_window(t["calendar"], last, "11.11")
    day = dt.date(window.start.year, 11, 11)
    truth = t["truth"][pd.to_datetime(t["truth"]["date"]).dt.date == day]
    state: dict[str, Any] = {}

    def run_forecast() -> pd.DataFrame:
        state["forecast"] = forecast(t["history"], t["calendar"], window, t["skus"],
                                     t["regions"], seed=seed)
        return state["forecast"]

    def run_plan() -> pd.DataFrame:
        problem = PlanProblem.from_tables(state["forecast"], t["warehouses"], t["lanes"],
                                          t["skus"], t["regions"], brands=t["brands"])
        # (a small world's q90 may not fit its warehouses: the best partial plan then)
        state["plan"] = solve_plan(problem, PlanParams(allow_shortfall=True), seed).plan
        return state["plan"]

    def run_rehearsal() -> tuple[pd.DataFrame, ...]:
        problem = SimulateProblem.from_tables(day, truth, state["plan"], t["warehouses"],
                                              t["lanes"], t["skus"], t["regions"])
        result = simulate(problem, SimulateParams(scale=scale), seed)
        state["orders"] = result.orders
        return tuple(result.tables[k] for k in sorted(result.tables))

    return [("forecast", run_forecast), ("plan", run_plan), ("rehearsal", run_rehearsal)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller world")
    ap.add_argument("--load", type=int, default=None,
                    help="spinning background processes (default: one per CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3,
                    help="quiet/busy pairs of a stage shorter than 10 s (median counts)")
    args = ap.parse_args(argv)
    skus, regions, scale = (120, 31, 20.0) if args.quick else (300, 40, 40.0)
    n_load = cpus() if args.load is None else args.load
    out: dict[str, Any] = {"benchmark": "busy", "quick": args.quick, "seed": args.seed,
                           "repeat": args.repeat,
                           "skus": skus, "regions": regions, "rehearsal_scale": scale,
                           "cpus": cpus(), "load_processes": n_load,
                           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                           "stages": {}}
    print(f"busy: {skus} SKUs x {regions} regions, {n_load} spinning processes beside the busy "
          f"runs, {cpus()} CPUs; OMP_WAIT_POLICY={out['omp_wait_policy']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="forestock-busy-") as tmp:
        plan = stages(Path(tmp) / "ws", skus, regions, scale, args.seed)
        w0 = time.perf_counter()
        for name, run in plan:  # compile kernels, warm caches; not timed
            t0 = time.perf_counter()
            run()
            print(f"{name:>10}: warm-up {time.perf_counter() - t0:.1f} s", flush=True)
        out["warm_up_s"] = round(time.perf_counter() - w0, 1)
        identical = True
        for name, run in plan:
            quiets, busies = [], []
            while True:  # pairs of runs; a short stage repeats (its median counts)
                quiet_result, quiet = timed(run)
                with background_load(n_load):
                    busy_result, busy = timed(run)
                identical &= same(quiet_result, busy_result)
                quiets.append(quiet)
                busies.append(busy)
                if len(quiets) >= (args.repeat if quiets[0]["wall_s"] < SHORT_S else 1):
                    break
            quiet, busy = median_run(quiets), median_run(busies)
            ratio = busy["wall_s"] / max(quiet["wall_s"], 1e-9)
            out["stages"][name] = {"quiet": quiet, "busy": busy,
                                   "busy_over_quiet_wall": round(ratio, 2), "runs": len(quiets),
                                   "quiet_walls": [q["wall_s"] for q in quiets],
                                   "busy_walls": [b["wall_s"] for b in busies],
                                   "sha256": digest(quiet_result)}
            print(f"{name:>10}: quiet {quiet['wall_s']:7.2f} s wall {quiet['cpu_s']:7.2f} s CPU "
                  f"(x{quiet['wall_per_cpu']:.2f}, load {quiet['load_1min']:.2f}); busy "
                  f"{busy['wall_s']:7.2f} s wall {busy['cpu_s']:7.2f} s CPU "
                  f"(x{busy['wall_per_cpu']:.2f}, load {busy['load_1min']:.2f}); "
                  f"busy / quiet wall {ratio:.2f}", flush=True)
    worst = max(s["busy_over_quiet_wall"] for s in out["stages"].values())
    out.update({"identical": identical, "max_busy_over_quiet_wall": worst, "target": TARGET,
                "met": bool(worst <= TARGET and identical)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
