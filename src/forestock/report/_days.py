"""The days of a rehearsed event window (``outcomes_day``): units, the share within 24 h,
stock left and units replenished, day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from forestock.report._html import Figures, pct, table

__all__ = ["days_figures", "window_days"]


def _share_24h(days: pd.DataFrame) -> np.ndarray:
    units = days["units"].to_numpy(dtype=float)
    return np.divide(days["delivered_24h"].to_numpy(dtype=float), units,
                     out=np.zeros(units.size), where=units > 0)


def days_figures(days: pd.DataFrame, event: str = "the window") -> tuple[go.Figure, go.Figure]:
    """Two figures of a window's days (``date``, ``units``, ``share_24h``, ``inbound``,
    ``transfers``, ``stock_left``): units per day (bars) with the share within 24 h (line,
    right axis); stock left at each day's end (line) with the units received before its
    orders (bars: from manufacturers' waves, from hubs)."""
    date = pd.to_datetime(days["date"])
    share = days["share_24h"].to_numpy(dtype=float)
    units = go.Figure()
    units.add_bar(x=date, y=days["units"], name="units ordered", marker_color="#adb5bd")
    units.add_scatter(x=date, y=share, name="share within 24 h", yaxis="y2",
                      mode="lines+markers", line={"color": "#d6336c", "width": 2})
    units.update_layout(
        title=f"{event}: units per day, share within 24 h",
        yaxis={"title": "units"},
        yaxis2={"title": "within 24 h", "overlaying": "y", "side": "right",
                "tickformat": ".0%", "range": [max(0.0, float(share.min()) - 0.1), 1.0]},
        bargap=0.15)
    stock = go.Figure()
    stock.add_bar(x=date, y=days["inbound"], name="received from manufacturers",
                  marker_color="#37b24d")
    stock.add_bar(x=date, y=days["transfers"], name="received from hubs",
                  marker_color="#74b816")
    stock.add_scatter(x=date, y=days["stock_left"], name="stock left at the day's end",
                      mode="lines+markers", line={"color": "#1c7ed6", "width": 2})
    stock.update_layout(title=f"{event}: stock left each night, units replenished",
                        barmode="stack", yaxis={"title": "units"})
    return units, stock


def window_days(days: pd.DataFrame, fig: Figures, event: str = "the window") -> str:
    """The section "The window, day by day" of a rehearsal of several days; empty for a
    rehearsal of one day."""
    if len(days) < 2:
        return ""
    days = days.sort_values("date", kind="stable").reset_index(drop=True)
    share = _share_24h(days)
    f_units, f_stock = days_figures(days.assign(share_24h=share), event)
    rows = [[f"{pd.Timestamp(r['date']):%a %d %b}", f"{r['orders']:,}", f"{r['units']:,}",
             pct(s), f"{r['unfilled']:,}", f"{r['inbound']:,}", f"{r['transfers']:,}",
             f"{r['stock_left']:,}", f"{r['backlog']:,}"]
            for r, s in zip(days.to_dict("records"), share, strict=True)]
    total = int(days["units"].sum())
    within = int(days["delivered_24h"].sum())
    return ('<section id="days"><h2>The window, day by day</h2>'
            f'<p class="note">{len(days)} days rehearsed one after the other '
            "(<code>outcomes_day</code>): each day's orders from the stock the day before "
            "left, behind the parcels still waiting at midnight, after the plan's "
            "replenishment waves due that day arrived. Over the window "
            f"{total:,} units, {pct(within / total if total else 0.0)} within 24 h; "
            f"{int(days['inbound'].sum()):,} units received from manufacturers, "
            f"{int(days['stock_left'].iloc[-1]):,} left after the last day. The sections "
            "per hour and per second add the days up.</p>"
            + '<div class="grid2">' + fig(f_units, 360) + fig(f_stock, 360) + "</div>"
            + table(["day", "orders", "units", "within 24 h", "unfilled",
                     "from manufacturers", "from hubs", "stock left", "backlog at midnight"],
                    rows, [False, *([True] * 8)], scroll=True)
            + "</section>")
