"""Every table of the flow, defined once: columns, dtypes, keys and references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

Kind = Literal["str", "int", "float", "date", "timestamp", "bool"]

_ARROW: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "bool": pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    """One column of a table contract.

    ``low``/``high`` bound numeric values (inclusive); ``choices`` restricts a
    string column; ``nullable`` allows empty cells.
    """

    name: str
    kind: Kind
    doc: str = ""
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.kind]


@dataclass(frozen=True)
class Ref:
    """A column whose values must exist as keys of another table."""

    column: str
    table: str
    target: str


@dataclass(frozen=True)
class TableSpec:
    """The contract of one table.

    ``extra`` is a regular expression for additional columns a table may carry
    (the forecast's ``qNN`` quantile columns), all of kind ``extra_kind``.
    ``skip_blank`` names a nullable column whose blank cell marks a row that
    says nothing (a calendar date without events, as M5's calendar.csv keeps
    them): :func:`~forestock.tables.validate` drops such rows.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str
    refs: tuple[Ref, ...] = ()
    extra: str | None = None
    extra_kind: Kind = "float"
    sort: tuple[str, ...] = field(default=())
    skip_blank: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        if self.extra and re.fullmatch(self.extra, name):
            return Column(name, self.extra_kind, low=0.0)
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def arrow_schema(self, extra_columns: tuple[str, ...] = ()) -> pa.Schema:
        cols = [*self.columns, *(self.column(n) for n in extra_columns)]
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=True) for c in cols])


#: The largest quantity a table holds (units, storage, population): sums of a
#: billion of them still fit a 64-bit integer.
QUANTITY_MAX = 1e15


def _c(
    name: str,
    kind: Kind,
    doc: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    nullable: bool = False,
) -> Column:
    return Column(name, kind, doc, nullable=nullable, low=low, high=high, choices=choices)


def _sales(name: str, doc: str) -> TableSpec:
    """History and truth share one shape: units per date, SKU and region."""
    return TableSpec(
        name,
        (_c("date", "date"), _c("sku_id", "str"), _c("region_id", "str"),
         _c("units", "int", low=0.0, high=QUANTITY_MAX)),
        key=("date", "sku_id", "region_id"),
        refs=(Ref("sku_id", "skus", "sku_id"), Ref("region_id", "regions", "region_id")),
        doc=doc,
    )


_OUTCOME_REGION = (
    _c("region_id", "str"),
    _c("hour", "int", "hour of the event day the orders were placed, 0-23", low=0, high=23),
    _c("orders", "int", low=0.0),
    _c("units", "int", "units ordered", low=0.0),
    _c("gmv", "float", "value of the units ordered, CNY", low=0.0),
    _c("shipped", "int", "units sent from a warehouse", low=0.0),
    _c("delivered_24h", "int", "units delivered within 24 h of the order", low=0.0),
    _c("delivered_48h", "int", "units delivered within 48 h (includes 24 h)", low=0.0),
    _c("late", "int", "units delivered after 48 h", low=0.0),
    _c("unfilled", "int", "units no warehouse could serve", low=0.0),
)

# the insight tables' contracts live beside (they need TableSpec and _c, defined above)
from forestock.tables._insight_specs import INSIGHT_SPECS  # noqa: E402

SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in (
        TableSpec(
            "regions",
            (
                _c("region_id", "str"),
                _c("name", "str"),
                _c("province", "str"),
                _c("lat", "float", low=-90.0, high=90.0),
                _c("lon", "float", low=-180.0, high=180.0),
                _c("population", "int", low=0.0, high=QUANTITY_MAX),
            ),
            key=("region_id",),
            doc="Where buyers live: one row per delivery region.",
        ),
        TableSpec(
            "warehouses",
            (
                _c("warehouse_id", "str"),
                _c("name", "str"),
                _c("region_id", "str", "region the warehouse stands in"),
                _c("lat", "float", low=-90.0, high=90.0),
                _c("lon", "float", low=-180.0, high=180.0),
                _c("tier", "str", "rdc (regional hub) or fdc (forward)", choices=("rdc", "fdc")),
                _c("storage_units", "int", "units it can hold before the event", low=0.0,
                   high=QUANTITY_MAX),
                _c("outbound_per_hour", "int", "parcels it can ship per hour", low=0.0,
                   high=QUANTITY_MAX),
            ),
            key=("warehouse_id",),
            refs=(Ref("region_id", "regions", "region_id"),),
            doc="The warehouse network.",
        ),
        TableSpec(
            "brands",
            (
                _c("brand_id", "str"),
                _c("name", "str"),
                _c("country", "str", "ISO 3166 alpha-2 country of origin"),
                _c("factory_lat", "float", low=-90.0, high=90.0),
                _c("factory_lon", "float", low=-180.0, high=180.0),
            ),
            key=("brand_id",),
            doc="Brands (manufacturers) and where their factory ships from.",
        ),
        TableSpec(
            "skus",
            (
                _c("sku_id", "str"),
                _c("brand_id", "str"),
                _c("category", "str"),
                _c("price", "float", "CNY per unit", low=0.0),
                _c("volume_l", "float", "litres per unit", low=0.0),
            ),
            key=("sku_id",),
            refs=(Ref("brand_id", "brands", "brand_id"),),
            doc="Products.",
        ),
        TableSpec(
            "lanes",
            (
                _c("warehouse_id", "str"),
                _c("region_id", "str"),
                _c("transit_hours", "float", low=0.0),
                _c("cost_per_unit", "float", "CNY", low=0.0),
            ),
            key=("warehouse_id", "region_id"),
            refs=(
                Ref("warehouse_id", "warehouses", "warehouse_id"),
                Ref("region_id", "regions", "region_id"),
            ),
            doc="Transport from a warehouse to a region.",
        ),
        TableSpec(
            "calendar",
            (_c("date", "date"),
             _c("event", "str", "event name, e.g. 11.11; blank on a date without events",
                nullable=True)),
            key=("date", "event"),
            doc="Dates carrying events; runs past the history into the days to plan for. "
                "Rows with a blank event (one row per date, as M5 keeps it) are dropped.",
            skip_blank="event",
        ),
        _sales("history", "Units sold per day, SKU and region; an absent row means zero."),
        _sales("truth", "What really sells in the event window; never read by forecast or plan."),
        TableSpec(
            "prices",
            (
                _c("date", "date"),
                _c("sku_id", "str"),
                _c("region_id", "str", "empty for every region", nullable=True),
                _c("price", "float", "planned price, CNY", low=0.0),
            ),
            key=("date", "sku_id", "region_id"),
            refs=(Ref("sku_id", "skus", "sku_id"), Ref("region_id", "regions", "region_id")),
            doc="Planned (promotional) prices.",
        ),
        TableSpec(
            "forecast",
            (
                _c("sku_id", "str"),
                _c("region_id", "str"),
                _c("date", "date"),
                _c("mean", "float", low=0.0),
                _c("q10", "float", low=0.0),
                _c("q50", "float", low=0.0),
                _c("q90", "float", low=0.0),
            ),
            key=("sku_id", "region_id", "date"),
            refs=(Ref("sku_id", "skus", "sku_id"), Ref("region_id", "regions", "region_id")),
            extra=r"q\d{2}",
            doc="Forecast units per SKU, region and date, with quantiles.",
        ),
        TableSpec(
            "forecast_total",
            (
                _c("sku_id", "str"),
                _c("region_id", "str", "empty for the SKU over every region", nullable=True),
                _c("start", "date", "first date of the window"),
                _c("end", "date", "last date of the window"),
                _c("days", "int", "dates of the forecast summed (periods: weeks, months)",
                   low=1),
                _c("mean", "float", low=0.0),
                _c("q10", "float", low=0.0),
                _c("q50", "float", low=0.0),
                _c("q90", "float", low=0.0),
            ),
            key=("sku_id", "region_id"),
            refs=(Ref("sku_id", "skus", "sku_id"), Ref("region_id", "regions", "region_id")),
            extra=r"q\d{2}",
            doc="Forecast units over the whole window per SKU and region, and per SKU over "
                "every region, with the total's quantiles (not sums of daily ones).",
        ),
        TableSpec(
            "plan",
            (_c("sku_id", "str"), _c("warehouse_id", "str"),
             _c("units", "int", low=0.0, high=QUANTITY_MAX)),
            key=("sku_id", "warehouse_id"),
            refs=(
                Ref("sku_id", "skus", "sku_id"),
                Ref("warehouse_id", "warehouses", "warehouse_id"),
            ),
            doc="Units of each SKU stocked in each warehouse before the event.",
        ),
        TableSpec(
            "notices",
            (
                _c("notice_id", "str"),
                _c("brand_id", "str"),
                _c("sku_id", "str"),
                _c("warehouse_id", "str"),
                _c("units", "int", low=0.0),
                _c("ship_by", "date"),
                _c("arrive_by", "date"),
                _c("past_due", "bool", "ship_by is on or before the last day of the history: "
                                       "the notice is due before the plan could be sent"),
                _c("wave", "int", "0: stock placed before the event; k: the k-th "
                                  "replenishment wave during it", low=0),
            ),
            key=("notice_id",),
            refs=(
                Ref("brand_id", "brands", "brand_id"),
                Ref("sku_id", "skus", "sku_id"),
                Ref("warehouse_id", "warehouses", "warehouse_id"),
            ),
            doc="Advance shipping notices: what each manufacturer ships where, by when.",
        ),
        TableSpec(
            "replenishment",
            (
                _c("wave", "int", "the wave, 1 for the first during the event", low=1),
                _c("kind", "str", "inbound (a manufacturer to a hub) or transfer (a hub to a "
                                  "warehouse it replenishes)", choices=("inbound", "transfer")),
                _c("sku_id", "str"),
                _c("from_id", "str", "the manufacturer's brand_id (inbound) or the hub's "
                                     "warehouse_id (transfer)"),
                _c("warehouse_id", "str", "where the units go"),
                _c("units", "int", "the most the wave ships: the plan; a rehearsal ships what "
                                   "brings the position up to up_to, at most this", low=1,
                   high=QUANTITY_MAX),
                _c("up_to", "int", "order-up-to level of the destination's position on ship_on "
                                   "(on hand and on the way; an inbound wave's counts the hub "
                                   "and every warehouse it replenishes)", low=0,
                   high=QUANTITY_MAX),
                _c("ship_on", "date", "when the quantity is set and the units leave"),
                _c("arrive_on", "date", "when they arrive, before that day's orders"),
            ),
            key=("wave", "kind", "sku_id", "warehouse_id"),
            refs=(
                Ref("sku_id", "skus", "sku_id"),
                Ref("warehouse_id", "warehouses", "warehouse_id"),
            ),
            doc="Replenishment waves during a multi-day event: what each manufacturer ships "
                "to a hub and each hub to the warehouses it serves, when, and at most how "
                "much (none for a one-day event).",
        ),
        TableSpec(
            "orders",
            (
                _c("order_id", "str"),
                _c("time", "timestamp", "when the order was placed"),
                _c("sku_id", "str"),
                _c("region_id", "str"),
                _c("units", "int", low=1, high=QUANTITY_MAX),
            ),
            key=("order_id",),
            refs=(Ref("sku_id", "skus", "sku_id"), Ref("region_id", "regions", "region_id")),
            doc="A user's own orders for the event day (optional demand source).",
        ),
        TableSpec(
            "outcomes_region",
            _OUTCOME_REGION,
            key=("region_id", "hour"),
            doc="Rehearsal outcome per delivery region and order hour.",
        ),
        TableSpec(
            "outcomes_warehouse",
            (
                _c("warehouse_id", "str"),
                _c("hour", "int", "hour since the start of the event day", low=0),
                _c("picked", "int", "parcels that arrived to be picked", low=0.0),
                _c("shipped", "int", "parcels shipped", low=0.0),
                _c("backlog", "int", "parcels waiting at the end of the hour", low=0.0),
            ),
            key=("warehouse_id", "hour"),
            doc="Warehouse queue per hour (hours past 23 drain the backlog).",
        ),
        TableSpec(
            "outcomes_second",
            (
                _c("second", "int", low=0, high=86399),
                _c("orders", "int", low=0.0),
                _c("units", "int", low=0.0),
                _c("gmv", "float", low=0.0),
            ),
            key=("second",),
            doc="Orders and GMV per second of the event day.",
        ),
        TableSpec(
            "outcomes_brand",
            (
                _c("brand_id", "str"),
                _c("orders", "int", low=0.0),
                _c("units", "int", low=0.0),
                _c("gmv", "float", low=0.0),
                _c("shipped", "int", low=0.0),
                _c("delivered_24h", "int", low=0.0),
                _c("delivered_48h", "int", low=0.0),
                _c("unfilled", "int", low=0.0),
            ),
            key=("brand_id",),
            doc="Brand leaderboard of the event day.",
        ),
        TableSpec(
            "outcomes_flow",
            (
                _c("warehouse_id", "str"),
                _c("hour", "int", "hour the parcels shipped", low=0),
                _c("region_id", "str", "destination region"),
                _c("parcels", "int", low=0.0),
            ),
            key=("warehouse_id", "hour", "region_id"),
            doc="Parcels per warehouse, hour and destination: the sortation stage's input.",
        ),
        TableSpec(
            "outcomes_reason",
            (
                _c("region_id", "str"),
                _c("hour", "int", "hour of the event day the orders were placed", low=0,
                   high=23),
                _c("warehouse_id", "str", "the region's nearest warehouse", nullable=True),
                _c("stock", "int", "units not within 24 h: not shipped from the nearest "
                   "warehouse (out of stock there)", low=0.0),
                _c("backlog", "int", "units not within 24 h: shipped from the nearest, late "
                   "because of its backlog", low=0.0),
                _c("transit", "int", "units not within 24 h: shipped in their hour, the lane "
                   "and last mile took longer", low=0.0),
            ),
            key=("region_id", "hour"),
            doc="Why units were not delivered within 24 h, per region and order hour.",
        ),
        TableSpec(
            "outcomes_stock",
            (
                _c("sku_id", "str"),
                _c("warehouse_id", "str"),
                _c("placed", "int", "units placed before the day (the plan, scaled)", low=0.0),
                _c("left", "int", "units left at the end of the rehearsal", low=0.0),
            ),
            key=("sku_id", "warehouse_id"),
            doc="Stock per SKU and warehouse placed and left over by the rehearsal.",
        ),
        TableSpec(
            "outcomes_day",
            (
                _c("date", "date"),
                _c("orders", "int", low=0.0),
                _c("units", "int", "units ordered", low=0.0),
                _c("gmv", "float", "CNY", low=0.0),
                _c("shipped", "int", "units sent from a warehouse (or the factory)", low=0.0),
                _c("unfilled", "int", "units no warehouse could serve", low=0.0),
                _c("delivered_24h", "int", "units delivered within 24 h of the order", low=0.0),
                _c("delivered_48h", "int", "within 48 h (includes 24 h)", low=0.0),
                _c("delivered_72h", "int", "within 72 h (includes 48 h)", low=0.0),
                _c("stock_left", "int", "units in the warehouses at the day's end", low=0.0),
                _c("inbound", "int", "units received from manufacturers' waves before the "
                                     "day's orders", low=0.0),
                _c("transfers", "int", "units received from hubs before the day's orders",
                   low=0.0),
                _c("backlog", "int", "parcels still waiting at the day's end (carried over "
                                     "midnight)", low=0.0),
            ),
            key=("date",),
            doc="Rehearsal outcome per day of the event window.",
        ),
        TableSpec(
            "outcomes_replenishment",
            (
                _c("wave", "int", low=1),
                _c("kind", "str", choices=("inbound", "transfer")),
                _c("sku_id", "str"),
                _c("warehouse_id", "str"),
                _c("planned", "int", "the plan's units: the most the wave ships", low=0.0),
                _c("shipped", "int", "units the rehearsal's order-up-to rule shipped", low=0.0),
                _c("received", "int", "units the destination kept (a full hub sends the "
                                      "excess back)", low=0.0),
            ),
            key=("wave", "kind", "sku_id", "warehouse_id"),
            doc="Each replenishment wave of the plan as the rehearsal shipped it.",
        ),
        TableSpec(
            "simulate_scenarios",
            (
                _c("what_if", "str", "the plan as it is ('as planned') or a what-if's name"),
                _c("scenario", "int", "the forecast's demand scenario, 0 to K - 1", low=0),
                _c("orders", "int", low=0.0),
                _c("units", "int", "units ordered", low=0.0),
                _c("delivered_24h", "int", "units delivered within 24 h of the order", low=0.0),
                _c("delivered_48h", "int", "within 48 h (includes 24 h)", low=0.0),
                _c("unfilled", "int", "units no warehouse could serve", low=0.0),
                _c("share_24h", "float", "delivered_24h / units", low=0.0, high=1.0),
                _c("share_48h", "float", "delivered_48h / units", low=0.0, high=1.0),
                _c("unfilled_share", "float", "unfilled / units", low=0.0, high=1.0),
                _c("peak_backlog", "int", "the most parcels waiting in all warehouses at the "
                                          "end of an hour", low=0.0),
                _c("backlog_hours", "int", "hours until every backlog cleared", low=0.0),
            ),
            key=("what_if", "scenario"),
            doc="One rehearsal per demand scenario of the forecast and what-if "
                "(simulate --scenarios).",
        ),
        TableSpec(
            "simulate_scenarios_summary",
            (
                _c("what_if", "str"),
                _c("measure", "str", "a column of simulate_scenarios",
                   choices=("share_24h", "share_48h", "unfilled_share", "unfilled",
                            "peak_backlog")),
                _c("p10", "float", "10th percentile over the scenarios"),
                _c("p50", "float", "median over the scenarios"),
                _c("p90", "float", "90th percentile over the scenarios"),
                _c("mean", "float"),
            ),
            key=("what_if", "measure"),
            doc="The distribution of each measure over the scenarios, per what-if.",
        ),
        *INSIGHT_SPECS,
    )
}

TABLES: tuple[str, ...] = tuple(SPECS)
"""Names of all tables, in flow order."""


def spec(name: str) -> TableSpec:
    """Return the contract of table ``name``."""
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; known tables: {', '.join(SPECS)}") from None
