"""The writer of a live rehearsal's progress file (see :mod:`forestock.serve._progress`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forestock.callbacks import NO_CALLBACKS, Callbacks
from forestock.errors import ForestockError
from forestock.serve._progress import _line
from forestock.simulate import (
    REGION_COLS,
    SKU_COLS,
    ChunkView,
    DayStart,
    LiveCallbacks,
    SimulateProblem,
)

MINUTES = 1440
_R = {c: j for j, c in enumerate(REGION_COLS)}
_K = {c: j for j, c in enumerate(SKU_COLS)}
MAX_STOCKOUTS = 200
"""Stockouts listed by name in one chunk record (the rest are counted)."""


class ProgressWriter(LiveCallbacks):
    """Writes a rehearsal's progress to ``path`` as it runs (see the module's notes).

    Parameters
    ----------
    path
        The progress file (its folder is created).
    problem
        The day rehearsed (its ids, in its order).
    regions, warehouses, brands
        Tables naming them (``regions``: region_id, name, province;
        ``warehouses``: warehouse_id, name; ``brands``: brand_id, name, country).
    expected_orders
        The plan's expectation of the day's orders (from the forecast), or
        ``None`` to take the rehearsal's own count; spread over the day by the
        intraday profile.
    seed
        The rehearsal's seed (recorded).
    forward
        Callbacks that also get ``on_start``, ``on_step`` and ``on_end`` (a
        progress bar).
    """

    def __init__(self, path: str | Path, problem: SimulateProblem, regions: pd.DataFrame,
                 warehouses: pd.DataFrame, brands: pd.DataFrame,
                 expected_orders: float | None = None, seed: int = 0,
                 forward: Callbacks | None = None) -> None:
        if expected_orders is not None and not expected_orders >= 0:
            raise ValueError(f"expected_orders must be >= 0, got {expected_orders!r}")
        self.path = Path(path)
        self.day = str(problem.day)
        self.seed = seed
        self.expected_orders = expected_orders
        self.skus = problem.skus.ids
        self.sku_brand = np.asarray(problem.sku_brand, dtype=np.int64)
        self.regions = _rows(regions, "region_id", problem.regions.ids)
        self.warehouses = _rows(warehouses, "warehouse_id", problem.warehouses.ids)
        self.brands = _rows(brands, "brand_id", problem.brands.ids)
        self.forward = forward or NO_CALLBACKS
        self.fd: int | None = None
        self.start: DayStart | None = None
        self.minutes = np.zeros((MINUTES, 3), dtype=np.int64)
        self.out = np.zeros((0, 0), dtype=bool)

    # -- callbacks -------------------------------------------------------------------------

    def on_day(self, start: DayStart) -> None:
        n_sku, n_wh = start.stock.shape
        if n_sku != self.skus.size or n_wh != len(self.warehouses):
            raise ForestockError(f"progress of a day with {n_sku} SKUs and {n_wh} warehouses, "
                                 f"tables give {self.skus.size} and {len(self.warehouses)}")
        self.start = start
        self.minutes[:] = 0
        self.out = start.stock <= 0  # a SKU never stocked at a warehouse is not a stockout

    def on_step(self, task: str, advance: float) -> None:
        self.forward.on_step(task, advance)

    def on_start(self, task: str, total: float) -> None:
        self.forward.on_start(task, total)
        if task != "simulate" or self.start is None:
            return
        cdf = self.start.expected_cdf
        at_minute = cdf[59::60]
        per_minute = np.diff(np.r_[0.0, at_minute])
        source = "forecast" if self.expected_orders is not None else "rehearsal"
        expected = self.expected_orders if self.expected_orders is not None else float(total)
        header = {
            "type": "day", "day": self.day, "seed": self.seed, "run": f"{os.getpid()}-"
                                                                      f"{time.time_ns()}",
            "t": time.time(), "total_orders": int(total),
            "expected_source": source,
            "expected_per_minute": [round(float(x), 3) for x in per_minute * expected],
            "regions": [{"id": r.region_id, "name": str(r.name), "province": str(r.province)}
                        for r in self.regions.itertuples()],
            "warehouses": [{"id": w.warehouse_id, "name": str(w.name), "capacity": int(c)}
                           for w, c in zip(self.warehouses.itertuples(), self.start.capacity,
                                           strict=True)],
            "brands": [{"id": b.brand_id, "name": str(b.name), "country": str(b.country)}
                       for b in self.brands.itertuples()],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(_line(header))
        tmp.replace(self.path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def on_chunk(self, view: ChunkView) -> None:
        if self.fd is None:
            return
        rows = view.per_second
        minute = np.arange(view.s0, view.s1) // 60
        np.add.at(self.minutes, minute, rows)
        m0, m1 = view.s0 // 60, (view.s1 - 1) // 60 + 1
        rh = view.region_hour.sum(axis=1)
        brand = np.bincount(self.sku_brand, weights=view.per_sku[:, _K["gmv"]],
                            minlength=len(self.brands)) / 100.0
        now_out = view.stock <= 0
        new = np.argwhere(now_out & ~self.out)
        self.out = now_out
        totals = view.per_sku.sum(axis=0)
        wh_ids = self.warehouses["warehouse_id"].to_numpy()
        record = {
            "type": "chunk", "s0": view.s0, "s1": view.s1, "t": time.time(),
            "orders": int(view.orders_done), "units": int(totals[_K["units"]]),
            "gmv": int(totals[_K["gmv"]]) / 100.0,
            "minute0": int(m0),
            "minute_orders": self.minutes[m0:m1, 0].tolist(),
            "minute_gmv": (self.minutes[m0:m1, 2] / 100.0).tolist(),
            "region_units": rh[:, _R["units"]].tolist(),
            "region_d24": rh[:, _R["delivered_24h"]].tolist(),
            "region_unfilled": rh[:, _R["unfilled"]].tolist(),
            "backlog": view.backlog.tolist(),
            "brand_gmv": brand.round(2).tolist(),
            "stockouts": [[str(self.skus[k]), str(wh_ids[w])] for k, w in new[:MAX_STOCKOUTS]],
            "stockouts_total": len(new),
        }
        os.write(self.fd, _line(record))

    def on_end(self, task: str) -> None:
        self.forward.on_end(task)
        if task != "simulate" or self.fd is None:
            return
        os.write(self.fd, _line({"type": "end", "t": time.time()}))
        os.close(self.fd)
        self.fd = None

    def close(self) -> None:
        """Close the file (a run that failed leaves it without its end record)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _rows(table: pd.DataFrame, key: str, ids: np.ndarray) -> pd.DataFrame:
    """The rows of ``table`` for ``ids``, in their order."""
    frame = table.assign(**{key: table[key].astype(str)}).drop_duplicates(key).set_index(key)
    missing = [i for i in ids if i not in frame.index]
    if missing:
        raise ForestockError(f"{key} {missing[0]!r} of the rehearsal is not in its table")
    return frame.loc[list(ids)].reset_index()
