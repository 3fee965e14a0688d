"""Tests of forestock.report: headline figures and the self-contained HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from forestock.errors import MissingTableError, WorkspaceNotFoundError
from forestock.report import Headline, build_report, clock, headline
from forestock.workspace import Workspace

_PLOTLY_BANNER = get_plotlyjs()[:40]


def test_headline_totals(report_ws: Workspace) -> None:
    """Headline GMV, orders, units and GMV per second equal the sums of outcomes_region."""
    h = headline(report_ws)
    assert h.gmv == pytest.approx(1.751e9)
    assert (h.orders, h.units) == (20, 200)
    assert h.gmv_per_second == pytest.approx(1.751e9 / 86_400)


def test_headline_peak(report_ws: Workspace) -> None:
    """The peak is the first of the busiest seconds; peak GMV is the largest second's GMV."""
    h = headline(report_ws)
    assert h.peak_orders_per_second == 7
    assert h.peak_second == 1
    assert h.peak_time == "00:00:01"
    assert h.peak_gmv_per_second == pytest.approx(6.51e8)


def test_headline_shares(report_ws: Workspace) -> None:
    """Shares are of units ordered (and of units shipped where named so)."""
    h = headline(report_ws)
    assert h.share_24h == pytest.approx(120 / 200)
    assert h.share_48h == pytest.approx(160 / 200)
    assert h.shipped_share_24h == pytest.approx(120 / 180)
    assert h.shipped_share_48h == pytest.approx(160 / 180)
    assert h.late_share == pytest.approx(20 / 200)
    assert h.unfilled_share == pytest.approx(20 / 200)


def test_headline_brands_and_backlog(report_ws: Workspace) -> None:
    """Brand clubs count GMV >= 1 bn / 100 m; the summed backlog clears after its last wait."""
    h = headline(report_ws)
    assert (h.brands_1bn, h.brands_100m) == (1, 2)
    assert h.backlog_cleared_hour == 25


def test_headline_is_frozen(report_ws: Workspace) -> None:
    """Headline is an immutable value."""
    h = headline(report_ws)
    assert isinstance(h, Headline)
    with pytest.raises(AttributeError):
        h.gmv = 0.0  # type: ignore[misc]


def test_headline_needs_outcomes(partial_ws: Workspace) -> None:
    """Without the outcome tables, headline names what is missing."""
    with pytest.raises(MissingTableError, match="outcomes_region"):
        headline(partial_ws)


@pytest.mark.parametrize(("second", "text"), [(0, "00:00:00"), (3661, "01:01:01"),
                                              (86_399, "23:59:59")])
def test_clock(second: int, text: str) -> None:
    """clock formats a second of the day as hh:mm:ss."""
    assert clock(second) == text


@pytest.mark.parametrize("second", [-1, 86_400])
def test_clock_rejects_outside_day(second: int) -> None:
    """clock raises ValueError naming a second outside the day."""
    with pytest.raises(ValueError, match=str(second)):
        clock(second)


def test_report_default_path(report_ws: Workspace) -> None:
    """build_report writes report.html in the workspace by default and leaves no temp file."""
    out = build_report(report_ws)
    assert out == report_ws.root / "report.html"
    assert out.is_file()
    assert not list(Path(report_ws.root).glob(".report.html.tmp-*"))


def test_report_lists_brand_clubs(report_html: str) -> None:
    """The brands above CNY 1 bn and 100 m appear with their countries."""
    assert re.search(r"Apex Appliances</td><td>China \(CN\)", report_html)
    assert re.search(r"Nordlys Skincare</td><td>Sweden \(SE\)", report_html)
    assert "Brands above CNY 1 billion: 1" in report_html
    assert "Brands above CNY 100 million (1 亿): 2 in all" in report_html


def test_report_headline_cards(report_html: str) -> None:
    """The cards show GMV in billions, the peak time and the 48 h share."""
    assert "CNY 1.75 bn" in report_html
    assert "at 00:00:01" in report_html
    assert "80.0%" in report_html
    assert "Wednesday 11 November 2025" not in report_html  # 2025-11-11 is a Tuesday
    assert "Tuesday 11 November 2025" in report_html


def test_report_is_offline(report_html: str) -> None:
    """No script, link or image is loaded over the network (no CDN)."""
    assert not re.search(r"<(script|link|img)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//",
                         report_html, re.IGNORECASE)
    assert "<link" not in report_html.lower()


def test_report_embeds_plotly_once(report_html: str) -> None:
    """plotly.js is inlined exactly once, and the figures call it."""
    assert report_html.count(_PLOTLY_BANNER) == 1
    assert report_html.count("Plotly.newPlot(") >= 8


def test_report_notes(report_html: str) -> None:
    """The notes list the tables with row counts and the recorded seed."""
    assert "outcomes_region</td><td class=\"num\">4<" in report_html
    assert "<h3>Seed</h3><p>42</p>" in report_html


def test_partial_report(partial_ws: Workspace, tmp_path: Path) -> None:
    """A workspace without outcomes still gives a report, its sections replaced by notes."""
    html = build_report(partial_ws, tmp_path / "partial.html").read_text(encoding="utf-8")
    assert "No headline figures" in html
    assert "Skipped: this section needs <code>outcomes_brand</code>" in html
    assert "National forecast" in html
    assert html.count(_PLOTLY_BANNER) == 1


def test_empty_report(tmp_path: Path) -> None:
    """Even an empty workspace gives a report; a folder that does not exist is refused."""
    (tmp_path / "nothing").mkdir()
    out = build_report(Workspace(tmp_path / "nothing"))
    assert "Skipped" in out.read_text(encoding="utf-8")
    with pytest.raises(WorkspaceNotFoundError):
        build_report(Workspace(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()
