"""``forestock world``: generate the embedded China world."""

from __future__ import annotations

import time
from typing import Annotated

import pandas as pd
import typer

from forestock.cli._common import (
    JsonOpt,
    RichCallbacks,
    SeedOpt,
    WorkspaceOpt,
    app,
    emit_json,
    out,
    progress_bar,
    public_facts,
    rich_table,
    user_errors,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


@app.command()
def world(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: SeedOpt = 0,
    skus: Annotated[int, typer.Option(min=1, help="Number of products (SKUs).")] = 500,
    regions: Annotated[int, typer.Option(min=1, help="Delivery regions (31 provinces always).")
                       ] = 80,
    as_json: JsonOpt = False,
) -> None:
    """Generate the embedded China world (deterministic for a seed).

    Writes regions, warehouses, brands, SKUs, lanes, two years of daily sales history, the
    event calendar, and the truth of the coming 11.11, kept apart for scoring and rehearsal.
    """
    from forestock.world import WorldParams, build_world

    with user_errors():
        params = WorldParams(seed=seed, skus=skus, regions=regions)
        ws = Workspace(workspace)
        t0 = time.perf_counter()
        with ws.stage("world"):  # every table of the world, published together
            with progress_bar(as_json) as progress:
                result = build_world(ws, params, RichCallbacks(progress))
            elapsed = time.perf_counter() - t0
            facts = {**public_facts(result), "seconds": round(elapsed, 2)}
            ws.note("world", facts)
    if as_json:
        emit_json(facts)
        return
    counts = pd.DataFrame({"table": list(result.rows), "rows": list(result.rows.values())})
    out.print(rich_table(f"World (seed {seed}) written to {ws.root}", counts))
    out.print(f"history {result.history_start} to {result.history_end}; the event "
              f"{result.event_date} (truth kept apart); {elapsed:.1f} s")
