"""The forecast stage: which window, in memory or in SKU blocks, and its tables."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from forestock.callbacks import Callbacks
from forestock.flow._run import StageRun
from forestock.flow._store import Store, history_span
from forestock.workspace import Workspace

if TYPE_CHECKING:
    from distributed import Client

    from forestock.forecast import ForecastParams, MarketError, TotalCorrelation, Window

__all__ = ["DEFAULT_EVENT", "DEFAULT_METHOD", "ForecastRun", "forecast_window", "run_forecast"]

DEFAULT_EVENT = "11.11"
"""The event forecast and rehearsed when none is named: Singles' Day."""

DEFAULT_METHOD = "forestock"
"""The forecasting method unless another is named (see ``forestock.forecast.METHODS``)."""

log = logging.getLogger("forestock.forecast")

_INPUTS = ("history", "calendar", "skus", "regions", "prices")
_QUANTILES = ["mean", "q10", "q50", "q90"]


@dataclass(frozen=True)
class ForecastRun(StageRun):
    """A forecast made: its window, national figures, the window totals' correlation and the
    event total's error common to every SKU (``market``, which the plan reads from the
    notes' ``market_sd``).

    ``daily`` holds the forecast summed over SKUs and regions per date (mean, q10, q50,
    q90: sums of the cells' quantiles); ``national`` the mean and q10, q50, q90 of the
    SKUs' national window totals, summed over SKUs.
    """

    NAMES: ClassVar[tuple[str, ...]] = ("forecast", "forecast_total")

    window: Window
    daily: pd.DataFrame
    national: pd.Series
    correlation: TotalCorrelation
    blocks: bool
    market: MarketError


def forecast_window(store: Store, event: str | None = None, start: dt.date | None = None,
                    end: dt.date | None = None) -> Window:
    """The window to forecast: the next occurrence of ``event`` after the history, or
    ``start``..``end``; with neither, the next :data:`DEFAULT_EVENT`."""
    from forestock.forecast import target_window

    store.require(["history", "calendar"], "forecast")
    if event is None and start is None and end is None:
        event = DEFAULT_EVENT
    return target_window(store.read("calendar"), history_span(store)["last"], event, start, end)


def run_forecast(store: Store, params: ForecastParams | None = None, *,
                 window: Window | None = None, method: str = DEFAULT_METHOD, seed: int = 0,
                 callbacks: Callbacks | None = None, cluster: str | Client | None = None
                 ) -> ForecastRun:
    """Forecast every SKU and region over ``window`` and the window's totals.

    Reads history and calendar (and skus, regions, prices where present); writes
    ``forecast`` and ``forecast_total``. A folder's history too large for memory (its
    dense SKU x region x day panel beyond ``forestock.forecast.BLOCK_CELLS`` cells) is
    forecast in SKU blocks streamed to the folder, with forestock's method; with a
    ``cluster``, the blocks are its workers' tasks (the same tables, bit for bit).

    Parameters
    ----------
    store
        A workspace or tables in memory; the forecast's tables are added to it.
    params
        Settings of the engines; default :class:`~forestock.forecast.ForecastParams`.
    window
        The window; default :func:`forecast_window` (the next 11.11).
    method
        One of ``forestock.forecast.METHODS``.
    seed
        Seed of every random draw.
    callbacks
        Progress of the fits (and of the blocks).
    cluster
        A Dask cluster for the blocks: ``local:N``, a scheduler's address, or a
        :class:`distributed.Client` (see :mod:`forestock.cluster`); its workers must see
        the workspace's folder. A history that fits in memory is forecast in this process,
        cluster or not.
    """
    from forestock.cluster import address_of
    from forestock.forecast import forecast_with_totals

    store.require(["history", "calendar"], "forecast")
    window = window if window is not None else forecast_window(store)
    span = history_span(store)
    t0 = time.perf_counter()
    reads = [t for t in _INPUTS if store.has(t)]
    with store.stage("forecast", reads=reads):  # forecast, its totals and notes together
        blocks = (isinstance(store, Workspace) and method == "forestock"
                  and _needs_blocks(store, span, window.end))
        if isinstance(store, Workspace) and blocks:
            daily, national, rows, corr, market = _forecast_blocks(
                store, window, params, seed, callbacks, cluster)
        else:
            if cluster is not None:
                log.info("the history fits in memory: forecast in this process, not on %s",
                         address_of(cluster))
            data = {t: store.read(t, categorical=t == "history") if store.has(t) else None
                    for t in _INPUTS}
            result = forecast_with_totals(data["history"], data["calendar"], window,
                                          data["skus"], data["regions"], params,
                                          prices=data["prices"], method=method, seed=seed,
                                          callbacks=callbacks)
            store.write_many({"forecast": result.table, "forecast_total": result.totals})
            corr, rows, market = result.correlation, len(result.table), result.market
            daily, national = _daily(result.table), _national(result.totals)
        facts = {"event": window.event, "start": window.start, "end": window.end,
                 "method": method, "seed": seed, "rows": rows,
                 "cluster": address_of(cluster) if blocks else None,
                 "units_mean": float(daily["mean"].sum()),
                 "units_q10": float(daily["q10"].sum()),
                 "units_q90": float(daily["q90"].sum()),
                 "window_q10": float(national["q10"]), "window_q50": float(national["q50"]),
                 "window_q90": float(national["q90"]), "correlation_days": corr.days,
                 "correlation_regions": corr.regions, "correlation_market": corr.market,
                 **market.facts(),
                 "seconds": round(time.perf_counter() - t0, 2)}
        store.note("forecast", facts)
    return ForecastRun(store, facts, window, daily, national, corr, blocks, market)


def _daily(table: pd.DataFrame) -> pd.DataFrame:
    return table.groupby("date")[_QUANTILES].sum().reset_index()


def _national(totals: pd.DataFrame) -> pd.Series:
    """Mean and q10, q50, q90 of the SKUs' national window totals, summed over SKUs."""
    return totals.loc[totals["region_id"].isna(), _QUANTILES].sum()


def _needs_blocks(ws: Workspace, span: dict[str, Any], window_end: dt.date) -> bool:
    """Whether the dense panel would be too large for memory (then: SKU blocks)."""
    from forestock.forecast import BLOCK_CELLS

    if not (ws.has("skus") and ws.has("regions")):
        return False
    n = ws.sql("SELECT (SELECT count(*) FROM skus) * (SELECT count(*) FROM regions)").iloc[0, 0]
    return int(n) * ((window_end - span["first"]).days + 1) > BLOCK_CELLS


def _forecast_blocks(ws: Workspace, window: Window, params: ForecastParams | None, seed: int,
                     callbacks: Callbacks | None, cluster: str | Client | None
                     ) -> tuple[pd.DataFrame, pd.Series, int, TotalCorrelation, MarketError]:
    """Forecast a large history block by block, streaming the forecast and its window totals
    to the workspace (the correlation and the market's error measured on the first block);
    with a cluster, the blocks cut into the workspace's folder, which its workers read."""
    from forestock.cluster import using
    from forestock.forecast import MarketError, TotalCorrelation, forecast_blocks
    from forestock.tables import to_arrow, validate

    skus, regions = ws.read("skus"), ws.read("regions")
    prices = ws.read("prices") if ws.has("prices") else None
    known = {"skus": pd.Index(skus["sku_id"]), "regions": pd.Index(regions["region_id"])}
    daily: list[pd.DataFrame] = []
    national: list[pd.Series] = []
    with ws.writer("forecast") as writer, ws.writer("forecast_total") as total_writer:

        def sink(table: pd.DataFrame) -> None:
            writer.write_table(to_arrow(validate(table, "forecast", known=known), "forecast"))
            daily.append(_daily(table))

        def totals(table: pd.DataFrame) -> None:
            typed = validate(table, "forecast_total", known=known)
            total_writer.write_table(to_arrow(typed, "forecast_total"))
            national.append(_national(table))

        with using(cluster) as client:
            report = forecast_blocks(ws.path("history"), ws.read("calendar"), window, skus,
                                     regions, params, prices=prices, seed=seed, sink=sink,
                                     totals=totals, callbacks=callbacks, client=client,
                                     scratch=ws.root if client is not None else None)
    total = pd.concat(daily).groupby("date", as_index=False).sum()
    corr = report.correlation or TotalCorrelation(0.0, 0.0)
    market = report.market or MarketError(0.0)
    return total, pd.concat(national, axis=1).sum(axis=1), report.rows, corr, market
