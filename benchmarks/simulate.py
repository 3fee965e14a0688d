"""Benchmark: the rehearsal engine against a SimPy model of the same rules, and a Singles' Day.

    python benchmarks/simulate.py [--quick] [--workers N] [--same-orders N]
                                  [--window-orders N] [--window-only]

On the embedded China world (11.11 truth, a plan stocking each region's
demand, +-30 %, at its nearest warehouse):

1. the same instance (the day scaled to about 3 million orders; 100,000
   with ``--quick``; ``--same-orders`` sets it) rehearsed by forestock and by the SimPy model
   (``tests/simulate/simpy_model.py``); outcomes compared order by order and
   table by table; orders per second of each (forestock: the median of five
   end-to-end runs, on 1 and on N workers) and their ratio, by wall time and
   by CPU time;
2. a large day (50 million orders) with 1 and with N workers: orders per
   second, whether the tables are identical, and the ratio to SimPy's rate;
3. (without ``--quick``) the day scaled to 1.3 billion orders, end to end
   (problem, rehearsal, outcome tables written to a workspace), with the
   peak memory of the process and its workers;
4. a 22-day event window (Oct 25 to Nov 15: the 11.11 season and 11.11 inside) rehearsed
   every day with stock and backlogs carried over midnight, each day its truth scaled alike
   so that the busiest day (11.11) is ``--window-orders`` orders (default 1.3 billion, a
   Singles' Day; quick: 20 million): orders over the window, seconds, the peak memory of
   the process and its workers, and the resident memory after each day (flat: one day's
   chunks in memory at a time).

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# the SimPy model lives with the tests; the repository root makes it importable
from tests.simulate.simpy_model import compare, simpy_rehearse  # noqa: E402

from forestock.callbacks import Callbacks  # noqa: E402
from forestock.simulate import (  # noqa: E402
    RehearsalWindow,
    SimulateParams,
    SimulateProblem,
    check_outcomes,
    check_window,
    simulate,
    simulate_window,
)
from forestock.workspace import Workspace  # noqa: E402
from forestock.world import WorldParams, build_world  # noqa: E402

DAY = dt.date(2027, 11, 11)
SINGLES_DAY_ORDERS = 1_300_000_000
#: The 22-day window of section 4 (as long as Korea Sale Festa), 11.11 and its season inside.
WINDOW_DAYS = [dt.date(2027, 10, 25) + dt.timedelta(days=i) for i in range(22)]


class PeakMemory:
    """Polls the resident memory of this process plus its live worker processes."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss(pid: int | str) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            total = self._rss("self") + sum(self._rss(p.pid) for p in mp.active_children()
                                            if p.pid is not None)
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class DayMemory(Callbacks):
    """The resident memory of this process (and its live workers) after each day of a
    window, and when the window begins."""

    def __init__(self) -> None:
        self.start = 0
        self.after_day: list[int] = []

    @staticmethod
    def _now() -> int:
        return PeakMemory._rss("self") + sum(PeakMemory._rss(p.pid)
                                             for p in mp.active_children() if p.pid is not None)

    def on_start(self, task: str, total: float) -> None:
        if task == "window":
            self.start = self._now()

    def on_step(self, task: str, advance: float) -> None:
        if task == "window":
            self.after_day.append(self._now())


def window_problem(ws: Workspace) -> RehearsalWindow:
    """:data:`WINDOW_DAYS` of the world's truth, with a plan holding each region's demand
    over the window (+-30 %) at its nearest warehouse, no waves."""
    truth = ws.read("truth", categorical=True)
    demand = truth[truth["date"].dt.date.isin(set(WINDOW_DAYS))]
    lanes = ws.read("lanes")
    nearest = (lanes.sort_values(["region_id", "transit_hours", "warehouse_id"])
               .groupby("region_id").head(1)[["region_id", "warehouse_id"]])
    cells = (demand.groupby(["sku_id", "region_id"], observed=True, as_index=False)["units"]
             .sum().astype({"sku_id": str, "region_id": str}).merge(nearest, on="region_id"))
    rng = np.random.default_rng(1)
    cells["units"] = np.floor(cells["units"] * rng.uniform(0.7, 1.3, len(cells))).astype(int)
    plan = cells.groupby(["sku_id", "warehouse_id"], as_index=False)["units"].sum()
    return RehearsalWindow.from_tables(WINDOW_DAYS, demand, plan, ws.read("warehouses"),
                                       lanes, ws.read("skus"), ws.read("regions"))


def window_memory(ws: Workspace, busiest_orders: int, per_scale: float,
                  workers: int) -> dict[str, object]:
    """Section 4: the 22-day window at ``busiest_orders`` orders on its busiest day
    (``per_scale``: the orders of :data:`DAY` per unit of scale)."""
    t0, c0 = time.perf_counter(), time.process_time()
    with PeakMemory() as mem:
        window = window_problem(ws)
        units = np.array([int(p.cell_units.sum()) for p in window.problems])
        busiest = int(np.argmax(units))
        per_unit = per_scale / units[WINDOW_DAYS.index(DAY)]  # orders per unit of demand
        scale = busiest_orders / (per_unit * units[busiest]) * 1.001
        days = DayMemory()
        r = simulate_window(window, SimulateParams(scale=scale, workers=workers), seed=0,
                            callbacks=days)
        check_window(r, window)
        ws.write_many(r.tables)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    by_day = r.tables["outcomes_day"]
    after = np.array(days.after_day, dtype=float) / 2**30
    print(f"{len(WINDOW_DAYS)}-day window: {r.orders:,} orders "
          f"({int(by_day['orders'].max()):,} on its busiest day, {WINDOW_DAYS[busiest]}) in "
          f"{wall:,.0f} s ({r.orders / wall:,.0f}/s); peak {mem.peak / 2**30:.2f} GB; resident "
          f"after day 1 {after[0]:.2f} GB, after day {after.size} {after[-1]:.2f} GB "
          f"(most {after.max():.2f}); within 24 h {r.share_24h:.1%}", flush=True)
    return {
        "window_days": len(WINDOW_DAYS), "window_first_day": str(WINDOW_DAYS[0]),
        "window_scale": round(scale, 2), "window_orders": r.orders,
        "window_busiest_day": str(WINDOW_DAYS[busiest]),
        "window_busiest_day_orders": int(by_day["orders"].max()),
        "window_quietest_day_orders": int(by_day["orders"].min()),
        "window_wall_seconds": round(wall, 1), "window_cpu_seconds": round(cpu, 1),
        "window_orders_per_second": round(r.orders / wall),
        "window_share_24h": round(r.share_24h, 4),
        "window_peak_memory_gb": round(mem.peak / 2**30, 2),
        "window_rss_gb_at_start": round(days.start / 2**30, 2),
        "window_rss_gb_after_each_day": [round(float(x), 2) for x in after],
        "window_rss_gb_growth_day_1_to_last": round(float(after[-1] - after[0]), 2),
        "window_target_4_gb_met": mem.peak <= 4 * 2**30,
    }


def world_problem(folder: Path, skus: int) -> tuple[Workspace, SimulateProblem]:
    """The embedded world's 11.11 with a plan holding each region's demand (+-30 %) at its
    nearest warehouse."""
    ws = Workspace(folder)
    build_world(ws, WorldParams(seed=0, skus=skus, regions=80, history_days=60))
    truth = ws.read("truth")
    demand = truth[truth["date"].dt.date == DAY]
    lanes = ws.read("lanes")
    nearest = (lanes.sort_values(["region_id", "transit_hours", "warehouse_id"])
               .groupby("region_id").head(1)[["region_id", "warehouse_id"]])
    cells = demand.merge(nearest, on="region_id")
    rng = np.random.default_rng(0)
    cells["units"] = np.floor(cells["units"] * rng.uniform(0.7, 1.3, len(cells))).astype(int)
    plan = cells.groupby(["sku_id", "warehouse_id"], as_index=False)["units"].sum()
    ws.write("plan", plan)
    problem = SimulateProblem.from_tables(DAY, demand, plan, ws.read("warehouses"), lanes,
                                          ws.read("skus"), ws.read("regions"))
    return ws, problem


def timed(problem: SimulateProblem, params: SimulateParams) -> tuple[object, float]:
    t0 = time.perf_counter()
    result = simulate(problem, params, seed=0)
    return result, time.perf_counter() - t0


def median_time(problem: SimulateProblem, params: SimulateParams,
                repeats: int = 5) -> tuple[float, float]:
    """The median wall time and the median CPU time (all threads) of ``repeats`` runs (every
    run end to end: problem arrays to outcome tables)."""
    walls, cpus = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        walls.append(timed(problem, params)[1])
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus))


def same_tables(a: object, b: object) -> bool:
    for name, table in a.tables.items():  # type: ignore[attr-defined]
        try:
            pd.testing.assert_frame_equal(table, b.tables[name])  # type: ignore[attr-defined]
        except AssertionError:
            return False
    return bool(np.array_equal(a.stock_left, b.stock_left))  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, no 1.3-billion run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--same-orders", type=int, default=None,
                    help="orders of the instance both engines run (default 3,000,000; "
                         "quick: 100,000): larger ones weigh forestock's fixed costs less")
    ap.add_argument("--window-orders", type=int, default=None,
                    help="orders on the busiest day of the 22-day window of section 4 "
                         "(default 1,300,000,000; quick: 20,000,000)")
    ap.add_argument("--window-only", action="store_true",
                    help="run section 4 alone (the 22-day window)")
    args = ap.parse_args()
    quick = args.quick
    window_orders = args.window_orders or (20_000_000 if quick else SINGLES_DAY_ORDERS)
    # SimPy takes about 2 minutes on the full same instance: large enough that forestock's
    # fixed costs (outcome tables, per-chunk work) do not dominate its time
    simpy_orders = args.same_orders or (100_000 if quick else 3_000_000)
    big_orders = 10_000_000 if quick else 50_000_000
    out: dict[str, object] = {"quick": quick, "workers": args.workers,
                              "load_average_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="forestock-bench-sim-") as tmp:
        ws, problem = world_problem(Path(tmp) / "ws", skus=200 if quick else 500)
        base, _ = timed(problem, SimulateParams())
        per_scale = base.orders  # type: ignore[attr-defined]
        print(f"world: {len(problem.cell_units):,} cells; 11.11 at scale 1: {per_scale:,} "
              "orders", flush=True)
        if args.window_only:
            out.update(window_memory(ws, window_orders, per_scale, args.workers))
            print(json.dumps(out))
            return

        # 1. forestock and the SimPy model on the same instance
        params = SimulateParams(scale=simpy_orders / per_scale)
        traced, _ = timed(problem, params.replace(sample_share=1.0))
        t0, c0 = time.perf_counter(), time.process_time()
        model = simpy_rehearse(problem, params, seed=0)
        t_simpy, cpu_simpy = time.perf_counter() - t0, time.process_time() - c0
        diffs = compare(traced, model, problem)  # type: ignore[arg-type]
        del traced
        n_small = model.orders
        load_simpy = round(os.getloadavg()[0], 2)
        t_one, cpu_one = median_time(problem, params)
        t_many, cpu_many = median_time(problem, params.replace(workers=args.workers))
        load_ours = round(os.getloadavg()[0], 2)  # others' work on the 2 cores meanwhile
        simpy_rate = n_small / t_simpy
        ours_small = n_small / min(t_one, t_many)
        # per CPU-second: each side's orders over the CPU time it used (all threads), which
        # other work on the shared machine does not take away
        per_cpu = (n_small / cpu_one) / (n_small / cpu_simpy)
        print(f"same instance, {n_small:,} orders: SimPy {t_simpy:.1f} s ({simpy_rate:,.0f}/s, "
              f"{cpu_simpy:.1f} CPU-s); forestock {t_one * 1e3:.0f} ms on 1 worker "
              f"({cpu_one * 1e3:.0f} CPU-ms), {t_many * 1e3:.0f} ms on {args.workers} "
              f"({ours_small:,.0f}/s, {ours_small / simpy_rate:,.0f}x; per CPU-second "
              f"{per_cpu:,.0f}x); identical: {not diffs} {diffs[:2]}", flush=True)
        out.update({
            "simpy_instance_orders": n_small, "simpy_instance_scale": round(params.scale, 4),
            "simpy_seconds": round(t_simpy, 2), "simpy_cpu_seconds": round(cpu_simpy, 2),
            "simpy_orders_per_second": round(simpy_rate),
            "load_average_after_simpy": load_simpy,
            "forestock_same_instance_seconds_1_worker": round(t_one, 4),
            "forestock_same_instance_cpu_seconds_1_worker": round(cpu_one, 4),
            "forestock_same_instance_seconds_n_workers": round(t_many, 4),
            "forestock_same_instance_cpu_seconds_n_workers": round(cpu_many, 4),
            # wall-clock speed-up of N workers over 1 (threads on a shared machine: others'
            # work, the load average, takes cores from them)
            "speedup_n_workers_same_instance": round(t_one / t_many, 2),
            "load_average_after_forestock": load_ours,
            "forestock_same_instance_orders_per_second": round(ours_small),
            "forestock_same_instance_ns_cpu_per_order": round(cpu_one / n_small * 1e9, 1),
            "simpy_us_cpu_per_order": round(cpu_simpy / n_small * 1e6, 2),
            "ratio_same_instance": round(ours_small / simpy_rate, 1),
            "ratio_same_instance_per_cpu_second": round(per_cpu, 1),
            "identical_to_simpy": not diffs, "simpy_differences": diffs[:3],
        })

        # 2. a large day with 1 and N workers
        big = SimulateParams(scale=big_orders / per_scale)
        c0 = time.process_time()
        one, t_one = timed(problem, big)
        c1 = time.process_time()
        many, t_many = timed(problem, big.replace(workers=args.workers))
        c_one, c_many = c1 - c0, time.process_time() - c1
        check_outcomes(many, problem)  # type: ignore[arg-type]
        n_big = one.orders  # type: ignore[attr-defined]
        print(f"{n_big:,} orders: 1 worker {n_big / t_one:,.0f}/s, {args.workers} workers "
              f"{n_big / t_many:,.0f}/s; identical: {same_tables(one, many)}", flush=True)
        out.update({
            "large_orders": n_big,
            "orders_per_second_1_worker": round(n_big / t_one),
            "orders_per_second_n_workers": round(n_big / t_many),
            "identical_1_and_n_workers": same_tables(one, many),
            "large_ns_cpu_per_order_1_worker": round(c_one / n_big * 1e9, 1),
            "large_ns_cpu_per_order_n_workers": round(c_many / n_big * 1e9, 1),
            "speedup_n_workers_large": round(t_one / t_many, 2),
            "load_average_after_large": round(os.getloadavg()[0], 2),
            "ratio_at_scale": round(max(n_big / t_one, n_big / t_many) / simpy_rate, 1),
        })
        del one, many

        # 3. Singles' Day: 1.3 billion orders end to end
        if not quick:
            t0, c0 = time.perf_counter(), time.process_time()
            with PeakMemory() as mem:
                truth = ws.read("truth", categorical=True)
                problem_again = SimulateProblem.from_tables(
                    DAY, truth[truth["date"].dt.date == DAY], ws.read("plan"),
                    ws.read("warehouses"), ws.read("lanes"), ws.read("skus"), ws.read("regions"))
                # orders per unit of scale, measured on the large day (small cells round)
                scale = SINGLES_DAY_ORDERS / (n_big / big.scale) * 1.001
                full = simulate(problem_again, SimulateParams(scale=scale,
                                                              workers=args.workers), seed=0)
                check_outcomes(full, problem_again)
                ws.write_many(full.tables)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rate = full.orders / wall
            print(f"Singles' Day: {full.orders:,} orders in {wall:,.0f} s ({rate:,.0f}/s), "
                  f"peak {mem.peak / 2**30:.2f} GB; peak {full.peak_orders_per_second:,} "
                  f"orders/s; within 48 h {full.share_48h:.1%}", flush=True)
            out.update({
                "singles_day_orders": full.orders, "singles_day_scale": round(scale, 2),
                "singles_day_wall_seconds": round(wall, 1),
                "singles_day_orders_per_second": round(rate),
                "singles_day_peak_orders_per_second": full.peak_orders_per_second,
                "singles_day_share_48h": round(full.share_48h, 4),
                "peak_memory_gb": round(mem.peak / 2**30, 2),
                "ratio_at_singles_day_scale": round(rate / simpy_rate, 1),
                # both sides' CPU seconds (all threads): what other work on the machine
                # takes from the wall-clock figures
                "singles_day_cpu_seconds": round(cpu, 1),
                "ratio_per_cpu_second": round((full.orders / cpu) / (n_small / cpu_simpy), 1),
                "target_15_min_met": wall <= 900, "target_4_gb_met": mem.peak <= 4 * 2**30,
            })
            del full

        # 4. a 22-day window, every day at its share of the busiest day's orders
        out.update(window_memory(ws, window_orders, per_scale, args.workers))
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    out["max_rss_gb_coordinator"] = round(self_peak / 2**30, 2)
    out["max_rss_gb_one_worker"] = round(child_peak / 2**30, 2)
    out["target_1000x_simpy_met_same_instance"] = \
        float(out["ratio_same_instance"]) >= 1000  # type: ignore[arg-type]
    out["target_1000x_simpy_met_same_instance_per_cpu_second"] = \
        float(out["ratio_same_instance_per_cpu_second"]) >= 1000  # type: ignore[arg-type]
    out["target_1000x_simpy_met_at_scale"] = bool(max(
        float(out["ratio_at_scale"]),  # type: ignore[arg-type]
        float(out.get("ratio_at_singles_day_scale", 0))) >= 1000)  # type: ignore[arg-type]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
