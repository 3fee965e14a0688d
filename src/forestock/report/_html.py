"""HTML building blocks of the report: formatting, figures, tables, page and atomic write."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

__all__ = [
    "PALETTE",
    "Figures",
    "card",
    "count",
    "esc",
    "hour_label",
    "money",
    "page",
    "pct",
    "table",
    "write_atomic",
    "yi",
]

PALETTE = (
    "#d6336c", "#1c7ed6", "#f59f00", "#37b24d", "#7048e8", "#0ca678", "#e8590c",
    "#1098ad", "#ae3ec9", "#74b816", "#495057", "#f76707",
)

_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}

_CSS = """
:root { --ink:#212529; --muted:#6c757d; --line:#e9ecef; --accent:#d6336c; --bg:#f8f9fa; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC",
  "Microsoft YaHei", sans-serif; }
header { background:linear-gradient(120deg,#c2255c,#e8590c); color:#fff; padding:28px 40px; }
header h1 { margin:0 0 4px; font-size:28px; font-weight:700; }
header p { margin:0; opacity:.9; }
main { max-width:1320px; margin:0 auto; padding:24px 40px 60px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(230px,1fr)); gap:14px;
  margin:0 0 8px; }
.card { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px;
  box-shadow:0 1px 2px rgba(0,0,0,.04); }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:26px; font-weight:700; color:var(--accent); margin:2px 0;
  font-variant-numeric:tabular-nums; }
.card .sub { color:var(--muted); font-size:13px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px;
  margin:22px 0; }
section h2 { margin:0 0 6px; font-size:20px; }
section h3 { margin:18px 0 6px; font-size:16px; }
.note { color:var(--muted); font-size:13px; margin:4px 0 10px; }
.skipped { color:var(--muted); font-style:italic; }
.stale { background:#fff4e6; border-left:4px solid #e8590c; color:#862e00; padding:6px 12px;
  margin:6px 0 10px; font-size:14px; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
@media (max-width:1000px) { .grid2 { grid-template-columns:1fr; } }
.fig { min-height:360px; }
.scroll { max-height:420px; overflow:auto; }
table { border-collapse:collapse; width:100%; font-size:13px; font-variant-numeric:tabular-nums; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left; }
th { background:#f1f3f5; position:sticky; top:0; }
td.num, th.num { text-align:right; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:8px 0; }
dt { font-weight:600; }
dd { margin:0; color:#343a40; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""


def esc(text: object) -> str:
    """Escape any value for HTML."""
    return html.escape(str(text))


def money(cny: float) -> str:
    """Format CNY: ``CNY 1.23 bn``, ``CNY 45.6 m`` or ``CNY 7,890``."""
    if abs(cny) >= 1e9:
        return f"CNY {cny / 1e9:,.2f} bn"
    if abs(cny) >= 1e6:
        return f"CNY {cny / 1e6:,.1f} m"
    return f"CNY {cny:,.0f}"


def yi(cny: float) -> str:
    """Format CNY in 亿 (100 million) with thousands separators."""
    return f"{cny / 1e8:,.2f} 亿元"


def count(n: float) -> str:
    """An integer with thousands separators (and 亿 when large)."""
    text = f"{n:,.0f}"
    return f"{text} ({n / 1e8:,.2f} 亿)" if n >= 1e8 else text


def pct(share: float, digits: int = 1) -> str:
    """A share as a percentage."""
    return f"{100 * share:.{digits}f}%"


def hour_label(hour: int) -> str:
    """``hh:00``, with ``+1d``/``+2d`` for hours past the event day."""
    day, h = divmod(int(hour), 24)
    return f"{h:02d}:00" + (f" +{day}d" if day else "")


def card(label: str, value: str, sub: str = "") -> str:
    """One headline card."""
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div>{sub_html}</div>'
    )


def table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[bool],
          *, scroll: bool = False) -> str:
    """A plain HTML table; cells are escaped, ``numeric`` columns right-aligned."""
    def cls(i: int) -> str:
        return ' class="num"' if numeric[i] else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{esc(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{out}</div>' if scroll else out


class Figures:
    """Turns Plotly figures into ``<div>``s with stable ids; plotly.js goes in the page once."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, fig: go.Figure, height: int = 380) -> str:
        self.n += 1
        fig.update_layout(
            template="plotly_white",
            height=height,
            margin={"l": 60, "r": 20, "t": 84, "b": 48},
            font={"family": "system-ui, sans-serif", "size": 12},
            title={"x": 0.01, "y": 0.98, "yanchor": "top", "font": {"size": 15}},
            legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0,
                    "yanchor": "bottom"},
        )
        div = pio.to_html(
            fig,
            config=_CONFIG,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"fig-{self.n}",
            default_height=f"{height}px",
        )
        return f'<div class="fig">{div}</div>'


def page(title: str, subtitle: str, body: str, footer: str) -> str:
    """The whole self-contained document: inline CSS, plotly.js inlined once in ``<head>``."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n"
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script>\n</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1><p>{subtitle}</p></header>\n<main>\n{body}\n</main>\n"
        f"<footer>{footer}</footer>\n</body>\n</html>\n"
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
