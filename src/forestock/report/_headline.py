"""The headline figures of the rehearsed day, computed from the outcome tables."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestock.report._source import Source, open_source

if TYPE_CHECKING:
    from forestock.report._source import ReportInput

__all__ = [
    "BN",
    "DAY_SECONDS",
    "HUNDRED_M",
    "Headline",
    "clear_hour",
    "clock",
    "headline",
    "headline_of",
    "per_second",
]

log = logging.getLogger("forestock.report")

DAY_SECONDS = 86_400
BN = 1e9
"""CNY 1 billion: the first brand threshold."""
HUNDRED_M = 1e8
"""CNY 100 million (1 亿): the second brand threshold."""


@dataclass(frozen=True)
class Headline:
    """The figures of the rehearsed day.

    Shares are of units ordered unless named ``shipped_share_*`` (of units
    shipped); every share is 0.0 when its denominator is zero.

    Attributes
    ----------
    gmv
        Value of the units ordered over the day, CNY (``outcomes_region``).
    orders, units
        Orders placed and units ordered over the day.
    gmv_per_second
        ``gmv / 86400`` over the days rehearsed (``outcomes_day``'s rows; one without it).
    peak_gmv_per_second
        The largest GMV of any one second (``outcomes_second``).
    peak_orders_per_second
        The most orders placed in any one second.
    peak_second
        The first second of the day (0-86399) with that many orders.
    share_24h, share_48h
        Units delivered within 24 h / 48 h (48 h includes 24 h), of units ordered.
    shipped_share_24h, shipped_share_48h
        The same, of units shipped.
    late_share
        Units delivered after 48 h, of units ordered.
    unfilled_share
        Units no warehouse could serve, of units ordered.
    brands_1bn, brands_100m
        Brands with GMV of at least CNY 1 billion / CNY 100 million (the
        second count includes the first); ``None`` without ``outcomes_brand``.
    backlog_cleared_hour
        The first hour (counted from the start of the event day, so 24 is
        midnight after it) at whose end no warehouse holds a backlog, and none
        does later; ``None`` without ``outcomes_warehouse`` or when the
        backlog is still there at the last hour recorded.
    """

    gmv: float
    orders: int
    units: int
    gmv_per_second: float
    peak_gmv_per_second: float
    peak_orders_per_second: int
    peak_second: int
    share_24h: float
    share_48h: float
    shipped_share_24h: float
    shipped_share_48h: float
    late_share: float
    unfilled_share: float
    brands_1bn: int | None
    brands_100m: int | None
    backlog_cleared_hour: int | None

    @property
    def peak_time(self) -> str:
        """The peak second as ``hh:mm:ss``."""
        return clock(self.peak_second)


def clock(second: int) -> str:
    """Format a second of the day as ``hh:mm:ss``."""
    if not 0 <= second < DAY_SECONDS:
        raise ValueError(f"second {second} is outside the day (0-{DAY_SECONDS - 1})")
    h, rest = divmod(int(second), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def _share(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole > 0 else 0.0


def per_second(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Dense per-second arrays (length 86400) of ``outcomes_second``; absent seconds are 0."""
    sec = frame["second"].to_numpy(dtype=np.int64)
    return {
        col: np.bincount(sec, weights=frame[col].to_numpy(dtype=np.float64), minlength=DAY_SECONDS)
        for col in ("orders", "units", "gmv")
    }


def clear_hour(hours: np.ndarray, backlog: np.ndarray) -> int | None:
    """The first hour from which the backlog stays zero; ``None`` if it never clears.

    Parameters
    ----------
    hours
        Hours recorded (any order).
    backlog
        Backlog at the end of each of those hours.
    """
    if len(hours) == 0:
        return None
    positive = hours[backlog > 0]
    if len(positive) == 0:
        return int(hours.min())
    last = int(positive.max())
    return None if last >= int(hours.max()) else last + 1


def headline(source: ReportInput | Source) -> Headline:
    """Compute the headline figures of the rehearsed day.

    Parameters
    ----------
    source
        A workspace, tables by name, stage results (a
        :class:`~forestock.simulate.SimulateResult` alone will do) or a list of
        these, holding ``outcomes_region`` and ``outcomes_second``;
        ``outcomes_brand`` and ``outcomes_warehouse`` are used when present.

    Returns
    -------
    Headline
        The day's figures.

    Raises
    ------
    MissingTableError
        When ``outcomes_region`` or ``outcomes_second`` is absent.
    """
    return headline_of(open_source(source))


def headline_of(src: Source) -> Headline:
    """:func:`headline` of a source already opened."""
    src.require(["outcomes_region", "outcomes_second"], "the report's headline")
    tot = src.sql(
        "SELECT sum(orders) AS orders, sum(units) AS units, sum(gmv) AS gmv, "
        "sum(shipped) AS shipped, sum(delivered_24h) AS d24, sum(delivered_48h) AS d48, "
        "sum(late) AS late, sum(unfilled) AS unfilled FROM outcomes_region"
    ).fillna(0).iloc[0]
    sec = per_second(src.read("outcomes_second"))
    orders_s, gmv_s = sec["orders"], sec["gmv"]
    peak = int(np.argmax(orders_s))  # argmax keeps the first of equal peaks

    brands_1bn = brands_100m = None
    if src.has("outcomes_brand"):
        b = src.sql(
            f"SELECT count(*) FILTER (WHERE gmv >= {BN}) AS bn, "
            f"count(*) FILTER (WHERE gmv >= {HUNDRED_M}) AS hm FROM outcomes_brand"
        ).iloc[0]
        brands_1bn, brands_100m = int(b["bn"]), int(b["hm"])

    cleared = None
    if src.has("outcomes_warehouse"):
        w = src.sql(
            "SELECT hour, sum(backlog) AS backlog FROM outcomes_warehouse GROUP BY hour"
        )
        cleared = clear_hour(w["hour"].to_numpy(), w["backlog"].to_numpy())

    units, shipped = float(tot["units"]), float(tot["shipped"])
    gmv = float(tot["gmv"])
    days = max(src.rows("outcomes_day"), 1) if src.has("outcomes_day") else 1
    out = Headline(
        gmv=gmv,
        orders=int(tot["orders"]),
        units=int(units),
        gmv_per_second=gmv / (DAY_SECONDS * days),
        peak_gmv_per_second=float(gmv_s.max()),
        peak_orders_per_second=int(orders_s[peak]),
        peak_second=peak,
        share_24h=_share(tot["d24"], units),
        share_48h=_share(tot["d48"], units),
        shipped_share_24h=_share(tot["d24"], shipped),
        shipped_share_48h=_share(tot["d48"], shipped),
        late_share=_share(tot["late"], units),
        unfilled_share=_share(tot["unfilled"], units),
        brands_1bn=brands_1bn,
        brands_100m=brands_100m,
        backlog_cleared_hour=cleared,
    )
    log.debug("headline of %s: %s", src.workspace or "tables in memory", out)
    return out
