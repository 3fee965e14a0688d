"""Benchmark of forestock's planner (EPIBT under the rotation model) on League of Robot Runners
instances and centres.

For each 2023 test-round instance (sortation and warehouse): tasks finished
by forestock's planner, the best-known figure and their ratio, and planning
milliseconds per step; beside it, in the same process, a baseline planner
(plain PIBT: no lanes, no congestion guidance, no turn commitment), and the
replay of the published best solution. For each 2024 test-round instance
(sortation_large_2000, warehouse_large_5000; the planner schedules the
tasks): the same figures, the baseline being forestock's planner with the
plain scheduler (nearest revealed task, never taken back), and the run
written as a competition solution and replayed (its count must come back).
For each main-round instance at full density (MR23-I-06, MR23-I-10,
MR24-SORTATION, MR24-WAREHOUSE: 10,000 robots each), each in a fresh
process so that its peak resident memory is its own: tasks finished against
the best known, planning milliseconds per step against the competition's
budget of about 1 s, the share of robot-steps moving and the peak RSS; the
paths are validated, and a 2024 run is written as a competition solution
and replayed (no baseline: it would double a run of minutes).
On generated centres (the code path of ``forestock sortation size``):
parcels per robot-hour at 100 to 500 robots against the real-world 67
(20,000 an hour with 300 robots), the fleet sized for each, and throughput
against fleet size.

Run ``python benchmarks/sortation.py`` (full: every instance's own steps,
5,000 for 2023) or ``--quick`` (500 steps for 2023, 300 for 2024 and the
main round; compares against the best-known figure scaled by steps).
``--only 2023|2024|main|centres`` runs one part (``--main``: the main
round). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from forestock.sortation import (
    SortationParams,
    SortationProblem,
    SortationResult,
    read_instance,
    solve_sortation,
    write_solution,
)
from forestock.sortation._replay import replay
from forestock.sortation._sizing import (
    SizingParams,
    centre_for,
    fleet_curve,
    run_fleet,
    size_fleet,
)
from forestock.world._geo import load_cities, select_regions

LORR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lorr"
TR23 = LORR / "2023 Competition" / "Test Round Evaluation Instances"
INSTANCES = ("TR23-sortation_large", "TR23-warehouse_large")
TR24 = LORR / "2024 Competition" / "Test Round Evaluation Instances"
INSTANCES_2024 = {"sortation_large_2000": "TR-24-sortation_large_2000",
                  "warehouse_large_5000": "TR-24-warehouse_large_5000"}  # file: best-known row
MR23 = LORR / "2023 Competition" / "Main Round Evaluation Instances" / "warehouse.domain"
MR24 = LORR / "2024 Competition" / "Main Round Evaluation Instances" / "warehouse.domain"
MAIN_ROUND = {"MR23-I-06": MR23 / "MR23-I-06.json", "MR23-I-10": MR23 / "MR23-I-10.json",
              "MR24-SORTATION": MR24 / "SORTATION.json",
              "MR24-WAREHOUSE": MR24 / "WAREHOUSE.json"}  # best-known row: file
BUDGET_MS = 1000.0  # the competition's planning time per step
REAL_WORLD_PER_ROBOT_HOUR = 20_000 / 300
BASELINE = SortationParams(planner="pibt", highway=0, congestion_weight=0.0, commit_weight=0.0,
                           record_paths=False, validate=False)
BASELINE_2024 = SortationParams(task_length_weight=0.0, reassign=False, record_paths=False,
                                validate=False)


def _best_known() -> dict[str, int]:
    with (LORR / "best_known_results.csv").open(encoding="utf-8") as fh:
        return {r["instance"]: int(r["tasks_finished"]) for r in csv.DictReader(fh)}


def _mix() -> dict[str, float]:
    """Parcels per destination in proportion to population: the world's 80 default regions."""
    regions = select_regions(load_cities(), 80)
    return dict(zip(regions["region_id"].astype(str), regions["population"].astype(float),
                    strict=True))


def _centres(quick: bool, seed: int) -> dict[str, object]:
    """Generated centres through the code of `forestock sortation size`.

    For each fleet N the real world runs (100 ... 500 robots), the centre is
    generated for the parcels N robots sort an hour in the real world (67 N),
    and N robots run on it (ours, and plain PIBT without one-way lanes); then
    the fleet ``size_fleet`` finds for that peak; and the fleet curve of the
    300-robot centre.
    """
    sp = SizingParams(warmup_steps=300, measure_steps=900 if quick else 1800)
    mix = _mix()
    by_fleet: dict[str, object] = {}
    for n in (100, 200, 300, 500):
        target = REAL_WORLD_PER_ROBOT_HOUR * n
        centre, dest, share = centre_for(target, mix, sp)
        ours, _ = run_fleet(centre, dest, share, n, sp, seed=seed)
        base, _ = run_fleet(centre, dest, share, n, sp, BASELINE, seed=seed, lanes=False)
        sized = size_fleet(target, mix, sp, seed=seed)
        g = centre.grid
        by_fleet[str(n)] = {
            "grid": f"{g.height}x{g.width}", "stations": int(centre.induction.size),
            "chutes": centre.n_chutes, "cells_per_robot": round(centre.n_free / n, 1),
            "parcels_per_hour": round(ours["parcels_per_hour"]),
            "parcels_per_robot_hour": round(ours["per_robot_hour"], 1),
            "baseline_per_robot_hour": round(base["per_robot_hour"], 1),
            "plan_ms_per_step": round(ours["plan_ms"], 3),
            "sized_robots_for_67n": sized.robots, "sized_met": sized.met,
            "sized_per_robot_hour": round(sized.per_robot_hour, 1),
        }
        print("centre", n, by_fleet[str(n)], flush=True)
    centre, dest, share = centre_for(REAL_WORLD_PER_ROBOT_HOUR * 300, mix, sp)
    curve = fleet_curve(centre, dest, share, [50, 100, 200, 300, 400, 600], sp, seed=seed)
    worst = min(v["parcels_per_robot_hour"] for v in by_fleet.values())  # type: ignore[index]
    return {
        "mix": "80 regions of the world, parcels by population",
        "warmup_steps": sp.warmup_steps, "measure_steps": sp.measure_steps,
        "station_rate": sp.station_rate, "by_fleet": by_fleet,
        "curve_300_centre": {int(r.robots): round(r.parcels_per_hour)
                             for r in curve.itertuples()},
        "real_world_per_robot_hour": round(REAL_WORLD_PER_ROBOT_HOUR, 1),
        "worst_ratio_to_real_world": round(worst / REAL_WORLD_PER_ROBOT_HOUR, 3),
    }


def _against(problem: SortationProblem, best_known: float, baseline: SortationParams,
             baseline_name: str, seed: int) -> tuple[SortationResult, dict[str, object]]:
    """Our planner (validated) and a baseline on ``problem``; the row of figures."""
    t0 = time.perf_counter()
    ours = solve_sortation(problem, seed=seed)  # validated inside
    wall = time.perf_counter() - t0
    base = solve_sortation(problem, baseline, seed=seed)
    return ours, {
        "robots": problem.n_agents,
        "tasks_finished": ours.tasks_finished,
        "best_known": round(best_known),
        "ratio_to_best_known": round(ours.tasks_finished / best_known, 4),
        "plan_ms_per_step": round(ours.mean_plan_ms, 3),
        "plan_ms_max": round(ours.max_plan_ms, 3),
        "seconds": round(wall, 1),
        f"baseline_{baseline_name}_tasks": base.tasks_finished,
        "ratio_to_baseline": round(ours.tasks_finished / max(1, base.tasks_finished), 3),
    }


def _rules_2024(quick: bool, seed: int, best: dict[str, int]) -> dict[str, object]:
    """The 2024 test-round instances: ours and the plain scheduler; the run written, replayed."""
    rows: dict[str, object] = {}
    for name, row_name in INSTANCES_2024.items():
        path = TR24 / "warehouse.domain" / f"{name}.json"
        full = read_instance(path)
        problem = read_instance(path, steps=300) if quick else full
        bk = best[row_name] * problem.steps / full.steps
        ours, row = _against(problem, bk, BASELINE_2024, "nearest_task", seed)
        with tempfile.TemporaryDirectory() as tmp:
            rep = replay(problem, write_solution(problem, ours, Path(tmp) / "solution.json"))
        row["steps"] = problem.steps
        row["written_replayed_tasks_finished"] = rep.tasks_finished
        row["written_replayed_conflicts"] = rep.conflicts
        sol = TR24 / "best_solutions" / f"TR24-{name}.json.zip"
        if not quick and sol.exists():
            published = replay(full, sol)
            row["published_replay_tasks_finished"] = published.tasks_finished
            row["published_replay_conflicts"] = published.conflicts
        rows[row_name] = row
        print(row_name, row, flush=True)
    return rows


def _main_round_one(name: str, steps: int | None, seed: int) -> dict[str, object]:
    """One main-round instance, run in this (fresh) process: our planner, validated; a 2024
    run written and replayed; the process's peak resident memory."""
    full = read_instance(MAIN_ROUND[name])
    problem = read_instance(MAIN_ROUND[name], steps=steps) if steps else full
    best_known = _best_known()[name] * problem.steps / full.steps
    t0 = time.perf_counter()
    ours = solve_sortation(problem, seed=seed)  # validated inside
    wall = time.perf_counter() - t0
    row: dict[str, object] = {
        "robots": problem.n_agents,
        "steps": problem.steps,
        "tasks_finished": ours.tasks_finished,
        "best_known": round(best_known),
        "ratio_to_best_known": round(ours.tasks_finished / best_known, 4),
        "plan_ms_per_step": round(ours.mean_plan_ms, 3),
        "plan_ms_max": round(ours.max_plan_ms, 3),
        "within_budget": ours.mean_plan_ms <= BUDGET_MS,
        "moving_share": round(ours.moving_share, 4),
        "seconds": round(wall, 1),
    }
    if ours.schedule is not None:  # 2024 rules: the written solution must replay to its count
        with tempfile.TemporaryDirectory() as tmp:
            rep = replay(problem, write_solution(problem, ours, Path(tmp) / "solution.json"))
        row["written_replayed_tasks_finished"] = rep.tasks_finished
        row["written_replayed_conflicts"] = rep.conflicts
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return row


def _main_round(quick: bool, seed: int, jobs: int = 1) -> dict[str, object]:
    """The main-round instances, 10,000 robots each, each in a fresh process (``jobs`` of
    them at a time: planning times then include the other runs' load)."""
    rows: dict[str, object] = {}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=spawn,
                             max_tasks_per_child=1) as pool:
        runs = {name: pool.submit(_main_round_one, name, 300 if quick else None, seed)
                for name in MAIN_ROUND}
        for name, run in runs.items():
            rows[name] = run.result()
            print(name, rows[name], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true",
                    help="500 steps per 2023 instance, 300 per 2024 one, 900 measured steps "
                         "per centre")
    ap.add_argument("--only", choices=("2023", "2024", "main", "centres"),
                    help="run one part: the 2023 or 2024 test-round instances, the main-round "
                         "ones, or the generated centres")
    ap.add_argument("--main", action="store_true",
                    help="the main-round instances only (as --only main)")
    ap.add_argument("--centres-only", action="store_true",
                    help="skip the competition instances (as --only centres)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1,
                    help="main-round instances run at a time, each in its own process")
    args = ap.parse_args()
    only = "centres" if args.centres_only else "main" if args.main else args.only
    steps = 500 if args.quick else 5000
    best = _best_known()
    out: dict[str, object] = {"steps": steps, "seed": args.seed, "instances": {}}
    for name in INSTANCES if only in (None, "2023") else ():
        problem = read_instance(TR23 / "warehouse.domain" / f"{name}.json", steps=steps)
        bk = best[name] * steps / 5000  # the published run is 5,000 steps
        _, row = _against(problem, bk, BASELINE, "plain_pibt", args.seed)
        sol = TR23 / "best_solutions" / f"{name}.json.zip"
        if not args.quick and sol.exists():
            rep = replay(read_instance(TR23 / "warehouse.domain" / f"{name}.json"), sol)
            row["replay_tasks_finished"] = rep.tasks_finished
            row["replay_conflicts"] = rep.conflicts
        out["instances"][name] = row  # type: ignore[index]
        print(name, row, flush=True)
    if only in (None, "2024"):
        out["instances_2024"] = _rules_2024(args.quick, args.seed, best)
    if only in (None, "main"):
        out["main_round"] = _main_round(args.quick, args.seed, args.jobs)
    if only in (None, "centres"):
        out["centre"] = _centres(args.quick, args.seed)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
