"""Map by SKU shard, reduce by warehouse and second: the rehearsal's engine.

A shard owns a contiguous range of SKUs (their demand cells and stock). For
each time chunk ``[s0, s1)`` of whole seconds within one hour, every shard

1. emits its orders of the chunk and routes them (routing only reads the
   SKU's own stock), counting arrivals per warehouse and second and ranking
   its own orders within each (the *map*);
2. the coordinator adds the counts up: every order's position in its
   warehouse's queue is then known (the *reduce*), with the rule that
   orders reach a warehouse floor in one-second waves, and within a wave
   queue in order of SKU, then region, then order index;
3. every shard turns positions into ship hours and tallies the outcomes.

Shards run in the coordinator's process (one worker) or in a pool of
worker processes, each holding its shard's state; only counts and positions
cross process boundaries per chunk. All tallies are integers, so the merged
result is the same for any number of shards.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from forestock.callbacks import Callbacks
from forestock.simulate import _checkpoint
from forestock.simulate import _kernels as K
from forestock.simulate._profile import SECONDS

log = logging.getLogger("forestock.simulate")

_PER_CELL = ("next_k", "u_cur", "t_next", "left")
_PER_SKU = ("stock", "per_sku")
_SUMMED = ("region_hour", "per_second", "picked", "flow")
_SAMPLE = ("sample_key", "sample_k", "sample_time", "sample_size", "sample_w", "sample_ship",
           "sample_elapsed")


@dataclass(frozen=True)
class ShardData:
    """Everything a shard needs, picklable: its cells, its SKUs' stock, the network."""

    keys: np.ndarray  # int64 [cell], RNG key of each cell
    cell_sku: np.ndarray  # int32 [cell], local SKU row
    cell_region: np.ndarray  # int32 [cell]
    units: np.ndarray  # int64 [cell]
    indptr: np.ndarray | None  # int64 [cell + 1] into the given orders, or None (generated)
    o_time: np.ndarray | None  # float64 [order], seconds, sorted within each cell
    o_size: np.ndarray | None  # int64 [order]
    stock: np.ndarray  # int64 [sku, warehouse]
    price_cents: np.ndarray  # int64 [sku]
    route: np.ndarray  # int32 [region, rank]
    transit: np.ndarray  # float64 [warehouse, region]
    capacity: np.ndarray  # int64 [warehouse], >= 1
    cdf: np.ndarray
    lut: np.ndarray
    size_cdf: np.ndarray
    seed: int
    noise: float
    last_mile: float
    factory_hours: float | None
    n_regions: int
    horizon: int
    buffer: int
    sample_share: float


class Shard:
    """The state of one shard: its order generator, its stock, its tallies."""

    def __init__(self, d: ShardData) -> None:
        self.d = d
        self.seed = np.uint64(d.seed & 0xFFFFFFFFFFFFFFFF)
        n_cells, n_wh = d.keys.size, d.capacity.size
        self.stock = d.stock.copy()
        self.next_k = np.zeros(n_cells, dtype=np.int64)
        self.left = d.units.copy()
        self.u_cur = np.zeros(n_cells, dtype=np.float64)
        self.t_next = np.full(n_cells, np.inf)
        if d.indptr is None:
            self.n_orders = K.count_orders(d.units, d.keys, self.seed, d.size_cdf)
            K.start_cells(self.n_orders, d.keys, self.seed, d.cdf, d.lut, self.u_cur, self.t_next)
        else:
            self.n_orders = np.diff(d.indptr)
        self.region_hour = np.zeros((d.n_regions, 24, K.N_REGION_COLS), dtype=np.int64)
        self.per_second = np.zeros((SECONDS, 3), dtype=np.int64)
        self.per_sku = np.zeros((d.stock.shape[0], K.N_SKU_COLS), dtype=np.int64)
        self.picked = np.zeros((n_wh, d.horizon), dtype=np.int64)
        self.flow = np.zeros((n_wh, d.horizon, d.n_regions), dtype=np.int64)
        self.samples: list[dict[str, np.ndarray]] = []
        self._alloc(d.buffer)
        self.m = 0

    def _alloc(self, size: int) -> None:
        self.o_cell = np.empty(size, dtype=np.int64)
        self.o_k = np.empty(size, dtype=np.int64)
        self.o_time = np.empty(size, dtype=np.float64)
        self.o_size = np.empty(size, dtype=np.int64)
        self.o_w = np.empty(size, dtype=np.int64)
        self.o_q = np.empty(size, dtype=np.int64)
        self.o_ship = np.empty(size, dtype=np.int64)
        self.o_elapsed = np.empty(size, dtype=np.float64)

    def total_orders(self) -> int:
        return int(self.n_orders.sum())

    def _emit(self, t_end: float) -> int:
        d = self.d
        if d.indptr is not None and d.o_time is not None and d.o_size is not None:
            return int(K.emit_given(d.indptr, d.o_time, d.o_size, self.next_k, self.left, t_end,
                                    self.o_cell, self.o_k, self.o_time, self.o_size))
        return int(K.emit_generated(self.n_orders, d.keys, self.seed, d.size_cdf, d.cdf, d.lut,
                                    self.next_k, self.u_cur, self.t_next, self.left, t_end,
                                    self.o_cell, self.o_k, self.o_time, self.o_size))

    def emit_route(self, s0: int, s1: int) -> tuple[int, np.ndarray]:
        """Emit and route the orders of seconds ``[s0, s1)``; return their count and the
        shard's arrivals per warehouse and second."""
        while True:
            saved = [getattr(self, n).copy() for n in _PER_CELL]
            m = self._emit(float(s1))
            if m >= 0:
                break
            for n, arr in zip(_PER_CELL, saved, strict=True):
                setattr(self, n, arr)
            log.debug("order buffer of %d too small for [%d, %d): doubling", self.o_cell.size,
                      s0, s1)
            self._alloc(2 * self.o_cell.size)
        counts = np.zeros((self.d.capacity.size, s1 - s0), dtype=np.int64)
        K.route_chunk(m, self.o_cell, self.o_time, self.o_size, self.d.cell_sku,
                      self.d.cell_region, self.stock, self.d.route,
                      self.d.factory_hours is not None, s0, counts, self.o_w, self.o_q)
        self.m = m
        return m, counts

    def settle(self, base: np.ndarray, s0: int, shipped_before: np.ndarray, hour: int) -> None:
        """Ship hours and tallies of the chunk last routed (``base``: arrivals before each
        of the shard's orders' wave, per warehouse and second, from all shards)."""
        d, m = self.d, self.m
        K.settle_chunk(m, self.o_cell, self.o_k, self.o_time, self.o_size, self.o_w, self.o_q,
                       d.keys, d.cell_sku, d.cell_region, d.price_cents, base, s0,
                       shipped_before, d.capacity, hour, self.seed, d.noise, d.last_mile,
                       d.factory_hours or 0.0, d.transit, self.region_hour, self.per_second,
                       self.per_sku, self.picked, self.flow, self.o_ship, self.o_elapsed)
        if d.sample_share > 0 and m:
            keep = K.sample_mask(m, self.o_cell, self.o_k, d.keys, self.seed, d.sample_share)
            cells = self.o_cell[:m][keep]
            self.samples.append({
                "sample_key": d.keys[cells], "sample_k": self.o_k[:m][keep],
                "sample_time": self.o_time[:m][keep], "sample_size": self.o_size[:m][keep],
                "sample_w": self.o_w[:m][keep], "sample_ship": self.o_ship[:m][keep],
                "sample_elapsed": self.o_elapsed[:m][keep],
            })
        self.m = 0

    def state(self) -> dict[str, np.ndarray]:
        """The shard's state and tallies, as arrays."""
        out = {n: getattr(self, n) for n in (*_PER_CELL, *_PER_SKU, *_SUMMED)}
        for n in _SAMPLE:
            out[n] = np.concatenate([s[n] for s in self.samples]) if self.samples else \
                np.empty(0, dtype=np.float64 if n in ("sample_time", "sample_elapsed")
                         else np.int64)
        return out

    def set_state(self, st: dict[str, np.ndarray]) -> None:
        for n in (*_PER_CELL, *_PER_SKU, *_SUMMED):
            setattr(self, n, np.array(st[n], copy=True))
        self.samples = [{n: st[n] for n in _SAMPLE}] if st["sample_key"].size else []


def merge_states(states: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Shards' states as one: per-cell and per-SKU arrays joined, tallies added."""
    out: dict[str, np.ndarray] = {}
    for n in (*_PER_CELL, *_PER_SKU, *_SAMPLE):
        out[n] = np.concatenate([s[n] for s in states])
    for n in _SUMMED:
        out[n] = np.sum([s[n] for s in states], axis=0)
    return out


def split_state(st: dict[str, np.ndarray], cells: Sequence[tuple[int, int]],
                skus: Sequence[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """A merged state cut back into shards (tallies and the sample go to the first)."""
    parts = []
    for j, ((c0, c1), (k0, k1)) in enumerate(zip(cells, skus, strict=True)):
        part = {n: st[n][c0:c1] for n in _PER_CELL}
        part.update({n: st[n][k0:k1] for n in _PER_SKU})
        part.update({n: st[n] if j == 0 else np.zeros_like(st[n]) for n in _SUMMED})
        part.update({n: st[n] if j == 0 else st[n][:0] for n in _SAMPLE})
        parts.append(part)
    return parts


class LocalPool:
    """Shards run one after the other in this process."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        self.shards = [Shard(d) for d in datas]

    def map(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        return [getattr(s, method)(*a) for s, a in zip(self.shards, args, strict=True)]

    def close(self) -> None:
        self.shards = []


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in worker processes
    """A worker process: build a shard, then run the methods the coordinator asks for."""
    try:
        shard = Shard(conn.recv())
        conn.send(("ok", None))
        while True:
            msg = conn.recv()
            if msg is None:
                return
            method, args = msg
            try:
                conn.send(("ok", getattr(shard, method)(*args)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the coordinator is gone


class ProcessPool:
    """One worker process per shard (spawned, so safe beside threads); the coordinator
    sends each the same call and waits for all, so the shards work at the same time."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for d in datas:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child,), daemon=True,
                               name="forestock-simulate")
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
            try:
                parent.send(d)
            except (BrokenPipeError, EOFError):
                self.close()
                raise RuntimeError(
                    "simulate's worker processes could not start; a script that runs "
                    "simulate with workers > 1 must do so under `if __name__ == '__main__':`"
                ) from None
        self._collect()

    def _collect(self) -> list[Any]:
        results = []
        for conn in self.conns:
            try:
                status, value = conn.recv()
            except EOFError:
                raise RuntimeError("a simulate worker process died") from None
            if status != "ok":
                raise RuntimeError(f"a simulate worker failed:\n{value}")
            results.append(value)
        return results

    def map(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            for conn, a in zip(self.conns, args, strict=True):
                conn.send((method, a))
        except (BrokenPipeError, EOFError):
            raise RuntimeError("a simulate worker process died") from None
        return self._collect()

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
                conn.close()
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        self.conns, self.procs = [], []


@dataclass(frozen=True)
class Run:
    """What the coordinator needs besides the shards."""

    capacity: np.ndarray  # int64 [warehouse], >= 1
    horizon: int
    chunk_orders: int
    expected_cdf: np.ndarray  # cumulative expected share of orders at the end of each second
    cells: tuple[tuple[int, int], ...]  # shard cell ranges
    skus: tuple[tuple[int, int], ...]  # shard SKU ranges
    stamp: str
    checkpoint: Path | None
    checkpoint_seconds: float
    resume: bool


@dataclass
class Outcome:
    """The merged tallies and queues of a finished day."""

    state: dict[str, np.ndarray]
    shipped_h: np.ndarray
    backlog_h: np.ndarray
    orders: int
    resumed_at: int


def _cut(cdf: np.ndarray, s0: int, share: float, s_max: int) -> int:
    """The second after ``s0`` by which about ``share`` more of the day's orders are placed."""
    target = (cdf[s0 - 1] if s0 > 0 else 0.0) + share
    s1 = int(np.searchsorted(cdf, target, side="left")) + 1
    return min(max(s1, s0 + 1), s_max)


def _close_hour(hour: int, arrived: np.ndarray, shipped_cum: np.ndarray, capacity: np.ndarray,
                shipped_h: np.ndarray, backlog_h: np.ndarray) -> None:
    before = shipped_cum.copy()
    np.minimum(arrived, shipped_cum + capacity, out=shipped_cum)
    shipped_h[:, hour] = shipped_cum - before
    backlog_h[:, hour] = arrived - shipped_cum


def run_day(make_pool: Callable[[], LocalPool | ProcessPool], run: Run,
            cb: Callbacks) -> Outcome:
    """Rehearse the day chunk by chunk over the shards of ``make_pool()``."""
    n_wh, horizon = run.capacity.size, run.horizon
    pool = make_pool()
    try:
        n_shards = len(run.cells)
        total = sum(pool.map("total_orders", [()] * n_shards))
        arrived = np.zeros(n_wh, dtype=np.int64)
        shipped_cum = np.zeros(n_wh, dtype=np.int64)
        shipped_h = np.zeros((n_wh, horizon), dtype=np.int64)
        backlog_h = np.zeros((n_wh, horizon), dtype=np.int64)
        s, done = 0, 0
        if run.resume and run.checkpoint is not None and run.checkpoint.exists():
            arrays = _checkpoint.load(run.checkpoint, run.stamp)
            s, done = int(arrays["second"]), int(arrays["orders_done"])
            arrived, shipped_cum = arrays["arrived"], arrays["shipped_cum"]
            shipped_h, backlog_h = arrays["shipped_h"], arrays["backlog_h"]
            parts = split_state(arrays, run.cells, run.skus)
            pool.map("set_state", [(p,) for p in parts])
            log.info("resuming at second %d with %d of %d orders done", s, done, total)
        resumed_at = s
        cb.on_start("simulate", total)
        if done:
            cb.on_step("simulate", done)
        share = run.chunk_orders / max(total, 1)
        last_save = time.monotonic()
        while s < SECONDS:
            hour = s // 3600
            hour_end = (hour + 1) * 3600
            s1 = _cut(run.expected_cdf, s, share, hour_end)
            routed = pool.map("emit_route", [(s, s1)] * n_shards)
            counts = np.stack([c for _, c in routed])  # [shard, warehouse, second]
            within = np.cumsum(counts, axis=0) - counts  # earlier shards' arrivals, same wave
            wave = counts.sum(axis=0)
            before = arrived[:, None] + np.cumsum(wave, axis=1) - wave  # earlier waves
            pool.map("settle", [(before + within[j], s, shipped_cum, hour)
                                for j in range(n_shards)])
            arrived += wave.sum(axis=1)
            m = sum(n for n, _ in routed)
            done += m
            cb.on_step("simulate", m)
            s = s1
            if s == hour_end:
                _close_hour(hour, arrived, shipped_cum, run.capacity, shipped_h, backlog_h)
            if run.checkpoint is not None and s < SECONDS and \
                    time.monotonic() - last_save >= run.checkpoint_seconds:
                state = merge_states(pool.map("state", [()] * n_shards))
                _checkpoint.save(run.checkpoint, run.stamp, {
                    **state, "second": np.array(s), "orders_done": np.array(done),
                    "arrived": arrived, "shipped_cum": shipped_cum, "shipped_h": shipped_h,
                    "backlog_h": backlog_h})
                last_save = time.monotonic()
        for hour in range(24, horizon):
            if (arrived == shipped_cum).all():
                break
            _close_hour(hour, arrived, shipped_cum, run.capacity, shipped_h, backlog_h)
        state = merge_states(pool.map("state", [()] * n_shards))
        cb.on_end("simulate")
    finally:
        pool.close()
    if (state["left"] != 0).any():
        raise RuntimeError("the order generator did not place every unit of the day")
    return Outcome(state, shipped_h, backlog_h, done, resumed_at)
