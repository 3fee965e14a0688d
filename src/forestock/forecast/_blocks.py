"""Forecasting a history too large for memory: SKU blocks cut from Parquet.

The history (one Parquet file, as the workspace stores it) is cut once, with
DuckDB, into blocks of SKUs, every region of a SKU in one block; the market
(units per region and period over every SKU) is summed beside it. The model
learns from the first block, a sample of SKUs taken round-robin from the SKU
table, and then forecasts block after block, so memory follows one block and
never the whole history. The window totals (``forecast_total``) follow block by
block too, a SKU's regions being in one block, with the correlation of a
window's days and regions measured once on the first block. Every series sees
the same features it would see in one dense panel: its own history, its SKU's
national history (a SKU never spans blocks) and the whole market's; only the
typical SKU's lift on each past event, a median, the categories' price
response and the combination's weight (:class:`~forestock.forecast.Combined`:
the global model and level x lift measured on the event's last occurrence) are
measured on the first block's SKUs and used for all blocks; level x lift is
fitted block by block (its market lift is that of the block's SKUs, a sample).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.events import Window
from forestock.forecast._combine import Combined
from forestock.forecast._features import Market
from forestock.forecast._model import GlobalModel
from forestock.forecast._panel import Grid, build_panel, period_index, window_periods
from forestock.forecast._peers import LevelLift
from forestock.forecast._problem import ForecastParams, ForecastProblem
from forestock.forecast._total import TotalCorrelation, panel_correlation, window_totals

__all__ = ["BLOCK_CELLS", "BlockReport", "forecast_blocks"]

#: Dense cells (series x periods) beyond which a history is forecast in SKU blocks.
BLOCK_CELLS = 150_000_000

log = logging.getLogger("forestock.forecast")


@dataclass(frozen=True)
class BlockReport:
    """What a block-wise forecast did: blocks, series, rows and training rows, and the
    correlation the window totals used (None without totals)."""

    blocks: int
    series: int
    rows: int
    train_rows: int
    correlation: TotalCorrelation | None = None
    weight: float = 1.0  # the global model's share of the mean (see Combined)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def forecast_blocks(
    history: str | Path,
    calendar: pd.DataFrame,
    window: Window,
    skus: pd.DataFrame,
    regions: pd.DataFrame,
    params: ForecastParams | None = None,
    *,
    prices: pd.DataFrame | None = None,
    seed: int = 0,
    sink: Callable[[pd.DataFrame], None],
    totals: Callable[[pd.DataFrame], None] | None = None,
    callbacks: Callbacks | None = None,
    block_series: int = 100_000,
    memory_limit: str = "4GB",
) -> BlockReport:
    """Forecast every SKU x region of ``skus`` x ``regions`` from the Parquet ``history``.

    Each block's forecast table goes to ``sink`` as it is made (the caller
    streams it to disk), and, when ``totals`` is given, its ``forecast_total``
    table to ``totals`` (:func:`~forestock.forecast.window_totals`, with the
    correlation measured on the first block's history). ``block_series`` bounds
    the series in a block, and so the memory; ``memory_limit`` bounds DuckDB's
    while it cuts the blocks.
    """
    path = Path(history)
    if not path.exists():
        raise ForestockError(f"{path} does not exist")
    if block_series < 1_000:
        raise ValueError(f"block_series must be >= 1000, got {block_series}")
    params = params or ForecastParams()
    sku_ids = skus["sku_id"].to_numpy(dtype=object)
    region_ids = regions["region_id"].to_numpy(dtype=object)
    per_block = max(1, block_series // max(len(region_ids), 1))
    n_blocks = math.ceil(len(sku_ids) / per_block)
    # round-robin: each block is a sample of the SKU table (the first one trains)
    part = np.arange(len(sku_ids)) % n_blocks
    src = _sql_path(path)
    with tempfile.TemporaryDirectory(prefix="forestock-blocks-") as tmp:
        con = duckdb.connect()
        try:
            con.execute(f"SET memory_limit='{memory_limit}'")
            con.execute(f"SET temp_directory='{_sql_path(Path(tmp) / 'spill')}'")
            con.execute("SET preserve_insertion_order=false")
            grid, market = _market(con, src, path.name, window, region_ids)
            parts = pd.DataFrame({"sku_id": sku_ids.astype(str), "part": part})
            con.register("parts", parts)
            out = Path(tmp) / "blocks"
            con.execute(
                f"COPY (SELECT h.date, h.sku_id::VARCHAR AS sku_id, "
                f"h.region_id::VARCHAR AS region_id, h.units, p.part "
                f"FROM read_parquet('{src}') h JOIN parts p ON h.sku_id::VARCHAR = p.sku_id) "
                f"TO '{_sql_path(out)}' (FORMAT parquet, PARTITION_BY (part))")
        finally:
            con.close()
        cb = callbacks or Callbacks()
        cb.on_start("forecast blocks", n_blocks)
        model = GlobalModel(params, seed, callbacks)
        weight = 1.0
        series = rows = 0
        correlation: TotalCorrelation | None = None
        for k in range(n_blocks):
            block_skus = sku_ids[part == k]
            files = sorted((out / f"part={k}").glob("*.parquet"))
            hist = (pd.concat([pd.read_parquet(f, columns=["date", "sku_id", "region_id",
                                                             "units"]) for f in files],
                              ignore_index=True) if files
                    else pd.DataFrame({"date": pd.to_datetime([]), "sku_id": [],
                                       "region_id": [], "units": []}))
            problem = ForecastProblem(hist, calendar, window, skus, regions, prices)
            panel = build_panel(hist, calendar, window, block_skus, region_ids, grid=grid)
            view = model.view(problem, panel, market)
            # the block's own SKUs: level x lift (and the weight's measurement) build panels
            # of the problem's SKU table
            own = ForecastProblem(hist, calendar, window,
                                  skus[skus["sku_id"].isin(block_skus)], regions, prices)
            del hist
            if k == 0:
                # the combination's weight, measured on the first block's SKUs
                weight = Combined(params, seed, callbacks).weigh(own)[0]
                model.fit_view(view, window)
                # the typical SKU's event lifts and the categories' price response,
                # measured on the SKUs the model trains on, are the market's for every block
                market = replace(market, typical=view.agg.typical,
                                 price=None if view.price is None else view.price.pooled)
            peer = LevelLift(params, seed).fit(own).predict() if weight < 1.0 else None
            table = model.predict_view(view, peer, weight)
            if totals is not None and correlation is None:
                correlation = panel_correlation(panel, window_periods(panel, window).size)
            series += panel.n_series
            rows += len(table)
            sink(table)
            if totals is not None and correlation is not None:
                totals(window_totals(table, correlation))
            del view, panel, table, peer, own
            cb.on_step("forecast blocks", 1)
            log.info("forecast block %s of %s", k + 1, n_blocks)
        cb.on_end("forecast blocks")
    return BlockReport(n_blocks, series, rows, model.train_rows_, correlation, weight)


def _market(con: duckdb.DuckDBPyConnection, src: str, name: str, window: Window,
            region_ids: np.ndarray) -> tuple[Grid, Market]:
    """One pass over the history: its periods, and the units per region and period over
    every SKU on them, running to the window (negative units refused on the way)."""
    frame = con.execute(
        f"SELECT region_id::VARCHAR AS region_id, date, sum(units)::DOUBLE AS units, "
        f"count(*) FILTER (WHERE units < 0) AS negative "
        f"FROM read_parquet('{src}') GROUP BY ALL").df()
    if frame.empty:
        raise ForestockError(f"{name}: the history is empty: nothing to forecast")
    negative = int(frame["negative"].sum())
    if negative:
        raise ForestockError(f"{name}, column 'units': {negative} rows are negative")
    grid = Grid.of(frame["date"])
    end = int(period_index(pd.DatetimeIndex([pd.Timestamp(window.end)]), grid.start,
                           grid.freq)[0])
    n = max(end + 1, grid.n_hist + 1)
    r = pd.Index(region_ids.astype(str)).get_indexer(frame["region_id"])
    if (r < 0).any():
        bad = frame["region_id"].iloc[int(np.flatnonzero(r < 0)[0])]
        raise ForestockError(f"history names region {bad!r}, which is not in the regions table")
    t = period_index(frame["date"], grid.start, grid.freq)
    R = np.zeros((len(region_ids), n))
    np.add.at(R, (r, t), frame["units"].to_numpy())
    return grid, Market(R, R.sum(axis=0))
