"""``forestock insights``: what the event's data says, as tables in the workspace."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

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


class ExportFormat(StrEnum):
    """File format of ``--export``."""

    csv = "csv"
    parquet = "parquet"


@app.command()
def insights(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    threshold: Annotated[list[float] | None, typer.Option(
        "--threshold", min=0.01,
        help="A GMV threshold of the brand leaderboard in the data's currency (repeat for "
             "several; default 1e9 and 1e8).")] = None,
    counterfactual: Annotated[bool, typer.Option(
        help="Forecast the no-event counterfactual for the event lift (as long as a "
             "forecast).")] = True,
    export: Annotated[Path | None, typer.Option(
        help="Also write every insight table into this folder.")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Format of --export.")
                   ] = ExportFormat.csv,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """After the event: brand leaderboard, regional taste, event lift, event comparison,
    the plan's post-mortem and what to change next year, as insight_* tables (the report
    shows them)."""
    from forestock.insights import InsightsParams, run_insights

    with user_errors():
        params = InsightsParams(counterfactual=counterfactual)
        if threshold:
            params = params.replace(thresholds=tuple(threshold))
        ws = Workspace(workspace)
        ws.check_exists()
        with progress_bar(quiet=as_json) as bar:
            result = run_insights(ws, params, seed=seed, callbacks=RichCallbacks(bar),
                                  export=export, export_format=fmt.value)
    if as_json:
        emit_json({"tables": {k: len(v) for k, v in result.tables.items()},
                   "figures": result.figures,
                   "window": None if result.window is None else
                   {"event": result.window.event, "start": result.window.start,
                    "end": result.window.end}})
        return
    f = result.figures
    rows = [(k.replace("_", " "), _shown(k, v)) for k, v in f.items() if k != "brands_above"]
    above = f.get("brands_above", {})
    if isinstance(above, dict):
        rows += [(f"brands {k}", str(v)) for k, v in above.items()]
    out.print(rich_table("insights", pd.DataFrame(rows, columns=["figure", "value"])))
    out.print(escape(f"{len(result.tables)} insight tables written to {ws.root} "
                     "(forestock sql 'SELECT * FROM insight_lift'); `forestock report` shows "
                     "them"), soft_wrap=True)
    if export is not None:
        out.print(escape(f"exported to {export}"), soft_wrap=True)


def _shown(name: str, value: object) -> str:
    """A figure as a planner reads it: shares in percent, counts and money with separators,
    ratios to two decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if name.startswith("share"):
        return f"{value:.1%}"
    if isinstance(value, int) or abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:,.2f}"
