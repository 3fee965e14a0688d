"""The embedded default world: a seeded, synthetic Singles' Day market in real China.

:func:`build_world` writes regions (real cities), a JD/Cainiao-shaped
warehouse network with its lanes, brands, SKUs, the event calendar, two years
of daily sales history and the truth of the event window into a workspace, or
into :class:`forestock.flow.Tables` in memory.
The same seed gives byte-identical tables.
"""

from __future__ import annotations

from forestock.world._build import TableSink, build_world
from forestock.world._calendar import CNY_DATES, EVENTS, SEASON
from forestock.world._catalogue import CATEGORIES
from forestock.world._geo import load_cities
from forestock.world._params import WorldParams, WorldResult

__all__ = ["CATEGORIES", "CNY_DATES", "EVENTS", "SEASON", "TableSink", "WorldParams",
           "WorldResult", "build_world", "load_cities"]
