"""forestock's forecast: the global model combined with level x lift by a measured weight."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forestock.events import Window, occurrences
from forestock.forecast import Combined, GlobalModel, make_method, target_window
from forestock.forecast._combine import (
    PEER_TOWARD,
    TOTAL_WEIGHTS,
    UNMEASURED,
    WEIGHTS,
    Weighing,
    _window_before,
    best_weight,
    blend_means,
)
from forestock.forecast._model import UNREAD_WEIGHT, top_down_means
from forestock.forecast._peers import LevelLift
from forestock.forecast._problem import ForecastProblem

EVENT = "추석 세일"


def _problem(tiny: dict[str, pd.DataFrame], event: str | None = EVENT) -> ForecastProblem:
    end = dt.date(2026, 8, 31)
    w = (target_window(tiny["calendar"], end, event) if event
         else target_window(tiny["calendar"], end, None, dt.date(2026, 9, 3),
                            dt.date(2026, 9, 5)))
    return ForecastProblem(tiny["history"], tiny["calendar"], w, tiny["skus"], tiny["regions"])


def test_blend_means_weighs_the_model_and_keeps_cells_the_peer_lacks() -> None:
    """Weight 1 is the model; 0.25 is a quarter of it; a cell the peer has not is the
    model's."""
    model = pd.DataFrame({"sku_id": ["a", "a", "b"], "region_id": ["r", "r", "r"],
                          "date": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-01"]),
                          "mean": [4.0, 8.0, 2.0]})
    peer = model.iloc[[1, 0]].assign(mean=[0.0, 8.0])  # another order, b missing
    np.testing.assert_array_equal(blend_means(model, peer, 1.0), [4.0, 8.0, 2.0])
    np.testing.assert_allclose(blend_means(model, peer, 0.25), [7.0, 2.0, 2.0])


def test_cells_whose_skus_lift_was_not_read_take_at_most_the_unread_weight() -> None:
    """At weight 1 an unread cell is half the model's, half the peer's (UNREAD_WEIGHT); at
    0.25 it keeps 0.25, below that cap; a cell the peer lacks stays the model's."""
    model = pd.DataFrame({"sku_id": ["a", "a", "b"], "region_id": ["r", "r", "r"],
                          "date": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-01"]),
                          "mean": [4.0, 8.0, 2.0]})
    peer = model.iloc[[1, 0]].assign(mean=[0.0, 8.0])
    unread = np.array([True, False, True])
    assert UNREAD_WEIGHT == 0.5
    np.testing.assert_allclose(blend_means(model, peer, 1.0, unread), [6.0, 8.0, 2.0])
    np.testing.assert_allclose(blend_means(model, peer, 0.25, unread), [7.0, 2.0, 2.0])


def test_the_weight_is_measured_on_the_last_occurrence(tiny: dict[str, pd.DataFrame]) -> None:
    """The 2025 event is held out: every candidate weight is scored there and the best
    one forecasts, its national figures kept (not comparable with the target's: the
    event's first occurrence); the table keeps its contract."""
    m = Combined(seed=0).fit(_problem(tiny))
    assert set(m.validation_) == set(WEIGHTS)
    assert all(np.isfinite(v) for v in m.validation_.values())
    assert m.weight_ == min(m.validation_, key=m.validation_.__getitem__)
    assert set(m.totals_) == {(w, t) for w in WEIGHTS for t in TOTAL_WEIGHTS if t != w}
    assert m.weighing_ == best_weight(m.validation_, 2, m.totals_)
    assert m.held_ is not None and set(m.held_.forecast) == set(WEIGHTS) | set(TOTAL_WEIGHTS)
    assert m.held_.window.start.year == 2025 and not m.held_.comparable
    assert m.held_.actual > 0
    fc = m.predict()
    q = fc[["q10", "q50", "q90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (fc["mean"] >= 0).all()
    assert len(fc) == 4 * 3 * 21
    assert fc["mean"].sum() == pytest.approx(tiny["truth"]["units"].sum(), rel=0.25)


def test_a_custom_window_is_measured_on_its_twin_before_it(tiny: dict[str, pd.DataFrame]
                                                          ) -> None:
    """A custom window (Sep 3-5, the history ending Aug 31) has no occurrence to measure
    on: its twin, moved back by whole windows into the history (Aug 28-30), is held out
    instead, with the same lead, and the best weight there forecasts."""
    w = Window("custom", dt.date(2026, 9, 3), dt.date(2026, 9, 5))
    held = _window_before(w, "D", dt.date(2026, 8, 31))
    assert (held.start, held.end) == (dt.date(2026, 8, 28), dt.date(2026, 8, 30))
    month = _window_before(Window("custom", dt.date(2016, 7, 1), dt.date(2016, 12, 1)), "M",
                           dt.date(2016, 6, 1))
    assert (month.start, month.end) == (dt.date(2016, 1, 1), dt.date(2016, 6, 1))
    problem = _problem(tiny, None)
    m = Combined(seed=3).fit(problem)
    assert set(m.validation_) == set(WEIGHTS)
    assert m.weight_ == min(m.validation_, key=m.validation_.__getitem__)
    assert m.held_ is not None and m.held_.comparable and m.held_.window == held
    assert m.totals_ == {} and not m.weighing_.top_down  # no event peak: no total of its own
    if m.weight_ == 1.0:
        pd.testing.assert_frame_equal(m.predict(), GlobalModel(seed=3).fit(problem).predict())


def test_a_custom_window_without_a_season_before_its_twin_forecasts_with_the_model_alone(
        tiny: dict[str, pd.DataFrame]) -> None:
    """History from Jun 15: the twin (Aug 28-30, cut at Aug 25 for the lead) has less
    than a season (91 days) before it, so nothing is measured and the global model
    forecasts alone, bit for bit."""
    short = {**tiny, "history": tiny["history"][tiny["history"]["date"] >= "2026-06-15"]}
    problem = _problem(short, None)
    m = Combined(seed=3).fit(problem)
    assert m.validation_ == {} and m.weight_ == 1.0 and m.held_ is None
    pd.testing.assert_frame_equal(m.predict(), GlobalModel(seed=3).fit(problem).predict())


def test_forestock_is_the_combination_and_deterministic(tiny: dict[str, pd.DataFrame]
                                                        ) -> None:
    """``make_method("forestock")`` is the combination; the same seed, the same table."""
    assert isinstance(make_method("forestock"), Combined)
    a, b = (Combined(seed=5).fit(_problem(tiny)).predict() for _ in range(2))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("days_before", [1, 7])
def test_one_occurrence_too_early_to_measure_takes_level_x_lifts_daily_totals(
        tiny: dict[str, pd.DataFrame], days_before: int) -> None:
    """History from a day or a week before the 2025 event: the event is in it, with too
    little before it to forecast it from (a day: not even the lead; the window before the
    event, an ordinary one, is not measured on instead). The model never saw the event
    recur, so each day's total is level x lift's and the model splits it: per date the
    totals are level x lift's, the shares among cells the model's."""
    start = occurrences(tiny["calendar"], EVENT)[-2].start - dt.timedelta(days=days_before)
    short = {**tiny, "history": tiny["history"][tiny["history"]["date"] >= str(start)]}
    m = Combined(seed=0).fit(_problem(short))
    assert m.validation_ == {} and m.weighing_.top_down
    assert m.weight_ == UNMEASURED == 1.0
    fc = m.predict()
    alone = GlobalModel(seed=0).fit(_problem(short)).predict()
    peer = LevelLift(seed=0, toward=PEER_TOWARD).fit(_problem(short)).predict()
    by_date = fc.groupby("date")["mean"].sum()
    np.testing.assert_allclose(by_date.to_numpy(),
                               peer.groupby("date")["mean"].sum().reindex(by_date.index))
    # the model splits it: its own means scaled alike within a date, but where a SKU's lift
    # could not be read (a SKU first selling after the history's first days), half its
    # mean and half level x lift's, scaled alike
    unread = m.model_.unread_
    cells = blend_means(alone, peer, 1.0, unread)
    np.testing.assert_allclose(cells[~unread], alone["mean"].to_numpy()[~unread])
    scale = fc["mean"] / cells
    np.testing.assert_allclose(scale, scale.groupby(fc["date"]).transform("first"),
                               rtol=1e-9)
    q = fc[["q10", "q50", "q90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()


def test_top_down_means_scale_each_date_to_the_peers_total() -> None:
    """Date 1: the model's 1 + 3 scaled to the peer's 8 (x2); date 2: the peer lacks one
    cell, so the other is scaled to the peer's own (6 for 2: x3) and the lacking cell kept;
    date 3: the model's zero stays zero."""
    d = pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02",
                        "2026-01-03"])
    model = pd.DataFrame({"sku_id": ["a", "b", "a", "b", "a"], "region_id": ["r"] * 5,
                          "date": d, "mean": [1.0, 3.0, 2.0, 5.0, 0.0]})
    peer = model.drop(index=3).assign(mean=[4.0, 4.0, 6.0, 9.0])
    np.testing.assert_allclose(top_down_means(model, peer), [2.0, 6.0, 6.0, 5.0, 0.0])


def test_the_total_weight_is_the_best_with_the_chosen_cells_and_ties_keep_the_blend() -> None:
    """The cells' weight is the best blend's (0.8); its total weight the best of the totals
    measured with it (0.4), another weight's totals not counting; where no total beats the
    blend's own, the blend stands alone."""
    validation = {1.0: 1.2, 0.8: 1.1, 0.6: 1.3}
    totals = {(0.8, 1.0): 1.15, (0.8, 0.6): 1.05, (0.8, 0.4): 1.0, (1.0, 0.4): 0.5}
    w = best_weight(validation, 2, totals)
    assert (w.weight, w.total, w.national, w.top_down) == (0.8, 0.4, 0.4, True)
    assert w.totals == {0.8: 1.1, 1.0: 1.15, 0.6: 1.05, 0.4: 1.0}
    tie = best_weight(validation, 2, {**totals, (0.8, 0.4): 1.1, (0.8, 0.6): 1.1})
    assert (tie.weight, tie.total, tie.national, tie.top_down) == (0.8, None, 0.8, False)
    assert best_weight({}, 1) == Weighing(UNMEASURED, {}, 0.0)


def test_a_total_weight_keeps_the_cells_split_and_takes_its_blends_daily_totals(
        tiny: dict[str, pd.DataFrame]) -> None:
    """The model's 0.8 with level x lift splits each day among the cells; each day's total
    is the blend's at 0.4: level x lift's national lift does not flatten the model's split
    of it (its SKU lifts, shrunk towards the market's, would)."""
    problem = _problem(tiny)
    model = GlobalModel(seed=0).fit(problem)
    peer = LevelLift(seed=0, toward=PEER_TOWARD).fit(problem).predict()
    alone = model.predict()
    fc = model.predict(peer, 0.8, 0.4)
    cells = alone.assign(mean=blend_means(alone, peer, 0.8, model.unread_))
    national = alone.assign(mean=blend_means(alone, peer, 0.4))
    by_date = fc.groupby("date")["mean"].sum()
    np.testing.assert_allclose(by_date.to_numpy(),
                               national.groupby("date")["mean"].sum().reindex(by_date.index))
    assert not np.allclose(by_date.to_numpy(),
                           cells.groupby("date")["mean"].sum().reindex(by_date.index))
    share = fc["mean"] / fc.groupby("date")["mean"].transform("sum")
    share_cells = cells["mean"] / cells.groupby("date")["mean"].transform("sum")
    np.testing.assert_allclose(share.to_numpy(), share_cells.to_numpy(), rtol=1e-9)
    pd.testing.assert_frame_equal(model.predict(peer, 0.8), model.predict(peer, 0.8, None))
    q = fc[["q10", "q50", "q90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
