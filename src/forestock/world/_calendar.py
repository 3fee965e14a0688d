"""Sale events and holidays of the Chinese e-commerce year."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["CNY_DATES", "EVENTS", "SEASON", "SEASON_DAYS", "SEASON_FIRST", "calendar_rows",
           "event_log_multipliers", "season_log_lift"]

#: Chinese New Year's day (the first day of the lunar year).
CNY_DATES: dict[int, dt.date] = {
    2020: dt.date(2020, 1, 25), 2021: dt.date(2021, 2, 12), 2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22), 2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17), 2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13), 2030: dt.date(2030, 2, 3), 2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11), 2033: dt.date(2033, 1, 31), 2034: dt.date(2034, 2, 19),
    2035: dt.date(2035, 2, 8),
}

#: Event names written to the calendar.
EVENTS: tuple[str, ...] = (
    "11.11", "11.11 presale", "6.18", "6.18 presale", "12.12", "spring festival",
    "11.11 season",
)
#: The multi-day event: the 11.11 season, two weeks from the first sales wave (Oct 31,
#: as Tmall's since 2022) through 11.11 and its tail (Nov 13).
SEASON = "11.11 season"
#: (month, day) the season starts on, and its length in days.
SEASON_FIRST = (10, 31)
SEASON_DAYS = 14
#: The season's sales over the presale lull, in shares of ``season_lift - 1``: the first
#: wave (Oct 31 - Nov 3) sells the whole lift, the run-up to 11.11 (Nov 4 - 10) a quarter;
#: 11.11 and its tail keep their own peaks.
_SEASON_SHAPE = {(10, 31): 1.0, (11, 1): 1.0, (11, 2): 1.0, (11, 3): 1.0,
                 **{(11, d): 0.25 for d in range(4, 11)}}
#: Days of the Spring Festival logistics pause, relative to New Year's day.
_SPRING = range(-3, 7)
#: National sales multiplier of peak days (the event days and their tails), by (month, day).
_PEAKS = {(11, 12): 3.0, (11, 13): 1.7, (11, 14): 1.3, (11, 15): 1.15,
          (6, 18): 4.0, (6, 19): 1.5, (12, 12): 3.0, (12, 13): 1.4}
_PRESALE_1111 = 0.78
_PRESALE_618 = 0.9
_SPRING_PAUSE = 0.3


def _year_events(year: int) -> list[tuple[dt.date, str]]:
    out = [(dt.date(year, 11, 11), "11.11"), (dt.date(year, 6, 18), "6.18"),
           (dt.date(year, 12, 12), "12.12")]
    out += [(dt.date(year, 10, 21) + dt.timedelta(days=i), "11.11 presale") for i in range(21)]
    out += [(dt.date(year, 6, 1) + dt.timedelta(days=i), "6.18 presale") for i in range(17)]
    if year in CNY_DATES:
        out += [(CNY_DATES[year] + dt.timedelta(days=i), "spring festival") for i in _SPRING]
    first = dt.date(year, *SEASON_FIRST)
    out += [(first + dt.timedelta(days=i), SEASON) for i in range(SEASON_DAYS)]
    return out


def calendar_rows(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Return the calendar table (``date``, ``event``) for ``start``..``end`` inclusive."""
    rows = [(d, e) for y in range(start.year, end.year + 1) for d, e in _year_events(y)
            if start <= d <= end]
    rows.sort(key=lambda r: (r[0], EVENTS.index(r[1])))
    frame = pd.DataFrame(rows, columns=["date", "event"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def event_log_multipliers(
    start: dt.date, days: int, event_lift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the log national multipliers of peak days and of lull days.

    Parameters
    ----------
    start
        First day.
    days
        Number of days.
    event_lift
        Multiplier of the 11.11 day itself.

    Returns
    -------
    peaks, lulls
        Two ``float64`` arrays of length ``days``: log multipliers (0 on an
        ordinary day). Each SKU scales them by its own response.
    """
    peaks = np.zeros(days)
    lulls = np.zeros(days)
    for i in range(days):
        d = start + dt.timedelta(days=i)
        if (d.month, d.day) == (11, 11):
            peaks[i] = np.log(event_lift)
        elif (d.month, d.day) in _PEAKS:
            peaks[i] = np.log(_PEAKS[d.month, d.day])
        elif (d.month == 10 and d.day >= 21) or (d.month == 11 and d.day <= 10):
            lulls[i] = np.log(_PRESALE_1111)
        elif d.month == 6 and d.day <= 17:
            lulls[i] = np.log(_PRESALE_618)
        cny = CNY_DATES.get(d.year)
        if cny is not None and (d - cny).days in _SPRING:
            lulls[i] = np.log(_SPRING_PAUSE)
    return peaks, lulls


def season_log_lift(start: dt.date, days: int, season_lift: float) -> np.ndarray:
    """Return the log of the 11.11 season's sales over what each of ``days`` days from
    ``start`` sells without it: ``log(1 + (season_lift - 1) * shape)`` on the season's
    days before 11.11 (``season_lift``: how many times its presale-lull rate a day of
    the first wave sells), 0 elsewhere, as ``float64``. Each SKU scales it by its peak
    response; the world draws the season's units on top of the day's own, so every other
    day's draws stay as they were."""
    out = np.zeros(days)
    for i in range(days):
        d = start + dt.timedelta(days=i)
        shape = _SEASON_SHAPE.get((d.month, d.day), 0.0)
        if shape:
            out[i] = np.log1p((season_lift - 1.0) * shape)
    return out
