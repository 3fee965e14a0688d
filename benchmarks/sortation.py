"""Benchmark of forestock's PIBT planner on League of Robot Runners instances and centres.

For each 2023 test-round instance (sortation and warehouse): tasks finished
by forestock's planner, the best-known figure and their ratio, and planning
milliseconds per step; beside it, in the same process, a baseline planner
(plain PIBT: no lanes, no congestion guidance, no turn commitment), and the
replay of the published best solution. On generated centres: parcels per
robot-hour against the real-world 67 (20,000 an hour with 300 robots).

Run ``python benchmarks/sortation.py`` (full: 5,000 steps) or ``--quick``
(500 steps, compares against the best-known figure scaled by steps). The
last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from forestock.sortation import PlannerParams, read_instance, solve
from forestock.sortation._layout import CentreParams, build_centre, centre_problem
from forestock.sortation._replay import replay

LORR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lorr"
TR23 = LORR / "2023 Competition" / "Test Round Evaluation Instances"
INSTANCES = ("TR23-sortation_large", "TR23-warehouse_large")
REAL_WORLD_PER_ROBOT_HOUR = 20_000 / 300
BASELINE = PlannerParams(highway=0, congestion_weight=0.0, commit_weight=0.0, record_paths=False,
                         validate=False)


def _best_known() -> dict[str, int]:
    with (LORR / "best_known_results.csv").open(encoding="utf-8") as fh:
        return {r["instance"]: int(r["tasks_finished"]) for r in csv.DictReader(fh)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="500 steps per instance")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    steps = 500 if args.quick else 5000
    best = _best_known()
    out: dict[str, object] = {"steps": steps, "seed": args.seed, "instances": {}}
    for name in INSTANCES:
        problem = read_instance(TR23 / "warehouse.domain" / f"{name}.json", steps=steps)
        t0 = time.perf_counter()
        ours = solve(problem, seed=args.seed)  # validated inside
        wall = time.perf_counter() - t0
        base = solve(problem, BASELINE, seed=args.seed)
        bk = best[name] * steps / 5000  # the published run is 5,000 steps
        row: dict[str, object] = {
            "robots": problem.n_agents,
            "tasks_finished": ours.tasks_finished,
            "best_known": round(bk),
            "ratio_to_best_known": round(ours.tasks_finished / bk, 4),
            "plan_ms_per_step": round(ours.mean_plan_ms, 3),
            "plan_ms_max": round(ours.max_plan_ms, 3),
            "seconds": round(wall, 1),
            "baseline_plain_pibt_tasks": base.tasks_finished,
            "ratio_to_baseline": round(ours.tasks_finished / max(1, base.tasks_finished), 3),
        }
        sol = TR23 / "best_solutions" / f"{name}.json.zip"
        if not args.quick and sol.exists():
            rep = replay(read_instance(TR23 / "warehouse.domain" / f"{name}.json"), sol)
            row["replay_tasks_finished"] = rep.tasks_finished
            row["replay_conflicts"] = rep.conflicts
        out["instances"][name] = row  # type: ignore[index]
        print(name, row, flush=True)
    centre = build_centre(CentreParams(chute_rows=12, chute_cols=16))
    _, share = centre.assign({f"R{i:02d}": 100.0 - 3 * i for i in range(25)})
    centres = {}
    c_steps = 1200 if args.quick else 3600
    for robots in (25, 50, 100, 200):
        r = solve(centre_problem(centre, robots, share, c_steps, args.seed), seed=args.seed)
        b = solve(centre_problem(centre, robots, share, c_steps, args.seed), BASELINE,
                  seed=args.seed)
        centres[str(robots)] = {"parcels_per_robot_hour": round(r.per_robot_hour, 1),
                                "parcels_per_hour": round(r.tasks_finished / r.hours),
                                "baseline_per_robot_hour": round(b.per_robot_hour, 1),
                                "plan_ms_per_step": round(r.mean_plan_ms, 3)}
        print("centre", robots, centres[str(robots)], flush=True)
    best_centre = max(v["parcels_per_robot_hour"] for v in centres.values())
    out["centre"] = {"grid": f"{centre.grid.height}x{centre.grid.width}",
                     "chutes": centre.n_chutes, "stations": int(centre.induction.size),
                     "steps": c_steps, "by_robots": centres,
                     "real_world_per_robot_hour": round(REAL_WORLD_PER_ROBOT_HOUR, 1),
                     "best_ratio_to_real_world": round(best_centre / REAL_WORLD_PER_ROBOT_HOUR,
                                                       3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
