"""Parameters and result of the world generator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forestock.params import toml_fields
from forestock.world._calendar import CNY_DATES

__all__ = ["MAX_REGIONS", "WorldParams", "WorldResult"]

MAX_REGIONS = 338
"""Number of cities in the embedded geography (``data/cn_cities.csv``)."""

_FIRST_DAY = dt.date(min(CNY_DATES), 1, 1)


def _check(ok: bool, what: str, value: object, need: str) -> None:
    if not ok:
        raise ValueError(f"{what}={value!r} is invalid: {need}")


@dataclass(frozen=True)
class WorldParams:
    """Size and shape of the generated world.

    Parameters
    ----------
    seed
        Seed of every random draw; the same seed gives byte-identical tables.
    skus
        Number of products.
    regions
        Number of delivery regions: the 31 provincial capitals and
        municipalities, then the most populous other prefectures.
    brands
        Number of brands; default ``max(5, skus // 8)``.
    event_year
        Year of the 11.11 to plan for.
    history_days
        Days of daily history, ending on ``event_year-10-10``.
    units_per_day
        Expected national units on an ordinary day, all SKUs together;
        default ``800 * skus``.
    event_lift
        How many times an ordinary day the 11.11 day sells, nationally.
    launched_share
        Share of SKUs launched during the history (no sales before launch).
    discontinued_share
        Share of SKUs discontinued during the history (no sales after).
    chunk_skus
        SKUs generated and written together (one Parquet row group); changes
        memory use and row groups, not the rows.
    storage_over_event
        Storage of the whole network, in multiples of the event day's expected
        units. Before 11.11 a network stocks up for the peak day and the tail days
        after it, so it holds well over one day's sales.
    fdc_over_served
        Storage of each forward warehouse (FDC), in multiples of the event day's
        expected units of the regions nearest to it; the RDCs hold the rest. A
        network reaching ~90% same/next-day delivery on the peak (JD's published
        figure) stocks its forward warehouses with the local demand plus safety stock for
        the fast movers, and keeps the slow movers and the pooled safety stock
        regional: forward room is then a little short of what a rule stocking every
        region at the national service level would put there, so a plan matters.
    """

    seed: int = 0
    skus: int = 500
    regions: int = 80
    brands: int | None = None
    event_year: int = 2027
    history_days: int = 730
    units_per_day: float | None = None
    event_lift: float = 10.0
    launched_share: float = 0.10
    discontinued_share: float = 0.05
    chunk_skus: int = 256
    storage_over_event: float = 1.8
    fdc_over_served: float = 1.3

    def __post_init__(self) -> None:
        _check(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed,
               "must be an integer >= 0")
        _check(isinstance(self.skus, int) and 1 <= self.skus <= 10_000_000, "skus", self.skus,
               "must be an integer from 1 to 10,000,000")
        _check(isinstance(self.regions, int) and 31 <= self.regions <= MAX_REGIONS,
               "regions", self.regions, f"must be an integer from 31 to {MAX_REGIONS}")
        _check(self.brands is None or (isinstance(self.brands, int) and self.brands >= 1),
               "brands", self.brands, "must be None or an integer >= 1")
        last = max(CNY_DATES)
        _check(isinstance(self.event_year, int) and _FIRST_DAY.year < self.event_year <= last,
               "event_year", self.event_year,
               f"must be an integer from {_FIRST_DAY.year + 1} to {last}")
        _check(isinstance(self.history_days, int) and self.history_days >= 28,
               "history_days", self.history_days, "must be an integer >= 28")
        room = (dt.date(self.event_year, 10, 10) - _FIRST_DAY).days + 1
        _check(self.history_days <= room, "history_days", self.history_days,
               f"must start on or after {_FIRST_DAY} (at most {room} days for {self.event_year})")
        _check(self.units_per_day is None
               or (math.isfinite(self.units_per_day) and self.units_per_day > 0),
               "units_per_day", self.units_per_day, "must be None or a finite number > 0")
        _check(math.isfinite(self.event_lift) and 1.0 <= self.event_lift <= 100.0,
               "event_lift", self.event_lift, "must be from 1 to 100")
        _check(0.0 <= self.launched_share <= 0.5, "launched_share", self.launched_share,
               "must be from 0 to 0.5")
        _check(0.0 <= self.discontinued_share <= 0.5, "discontinued_share",
               self.discontinued_share, "must be from 0 to 0.5")
        _check(isinstance(self.chunk_skus, int) and self.chunk_skus >= 1, "chunk_skus",
               self.chunk_skus, "must be an integer >= 1")
        _check(math.isfinite(self.storage_over_event) and 1.0 <= self.storage_over_event <= 10.0,
               "storage_over_event", self.storage_over_event, "must be from 1 to 10")
        _check(math.isfinite(self.fdc_over_served)
               and 0.0 < self.fdc_over_served <= self.storage_over_event,
               "fdc_over_served", self.fdc_over_served,
               "must be > 0 and at most storage_over_event")

    def replace(self, **changes: Any) -> WorldParams:
        """Return a copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_file(cls, path: str | Path) -> WorldParams:
        """Load parameters from a TOML file (a ``[world]`` table, or top-level keys).

        Unknown keys raise ``ValueError`` naming them.
        """
        return cls(**toml_fields(path, "world", cls))

    @property
    def n_brands(self) -> int:
        """The number of brands, with the default applied."""
        return self.brands if self.brands is not None else max(5, self.skus // 8)

    @property
    def daily_units(self) -> float:
        """National units on an ordinary day, with the default applied."""
        return self.units_per_day if self.units_per_day is not None else 800.0 * self.skus

    @property
    def event_date(self) -> dt.date:
        """The 11.11 day to plan for."""
        return dt.date(self.event_year, 11, 11)

    @property
    def history_end(self) -> dt.date:
        """Last day of history: a month before the event, when planning happens."""
        return dt.date(self.event_year, 10, 10)

    @property
    def history_start(self) -> dt.date:
        """First day of history."""
        return self.history_end - dt.timedelta(days=self.history_days - 1)

    @property
    def truth_start(self) -> dt.date:
        """First day of the truth window (the day after the history)."""
        return self.history_end + dt.timedelta(days=1)

    @property
    def truth_end(self) -> dt.date:
        """Last day of the truth window (the event's tail)."""
        return dt.date(self.event_year, 11, 15)


@dataclass(frozen=True)
class WorldResult:
    """What :func:`build_world` wrote.

    Attributes
    ----------
    rows
        Rows written per table.
    event_date, history_start, history_end, truth_start, truth_end
        The event day and the two windows (inclusive).
    seed
        The seed the world was built from.
    expected_event_units
        Expected national units on the event day (what warehouses were sized for).
    params
        The parameters used.
    """

    rows: Mapping[str, int]
    event_date: dt.date
    history_start: dt.date
    history_end: dt.date
    truth_start: dt.date
    truth_end: dt.date
    seed: int
    expected_event_units: float
    params: WorldParams = field(repr=False)
