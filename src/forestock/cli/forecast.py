"""``forestock forecast`` and ``forestock backtest``: forecast an event window, or score one."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.markup import escape

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
    rich_table,
    stage_params,
    user_errors,
)
from forestock.errors import ForestockError
from forestock.flow import DEFAULT_EVENT, DEFAULT_METHOD
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.flow import ForecastRun
    from forestock.forecast import BacktestResult

EventOpt = Annotated[str | None, typer.Option(help="Calendar event to forecast (its next "
                                                   "occurrence after the history).")]
StartOpt = Annotated[str | None, typer.Option(help="First date of a window (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option(help="Last date of a window (YYYY-MM-DD).")]
MethodOpt = Annotated[str, typer.Option(help="forestock (global LightGBM), seasonal_naive, "
                                             "auto_ets, tsb, level_lift or mlforecast.")]


def _inputs(ws: Workspace) -> dict[str, Any]:
    ws.require(["history", "calendar"], "backtest")
    with err.status("reading history"):
        return {
            "history": ws.read("history", categorical=True),
            "calendar": ws.read("calendar"),
            "skus": ws.read("skus") if ws.has("skus") else None,
            "regions": ws.read("regions") if ws.has("regions") else None,
            "prices": ws.read("prices") if ws.has("prices") else None,
        }


@app.command()
def forecast(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    event: EventOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    method: MethodOpt = DEFAULT_METHOD,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    cluster: ClusterOpt = None,
) -> None:
    """Forecast units per SKU, region and date of an event window, with quantiles.

    Writes the forecast table (mean, q10, q50, q90) for every SKU and region, and the
    forecast_total table: quantiles of the window's total per SKU and region and per SKU
    over every region. Without --event or --start/--end, forecasts the next 11.11 after
    the history ends. --config sets the engines' parameters (its forecast table: rounds,
    learning_rate, quantiles...). A history too large for memory is forecast in SKU blocks;
    --cluster spreads the blocks over a Dask cluster's workers.
    """
    from forestock.flow import forecast_window, run_forecast
    from forestock.forecast import ForecastParams

    with user_errors():
        params = stage_params(ForecastParams, config)
        ws = Workspace(workspace)
        window = forecast_window(ws, event, parse_date(start, "--start"),
                                 parse_date(end, "--end"))
        err.print(escape(f"forecasting {window.start}..{window.end} ({method})"),
                  highlight=False)
        with progress_bar(as_json) as progress:
            run = run_forecast(ws, params, window=window, method=method, seed=seed,
                               callbacks=RichCallbacks(progress), cluster=cluster)
    if cluster is not None and not run.blocks:
        err.print("the history fits in memory: forecast in this process (--cluster unused)")
    show_forecast(run, as_json)


def show_forecast(run: ForecastRun, as_json: bool = False) -> None:
    """Print the national forecast per date and the window's total (or the facts as JSON)."""
    facts, window, national, corr = run.facts, run.window, run.national, run.correlation
    if as_json:
        emit_json(facts)
        return
    daily = run.daily.copy()
    daily["date"] = pd.to_datetime(daily["date"]).dt.date.astype(str)
    out.print(rich_table(f"National forecast, {window.event} {window.start}..{window.end}",
                         daily, dict.fromkeys(("mean", "q10", "q50", "q90"), ",.0f")))
    out.print("q10/q90 here are sums of the cells' quantiles (wider than the national ones).")
    if len(daily) > 1:
        out.print(f"Window total ({len(daily)} dates), every SKU over every region: mean "
                  f"{facts['units_mean']:,.0f}; q10 / q50 / q90 of each SKU's national total, "
                  f"summed: {national['q10']:,.0f} / {national['q50']:,.0f} / "
                  f"{national['q90']:,.0f} (forecast_total; days correlate by "
                  f"{corr.days:.2f}, regions by {corr.regions:.2f}).")
    market = run.market
    held = (f", the event's last occurrence {market.errors[-1]:+.1%} (log, sold over "
            f"forecast)" if market.errors else "")
    out.print(f"Error of the total common to every SKU (the plan's scenarios share it): sd "
              f"{market.sd:.1%} (ordinary periods {market.ordinary:.1%}{held}).")


@app.command()
def backtest(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    event: EventOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    lead: Annotated[int | None, typer.Option(help="Days between the end of the history used "
                                                  "and the window (default: as for the next "
                                                  "occurrence).")] = None,
    methods: Annotated[str, typer.Option(help="Comma-separated methods to score.")] = (
        "forestock,seasonal_naive,level_lift,auto_ets,tsb"),
    origins: Annotated[int, typer.Option(min=1, help="Rolling origins: the last K "
                                                     "occurrences of the event, or K windows "
                                                     "ending with --start/--end.")] = 1,
    step: Annotated[int | None, typer.Option(min=1, help="Periods (days, weeks or months, as "
                                                         "the history) between the origins of a "
                                                         "--start/--end window (default: its "
                                                         "length).")] = None,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score forecasts on earlier occurrences of the event, held out.

    Forecasts the held-out window from the history before it and reports WRMSSE (M5),
    MASE and WAPE per level (market, region, SKU, SKU x region), bias, pinball loss, the
    coverage of q10..q90 and the shares of cells above q90 and below q10. Without --event or
    --start/--end, uses the last 11.11 in the history. With --origins K, scores the last K
    occurrences (or K windows stepped back from --start/--end) and their mean.
    """
    from forestock.forecast import (
        METHODS,
        ForecastParams,
        Window,
        backtest_origins,
        holdout_windows,
        infer_freq,
        rolling_windows,
    )

    with user_errors():
        params = stage_params(ForecastParams, config)
        names = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in names if m not in METHODS]
        if unknown or not names:
            raise ForestockError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        ws = Workspace(workspace)
        data = _inputs(ws)
        h_dates = data["history"]["date"]
        h_start, h_end = h_dates.min().date(), h_dates.max().date()
        lead_days = lead if lead is not None else _default_lead(data["calendar"], event, h_end)
        if start or end:
            s, e = parse_date(start, "--start"), parse_date(end, "--end")
            if s is None or e is None:
                raise ForestockError("give both --start and --end")
            windows = rolling_windows(Window("custom", s, e), origins, step, infer_freq(h_dates))
        elif step is not None:
            raise ForestockError("--step moves a --start/--end window; an event's origins are "
                                 "its earlier occurrences")
        else:
            windows = holdout_windows(data["calendar"], event or DEFAULT_EVENT, h_end, h_start,
                                      lead_days, origins)
        with progress_bar(as_json) as progress:
            result = backtest_origins(data["history"], data["calendar"], windows, lead_days,
                                      data["skus"], data["regions"], data["prices"], names,
                                      params, seed=seed, callbacks=RichCallbacks(progress))
    if origins == 1:
        _print_backtest(ws, result.origins[0], as_json)
        return
    table = result.table()
    facts = {"origins": [{"window": [r.window.start, r.window.end],
                          "history_end": r.history_end, "actual_units": r.actual_units}
                         for r in result.origins],
             "lead_days": lead_days, "methods": table.to_dict(orient="records")}
    ws.note("backtest", facts)
    if as_json:
        emit_json(facts)
        return
    labels = {"origin": "origin", "history_end": "history to", "actual_units": "units",
              **_SCORE_LABELS}
    for name in result.methods:
        mine = table[table["method"] == name]
        shown = mine[[c for c in labels if c in mine.columns]].rename(columns=labels)
        shown["history to"] = shown["history to"].map(lambda d: "" if pd.isna(d) else str(d))
        out.print(rich_table(f"Backtest of {name}: {len(windows)} origins, "
                             f"{lead_days} day(s) ahead; mean over origins last", shown,
                             {"units": ",.0f", **dict.fromkeys(_SCORE_FORMATS, ".3f")}))
    out.print(_SCORE_NOTE)


_SCORE_LABELS = {"wrmsse": "WRMSSE", "wape_total": "WAPE all", "wape_sku_region": "WAPE cell",
                 "bias": "bias", "coverage": "q10-q90", "above_q90": ">q90",
                 "below_q10": "<q10", "seconds": "s"}
_SCORE_FORMATS = tuple(_SCORE_LABELS.values())
_SCORE_NOTE = ("WAPE cell: per SKU x region; q10-q90: share of cells inside; >q90, <q10: "
               "shares of the cells of series that sold above q90, below q10; --json for all "
               "scores (MASE, pinball, every level)")


def _print_backtest(ws: Workspace, result: BacktestResult, as_json: bool) -> None:
    """Note and print a backtest of one window."""
    window, table = result.window, result.table()
    facts = {"window": [window.start, window.end], "history_end": result.history_end,
             "actual_units": result.actual_units, "methods": table.to_dict(orient="records")}
    ws.note("backtest", facts)
    if as_json:
        emit_json(facts)
        return
    labels = {"method": "method", **_SCORE_LABELS}
    shown = table[[c for c in labels if c in table.columns]].rename(columns=labels)
    out.print(rich_table(f"Backtest of {window.start}..{window.end} from history to "
                         f"{result.history_end} ({result.actual_units:,.0f} units)", shown,
                         dict.fromkeys(_SCORE_FORMATS, ".3f")))
    out.print(_SCORE_NOTE)


def _default_lead(calendar: pd.DataFrame, event: str | None, history_end: dt.date) -> int:
    """Days from the history's end to the next occurrence: the lead a forecast has live."""
    from forestock.forecast import next_window

    try:
        nxt = next_window(calendar, event or DEFAULT_EVENT, history_end)
    except ForestockError:
        return 1
    return max((nxt.start - history_end).days, 1)
