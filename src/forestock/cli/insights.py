"""``forestock insights``: what the event's data says, as tables in the workspace."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.markup import escape

from forestock.cli._common import (
    ConfigOpt,
    JsonOpt,
    RichCallbacks,
    SeedOpt,
    WorkspaceOpt,
    app,
    emit_json,
    out,
    progress_bar,
    rich_table,
    stage_params,
    user_errors,
)
from forestock.errors import ForestockError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.flow import InsightsRun


class ExportFormat(StrEnum):
    """File format of ``--export``."""

    csv = "csv"
    parquet = "parquet"


@app.command()
def insights(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    threshold: Annotated[list[float] | None, typer.Option(
        "--threshold", min=0.01, show_default="InsightsParams.thresholds",
        help="A GMV threshold of the brand leaderboard in the data's currency (repeat for "
             "several; default CNY 1 billion and 100 million).")] = None,
    scale: Annotated[str | None, typer.Option(
        show_default="InsightsParams.scale",
        help="The data's size against the market the thresholds are set for: a brand counts "
             "when its GMV reaches threshold x scale, and the report says so (1: as given). "
             "'world': the scale the embedded world noted (about 1/200: its brands are "
             "sized as 2019's Tmall).")] = None,
    counterfactual: Annotated[bool | None, typer.Option(
        show_default="InsightsParams.counterfactual",
        help="Forecast the no-event counterfactual for the event lift (as long as a "
             "forecast).")] = None,
    export: Annotated[Path | None, typer.Option(
        help="Also write every insight table into this folder.")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Format of --export.")
                   ] = ExportFormat.csv,
    compare: Annotated[list[Path] | None, typer.Option(
        "--compare", help="Another workspace whose rehearsal stands beside this one's "
                          "(repeat for several): a multi-day event of the same network "
                          "beside a one-day event.")] = None,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """After the event: brand leaderboard, regional taste, event lift, event comparison,
    rehearsals side by side (--compare), the plan's post-mortem and what to change next
    year, as insight_* tables (the report shows them). --config sets the insights'
    parameters (its insights table)."""
    from forestock.flow import run_insights
    from forestock.insights import InsightsParams

    with user_errors():
        ws = Workspace(workspace)
        params = stage_params(InsightsParams, config, counterfactual=counterfactual,
                              thresholds=tuple(threshold) if threshold else None,
                              scale=None if scale is None else _scale(scale, ws))
        ws.check_exists()
        with progress_bar(quiet=as_json) as bar:
            run = run_insights(ws, params, seed=seed, callbacks=RichCallbacks(bar),
                               export=export, export_format=fmt.value,
                               compare=list(compare or ()))
    show_insights(run, as_json, export)


def _scale(text: str, ws: Workspace) -> float:
    """``--scale``: a number, or ``world`` (the world stage's noted ``market_scale``)."""
    if text.strip().lower() != "world":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"--scale must be a number or 'world', got {text!r}") from None
    ws.check_exists()
    noted = ws.notes().get("world", {}).get("market_scale")
    if not isinstance(noted, int | float):
        raise ForestockError(f"--scale world: the workspace {ws.root} has no world stage "
                             "noting its scale (run `forestock world`, or give a number)")
    return float(noted)


def show_insights(run: InsightsRun, as_json: bool = False, export: Path | None = None) -> None:
    """Print the insights' headline figures and where their tables went (or JSON)."""
    result = run.result
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
    where = run.store.root if isinstance(run.store, Workspace) else "memory"
    out.print(escape(f"{len(result.tables)} insight tables written to {where} "
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
    if name == "scale" and 0 < value < 1:
        return f"1/{1 / value:,.0f}"
    if isinstance(value, int) or abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:,.2f}"
