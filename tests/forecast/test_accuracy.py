"""Accuracy pinned on fixed data: a small embedded world and the real Stallion data.

Each test backtests forestock and the seasonal naive on the same held-out
window and pins forestock's WRMSSE (M5) with a tolerance, its margin over the
baseline and the coverage of its q10..q90. The figures were measured with
seed 0 (world 11.11: 10.08 against 9.52; Stallion 2016: 0.602 against 0.770).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from forestock.adapters import stallion_tables
from forestock.evaluate import KnownMeans, make_dataset
from forestock.forecast import ForecastProblem, Window, backtest, holdout_window
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world
from tests.conftest import SHARED

STALLION = SHARED / "data" / "stallion" / "stallion_2013_2016.parquet"


def _wrmsse(scores: dict[str, dict[str, object]], method: str) -> float:
    return float(scores[method]["wrmsse"])  # type: ignore[arg-type]


def test_world_event_accuracy_is_pinned(tmp_path: Path) -> None:
    """The small world's 11.11 held out: WRMSSE <= 4 and at most 20% above the seasonal
    naive. One day of 60 SKUs is a noisy figure (the benchmark's 200-SKU worlds are the
    ones to read): with one occurrence in the history forestock takes level x lift's daily
    totals and splits them by the model, which scored 3.67, 14.10, 2.92, 3.26 on worlds
    0-3 of this size (the seasonal naive 3.12, 15.24, 3.95, 3.17; half model and half
    level x lift, as before, 2.93, 14.11, 3.52, 2.77), and 2.08, 3.86, 4.11 on the
    200-SKU worlds 0-2 (half of each 2.41, 4.50, 4.86)."""
    ws = Workspace(tmp_path)
    build_world(ws, WorldParams(seed=0, skus=60, regions=31))
    h = ws.read("history", categorical=True)
    cal = ws.read("calendar")
    w = holdout_window(cal, "11.11", h["date"].max().date(), h["date"].min().date(), 32)
    r = backtest(h, cal, w, 32, ws.read("skus"), ws.read("regions"),
                 methods=["forestock", "seasonal_naive"])
    ours, naive = _wrmsse(r.scores, "forestock"), _wrmsse(r.scores, "seasonal_naive")
    assert ours <= 4.0
    assert ours <= 1.2 * naive
    assert 0.7 <= float(r.scores["forestock"]["coverage"]) <= 0.9  # type: ignore[arg-type]


@pytest.mark.skipif(not STALLION.exists(), reason=f"the Stallion data ({STALLION}) is absent")
def test_stallion_accuracy_is_pinned() -> None:
    """Stallion 2016 from data to 2015-12: WRMSSE <= 0.64 and 16% or more below the
    seasonal naive (the benchmark reports the margin over seeds)."""
    t = stallion_tables(Path(STALLION))
    w = Window("custom", dt.date(2016, 1, 1), dt.date(2016, 12, 1))
    r = backtest(t["history"], t["calendar"], w, 1, t["skus"], t["regions"], t["prices"],
                 methods=["forestock", "seasonal_naive"])
    ours, naive = _wrmsse(r.scores, "forestock"), _wrmsse(r.scores, "seasonal_naive")
    assert ours <= 0.64
    assert ours <= 0.84 * naive
    assert 0.65 <= float(r.scores["forestock"]["coverage"]) <= 0.85  # type: ignore[arg-type]


#: forestock's WRMSSE on each evaluation data set's small instance (seed 0), measured when
#: pinned, the level x lift peer's beside it, and the pin's tolerance above the measure.
#: On these small instances (40 SKUs x 5 regions) the global model misses much of the
#: festival's 11.11 peak; the combination with level x lift (weighted by the last
#: occurrence) narrows the gap (festival 1.96 -> 1.71, grocery 1.38 -> 1.28) and the SKUs'
#: price elasticities help promo (1.93 -> 1.88). On the full instances forestock wins
#: (benchmarks/forecast.py). The pins guard against regressions.
SUITE = {
    "festival": (1.71, 1.53),
    "promo": (1.88, 3.06),
    "grocery": (1.28, 1.20),
}


@pytest.mark.parametrize("name", sorted(SUITE))
def test_evaluation_suite_accuracy_is_pinned(name: str) -> None:
    """Each generator's small instance: WRMSSE within 10% of its pinned value, above its
    noise floor, and at most 20% of outcomes above q90 and 13% below q10."""
    ds = make_dataset(name, seed=0, size="small")
    r = backtest(ds.history, ds.calendar, ds.window, ds.lead_days, ds.skus, ds.regions,
                 ds.prices, methods=["forestock", KnownMeans(ds.true_mean)])
    ours, floor = _wrmsse(r.scores, "forestock"), _wrmsse(r.scores, "true_means")
    assert floor < ours <= 1.1 * SUITE[name][0]
    assert float(r.scores["forestock"]["above_q90"]) <= 0.20  # type: ignore[arg-type]
    assert float(r.scores["forestock"]["below_q10"]) <= 0.13  # type: ignore[arg-type]


def test_one_occurrence_event_carries_its_lift_to_another_weekday(tmp_path: Path) -> None:
    """A one-day event seen once (the world's 2025 11.11, a Tuesday, a month into a year
    of history) forecast for its next occurrence (a Wednesday): the global model's total
    for the day lies within 30% of the truth. The trees once split the event's rows by
    weekday, so the Wednesday got other days' lift: 0.47 of the truth (200 SKUs, seed 2).
    """
    from forestock.forecast._model import GlobalModel

    ws = Workspace(tmp_path)
    build_world(ws, WorldParams(seed=2, skus=60, regions=31))
    h = ws.read("history", categorical=True)
    cal = ws.read("calendar")
    w = holdout_window(cal, "11.11", h["date"].max().date(), h["date"].min().date(), 32)
    assert w.start.weekday() != (w.start.replace(year=w.start.year - 1)).weekday()
    cut = w.start - dt.timedelta(days=32)
    train = h[h["date"] <= str(cut)]
    truth = float(h.loc[h["date"] == str(w.start), "units"].sum())
    model = GlobalModel(seed=0).fit(ForecastProblem(train, cal, w, ws.read("skus"),
                                                    ws.read("regions")))
    assert 0.7 * truth <= float(model.predict()["mean"].sum()) <= 1.3 * truth
