"""The report's data layer: what each section shows, computed from a source's tables.

Nothing here draws or writes HTML: :func:`report_data` reads a
:class:`~forestock.report._source.Source` (a workspace, or tables and results
in memory) into a :class:`ReportData` of frames and small values, which
:mod:`forestock.report._sections` renders.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.report import _scenarios
from forestock.report._headline import Headline, clear_hour, headline_of, per_second
from forestock.report._scenarios import ScenarioData, scenario_data
from forestock.report._source import Source, open_source

if TYPE_CHECKING:
    from forestock.report._source import ReportInput

__all__ = [
    "SECTION_TABLES",
    "FlowData",
    "ReportData",
    "WarehouseData",
    "brand_gmv",
    "event_date",
    "forecast_and_plan",
    "region_delivery",
    "report_data",
    "seed_of",
    "seeds_of",
    "warehouse_use",
]

log = logging.getLogger("forestock.report")

#: The tables each section shows (by its anchor): it is marked stale when one of them is.
SECTION_TABLES: dict[str, tuple[str, ...]] = {
    "cards": ("outcomes_region", "outcomes_second", "outcomes_brand", "outcomes_warehouse"),
    "day": ("outcomes_second",),
    "regions": ("outcomes_region", "regions"),
    "brands": ("outcomes_brand", "brands"),
    "warehouses": ("warehouses", "plan", "outcomes_warehouse", "regions"),
    "forecast": ("forecast", "plan", "truth", "warehouses"),
    _scenarios.ANCHOR: _scenarios.TABLES,
    "days": ("outcomes_day",),
}

#: Stages whose seed is the run's, the rehearsal's first (see :func:`seed_of`).
_SEED_ORDER = ("simulate", "plan", "forecast", "world")


@dataclass(frozen=True)
class WarehouseData:
    """Per warehouse: storage and outbound use, and the backlog over the hours.

    Attributes
    ----------
    table
        One row per warehouse (by id): warehouse_id, label (its name), tier,
        region (the region's name), storage_units, outbound_per_hour; with a
        plan, planned and storage_util (planned / storage_units); with
        ``outcomes_warehouse``, peak_shipped, peak_backlog, out_util (peak
        shipped / outbound_per_hour) and cleared (the hour the backlog clears,
        ``None`` if it never does).
    backlog
        Backlog per warehouse (rows) and hour (columns, every hour from the
        first to the last recorded); ``None`` without outcomes.
    has_plan, has_outcomes
        Whether ``plan`` / ``outcomes_warehouse`` were there.
    """

    table: pd.DataFrame
    backlog: pd.DataFrame | None
    has_plan: bool
    has_outcomes: bool


@dataclass(frozen=True)
class FlowData:
    """The forecast against the truth, and the plan by warehouse tier.

    Attributes
    ----------
    national
        Per date of the window: the forecast's mean, q10, q50, q90 summed over
        every SKU and region; ``None`` without a forecast.
    truth
        Per date of the forecast's window: units sold (``truth``); ``None``
        when absent.
    tiers
        Per warehouse tier: units planned and warehouses used; ``None``
        without a plan.
    """

    national: pd.DataFrame | None
    truth: pd.DataFrame | None
    tiers: pd.DataFrame | None


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; the same tables give the same data whatever their source.

    Attributes
    ----------
    workspace
        The workspace's folder; ``None`` for tables in memory.
    day
        The rehearsed day (see :func:`event_date`).
    seed, seeds
        The run's seed (see :func:`seed_of`) and every stage's.
    tables
        The tables present, in flow order, with their rows.
    stale
        Tables computed from inputs that changed since, with the reason.
    missing
        Per section (by anchor), the tables it needs but lacks; a section
        absent from it has what it needs.
    headline, seconds, regions, brands, warehouses, flow
        Each section's data (``None`` when skipped): the headline figures,
        dense per-second orders, units and GMV (86,400 each), delivery by
        region, GMV by brand, warehouse use, forecast and plan.
    insights
        The ``insight_*`` tables present, and ``regions`` and ``brands``
        (the names the insights show).
    scenarios
        The rehearsals in many demand scenarios (``simulate --scenarios``), when
        their tables are there.
    days
        ``outcomes_day``: one row per day rehearsed (several for an event window);
        ``None`` without it.
    event
        The rehearsed event's name as the forecast noted it; ``None`` when unknown.
    """

    workspace: Path | None
    day: dt.date | None
    seed: int | None
    seeds: dict[str, int]
    tables: list[tuple[str, int]]
    stale: dict[str, str]
    missing: dict[str, list[str]]
    headline: Headline | None = None
    seconds: dict[str, np.ndarray] | None = None
    regions: pd.DataFrame | None = None
    brands: pd.DataFrame | None = None
    warehouses: WarehouseData | None = None
    flow: FlowData | None = None
    insights: dict[str, pd.DataFrame] = field(default_factory=dict)
    scenarios: ScenarioData | None = None
    days: pd.DataFrame | None = None
    event: str | None = None

    @property
    def last_day(self) -> dt.date | None:
        """The last day rehearsed (the rehearsed day itself for one day)."""
        if self.days is None or self.days.empty:
            return self.day
        return pd.Timestamp(self.days["date"].max()).date()


# ---------------------------------------------------------------------------- context


def event_date(source: ReportInput | Source) -> dt.date | None:
    """The rehearsed day: the day the rehearsal recorded, else the ``11.11`` of ``calendar``
    within the forecast's (or the truth's) window, else the calendar's last ``11.11``.

    ``source`` is a workspace, tables by name, stage results or a list of
    these. Returns ``None`` when none of these days is known.
    """
    src = open_source(source)
    day = src.notes().get("simulate", {}).get("day")
    if isinstance(day, str):
        try:
            return dt.date.fromisoformat(day)
        except ValueError:
            log.warning("the rehearsal's day %r is not a date; reading the calendar", day)
    if not src.has("calendar"):
        return None
    days = pd.to_datetime(
        src.sql("SELECT date FROM calendar WHERE event = '11.11' ORDER BY date")["date"]
    )
    if days.empty:
        return None
    for window in ("forecast", "truth"):
        if src.has(window):
            lo_hi = src.sql(f"SELECT min(date) AS lo, max(date) AS hi FROM {window}").iloc[0]
            if pd.notna(lo_hi["lo"]):
                lo, hi = pd.Timestamp(lo_hi["lo"]), pd.Timestamp(lo_hi["hi"])
                inside = days[(days >= lo) & (days <= hi)]
                if not inside.empty:
                    return inside.iloc[-1].date()
    return days.iloc[-1].date()


def seeds_of(source: ReportInput | Source) -> dict[str, int]:
    """The seed each stage recorded, by stage: in a workspace's notes (``forestock.json``,
    one entry per stage), or the results' own."""
    return {stage: int(facts["seed"]) for stage, facts in open_source(source).notes().items()
            if isinstance(facts, dict) and isinstance(facts.get("seed"), int)
            and not isinstance(facts["seed"], bool)}


def seed_of(source: ReportInput | Source) -> int | None:
    """The run's seed: the rehearsal's, else the plan's, the forecast's or the world's (the
    first recorded), else any stage's; ``None`` when no stage recorded one.

    ``source`` is a workspace, tables by name, stage results or a list of these.
    """
    seeds = seeds_of(source)
    for stage in (*_SEED_ORDER, *sorted(seeds)):
        if stage in seeds:
            return seeds[stage]
    return None


# ---------------------------------------------------------------------------- sections


def region_delivery(src: Source) -> pd.DataFrame:
    """Per region: orders, units, GMV and the shares of units delivered within 24 h and 48 h
    (``s_d24``, ``s_d48``), late and unfilled, with the region's name, province, lat and lon
    when ``regions`` is there; worst first (by share within 48 h, then 24 h, then most
    units)."""
    agg = src.sql(
        "SELECT region_id, sum(orders) AS orders, sum(units) AS units, sum(gmv) AS gmv, "
        "sum(shipped) AS shipped, sum(delivered_24h) AS d24, sum(delivered_48h) AS d48, "
        "sum(late) AS late, sum(unfilled) AS unfilled FROM outcomes_region GROUP BY region_id"
    )
    if src.has("regions"):
        agg = agg.merge(src.read("regions"), on="region_id", how="left")
    for col, default in (("name", None), ("province", ""), ("lat", np.nan), ("lon", np.nan)):
        if col not in agg:
            agg[col] = default
    agg["name"] = agg["name"].fillna(agg["region_id"])
    agg["province"] = agg["province"].fillna("")
    units = agg["units"].to_numpy(dtype=float)
    safe = np.where(units > 0, units, 1.0)
    for col in ("d24", "d48", "late", "unfilled"):
        agg[f"s_{col}"] = np.where(units > 0, agg[col].to_numpy(dtype=float) / safe, 0.0)
    return agg.sort_values(["s_d48", "s_d24", "units"], ascending=[True, True, False],
                           kind="stable").reset_index(drop=True)


def brand_gmv(src: Source) -> pd.DataFrame:
    """``outcomes_brand`` with each brand's name and country (its id and ``??`` when
    ``brands`` lacks them), largest GMV first."""
    ob = src.read("outcomes_brand")
    if src.has("brands"):
        ob = ob.merge(src.read("brands", ["brand_id", "name", "country"]), on="brand_id",
                      how="left")
    for col in ("name", "country"):
        if col not in ob:
            ob[col] = None
    ob["name"] = ob["name"].fillna(ob["brand_id"])
    ob["country"] = ob["country"].fillna("??")
    return ob.sort_values(["gmv", "brand_id"], ascending=[False, True],
                          kind="stable").reset_index(drop=True)


def warehouse_use(src: Source) -> WarehouseData:
    """Storage and outbound use per warehouse, and its backlog over the hours (needs
    ``warehouses``; ``plan`` and ``outcomes_warehouse`` each add their part)."""
    has_out, has_plan = src.has("outcomes_warehouse"), src.has("plan")
    wh = src.read("warehouses").sort_values("warehouse_id", kind="stable").reset_index(drop=True)
    if src.has("regions"):
        wh = wh.merge(src.read("regions", ["region_id", "name"]).rename(
            columns={"name": "region"}), on="region_id", how="left")
    else:
        wh["region"] = wh["region_id"]
    wh["label"] = wh["name"].astype(str)
    if has_plan:
        planned = src.sql("SELECT warehouse_id, sum(units) AS planned FROM plan GROUP BY 1")
        wh = wh.merge(planned, on="warehouse_id", how="left")
        wh["planned"] = wh["planned"].fillna(0)
        cap = wh["storage_units"].to_numpy(dtype=float)
        wh["storage_util"] = np.where(cap > 0, wh["planned"] / np.where(cap > 0, cap, 1), np.nan)
    backlog = None
    if has_out:
        out = src.read("outcomes_warehouse")
        peak = out.groupby("warehouse_id", as_index=False).agg(
            peak_shipped=("shipped", "max"), peak_backlog=("backlog", "max"),
            shipped=("shipped", "sum"))
        cleared = {
            w: clear_hour(g["hour"].to_numpy(), g["backlog"].to_numpy())
            for w, g in out.groupby("warehouse_id", sort=False)
        }
        wh = wh.merge(peak, on="warehouse_id", how="left")
        rate = wh["outbound_per_hour"].to_numpy(dtype=float)
        wh["out_util"] = np.where(rate > 0, wh["peak_shipped"] / np.where(rate > 0, rate, 1),
                                  np.nan)
        wh["cleared"] = [cleared.get(w) for w in wh["warehouse_id"]]
        if not out.empty:
            grid = out.pivot_table(index="warehouse_id", columns="hour", values="backlog",
                                   aggfunc="sum", fill_value=0)
            backlog = grid.reindex(
                columns=range(int(out["hour"].min()), int(out["hour"].max()) + 1), fill_value=0)
    return WarehouseData(table=wh, backlog=backlog, has_plan=has_plan, has_outcomes=has_out)


def forecast_and_plan(src: Source) -> FlowData:
    """The national forecast per date with the truth beside it, and units planned per tier."""
    national = truth = tiers = None
    if src.has("forecast"):
        national = src.sql(
            "SELECT date, sum(mean) AS mean, sum(q10) AS q10, sum(q50) AS q50, sum(q90) AS q90 "
            "FROM forecast GROUP BY date ORDER BY date"
        )
        national["date"] = pd.to_datetime(national["date"])
        if src.has("truth"):
            tr = src.sql("SELECT date, sum(units) AS units FROM truth GROUP BY date "
                         "ORDER BY date")
            tr["date"] = pd.to_datetime(tr["date"])
            tr = tr[(tr["date"] >= national["date"].min()) & (tr["date"] <= national["date"].max())]
            truth = tr.reset_index(drop=True) if not tr.empty else None
    if src.has("plan"):
        if src.has("warehouses"):
            tiers = src.sql(
                "SELECT w.tier AS tier, sum(p.units) AS units, count(DISTINCT p.warehouse_id) "
                "AS warehouses FROM plan p JOIN warehouses w USING (warehouse_id) "
                "GROUP BY 1 ORDER BY 1"
            )
        else:
            tiers = src.sql("SELECT 'all' AS tier, sum(units) AS units, "
                            "count(DISTINCT warehouse_id) AS warehouses FROM plan")
    return FlowData(national=national, truth=truth, tiers=tiers)


def _missing(src: Source, names: Sequence[str]) -> list[str]:
    return [n for n in names if not src.has(n)]


def report_data(src: Source, *, seed: int | None = None) -> ReportData:
    """Compute what every section shows from ``src``'s tables.

    A section whose tables are absent gets no data and is listed in
    ``missing`` with what it lacks, so a partial run still gets a report.

    Parameters
    ----------
    src
        The tables (see :func:`forestock.report._source.open_source`).
    seed
        The run's seed shown in the notes; default :func:`seed_of`.
    """
    out_or_plan = src.has("outcomes_warehouse") or src.has("plan")
    lacks = {
        "cards": _missing(src, ["outcomes_region", "outcomes_second"]),
        "day": _missing(src, ["outcomes_second"]),
        "regions": _missing(src, ["outcomes_region"]),
        "brands": _missing(src, ["outcomes_brand"]),
        "warehouses": _missing(src, ["warehouses"]) + (
            [] if out_or_plan else ["outcomes_warehouse or plan"]),
        "forecast": [] if src.has("forecast") or src.has("plan") else ["forecast", "plan"],
    }
    missing = {anchor: lack for anchor, lack in lacks.items() if lack}

    def has(anchor: str) -> bool:
        return anchor not in missing

    # (imported here: the insights section draws with the report's HTML blocks)
    from forestock.insights._report import SECTION_TABLES as INSIGHT_TABLES

    event = src.notes().get("forecast", {}).get("event")
    insights = {}
    if any(src.has(name) for name in INSIGHT_TABLES):
        insights = {name: src.read(name) for name in (*INSIGHT_TABLES, "regions", "brands")
                    if src.has(name)}
    return ReportData(
        workspace=src.workspace,
        day=event_date(src),
        seed=seed if seed is not None else seed_of(src),
        seeds=seeds_of(src),
        tables=[(name, src.rows(name)) for name in src.tables()],
        stale=src.stale(),
        missing=missing,
        headline=headline_of(src) if has("cards") else None,
        seconds=per_second(src.read("outcomes_second")) if has("day") else None,
        regions=region_delivery(src) if has("regions") else None,
        brands=brand_gmv(src) if has("brands") else None,
        warehouses=warehouse_use(src) if has("warehouses") else None,
        flow=forecast_and_plan(src) if has("forecast") else None,
        insights=insights,
        scenarios=scenario_data(src),
        days=src.read("outcomes_day") if src.has("outcomes_day") else None,
        event=event if isinstance(event, str) else None,
    )
