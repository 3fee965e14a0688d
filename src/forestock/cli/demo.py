"""``forestock demo``: the whole flow on the embedded world."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, TypeVar

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

R = TypeVar("R")


@app.command()
def demo(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: SeedOpt = 0,
    skus: Annotated[int | None, typer.Option(min=1, show_default="WorldParams.skus",
                                             help="Number of products in the world.")] = None,
) -> None:
    """Run the whole flow on the embedded China world and write the report.

    world, forecast, plan, simulate, insights, report; prints the headline figures and the
    report's path.
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
    stages = ("world", "forecast", "plan", "simulate", "insights", "report")

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
        rule("insights")
        # brands counted at the world's scale (its brands are sized as 2019's Tmall); the
        # report says so
        scaled = InsightsParams(scale=made.result.market_scale)
        show_insights(with_bar(lambda cb: flow.run_insights(ws, scaled, seed=seed,
                                                            callbacks=cb)))
        rule("report")
        with err.status("writing the report"):
            report = flow.run_report(ws)
        show_report(report)
    out.rule()
    out.print(escape(f"demo finished in {time.perf_counter() - t0:.0f} s ({clock.seconds:.1f} s "
                     f"of it compiling or loading kernels, {clock.compiled} compiled); "
                     f"workspace {workspace.resolve()}"))
