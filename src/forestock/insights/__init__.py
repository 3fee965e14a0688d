"""After the event: what the data says, for marketing and for next year's plan.

:func:`compute_insights` takes the flow's tables (the history, the truth, the
forecast, the plan's stock and the rehearsal's outcomes) as DataFrames and
returns the insight tables; :func:`run_insights` reads them from a workspace
and commits the tables as the ``insights`` stage. Each table is one plain
function in :mod:`forestock.insights._compute` (aggregates in DuckDB SQL, the
elasticity by statsmodels), usable on its own in a notebook:

* ``insight_leaderboard``, ``insight_brand_counts``: brands by GMV in the
  rehearsal and on the past occurrences of the event in the history, and how
  many cross each threshold (default CNY 1 billion and 100 million) by country
  and category;
* ``insight_taste``: location quotients of categories and brands by region, on
  ordinary days (the history's last 365 days without events) and on the event's
  days (the truth);
* ``insight_counterfactual``, ``insight_lift``: forestock's forecast of the
  window with the window's events blanked from the calendar (the same model on
  the same history, without the event's features), and what the event added
  over it by brand, category, region and price band;
  ``insight_promo``, ``insight_elasticity`` with a ``prices`` table;
* ``insight_events``: every occurrence of every event, one-day and multi-day,
  this year and last;
* ``insight_rehearsals``, ``insight_rehearsal_days``: rehearsals side by side (this
  one and those of other workspaces, such as a one-day event and a multi-day event of
  the same network), from each one's ``outcomes_day``: units per day, lift over an
  ordinary day, the peak hour's load on the warehouses, the share within 24 h, stock
  placed, replenished and left; and each one's days;
* ``insight_stock``, ``insight_error``, ``insight_late``, ``insight_gap``: the
  plan's post-mortem;
* ``insight_misses``, ``insight_moves``: for next year.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.events import Window, normalise_calendar
from forestock.insights import _compute as C
from forestock.insights._compute import (
    PRICE_BANDS,
    SIZE_BANDS,
    brand_counts,
    counterfactual_calendar,
    elasticity,
    event_comparison,
    event_lift,
    forecast_error,
    history_brand_gmv,
    late_reasons,
    leaderboard,
    misses,
    moves,
    nearest_warehouse,
    promo_points,
    share_gap,
    stock_post_mortem,
    taste,
)
from forestock.insights._rehearsals import Rehearsal, event_of_days, rehearsal_comparison
from forestock.params import Params, within

__all__ = [
    "INSIGHT_TABLES",
    "PRICE_BANDS",
    "SIZE_BANDS",
    "THIS_REHEARSAL",
    "InsightsParams",
    "InsightsResult",
    "Rehearsal",
    "brand_counts",
    "compute_insights",
    "counterfactual_calendar",
    "counterfactual_forecast",
    "elasticity",
    "event_comparison",
    "event_lift",
    "export_insights",
    "forecast_error",
    "history_brand_gmv",
    "late_reasons",
    "leaderboard",
    "misses",
    "moves",
    "nearest_warehouse",
    "promo_points",
    "rehearsal_comparison",
    "run_insights",
    "share_gap",
    "stock_post_mortem",
    "taste",
]

log = logging.getLogger("forestock.insights")

INSIGHT_TABLES = ("insight_leaderboard", "insight_brand_counts", "insight_taste",
                  "insight_counterfactual", "insight_lift", "insight_promo",
                  "insight_elasticity", "insight_events", "insight_rehearsals",
                  "insight_rehearsal_days", "insight_stock", "insight_error",
                  "insight_late", "insight_gap", "insight_misses", "insight_moves")

#: The label of the insights' own rehearsal in ``insight_rehearsals`` (the same in memory as
#: in a folder; the rehearsals compared with it are labelled by their folders).
THIS_REHEARSAL = "this rehearsal"

#: Tables the insights read from a workspace (those absent are skipped, with their insights).
READS = ("regions", "warehouses", "brands", "skus", "lanes", "calendar", "history", "truth",
         "prices", "forecast", "forecast_total", "outcomes_brand", "outcomes_region",
         "outcomes_second", "outcomes_reason", "outcomes_stock", "outcomes_day",
         "outcomes_warehouse")


@dataclass(frozen=True)
class InsightsParams(Params):
    """Settings of the insights.

    Parameters
    ----------
    thresholds
        GMV thresholds of the brand leaderboard, in the data's currency (CNY).
    scale
        The data's size against the market the thresholds are set for: a brand crosses a
        threshold when its GMV reaches ``threshold * scale``, and the report says so. 1
        (the default): the thresholds apply as given. The default world is 1/200 or so
        of the market its brands are sized on (2019's Tmall) and notes its own
        (``WorldResult.market_scale``); ``forestock demo`` passes it.
    ordinary_days
        Days at the history's end whose event-free days are the ordinary days of the
        regional taste.
    counterfactual
        Forecast the no-event counterfactual (a forecast's cost); without it, and without
        a counterfactual given, there is no event lift.
    """

    section = "insights"
    checks = (within("[7, inf)", "ordinary_days", integer=True), within("(0, inf)", "scale"))

    thresholds: tuple[float, ...] = (1e9, 1e8)
    scale: float = 1.0
    ordinary_days: int = 365
    counterfactual: bool = True

    def _validate(self) -> None:
        if not self.thresholds or any(not (t > 0 and np.isfinite(t)) for t in self.thresholds):
            raise ValueError(f"thresholds must be positive numbers, got {self.thresholds!r}")


@dataclass(frozen=True)
class InsightsResult:
    """The insight tables (by name), headline figures, the window and the seed."""

    tables: dict[str, pd.DataFrame]
    figures: dict[str, object] = field(default_factory=dict)
    window: Window | None = None
    seed: int = 0


def window_of(forecast: pd.DataFrame, calendar: pd.DataFrame) -> Window:
    """The forecast's window, named after the calendar event occurring on exactly its days,
    else the first on them (:func:`~forestock.insights._rehearsals.event_of_days`)."""
    dates = pd.to_datetime(forecast["date"])
    start, end = dates.min().date(), dates.max().date()
    return Window(event_of_days(calendar, start, end), start, end)


def counterfactual_forecast(history: pd.DataFrame, calendar: pd.DataFrame, window: Window,
                            skus: pd.DataFrame | None = None,
                            regions: pd.DataFrame | None = None, *, method: str = "forestock",
                            prices: pd.DataFrame | None = None, seed: int = 0,
                            callbacks: Callbacks | None = None) -> pd.DataFrame:
    """forestock's forecast of ``window`` as if it carried no event: the same method on
    the same history, with the window's events blanked from the calendar
    (:func:`counterfactual_calendar`)."""
    from forestock.forecast import forecast

    return forecast(history, counterfactual_calendar(calendar, window), window, skus, regions,
                    prices=prices, method=method, seed=seed, callbacks=callbacks)


def compute_insights(tables: Mapping[str, pd.DataFrame], params: InsightsParams | None = None,
                     *, notes: Mapping[str, Mapping[str, object]] | None = None,
                     counterfactual: pd.DataFrame | None = None, seed: int = 0,
                     callbacks: Callbacks | None = None,
                     compare: Sequence[Rehearsal] = ()) -> InsightsResult:
    """Every insight the given tables allow (see the module's docstring).

    ``notes`` are the stages' notes (``Workspace.notes()``): the forecast's method and
    seed, the plan's expected share within 24 h, the rehearsal's scale. ``counterfactual``
    skips forecasting it. The rehearsal the tables hold (``outcomes_day``) is compared,
    as :data:`THIS_REHEARSAL`, with the rehearsals in ``compare`` (:class:`Rehearsal`: of
    other workspaces, such as a multi-day event of the same network beside this one-day
    event). Tables absent leave their insights out (named in ``figures["skipped"]``).
    """
    params = params or InsightsParams()
    notes = notes or {}
    cb = callbacks or Callbacks()
    t = tables
    out: dict[str, pd.DataFrame] = {}
    figures: dict[str, object] = {}
    skipped: list[str] = []

    def has(*names: str) -> bool:
        return all(n in t and t[n] is not None for n in names)

    window = window_of(t["forecast"], t["calendar"]) if has("forecast", "calendar") else None
    day = (pd.Timestamp(window.start).date() if window is not None else None)
    # the days rehearsed: a day, or every day of a window (outcomes_day); else the first
    rehearsed = ({pd.Timestamp(d).date() for d in t["outcomes_day"]["date"]}
                 if has("outcomes_day") else ({day} if day is not None else set()))
    cb.on_start("insights", 6)

    # brand leaderboard: the rehearsal, and the event's past occurrences in the history
    if has("brands", "skus"):
        boards = []
        if has("outcomes_brand"):
            boards.append(leaderboard(t["outcomes_brand"], t["brands"], t["skus"],
                                      params.thresholds, f"rehearsal {day or ''}".strip(),
                                      params.scale))
        if has("history", "calendar") and window is not None and window.event != "custom":
            cal = normalise_calendar(t["calendar"])
            hist_days = set(pd.to_datetime(t["history"]["date"]).dt.date.unique())
            past = sorted(d for d in cal.loc[cal["event"] == window.event, "date"].dt.date
                          if d in hist_days)
            for d in past:
                g = history_brand_gmv(t["history"], t["skus"], d)
                boards.append(leaderboard(g, t["brands"], t["skus"], params.thresholds,
                                          f"history {d}", params.scale))
        if boards:
            board = pd.concat(boards, ignore_index=True)
            out["insight_leaderboard"] = board
            out["insight_brand_counts"] = brand_counts(board, params.thresholds, params.scale)
    else:
        skipped.append("leaderboard")
    cb.on_step("insights", 1)

    # regional taste: ordinary days against the event's days
    if has("history", "calendar", "skus"):
        frames = [taste(C.ordinary_days(t["history"], t["calendar"], params.ordinary_days),
                        t["skus"], "ordinary")]
        if has("truth") and window is not None:
            d = pd.to_datetime(t["truth"]["date"]).dt.date
            ev = t["truth"].loc[((d >= window.start) & (d <= window.end)).to_numpy()]
            if len(ev):
                frames.append(taste(ev, t["skus"], "event"))
        out["insight_taste"] = pd.concat(frames, ignore_index=True)
    else:
        skipped.append("taste")
    cb.on_step("insights", 1)

    # event lift over the no-event counterfactual
    if counterfactual is None and params.counterfactual and window is not None and \
            has("history", "calendar"):
        fc = notes.get("forecast", {})
        counterfactual = counterfactual_forecast(
            t["history"], t["calendar"], window, t.get("skus"), t.get("regions"),
            method=str(fc.get("method", "forestock")), prices=t.get("prices"),
            seed=int(fc.get("seed", seed)),  # type: ignore[call-overload]
            callbacks=callbacks)
    if counterfactual is not None and has("truth", "skus"):
        cf = counterfactual[["sku_id", "region_id", "date", "mean"]].copy()
        out["insight_counterfactual"] = cf
        out["insight_lift"] = event_lift(t["truth"], cf, t["skus"])
        if has("prices"):
            pts = promo_points(t["prices"], t["truth"], cf, t["skus"])
            out["insight_promo"] = pts
            out["insight_elasticity"] = elasticity(pts)
        else:
            skipped.append("elasticity (no prices table)")
    else:
        skipped.append("lift")
    cb.on_step("insights", 1)

    # event comparison over history and truth
    if has("history", "calendar"):
        sales = pd.concat([t["history"], t["truth"]], ignore_index=True) if has("truth") \
            else t["history"]
        out["insight_events"] = event_comparison(sales, t["calendar"], window,
                                                 t.get("outcomes_second"))
    # rehearsals side by side: this one and those compared with it
    own = Rehearsal.from_tables(t, notes, THIS_REHEARSAL)
    if own is not None or compare:
        out["insight_rehearsals"], out["insight_rehearsal_days"] = rehearsal_comparison(
            [*([own] if own is not None else []), *compare])
    else:
        skipped.append("rehearsals (re-run simulate: outcomes_day)")
    cb.on_step("insights", 1)

    # the plan's post-mortem
    truth_day = None
    if has("truth") and rehearsed:
        d = pd.to_datetime(t["truth"]["date"]).dt.date
        truth_day = t["truth"].loc[d.isin(rehearsed).to_numpy()]
    if has("outcomes_stock", "lanes") and truth_day is not None:
        near = nearest_warehouse(t["lanes"])
        if has("outcomes_reason"):
            near = (t["outcomes_reason"][["region_id", "warehouse_id"]].dropna()
                    .drop_duplicates("region_id"))
        pm = stock_post_mortem(t["outcomes_stock"], truth_day, t["lanes"], near)
        out["insight_stock"] = pm
        if has("warehouses"):
            out["insight_moves"] = moves(pm, t["warehouses"])
    else:
        skipped.append("stock post-mortem")
    if has("forecast", "truth", "history", "skus"):
        out["insight_error"] = forecast_error(t["forecast"], t["truth"], t["history"], t["skus"])
    if has("outcomes_reason", "outcomes_region"):
        late = late_reasons(t["outcomes_reason"])
        out["insight_late"] = late
        exp = notes.get("plan", {}).get("expected_share_24h")
        noted = notes.get("plan", {})
        expected_lost = {why: float(v) if isinstance(v := noted.get(f"expected_lost_24h_{why}"),
                                                      float | int) else None
                         for why in ("stock", "backlog", "transit")}
        out["insight_gap"] = share_gap(exp if isinstance(exp, float | int) else None,
                                       float(t["outcomes_region"]["units"].sum()), late,
                                       expected_lost)
    else:
        skipped.append("reasons (re-run simulate: outcomes_reason)")
    cb.on_step("insights", 1)

    # for next year
    if has("forecast_total", "truth") and window is not None:
        out["insight_misses"] = misses(t["forecast_total"], t["truth"], window)
    cb.on_step("insights", 1)
    cb.on_end("insights")

    figures.update(_figures(out, params))
    figures["compared"] = [r.label for r in compare]
    figures["skipped"] = skipped
    return InsightsResult(out, figures, window, seed)


def _figures(out: Mapping[str, pd.DataFrame], params: InsightsParams) -> dict[str, object]:
    f: dict[str, object] = {}
    counts = out.get("insight_brand_counts")
    if counts is not None:
        allc = counts[(counts["country"] == "all") & (counts["category"] == "all")]
        f["brands_above"] = {f"{r.scope} >= {r.threshold:,.0f}": int(r.brands)
                             for r in allc.itertuples()}
        f["scale"] = params.scale
    lift = out.get("insight_lift")
    if lift is not None:
        tot = lift[lift["dimension"] == "total"].iloc[0]
        f["lift_units_added"] = float(tot["added_units"])
        f["lift_gmv_added"] = float(tot["added_gmv"])
        f["lift"] = float(tot["lift"])
    gap = out.get("insight_gap")
    if gap is not None:
        f.update({f"share_{r.component}": float(r.share) for r in gap.itertuples()})
    st = out.get("insight_stock")
    if st is not None:
        f["units_left"] = int(st["left"].sum())
        f["units_short_nearest"] = int(st["short"].sum())
        f["sku_warehouses_short"] = int((st["short"] > 0).sum())
    ms = out.get("insight_misses")
    if ms is not None:
        f["skus_outside_q10_q90"] = len(ms)
    el = out.get("insight_elasticity")
    if el is not None and len(el):
        f["elasticity"] = float(el.loc[el["term"] == "elasticity", "estimate"].iloc[0])
    reh = out.get("insight_rehearsals")
    if reh is not None:
        for r in reh.itertuples():
            f[f"rehearsal {r.event} ({r.days} d)"] = (
                f"{r.units_per_day:,.0f} units/day, x{r.lift:.1f} an ordinary day; peak hour "
                f"{r.peak_hour_load:.1f}x the warehouses' capacity; {r.share_24h:.1%} within "
                f"24 h; {r.stock_left_share:.1%} of stock left")
    return f


def run_insights(ws: object, params: InsightsParams | None = None, *, seed: int = 0,
                 callbacks: Callbacks | None = None, export: Path | None = None,
                 export_format: str = "csv", compare: Sequence[Rehearsal] = ()
                 ) -> InsightsResult:
    """Compute the insights of a workspace and commit their tables as the ``insights``
    stage (lineage records what they were computed from); with ``export``, also write
    each table as ``<export>/<table>.csv`` or ``.parquet``. ``compare`` are other
    rehearsals (:meth:`Rehearsal.from_workspace`: of another workspace) to stand beside
    this one's in ``insight_rehearsals``, as they are now (their workspaces' changes
    later do not mark these tables stale; the notes name them)."""
    from forestock.workspace import Workspace

    if not isinstance(ws, Workspace):
        raise ValueError(f"ws must be a Workspace, got {type(ws).__name__}")
    if export_format not in ("csv", "parquet"):
        raise ValueError(f"export_format must be 'csv' or 'parquet', got {export_format!r}")
    ws.check_exists()
    present = [n for n in READS if ws.has(n)]
    if not any(n.startswith("outcomes_") for n in present) and "history" not in present:
        raise ForestockError("insights need at least the history or a rehearsal's outcomes; "
                             "run `forestock demo` or the stages first")
    with ws.stage("insights", reads=present) as st:
        tables = {n: ws.read(n) for n in present}
        result = compute_insights(tables, params, notes=ws.notes(), seed=seed,
                                  callbacks=callbacks, compare=compare)
        import pyarrow.parquet as pq

        from forestock.tables import to_arrow

        for name, frame in result.tables.items():
            pq.write_table(to_arrow(frame, name), st.file(name), compression="zstd")
        st.notes["insights"] = dict(_jsonable(result.figures))
    if export is not None:
        export_insights(result.tables, export, export_format)
    return result


def export_insights(tables: Mapping[str, pd.DataFrame], folder: Path,
                    export_format: str = "csv") -> list[Path]:
    """Write each insight table as ``<folder>/<table>.csv`` (UTF-8) or ``.parquet``."""
    if export_format not in ("csv", "parquet"):
        raise ValueError(f"export_format must be 'csv' or 'parquet', got {export_format!r}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = folder / f"{name}.{export_format}"
        if export_format == "csv":
            frame.to_csv(path, index=False, encoding="utf-8")
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def _jsonable(figures: Mapping[str, object]) -> dict[str, object]:
    from forestock.workspace import jsonable

    value = jsonable(dict(figures))
    return value if isinstance(value, dict) else {}

