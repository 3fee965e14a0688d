"""Assemble the report: one self-contained HTML file that opens offline."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import forestock
from forestock.report import _sections as sec
from forestock.report._headline import headline
from forestock.report._html import Figures, esc, page, write_atomic
from forestock.workspace import Workspace

__all__ = ["SECTION_TABLES", "build_report", "mark_stale"]

log = logging.getLogger("forestock.report")

#: The tables each section shows (by its anchor): it is marked stale when one of them is.
SECTION_TABLES: dict[str, tuple[str, ...]] = {
    "cards": ("outcomes_region", "outcomes_second", "outcomes_brand", "outcomes_warehouse"),
    "day": ("outcomes_second",),
    "delivery": ("outcomes_region", "regions"),
    "brands": ("outcomes_brand", "brands"),
    "warehouses": ("warehouses", "plan", "outcomes_warehouse", "regions"),
    "forecast": ("forecast", "plan", "truth", "warehouses"),
}


def mark_stale(html_text: str, tables: Sequence[str], stale: Mapping[str, str]) -> str:
    """``html_text`` (a section) with a banner naming its stale tables, after its heading.

    A table is stale when a table it was computed from changed since (see
    :meth:`forestock.workspace.Workspace.stale`); the banner says which and why.
    """
    mine = [t for t in tables if t in stale]
    if not mine:
        return html_text
    reasons = "; ".join(f"<code>{esc(t)}</code>: {esc(stale[t])}" for t in mine)
    banner = (f'<p class="stale"><strong>Stale</strong>: this section shows tables computed '
              f"from inputs that changed since ({reasons}). Re-run the stages that make them.</p>")
    heading = re.search(r"</h2>", html_text)
    if heading is None:
        return banner + html_text
    return html_text[:heading.end()] + banner + html_text[heading.end():]


def build_report(ws: Workspace, out: Path | None = None, *, seed: int | None = None) -> Path:
    """Write the HTML report of a workspace.

    Every section reads the tables it needs and is replaced by a short note
    when they are absent, so a partial run still gets a report. plotly.js is
    inlined once; the file needs no network.

    Parameters
    ----------
    ws
        The workspace to report on.
    out
        Where to write; default ``ws.root / "report.html"``.
    seed
        The run's seed, shown in the notes; by default a ``seed`` found in a
        JSON file at the workspace's root, if any.

    Returns
    -------
    Path
        The file written (atomically: a temporary file, then a rename).
    """
    # (imported here: the insights section uses the report's HTML blocks)
    from forestock.insights._report import SECTION_TABLES as INSIGHT_TABLES
    from forestock.insights._report import insights_section

    ws.check_exists()
    out = Path(out) if out is not None else ws.root / "report.html"
    stale = ws.stale()
    day = sec.event_date(ws)
    seed = seed if seed is not None else sec.seed_of(ws)
    fig = Figures()

    if ws.has("outcomes_region") and ws.has("outcomes_second"):
        cards = sec.cards(headline(ws))
    else:
        missing = [t for t in ("outcomes_region", "outcomes_second") if not ws.has(t)]
        cards = (
            '<p class="skipped">No headline figures: they need '
            + ", ".join(f"<code>{m}</code>" for m in missing)
            + " (run <code>forestock simulate</code>).</p>"
        )
    body = "\n".join([
        mark_stale(cards, SECTION_TABLES["cards"], stale),
        mark_stale(sec.over_the_day(ws, fig, day), SECTION_TABLES["day"], stale),
        mark_stale(sec.delivery(ws, fig), SECTION_TABLES["delivery"], stale),
        mark_stale(sec.brands(ws, fig), SECTION_TABLES["brands"], stale),
        mark_stale(sec.warehouses(ws, fig), SECTION_TABLES["warehouses"], stale),
        mark_stale(sec.forecast_plan(ws, fig, day), SECTION_TABLES["forecast"], stale),
        mark_stale(insights_section(ws, fig), INSIGHT_TABLES, stale),
        sec.notes(ws, seed),
    ])
    when = f"11.11 · {day:%A %d %B %Y}" if day is not None else "11.11 · event date unknown"
    subtitle = f"{esc(when)} · workspace <code>{esc(ws.root)}</code>"
    footer = f"forestock {esc(forestock.__version__)} · self-contained report, opens offline"
    write_atomic(out, page("Singles' Day rehearsal", subtitle, body, footer))
    log.info("report of %s written to %s (%d figures)", ws.root, out, fig.n)
    return out
