"""``forestock simulate``: rehearse the event day order by order."""

from __future__ import annotations

import datetime as dt
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from forestock._runtime import CompileClock
from forestock.cli._common import (
    JsonOpt,
    RichCallbacks,
    SeedOpt,
    WorkspaceOpt,
    app,
    emit_json,
    err,
    out,
    parse_date,
    progress_bar,
    user_errors,
)
from forestock.errors import ForestockError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

CHECKPOINT = ".simulate-checkpoint.npz"
"""File, inside the workspace, holding the checkpoint of an unfinished rehearsal."""


class Source(StrEnum):
    """Where the day's demand comes from."""

    truth = "truth"
    forecast = "forecast"
    orders = "orders"


class Pool(StrEnum):
    """How the workers run (see ``SimulateParams.pool``)."""

    threads = "threads"
    processes = "processes"


class Policy(StrEnum):
    """Routing policies (see ``forestock.simulate.ROUTING_POLICIES``)."""

    nearest = "nearest"
    nearest_only = "nearest_only"


def _event_day(ws: Workspace, dates: pd.Series, weights: pd.Series, event: str | None) -> dt.date:
    """The event's day among ``dates`` if the calendar names it, else the busiest date."""
    days = pd.to_datetime(dates).dt.normalize()
    if event and ws.has("calendar"):
        cal = ws.read("calendar")
        marked = set(pd.to_datetime(cal.loc[cal["event"] == event, "date"]).dt.date)
        in_data = sorted(marked & set(days.dt.date))
        if in_data:
            return in_data[0]
    totals = weights.groupby(days.to_numpy()).sum()
    return pd.Timestamp(totals.idxmax()).date()


def _demand(ws: Workspace, source: Source, day: str | None, event: str,
            seed: int) -> tuple[dt.date, pd.DataFrame]:
    """The day rehearsed and its demand table (sales-shaped, or orders)."""
    from forestock.simulate import demand_from_forecast

    table = source.value
    ws.require([table], f"simulate --source {table}")
    frame = ws.read(table, categorical=source is not Source.forecast)
    if source is Source.orders:
        when = frame["time"]
        weights = frame["units"]
    else:
        when = frame["date"]
        weights = frame["mean"] if source is Source.forecast else frame["units"]
    the_day = parse_date(day, "--day") or _event_day(ws, when, weights, event)
    if source is Source.forecast:
        return the_day, demand_from_forecast(frame, the_day, seed)
    if source is Source.orders:
        return the_day, frame
    demand = frame[frame["date"].dt.date == the_day]
    if demand.empty:
        raise ForestockError(f"the truth table has no sales on {the_day}")
    return the_day, demand


@app.command()
def simulate(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    day: Annotated[str | None, typer.Option(help="Day to rehearse (YYYY-MM-DD); default: the "
                                                 "event's day in the demand source.")] = None,
    event: Annotated[str, typer.Option(help="Calendar event whose day is rehearsed.")] = "11.11",
    seed: SeedOpt = 0,
    source: Annotated[Source, typer.Option(
        help="Demand: the truth table (a post-mortem), a scenario drawn from the forecast's "
             "quantiles (a rehearsal before the event), or your own orders table.")
    ] = Source.truth,
    scale: Annotated[float, typer.Option(
        help="Multiply demand, stock and warehouse capacity (about 400 makes the default "
             "world's 11.11 a 1.3-billion-order day).")] = 1.0,
    workers: Annotated[int, typer.Option(min=1, help="Workers the SKU shards run on; results "
                                                     "do not depend on it.")] = 1,
    pool: Annotated[Pool, typer.Option(
        help="Workers as threads of this process (the kernels release the GIL) or as "
             "spawned processes.")] = Pool.threads,
    policy: Annotated[Policy, typer.Option(help="Routing policy.")] = Policy.nearest,
    factory_hours: Annotated[float | None, typer.Option(
        min=0, help="Ship orders no warehouse can fill from the factory, arriving after this many "
             "hours (default: they are unfilled).")] = None,
    chunk_orders: Annotated[int, typer.Option(min=1, help="Orders held in memory at once.")
                            ] = 200_000,
    checkpoint_every: Annotated[float, typer.Option(
        min=0, help="Seconds between checkpoints of a long run.")] = 30.0,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Finish an interrupted run (same options) from its checkpoint.")
    ] = False,
    live: Annotated[bool, typer.Option(
        "--live", help="Publish the rehearsal's progress chunk by chunk to the workspace's "
                        "progress file, for `forestock serve`.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rehearse the event day order by order and measure the 48-hour promise.

    Orders arrive with the midnight surge, go to the nearest warehouse holding stock, wait
    behind its hourly outbound capacity, travel the lane, and count as delivered within
    24 h, within 48 h, late, or unfilled. Writes the outcomes_* tables. A long run writes
    checkpoints; after a crash, `--resume` finishes it with identical results. With `--live`
    its progress is published chunk by chunk for `forestock serve`.
    """
    from forestock.cli.serve import live_callbacks
    from forestock.simulate import SimulateParams, SimulateProblem, check_outcomes
    from forestock.simulate import simulate as run

    with user_errors():
        params = SimulateParams(scale=scale, workers=workers, pool=pool.value, policy=policy.value,
                                factory_hours=factory_hours, chunk_orders=chunk_orders,
                                checkpoint_seconds=checkpoint_every)
        ws = Workspace(workspace)
        inputs = ["plan", "warehouses", "lanes", "skus", "regions"]
        ws.require(inputs, "simulate")
        ckpt = Path(workspace) / CHECKPOINT
        if resume and not ckpt.exists():
            raise ForestockError(f"no interrupted rehearsal to resume in {workspace}")
        with ws.stage("simulate", reads=[*inputs, source.value]):  # outcomes and notes
            the_day, demand = _demand(ws, source, day, event, seed)
            problem = SimulateProblem.from_tables(
                the_day, demand, ws.read("plan"), ws.read("warehouses"), ws.read("lanes"),
                ws.read("skus"), ws.read("regions"))
            t0 = time.perf_counter()
            with progress_bar(as_json) as progress, CompileClock() as clock:
                cb = live_callbacks(RichCallbacks(progress), live, ws, problem, params, seed)
                result = run(problem, params, seed, cb, checkpoint=ckpt,
                             resume=resume)
            elapsed = time.perf_counter() - t0
            check_outcomes(result, problem)
            ws.write_many(result.tables)
            facts = _sim_facts(result, elapsed, clock.seconds, source.value)
            ws.note("simulate", facts)
    if as_json:
        emit_json(facts)
        return
    if resume:
        err.print(f"resumed at {dt.timedelta(seconds=int(result.figures['resumed_at_second']))}"
                  " of the day")
    _print_headline(facts)


def _sim_facts(result: Any, elapsed: float, compiling: float, source: str) -> dict[str, Any]:
    """The rehearsal's figures; its speed leaves out ``compiling`` (seconds this process
    spent compiling or loading numba kernels during the run)."""
    running = max(elapsed - compiling, 1e-9)
    return {
        "day": result.day, "seed": result.seed, "source": source, "orders": result.orders,
        "units": result.units, "gmv": result.gmv, "gmv_per_second": result.gmv / 86_400,
        "peak_orders_per_second": result.peak_orders_per_second,
        "peak_time": str(dt.timedelta(seconds=result.peak_second)),
        "share_24h": result.share_24h, "share_48h": result.share_48h,
        "share_72h": result.figures["share_72h"], "unfilled_share": result.unfilled_share,
        "factory_units": int(result.figures["factory_units"]),
        "backlog_hours": int(result.figures["backlog_hours"]),
        "scale": result.figures["scale"], "workers": int(result.figures["workers"]),
        "resumed_at_second": int(result.figures["resumed_at_second"]),
        "seconds": round(elapsed, 2), "compile_seconds": round(compiling, 2),
        "orders_per_second_simulated": result.orders / running,
    }


def _print_headline(f: dict[str, Any]) -> None:
    t = Table(title=Text(f"Rehearsal of {f['day']}"), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("GMV", f"CNY {f['gmv']:,.0f}")
    t.add_row("GMV per second (average)", f"CNY {f['gmv_per_second']:,.0f}")
    t.add_row("orders", f"{f['orders']:,}")
    t.add_row("units", f"{f['units']:,}")
    t.add_row("peak orders per second", f"{f['peak_orders_per_second']:,} at {f['peak_time']}")
    t.add_row("units delivered within 24 h", f"{f['share_24h']:.1%}")
    t.add_row("units delivered within 48 h", f"{f['share_48h']:.1%}")
    t.add_row("units delivered within 72 h", f"{f['share_72h']:.1%}")
    t.add_row("units unfilled", f"{f['unfilled_share']:.1%}")
    t.add_row("backlogs cleared after", f"{f['backlog_hours']} h")
    t.add_row("rehearsal speed", f"{f['orders_per_second_simulated']:,.0f} orders/s "
                                 f"({f['seconds']:.1f} s, {f['workers']} worker(s); compiling "
                                 f"kernels, {f['compile_seconds']:.1f} s of it, left out)")
    out.print(t)
