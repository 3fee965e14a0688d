"""forestock's forecast: the global model combined with level x lift by a measured weight."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forestock.forecast import Combined, GlobalModel, make_method, target_window
from forestock.forecast._combine import UNMEASURED, WEIGHTS, blend_means
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


def test_the_weight_is_measured_on_the_last_occurrence(tiny: dict[str, pd.DataFrame]) -> None:
    """The 2025 event is held out: every candidate weight is scored there and the best
    one forecasts; the table keeps its contract."""
    m = Combined(seed=0).fit(_problem(tiny))
    assert set(m.validation_) == set(WEIGHTS)
    assert all(np.isfinite(v) for v in m.validation_.values())
    assert m.weight_ == min(m.validation_, key=m.validation_.__getitem__)
    fc = m.predict()
    q = fc[["q10", "q50", "q90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (fc["mean"] >= 0).all()
    assert len(fc) == 4 * 3 * 21
    assert fc["mean"].sum() == pytest.approx(tiny["truth"]["units"].sum(), rel=0.25)


def test_without_a_last_occurrence_the_global_model_forecasts_alone(
        tiny: dict[str, pd.DataFrame]) -> None:
    """A custom window has no occurrence to measure on: weight 1, the global model's
    forecast bit for bit."""
    problem = _problem(tiny, None)
    m = Combined(seed=3).fit(problem)
    assert m.validation_ == {} and m.weight_ == 1.0
    pd.testing.assert_frame_equal(m.predict(), GlobalModel(seed=3).fit(problem).predict())


def test_forestock_is_the_combination_and_deterministic(tiny: dict[str, pd.DataFrame]
                                                        ) -> None:
    """``make_method("forestock")`` is the combination; the same seed, the same table."""
    assert isinstance(make_method("forestock"), Combined)
    a, b = (Combined(seed=5).fit(_problem(tiny)).predict() for _ in range(2))
    pd.testing.assert_frame_equal(a, b)


def test_one_occurrence_too_early_to_measure_shares_the_mean(
        tiny: dict[str, pd.DataFrame]) -> None:
    """History from 2025-08-29: the 2025 event is in it, with too little before it to
    forecast it from. The model never saw the event recur, so level x lift takes half."""
    short = {**tiny, "history": tiny["history"][tiny["history"]["date"] >= "2025-08-29"]}
    m = Combined(seed=0).fit(_problem(short))
    assert m.validation_ == {}
    assert m.weight_ == UNMEASURED == 0.5
    alone = GlobalModel(seed=0).fit(_problem(short)).predict()["mean"].to_numpy()
    assert not np.allclose(m.predict()["mean"].to_numpy(), alone)
