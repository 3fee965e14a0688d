"""``forestock plan``: stock per SKU and warehouse, and the shipping notices."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    progress_bar,
    rich_table,
    stage_params,
    user_errors,
)
from forestock.flow import DEFAULT_QUANTILE
from forestock.workspace import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from forestock.flow import PlanRun


@app.command()
def plan(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    quantile: Annotated[str, typer.Option(help="Service level of each SKU's national quantity: "
                                               "mean, or qNN for the NN% quantile of national "
                                               "demand.")] = DEFAULT_QUANTILE,
    allow_shortfall: Annotated[bool | None, typer.Option(
        show_default="PlanParams.allow_shortfall",
        help="Plan the best partial plan when the national quantities exceed storage, "
             "instead of stopping.")] = None,
    as_json: JsonOpt = False,
    method: Annotated[str | None, typer.Option(
        show_default="PlanParams.method",
        help="fast (SKU decomposition with warehouse prices), exact (HiGHS LP, small "
             "instances), or a baseline: central, population, nearest.")] = None,
    scenarios: Annotated[int | None, typer.Option(
        min=1, show_default="PlanParams.scenarios",
        help="Demand scenarios drawn from the forecast's quantiles.")] = None,
    check_gap: Annotated[bool | None, typer.Option(
        show_default="PlanParams.check_gap",
        help="Also solve the exact LP to report the gap (small instances only).")] = None,
    promise: Annotated[float | None, typer.Option(
        min=0, show_default="PlanParams.promise_cny",
        help="Value (CNY) of delivering one unit within 24 h on top of its margin, whatever "
             "its price (the default is above almost any margin, so the share of units "
             "within 24 h comes first; 0: margin only).")] = None,
    correlation: Annotated[float | None, typer.Option(
        help="Share of each region's demand variance common to the SKU's regions, in "
             "[0, 1). Default: read from the forecast (its variance beyond a Poisson "
             "count's is shared), so best-sellers' regions move together.")] = None,
    market_sd: Annotated[float | None, typer.Option(
        min=0,
        help="Relative standard deviation of the event total's error common to every SKU "
             "(the market's lift misjudged), which the demand scenarios' SKUs share. "
             "Default: what the forecast measured (its notes' market_sd; 0: SKUs "
             "independent).")] = None,
    costs: Annotated[Path | None, typer.Option(
        help="CSV or Parquet of asymmetric per-item costs (as in Cainiao's replenishment "
             "data): sku_id, shortage_cny (per unit of demand unserved), surplus_cny (per "
             "unit left over), and optionally warehouse_id (a row without one sets every "
             "warehouse).")] = None,
    wave_days: Annotated[int | None, typer.Option(
        min=0, show_default="PlanParams.wave_days",
        help="An event of several days: days between replenishment waves during it, at "
             "most (0: no waves, the window's total placed up front).")] = None,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Stock each SKU near its buyers within capacities, and write shipping notices.

    Each SKU's national quantity (the --quantile service level of national demand) is split
    over the warehouses to maximise the margin of deliveries within 24 h (then 48 h), plus
    --promise per unit delivered within 24 h, minus inbound, holding and outbound costs (and
    any --costs of shortage and surplus).
    Writes the plan, the advance shipping notices and one printable page per manufacturer in
    notices/<brand_id>.html. An event of several days (a forecast window of many dates) is
    planned as stock before it plus replenishment waves during it (the replenishment table:
    manufacturers to hubs, hubs on to forward warehouses), sized from the window total's
    quantiles. --config sets any of the planner's parameters (its plan table). --cluster
    runs the fast method's SKU placements on a Dask cluster's workers (worth it for tens of
    thousands of SKUs and more; the same plan).
    """
    from forestock.flow import run_plan
    from forestock.plan import PlanParams

    with user_errors():
        params = stage_params(PlanParams, config, method=method, scenarios=scenarios,
                              allow_shortfall=allow_shortfall, check_gap=check_gap,
                              promise_cny=promise, wave_days=wave_days)
        fast = params.method == "fast"  # (the other methods have no steps to show)
        status = nullcontext() if fast else err.status(escape(f"planning ({params.method})"))
        with progress_bar(as_json or not fast) as progress, status:
            run = run_plan(Workspace(workspace), params, quantile=quantile,
                           correlation=correlation, market_sd=market_sd, costs=costs,
                           seed=seed,
                           callbacks=RichCallbacks(progress) if fast else None,
                           cluster=cluster)
    show_plan(run, as_json)


def show_plan(run: PlanRun, as_json: bool = False) -> None:
    """Print stock per warehouse, the expected shares within 24 h and 48 h, the costs and
    the notices (or the facts as JSON)."""
    result, facts = run.result, run.facts
    if as_json:
        emit_json({**facts, "warehouses": result.warehouses.to_dict(orient="records")})
        return
    warehouses = run.store.read("warehouses")
    wh = result.warehouses.merge(warehouses[["warehouse_id", "name", "tier"]], on="warehouse_id")
    wh = wh[["warehouse_id", "name", "tier", "units", "storage_units", "utilisation",
             "expected_outbound"]]
    out.print(rich_table("Stock per warehouse", wh, {"utilisation": ".0%",
                                                     "expected_outbound": ",.0f"}))
    c = facts["costs"]
    gap = "" if result.gap != result.gap else f"; gap to the LP optimum {result.gap:.2%}"
    out.print(escape(f"{facts['method']}: placed {result.units:,} of {result.demand:,} units "
                     f"({facts['quantile']}); expected within 24 h "
                     f"{facts['expected_share_24h']:.1%}, within 48 h "
                     f"{facts['expected_share_48h']:.1%}{gap}"))
    if run.window is not None:
        show_waves(run)
    moved = f" + transfer {c['transfer']:,.0f}" if "transfer" in c else ""
    out.print(f"cost: inbound {c['inbound']:,.0f}{moved} + holding {c['holding']:,.0f} + "
              f"outbound {c['outbound']:,.0f} = {c['total']:,.0f} CNY; objective "
              f"{result.objective:,.0f} (margin, plus --promise per unit within 24 h, less "
              "costs)")
    late = f" ({facts['past_due']:,} past due)" if facts["past_due"] else ""
    where = facts["notice_pages"]
    pages = (f"one page per manufacturer ({len(run.pages)}) in {where}" if where
             else "no pages (tables in memory)")
    out.print(escape(f"{facts['notices']:,} shipping notices{late}; {pages}"))


def show_waves(run: PlanRun) -> None:
    """Print the runs of days between replenishment waves and what the waves bring."""
    window = run.window
    if window is None:
        return
    runs = window.runs.assign(start=window.runs["start"].dt.date,
                              end=window.runs["end"].dt.date)
    out.print(rich_table("Runs of days, each opened by a wave (run 0: stock before the event)",
                         runs, {"mean": ",.0f", "expected_share_24h": ".1%",
                                "expected_share_48h": ".1%"}))
    f = run.facts
    out.print(escape(
        f"{f['days']} days, {f['waves']} replenishment waves: {f['inbound_units']:,} units at "
        f"most from manufacturers to hubs, {f['transfer_units']:,} from hubs on; placed "
        f"before the event plus inbound {f['units'] + f['inbound_units']:,} against the "
        f"window total's "
        f"{f['window_quantity']:,} ({f['quantile']}) and mean {f['window_demand']:,.0f}"))

