"""The seasonal-naive engine: windows, alignment, growth and quantiles."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forestock.errors import ForestockError
from forestock.events import occurrences
from forestock.forecast import ForecastParams, forecast, target_window


def test_windows_of_a_moving_event(tiny: dict[str, pd.DataFrame]) -> None:
    """Runs of consecutive calendar dates form one occurrence each."""
    occ = occurrences(tiny["calendar"], "추석 세일")
    assert [(w.start, w.days) for w in occ] == [(dt.date(2025, 9, 1), 21),
                                                (dt.date(2026, 9, 1), 21)]
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), "추석 세일")
    assert (w.start, w.end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 21))


def test_unknown_event_and_bad_windows(tiny: dict[str, pd.DataFrame]) -> None:
    """An event not in the calendar, or a window inside the history, is refused clearly."""
    with pytest.raises(ForestockError, match="not in the calendar"):
        target_window(tiny["calendar"], dt.date(2026, 8, 31), "black friday")
    with pytest.raises(ForestockError, match="inside the history"):
        target_window(tiny["calendar"], dt.date(2026, 8, 31), None, dt.date(2026, 8, 1),
                      dt.date(2026, 8, 5))


def test_forecast_is_complete_and_close(tiny: dict[str, pd.DataFrame]) -> None:
    """Every SKU x region x date gets a row; the event total is within 15% of the truth."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), "추석 세일")
    fc = forecast(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"])
    assert len(fc) == 4 * 3 * 21
    assert not fc[["mean", "q10", "q50", "q90"]].isna().any().any()
    truth = tiny["truth"]["units"].sum()
    assert fc["mean"].sum() == pytest.approx(truth, rel=0.15)
    new = fc[fc["sku_id"] == "S4"]["mean"].sum()  # launched after last year's event
    assert new > 0


def test_quantiles_never_cross(tiny: dict[str, pd.DataFrame]) -> None:
    """q10 <= q50 <= q90 everywhere, extra quantiles included, all non-negative."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), "추석 세일")
    fc = forecast(tiny["history"], tiny["calendar"], w,
                  params=ForecastParams(quantiles=(0.05, 0.1, 0.5, 0.9, 0.95)))
    q = fc[["q05", "q10", "q50", "q90", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()


def test_aligned_by_event_day() -> None:
    """With flat growth, the forecast repeats last year's event day by day."""
    days = pd.date_range("2025-01-01", "2026-06-30")
    units = np.where((days.month == 6) & (days.day <= 3) & (days.year == 2025),
                     [0, 0, 0][0] + 100 * (days.day), 10)
    hist = pd.DataFrame({"date": days, "sku_id": "a", "region_id": "r", "units": units})
    cal = pd.DataFrame({"date": pd.to_datetime(["2025-06-01", "2025-06-02", "2025-06-03",
                                                "2026-07-01", "2026-07-02", "2026-07-03"]),
                        "event": "sale"})
    w = target_window(cal, dt.date(2026, 6, 30), "sale")
    fc = forecast(hist, cal, w, params=ForecastParams(shrink=0.0))
    np.testing.assert_allclose(fc["mean"], [100, 200, 300])
