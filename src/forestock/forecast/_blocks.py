"""Forecasting a history too large for memory: SKU blocks cut from Parquet.

The history (one Parquet file, as the workspace stores it) is cut once, with
DuckDB, into blocks of SKUs, every region of a SKU in one block; the market
(units per region and period over every SKU) is summed beside it. The model
learns from the first block, a sample of SKUs drawn half by their units and half
evenly over the SKU table (:func:`block_parts`), and then forecasts block after
block, so memory follows one block and never the whole history. The window
totals (``forecast_total``) follow block by block too, a SKU's regions being in
one block, with the correlation of a window's days and regions measured once on
the first block. Every series sees the same features it would see in one dense
panel: its own history, its SKU's national history (a SKU never spans blocks)
and the whole market's; only the typical SKU's lift on each past event, a
median, the categories' price response and the combination's weight
(:class:`~forestock.forecast.Combined`: the global model and level x lift
measured on the event's last occurrence) are measured on the first block's SKUs
and used for all blocks; level x lift is fitted block by block (its market lift
is that of the block's SKUs, a sample). A SKU attribute the model reads as a
category (brand, category) some value of which no SKU of the first block has is
left out of the model: the trees would send the other blocks' SKUs of that value
down an arbitrary side of every split on it (:func:`uncovered`).

On a Dask cluster the blocks are its tasks over the Parquet partitions, cut
into a folder the workers see: one worker learns from the first block and
forecasts it, the others take the learnt model (and the market's measurements)
from it and forecast the other blocks, and the tables come back in block
order. Every block is forecast by the same functions from the same inputs as
in one process, so the tables are the same, bit for bit.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.events import Window
from forestock.forecast._combine import Combined, Weighing, member
from forestock.forecast._features import Market
from forestock.forecast._model import GlobalModel, _View
from forestock.forecast._panel import (
    Grid,
    build_panel,
    period_dates,
    period_index,
    window_periods,
)
from forestock.forecast._problem import ForecastParams, ForecastProblem
from forestock.forecast._total import (
    MarketError,
    TotalCorrelation,
    market_error,
    own_spread,
    panel_correlation,
    window_totals,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["BLOCK_CELLS", "BlockReport", "forecast_blocks", "uncovered"]

#: Dense cells (series x periods) beyond which a history is forecast in SKU blocks.
BLOCK_CELLS = 150_000_000

log = logging.getLogger("forestock.forecast")


@dataclass(frozen=True)
class BlockReport:
    """What a block-wise forecast did: blocks, series, rows and training rows, the
    correlation the window totals used (None without totals), the combination's weight,
    the SKU attributes the model left out (:func:`uncovered`) and the event total's error
    common to every SKU (:func:`~forestock.forecast.market_error`, measured on the first
    block's SKUs; None without totals)."""

    blocks: int
    series: int
    rows: int
    train_rows: int
    correlation: TotalCorrelation | None = None
    weight: float = 1.0  # the global model's share of the mean (see Combined)
    without: tuple[str, ...] = ()
    top_down: bool = False  # each day's total weighed apart (see Weighing)
    market: MarketError | None = None
    total: float | None = None  # the global model's share of each day's total, if apart


#: SKU attributes the global model reads as categories: (column of the SKU table, feature).
_CODED = (("category", "category"), ("brand_id", "brand"))


def uncovered(skus: pd.DataFrame, sample: np.ndarray) -> tuple[str, ...]:
    """The model's categorical SKU features (``category``, ``brand``) some value of which
    the SKUs ``sample`` do not have, in the SKU table ``skus``.

    A model learning from ``sample`` knows nothing of such a value, and LightGBM sends an
    unseen category down the same side of every split on the feature, a side chosen by
    the sample's own SKUs: on the world of 200 SKUs x 40 regions cut into 5 blocks (160
    brands), the first block's 40 SKUs had the brands of 10% of the others, and its model
    forecast the others' 11.11 at 0.71 of the in-memory model's: the total 19% low, against
    5%; without the brand, 1% low.
    """
    own = skus["sku_id"].isin(list(sample)).to_numpy()
    out = []
    for column, feature in _CODED:
        if column in skus.columns:
            values = skus[column]
            if not set(values[~own].dropna()) <= set(values[own].dropna()):
                out.append(feature)
    return tuple(out)


def block_parts(units: np.ndarray, n_blocks: int) -> np.ndarray:
    """Each SKU's block, 0 to ``n_blocks - 1`` (``units``: each SKU's recent units, in
    the SKU table's order).

    The first block, the one the model learns from, holds ``ceil(n / n_blocks)`` SKUs:
    half of them drawn with probability proportional to their units (systematically: the
    SKUs at evenly spaced points of the units' running sum from 0, largest first, so the
    largest SKU, and any with more than one such step of the units, is always in), the
    others evenly spaced over the rest of the table. The other blocks take the remaining
    SKUs round-robin. A sample of SKUs alone (every ``n_blocks``-th) holds few of the
    largest, which carry most of the units: at 10,000 SKUs x 300 regions the model learnt
    from 323 SKUs, the other blocks' 100 largest forecasts came out at 0.58 of their true
    11.11 (their lifts read from a handful of large SKUs), and the 11.11 12.6% low, outside
    its q10..q90; drawn this way 0.85 to 0.91, WAPE per SKU 0.413 -> 0.345, the 11.11 5.3%
    low and inside its band (``benchmarks/NOTES.md``).
    """
    n = len(units)
    if n_blocks <= 1:
        return np.zeros(n, dtype=np.int64)
    size = -(-n // n_blocks)
    first = np.zeros(n, dtype=bool)
    u = np.clip(np.nan_to_num(np.asarray(units, dtype=np.float64)), 0.0, None)
    k, total = size // 2, float(u.sum())
    if k > 0 and total > 0:
        order = np.argsort(-u, kind="stable")
        points = np.arange(k) * (total / k)  # from 0: the largest SKU is always in
        at = np.minimum(np.searchsorted(np.cumsum(u[order]), points, side="right"), n - 1)
        first[order[at]] = True
    rest = np.flatnonzero(~first)
    need = size - int(first.sum())
    first[rest[(np.arange(need) * rest.size) // need]] = True
    part = np.zeros(n, dtype=np.int64)
    others = np.flatnonzero(~first)
    part[others] = 1 + np.arange(others.size) % (n_blocks - 1)
    return part


def _recent_units(con: duckdb.DuckDBPyConnection, src: str, grid: Grid, sku_ids: np.ndarray
                  ) -> np.ndarray:
    """Each SKU's units over the history's last year (zero for a SKU without rows), in
    ``sku_ids``' order."""
    last = period_dates(grid.start, grid.n_hist, grid.freq)[-1]
    since = (last - pd.Timedelta(days=364)).date()
    frame = con.execute(
        f"SELECT sku_id::VARCHAR AS sku_id, sum(units)::DOUBLE AS units "
        f"FROM read_parquet('{src}') WHERE date >= DATE '{since}' GROUP BY ALL").df()
    units = frame.set_index("sku_id")["units"]
    return units.reindex(pd.Index(sku_ids.astype(str))).fillna(0.0).to_numpy()


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
    client: Client | None = None,
    scratch: str | Path | None = None,
) -> BlockReport:
    """Forecast every SKU x region of ``skus`` x ``regions`` from the Parquet ``history``.

    Each block's forecast table goes to ``sink`` as it is made (the caller
    streams it to disk), and, when ``totals`` is given, its ``forecast_total``
    table to ``totals`` (:func:`~forestock.forecast.window_totals`, with the
    correlation measured on the first block's history). ``block_series`` bounds
    the series in a block, and so the memory; ``memory_limit`` bounds DuckDB's
    while it cuts the blocks.

    With a Dask ``client`` the blocks are the cluster's tasks: the blocks are cut
    into ``scratch`` (a folder every worker reads: shared storage; default the
    history's folder), one worker learns from the first block, the model is
    shipped to the workers, each of which reads its blocks' Parquet files, builds
    their features and forecasts them; the tables come back to ``sink`` and
    ``totals`` in block order, so the caller writes the same tables, bit for bit,
    as without a client. Without one, ``scratch`` defaults to the system's
    temporary folder.
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
    src = _sql_path(path)
    if scratch is None and client is not None:
        scratch = path.parent
    with tempfile.TemporaryDirectory(prefix=".forestock-blocks-", dir=scratch) as tmp:
        con = duckdb.connect()
        try:
            con.execute(f"SET memory_limit='{memory_limit}'")
            con.execute(f"SET temp_directory='{_sql_path(Path(tmp) / 'spill')}'")
            con.execute("SET preserve_insertion_order=false")
            con.execute("SET enable_progress_bar=false")  # the caller's callbacks report progress
            grid, market = _market(con, src, path.name, window, region_ids)
            part = block_parts(_recent_units(con, src, grid, sku_ids), n_blocks)
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
        setting = _Setting(calendar, window, skus, regions, prices, params, seed, grid,
                           out, totals is not None)
        blocks = [sku_ids[part == k] for k in range(n_blocks)]
        cb = callbacks or Callbacks()
        cb.on_start("forecast blocks", n_blocks)
        done = _Done(sink, totals, cb, n_blocks)
        if client is None:
            learned, first = _learn(setting, blocks[0], market, callbacks)
            done.add(first)
            for k in range(1, n_blocks):
                done.add(_forecast_block(setting, learned, k, blocks[k]))
        else:
            learned = _on_cluster(client, setting, blocks, market, done)
        cb.on_end("forecast blocks")
    return BlockReport(n_blocks, done.series, done.rows, learned.model.train_rows_,
                       learned.correlation, learned.weighing.weight, learned.model.without,
                       learned.weighing.top_down, learned.market_error, learned.weighing.total)


@dataclass(frozen=True)
class _Setting:
    """What every block's forecast reads besides its own history (shipped once to each
    worker): the tables, the window, the settings, the period grid and the blocks' folder."""

    calendar: pd.DataFrame
    window: Window
    skus: pd.DataFrame
    regions: pd.DataFrame
    prices: pd.DataFrame | None
    params: ForecastParams
    seed: int
    grid: Grid
    folder: Path
    totals: bool

    def history(self, k: int) -> pd.DataFrame:
        """Block ``k``'s history, as its Parquet partition holds it."""
        files = sorted((self.folder / f"part={k}").glob("*.parquet"))
        if not files:
            return pd.DataFrame({"date": pd.to_datetime([]), "sku_id": [], "region_id": [],
                                 "units": []})
        return pd.concat([pd.read_parquet(f, columns=["date", "sku_id", "region_id", "units"])
                          for f in files], ignore_index=True)


@dataclass(frozen=True)
class _Learned:
    """What the first block teaches every block: the fitted model, the combination's
    weight, the market (with the typical SKU's lifts and the categories' price response
    measured on the first block), the window totals' correlation and the market's error
    measured on the first block's SKUs (None without totals)."""

    model: GlobalModel
    weighing: Weighing
    market: Market
    correlation: TotalCorrelation | None
    market_error: MarketError | None = None


@dataclass(frozen=True)
class _Block:
    """One block's forecast table, its window totals (None without) and its series."""

    table: pd.DataFrame
    totals: pd.DataFrame | None
    series: int


class _Done:
    """The blocks' tables handed on in block order, counted."""

    def __init__(self, sink: Callable[[pd.DataFrame], None],
                 totals: Callable[[pd.DataFrame], None] | None, cb: Callbacks,
                 n_blocks: int) -> None:
        self.sink, self.totals, self.cb, self.n_blocks = sink, totals, cb, n_blocks
        self.series = self.rows = self.blocks = 0

    def add(self, block: _Block) -> None:
        self.series += block.series
        self.rows += len(block.table)
        self.sink(block.table)
        if self.totals is not None and block.totals is not None:
            self.totals(block.totals)
        self.blocks += 1
        self.cb.on_step("forecast blocks", 1)
        log.info("forecast block %s of %s", self.blocks, self.n_blocks)


def _learn(s: _Setting, block_skus: np.ndarray, market: Market,
           callbacks: Callbacks | None = None) -> tuple[_Learned, _Block]:
    """Fit on the first block (its SKUs a sample of the SKU table) and forecast it."""
    hist = s.history(0)
    problem = ForecastProblem(hist, s.calendar, s.window, s.skus, s.regions, s.prices)
    panel = build_panel(hist, s.calendar, s.window, block_skus,
                        s.regions["region_id"].to_numpy(dtype=object), grid=s.grid)
    # categories the first block's SKUs do not all cover are left out of the model
    without = uncovered(s.skus, block_skus)
    if without:
        log.info("forecast blocks: the first block's SKUs do not cover every %s: the model "
                 "learns without", " or ".join(without))
    model = GlobalModel(s.params, s.seed, callbacks, without=without)
    view = model.view(problem, panel, market)
    # the block's own SKUs: level x lift (and the weight's measurement) build panels of the
    # problem's SKU table
    own = ForecastProblem(hist, s.calendar, s.window,
                          s.skus[s.skus["sku_id"].isin(block_skus)], s.regions, s.prices)
    del hist
    # the combination's weight, measured on the first block's SKUs
    combined = Combined(s.params, s.seed, callbacks, without)
    weighing = combined.weigh(own)
    model.fit_view(view, s.window)
    model.callbacks = NO_CALLBACKS  # (a listener stays here; the model may travel)
    # the typical SKU's event lifts and the categories' price response, measured on the
    # SKUs the model trains on, are the market's for every block
    market = replace(market, typical=view.agg.typical,
                     price=None if view.price is None else view.price.pooled)
    correlation = (panel_correlation(panel, window_periods(panel, s.window).size)
                   if s.totals else None)
    learned = _Learned(model, weighing, market, correlation)
    first = _predict(s, learned, view, own)
    if correlation is not None and first.totals is not None:
        # the market's error: the first block's held-out national total, less what its
        # SKUs' own errors add to it (a sample of SKUs: more than the whole market's)
        held = combined.held_
        own_sd = own_spread(first.totals) if held is not None else 0.0
        learned = replace(learned, market_error=market_error(correlation, held,
                                                             weighing.national, own_sd))
    return learned, first


def _forecast_block(s: _Setting, learned: _Learned, k: int, block_skus: np.ndarray
                    ) -> _Block:
    """Block ``k``'s forecast (and window totals) by the model learned on the first."""
    hist = s.history(k)
    problem = ForecastProblem(hist, s.calendar, s.window, s.skus, s.regions, s.prices)
    panel = build_panel(hist, s.calendar, s.window, block_skus,
                        s.regions["region_id"].to_numpy(dtype=object), grid=s.grid)
    view = learned.model.view(problem, panel, learned.market)
    own = ForecastProblem(hist, s.calendar, s.window,
                          s.skus[s.skus["sku_id"].isin(block_skus)], s.regions, s.prices)
    del hist
    return _predict(s, learned, view, own)


def _predict(s: _Setting, learned: _Learned, view: _View, own: ForecastProblem) -> _Block:
    w = learned.weighing
    peer = member(s.params, s.seed).fit(own).predict() if w.needs_peer else None
    table = learned.model.predict_view(view, peer, w.weight, w.total)
    totals = (window_totals(table, learned.correlation)
              if learned.correlation is not None else None)
    return _Block(table, totals, view.panel.n_series)


def _on_cluster(client: Client, setting: _Setting, blocks: list[np.ndarray], market: Market,
                done: _Done) -> _Learned:
    """The blocks as the cluster's tasks: one worker learns and forecasts the first block;
    the others' tasks take the model from it and run at most two blocks ahead per worker;
    the tables are handed on in block order as they arrive."""
    from operator import itemgetter

    shared = client.scatter(setting, broadcast=True, hash=False)
    both = client.submit(_learn, shared, blocks[0], market, pure=False)
    learned_f = client.submit(itemgetter(0), both, pure=False)
    pending = [client.submit(itemgetter(1), both, pure=False)]
    del both
    ahead = 2 * max(len(client.nthreads()), 1)
    nxt = 1
    while pending:
        while nxt < len(blocks) and len(pending) < ahead:
            pending.append(client.submit(_forecast_block, shared, learned_f, nxt, blocks[nxt],
                                         pure=False))
            nxt += 1
        future = pending.pop(0)
        done.add(future.result())
        future.release()
    learned: _Learned = learned_f.result()
    return learned


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
