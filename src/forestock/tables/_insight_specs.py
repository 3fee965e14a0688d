"""Contracts of the tables ``forestock insights`` writes (see :mod:`forestock.insights`)."""

from __future__ import annotations

from forestock.tables._schema import Column, TableSpec, _c

__all__ = ["INSIGHT_SPECS"]


def _f(name: str, doc: str = "") -> Column:
    """A float column that may be blank (NaN: not measurable)."""
    return _c(name, "float", doc, nullable=True)


INSIGHT_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "insight_leaderboard",
        (_c("scope", "str", "the rehearsal, or a past event day in the history"),
         _c("brand_id", "str"), _c("name", "str"), _c("country", "str"),
         _c("category", "str", "the brand's category by GMV"),
         _c("units", "int", low=0.0), _f("gmv", "CNY"), _c("rank", "int", low=1),
         _f("gmv_full", "CNY: the GMV over the insights' scale (the GMV at scale 1)"),
         _c("tier", "str", "the highest threshold crossed, or blank", nullable=True)),
        key=("scope", "brand_id"),
        doc="Brands by GMV per scope, with the highest threshold each crosses.",
    ),
    TableSpec(
        "insight_brand_counts",
        (_c("scope", "str"), _f("threshold", "CNY"),
         _f("applied", "CNY: the threshold times the insights' scale, the GMV a brand reaches "
                       "to count"),
         _c("country", "str"), _c("category", "str"), _c("brands", "int", low=0.0)),
        key=("scope", "threshold", "country", "category"),
        doc="Brands at or above each threshold, by country and category ('all' sums).",
    ),
    TableSpec(
        "insight_taste",
        (_c("level", "str", "category or brand"), _c("item", "str"), _c("region_id", "str"),
         _c("period", "str", "ordinary or event"), _f("units"), _f("share"),
         _f("national_share"), _f("lq", "location quotient: share / national share")),
        key=("level", "item", "region_id", "period"),
        doc="Location quotients of categories and brands by region, ordinary and event days.",
    ),
    TableSpec(
        "insight_lift",
        (_c("dimension", "str"), _c("item", "str"), _f("units"), _f("counterfactual"),
         _f("added_units"), _f("gmv"), _f("counterfactual_gmv"), _f("added_gmv"), _f("lift")),
        key=("dimension", "item"),
        doc="Units and GMV over the no-event counterfactual forecast, by dimension.",
    ),
    TableSpec(
        "insight_counterfactual",
        (_c("sku_id", "str"), _c("region_id", "str"), _c("date", "date"), _f("mean")),
        key=("sku_id", "region_id", "date"),
        doc="forestock's forecast of the window with the window's calendar events blanked.",
    ),
    TableSpec(
        "insight_promo",
        (_c("sku_id", "str"), _f("price_ratio", "event price / regular price"),
         _f("depth", "1 - price_ratio"), _f("lift")),
        key=("sku_id",),
        doc="Promotion depth against lift per SKU (where prices are known).",
    ),
    TableSpec(
        "insight_elasticity",
        (_c("term", "str"), _f("estimate"), _f("std_error"), _f("p_value"),
         _c("n", "int", low=0.0)),
        key=("term",),
        doc="OLS of log lift on log price ratio (statsmodels); elasticity = -slope.",
    ),
    TableSpec(
        "insight_events",
        (_c("event", "str"), _c("start", "date"), _c("end", "date"), _c("days", "int", low=1),
         _c("source", "str", "history or rehearsal"), _f("units"), _f("units_per_day"),
         _f("ordinary_per_day"), _f("lift"), _f("share_of_year"), _f("peak_hour_share")),
        key=("event", "start"),
        doc="Each occurrence of each calendar event: size, lift, share of the year.",
    ),
    TableSpec(
        "insight_rehearsals",
        (_c("rehearsal", "str", "'this rehearsal' (the insights' own), or the folder of "
                                "the workspace compared with it"),
         _c("event", "str", "the calendar's name for the days rehearsed"),
         _c("start", "date"), _c("end", "date"), _c("days", "int", low=1),
         _c("skus", "int", "SKUs in its catalogue", low=0.0),
         _c("source", "str", "truth, forecast or orders"), _f("scale"),
         _f("units"), _f("units_per_day"), _f("busiest_day_units"),
         _f("ordinary_per_day", "mean units of the event-free days among the 28 before it, "
                                "at the rehearsal's scale"),
         _f("lift", "units per day / ordinary_per_day"),
         _f("busiest_day_lift", "the busiest day's units / ordinary_per_day"),
         _f("peak_hour_load", "the busiest hour's parcels / the warehouses' outbound per hour"),
         _f("peak_warehouse_load", "the most loaded warehouse-hour's parcels / its outbound "
                                   "per hour"),
         _f("share_24h"), _f("share_48h"), _f("unfilled_share"),
         _f("placed", "units placed before its first day"),
         _f("replenished", "units received from manufacturers' waves"),
         _f("stock_left", "units in the warehouses after its last day"),
         _f("stock_left_share", "stock_left / (placed + replenished)")),
        key=("rehearsal",),
        doc="Rehearsals side by side (a one-day event, a multi-day event), from outcomes_day.",
    ),
    TableSpec(
        "insight_rehearsal_days",
        (_c("rehearsal", "str"), _c("event", "str"), _c("date", "date"),
         _c("day", "int", "1 for the first day", low=1), _f("units"),
         _f("lift", "units / the ordinary day's"),
         _f("peak_hour_load", "the day's busiest hour: parcels / outbound per hour"),
         _f("share_24h"), _c("unfilled", "int", low=0.0), _c("stock_left", "int", low=0.0),
         _c("inbound", "int", low=0.0), _c("transfers", "int", low=0.0),
         _c("backlog", "int", low=0.0)),
        key=("rehearsal", "date"),
        doc="Each day of each rehearsal compared (outcomes_day with its lift and load).",
    ),
    TableSpec(
        "insight_stock",
        (_c("sku_id", "str"), _c("warehouse_id", "str"), _c("placed", "int", low=0.0),
         _c("demand_nearest", "int", low=0.0), _c("shipped", "int", low=0.0),
         _c("left", "int", low=0.0), _c("short", "int", low=0.0)),
        key=("sku_id", "warehouse_id"),
        doc="Per SKU and warehouse: placed, demand of its nearest regions, shipped, left, short.",
    ),
    TableSpec(
        "insight_error",
        (_c("dimension", "str"), _c("item", "str"), _f("forecast"), _f("actual"), _f("error"),
         _f("abs_error"), _f("wape"), _f("bias")),
        key=("dimension", "item"),
        doc="Forecast error on the event window by category, region and SKU size.",
    ),
    TableSpec(
        "insight_late",
        (_c("warehouse_id", "str", nullable=True), _c("region_id", "str"),
         _c("stock", "int", low=0.0), _c("backlog", "int", low=0.0),
         _c("transit", "int", low=0.0), _c("units", "int", low=0.0)),
        key=("region_id",),
        doc="Units not within 24 h by reason, per region and its nearest warehouse.",
    ),
    TableSpec(
        "insight_gap",
        (_c("component", "str"), _f("share")),
        key=("component",),
        doc="The plan's expected 24 h share beside the rehearsed one, the gap broken down.",
    ),
    TableSpec(
        "insight_misses",
        (_c("sku_id", "str"), _f("actual"), _f("q10"), _f("q90"), _c("side", "str"),
         _f("miss")),
        key=("sku_id",),
        doc="SKUs whose window total fell outside the forecast's q10-q90 band.",
    ),
    TableSpec(
        "insight_moves",
        (_c("warehouse_id", "str"), _c("region_id", "str", nullable=True),
         _c("short", "int", low=0.0), _c("left", "int", low=0.0), _c("net", "int")),
        key=("warehouse_id",),
        doc="Per warehouse: units short and left over; net > 0 means stock more there.",
    ),
)
