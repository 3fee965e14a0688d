"""``forestock load`` and ``forestock sql``: bring tables in, query them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from forestock.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    app,
    emit_json,
    out,
    rich_table,
    user_errors,
    warn,
)
from forestock.errors import ForestockError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace, load_dir


@app.command()
def load(
    folder: Annotated[Path, typer.Argument(help="Folder with TABLE.csv or TABLE.parquet "
                                                  "files (regions.csv, skus.csv, history.csv...)")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Import your own tables (CSV in UTF-8, or Parquet) into the workspace.

    Files are named after the tables they hold. Only the tables the stages you run need are
    required: forecast needs history and calendar; plan needs forecast, warehouses, lanes,
    skus, regions; simulate needs plan and truth (or orders). Every file is checked first;
    on any problem nothing in the workspace changes."""
    with user_errors():
        ws = Workspace(workspace)
        with ws.stage("load"):
            report = load_dir(ws, folder)
    if as_json:
        emit_json({"loaded": dict(report), "ignored": report.ignored})
        return
    frame = pd.DataFrame({"table": list(report), "rows": list(report.values())})
    out.print(rich_table(f"Loaded into {ws.root}", frame))
    if report.ignored:
        out.print(f"ignored (not forestock tables): {escape(', '.join(report.ignored))}")
    for name, why in ws.stale().items():
        warn(f"{name} is stale: {why}; re-run the stage that makes it")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help='SQL over the tables, e.g. "SELECT * FROM '
                                              'outcomes_brand ORDER BY gmv DESC LIMIT 10"')],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    limit: Annotated[int, typer.Option(min=0, help="Rows to print at most.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Query the workspace with SQL (DuckDB, read-only); every table is a view named after it.

    Only queries run: statements that write (COPY, CREATE, INSERT...), attach, install or
    change settings are refused, and no file outside the workspace can be read.
    """
    with user_errors():
        ws = Workspace(workspace)
        ws.check_exists()
        if not ws.tables():
            raise ForestockError(f"{ws.root} holds no tables yet; run `forestock demo` or "
                                 "`forestock load DIR` first")
        frame = ws.sql(query)
    if as_json:
        emit_json({"rows": json.loads(frame.head(limit).to_json(orient="records",
                                                                  date_format="iso"))})
        return
    title = f"{len(frame):,} rows" + (f" (first {limit})" if len(frame) > limit else "")
    out.print(rich_table(title, frame.head(limit)))
