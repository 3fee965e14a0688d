"""``forestock simulate``: rehearse the event day order by order."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from forestock.callbacks import Callbacks
from forestock.cli._common import (
    ClusterOpt,
    ConfigOpt,
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
    stage_params,
    user_errors,
)
from forestock.errors import ForestockError
from forestock.flow import CHECKPOINT, DEFAULT_EVENT, DemandSource
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.flow import ScenariosRun, SimulateRun
    from forestock.simulate import SimulateProblem, WhatIf

__all__ = ["CHECKPOINT", "show_scenarios", "show_simulate", "simulate"]


class Pool(StrEnum):
    """How the workers run (see ``SimulateParams.pool``)."""

    threads = "threads"
    processes = "processes"


class Policy(StrEnum):
    """Routing policies (see ``forestock.simulate.ROUTING_POLICIES``)."""

    nearest = "nearest"
    nearest_only = "nearest_only"


@app.command()
def simulate(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    day: Annotated[str | None, typer.Option(help="Day to rehearse (YYYY-MM-DD); default: every "
                                                 "day the plan was made for, or the event's "
                                                 "day in the demand source.")] = None,
    event: Annotated[str, typer.Option(help="Calendar event whose day is rehearsed.")
                     ] = DEFAULT_EVENT,
    seed: SeedOpt = 0,
    source: Annotated[DemandSource, typer.Option(
        help="Demand: the truth table (a post-mortem), a scenario drawn from the forecast's "
             "quantiles (a rehearsal before the event), or your own orders table.")
    ] = DemandSource.truth,
    scenario: Annotated[int | None, typer.Option(
        min=0, help="With --source forecast: rehearse the plan's own scenario K (of the "
                    "scenarios it was valued on; the rehearsal then measures what the plan "
                    "expected). Default: a fresh scenario drawn with --seed.")] = None,
    scale: Annotated[float | None, typer.Option(
        show_default="SimulateParams.scale",
        help="Multiply demand, stock and warehouse capacity (about 400 makes the default "
             "world's 11.11 a 1.3-billion-order day).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, show_default="SimulateParams.workers",
        help="Workers the SKU shards run on; results do not depend on it.")] = None,
    pool: Annotated[Pool | None, typer.Option(
        show_default="SimulateParams.pool",
        help="Workers as threads of this process (the kernels release the GIL) or as "
             "spawned processes.")] = None,
    policy: Annotated[Policy | None, typer.Option(show_default="SimulateParams.policy",
                                                  help="Routing policy.")] = None,
    factory_hours: Annotated[float | None, typer.Option(
        min=0, help="Ship orders no warehouse can fill from the factory, arriving after this many "
             "hours (default: they are unfilled).")] = None,
    chunk_orders: Annotated[int | None, typer.Option(
        min=1, show_default="SimulateParams.chunk_orders",
        help="Orders held in memory at once.")] = None,
    checkpoint_every: Annotated[float | None, typer.Option(
        min=0, show_default="SimulateParams.checkpoint_seconds",
        help="Seconds between checkpoints of a long run.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Finish an interrupted run (same options) from its checkpoint.")
    ] = False,
    live: Annotated[bool, typer.Option(
        "--live", help="Publish the rehearsal's progress chunk by chunk to the workspace's "
                        "progress file, for `forestock serve`.")] = False,
    cluster: ClusterOpt = None,
    scenarios: Annotated[int | None, typer.Option(
        min=1, help="Rehearse the day in K demand scenarios drawn from the forecast (the "
                    "plan's model) instead of one, as planned and under the what-ifs; writes "
                    "simulate_scenarios and their P10/P50/P90.")] = None,
    close_warehouse: Annotated[list[str] | None, typer.Option(
        metavar="ID", help="With --scenarios, a what-if: this warehouse ships nothing "
                           "(repeat for several).")] = None,
    slow_lanes: Annotated[float | None, typer.Option(
        min=0.0, metavar="FACTOR",
        help="With --scenarios, a what-if: every lane's hours times FACTOR.")] = None,
    demand_up: Annotated[list[str] | None, typer.Option(
        metavar="REGION=FACTOR", help="With --scenarios, a what-if: the region's demand "
                                      "times FACTOR (repeat for several).")] = None,
    what_if: Annotated[Path | None, typer.Option(
        dir_okay=False, metavar="FILE.toml",
        help="With --scenarios, what-ifs from a TOML file, one [[what_if]] table each (name, "
             "close_warehouses, slow_lanes, demand_up).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rehearse the event order by order and measure the 48-hour promise.

    Orders arrive with the midnight surge, go to the nearest warehouse holding stock, wait
    behind its hourly outbound capacity, travel the lane, and count as delivered within
    24 h, within 48 h, late, or unfilled. Writes the outcomes_* tables. A plan made for an
    event of several days is rehearsed over every day of it (stock and backlogs carried
    over midnight, the plan's replenishment waves arriving as it says; outcomes_day holds
    each day), unless --day names one. A long day writes checkpoints; after a crash,
    `--resume` finishes it with identical results. With `--live` its progress is published
    chunk by chunk for `forestock serve`. --config sets any of the rehearsal's parameters
    (its simulate table). With --cluster the SKU shards run on a Dask cluster's workers.
    With --scenarios K the day is rehearsed K times, in demand scenarios drawn from the
    forecast, as planned and under each what-if (a warehouse closed, lanes slowed, demand
    up in a region), one rehearsal a task (spread over --cluster); it prints and writes
    their distribution.
    """
    from forestock.cli.serve import live_callbacks
    from forestock.flow import planned_window, run_scenarios, run_simulate
    from forestock.simulate import SimulateParams

    with user_errors():
        params = stage_params(SimulateParams, config, scale=scale, workers=workers,
                              pool=pool and pool.value, policy=policy and policy.value,
                              factory_hours=factory_hours, chunk_orders=chunk_orders,
                              checkpoint_seconds=checkpoint_every)
        ws = Workspace(workspace)
        changes = _what_ifs(what_if, close_warehouse or [], slow_lanes, demand_up or [])
        if scenarios is not None:
            for flag, given in (("--resume", resume), ("--live", live),
                                ("--scenario", scenario is not None)):
                if given:
                    raise ForestockError(f"--scenarios rehearses many scenarios whole: "
                                         f"{flag} is for one rehearsal")
            with progress_bar(as_json) as progress:
                many = run_scenarios(ws, params, scenarios=scenarios, what_ifs=changes,
                                     day=parse_date(day, "--day"), event=event, seed=seed,
                                     callbacks=RichCallbacks(progress), cluster=cluster)
            show_scenarios(many, as_json)
            return
        if changes:
            raise ForestockError("what-ifs are rehearsed over demand scenarios of the "
                                 "forecast: add --scenarios K")
        if live and day is None and len(planned_window(ws)) > 1:
            raise ForestockError("--live follows one day: the plan is for several days, so "
                                 "name the day to follow with --day")
        with progress_bar(as_json) as progress:

            def listen(problem: SimulateProblem) -> Callbacks:
                return live_callbacks(RichCallbacks(progress), live, ws, problem, params, seed)

            run = run_simulate(ws, params, source=source, day=parse_date(day, "--day"),
                               event=event, seed=seed, scenario=scenario, callbacks=listen,
                               resume=resume, cluster=cluster)
    if resume and not as_json:
        err.print(f"resumed at {dt.timedelta(seconds=run.facts['resumed_at_second'])} of the "
                  "day")
    show_simulate(run, as_json)


#: How the scenarios' table names each measure, and whether it is a share.
_MEASURE_LABELS = {"share_24h": ("share within 24 h", True),
                   "share_48h": ("share within 48 h", True),
                   "unfilled_share": ("share unfilled", True),
                   "unfilled": ("units unfilled", False),
                   "peak_backlog": ("peak backlog (parcels)", False)}


def _what_ifs(path: Path | None, close: list[str], slow: float | None,
              up: list[str]) -> list[WhatIf]:
    """The what-ifs of a file, then the one of the flags (if they change anything)."""
    from forestock.simulate import WhatIf, load_what_ifs

    out = list(load_what_ifs(path)) if path is not None else []
    pairs = []
    for item in up:
        region, sep, factor = item.partition("=")
        try:
            pairs.append((region.strip(), float(factor)))
        except ValueError:
            sep = ""
        if not sep or not region.strip():
            raise ForestockError(f"--demand-up {item!r}: expected REGION=FACTOR, e.g. "
                                 "R440100=1.2")
    flags = WhatIf(close_warehouses=tuple(close), slow_lanes=1.0 if slow is None else slow,
                   demand_up=tuple(pairs))
    return [*out, flags] if flags.changes else out


def show_scenarios(run: ScenariosRun, as_json: bool = False) -> None:
    """Print the scenarios' distribution per what-if (or the run's facts as JSON)."""
    f = run.facts
    if as_json:
        emit_json(f)
        return
    summary = run.result.summary
    t = Table(title=Text(f"{f['scenarios']} demand scenarios of {f['day']}: "
                         f"{f['rehearsals']} rehearsals, {f['orders']:,} orders in "
                         f"{f['seconds']:.1f} s on {f['workers']} worker(s)"),
              title_justify="left")
    for col in ("what-if", "measure", "P10", "P50", "P90"):
        t.add_column(col, justify="left" if col in ("what-if", "measure") else "right")
    for r in summary.itertuples(index=False):
        label, share = _MEASURE_LABELS.get(str(r.measure), (str(r.measure), False))
        cells = [f"{v:.1%}" if share else f"{v:,.0f}" for v in (r.p10, r.p50, r.p90)]
        t.add_row(Text(str(r.what_if)), label, *cells)
    out.print(t)


def show_simulate(run: SimulateRun, as_json: bool = False) -> None:
    """Print the rehearsal's headline (or its facts as JSON)."""
    f = run.facts
    if as_json:
        emit_json(f)
        return
    days = f.get("days", 1)
    title = (f"Rehearsal of {f['day']} to {f['last_day']} ({days} days, every one)"
             if days > 1 else f"Rehearsal of {f['day']}")
    if days > 1:
        show_days(run)
    t = Table(title=Text(title), show_header=False, title_justify="left")
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
    if days > 1:
        t.add_row("units placed before the event", f"{f['placed']:,}")
        t.add_row("units replenished (inbound waves)", f"{f['inbound']:,}")
        t.add_row("placed + replenished / units ordered", f"{f['units_over_demand']:.2f}")
        t.add_row("stock left at the end", f"{f['stock_left']:,}")
    t.add_row("backlogs cleared after", f"{f['backlog_hours']} h")
    t.add_row("rehearsal speed", f"{f['orders_per_second_simulated']:,.0f} orders/s "
                                 f"({f['seconds']:.1f} s, {f['workers']} worker(s); compiling "
                                 f"kernels, {f['compile_seconds']:.1f} s of it, left out)")
    out.print(t)


def show_days(run: SimulateRun) -> None:
    """Print each day of a rehearsed window: units, shares, unfilled, waves, stock left."""
    days = run.result.tables["outcomes_day"]
    t = Table(title=Text("Day by day"), title_justify="left")
    for col in ("date", "units", "within 24 h", "within 48 h", "unfilled", "received",
                "stock left", "backlog"):
        t.add_column(col, justify="left" if col == "date" else "right")
    for r in days.itertuples(index=False):
        n = max(int(r.units), 1)
        t.add_row(str(r.date.date()), f"{r.units:,}", f"{r.delivered_24h / n:.1%}",
                  f"{r.delivered_48h / n:.1%}", f"{r.unfilled / n:.1%}",
                  f"{r.inbound + r.transfers:,}", f"{r.stock_left:,}", f"{r.backlog:,}")
    out.print(t)
