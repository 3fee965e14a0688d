"""A calendar's blank events (an ordinary day, as M5's calendar.csv keeps it) are no rows."""

from __future__ import annotations

import pandas as pd
import pytest

from forestock.tables import TableError, validate


def test_blank_event_rows_are_dropped_and_later_rows_keep_their_numbers() -> None:
    """validate drops rows whose event is blank; a later bad row is named by its own row."""
    frame = pd.DataFrame({"date": ["2026-11-10", "2026-11-11", "2026-11-11", "2026-11-12"],
                          "event": ["", "11.11", " ", None]})
    typed = validate(frame, "calendar")
    assert typed["date"].tolist() == [pd.Timestamp("2026-11-11")]
    assert typed["event"].tolist() == ["11.11"]
    again = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    with pytest.raises(TableError, match=r"row 5, column 'event'.*duplicate"):
        validate(again, "calendar")


def test_other_tables_still_need_every_value() -> None:
    """Only the calendar's event may be blank: an empty SKU id is still an error."""
    frame = pd.DataFrame({"date": ["2026-11-10"], "sku_id": [""], "region_id": ["R1"],
                          "units": ["3"]})
    with pytest.raises(TableError, match=r"row 1, column 'sku_id'.*empty"):
        validate(frame, "history")
