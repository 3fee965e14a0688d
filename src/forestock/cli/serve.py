"""``forestock serve``: the event-day control room in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from forestock.callbacks import Callbacks
from forestock.cli._common import ConfigOpt, WorkspaceOpt, app, err, fail, stage_params, user_errors
from forestock.errors import WorkspaceNotFoundError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


@app.command()
def serve(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    host: Annotated[str | None, typer.Option(
        show_default="ServeParams.host",
        help="Interface to bind; anything but 127.0.0.1 needs --token.")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65_535, show_default="ServeParams.port",
                                             help="TCP port.")] = None,
    token: Annotated[str | None, typer.Option(
        envvar="FORESTOCK_TOKEN", help="Secret every viewer must give (open the page at "
                                       "/?token=...); needed with --host.")] = None,
    speed: Annotated[float | None, typer.Option(
        min=0.001, show_default="ServeParams.speed",
        help="Replay speed, seconds of the day a second (360: the day in 4 minutes).")
    ] = None,
    start: Annotated[float | None, typer.Option(
        min=0, max=86_400, show_default="ServeParams.start",
        help="Second of the day a replay starts at.")] = None,
    backlog_hours: Annotated[float | None, typer.Option(
        min=0.001, show_default="ServeParams.backlog_hours",
        help="Alert when a warehouse's backlog exceeds this many hours of its outbound "
             "capacity.")] = None,
    promise: Annotated[float | None, typer.Option(
        min=0, max=1, show_default="ServeParams.promise_share",
        help="Alert when a region's share of units within 24 h falls below this.")] = None,
    progress: Annotated[Path | None, typer.Option(
        help="Progress file to follow (default: the workspace's, written by `forestock "
             "simulate --live`).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the live dashboard of a rehearsal: follow one as it runs or replay a finished one.

    Run `forestock simulate --live` (before or after) to publish a rehearsal's progress chunk
    by chunk; the page shows GMV so far and per second, orders per second against the plan,
    delivery within 24 h by province on a map, warehouse backlogs, the brand leaderboard and
    alerts. A finished rehearsal replays at --speed with pause and seek. Binds 127.0.0.1
    unless --host is given with a --token. Stop with Ctrl-C.
    """
    from forestock.serve import ServeParams
    from forestock.serve import serve as run

    with user_errors():
        if not Path(workspace).is_dir():
            raise WorkspaceNotFoundError(f"workspace {workspace} does not exist")
        params = stage_params(ServeParams, config, host=host, port=port, token=token,
                              speed=speed, start=start, backlog_hours=backlog_hours,
                              promise_share=promise)
        where = f"http://{params.host}:{params.port}/" + ("?token=..." if params.token else "")
        err.print(f"serving the control room of {workspace} at {where} (Ctrl-C to stop)",
                  highlight=False)
        try:
            run(workspace, params, progress)
        except ImportError as exc:
            fail(exc)


def live_callbacks(base: Callbacks, live: bool, ws: Workspace, problem: Any, params: Any,
                   seed: int) -> Callbacks:
    """``base``, or with ``live`` a writer of the workspace's progress file that forwards to
    it (``forestock simulate --live``); the plan's expectation of orders from the forecast
    where the workspace has one for the day."""
    if not live:
        return base
    from forestock.serve import progress_path
    from forestock.serve._writer import ProgressWriter

    expected = None
    if ws.has("forecast"):
        fc = ws.read("forecast")
        day = fc[pd.to_datetime(fc["date"]).dt.date == problem.day]
        if not day.empty:
            expected = (float(day["mean"].sum()) * params.scale
                        / params.network.units_per_order)
    return ProgressWriter(progress_path(ws.root), problem, ws.read("regions"),
                          ws.read("warehouses"), ws.read("brands"), expected_orders=expected,
                          seed=seed, forward=base)
