"""``forestock simulate``: rehearse the event day order by order."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from forestock.cli._common import (
    JsonOpt,
    RichCallbacks,
    SeedOpt,
    WorkspaceOpt,
    app,
    emit_json,
    out,
    parse_date,
    progress_bar,
    user_errors,
)
from forestock.errors import ForestockError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


def _event_day(ws: Workspace, demand: pd.DataFrame, event: str | None) -> dt.date:
    if event and ws.has("calendar"):
        cal = ws.read("calendar")
        days = set(pd.to_datetime(cal.loc[cal["event"] == event, "date"]).dt.date)
        in_demand = sorted(days & set(pd.to_datetime(demand["date"]).dt.date))
        if in_demand:
            return in_demand[0]
    totals = demand.groupby("date")["units"].sum()
    return pd.Timestamp(totals.idxmax()).date()


@app.command()
def simulate(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    day: Annotated[str | None, typer.Option(help="Day to rehearse (YYYY-MM-DD); default: the "
                                                 "event's day in the truth table.")] = None,
    event: Annotated[str, typer.Option(help="Calendar event whose day is rehearsed.")] = "11.11",
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Rehearse the event day order by order and measure the 48-hour promise.

    Orders arrive with the midnight surge, go to the nearest warehouse holding stock, wait
    behind its hourly outbound capacity, travel the lane, and count as delivered within
    24 h, within 48 h, late, or unfilled. Writes the outcomes_* tables.
    """
    from forestock.simulate import SimulateParams, SimulateProblem
    from forestock.simulate import simulate as run

    with user_errors():
        ws = Workspace(workspace)
        ws.require(["plan", "truth", "warehouses", "lanes", "skus", "regions"], "simulate")
        truth = ws.read("truth", categorical=True)
        the_day = parse_date(day, "--day") or _event_day(ws, truth, event)
        demand = truth[truth["date"].dt.date == the_day]
        if demand.empty:
            raise ForestockError(f"the truth table has no sales on {the_day}")
        problem = SimulateProblem.from_tables(
            the_day, demand, ws.read("plan"), ws.read("warehouses"), ws.read("lanes"),
            ws.read("skus"), ws.read("regions"))
        t0 = time.perf_counter()
        with progress_bar(as_json) as progress:
            result = run(problem, SimulateParams(), seed, RichCallbacks(progress))
        elapsed = time.perf_counter() - t0
        ws.write_many(result.tables)
    facts = _sim_facts(result, elapsed)
    ws.note("simulate", facts)
    if as_json:
        emit_json(facts)
        return
    _print_headline(facts)


def _sim_facts(result: Any, elapsed: float) -> dict[str, Any]:
    return {
        "day": result.day, "seed": result.seed, "orders": result.orders, "units": result.units,
        "gmv": result.gmv, "gmv_per_second": result.gmv / 86_400,
        "peak_orders_per_second": result.peak_orders_per_second,
        "peak_time": str(dt.timedelta(seconds=result.peak_second)),
        "share_24h": result.share_24h, "share_48h": result.share_48h,
        "unfilled_share": result.unfilled_share, "seconds": round(elapsed, 2),
        "orders_per_second_simulated": result.orders / max(elapsed, 1e-9),
    }


def _print_headline(f: dict[str, Any]) -> None:
    t = Table(title=f"Rehearsal of {f['day']}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("GMV", f"CNY {f['gmv']:,.0f}")
    t.add_row("GMV per second (average)", f"CNY {f['gmv_per_second']:,.0f}")
    t.add_row("orders", f"{f['orders']:,}")
    t.add_row("units", f"{f['units']:,}")
    t.add_row("peak orders per second", f"{f['peak_orders_per_second']:,} at {f['peak_time']}")
    t.add_row("units delivered within 24 h", f"{f['share_24h']:.1%}")
    t.add_row("units delivered within 48 h", f"{f['share_48h']:.1%}")
    t.add_row("units unfilled", f"{f['unfilled_share']:.1%}")
    out.print(t)
