"""Progress of the forecast's fits: reported through callbacks, never changing the forecast."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd

from forestock.callbacks import Callbacks
from forestock.forecast import ForecastParams, forecast, target_window
from forestock.forecast._combine import CHECK_TASK

EVENT = "추석 세일"


class Recorder(Callbacks):
    """Every task's total, the work reported done, and whether it ended."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.done: dict[str, float] = defaultdict(float)
        self.ended: list[str] = []

    def on_start(self, task: str, total: float) -> None:
        self.total[task] = total

    def on_step(self, task: str, advance: float) -> None:
        assert task in self.total, f"step of {task!r} before its start"
        self.done[task] += advance

    def on_end(self, task: str) -> None:
        self.ended.append(task)


def test_fits_report_every_round_and_forecast_unchanged(tiny: dict[str, pd.DataFrame]) -> None:
    """The forecast's task and both fits (last occurrence, final: panel, features, every
    boosting round) are heard to the end; the forecast equals the one without callbacks bit
    for bit."""
    w = target_window(tiny["calendar"], dt.date(2026, 8, 31), EVENT)
    params = ForecastParams(rounds=40)
    rec = Recorder()
    args = (tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"], params)
    heard = forecast(*args, seed=1, callbacks=rec)
    quiet = forecast(*args, seed=1)
    pd.testing.assert_frame_equal(heard, quiet, check_exact=True)
    assert set(rec.total) == {"forecast", CHECK_TASK, "fit"}
    assert rec.total["forecast"] == 2 and rec.done["forecast"] == 1  # (its end completes it)
    for task in (CHECK_TASK, "fit"):
        assert rec.total[task] == 2 + 2 * 10 + 40
        assert rec.done[task] == rec.total[task]
    assert sorted(rec.ended) == sorted(rec.total)
