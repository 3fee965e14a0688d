"""``forestock demo``: the whole flow on the embedded world."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import typer
from rich.markup import escape

from forestock._runtime import CompileClock
from forestock.cli._common import (
    SeedOpt,
    WorkspaceOpt,
    app,
    out,
)
from forestock.workspace import DEFAULT_WORKSPACE


@app.command()
def demo(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: SeedOpt = 0,
    skus: Annotated[int, typer.Option(min=1, help="Number of products in the world.")] = 500,
) -> None:
    """Run the whole flow on the embedded China world and write the report.

    world, forecast, plan, simulate, insights, report; prints the headline figures and the
    report's path.
    """
    # the stage verbs, imported here so that they register in flow order
    from forestock.cli.forecast import forecast
    from forestock.cli.insights import ExportFormat, insights
    from forestock.cli.plan import plan
    from forestock.cli.report import report
    from forestock.cli.simulate import simulate
    from forestock.cli.world import world

    steps: list[tuple[str, Callable[[], None]]] = [
        ("world", lambda: world(workspace=workspace, seed=seed, skus=skus, regions=80,
                                as_json=False)),
        ("forecast", lambda: forecast(workspace=workspace, event="11.11", start=None, end=None,
                                      seed=seed, as_json=False)),
        ("plan", lambda: plan(workspace=workspace, seed=seed, as_json=False)),
        ("simulate", lambda: simulate(workspace=workspace, day=None, event="11.11", seed=seed,
                                      as_json=False)),
        ("insights", lambda: insights(workspace=workspace, threshold=None, counterfactual=True,
                                      export=None, fmt=ExportFormat.csv, seed=seed,
                                      as_json=False)),
        ("report", lambda: report(workspace=workspace, output=None)),
    ]
    t0 = time.perf_counter()
    with CompileClock() as clock:
        for i, (name, step) in enumerate(steps, 1):
            out.rule(f"[bold]{i}/{len(steps)} {name}")
            step()
    out.rule()
    out.print(escape(f"demo finished in {time.perf_counter() - t0:.0f} s ({clock.seconds:.1f} s "
                     f"of it compiling or loading kernels, {clock.compiled} compiled); "
                     f"workspace {workspace.resolve()}"))
