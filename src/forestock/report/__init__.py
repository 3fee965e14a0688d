"""The report of a rehearsed sale day: headline figures and one self-contained HTML file.

The report reads its tables from a workspace or from tables and stage results
in memory, through one data layer (:func:`report_data`, giving a
:class:`ReportData`), and renders them apart (:func:`render_report`):
:func:`build_report` writes ``report.html`` (plotly.js inlined once, no
network needed), skipping the sections whose tables are absent.
:func:`headline` computes the day's figures from the outcome tables.
"""

from forestock.report._build import build_report, render_report, report_data
from forestock.report._data import ReportData, event_date, seed_of, seeds_of
from forestock.report._headline import Headline, clock, headline
from forestock.report._source import MemorySource

__all__ = [
    "Headline",
    "MemorySource",
    "ReportData",
    "build_report",
    "clock",
    "event_date",
    "headline",
    "render_report",
    "report_data",
    "seed_of",
    "seeds_of",
]
