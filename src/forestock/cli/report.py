"""``forestock report``: the self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from forestock.cli._common import (
    WorkspaceOpt,
    app,
    err,
    out,
    user_errors,
    warn,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


@app.command()
def report(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="HTML file to write; default "
                                                     "WORKSPACE/report.html.")] = None,
) -> None:
    """Write one self-contained HTML report that opens offline.

    Headline figures, GMV per second, delivery by region, the brand leaderboard and
    warehouse utilisation, from whatever tables the workspace holds.
    """
    from forestock.report import build_report

    with user_errors():
        ws = Workspace(workspace)
        ws.check_exists()
        ws.tidy()
        for name, why in ws.stale().items():
            warn(f"{name} is stale: {why}; the report marks the sections that show it")
        with err.status("writing the report"):
            seed = ws.notes().get("simulate", {}).get("seed")
            path = build_report(ws, output, seed=seed if isinstance(seed, int) else None)
    out.print(f"report: {escape(str(path.resolve()))}", soft_wrap=True)
