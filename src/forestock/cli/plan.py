"""``forestock plan``: stock per SKU and warehouse, and the shipping notices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.markup import escape

from forestock.cli._common import (
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
    user_errors,
)
from forestock.tables import read_table
from forestock.workspace import DEFAULT_WORKSPACE, Stage, Workspace

if TYPE_CHECKING:
    from forestock.plan import PlanParams, PlanProblem, PlanResult


@app.command()
def plan(
    workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
    quantile: Annotated[str, typer.Option(help="Service level of each SKU's national quantity: "
                                               "mean, or qNN for the NN% quantile of national "
                                               "demand.")] = "q90",
    allow_shortfall: Annotated[bool, typer.Option(help="Plan the best partial plan when the "
                                                       "national quantities exceed storage, "
                                                       "instead of stopping.")] = False,
    as_json: JsonOpt = False,
    method: Annotated[str, typer.Option(help="fast (SKU decomposition with warehouse prices), "
                                             "exact (HiGHS LP, small instances), or a "
                                             "baseline: central, population, nearest.")] = "fast",
    scenarios: Annotated[int, typer.Option(min=1, help="Demand scenarios drawn from the forecast's "
                                                "quantiles.")] = 8,
    check_gap: Annotated[bool, typer.Option(help="Also solve the exact LP to report the gap "
                                                 "(small instances only).")] = False,
    promise: Annotated[float, typer.Option(min=0, help="Value (CNY) of delivering one unit within "
                                                "24 h on top of its margin, whatever its "
                                                "price (1,000: above almost any margin, so "
                                                "the share of units within 24 h comes "
                                                "first; 0: margin only).")] = 1000.0,
    correlation: Annotated[float | None, typer.Option(
        help="Share of each region's demand variance common to the SKU's regions, in "
             "[0, 1). Default: read from the forecast (its variance beyond a Poisson "
             "count's is shared), so best-sellers' regions move together.")] = None,
    costs: Annotated[Path | None, typer.Option(
        help="CSV or Parquet of asymmetric per-item costs (as in Cainiao's replenishment "
             "data): sku_id, shortage_cny (per unit of demand unserved), surplus_cny (per "
             "unit left over), and optionally warehouse_id (a row without one sets every "
             "warehouse).")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Stock each SKU near its buyers within capacities, and write shipping notices.

    Each SKU's national quantity (the --quantile service level of national demand) is split
    over the warehouses to maximise the margin of deliveries within 24 h (then 48 h), plus
    --promise per unit delivered within 24 h, minus inbound, holding and outbound costs (and
    any --costs of shortage and surplus).
    Writes the plan, the advance shipping notices and one printable page per manufacturer in
    notices/<brand_id>.html.
    """
    from forestock.plan import PlanParams

    inputs = ["forecast", "warehouses", "lanes", "skus", "regions", "brands"]
    with user_errors():
        ws = Workspace(workspace)
        ws.require(inputs, "plan")
        params = PlanParams(method=method, scenarios=scenarios, allow_shortfall=allow_shortfall,
                            check_gap=check_gap, promise_cny=promise)
        with ws.stage("plan", reads=inputs) as st:  # plan, notices, pages, notes together
            result, problem, notices, pages = _plan(ws, st, params, quantile, correlation,
                                                    costs, seed, as_json)
            facts = {"status": result.status, "method": method, "units": result.units,
                     "demand": result.demand, "shortfall": result.shortfall,
                     "expected_share_24h": result.expected_share_24h,
                     "expected_share_48h": result.expected_share_48h, "quantile": quantile,
                     "objective": result.objective, "gap": result.gap, "costs": result.costs,
                     "seconds": round(result.seconds, 2), "notices": len(notices),
                     "past_due": int(notices["past_due"].sum()),
                     "notice_pages": str(ws.root / "notices"),
                     "event_start": problem.event_start, "seed": seed,
                     **{k: v for k, v in result.figures.items()
                        if k.startswith("expected_lost_24h_")}}
            ws.note("plan", facts)
    if as_json:
        emit_json({**facts, "warehouses": result.warehouses.to_dict(orient="records")})
        return
    warehouses = ws.read("warehouses")
    wh = result.warehouses.merge(warehouses[["warehouse_id", "name", "tier"]], on="warehouse_id")
    wh = wh[["warehouse_id", "name", "tier", "units", "storage_units", "utilisation",
             "expected_outbound"]]
    out.print(rich_table("Stock per warehouse", wh, {"utilisation": ".0%",
                                                     "expected_outbound": ",.0f"}))
    c = result.costs
    gap = "" if result.gap != result.gap else f"; gap to the LP optimum {result.gap:.2%}"
    out.print(escape(f"{method}: placed {result.units:,} of {result.demand:,} units "
                     f"({quantile}); expected within 24 h {result.expected_share_24h:.1%}, "
                     f"within 48 h {result.expected_share_48h:.1%}{gap}"))
    out.print(f"cost: inbound {c['inbound']:,.0f} + holding {c['holding']:,.0f} + outbound "
              f"{c['outbound']:,.0f} = {c['total']:,.0f} CNY; objective {result.objective:,.0f} "
              f"(margin, plus --promise per unit within 24 h, less costs)")
    late = f" ({facts['past_due']:,} past due)" if facts["past_due"] else ""
    out.print(escape(f"{len(notices):,} shipping notices{late}; one page per manufacturer "
                     f"({len(pages)}) in {ws.root / 'notices'}"))


def _plan(ws: Workspace, st: Stage, params: PlanParams, quantile: str,
          correlation: float | None, costs: Path | None, seed: int, quiet: bool
          ) -> tuple[PlanResult, PlanProblem, pd.DataFrame, list[Path]]:
    """Solve and check the plan, and stage it with its notices and their pages."""
    from forestock.plan import (
        PlanProblem,
        make_notices,
        solve_plan,
        validate_plan,
        write_notice_pages,
    )

    method = params.method
    warehouses = ws.read("warehouses")
    skus = ws.read("skus")
    brands = ws.read("brands")
    problem = PlanProblem.from_tables(ws.read("forecast"), warehouses, ws.read("lanes"), skus,
                                      ws.read("regions"), quantile, brands=brands,
                                      correlation=correlation)
    if costs is not None:
        problem = problem.with_costs(read_table(costs), source=costs.name)
    with progress_bar(quiet or method != "fast") as progress:
        if method == "fast":
            result = solve_plan(problem, params, seed, RichCallbacks(progress))
        else:
            with err.status(escape(f"planning ({method})")):
                result = solve_plan(problem, params, seed)
    national = pd.Series(problem.national, index=problem.skus.ids)
    validate_plan(result.plan, warehouses, national[national > 0],
                  allow_shortfall=params.allow_shortfall)
    notices = make_notices(result.plan, skus, brands, warehouses, problem.event_start, params,
                           history_end=_history_end(ws))
    ws.write_many({"plan": result.plan, "notices": notices})
    pages = write_notice_pages(st.folder("notices"), notices, brands, skus, warehouses)
    return result, problem, notices, pages


def _history_end(ws: Workspace) -> dt.date | None:
    """The last day of the history the forecast saw, if the workspace holds a history."""
    if not ws.has("history"):
        return None
    last = ws.sql("SELECT max(date) AS last FROM history")["last"].iloc[0]
    return None if pd.isna(last) else pd.Timestamp(last).date()
