"""Assemble the report: one self-contained HTML file that opens offline."""

from __future__ import annotations

import logging
from pathlib import Path

import forestock
from forestock.report import _sections as sec
from forestock.report._headline import headline
from forestock.report._html import Figures, esc, page, write_atomic
from forestock.workspace import Workspace

__all__ = ["build_report"]

log = logging.getLogger("forestock.report")


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
    out = Path(out) if out is not None else ws.root / "report.html"
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
        cards,
        sec.over_the_day(ws, fig, day),
        sec.delivery(ws, fig),
        sec.brands(ws, fig),
        sec.warehouses(ws, fig),
        sec.forecast_plan(ws, fig, day),
        sec.notes(ws, seed),
    ])
    when = f"11.11 · {day:%A %d %B %Y}" if day is not None else "11.11 · event date unknown"
    subtitle = f"{esc(when)} · workspace <code>{esc(ws.root)}</code>"
    footer = f"forestock {esc(forestock.__version__)} · self-contained report, opens offline"
    write_atomic(out, page("Singles' Day rehearsal", subtitle, body, footer))
    log.info("report of %s written to %s (%d figures)", ws.root, out, fig.n)
    return out
