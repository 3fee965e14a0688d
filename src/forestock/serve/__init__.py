"""The event-day control room: a live dashboard over a running or finished rehearsal.

A rehearsal run with a :class:`ProgressWriter` (``forestock simulate --live``)
appends its progress chunk by chunk to the workspace's progress file;
:func:`create_app` serves a page (FastAPI, server-sent events) that follows
it as it runs or replays it once finished, at a chosen speed, with pause and
seek: GMV so far and per second, orders per second against the plan, the share
delivered within 24 h by province on a map of China, warehouse backlogs
against their hourly capacity, the brand leaderboard and alerts. The charts
(Apache ECharts) and the map ship inside the package: the page reaches no
other server. FastAPI and uvicorn are imported only here, when serving
(``pip install 'forestock[dashboard]'``).
"""

from __future__ import annotations

from forestock.serve._app import create_app, map_names, serve
from forestock.serve._hub import Hub
from forestock.serve._progress import PROGRESS_FILE, ProgressReader, progress_path
from forestock.serve._timeline import MILESTONES, ServeParams, Timeline, is_loopback

__all__ = [
    "MILESTONES",
    "PROGRESS_FILE",
    "Hub",
    "ProgressReader",
    "ProgressWriter",
    "ServeParams",
    "Timeline",
    "create_app",
    "is_loopback",
    "map_names",
    "progress_path",
    "serve",
]


def __getattr__(name: str) -> object:
    """:class:`ProgressWriter` on first use: it needs the rehearsal (numba kernels), which
    the server, reading its file, does not (a faster cold start)."""
    if name == "ProgressWriter":
        from forestock.serve._writer import ProgressWriter

        return ProgressWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
