"""``forestock sortation``: robot sortation on competition maps and generated centres."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from forestock.cli._common import (
    JsonOpt,
    RichCallbacks,
    SeedOpt,
    WorkspaceOpt,
    app,
    emit_json,
    out,
    progress_bar,
    rich_table,
    user_errors,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.sortation import SortationProblem

sortation_app = typer.Typer(
    name="sortation",
    help="Robot sortation: replay and plan League of Robot Runners instances, and size the "
         "fleet of a warehouse's sortation centre for its peak hour.",
    no_args_is_help=True,
)
app.add_typer(sortation_app)

InstanceArg = Annotated[Path, typer.Argument(help="Competition instance JSON.")]


def _best_known(instance: Path) -> int | None:
    """The best-known tasks finished of ``instance`` from a best_known_results.csv above it."""
    for folder in instance.resolve().parents:
        table = folder / "best_known_results.csv"
        if table.exists():
            with table.open(encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    name = row.get("instance", "")
                    if name and (instance.stem == name or instance.stem.endswith(name)
                                 or name.endswith(instance.stem)):
                        return int(row["tasks_finished"])
            return None
    return None


def _rules(problem: SortationProblem) -> str | None:
    """The competition whose task rules ``problem`` follows: ``"2023"`` or ``"2024"``."""
    from forestock.sortation import TaskList

    return str(problem.tasks.year) if isinstance(problem.tasks, TaskList) else None


def _print(title: str, facts: dict[str, Any]) -> None:
    t = Table(title=Text(title), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in facts.items():
        if isinstance(v, float):
            t.add_row(k.replace("_", " "), f"{v:,.2f}")
        elif isinstance(v, int) and not isinstance(v, bool):
            t.add_row(k.replace("_", " "), f"{v:,}")
        else:
            t.add_row(k.replace("_", " "), Text(str(v)))
    out.print(t)


@sortation_app.command()
def replay(
    instance: InstanceArg,
    solution: Annotated[Path, typer.Argument(help="Published solution (.json or .json.zip).")],
    as_json: JsonOpt = False,
) -> None:
    """Replay a published solution: tasks finished and conflicts (2023 or 2024 rules)."""
    from forestock.sortation import read_instance
    from forestock.sortation._replay import replay as run_replay

    with user_errors():
        problem = read_instance(instance)
        t0 = time.perf_counter()
        r = run_replay(problem, solution)
    facts: dict[str, Any] = {
        "instance": r.name, "rules": _rules(problem), "robots": r.n_agents, "steps": r.steps,
        "tasks_finished": r.tasks_finished, "published": r.published,
        "conflicts": r.conflicts, "first_conflicts": list(r.first_conflicts),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if as_json:
        emit_json(facts)
        return
    _print(f"Replay of {solution.name}", {k: v for k, v in facts.items()
                                          if k != "first_conflicts"})
    for msg in r.first_conflicts:
        out.print(f"  {escape(msg)}", highlight=False)


@sortation_app.command()
def run(
    instance: InstanceArg,
    steps: Annotated[int | None, typer.Option(min=1, help="Steps to plan; default: the "
                                                         "instance's.")] = None,
    heatmap: Annotated[Path | None, typer.Option(help="Write the congestion heat map (PNG) "
                                                      "here.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write the paths as a competition "
                                                     "solution (JSON) here, for PlanViz and "
                                                     "`sortation replay`.")] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Plan an instance with forestock's PIBT planner; paths are validated."""
    from forestock.sortation import read_instance, solve_sortation, write_solution

    with user_errors():
        if steps is not None and steps < 1:
            raise ValueError(f"--steps must be >= 1, got {steps}")
        problem = read_instance(instance, steps=steps)
        if output is not None:
            from forestock.sortation._solution import writable

            writable(problem)  # refuse before planning, not after
        with progress_bar(as_json) as progress:
            r = solve_sortation(problem, seed=seed, callbacks=RichCallbacks(progress))
    best = _best_known(instance)
    facts: dict[str, Any] = {
        "instance": r.name, "rules": _rules(problem), "robots": r.n_agents, "steps": r.steps,
        "seed": seed,
        "tasks_finished": r.tasks_finished, "best_known": best,
        "ratio_to_best_known": (r.tasks_finished / best) if best and steps is None
        else None,
        "plan_ms_per_step": round(r.mean_plan_ms, 3), "plan_ms_max": round(r.max_plan_ms, 3),
        "moving_share": round(r.moving_share, 4), "validated": True,
    }
    if heatmap is not None:
        from forestock.sortation._figures import congestion_png

        facts["heatmap"] = str(congestion_png(problem.grid, r.waits, heatmap))
    if output is not None:
        with user_errors():
            facts["solution"] = str(write_solution(problem, r, output))
    if as_json:
        emit_json(facts)
        return
    _print(f"forestock's planner on {r.name}", facts)


@sortation_app.command()
def size(
    warehouse: Annotated[str, typer.Option("--warehouse", help="Warehouse id to size for.")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    figures: Annotated[Path | None, typer.Option(help="Folder for the PNG figures; default "
                                                      "WORKSPACE/sortation.")] = None,
    station_rate: Annotated[float, typer.Option(min=0,
                                                help="Parcels an induction station feeds "
                                                     "per hour (sets the stations).")] = 800.0,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Smallest robot fleet meeting a warehouse's peak hour (from `forestock simulate`).

    The centre is generated for the peak: one induction station per
    --station-rate parcels an hour, on one-way lanes above and below a
    one-way grid of chutes.
    """
    from forestock.sortation._figures import congestion_png, fleet_curve_png
    from forestock.sortation._sizing import SizingParams, peak_hour, size_fleet

    with user_errors():
        ws = Workspace(workspace)
        ws.require(["outcomes_flow"], "sortation size")
        hour, mix = peak_hour(ws.read("outcomes_flow"), warehouse)
        target = sum(mix.values())
        with out.status(escape(f"sizing the fleet of {warehouse} for {target:,.0f} parcels "
                               "an hour")):
            r = size_fleet(target, mix, SizingParams(station_rate=station_rate), seed=seed,
                           warehouse=warehouse, hour=hour)
    folder = figures or (ws.root / "sortation")
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in warehouse)
    heat = congestion_png(r.centre.grid, r.waits, folder / f"{slug}_congestion.png",
                          f"Where robots wait: {warehouse}, {r.robots} robots")
    curve = fleet_curve_png(r.curve, target, folder / f"{slug}_fleet.png",
                            f"{warehouse}: throughput against fleet size")
    g = r.centre.grid
    facts: dict[str, Any] = {
        "warehouse": warehouse, "peak_hour": hour, "peak_parcels": int(target),
        "destinations": len(mix), "centre": f"{g.height}x{g.width} cells",
        "chutes": r.centre.n_chutes, "induction_stations": int(r.centre.induction.size),
        "station_rate": station_rate,
        "free_cells": r.centre.n_free, "robots": r.robots, "met": r.met,
        "cells_per_robot": round(r.cells_per_robot, 1),
        "parcels_per_hour": round(r.per_hour, 1),
        "parcels_per_robot_hour": round(r.per_robot_hour, 1), "seed": seed,
        "congestion_png": str(heat), "fleet_png": str(curve),
    }
    ws.note("sortation", facts)
    if as_json:
        emit_json({**facts, "curve": r.curve.to_dict(orient="records")})
        return
    _print(f"Sortation fleet for {warehouse}", facts)
    out.print(rich_table("Fleets tried", r.curve, {"parcels_per_hour": ",.0f",
                                                   "per_robot_hour": ".1f",
                                                   "cells_per_robot": ".1f", "plan_ms": ".3f",
                                                   "moving_share": ".2f"}))
