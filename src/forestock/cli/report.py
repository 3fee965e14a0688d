"""``forestock report``: the self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from forestock.flow import ReportRun


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
    from forestock.flow import run_report

    with user_errors(), err.status("writing the report"):
        run = run_report(Workspace(workspace), output)
    show_report(run)


def show_report(run: ReportRun) -> None:
    """Warn of the stale tables the report marked, and print its path."""
    for name, why in run.stale.items():
        warn(f"{name} is stale: {why}; the report marks the sections that show it")
    out.print(f"report: {escape(str(run.path.resolve()))}", soft_wrap=True)
