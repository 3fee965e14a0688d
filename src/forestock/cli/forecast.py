"""``forestock forecast``: units per SKU, region and date of an event window."""

from __future__ import annotations

from typing import Annotated

import typer

from forestock.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    app,
    emit_json,
    err,
    out,
    parse_date,
    rich_table,
    user_errors,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


@app.command()
def forecast(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    event: Annotated[str | None, typer.Option(help="Forecast the next occurrence of this "
                                                    "calendar event after the history.")] = None,
    start: Annotated[str | None, typer.Option(help="First date of a window (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last date of a window (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Forecast units per SKU, region and date of an event window, with quantiles.

    Writes the forecast table (mean, q10, q50, q90). Without --event or --start/--end,
    forecasts the next 11.11 after the history ends.
    """
    from forestock.forecast import forecast as run_forecast
    from forestock.forecast import target_window

    with user_errors():
        ws = Workspace(workspace)
        ws.require(["history", "calendar"], "forecast")
        with err.status("reading history"):
            history = ws.read("history", categorical=True)
            calendar = ws.read("calendar")
            skus = ws.read("skus") if ws.has("skus") else None
            regions = ws.read("regions") if ws.has("regions") else None
        if event is None and start is None and end is None:
            event = "11.11"
        window = target_window(calendar, history["date"].max().date(), event,
                               parse_date(start, "--start"), parse_date(end, "--end"))
        with err.status(f"forecasting {window.start}..{window.end}"):
            table = run_forecast(history, calendar, window, skus, regions)
            ws.write("forecast", table)
    facts = {"event": window.event, "start": window.start, "end": window.end,
             "rows": len(table), "units_mean": float(table["mean"].sum()),
             "units_q10": float(table["q10"].sum()), "units_q90": float(table["q90"].sum())}
    ws.note("forecast", facts)
    if as_json:
        emit_json(facts)
        return
    daily = table.groupby("date")[["mean", "q10", "q50", "q90"]].sum().reset_index()
    daily["date"] = daily["date"].dt.date.astype(str)
    out.print(rich_table(f"National forecast, {window.event} {window.start}..{window.end}", daily,
                     dict.fromkeys(("mean", "q10", "q50", "q90"), ",.0f")))
