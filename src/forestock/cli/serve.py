"""``forestock serve``: the event-day control room in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from forestock.callbacks import Callbacks
from forestock.cli._common import WorkspaceOpt, app, err, fail, user_errors
from forestock.errors import WorkspaceNotFoundError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


@app.command()
def serve(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    host: Annotated[str, typer.Option(help="Interface to bind; anything but 127.0.0.1 needs "
                                           "--token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65_535, help="TCP port.")] = 8018,
    token: Annotated[str | None, typer.Option(
        envvar="FORESTOCK_TOKEN", help="Secret every viewer must give (open the page at "
                                       "/?token=...); needed with --host.")] = None,
    speed: Annotated[float, typer.Option(
        min=0.001, help="Replay speed, seconds of the day a second (360: the day in 4 "
                        "minutes).")] = 360.0,
    start: Annotated[float, typer.Option(min=0, max=86_400,
                                         help="Second of the day a replay starts at.")] = 0.0,
    backlog_hours: Annotated[float, typer.Option(
        min=0.001, help="Alert when a warehouse's backlog exceeds this many hours of its "
                        "outbound capacity.")] = 4.0,
    promise: Annotated[float, typer.Option(
        min=0, max=1, help="Alert when a region's share of units within 24 h falls below "
                           "this.")] = 0.8,
    progress: Annotated[Path | None, typer.Option(
        help="Progress file to follow (default: the workspace's, written by `forestock "
             "simulate --live`).")] = None,
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
        try:
            params = ServeParams(host=host, port=port, token=token, speed=speed, start=start,
                                 backlog_hours=backlog_hours, promise_share=promise)
        except ValueError as exc:
            fail(exc)
        where = f"http://{host}:{port}/" + ("?token=..." if token else "")
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
            probs = np.asarray(params.size_probs, dtype=np.float64)
            mean_size = float(np.dot(np.arange(1, probs.size + 1), probs))
            expected = float(day["mean"].sum()) * params.scale / mean_size
    return ProgressWriter(progress_path(ws.root), problem, ws.read("regions"),
                          ws.read("warehouses"), ws.read("brands"), expected_orders=expected,
                          seed=seed, forward=base)
