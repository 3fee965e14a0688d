"""Where a rehearsal's shards run: in this thread, on threads of this process, or in worker
processes.

Every pool holds one handle per shard (``pool.shards``) that the chunk loop
drives the same way: a :class:`~forestock.simulate._shard.Shard`, or for a
shard in a worker process a :class:`RemoteShard` that makes each call a
round trip. ``each(work)`` runs ``work(j)`` for every shard ``j`` at the
same time (``j = 0`` in the calling thread); ``map(Shard.method, args)``
makes one call on every shard, at the same time where the pool can, and
``serial`` one after the other (for quick calls, and from inside ``each``).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import numpy as np

from forestock.simulate._arrays import Queue
from forestock.simulate._queues import warehouse_totals
from forestock.simulate._reuse import release_executor, thread_executor
from forestock.simulate._shard import QueuePlaces, Shard, ShardData

R = TypeVar("R")


def _each(executor: ThreadPoolExecutor, n: int, work: Callable[[int], None]) -> None:
    """``work(j)`` for ``j`` in ``range(n)``: ``j >= 1`` on the executor's threads, ``j = 0``
    in this one; a worker's own error is raised before the broken waits it caused."""
    futures = [executor.submit(work, j) for j in range(1, n)]
    try:
        work(0)
    except threading.BrokenBarrierError:
        for f in futures:
            f.result()  # a worker's own error
        raise
    for f in futures:
        f.result()


class LocalPool:
    """Shards run one after the other in this process (one shard: one worker)."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        self.shards = [Shard(d) for d in datas]

    def serial(self, call: Callable[..., R], args: Sequence[tuple[Any, ...]]) -> list[R]:
        """``call(shard, *a)`` for each shard and its ``a`` in ``args``, in this thread."""
        return [call(s, *a) for s, a in zip(self.shards, args, strict=True)]

    map = serial

    def each(self, work: Callable[[int], None]) -> None:
        for j in range(len(self.shards)):
            work(j)

    def close(self, failed: bool = False) -> None:
        self.shards = []


class ThreadPool(LocalPool):
    """One thread per shard in this process: the kernels release the GIL, so the shards
    work at the same time, sharing the inputs without copying or pickling them."""

    def __init__(self, datas: Sequence[ShardData],
                 executor: ThreadPoolExecutor | None = None) -> None:
        self.own = executor is None  # (else the caller's to release)
        self.executor = executor or thread_executor(len(datas))
        if all(d.start is not None for d in datas):  # quick to build: one thread builds all
            self.shards = [Shard(d) for d in datas]
            return
        rest = [self.executor.submit(Shard, d) for d in datas[1:]]
        self.shards = [Shard(datas[0]), *(f.result() for f in rest)]

    def map(self, call: Callable[..., R], args: Sequence[tuple[Any, ...]]) -> list[R]:
        futures = [self.executor.submit(call, s, *a)
                   for s, a in zip(self.shards[1:], args[1:], strict=True)]
        first = call(self.shards[0], *args[0])  # this thread works too
        return [first, *(f.result() for f in futures)]

    def each(self, work: Callable[[int], None]) -> None:
        _each(self.executor, len(self.shards), work)

    def close(self, failed: bool = False) -> None:
        """Done: an executor of the pool's own is kept for the next run, unless the run
        failed (a thread may still be running: it is shut down)."""
        if self.own:
            if failed:
                self.executor.shutdown(wait=True)
            else:
                release_executor(self.executor)
        self.shards = []


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in worker processes
    """A worker process: build a shard, then make the calls the coordinator asks for (a
    method of :class:`Shard` pickles by its name)."""
    try:
        shard = Shard(conn.recv())
        conn.send(("ok", None))
        while True:
            msg = conn.recv()
            if msg is None:
                return
            call, args = msg
            try:
                conn.send(("ok", call(shard, *args)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the coordinator is gone


class RemoteShard:
    """A shard in a worker process, as the coordinator drives it: each call of
    :class:`Shard` a round trip over ``conn``; the arrivals counted into the coordinator's
    arrays, and the shard's queue places worked out here (only they go to the worker)."""

    def __init__(self, conn: Connection, d: ShardData) -> None:
        self.conn = conn
        self.places = QueuePlaces(d.net.capacity)

    def send(self, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.conn.send((call, args))
        except (BrokenPipeError, EOFError):
            raise RuntimeError("a simulate worker process died") from None

    def receive(self) -> Any:
        try:
            status, value = self.conn.recv()
        except EOFError:
            raise RuntimeError("a simulate worker process died") from None
        if status != "ok":
            raise RuntimeError(f"a simulate worker failed:\n{value}")
        return value

    def call(self, call: Callable[..., R], *args: Any) -> R:
        self.send(call, args)
        result: R = self.receive()
        return result

    def prepare(self, cuts: np.ndarray, slots: int = 1) -> int:
        return self.call(Shard.prepare, cuts, slots)

    def emit_route(self, s0: int, s1: int, out: np.ndarray, totals: np.ndarray,
                   slot: int = 0) -> tuple[int, np.ndarray]:
        m, counts = self.call(Shard.emit_route, s0, s1, None, None, slot)
        out[...] = counts
        warehouse_totals(out, totals)
        return m, out

    def settle(self, queue: Queue, own: np.ndarray, s0: int, s1: int, hour: int,
               slot: int = 0) -> None:
        self.call(Shard.settle, queue, own, s0, s1, hour, slot)


class ProcessPool:
    """One worker process per shard (spawned, so safe beside threads); the coordinator
    drives each from a thread of its own, so the shards work at the same time."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        ctx = mp.get_context("spawn")
        self.shards: list[RemoteShard] = []
        self.procs: list[Any] = []
        self.executor = ThreadPoolExecutor(max_workers=max(len(datas) - 1, 1),
                                           thread_name_prefix="forestock-simulate")
        for d in datas:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child,), daemon=True,
                               name="forestock-simulate")
            proc.start()
            child.close()
            self.shards.append(RemoteShard(parent, d))
            self.procs.append(proc)
            try:
                parent.send(d)
            except (BrokenPipeError, EOFError):
                self.close()
                raise RuntimeError(
                    "simulate's worker processes could not start; a script that runs "
                    "simulate with workers > 1 must do so under `if __name__ == '__main__':`"
                ) from None
        for sh in self.shards:
            sh.receive()

    def map(self, call: Callable[..., R], args: Sequence[tuple[Any, ...]]) -> list[R]:
        for sh, a in zip(self.shards, args, strict=True):
            sh.send(call, a)
        return [sh.receive() for sh in self.shards]

    serial = map  # (the workers' connections are idle while ``each`` waits on a barrier)

    def each(self, work: Callable[[int], None]) -> None:
        _each(self.executor, len(self.shards), work)

    def close(self, failed: bool = False) -> None:
        for sh in self.shards:
            try:
                sh.conn.send(None)
                sh.conn.close()
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        self.shards, self.procs = [], []
        self.executor.shutdown(wait=not failed)


Pool = LocalPool | ThreadPool | ProcessPool
