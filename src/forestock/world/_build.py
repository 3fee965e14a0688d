"""Build the default world into a workspace."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.tables import spec
from forestock.world._calendar import calendar_rows
from forestock.world._catalogue import CATEGORIES, Catalogue, make_catalogue
from forestock.world._geo import lanes, load_cities, select_regions, warehouses
from forestock.world._params import WorldParams, WorldResult
from forestock.world._sales import SalesModel, draw_cells, regional_taste

__all__ = ["TableSink", "build_world"]

log = logging.getLogger("forestock.world")

_EPOCH = dt.date(1970, 1, 1)


class TableSink(Protocol):
    """Where the world's tables go: a :class:`~forestock.workspace.Workspace`, or
    :class:`forestock.flow.Tables` in memory."""

    def write_many(self, frames: Mapping[str, pd.DataFrame]) -> object:
        """Check and keep small tables, all together."""

    def writer(self, name: str) -> AbstractContextManager[Any]:
        """Take a long table in row groups (``write_table``)."""


def _expected_event_units(model: SalesModel, cat: Catalogue, event_day: int,
                          shares: np.ndarray, chunk: int) -> tuple[np.ndarray, float]:
    """Expected units per region on the event day (no shock, no regional noise), and the
    day's expected GMV (at list prices)."""
    n = len(cat.base)
    per_cat = np.zeros(len(CATEGORIES))
    price = cat.skus["price"].to_numpy(dtype=float)
    gmv = 0.0
    for lo in range(0, n, chunk):
        idx = np.arange(lo, min(lo + chunk, n))
        e = model.expected(cat, idx, np.array([event_day]))[:, 0]
        per_cat += np.bincount(cat.category[idx], weights=e, minlength=len(CATEGORIES))
        gmv += float(e @ price[idx])
    result: np.ndarray = per_cat @ shares
    return result, gmv


def _add_season(cells: np.ndarray, units: np.ndarray, days: np.ndarray, n_regions: int,
                 extra_cells: np.ndarray, extra_units: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Add the season's extra units (cells over ``days`` only) to a SKU's cells, both
    ascending: the result is ascending with one entry per cell."""
    if extra_cells.size == 0:
        return cells, units
    at = days[extra_cells // n_regions] * n_regions + extra_cells % n_regions
    both, inverse = np.unique(np.concatenate([cells, at]), return_inverse=True)
    total = np.bincount(inverse, weights=np.concatenate([units, extra_units]),
                        minlength=both.size)
    return both.astype(np.int64), total.astype(np.int64)


def _chunk_table(name: str, first_day: int, days: np.ndarray, sku: np.ndarray,
                 region: np.ndarray, units: np.ndarray, sku_ids: pa.Array,
                 region_ids: pa.Array) -> pa.Table:
    date = pa.array((days + first_day).astype(np.int32), type=pa.int32()).cast(pa.date32())
    sku_col = pa.DictionaryArray.from_arrays(pa.array(sku, type=pa.int32()), sku_ids)
    reg_col = pa.DictionaryArray.from_arrays(pa.array(region, type=pa.int32()), region_ids)
    return pa.Table.from_arrays(
        [date, sku_col.cast(pa.string()), reg_col.cast(pa.string()),
         pa.array(units, type=pa.int64())],
        schema=spec(name).arrow_schema(),
    )


def build_world(ws: TableSink, params: WorldParams | None = None,
                callbacks: Callbacks | None = None) -> WorldResult:
    """Generate the default China world and write its tables into ``ws``: a workspace
    folder, or tables in memory (``build_world(Tables())``, or
    :func:`forestock.flow.run_world`).

    Writes regions, warehouses, brands, skus, lanes, calendar, history and
    truth. History holds ``params.history_days`` days ending on
    ``event_year-10-10``; truth holds every day from ``event_year-10-11``
    through ``event_year-11-15``, drawn by the same process. Both are
    sparse: a cell without a row sold nothing.

    Parameters
    ----------
    ws
        The workspace (or :class:`forestock.flow.Tables`) to write into.
    params
        Size and shape of the world; default :class:`WorldParams()`.
    callbacks
        Progress listener; task ``"world"`` advances by SKUs generated.

    Returns
    -------
    WorldResult
        Rows written per table, the windows and the seed.
    """
    p = params if params is not None else WorldParams()
    cb = callbacks if callbacks is not None else NO_CALLBACKS
    t0 = time.perf_counter()
    seed = p.seed
    regions = select_regions(load_cities(), p.regions)
    n_regions = len(regions)
    hist_days = p.history_days
    truth_days = (p.truth_end - p.truth_start).days + 1
    n_days = hist_days + truth_days
    event_day = (p.event_date - p.history_start).days

    cat = make_catalogue(seed, p.skus, p.n_brands, p.daily_units, hist_days,
                         p.launched_share, p.discontinued_share)
    model = SalesModel(p.history_start, n_days, hist_days - 1, p.event_lift, p.season_lift)
    shares = regional_taste(seed, regions["region_id"].to_numpy(), regions["lat"].to_numpy(),
                            regions["lon"].to_numpy(), regions["population"].to_numpy())
    event_units, event_gmv = _expected_event_units(model, cat, event_day, shares, p.chunk_skus)
    wh = warehouses(regions, event_units, p.storage_over_event, p.fdc_over_served)
    lane_table = lanes(wh, regions)
    small = {
        "regions": regions,
        "brands": cat.brands,
        "skus": cat.skus,
        "warehouses": wh,
        "lanes": lane_table,
        "calendar": calendar_rows(p.history_start, p.truth_end),
    }
    ws.write_many(small)
    rows = {name: len(frame) for name, frame in small.items()}
    log.info("world: %d regions, %d warehouses, %d brands, %d SKUs; expected 11.11 units %.0f",
             n_regions, len(wh), len(cat.brands), p.skus, event_units.sum())

    first_day = (p.history_start - _EPOCH).days
    region_ids = pa.array(regions["region_id"].to_numpy(), type=pa.string())
    all_sku_ids = cat.skus["sku_id"].to_numpy()
    rows["history"] = rows["truth"] = 0
    cb.on_start("world", p.skus)
    with ws.writer("history") as hist_w, ws.writer("truth") as truth_w:
        for lo in range(0, p.skus, p.chunk_skus):
            idx = np.arange(lo, min(lo + p.chunk_skus, p.skus))
            expected = model.expected(cat, idx, season=False)
            extra = model.season_extra(cat, idx)
            taste = shares[cat.category[idx]]
            parts_c, parts_u, parts_s = [], [], []
            for j, i in enumerate(idx):
                rng = np.random.default_rng([seed, 2, int(i)])
                k = cat.shock_shape[i]
                a = expected[j] * rng.gamma(k, 1.0 / k, size=n_days)
                b = taste[j] * np.exp(rng.normal(0.0, 0.25, size=n_regions))
                b /= b.sum()
                cells, units = draw_cells(rng, a, b)
                if model.season_days.size:
                    cells, units = _add_season(
                        cells, units, model.season_days, n_regions,
                        *draw_cells(np.random.default_rng([seed, 5, int(i)]),
                                    a[model.season_days] * extra[j], b))
                parts_c.append(cells)
                parts_u.append(units)
                parts_s.append(np.full(cells.size, j, dtype=np.int32))
            cells = np.concatenate(parts_c)
            units = np.concatenate(parts_u)
            sku = np.concatenate(parts_s)
            day = cells // n_regions
            region = (cells % n_regions).astype(np.int32)
            sku_ids = pa.array(all_sku_ids[idx], type=pa.string())
            for name, writer, mask in (("history", hist_w, day < hist_days),
                                       ("truth", truth_w, day >= hist_days)):
                if not mask.any():
                    continue
                table = _chunk_table(name, first_day, day[mask], sku[mask], region[mask],
                                     units[mask], sku_ids, region_ids)
                writer.write_table(table, row_group_size=table.num_rows)
                rows[name] += table.num_rows
            cb.on_step("world", len(idx))
    cb.on_end("world")
    log.info("world: %d history rows, %d truth rows in %.1f s", rows["history"],
             rows["truth"], time.perf_counter() - t0)
    return WorldResult(
        rows=rows,
        event_date=p.event_date,
        history_start=p.history_start,
        history_end=p.history_end,
        truth_start=p.truth_start,
        truth_end=p.truth_end,
        seed=seed,
        expected_event_units=float(event_units.sum()),
        market_scale=event_gmv / float(cat.sku_size.sum()),
        market_gmv=float(cat.sku_size.sum()),
        params=p,
    )
