"""The report's comparison of rehearsals: a one-day event beside a multi-day event of the
same network (``insight_rehearsals``, ``insight_rehearsal_days``)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from forestock.report._days import days_figures
from forestock.report._html import PALETTE, Figures, esc, pct, table
from forestock.report._source import TableReader

__all__ = ["rehearsals_part"]


def _name(r: pd.Series) -> str:
    days = int(r["days"])
    return f"{r['event']} ({days} day{'s' if days > 1 else ''})"


def _x(value: float) -> str:
    """A ratio as ``x12.5`` (``x0.042`` below 1)."""
    if pd.isna(value):
        return ""
    return f"x{value:,.1f}" if abs(value) >= 1 else f"x{value:.2g}"


def _side_by_side(reh: pd.DataFrame) -> go.Figure:
    """Four panels, one bar per rehearsal in each: lift over an ordinary day (the mean day
    and the busiest), the peak hour's load on the warehouses (the network's, the most
    loaded warehouse's), the share within 24 h and the stock left."""
    panels = (("lift over an ordinary day", "lift", "busiest_day_lift"),
              ("peak hour: parcels / capacity", "peak_hour_load", "peak_warehouse_load"),
              ("share within 24 h", "share_24h", None),
              ("stock left / placed + replenished", "stock_left_share", None))
    f = make_subplots(rows=1, cols=len(panels), horizontal_spacing=0.07)
    names = [_name(r) for _, r in reh.iterrows()]
    for col, (title, main, extra) in enumerate(panels, start=1):
        share = main in ("share_24h", "stock_left_share")
        for i, (name, (_, r)) in enumerate(zip(names, reh.iterrows(), strict=True)):
            colour = PALETTE[i % len(PALETTE)]
            text = pct(r[main]) if share else _x(r[main])
            f.add_bar(x=[name], y=[r[main]], marker_color=colour, name=name, text=[text],
                      textposition="outside", legendgroup=name, showlegend=col == 1,
                      row=1, col=col)
            if extra is not None:
                f.add_scatter(x=[name], y=[r[extra]], mode="markers",
                              marker={"symbol": "diamond", "size": 11, "color": "#212529"},
                              name="busiest day / busiest warehouse",
                              legendgroup="extra", showlegend=col == 1 and i == 0,
                              row=1, col=col)
        if share:
            f.update_yaxes(tickformat=".0%", range=[0, 1.15], row=1, col=col)
        else:  # room above the bars and diamonds for their labels
            top = reh[[c for c in (main, extra) if c is not None]].max().max()
            f.update_yaxes(range=[0, 1.2 * float(top) if top > 0 else 1.0], row=1, col=col)
        f.update_xaxes(showticklabels=False, title_text=title, row=1, col=col)
    f.update_layout(title="The events side by side (bars: the mean day and the network; "
                    "diamonds: the busiest day and the most loaded warehouse)", bargap=0.3)
    return f


def _by_date(days: pd.DataFrame, reh: pd.DataFrame) -> go.Figure:
    """Each rehearsal's days on one calendar: the lift over an ordinary day (bars) and the
    share within 24 h (lines, right axis)."""
    f = go.Figure()
    low = float(days["share_24h"].min()) if len(days) else 0.5
    for i, (_, r) in enumerate(reh.iterrows()):
        d = days[days["rehearsal"] == r["rehearsal"]]
        colour = PALETTE[i % len(PALETTE)]
        name = _name(r)
        f.add_bar(x=pd.to_datetime(d["date"]), y=d["lift"], name=f"{name}: lift",
                  marker_color=colour, opacity=0.75,
                  text=[_x(v) for v in d["lift"]] if len(d) == 1 else None,
                  textposition="outside")
        f.add_scatter(x=pd.to_datetime(d["date"]), y=d["share_24h"], yaxis="y2",
                      mode="lines+markers", name=f"{name}: within 24 h",
                      line={"color": colour, "width": 2, "dash": "dot"},
                      marker={"size": 8, "symbol": "circle-open"})
    f.update_layout(
        title="Day by day: units over an ordinary day (bars) and the share within 24 h "
              "(dotted, right axis)", barmode="group",
        yaxis={"title": "lift over an ordinary day (x)"},
        yaxis2={"title": "within 24 h", "overlaying": "y", "side": "right",
                "tickformat": ".0%", "range": [max(0.0, low - 0.05), 1.02]})
    return f


def rehearsals_part(ws: TableReader, fig: Figures) -> str:
    """The comparison of the rehearsals the insights hold (nothing without them)."""
    if not ws.has("insight_rehearsals"):
        return ""
    reh = ws.read("insight_rehearsals").reset_index(drop=True)
    days = (ws.read("insight_rehearsal_days") if ws.has("insight_rehearsal_days")
            else pd.DataFrame(columns=["rehearsal", "date", "lift", "share_24h"]))
    rows = [[_name(r), r["rehearsal"], f"{int(r['skus']):,}", f"{r['units_per_day']:,.0f}",
             f"{_x(r['lift'])} / {_x(r['busiest_day_lift'])}",
             f"{_x(r['peak_hour_load'])} / {_x(r['peak_warehouse_load'])}",
             pct(r["share_24h"]), pct(r["unfilled_share"]), f"{r['placed']:,.0f}",
             f"{r['replenished']:,.0f}",
             f"{r['stock_left']:,.0f} ({pct(r['stock_left_share'])})"]
            for _, r in reh.iterrows()]
    several = len(reh) > 1
    lead = ("A one-day event beside a multi-day event" if several and
            reh["days"].min() == 1 and reh["days"].max() > 1 else "The rehearsal")
    body = ("<h3>Rehearsals side by side</h3>"
            f'<p class="note">{esc(lead)}, each read from its <code>outcomes_day</code> '
            "(one row per day rehearsed) and its warehouses' hourly queues "
            "(<code>insight_rehearsals</code>; other workspaces' rehearsals join with "
            "<code>forestock insights --compare DIR</code>). Lift: units per day over an "
            "ordinary day (the mean of the event-free days among the 28 before it, at the "
            "rehearsal's scale), for the mean day and the busiest. Peak hour: the parcels "
            "arriving at the warehouses in the busiest hour over their outbound capacity "
            "per hour, the network's and the most loaded warehouse's (a one-day event puts "
            "its midnight surge on them; a multi-day event spreads its units over weeks but "
            "has its own peak days). Stock left: after the last day, as a share of the "
            "units placed before it and replenished during it. Rehearsals of different "
            "catalogues (the demo's season runs on a smaller world of the same network, its "
            "warehouses sized to its sales) compare by these ratios, not by units.</p>"
            + fig(_side_by_side(reh), 400)
            + table(["event", "rehearsal", "SKUs", "units/day", "lift: mean / busiest day",
                     "peak hour: network / warehouse", "within 24 h", "unfilled",
                     "placed", "replenished", "stock left"], rows,
                    [False, False, True, True, True, True, True, True, True, True, True]))
    if len(days):
        body += fig(_by_date(days, reh), 400)
        for _, r in reh[reh["days"] > 1].iterrows():
            own = days[days["rehearsal"] == r["rehearsal"]]
            body += fig(days_figures(own, _name(r))[1], 360)
    return body
