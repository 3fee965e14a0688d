"""``forestock plan``: stock per SKU and warehouse, and the shipping notices."""

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
    rich_table,
    user_errors,
)
from forestock.workspace import DEFAULT_WORKSPACE, Workspace


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

    with user_errors():
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
        emit_json({**facts, "warehouses": result.warehouses.to_dict(orient="records")})
        return
    wh = result.warehouses.merge(warehouses[["warehouse_id", "name", "tier"]], on="warehouse_id")
    wh = wh[["warehouse_id", "name", "tier", "units", "storage_units", "utilisation"]]
    out.print(rich_table("Stock per warehouse", wh, {"utilisation": ".0%"}))
    out.print(f"placed {result.units:,} of {result.demand:,} units ({quantile}); expected within "
              f"24 h {result.expected_share_24h:.1%}, within 48 h {result.expected_share_48h:.1%}; "
              f"{len(notices):,} shipping notices")
