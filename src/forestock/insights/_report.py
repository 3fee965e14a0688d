"""The report's insights section: Plotly figures over the insight_* tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from forestock.insights._compare_report import rehearsals_part
from forestock.report._html import Figures, esc, money, pct, table
from forestock.report._outlines import geo_axes, outline_trace, with_outlines
from forestock.report._source import TableReader

__all__ = ["GMV_2019", "SECTION_TABLES", "insights_section", "scale_of"]

#: Tables the section shows (it is marked stale with any of them).
SECTION_TABLES = ("insight_leaderboard", "insight_brand_counts", "insight_taste",
                  "insight_lift", "insight_events", "insight_rehearsals",
                  "insight_rehearsal_days", "insight_stock", "insight_error",
                  "insight_late", "insight_gap", "insight_misses", "insight_moves")

_REASON_COLOURS = {"stock": "#d6336c", "backlog": "#f59f00", "transit": "#4263eb"}


def _read(ws: TableReader, name: str) -> pd.DataFrame | None:
    return ws.read(name) if ws.has(name) else None


def insights_section(ws: TableReader, fig: Figures) -> str:
    """The section "After the event", or a note saying how to make it."""
    if not ws.has("insight_leaderboard") and not ws.has("insight_gap"):
        return ('<section id="insights"><h2>After the event: what the data says</h2>'
                '<p class="skipped">Skipped: run <code>forestock insights</code> to fill this '
                "section.</p></section>")
    regions = _read(ws, "regions")
    names = {} if regions is None else dict(zip(regions["region_id"].astype(str),
                                                regions["name"], strict=True))
    parts = [_leaderboard(ws, fig), _gap(ws, fig, names), _lift(ws, fig, names),
             _taste(ws, fig, regions), _events(ws), rehearsals_part(ws, fig),
             _post_mortem(ws, fig, names),
             _next_year(ws, names)]
    return ('<section id="insights"><h2>After the event: what the data says</h2>'
            '<p class="note">From <code>forestock insights</code> (tables '
            "<code>insight_*</code> in the workspace; each figure says how it was "
            "computed).</p>" + "".join(p for p in parts if p) + "</section>")


#: GMV of Tmall's 11.11 in 2019 (CNY), the year the press counted 15 brands above CNY 1 billion
#: and 299 above 100 million.
GMV_2019 = 268.4e9


def scale_of(counts: pd.DataFrame) -> float:
    """The insights' scale, from ``insight_brand_counts`` (1 for tables without it)."""
    if "applied" not in counts.columns or counts.empty:
        return 1.0
    r = counts.iloc[0]
    return float(r["applied"] / r["threshold"])


def _scale_note(scale: float, thresholds: list[float], total: float) -> str:
    """How the thresholds were applied: at the insights' scale, or as given."""
    if scale != 1.0:
        at = "; ".join(f"{money(t)} from {money(t * scale)}" for t in thresholds)
        return (f"<b>This data runs at 1/{1 / scale:,.0f} of the market the thresholds are "
                f"set for</b> (insights <code>scale</code> = {scale:.4g}: the embedded world "
                "notes its own, its brands being sized as on 2019's Tmall and its units "
                "kept small enough to rehearse in seconds). A brand counts when its GMV "
                f"reaches the threshold times the scale: {esc(at)}. At that scale this "
                f"day's {money(total)} stands for {money(total / scale)} (2019's 11.11: "
                f"{money(GMV_2019)}). <code>forestock simulate --scale {1 / scale:,.0f}"
                "</code> rehearses the day at full size.")
    eq = "; ".join(f"{money(t)} was {t / GMV_2019:.2%} of 2019's GMV ({money(GMV_2019)}), "
                   f"at this day's size {money(t * total / GMV_2019)}" for t in thresholds)
    return ("The thresholds apply as given (insights <code>scale</code> 1). "
            f"This day's GMV is {money(total)}; {esc(eq)}. For data smaller than the market "
            "the thresholds are set for, <code>forestock insights --scale</code> counts "
            "brands at its scale (<code>--scale world</code>: the embedded world's).")


def _leaderboard(ws: TableReader, fig: Figures) -> str:
    board = _read(ws, "insight_leaderboard")
    counts = _read(ws, "insight_brand_counts")
    if board is None or counts is None:
        return ""
    rehearsal = board[board["scope"].str.startswith("rehearsal")]
    scope = rehearsal if len(rehearsal) else board
    name = str(scope["scope"].iloc[0]) if len(scope) else ""
    total = float(scope["gmv"].sum())
    scale = scale_of(counts)
    thresholds = sorted({float(t) for t in counts["threshold"]}, reverse=True)
    scopes = [str(x) for x in pd.unique(counts["scope"]) if x != name]

    def n(sc: str, t: float, country: str = "all", category: str = "all") -> int:
        hit = counts[(counts["scope"] == sc) & (counts["threshold"] == t)
                     & (counts["country"] == country) & (counts["category"] == category)]
        return int(hit["brands"].sum())

    rows = []
    for t in thresholds:
        mine = counts[(counts["scope"] == name) & (counts["threshold"] == t)
                      & (counts["country"] != "all") & (counts["category"] == "all")]
        mine = mine.sort_values(["brands", "country"], ascending=[False, True])
        foreign = mine[mine["country"] != "CN"]
        korean = n(name, t, "KR")
        rows.append([money(t), money(t * scale), n(name, t), n(name, t, "CN"),
                     int(foreign["brands"].sum()),
                     ", ".join(f"{c} {b}" for c, b in zip(foreign["country"], foreign["brands"],
                                                           strict=True)) or "none",
                     f"{korean} ({n(name, t, 'KR', 'beauty')} beauty)",
                     *(n(sc, t) for sc in scopes)])
    head = ["threshold", "counted from", name, "Chinese", "foreign", "foreign by country",
            "Korean", *scopes]
    f0 = go.Figure()
    for i, t in enumerate(thresholds):
        c = counts[(counts["scope"] == name) & (counts["threshold"] == t)
                   & (counts["country"] != "all") & (counts["category"] == "all")]
        c = c.sort_values(["brands", "country"], ascending=[False, True])
        f0.add_bar(x=c["country"], y=c["brands"], name=f">= {money(t)}",
                   marker_color=("#d6336c", "#4263eb", "#f59f00", "#2b8a3e")[i % 4],
                   text=c["brands"], textposition="outside")
    f0.update_layout(title="Brands per threshold by country (rehearsed day)",
                     yaxis={"title": "brands", "type": "log", "dtick": 1}, barmode="group")
    by_country = (scope.groupby("country")["gmv"].sum().sort_values(ascending=False))
    f1 = go.Figure(go.Bar(x=by_country.index, y=by_country.to_numpy(),
                          marker_color="#4263eb"))
    f1.update_layout(title="GMV by brand country (rehearsed day, CNY)",
                     yaxis={"title": "GMV, CNY"})
    top = scope.head(15)
    full = scale != 1.0 and "gmv_full" in top.columns
    tops = [[int(r["rank"]), r["name"], r["country"], r["category"], money(r["gmv"]),
             *([money(r["gmv_full"])] if full else []), r["tier"] or ""]
            for r in top.to_dict("records")]
    return ("<h3>Brand leaderboard by country</h3>"
            '<p class="note">Brands crossing each threshold: GMV of the day at list prices, '
            "the rehearsal's from <code>outcomes_brand</code>, past 11.11s' from the history "
            f"(<code>insight_brand_counts</code>, by country and category). "
            f"{_scale_note(scale, thresholds, total)}</p>"
            + table(head, rows, [False, False, True, True, True, False, False,
                                 *(True for _ in scopes)])
            + f'<div class="grid2">{fig(f0, 360)}{fig(f1, 360)}</div>'
            + "<h4>The 15 largest brands of the rehearsed day</h4>"
            + table(["rank", "brand", "country", "category", "GMV",
                     *(["GMV at full size"] if full else []), "tier"], tops,
                    [True, False, False, False, True, *([True] if full else []), False]))


def _gap(ws: TableReader, fig: Figures, names: dict[str, str]) -> str:
    gap = _read(ws, "insight_gap")
    late = _read(ws, "insight_late")
    if gap is None or late is None:
        return ""
    g = dict(zip(gap["component"], gap["share"], strict=True))
    by_reason = all(f"gap_{c}" in g for c in ("stock", "backlog", "transit"))
    if by_reason:  # the plan noted its own expected losses by reason: the gap by reason
        f = go.Figure(go.Waterfall(
            x=["plan expected", "forecast error: stock", "forecast error: backlog",
               "forecast error: transit", "rehearsed"],
            measure=["absolute", "relative", "relative", "relative", "total"],
            y=[g["plan_expected_24h"], -g["gap_stock"], -g["gap_backlog"], -g["gap_transit"],
               0],
            text=[pct(g["plan_expected_24h"]), pct(-g["gap_stock"]), pct(-g["gap_backlog"]),
                  pct(-g["gap_transit"]), pct(g["rehearsed_24h"])],
            textposition="outside"))
    else:
        f = go.Figure(go.Waterfall(
            x=["plan expected", "lost: stock", "lost: backlog", "lost: transit",
               "plan's own expected loss", "rehearsed"],
            measure=["absolute", "relative", "relative", "relative", "relative", "total"],
            y=[g["plan_expected_24h"], -g["lost_stock"], -g["lost_backlog"], -g["lost_transit"],
               g["plan_expected_loss"], 0],
            text=[pct(g["plan_expected_24h"]), pct(-g["lost_stock"]), pct(-g["lost_backlog"]),
                  pct(-g["lost_transit"]), "+" + pct(g["plan_expected_loss"]),
                  pct(g["rehearsed_24h"])],
            textposition="outside"))
    f.update_layout(title="Share of units within 24 h: the plan's expectation to the rehearsal",
                    yaxis={"tickformat": ".0%",
                           "range": [max(0.0, g["rehearsed_24h"] - 0.2), 1.05]})
    worst = late.head(10)
    f2 = go.Figure()
    for reason, colour in _REASON_COLOURS.items():
        f2.add_bar(x=[names.get(str(r), str(r)) for r in worst["region_id"]], y=worst[reason],
                   name=reason, marker_color=colour)
    f2.update_layout(barmode="stack", title="Units not within 24 h by reason, the 10 regions "
                     "losing most (bar label: region; its nearest warehouse in the table)",
                     yaxis={"title": "units"})
    by_wh = late.groupby("warehouse_id")[["stock", "backlog", "transit", "units"]].sum()
    by_wh = by_wh.sort_values("units", ascending=False).head(8)
    rows = [[w, f"{r.stock:,}", f"{r.backlog:,}", f"{r.transit:,}", f"{r.units:,}"]
            for w, r in by_wh.iterrows()]
    return ("<h3>Why 24 h was missed</h3>"
            f'<p class="note">The plan expected {pct(g["plan_expected_24h"])} of units within '
            f"24 h; the rehearsal delivered {pct(g['rehearsed_24h'])}. Every unit not within "
            "24 h has one reason (<code>outcomes_reason</code>): <b>stock</b>, not shipped "
            "from its region's nearest warehouse (out of stock there: served farther or not "
            "at all); <b>backlog</b>, shipped from the nearest but it would have made 24 h "
            "had it left in its own hour; <b>transit</b>, the lane and last mile were too "
            "long. " + (
                "Plan and rehearsal share one model of demand and of the network (a "
                "rehearsal of the plan's own forecast scenarios delivers what the plan "
                "expected), so the gap is the forecast's error alone: the waterfall splits "
                "it by reason, each bar the rehearsal's loss for that reason less the "
                "plan's expected loss for it." if by_reason else
                "The waterfall starts from the plan's share, takes off the rehearsal's "
                "losses and adds back what the plan itself expected to lose.") + "</p>"
            + fig(f, 380) + fig(f2, 380)
            + table(["nearest warehouse", "stock", "backlog", "transit", "all"], rows,
                    [False, True, True, True, True]))


def _lift(ws: TableReader, fig: Figures, names: dict[str, str]) -> str:
    lift = _read(ws, "insight_lift")
    if lift is None:
        return ('<h3>Event lift</h3><p class="skipped">No event lift: run '
                "<code>forestock insights</code> with the counterfactual (the default).</p>")
    tot = lift[lift["dimension"] == "total"].iloc[0]
    cat = lift[lift["dimension"] == "category"].sort_values("added_gmv", ascending=False)
    f = go.Figure()
    f.add_bar(x=cat["item"], y=cat["counterfactual_gmv"], name="without the event (forecast)",
              marker_color="#adb5bd")
    f.add_bar(x=cat["item"], y=cat["added_gmv"], name="added by the event",
              marker_color="#d6336c")
    f.update_layout(barmode="stack", title="GMV by category: no-event counterfactual and what "
                    "the event added (CNY, list prices)", yaxis={"title": "CNY"})
    band = lift[lift["dimension"] == "price_band"].copy()
    band["low"] = [float(str(i).split("-")[0].lstrip(">= ").split()[0]) for i in band["item"]]
    band = band.sort_values("low")
    f2 = go.Figure(go.Bar(x=band["item"], y=band["lift"], marker_color="#4263eb",
                          text=[f"x{v:.1f}" for v in band["lift"]], textposition="outside"))
    f2.update_layout(title="Lift by price band: units on the day / no-event counterfactual",
                     yaxis={"title": "lift (x)"})
    brands = lift[lift["dimension"] == "brand"].sort_values("added_gmv", ascending=False)
    bt = _read(ws, "brands")
    bname = {} if bt is None else dict(zip(bt["brand_id"].astype(str), bt["name"] + " (" +
                                           bt["country"] + ")", strict=True))
    rows = [[bname.get(str(b), str(b)), f"{r['units']:,.0f}", f"{r['counterfactual']:,.0f}",
             f"x{r['lift']:.1f}", money(r["added_gmv"])]
            for b, r in brands.head(10).set_index("item").iterrows()]
    regions = lift[lift["dimension"] == "region"].sort_values("lift", ascending=False)
    hi = ", ".join(f"{names.get(str(r), r)} x{v:.1f}" for r, v in
                   zip(regions["item"].head(3), regions["lift"].head(3), strict=True))
    lo = ", ".join(f"{names.get(str(r), r)} x{v:.1f}" for r, v in
                   zip(regions["item"].tail(3), regions["lift"].tail(3), strict=True))
    return ("<h3>Event lift over the no-event forecast</h3>"
            f'<p class="note">forestock\'s own forecast of the same day with the event blanked '
            "from the calendar (the same model and history, no event features) is the "
            f"counterfactual: the event added {tot['added_units']:,.0f} units "
            f"(x{tot['lift']:.1f}) and {money(tot['added_gmv'])}. Regions lifting most: "
            f"{esc(hi)}; least: {esc(lo)}.</p>"
            + fig(f, 380) + fig(f2, 320)
            + "<h4>Brands adding most GMV</h4>"
            + table(["brand", "units", "counterfactual", "lift", "added GMV (CNY)"], rows,
                    [False, True, True, True, True]))


def _taste(ws: TableReader, fig: Figures, regions: pd.DataFrame | None) -> str:
    t = _read(ws, "insight_taste")
    if t is None:
        return ""
    cat = t[t["level"] == "category"]
    period = "event" if (cat["period"] == "event").any() else "ordinary"
    body = ""
    items: list[str] = []
    if regions is not None:
        geo = cat[cat["period"] == period].merge(
            regions[["region_id", "name", "lat", "lon"]].astype({"region_id": str}),
            on="region_id")
        items = sorted(geo["item"].unique())
    if regions is not None and items:
        # province outlines from the dashboard's map under the points (a network in China)
        china = with_outlines(geo["lat"].to_numpy(), geo["lon"].to_numpy())
        f = go.Figure([outline_trace()] if china else [])
        first = len(f.data)
        for i, item in enumerate(items):
            g = geo[geo["item"] == item]
            f.add_trace(go.Scattergeo(
                lat=g["lat"], lon=g["lon"], visible=i == 0, name=item, showlegend=False,
                hovertext=[f"{n}<br>{item}: LQ {v:.2f}" for n, v in
                           zip(g["name"], g["lq"], strict=True)], hoverinfo="text",
                marker={"size": 11, "color": np.log2(g["lq"].clip(0.25, 4)),
                        "colorscale": "RdBu_r", "cmin": -1, "cmax": 1,
                        "line": {"width": 0.5, "color": "#495057"},
                        "colorbar": {"title": {"text": "LQ"}, "tickvals": [-1, 0, 1],
                                     "ticktext": ["0.5", "1", "2"]}}))
        buttons = [{"label": item, "method": "update",
                    "args": [{"visible": [True] * first + [j == i for j in range(len(items))]},
                             {"title": f"Location quotient of {item} by region ({period} "
                                       "days): red over-indexes, blue under"}]}
                   for i, item in enumerate(items)]
        f.update_layout(title=f"Location quotient of {items[0]} by region ({period} days): red "
                        "over-indexes, blue under",
                        updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right",
                                      "y": 1.12, "yanchor": "top"}])
        geo_axes(f, geo["lat"].to_numpy(), geo["lon"].to_numpy(), china)
        body += fig(f, 620)
    rows = []
    names = {} if regions is None else dict(zip(regions["region_id"].astype(str),
                                                regions["name"], strict=True))
    both = cat.pivot_table(index=["item", "region_id"], columns="period", values="lq")
    for item, g in cat[(cat["period"] == period) & (cat["units"] >= 50)].groupby("item"):
        g = g.sort_values("lq")
        over = ", ".join(f"{names.get(r, r)} {v:.2f}" for r, v in
                         zip(g["region_id"].tail(3)[::-1], g["lq"].tail(3)[::-1], strict=True))
        under = ", ".join(f"{names.get(r, r)} {v:.2f}" for r, v in
                          zip(g["region_id"].head(3), g["lq"].head(3), strict=True))
        shift = ""
        if {"event", "ordinary"} <= set(both.columns):
            d = (both.loc[item, "event"] - both.loc[item, "ordinary"]).dropna()
            if len(d):
                shift = f"{names.get(d.idxmax(), d.idxmax())} +{d.max():.2f}"
        rows.append([item, over, under, shift])
    return ("<h3>Regional taste</h3>"
            '<p class="note">Location quotient = the region\'s share of a category\'s units / '
            "its share of all units (1: as its size says; 2: twice). Ordinary days: the "
            "history's last 365 days without events; event: the rehearsed day's truth. Pick a "
            "category on the map's menu.</p>" + body
            + table(["category", f"over-indexes most ({period})", "under-indexes most",
                     "rises most on the event vs ordinary days"], rows,
                    [False, False, False, False]))


def _events(ws: TableReader) -> str:
    ev = _read(ws, "insight_events")
    if ev is None or ev.empty:
        return ""
    rows = [[r["event"], str(r["start"].date()), int(r["days"]), r["source"],
             f"{r['units_per_day']:,.0f}",
             "" if pd.isna(r["lift"]) else f"x{r['lift']:.1f}",
             "" if pd.isna(r["share_of_year"]) else pct(r["share_of_year"]),
             "" if pd.isna(r["peak_hour_share"]) else pct(r["peak_hour_share"])]
            for r in ev.sort_values(["start", "event"], ascending=[False, True])
            .to_dict("records")]
    return ("<h3>Event comparison</h3>"
            '<p class="note">Every occurrence of every calendar event in the history and the '
            "rehearsal (newest first; one-day events such as 11.11 beside multi-day ones such "
            "as its presale): units per day, lift over the mean of the ordinary days among the 28 "
            "before it, share of the 365 days ending on its last day (blank where the data "
            "starts later), and the busiest hour's share of the day (the rehearsed day only: "
            "the history is daily).</p>"
            + table(["event", "start", "days", "source", "units/day", "lift", "share of year",
                     "peak hour"], rows, [False, False, True, False, True, True, True, True]))


def _post_mortem(ws: TableReader, fig: Figures, names: dict[str, str]) -> str:
    st = _read(ws, "insight_stock")
    err = _read(ws, "insight_error")
    out = ""
    if st is not None:
        left, short = int(st["left"].sum()), int(st["short"].sum())
        placed = int(st["placed"].sum())
        worst = st.sort_values("short", ascending=False).head(10)
        rows = [[r["sku_id"], r["warehouse_id"], f"{r['placed']:,}", f"{r['demand_nearest']:,}",
                 f"{r['short']:,}", f"{r['left']:,}"] for r in worst.to_dict("records")]
        out += ("<h3>Post-mortem: stock short and left over</h3>"
                f'<p class="note">{placed:,} units placed; {left:,} left over after the day '
                f"({pct(left / max(placed, 1))}); {short:,} units of demand beyond what was "
                "placed at the buyers' nearest warehouse, over "
                f"{int((st['short'] > 0).sum()):,} SKU x warehouse pairs (short = demand of the "
                "regions it is nearest to - units placed there).</p>"
                + table(["SKU", "warehouse", "placed", "nearest demand", "short", "left over"],
                        rows, [False, False, True, True, True, True]))
    if err is not None:
        f = go.Figure()
        for dim, colour in (("category", "#4263eb"), ("size", "#f59f00")):
            e = err[err["dimension"] == dim]
            f.add_bar(x=e["item"], y=e["bias"], name=f"bias by {dim}", marker_color=colour)
        f.update_layout(title="Forecast bias on the event window: (forecast - actual) / actual, "
                        "by category and SKU size (units/day in the last 28 days)",
                        yaxis={"tickformat": ".0%"})
        reg = err[err["dimension"] == "region"].sort_values("wape", ascending=False).head(5)
        worst_r = ", ".join(f"{names.get(str(r), r)} {v:.0%}" for r, v in
                            zip(reg["item"], reg["wape"], strict=True))
        out += (f'<p class="note">Worst regions by WAPE (sum of |forecast - actual| over SKUs '
                f"/ actual): {esc(worst_r)}.</p>" + fig(f, 360))
    return out


def _next_year(ws: TableReader, names: dict[str, str]) -> str:
    ms = _read(ws, "insight_misses")
    mv = _read(ws, "insight_moves")
    out = ""
    if ms is not None:
        rows = [[r["sku_id"], f"{r['actual']:,.0f}", f"{r['q10']:,.0f}", f"{r['q90']:,.0f}",
                 r["side"], f"{r['miss']:,.0f}"] for r in ms.head(12).to_dict("records")]
        above = int((ms["side"] == "above q90").sum())
        out += ("<h3>For next year</h3>"
                f'<p class="note">{len(ms)} SKUs sold outside their forecast q10-q90 band of '
                f"the window's total ({above} above q90, {len(ms) - above} below q10); an "
                "80% band should leave about 20% outside. The largest misses:</p>"
                + table(["SKU", "actual", "q10", "q90", "side", "miss"], rows,
                        [False, True, True, True, False, True]))
    if mv is not None:
        more = mv[mv["net"] > 0].head(6)
        less = mv.sort_values("net").head(6)
        rows = [[w, names.get(str(r), str(r)), f"{s:,}", f"{lft:,}", f"{n:+,}"]
                for w, r, s, lft, n in zip(pd.concat([more, less])["warehouse_id"],
                                           pd.concat([more, less])["region_id"],
                                           pd.concat([more, less])["short"],
                                           pd.concat([more, less])["left"],
                                           pd.concat([more, less])["net"], strict=True)]
        out += ('<p class="note">Where stock should move: per warehouse, units short for its '
                "nearest buyers and units left over (net = short - left; positive: place more "
                "there next year, negative: less).</p>"
                + table(["warehouse", "region", "short", "left over", "net"], rows,
                        [False, False, True, True, True]))
    return out
