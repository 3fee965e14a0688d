"""Assemble the report: one self-contained HTML file that opens offline.

:func:`report_data` (the data layer) reads the tables, from a workspace or
from memory, into a :class:`~forestock.report._data.ReportData`;
:func:`render_report` (the rendering layer) turns that into the page;
:func:`build_report` does both and writes the file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import forestock
from forestock.report import _sections as sec
from forestock.report._data import SECTION_TABLES, ReportData
from forestock.report._data import report_data as _collect
from forestock.report._days import window_days
from forestock.report._headline import BN, HUNDRED_M
from forestock.report._html import Figures, esc, page, write_atomic
from forestock.report._scenarios import ANCHOR as SCENARIOS
from forestock.report._scenarios import scenarios_section
from forestock.report._source import Frames, Source, open_source

if TYPE_CHECKING:
    from forestock.report._source import ReportInput

__all__ = ["DEFAULT_NAME", "build_report", "mark_stale", "render_report", "report_data"]

log = logging.getLogger("forestock.report")

DEFAULT_NAME = "report.html"
"""The report's file name: in the workspace, or in the current folder for tables in memory."""


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


def report_data(source: ReportInput | Source, *, seed: int | None = None) -> ReportData:
    """What the report shows, read from a workspace or from tables and results in memory.

    Parameters
    ----------
    source
        A :class:`~forestock.workspace.Workspace`; or tables by name (a
        mapping such as ``{"regions": ..., "forecast": ...}``), stage results
        (:class:`~forestock.simulate.SimulateResult`,
        :class:`~forestock.plan.PlanResult`,
        :class:`~forestock.insights.InsightsResult`,
        :class:`~forestock.world.WorldResult`) or a list of these.
    seed
        The run's seed shown in the notes; by default the rehearsal's seed as
        the workspace's notes (``forestock.json``) or the results record it,
        else the latest other stage's.

    Raises
    ------
    WorkspaceNotFoundError
        A workspace whose folder does not exist.
    TableError
        A table in memory that breaks its contract.
    """
    return _collect(open_source(source), seed=seed)


def render_report(data: ReportData) -> str:
    """The self-contained HTML page of ``data`` (plotly.js inlined once; no network needed).

    Sections whose tables are absent are replaced by a short note naming them;
    sections showing a stale table carry a banner saying so.
    """
    # (imported here: the insights section draws with this package's HTML blocks)
    from forestock.insights._report import SECTION_TABLES as INSIGHT_TABLES
    from forestock.insights._report import insights_section, scale_of

    fig = Figures()
    missing = data.missing

    def part(anchor: str, draw: str | None) -> str:
        html = sec.skipped(anchor, missing[anchor]) if draw is None else draw
        return mark_stale(html, SECTION_TABLES[anchor], data.stale)

    h, seconds, regions, brands = data.headline, data.seconds, data.regions, data.brands
    wh, flow = data.warehouses, data.flow
    counts = data.insights.get("insight_brand_counts")
    scale = scale_of(counts) if counts is not None else 1.0
    if scale != 1.0 and h is not None and brands is not None:  # the clubs at the data's scale
        h = replace(h, brands_1bn=int((brands["gmv"] >= BN * scale).sum()),
                    brands_100m=int((brands["gmv"] >= HUNDRED_M * scale).sum()))
    event = data.event or "11.11"
    body = "\n".join([
        part("cards", sec.cards(h, scale) if h is not None else None),
        mark_stale(window_days(data.days, fig, event) if data.days is not None else "",
                   SECTION_TABLES["days"], data.stale),
        part("day", sec.over_the_day(seconds, fig, data.day) if seconds is not None else None),
        part("regions", sec.delivery(regions, fig) if regions is not None else None),
        part("brands", sec.brands(brands, fig, scale) if brands is not None else None),
        part("warehouses", sec.warehouses(wh, fig) if wh is not None else None),
        part("forecast", sec.forecast_plan(flow, fig, data.day) if flow is not None else None),
        "" if data.scenarios is None else mark_stale(
            scenarios_section(data.scenarios, fig), SECTION_TABLES[SCENARIOS], data.stale),
        mark_stale(insights_section(Frames(data.insights), fig), INSIGHT_TABLES,
                   data.stale),
        sec.notes(data.tables, data.seed, data.seeds),
    ])
    day, last = data.day, data.last_day
    if day is not None and last is not None and last != day:
        when = (f"{event} · {day:%A %d %B} to {last:%A %d %B %Y} "
                f"({(last - day).days + 1} days)")
    else:
        when = f"11.11 · {day:%A %d %B %Y}" if day is not None else "11.11 · event date unknown"
    where = (f"workspace <code>{esc(data.workspace)}</code>" if data.workspace is not None
             else "tables in memory")
    footer = f"forestock {esc(forestock.__version__)} · self-contained report, opens offline"
    log.debug("report rendered: %d figures", fig.n)
    return page("Singles' Day rehearsal", f"{esc(when)} · {where}", body, footer)


def build_report(source: ReportInput | Source, out: str | Path | None = None, *,
                 seed: int | None = None) -> Path:
    """Write the HTML report of a workspace, or of tables and results in memory.

    Every section reads the tables it needs and is replaced by a short note
    when they are absent, so a partial run still gets a report. The same
    tables give the same page whether they lie in a workspace or in memory
    (but for the subtitle, which names the workspace).

    Parameters
    ----------
    source
        A workspace, tables by name, stage results or a list of these (see
        :func:`report_data`): ``build_report(simulate_result)`` reports the
        rehearsal alone, ``build_report([world_tables, plan_result,
        simulate_result])`` the whole flow.
    out
        Where to write; default ``report.html`` in the workspace, or in the
        current folder for tables in memory.
    seed
        The run's seed, shown in the notes; default: as recorded (see
        :func:`report_data`).

    Returns
    -------
    Path
        The file written (atomically: a temporary file, then a rename).
    """
    data = report_data(source, seed=seed)
    if out is None:
        out = (data.workspace if data.workspace is not None else Path()) / DEFAULT_NAME
    out = Path(out)
    write_atomic(out, render_report(data))
    log.info("report of %s written to %s", data.workspace or "tables in memory", out)
    return out
