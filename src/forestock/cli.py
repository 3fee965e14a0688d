"""The ``forestock`` command: one verb per stage over a workspace folder.

Exit codes: 0 success, 2 bad input (the message names the file, row and
column), 1 an unexpected failure.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.workspace import DEFAULT_WORKSPACE, Workspace, load_dir

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="forestock",
    help=(
        "Plan and rehearse a mega sale day: forecast demand per SKU and region, pre-position "
        "stock near the buyers, rehearse the day order by order, and report.\n\n"
        "Every verb works on a workspace folder (default ./forestock-ws) holding one Parquet "
        "file per table. Start with `forestock demo`, or `forestock load DIR` for your own data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

out = Console()
err = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path,
    typer.Option("--workspace", "-w", help="Workspace folder holding the tables.",
                 envvar="FORESTOCK_WORKSPACE"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of every random draw; same seed, same tables.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (ForestockError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


class RichCallbacks(Callbacks):
    """Shows each long task as a Rich progress bar with rate and time left."""

    def __init__(self, progress: Progress, unit: str = "") -> None:
        self.progress = progress
        self.unit = unit
        self.tasks: dict[str, TaskID] = {}

    def on_start(self, task: str, total: float) -> None:
        self.tasks[task] = self.progress.add_task(task, total=total)

    def on_step(self, task: str, advance: float) -> None:
        self.progress.update(self.tasks[task], advance=advance)

    def on_end(self, task: str) -> None:
        tid = self.tasks[task]
        self.progress.update(tid, completed=self.progress.tasks[tid].total)


class _RateColumn(ProgressColumn):
    """Work done per second (orders per second in a rehearsal)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


def _progress(quiet: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ForestockError(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def _table(title: str, frame: pd.DataFrame, formats: dict[str, str] | None = None) -> Table:
    formats = formats or {}
    t = Table(title=title, title_justify="left")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        t.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for col, v in zip(frame.columns, row, strict=True):
            fmt = formats.get(str(col))
            if fmt and v is not None and not (isinstance(v, float) and pd.isna(v)):
                cells.append(format(v, fmt))
            elif isinstance(v, float):
                cells.append(f"{v:,.2f}")
            elif isinstance(v, int):
                cells.append(f"{v:,}")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    return t


def _emit_json(payload: dict[str, Any]) -> None:
    out.print_json(json.dumps(payload, default=str))


# ----------------------------------------------------------------------------- world


@app.command()
def world(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: SeedOpt = 0,
    skus: Annotated[int, typer.Option(help="Number of products (SKUs).")] = 500,
    regions: Annotated[int, typer.Option(help="Delivery regions (31 provinces always).")] = 80,
    as_json: JsonOpt = False,
) -> None:
    """Generate the embedded China world (deterministic for a seed).

    Writes regions, warehouses, brands, SKUs, lanes, two years of daily sales history, the
    event calendar, and the truth of the coming 11.11, kept apart for scoring and rehearsal.
    """
    from forestock.world import WorldParams, build_world

    with _user_errors():
        params = WorldParams(seed=seed, skus=skus, regions=regions)
        ws = Workspace(workspace)
        t0 = time.perf_counter()
        with _progress(as_json) as progress:
            result = build_world(ws, params, RichCallbacks(progress))
        elapsed = time.perf_counter() - t0
    facts = {**_public(result), "seconds": round(elapsed, 2)}
    ws.note("world", facts)
    if as_json:
        _emit_json(facts)
        return
    counts = pd.DataFrame({"table": list(result.rows), "rows": list(result.rows.values())})
    out.print(_table(f"World (seed {seed}) written to {ws.root}", counts))
    out.print(f"history {result.history_start} to {result.history_end}; the event "
              f"{result.event_date} (truth kept apart); {elapsed:.1f} s")


def _public(obj: object) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: v for k, v in dataclasses.asdict(obj).items()
                if not isinstance(v, pd.DataFrame)}
    return dict(vars(obj))


# ----------------------------------------------------------------------------- load


@app.command()
def load(
    folder: Annotated[Path, typer.Argument(help="Folder with <table>.csv or <table>.parquet "
                                                  "files (regions.csv, skus.csv, history.csv...)")],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    as_json: JsonOpt = False,
) -> None:
    """Import your own tables (CSV in UTF-8, or Parquet) into the workspace.

    Files are named after the tables they hold. Only the tables the stages you run need are
    required: forecast needs history and calendar; plan needs forecast, warehouses, lanes,
    skus, regions; simulate needs plan and truth (or orders). Every file is checked first;
    on any problem nothing in the workspace changes."""
    with _user_errors():
        ws = Workspace(workspace)
        report = load_dir(ws, folder)
    if as_json:
        _emit_json({"loaded": dict(report), "ignored": report.ignored})
        return
    frame = pd.DataFrame({"table": list(report), "rows": list(report.values())})
    out.print(_table(f"Loaded into {ws.root}", frame))
    if report.ignored:
        out.print(f"ignored (not forestock tables): {', '.join(report.ignored)}")


# ----------------------------------------------------------------------------- forecast


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

    with _user_errors():
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
                               _date(start, "--start"), _date(end, "--end"))
        with err.status(f"forecasting {window.start}..{window.end}"):
            table = run_forecast(history, calendar, window, skus, regions)
            ws.write("forecast", table)
    facts = {"event": window.event, "start": window.start, "end": window.end,
             "rows": len(table), "units_mean": float(table["mean"].sum()),
             "units_q10": float(table["q10"].sum()), "units_q90": float(table["q90"].sum())}
    ws.note("forecast", facts)
    if as_json:
        _emit_json(facts)
        return
    daily = table.groupby("date")[["mean", "q10", "q50", "q90"]].sum().reset_index()
    daily["date"] = daily["date"].dt.date.astype(str)
    out.print(_table(f"National forecast, {window.event} {window.start}..{window.end}", daily,
                     dict.fromkeys(("mean", "q10", "q50", "q90"), ",.0f")))


# ----------------------------------------------------------------------------- plan


@app.command()
def plan(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    quantile: Annotated[str, typer.Option(help="Forecast column each region's stock covers "
                                               "(mean, q50, q90...).")] = "q90",
    allow_shortfall: Annotated[bool, typer.Option(help="Plan what fits when demand exceeds "
                                                       "storage, instead of stopping.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stock each SKU in the warehouses nearest its buyers, and write shipping notices.

    Each region's demand (at the --quantile service level) goes to its nearest warehouse
    with room, largest flows first. Writes the plan and, for every manufacturer, the
    advance shipping notices (SKU, warehouse, units, ship-by and arrive-by dates).
    """
    from forestock.plan import PlanParams, PlanProblem, make_notices, solve_plan, validate_plan

    with _user_errors():
        ws = Workspace(workspace)
        ws.require(["forecast", "warehouses", "lanes", "skus", "regions", "brands"], "plan")
        params = PlanParams(quantile=quantile, allow_shortfall=allow_shortfall)
        warehouses = ws.read("warehouses")
        skus = ws.read("skus")
        fc = ws.read("forecast")
        problem = PlanProblem.from_tables(fc, warehouses, ws.read("lanes"), skus,
                                          ws.read("regions"), quantile)
        with err.status("planning"):
            result = solve_plan(problem, params)
        validate_plan(result.plan, warehouses)
        notices = make_notices(result.plan, skus, ws.read("brands"), warehouses,
                               problem.event_start, params)
        ws.write_many({"plan": result.plan, "notices": notices})
    facts = {"status": result.status, "units": result.units, "demand": result.demand,
             "shortfall": result.shortfall, "expected_share_24h": result.expected_share_24h,
             "expected_share_48h": result.expected_share_48h, "quantile": quantile,
             "notices": len(notices), "event_start": problem.event_start}
    ws.note("plan", facts)
    if as_json:
        _emit_json({**facts, "warehouses": result.warehouses.to_dict(orient="records")})
        return
    wh = result.warehouses.merge(warehouses[["warehouse_id", "name", "tier"]], on="warehouse_id")
    wh = wh[["warehouse_id", "name", "tier", "units", "storage_units", "utilisation"]]
    out.print(_table("Stock per warehouse", wh, {"utilisation": ".0%"}))
    out.print(f"placed {result.units:,} of {result.demand:,} units ({quantile}); expected within "
              f"24 h {result.expected_share_24h:.1%}, within 48 h {result.expected_share_48h:.1%}; "
              f"{len(notices):,} shipping notices")


# ----------------------------------------------------------------------------- simulate


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

    with _user_errors():
        ws = Workspace(workspace)
        ws.require(["plan", "truth", "warehouses", "lanes", "skus", "regions"], "simulate")
        truth = ws.read("truth", categorical=True)
        the_day = _date(day, "--day") or _event_day(ws, truth, event)
        demand = truth[truth["date"].dt.date == the_day]
        if demand.empty:
            raise ForestockError(f"the truth table has no sales on {the_day}")
        problem = SimulateProblem.from_tables(
            the_day, demand, ws.read("plan"), ws.read("warehouses"), ws.read("lanes"),
            ws.read("skus"), ws.read("regions"))
        t0 = time.perf_counter()
        with _progress(as_json) as progress:
            result = run(problem, SimulateParams(), seed, RichCallbacks(progress))
        elapsed = time.perf_counter() - t0
        ws.write_many(result.tables)
    facts = _sim_facts(result, elapsed)
    ws.note("simulate", facts)
    if as_json:
        _emit_json(facts)
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


# ----------------------------------------------------------------------------- report


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

    with _user_errors():
        ws = Workspace(workspace)
        with err.status("writing the report"):
            seed = ws.notes().get("simulate", {}).get("seed")
            path = build_report(ws, output, seed=seed if isinstance(seed, int) else None)
    out.print(f"report: {path.resolve()}")


# ----------------------------------------------------------------------------- sql


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help='SQL over the tables, e.g. "SELECT * FROM '
                                              'outcomes_brand ORDER BY gmv DESC LIMIT 10"')],
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Query the workspace with SQL (DuckDB); every table is a view named after it."""
    with _user_errors():
        ws = Workspace(workspace)
        if not ws.tables():
            raise ForestockError(f"{ws.root} holds no tables yet; run `forestock demo` or "
                                 "`forestock load DIR` first")
        frame = ws.sql(query)
    if as_json:
        _emit_json({"rows": json.loads(frame.head(limit).to_json(orient="records",
                                                                  date_format="iso"))})
        return
    shown = frame.head(limit)
    out.print(_table(f"{len(frame):,} rows" + (f" (first {limit})" if len(frame) > limit else ""),
                     shown))


# ----------------------------------------------------------------------------- demo


@app.command()
def demo(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    seed: SeedOpt = 0,
    skus: Annotated[int, typer.Option(help="Number of products in the world.")] = 500,
) -> None:
    """Run the whole flow on the embedded China world and write the report.

    world, forecast, plan, simulate, report; prints the headline figures and the report's
    path.
    """
    steps: list[tuple[str, Callable[[], None]]] = [
        ("world", lambda: world(workspace=workspace, seed=seed, skus=skus, regions=80,
                                as_json=False)),
        ("forecast", lambda: forecast(workspace=workspace, event="11.11", start=None, end=None,
                                      as_json=False)),
        ("plan", lambda: plan(workspace=workspace, quantile="q90", allow_shortfall=False,
                              as_json=False)),
        ("simulate", lambda: simulate(workspace=workspace, day=None, event="11.11", seed=seed,
                                      as_json=False)),
        ("report", lambda: report(workspace=workspace, output=None)),
    ]
    t0 = time.perf_counter()
    for i, (name, step) in enumerate(steps, 1):
        out.rule(f"[bold]{i}/{len(steps)} {name}")
        step()
    out.rule()
    out.print(f"demo finished in {time.perf_counter() - t0:.0f} s; workspace {workspace.resolve()}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        app(args=argv if argv is not None else sys.argv[1:], prog_name="forestock")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
