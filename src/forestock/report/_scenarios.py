"""The report's section on many rehearsals at once (``simulate --scenarios``): the spread of
the share within 24 h and 48 h, the units unfilled and the peak backlog over the forecast's
demand scenarios, per what-if, and their P10/P50/P90."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from forestock.report._html import PALETTE, Figures, esc, pct, table
from forestock.report._source import Source

__all__ = ["ANCHOR", "TABLES", "TITLE", "ScenarioData", "scenario_data", "scenarios_section"]

ANCHOR = "scenarios"
TITLE = "Rehearsals in many demand scenarios"
#: The tables the section shows (it is left out without them).
TABLES = ("simulate_scenarios", "simulate_scenarios_summary")

_MEASURES = (("share_24h", "share of units within 24 h", True),
             ("share_48h", "share of units within 48 h", True),
             ("unfilled_share", "share of units unfilled", True),
             ("unfilled", "units unfilled", False),
             ("peak_backlog", "peak backlog (parcels)", False))


@dataclass(frozen=True)
class ScenarioData:
    """One row per what-if and scenario (``simulate_scenarios``), P10/P50/P90 per what-if and
    measure (``simulate_scenarios_summary``), and the scenarios' seed if noted."""

    table: pd.DataFrame
    summary: pd.DataFrame
    seed: int | None


def scenario_data(src: Source) -> ScenarioData | None:
    """The scenarios' tables, or None when the source lacks them."""
    if not all(src.has(t) for t in TABLES):
        return None
    seed = src.notes().get("scenarios", {}).get("seed")
    return ScenarioData(src.read(TABLES[0]), src.read(TABLES[1]),
                        seed if isinstance(seed, int) else None)


def scenarios_section(data: ScenarioData, fig: Figures) -> str:
    """Box plots of the shares and of units unfilled and peak backlog per what-if (every
    scenario a point), and the table of P10/P50/P90."""
    t = data.table
    names = list(dict.fromkeys(t["what_if"]))  # in the table's order: as planned first
    k = int(t["scenario"].nunique())
    f1 = go.Figure()
    for col, label, color in (("share_24h", "within 24 h", PALETTE[1]),
                              ("share_48h", "within 48 h", PALETTE[3])):
        f1.add_box(x=t["what_if"], y=t[col], name=label, marker_color=color,
                   boxpoints="all", jitter=0.4, pointpos=0,
                   customdata=t["scenario"],
                   hovertemplate="%{x}, scenario %{customdata}: %{y:.1%}<extra></extra>")
    f1.update_layout(title=f"Share of units delivered, over {k} demand scenarios",
                     boxmode="group", yaxis={"tickformat": ".0%", "title": "share of units"},
                     xaxis={"categoryorder": "array", "categoryarray": names})
    f2 = make_subplots(rows=1, cols=2, subplot_titles=("units unfilled",
                                                       "peak backlog (parcels)"))
    for i, col in enumerate(("unfilled", "peak_backlog")):
        f2.add_trace(go.Box(x=t["what_if"], y=t[col], boxpoints="all", jitter=0.4, pointpos=0,
                            marker_color=PALETTE[0 if i == 0 else 2], showlegend=False,
                            customdata=t["scenario"],
                            hovertemplate="%{x}, scenario %{customdata}: %{y:,}<extra></extra>"),
                     row=1, col=i + 1)
        f2.update_xaxes(categoryorder="array", categoryarray=names, row=1, col=i + 1)
    f2.update_layout(title="Units unfilled and the most parcels waiting at an hour's end")
    s = data.summary.set_index(["what_if", "measure"])
    rows = []
    for name in names:
        for m, label, share in _MEASURES:
            if (name, m) in s.index:
                r = s.loc[(name, m)]
                rows.append([name, label, *(pct(r[c]) if share else f"{r[c]:,.0f}"
                                            for c in ("p10", "p50", "p90"))])
    note = (f"{k} demand scenarios drawn from the forecast with the plan's model "
            f"(stratified: they span each SKU's national demand)"
            + (f", seed {data.seed}" if data.seed is not None else "")
            + "; every what-if rehearsed on the same demands and draws, so a what-if's "
              "points differ from the plan's by the what-if alone.")
    body = (fig(f1, 380) + fig(f2, 340)
            + table(["what-if", "measure", "P10", "P50", "P90"], rows,
                    [False, False, True, True, True]))
    return (f'<section id="{ANCHOR}"><h2>{esc(TITLE)}</h2><p class="note">{esc(note)}</p>'
            f"{body}</section>")
