"""Calendars kept one row per date, the event blank on ordinary days (as M5's calendar.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forestock.cli import main
from forestock.events import normalise_calendar, occurrences
from forestock.forecast import ForecastParams, forecast, target_window
from forestock.workspace import Workspace
from forestock.world import WorldParams, build_world
from tests.conftest import write_csvs

FAST = ForecastParams(rounds=40)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """A tiny embedded world (10 SKUs, 31 regions) and its calendar kept one row per date
    (and event: the 11.11 season shares dates with the presale and 11.11): every date from
    the history's start to the calendar's end, blank (NaN, None or "", in turn) where the
    contract calendar has no event."""
    ws = Workspace(tmp_path_factory.mktemp("world"))
    build_world(ws, WorldParams(seed=0, skus=10, regions=31))
    tables = {name: ws.read(name) for name in ("history", "calendar", "skus", "regions")}
    cal = tables["calendar"]
    days = pd.DataFrame({"date": pd.date_range(tables["history"]["date"].min(),
                                               cal["date"].max())})
    kept = days.merge(cal, on="date", how="left").astype({"event": object})
    blank = kept.index[kept["event"].isna()]
    kept.loc[blank, "event"] = np.resize(np.array([np.nan, None, ""], dtype=object), len(blank))
    return {**tables, "kept": kept}


def test_blank_events_mean_no_event(world: dict[str, pd.DataFrame]) -> None:
    """NaN, None and "" events are dropped: the calendar and its occurrences are the contract's."""
    kept = world["kept"]
    blank = kept["event"].isna() | (kept["event"] == "")
    assert kept.loc[blank, "date"].is_unique and not kept.loc[blank, "date"].isin(
        kept.loc[~blank, "date"]).any()
    assert kept["event"].isna().any() and (kept["event"] == "").any()
    cal = world["calendar"]
    assert normalise_calendar(kept).equals(normalise_calendar(cal))
    assert occurrences(kept, "11.11") == occurrences(cal, "11.11")


def test_forecast_from_a_blank_event_calendar_is_the_contracts(
    world: dict[str, pd.DataFrame],
) -> None:
    """forecast() given the one-row-per-date calendar in memory gives the same table."""
    h = world["history"]
    w = target_window(world["kept"], h["date"].max().date(), "11.11")
    args = (w, world["skus"], world["regions"], FAST)
    ours = forecast(h, world["kept"], *args)
    assert ours.equals(forecast(h, world["calendar"], *args))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_drops_blank_events(world: dict[str, pd.DataFrame], tmp_path: Path,
                                 suffix: str) -> None:
    """`forestock load` of a calendar with empty event cells stores the contract calendar."""
    folder = write_csvs(tmp_path / "in", {"calendar": world["kept"]})
    if suffix == ".parquet":
        (folder / "calendar.csv").unlink()
        world["kept"].to_parquet(folder / "calendar.parquet")
    ws = tmp_path / "ws"
    assert main(["load", str(folder), "-w", str(ws)]) == 0
    loaded = Workspace(ws).read("calendar")
    assert normalise_calendar(loaded).equals(normalise_calendar(world["calendar"]))
    assert len(loaded) == len(world["calendar"])
