"""The report's rendering layer: each section's Plotly figures and HTML from its data.

Every function here takes data computed by :mod:`forestock.report._data` (no
table is read here) and returns an HTML fragment; a section without data says
which tables it lacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from forestock.report._data import FlowData, WarehouseData
from forestock.report._headline import BN, DAY_SECONDS, HUNDRED_M, Headline
from forestock.report._html import (
    PALETTE,
    Figures,
    card,
    count,
    esc,
    hour_label,
    money,
    pct,
    table,
    yi,
)
from forestock.report._outlines import geo_axes, outline_trace, with_outlines

__all__ = [
    "brands",
    "cards",
    "delivery",
    "forecast_plan",
    "notes",
    "over_the_day",
    "skipped",
    "warehouses",
]

#: Regions shown one by one in the delivery bar chart (the worst ones).
MAX_REGION_BARS = 60
#: Regions named on the map (the largest by units).
MAX_MAP_LABELS = 12
#: Warehouses above which the backlog is drawn as a heat map rather than lines.
MAX_BACKLOG_LINES = 10

_COUNTRIES = {
    "CN": "China", "US": "United States", "JP": "Japan", "KR": "South Korea", "DE": "Germany",
    "FR": "France", "GB": "United Kingdom", "IT": "Italy", "NL": "Netherlands", "CH": "Switzerland",
    "SE": "Sweden", "AU": "Australia", "NZ": "New Zealand", "CA": "Canada", "ES": "Spain",
    "DK": "Denmark", "BE": "Belgium", "TW": "Taiwan", "HK": "Hong Kong", "SG": "Singapore",
    "TH": "Thailand", "MY": "Malaysia", "VN": "Vietnam", "ID": "Indonesia", "IN": "India",
    "FI": "Finland", "NO": "Norway", "AT": "Austria", "IE": "Ireland", "IL": "Israel",
}

#: Each section's anchor and title.
TITLES = {
    "day": "The day, second by second",
    "regions": "Delivery by region",
    "brands": "Brand leaderboard",
    "warehouses": "Warehouses",
    "forecast": "Forecast and plan",
}


def _country(code: str) -> str:
    name = _COUNTRIES.get(str(code).upper())
    return f"{name} ({code})" if name else str(code)


def _section(anchor: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{esc(TITLES[anchor])}</h2>{note_html}{body}</section>'


def skipped(anchor: str, missing: Sequence[str]) -> str:
    """The section ``anchor`` replaced by a note naming the tables it lacks."""
    if anchor == "cards":
        return ('<p class="skipped">No headline figures: they need '
                + ", ".join(f"<code>{esc(m)}</code>" for m in missing)
                + " (run <code>forestock simulate</code>).</p>")
    names = ", ".join(f"<code>{esc(m)}</code>" for m in missing)
    return _section(anchor, f'<p class="skipped">Skipped: this section needs {names}, '
                            "not in these tables.</p>")


def _base(day: dt.date | None) -> pd.Timestamp:
    return pd.Timestamp(day) if day is not None else pd.Timestamp("2000-01-01")


# ---------------------------------------------------------------------------- 1. cards


def cards(h: Headline, scale: float = 1.0) -> str:
    """The row of headline cards; ``scale`` (the insights', when not 1) says that the brand
    counts are at the data's scale (``h`` holds them so)."""
    items = [
        card("GMV", money(h.gmv), f"{yi(h.gmv)} · CNY {h.gmv:,.0f}"),
        card("GMV per second", money(h.gmv_per_second),
             f"average · peak {money(h.peak_gmv_per_second)}"),
        card("Orders", f"{h.orders:,}", count(h.orders) if h.orders >= 1e8 else ""),
        card("Units", f"{h.units:,}", count(h.units) if h.units >= 1e8 else ""),
        card("Peak orders per second", f"{h.peak_orders_per_second:,}", f"at {h.peak_time}"),
        card("Delivered within 24 h", pct(h.share_24h),
             f"of units ordered · {pct(h.shipped_share_24h)} of shipped"),
        card("Delivered within 48 h", pct(h.share_48h),
             f"of units ordered · {pct(h.shipped_share_48h)} of shipped"),
        card("Unfilled", pct(h.unfilled_share, 2),
             f"of units ordered · late {pct(h.late_share, 2)}"),
    ]
    if h.brands_1bn is not None and h.brands_100m is not None:
        at = "" if scale == 1.0 else f" · at the data's scale, 1/{1 / scale:,.0f}"
        items.append(card("Brands ≥ CNY 1 bn", f"{h.brands_1bn:,}",
                          f"{h.brands_100m:,} at ≥ CNY 100 m (1 亿){at}"))
    if h.backlog_cleared_hour is not None:
        items.append(card("Backlog cleared", hour_label(h.backlog_cleared_hour),
                          "end of the last hour with parcels waiting"))
    return f'<div class="cards">{"".join(items)}</div>'


# ---------------------------------------------------------------------------- 2. the day


def over_the_day(sec: dict[str, np.ndarray], fig: Figures, day: dt.date | None) -> str:
    """GMV per second over the day, the midnight surge, and orders per minute (from dense
    per-second arrays)."""
    base = _base(day)
    gmv_min = sec["gmv"].reshape(-1, 60)
    minutes = base + pd.to_timedelta(np.arange(DAY_SECONDS // 60), unit="min")
    axis = {"tickformat": "%H:%M", "hoverformat": "%H:%M:%S", "title": "time of day"}

    f1 = go.Figure()
    f1.add_scatter(x=minutes, y=gmv_min.max(axis=1), name="peak second in the minute",
                   line={"color": "#faa2c1", "width": 1}, fill="tozeroy", fillcolor="#fff0f6")
    f1.add_scatter(x=minutes, y=gmv_min.mean(axis=1), name="average over the minute",
                   line={"color": PALETTE[0], "width": 1.6})
    f1.update_layout(title="GMV per second over the day (CNY)", xaxis=axis,
                     yaxis={"title": "CNY per second", "rangemode": "tozero"})

    first = 30 * 60
    secs = base + pd.to_timedelta(np.arange(first), unit="s")
    f2 = go.Figure()
    f2.add_scatter(x=secs, y=sec["gmv"][:first], name="GMV per second",
                   line={"color": PALETTE[0], "width": 1})
    f2.add_scatter(x=secs, y=sec["orders"][:first], name="orders per second", yaxis="y2",
                   line={"color": PALETTE[1], "width": 1})
    f2.update_layout(title="The midnight surge: first 30 minutes, per second",
                     xaxis={**axis, "tickformat": "%H:%M:%S"},
                     yaxis={"title": "CNY per second", "rangemode": "tozero"},
                     yaxis2={"title": "orders per second", "overlaying": "y", "side": "right",
                             "tickmode": "auto",
                             "rangemode": "tozero", "showgrid": False})

    f3 = go.Figure()
    f3.add_bar(x=minutes, y=sec["orders"].reshape(-1, 60).sum(axis=1), name="orders",
               marker={"color": PALETTE[1], "line": {"width": 0}})
    f3.update_layout(title="Orders per minute", xaxis=axis, bargap=0,
                     yaxis={"title": "orders per minute"})
    note = (
        "Upper chart: for each minute, the average GMV per second and the busiest second. "
        + ("" if day else "The event date is unknown (no calendar); times are of the day only.")
    )
    return _section("day", fig(f1, 380) + f'<div class="grid2">{fig(f2, 340)}'
                    f"{fig(f3, 340)}</div>", note)


# ---------------------------------------------------------------------------- 3. delivery


def delivery(agg: pd.DataFrame, fig: Figures) -> str:
    """Delivery within 24 h and 48 h by region (worst first): bars, a map and the ten worst."""
    shown = agg.head(MAX_REGION_BARS)
    f1 = go.Figure()
    f1.add_bar(x=shown["name"], y=shown["s_d24"], name="within 24 h", marker_color=PALETTE[1])
    f1.add_bar(x=shown["name"], y=shown["s_d48"], name="within 48 h", marker_color=PALETTE[3])
    f1.update_layout(
        title="Share of units ordered delivered within 24 h and 48 h (worst first)"
        + (f", the {MAX_REGION_BARS} worst of {len(agg)}" if len(agg) > MAX_REGION_BARS else ""),
        barmode="group", yaxis={"tickformat": ".0%", "range": [0, 1.02]},
        xaxis={"tickangle": -45})
    body = fig(f1, 420)

    geo = agg.dropna(subset=["lat", "lon"])
    if not geo.empty:
        body += fig(_region_map(geo), 620)
    else:
        body += '<p class="note">No map: the regions table (lat, lon) is absent.</p>'

    worst = agg.head(10)
    rows = [
        [r["name"], r["province"], f"{r['units']:,.0f}", pct(r["s_d24"]), pct(r["s_d48"]),
         pct(r["s_late"], 2), pct(r["s_unfilled"], 2)]
        for r in worst.to_dict("records")
    ]
    body += "<h3>The 10 worst regions (by share within 48 h)</h3>" + table(
        ["region", "province", "units", "24 h", "48 h", "late", "unfilled"], rows,
        [False, False, True, True, True, True, True])
    return _section("regions", body,
                    "Shares are of units ordered, summed over the 24 order hours.")


def _region_map(geo: pd.DataFrame) -> go.Figure:
    """Regions on a graticule (with China's province outlines when they lie in China):
    marker size by units, colour by the share within 48 h."""
    size = np.sqrt(geo["units"].to_numpy(dtype=float))
    size = 6 + 34 * size / size.max() if size.max() > 0 else np.full(len(geo), 8.0)
    hover = [
        f"{n} {p}<br>units {u:,.0f}<br>24 h {a:.1%} · 48 h {b:.1%}<br>unfilled {c:.2%}"
        for n, p, u, a, b, c in zip(geo["name"], geo["province"], geo["units"], geo["s_d24"],
                                    geo["s_d48"], geo["s_unfilled"], strict=True)
    ]
    biggest = set(geo["units"].nlargest(MAX_MAP_LABELS).index)
    labels = [n if i in biggest else "" for i, n in zip(geo.index, geo["name"], strict=True)]
    # province outlines from the dashboard's map, under the points (China only)
    china = with_outlines(geo["lat"].to_numpy(), geo["lon"].to_numpy())
    f = go.Figure([outline_trace()] if china else [])
    f.add_trace(go.Scattergeo(
        lat=geo["lat"], lon=geo["lon"], hovertext=hover, hoverinfo="text",
        text=labels, mode="markers+text", textposition="top center",
        textfont={"size": 10, "color": "#495057"}, showlegend=False,
        marker={"size": size, "color": geo["s_d48"], "colorscale": "RdYlGn",
                "cmin": float(min(geo["s_d48"].min(), 0.9)), "cmax": 1.0,
                "line": {"width": 0.5, "color": "#495057"}, "opacity": 0.85,
                "colorbar": {"title": {"text": "48 h"}, "tickformat": ".0%"}},
    ))
    geo_axes(f, geo["lat"].to_numpy(), geo["lon"].to_numpy(), china)
    f.update_layout(title="Regions: marker size = units ordered, colour = share within 48 h")
    return f


# ---------------------------------------------------------------------------- 4. brands


def brands(ob: pd.DataFrame, fig: Figures, scale: float = 1.0) -> str:
    """The brand leaderboard (GMV by brand, largest first): the CNY 1 bn and 100 m clubs, the
    top 20, GMV by country. ``scale`` (the insights', when not 1): a brand is in a club when
    its GMV reaches the threshold times the scale, and the section says so."""

    def club(low: float, high: float | None) -> str:
        low, high = low * scale, None if high is None else high * scale
        sel = ob[(ob["gmv"] >= low) & ((ob["gmv"] < high) if high is not None else True)]
        if sel.empty:
            return "<p>none</p>"
        rows = [[i + 1, r["name"], _country(r["country"]), money(r["gmv"]), f"{r['gmv']:,.0f}"]
                for i, r in enumerate(sel.to_dict("records"))]
        return table(["#", "brand", "country", "GMV", "GMV, CNY"], rows,
                     [True, False, False, True, True], scroll=len(rows) > 15)

    n_bn = int((ob["gmv"] >= BN * scale).sum())
    n_hm = int((ob["gmv"] >= HUNDRED_M * scale).sum())
    at = "" if scale == 1.0 else f" at the data's scale (from {money(BN * scale)})"
    at_hm = "" if scale == 1.0 else f" at the data's scale (from {money(HUNDRED_M * scale)})"
    body = (
        f"<h3>Brands above CNY 1 billion{at}: {n_bn}</h3>" + club(BN, None)
        + f"<h3>Brands above CNY 100 million (1 亿){at_hm}: {n_hm} in all, "
        f"{n_hm - n_bn} below CNY 1 billion</h3>" + club(HUNDRED_M, BN)
    )

    top = ob.head(20)
    f1 = go.Figure()
    countries = list(dict.fromkeys(top["country"]))
    for i, c in enumerate(countries):
        part = top[top["country"] == c]
        f1.add_bar(x=part["name"], y=part["gmv"], name=_country(c),
                   marker_color=PALETTE[i % len(PALETTE)])
    f1.update_layout(title="Top 20 brands by GMV (CNY), coloured by country",
                     xaxis={"categoryorder": "array", "categoryarray": list(top["name"]),
                            "tickangle": -40},
                     yaxis={"title": "GMV, CNY"}, barmode="overlay")

    by_c = ob.groupby("country")["gmv"].sum().sort_values(ascending=False)
    f2 = go.Figure(go.Bar(x=[_country(str(c)) for c in by_c.index], y=by_c.to_numpy(),
                          marker_color=PALETTE[1],
                          text=[money(float(v)) for v in by_c.to_numpy()],
                          textposition="outside"))
    f2.update_layout(title="GMV by country of origin (CNY)", yaxis={"title": "GMV, CNY"},
                     xaxis={"tickangle": -30})
    body += f'<div class="grid2">{fig(f1, 420)}{fig(f2, 420)}</div>'
    note = "A brand is in a club when its GMV on the day is at least the threshold."
    if scale != 1.0:
        note = (f"The insights count brands at the data's scale, 1/{1 / scale:,.0f} of the "
                "market the thresholds are set for (the embedded world's brands are sized as "
                "on 2019's Tmall; see After the event): a brand is in a club when its GMV on "
                "the day is at least the threshold times the scale.")
    return _section("brands", body, note)


# ---------------------------------------------------------------------------- 5. warehouses


def warehouses(data: WarehouseData, fig: Figures) -> str:
    """Storage and outbound utilisation, backlog over the hours, and when it clears."""
    wh, has_plan, has_out = data.table, data.has_plan, data.has_outcomes
    body = ""
    notes = []
    if not has_plan:
        notes.append("no <code>plan</code>: storage utilisation not shown")
    if not has_out:
        notes.append("no <code>outcomes_warehouse</code>: outbound and backlog not shown")

    f1 = go.Figure()
    if has_plan:
        f1.add_bar(x=wh["label"], y=wh["storage_util"], name="storage (plan / storage_units)",
                   marker_color=PALETTE[4])
    if has_out:
        f1.add_bar(x=wh["label"], y=wh["out_util"],
                   name="outbound at peak (max hourly shipped / outbound_per_hour)",
                   marker_color=PALETTE[2])
    f1.add_hline(y=1.0, line={"dash": "dot", "color": "#c92a2a"})
    f1.update_layout(title="Utilisation per warehouse", barmode="group",
                     yaxis={"tickformat": ".0%", "rangemode": "tozero"},
                     xaxis={"tickangle": -40})
    body += fig(f1, 400)

    grid = data.backlog
    if grid is not None:
        names = dict(zip(wh["warehouse_id"], wh["label"], strict=True))
        hours = [hour_label(int(h)) for h in grid.columns.to_numpy()]
        f2 = go.Figure()
        if len(grid) <= MAX_BACKLOG_LINES:
            for i, (w, row) in enumerate(grid.iterrows()):
                f2.add_scatter(x=hours, y=row.to_numpy(), name=names.get(str(w), str(w)),
                               mode="lines+markers", marker={"size": 4},
                               line={"color": PALETTE[i % len(PALETTE)]})
            f2.update_layout(yaxis={"title": "parcels waiting", "rangemode": "tozero"})
        else:
            f2.add_heatmap(z=grid.to_numpy(), x=hours,
                           y=[names.get(str(w), str(w)) for w in grid.index],
                           colorscale="OrRd", colorbar={"title": {"text": "parcels"}})
            f2.update_yaxes(autorange="reversed")
        f2.update_layout(title="Backlog at the end of each hour (hours past 24:00 drain it)",
                         xaxis={"title": "hour since the start of the event day"})
        body += fig(f2, max(380, 22 * len(grid) + 120) if len(grid) > MAX_BACKLOG_LINES
                    else 380)

    def num(r: dict[Any, Any], col: str, fmt: str) -> str:
        v = r.get(col)
        return "–" if v is None or pd.isna(v) else format(float(v), fmt)

    rows = []
    for r in wh.to_dict("records"):
        cleared_at = r.get("cleared")
        rows.append([
            r["label"], r["tier"], r["region"], f"{r['storage_units']:,}",
            num(r, "planned", ",.0f"), num(r, "storage_util", ".1%"),
            f"{r['outbound_per_hour']:,}", num(r, "peak_shipped", ",.0f"),
            num(r, "out_util", ".1%"), num(r, "peak_backlog", ",.0f"),
            "–" if not has_out else (
                hour_label(cleared_at) if cleared_at is not None and pd.notna(cleared_at)
                else "not cleared"),
        ])
    body += "<h3>Per warehouse</h3>" + table(
        ["warehouse", "tier", "region", "storage", "planned", "storage use", "outbound/h",
         "peak shipped/h", "outbound use", "peak backlog", "backlog clears"],
        rows, [False, False, False, True, True, True, True, True, True, True, True],
        scroll=len(rows) > 15)
    note = ("Backlog clears at the end of the hour shown, after which none is left. "
            + "; ".join(notes))
    return _section("warehouses", body, note)


# ---------------------------------------------------------------------------- 6. forecast/plan


def forecast_plan(data: FlowData, fig: Figures, day: dt.date | None) -> str:
    """National forecast with its q10-q90 band per date, and units planned per tier."""
    body = ""
    notes = []
    fc_total = None
    nat = data.national
    if nat is not None:
        fc_total = float(nat["mean"].sum())
        f1 = go.Figure()
        one_day = len(nat) == 1  # a band needs two dates: one day shows its q10-q90 as a bar
        if not one_day:
            f1.add_scatter(x=nat["date"], y=nat["q90"], line={"width": 0}, showlegend=False,
                           mode="lines", hoverinfo="skip")
            f1.add_scatter(x=nat["date"], y=nat["q10"], line={"width": 0}, fill="tonexty",
                           mode="lines", hoverinfo="skip",
                           fillcolor="rgba(28,126,214,0.18)", name="q10–q90 (summed)")
        f1.add_scatter(x=nat["date"], y=nat["mean"],
                       name="forecast mean (bar: q10–q90 summed)" if one_day else "forecast mean",
                       line={"color": PALETTE[1], "width": 2}, mode="lines+markers",
                       error_y={"type": "data", "symmetric": False,
                                "array": nat["q90"] - nat["mean"],
                                "arrayminus": nat["mean"] - nat["q10"], "width": 12}
                       if one_day else None)
        if data.truth is not None:
            f1.add_scatter(x=data.truth["date"], y=data.truth["units"], name="truth (held back)",
                           mode="markers", marker={"color": PALETTE[0], "symbol": "x",
                                                   "size": 9})
        if day is not None:
            f1.add_vline(x=pd.Timestamp(day).timestamp() * 1000,
                         line={"dash": "dot", "color": PALETTE[0]})
        xaxis: dict[str, object] = {"tickformat": "%d %b"}
        if one_day:  # one tick, the day itself, with a day either side for room
            d0 = nat["date"].iloc[0]
            xaxis.update(tickvals=[d0], range=[d0 - pd.Timedelta(days=1),
                                               d0 + pd.Timedelta(days=1)])
        f1.update_layout(title="National forecast, units per date of the window",
                         yaxis={"title": "units", "rangemode": "tozero"}, xaxis=xaxis)
        body += fig(f1, 380)
        notes.append("the band sums each series' q10 and q90, so it is wider than the "
                     "national q10–q90")
    tiers = data.tiers
    if tiers is not None:
        f2 = go.Figure(go.Bar(x=tiers["tier"].str.upper(), y=tiers["units"],
                              marker_color=[PALETTE[4], PALETTE[5], PALETTE[6]][: len(tiers)],
                              text=[f"{u:,.0f}" for u in tiers["units"]],
                              textposition="outside"))
        total = float(tiers["units"].sum())
        sub = f"Units planned per warehouse tier (total {total:,.0f}"
        sub += f"; forecast mean over the window {fc_total:,.0f})" if fc_total else ")"
        f2.update_layout(title=sub, yaxis={"title": "units"})
        body += fig(f2, 340)
    else:
        notes.append("no <code>plan</code>")
    return _section("forecast", body, "; ".join(notes).capitalize())


# ---------------------------------------------------------------------------- 7. notes


def notes(tables: Sequence[tuple[str, int]], seed: int | None, seeds: dict[str, int]) -> str:
    """Tables present with row counts, the seeds, and the definitions used."""
    rows = [[name, f"{n:,}"] for name, n in tables]
    tables_html = table(["table", "rows"], rows, [False, True]) if rows else "<p>none</p>"
    seed_text = str(seed) if seed is not None else "not recorded by any stage"
    by_stage = ""
    if seeds:
        by_stage = table(["stage", "seed"], [[s, v] for s, v in seeds.items()], [False, True])
    defs = [
        ("GMV", "value of the units ordered on the event day, CNY; per second = GMV / 86,400."),
        ("Within 24 h / 48 h", "units delivered within 24 h / 48 h of the order; "
         "48 h includes 24 h."),
        ("Late", "units delivered after 48 h."),
        ("Unfilled", "units no warehouse could serve; units = shipped + unfilled and "
         "shipped = within 48 h + late."),
        ("Shares", "of units ordered, unless said to be of units shipped."),
        ("Peak", "the busiest single second of the day (the first of equal ones)."),
        ("Brand clubs", f"GMV of at least CNY 1 billion ({money(BN)}) or CNY 100 million "
         "(1 亿)."),
        ("Storage use", "units planned in the warehouse / its storage_units."),
        ("Outbound use", "the most parcels shipped in one hour / outbound_per_hour."),
        ("Backlog clears", "the hour at whose end no parcel waits, nor at any later hour."),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in defs)
    body = (f"<h3>Tables</h3>{tables_html}"
            f"<h3>Seed</h3><p>{esc(seed_text)}</p>{by_stage}"
            f"<h3>Definitions</h3><dl>{dl}</dl>")
    return (f'<section id="notes"><h2>Data and method</h2>{body}</section>')
