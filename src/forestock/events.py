"""Event windows from the calendar: where each occurrence of an event fell."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from forestock.errors import ForestockError

__all__ = ["Window", "next_window", "occurrences"]


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


def occurrences(calendar: pd.DataFrame, event: str, gap_days: int = 1) -> list[Window]:
    """Every occurrence of ``event``: runs of dates no more than ``gap_days`` apart."""
    dates = pd.to_datetime(calendar.loc[calendar["event"] == event, "date"])
    if dates.empty:
        known = ", ".join(sorted(map(str, pd.unique(calendar["event"]))))
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
