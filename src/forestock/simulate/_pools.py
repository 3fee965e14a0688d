"""Where a rehearsal's shards run: in this thread, on threads of this process, in worker
processes, or on the workers of a Dask cluster.

Every pool holds one handle per shard (``pool.shards``) that the chunk loop
drives the same way: a :class:`~forestock.simulate._shard.Shard`, or for a
shard held elsewhere a :class:`ShardProxy` that makes each call a round trip
(:class:`RemoteShard` over a pipe to a worker process, :class:`ActorShard` to
a Dask actor). ``each(work)`` runs ``work(j)`` for every shard ``j`` at the
same time (``j = 0`` in the calling thread); ``map(Shard.method, args)``
makes one call on every shard, at the same time where the pool can, and
``serial`` one after the other (for quick calls, and from inside ``each``).
``bytes_moved`` counts what went to and came from shards held elsewhere.
"""

from __future__ import annotations

import abc
import dataclasses
import multiprocessing as mp
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from forestock.errors import ForestockError
from forestock.simulate._arrays import Queue
from forestock.simulate._queues import warehouse_totals
from forestock.simulate._reuse import release_executor, thread_executor
from forestock.simulate._shard import QueuePlaces, Shard, ShardData

if TYPE_CHECKING:
    from distributed import Client, Future

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

    @property
    def bytes_moved(self) -> int:
        """Nothing moves: the shards are in this process."""
        return 0


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


class ShardProxy(abc.ABC):
    """A shard held elsewhere, as the coordinator drives it: each call of :class:`Shard` a
    round trip (:meth:`send`, then :meth:`receive`); the arrivals counted into the
    coordinator's arrays, and the shard's queue places worked out here (only they go to the
    shard).

    Settling a chunk answers nothing the coordinator waits for, so :meth:`settle` is sent
    with the next call: with the next chunk's :meth:`emit_route` as one message
    (:meth:`Shard.settle_route`), one round trip a chunk rather than two, or before any
    other call (the shard's state, a view)."""

    def __init__(self, d: ShardData) -> None:
        self.places = QueuePlaces(d.net.capacity)
        self.settling: tuple[Any, ...] | None = None  # a settle not sent yet

    @abc.abstractmethod
    def post(self, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Ask the shard for ``call(shard, *args)`` (answered in turn by :meth:`fetch`)."""

    @abc.abstractmethod
    def fetch(self) -> Any:
        """The answer to the oldest call posted and not yet fetched."""

    @property
    @abc.abstractmethod
    def bytes_moved(self) -> int:
        """Bytes sent to the shard and received from it so far."""

    def send(self, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Post ``call``, with the settle waiting to go (see the class)."""
        if self.settling is not None:
            settle, self.settling = self.settling, None
            if call is Shard.emit_route:
                self.post(Shard.settle_route, (settle, *args))
                return
            self.post(Shard.settle, settle)
            self.fetch()
        self.post(call, args)

    def receive(self) -> Any:
        return self.fetch()

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
        """Settle the chunk with the next call (its arrays copied: the coordinator's own
        change before then)."""
        self.settling = (Queue(*(np.array(a, copy=True) for a in queue)), own.copy(), s0, s1,
                         hour, slot)


class RemoteShard(ShardProxy):
    """A shard in a worker process, its calls sent over the pipe ``conn``."""

    def __init__(self, conn: Connection, d: ShardData) -> None:
        super().__init__(d)
        self.conn = conn

    def post(self, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.conn.send((call, args))
        except (BrokenPipeError, EOFError):
            raise RuntimeError("a simulate worker process died") from None

    def fetch(self) -> Any:
        try:
            status, value = self.conn.recv()
        except EOFError:
            raise RuntimeError("a simulate worker process died") from None
        if status != "ok":
            raise RuntimeError(f"a simulate worker failed:\n{value}")
        return value

    @property
    def bytes_moved(self) -> int:
        return 0  # (not counted: the processes share one machine's memory)


def payload_bytes(obj: object) -> int:
    """About the bytes ``obj`` takes on the wire: its arrays' and the rest as Dask sizes them
    (fields of dataclasses, such as a shard's data or a problem, counted one by one)."""
    from dask.sizeof import sizeof

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(payload_bytes(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, tuple | list):
        return sum(payload_bytes(x) for x in obj)
    return int(sizeof(obj))


class ActorShard(ShardProxy):
    """A shard held by a Dask actor on a worker of a cluster: each call a message to the
    actor (run on the worker's actor thread), each answer one back; the arrays of both
    counted in :attr:`bytes_moved` (their sizes, as Dask reckons them)."""

    def __init__(self, actor: Any, d: ShardData, sent: int = 0) -> None:
        super().__init__(d)
        self.actor = actor
        self.pending: deque[Any] = deque()
        self.moved = sent

    def post(self, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.moved += payload_bytes(args)
        self.pending.append(getattr(self.actor, call.__name__)(*args))

    def fetch(self) -> Any:
        value = self.pending.popleft().result()
        self.moved += payload_bytes(value)
        return value

    @property
    def bytes_moved(self) -> int:
        return self.moved


class _ProxyPool:
    """Shards held elsewhere (``shards``: their proxies), each driven by a thread of the
    coordinator, so they work at the same time."""

    shards: list[Any]
    executor: ThreadPoolExecutor

    def map(self, call: Callable[..., R], args: Sequence[tuple[Any, ...]]) -> list[R]:
        for sh, a in zip(self.shards, args, strict=True):
            sh.send(call, a)
        return [sh.receive() for sh in self.shards]

    serial = map  # (the shards are idle while ``each`` waits on a barrier)

    def each(self, work: Callable[[int], None]) -> None:
        _each(self.executor, len(self.shards), work)

    @property
    def bytes_moved(self) -> int:
        return sum(sh.bytes_moved for sh in self.shards)


def _coordinator_threads(n_shards: int) -> ThreadPoolExecutor:
    """The threads driving shards ``1..n_shards - 1`` (the calling thread drives shard 0)."""
    return ThreadPoolExecutor(max_workers=max(n_shards - 1, 1),
                              thread_name_prefix="forestock-simulate")


class ProcessPool(_ProxyPool):
    """One worker process per shard (spawned, so safe beside threads)."""

    def __init__(self, datas: Sequence[ShardData]) -> None:
        ctx = mp.get_context("spawn")
        self.shards: list[RemoteShard] = []
        self.procs: list[Any] = []
        self.executor = _coordinator_threads(len(datas))
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


def cluster_workers(client: Client) -> list[str]:
    """The addresses of the cluster's workers, sorted; raise if it has none."""
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise ForestockError("the Dask cluster has no workers: start some, or use local:N")
    return workers


class DaskPool(_ProxyPool):
    """One Dask actor per shard on the workers of a cluster, dealt round the workers in
    turn (shard ``j`` on worker ``j mod n``, by address): each worker holds its shards'
    cells, stock and tallies, and the coordinator's threads drive them as a process pool's.
    A shard's data goes straight to its worker (scattered), and is released once the actor
    holds it."""

    def __init__(self, datas: Sequence[ShardData], client: Client) -> None:
        workers = cluster_workers(client)
        self.client = client
        self.executor = _coordinator_threads(len(datas))
        self.actors: list[Future] = []
        self.shards: list[ActorShard] = []
        run = uuid.uuid4().hex[:12]
        held: list[Future] = []
        try:
            for j, d in enumerate(datas):
                where = [workers[j % len(workers)]]
                held.append(client.scatter(d, workers=where, hash=False))
                self.actors.append(client.submit(
                    Shard, held[-1], actor=True, workers=where, allow_other_workers=False,
                    key=f"forestock-shard-{run}-{j}"))
            self.shards = [ActorShard(f.result(), d, payload_bytes(d))
                           for f, d in zip(self.actors, datas, strict=True)]
        except BaseException:
            self.close(failed=True)
            raise
        finally:
            for h in held:
                h.release()

    def close(self, failed: bool = False) -> None:
        """Done: the actors are released (their workers drop the shards)."""
        for f in self.actors:
            f.release()
        self.actors, self.shards = [], []
        self.executor.shutdown(wait=not failed)


Pool = LocalPool | ThreadPool | ProcessPool | DaskPool
