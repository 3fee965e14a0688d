"""Event windows from the calendar: where each occurrence of an event fell.

A calendar has one row per date and event. Calendars kept as M5 keeps its
calendar.csv (one row per date, the event blank on ordinary days) are read
the same way: a blank event (empty, NaN, None) means no event, and
:func:`normalise_calendar` drops its row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from forestock.errors import ForestockError

__all__ = ["Window", "next_window", "normalise_calendar", "occurrences"]


@dataclass(frozen=True)
class Window:
    """One occurrence of an event: consecutive dates from ``start`` to ``end``."""

    event: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq="D")


def normalise_calendar(calendar: pd.DataFrame) -> pd.DataFrame:
    """The calendar as the contract has it: ``date`` (datetime) and ``event`` (a name),
    one row per date and event.

    Rows whose event is blank (empty or white space, NaN, None: an ordinary
    day in a calendar kept one row per date) are dropped, names are stripped
    of surrounding white space and repeated rows kept once.
    """
    names = calendar["event"].astype("string").str.strip()
    named = (names.fillna("") != "").to_numpy(dtype=bool)
    out = pd.DataFrame({"date": pd.to_datetime(calendar["date"].to_numpy()[named]),
                        "event": names.to_numpy(dtype=object, na_value="")[named]})
    return out.drop_duplicates(ignore_index=True)


def occurrences(calendar: pd.DataFrame, event: str, gap_days: int = 1) -> list[Window]:
    """Every occurrence of ``event``: runs of dates no more than ``gap_days`` apart.

    Blank events in ``calendar`` mean no event (see :func:`normalise_calendar`).
    """
    if not isinstance(event, str) or not event.strip():
        raise ValueError(f"event must be a non-blank name, got {event!r}")
    calendar = normalise_calendar(calendar)
    dates = calendar.loc[calendar["event"] == event.strip(), "date"]
    if dates.empty:
        known = ", ".join(sorted(pd.unique(calendar["event"])))
        raise ForestockError(f"event {event!r} is not in the calendar (events there: {known})")
    days = dates.drop_duplicates().sort_values().dt.date.tolist()
    out: list[Window] = []
    start = prev = days[0]
    for d in days[1:]:
        if (d - prev).days > gap_days:
            out.append(Window(event, start, prev))
            start = d
        prev = d
    out.append(Window(event, start, prev))
    return out


def next_window(calendar: pd.DataFrame, event: str, after: dt.date) -> Window:
    """The first occurrence of ``event`` starting after ``after`` (the history's last date)."""
    for w in occurrences(calendar, event):
        if w.start > after:
            return w
    raise ForestockError(
        f"the calendar has no occurrence of {event!r} after {after}; add its dates to calendar"
    )
