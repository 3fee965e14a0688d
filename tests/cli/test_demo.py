"""The demo's second event: the 11.11 season beside the one-day 11.11 (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forestock import flow
from forestock.callbacks import Callbacks
from forestock.cli.demo import SEASON_FOLDER, run_season
from forestock.workspace import Workspace
from forestock.world import WorldParams


def test_demo_season_plans_waves_and_rehearses_every_day(tmp_path: Path) -> None:
    """The demo's season runs on a world of a fifth of the SKUs (the same network): its two
    weeks forecast, planned with replenishment waves and rehearsed day by day, every day's
    units shipped or unfilled; the result compares as a rehearsal of 14 days."""
    world = WorldParams(seed=0, skus=100, regions=31)
    season = Workspace(tmp_path / "ws" / SEASON_FOLDER)
    run = run_season(season, world, seed=0, callbacks=Callbacks())
    assert len(season.read("skus")) == 20
    days = season.read("outcomes_day")
    assert list(days["date"]) == list(pd.date_range(world.season_start, world.season_end))
    assert (days["units"] == days["shipped"] + days["unfilled"]).all()
    assert run.facts["days"] == 14 and run.facts["inbound"] > 0
    assert len(season.read("replenishment")) > 0
    reh = flow.rehearsal_of(season)
    assert reh.event == "11.11 season" and len(reh.days) == 14 and reh.skus == 20
    assert reh.summary()["replenished"] == days["inbound"].sum()
