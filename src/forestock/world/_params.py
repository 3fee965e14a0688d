"""Parameters and result of the world generator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from forestock.params import Params, within
from forestock.world._calendar import CNY_DATES, SEASON_DAYS, SEASON_FIRST

__all__ = ["MAX_REGIONS", "WorldParams", "WorldResult"]

MAX_REGIONS = 338
"""Number of cities in the embedded geography (``data/cn_cities.csv``)."""

_FIRST_DAY = dt.date(min(CNY_DATES), 1, 1)


def _check(ok: bool, what: str, value: object, need: str) -> None:
    if not ok:
        raise ValueError(f"{what}={value!r} is invalid: {need}")


@dataclass(frozen=True)
class WorldParams(Params):
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
        Number of brands; default ``max(5, 4 * skus // 5)``: a world of 500 SKUs holds 400
        brands, about as many as 2019's Tmall had above CNY 100 million on 11.11 (299), most
        selling one or two SKUs (see ``WorldResult.market_scale``).
    event_year
        Year of the 11.11 to plan for.
    history_days
        Days of daily history, ending on ``event_year-10-10``.
    units_per_day
        Expected national units on an ordinary day, all SKUs together;
        default ``800 * skus``.
    event_lift
        How many times an ordinary day the 11.11 day sells, nationally.
    season_lift
        The 11.11 season (the calendar's multi-day event, Oct 31 to Nov 13): how many
        times its presale-lull rate a day of its first wave (Oct 31 to Nov 3) sells;
        the run-up to 11.11 (Nov 4 to 10) sells a quarter of that lift, and 11.11 with
        its tail its own peak. 1: the season sells nothing extra. The season's units are
        drawn on top of the day's own, so every other day is the same whatever the lift.
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

    section = "world"
    checks = (
        within("[0, inf)", "seed", integer=True),
        within("[1, 10_000_000]", "skus", integer=True),
        within(f"[31, {MAX_REGIONS}]", "regions", integer=True),
        within("[1, inf)", "brands", integer=True, optional=True),
        within(f"({_FIRST_DAY.year}, {max(CNY_DATES)}]", "event_year", integer=True),
        within("[28, inf)", "history_days", integer=True),
        within("[1, inf)", "chunk_skus", integer=True),
        within("(0, inf)", "units_per_day", optional=True),
        within("[1, 100]", "event_lift", "season_lift"),
        within("[0, 0.5]", "launched_share", "discontinued_share"),
        within("[1, 10]", "storage_over_event"),
        within("(0, inf)", "fdc_over_served"),
    )

    seed: int = 0
    skus: int = 500
    regions: int = 80
    brands: int | None = None
    event_year: int = 2027
    history_days: int = 730
    units_per_day: float | None = None
    event_lift: float = 10.0
    season_lift: float = 2.5
    launched_share: float = 0.10
    discontinued_share: float = 0.05
    chunk_skus: int = 256
    storage_over_event: float = 1.8
    fdc_over_served: float = 1.3

    def _validate(self) -> None:
        room = (dt.date(self.event_year, 10, 10) - _FIRST_DAY).days + 1
        _check(self.history_days <= room, "history_days", self.history_days,
               f"must start on or after {_FIRST_DAY} (at most {room} days for {self.event_year})")
        _check(self.fdc_over_served <= self.storage_over_event, "fdc_over_served",
               self.fdc_over_served, "must be at most storage_over_event")

    @property
    def n_brands(self) -> int:
        """The number of brands, with the default applied."""
        return self.brands if self.brands is not None else max(5, 4 * self.skus // 5)

    @property
    def daily_units(self) -> float:
        """National units on an ordinary day, with the default applied."""
        return self.units_per_day if self.units_per_day is not None else 800.0 * self.skus

    @property
    def event_date(self) -> dt.date:
        """The 11.11 day to plan for."""
        return dt.date(self.event_year, 11, 11)

    @property
    def season_start(self) -> dt.date:
        """First day of the 11.11 season (the multi-day event) to plan for."""
        return dt.date(self.event_year, *SEASON_FIRST)

    @property
    def season_end(self) -> dt.date:
        """Last day of the 11.11 season to plan for."""
        return self.season_start + dt.timedelta(days=SEASON_DAYS - 1)

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
    market_scale
        The world's scale against the market its brands are drawn from: its expected GMV
        on the event day over ``market_gmv``. Brands are sized as on 2019's Tmall (15 above
        CNY 1 billion, about 300 above 100 million among 400 brands); the world's units
        (``units_per_day``) and prices set its scale, about 1/200 by default.
        :class:`~forestock.insights.InsightsParams` takes it as ``scale`` (``forestock
        demo`` passes it), so a brand is counted against thresholds at the world's scale.
    market_gmv
        What the world's brands sell on an 11.11 at full size (CNY): the sum of their
        sizes.
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
    market_scale: float
    market_gmv: float
    params: WorldParams = field(repr=False)
