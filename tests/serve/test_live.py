"""The rehearsal's live hook: the same tables, and views that add up to them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forestock.simulate import (
    REGION_COLS,
    SKU_COLS,
    ChunkView,
    DayStart,
    LiveCallbacks,
    SimulateParams,
    simulate,
)
from tests.simulate.test_simulate import random_problem


class Recorder(LiveCallbacks):
    """Keeps copies of everything it is shown."""

    def __init__(self) -> None:
        self.start: DayStart | None = None
        self.views: list[ChunkView] = []
        self.seconds: list[np.ndarray] = []

    def on_day(self, start: DayStart) -> None:
        self.start = start

    def on_chunk(self, view: ChunkView) -> None:
        self.seconds.append(view.per_second.copy())
        self.views.append(ChunkView(view.s0, view.s1, view.orders_done, view.per_second.copy(),
                                    view.region_hour.copy(), view.per_sku.copy(),
                                    view.stock.copy(), view.backlog.copy()))


@pytest.mark.parametrize("workers", [1, 2])
def test_live_listener_changes_nothing_and_adds_up(workers: int) -> None:
    """With a live listener the tables are identical to a run without one, on one worker and
    two threads; the chunks tile the day, their seconds are the per-second table and the last
    view's tallies are the region and brand tables."""
    p = random_problem(3)
    params = SimulateParams(chunk_orders=1_000, workers=workers, scale=20.0)
    plain = simulate(p, params, seed=5)
    rec = Recorder()
    live = simulate(p, params, seed=5, callbacks=rec)
    for name, table in plain.tables.items():
        pd.testing.assert_frame_equal(live.tables[name], table, obj=name)
    assert rec.start is not None and rec.start.stock.shape == p.stock.shape
    assert len(rec.views) > 5
    assert [v.s0 for v in rec.views[1:]] == [v.s1 for v in rec.views[:-1]]
    assert rec.views[0].s0 == 0 and rec.views[-1].s1 == 86_400
    sec = np.concatenate(rec.seconds)
    np.testing.assert_array_equal(sec[:, 0], plain.tables["outcomes_second"]["orders"])
    last = rec.views[-1]
    assert last.orders_done == plain.orders
    reg = plain.tables["outcomes_region"]
    for col in ("units", "delivered_24h", "unfilled"):
        got = last.region_hour[:, :, REGION_COLS.index(col)].sum()
        assert got == reg[col].sum(), col
    assert last.per_sku[:, SKU_COLS.index("gmv")].sum() / 100 == pytest.approx(plain.gmv)
    np.testing.assert_array_equal(last.stock, plain.stock_left)
    orders = [v.orders_done for v in rec.views]
    assert orders == sorted(orders)
