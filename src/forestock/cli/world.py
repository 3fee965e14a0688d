"""``forestock world``: generate the embedded China world."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.markup import escape

from forestock.cli._common import (
    ConfigOpt,
    JsonOpt,
    RichCallbacks,
    WorkspaceOpt,
    app,
    emit_json,
    out,
    progress_bar,
    rich_table,
    stage_params,
    user_errors,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.flow import WorldRun


@app.command()
def world(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: Annotated[int | None, typer.Option(
        min=0, show_default="WorldParams.seed",
        help="Seed of every random draw (>= 0); same seed, same tables.")] = None,
    skus: Annotated[int | None, typer.Option(min=1, show_default="WorldParams.skus",
                                             help="Number of products (SKUs).")] = None,
    regions: Annotated[int | None, typer.Option(
        min=1, show_default="WorldParams.regions",
        help="Delivery regions (31 provinces always).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate the embedded China world (deterministic for a seed).

    Writes regions, warehouses, brands, SKUs, lanes, two years of daily sales history, the
    event calendar, and the truth of the coming 11.11, kept apart for scoring and rehearsal.
    """
    from forestock.flow import run_world
    from forestock.world import WorldParams

    with user_errors():
        params = stage_params(WorldParams, config, seed=seed, skus=skus, regions=regions)
        with progress_bar(as_json) as progress:
            run = run_world(Workspace(workspace), params, callbacks=RichCallbacks(progress))
    show_world(run, as_json)


def show_world(run: WorldRun, as_json: bool = False) -> None:
    """Print the world's tables and windows (or its facts as JSON)."""
    if as_json:
        emit_json(run.facts)
        return
    result = run.result
    counts = pd.DataFrame({"table": list(result.rows), "rows": list(result.rows.values())})
    root = run.store.root if isinstance(run.store, Workspace) else "memory"
    out.print(rich_table(f"World (seed {result.seed}) written to {root}", counts))
    out.print(f"history {result.history_start} to {result.history_end}; the event "
              f"{result.event_date} (truth kept apart); {run.facts['seconds']:.1f} s")
    out.print(escape(f"brands sized as on 2019's Tmall (CNY {result.market_gmv / 1e9:,.0f} bn "
                     f"on an 11.11 at full size); the world sells 1/"
                     f"{1 / result.market_scale:,.0f} of that (`forestock insights --scale "
                     "world` counts brands at this scale)"), soft_wrap=True)
