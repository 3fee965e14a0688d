"""The report of a rehearsed sale day: headline figures and one self-contained HTML file.

:func:`headline` computes the day's figures from the outcome tables;
:func:`build_report` writes ``report.html`` (plotly.js inlined once, no
network needed), skipping the sections whose tables a workspace lacks.
"""

from forestock.report._build import build_report
from forestock.report._headline import Headline, clock, headline

__all__ = ["Headline", "build_report", "clock", "headline"]
