"""``forestock demo``: the whole flow on the embedded world."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape

from forestock._runtime import CompileClock
from forestock.callbacks import Callbacks
from forestock.cli._common import (
    RichCallbacks,
    SeedOpt,
    WorkspaceOpt,
    app,
    err,
    out,
    progress_bar,
    user_errors,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.flow import SimulateRun
    from forestock.world import WorldParams

R = TypeVar("R")

SEASON_FOLDER = "season"
"""The demo's multi-day event, in this folder of its workspace."""
#: The season's world has this share of the demo's SKUs (the same seed, regions and
#: warehouses, storage sized to its sales): its forecast and plan cost a fraction.
SEASON_SKU_SHARE = 5
#: The season's forecast: a lighter global model (fewer rounds, fewer rows) than the 11.11's.
SEASON_ROUNDS, SEASON_TRAIN_ROWS = 100, 200_000


@app.command()
def demo(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: SeedOpt = 0,
    skus: Annotated[int | None, typer.Option(min=1, show_default="WorldParams.skus",
                                             help="Number of products in the world.")] = None,
) -> None:
    """Run the whole flow on the embedded China world and write the report.

    world, forecast, plan, simulate (the one-day 11.11), season (the two-week 11.11 season
    of the same network on a world of a fifth of the SKUs, in WORKSPACE/season: forecast,
    plan with replenishment waves, every day rehearsed), insights (the two events side by
    side), report; prints the headline figures and the report's path.
    """
    from forestock import flow
    from forestock.cli.forecast import show_forecast
    from forestock.cli.insights import show_insights
    from forestock.cli.plan import show_plan
    from forestock.cli.report import show_report
    from forestock.cli.simulate import show_simulate
    from forestock.cli.world import show_world
    from forestock.insights import InsightsParams
    from forestock.world import WorldParams

    ws = Workspace(workspace)
    world = WorldParams(seed=seed) if skus is None else WorldParams(seed=seed, skus=skus)
    stages = ("world", "forecast", "plan", "simulate", "season", "insights", "report")

    def rule(stage: str) -> None:
        out.rule(f"[bold]{stages.index(stage) + 1}/{len(stages)} {stage}")

    def with_bar(run: Callable[[Callbacks], R]) -> R:
        with progress_bar() as bar:
            return run(RichCallbacks(bar))

    t0 = time.perf_counter()
    with user_errors(), CompileClock() as clock:
        rule("world")
        made = with_bar(lambda cb: flow.run_world(ws, world, callbacks=cb))
        show_world(made)
        rule("forecast")
        window = flow.forecast_window(ws)
        err.print(escape(f"forecasting {window.start}..{window.end} ({flow.DEFAULT_METHOD})"),
                  highlight=False)
        show_forecast(with_bar(lambda cb: flow.run_forecast(ws, window=window, seed=seed,
                                                            callbacks=cb)))
        rule("plan")
        show_plan(with_bar(lambda cb: flow.run_plan(ws, seed=seed, callbacks=cb)))
        rule("simulate")
        show_simulate(with_bar(lambda cb: flow.run_simulate(ws, seed=seed, callbacks=cb)))
        rule("season")
        season = Workspace(ws.root / SEASON_FOLDER)
        show_simulate(with_bar(lambda cb: run_season(season, world, seed, cb)))
        rule("insights")
        # brands counted at the world's scale (its brands are sized as 2019's Tmall); the
        # report says so
        scaled = InsightsParams(scale=made.result.market_scale)
        show_insights(with_bar(lambda cb: flow.run_insights(ws, scaled, seed=seed,
                                                            callbacks=cb, compare=[season])))
        rule("report")
        with err.status("writing the report"):
            report = flow.run_report(ws)
        show_report(report)
    out.rule()
    out.print(escape(f"demo finished in {time.perf_counter() - t0:.0f} s ({clock.seconds:.1f} s "
                     f"of it compiling or loading kernels, {clock.compiled} compiled); "
                     f"workspace {workspace.resolve()}"))


def run_season(season: Workspace, world: WorldParams, seed: int,
               callbacks: Callbacks) -> SimulateRun:
    """The demo's multi-day event: the 11.11 season (two weeks) on a world of a fifth of
    ``world``'s SKUs (the same network, storage sized to its sales), forecast with a
    lighter model, planned as stock before it and replenishment waves during it, and
    rehearsed over every day; prints a line per stage."""
    from forestock import flow
    from forestock.forecast import ForecastParams
    from forestock.plan import PastDueWarning
    from forestock.world import SEASON

    small = world.replace(skus=max(world.skus // SEASON_SKU_SHARE, 20))
    flow.run_world(season, small, callbacks=callbacks)
    window = flow.forecast_window(season, SEASON)
    fc = flow.run_forecast(season, ForecastParams(rounds=SEASON_ROUNDS,
                                                  max_train_rows=SEASON_TRAIN_ROWS),
                           window=window, seed=seed, callbacks=callbacks)
    with warnings.catch_warnings():  # overseas brands' sea lead times: first notices late
        warnings.simplefilter("ignore", PastDueWarning)
        plan = flow.run_plan(season, seed=seed, callbacks=callbacks)
    err.print(escape(
        f"{SEASON} {window.start}..{window.end} in {season.root} ({small.skus} SKUs): forecast "
        f"{fc.national['mean']:,.0f} units; plan places {plan.facts['units']:,} before it and "
        f"{plan.facts.get('inbound_units', 0):,} in {plan.facts.get('waves', 0)} waves"),
        highlight=False)
    return flow.run_simulate(season, seed=seed, callbacks=callbacks)
