"""What a finished rehearsal leaves for the next one in the same process: its scratch arrays
and its idle threads (only one run's of each, so the memory and threads held stay those of
one run)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

# scratch arrays (uninitialised, as np.empty) of the last threaded run, for the next one
_spare: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
_spare_lock = threading.Lock()  # (also guards _idle)


def scratch(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array (as ``np.empty``): one the last threaded run left, if one of
    that shape and dtype is spare.

    Measured on the benchmark's 3-million-order day with 2 threads (2026-11-29): a run's
    order buffers and counts came as fresh pages (the allocator gave the last run's back to
    the system), about 1,500 page faults a run; with the last run's order buffers and the
    threads' counts, 620: 1.0 ms less wall in the median, 2 ms less CPU."""
    key = (shape if isinstance(shape, tuple) else (shape,), np.dtype(dtype).str)
    with _spare_lock:
        kept = _spare.get(key)
        if kept:
            return kept.pop()
    return np.empty(shape, dtype=dtype)


def keep_scratch(arrays: Sequence[np.ndarray]) -> None:
    """Keep ``arrays`` (no longer used) for :func:`scratch`, in place of any kept before
    (only one run's: the memory held stays that of one run's buffers)."""
    spare: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
    for a in arrays:
        spare.setdefault((a.shape, a.dtype.str), []).append(a)
    with _spare_lock:
        _spare.clear()
        _spare.update(spare)


# an idle executor a finished run left, with its process id and threads: the next run's
_idle: list[tuple[int, int, ThreadPoolExecutor]] = []


def thread_executor(n_shards: int) -> ThreadPoolExecutor:
    """The threads a ``_pools.ThreadPool`` of ``n_shards`` runs on besides the calling one:
    the idle ones a finished run left (see :func:`release_executor`), if enough, else new.

    One run at a time has an executor (two runs' shards on one pool's threads could each
    wait for a shard queued behind the other's). Measured on the benchmark's
    3-million-order day with 2 threads (2026-11-29): starting a thread took 0.25 ms of the
    run's head, joining it at the end about 0.1 ms."""
    n = max(n_shards - 1, 1)
    with _spare_lock:
        kept = _idle.pop() if _idle else None
    if kept is not None:
        pid, threads, executor = kept
        if pid == os.getpid() and threads >= n:
            return executor
        if pid == os.getpid():
            executor.shutdown(wait=False)  # (idle) too few threads
        # (a forked child: the threads are its parent's; the executor is dropped)
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="forestock-simulate")


def release_executor(executor: ThreadPoolExecutor) -> None:
    """Keep ``executor`` (idle: every task it ran is done) for the next run's
    :func:`thread_executor`, unless one is kept already (then it is shut down)."""
    with _spare_lock:
        if not _idle:
            _idle.append((os.getpid(), executor._max_workers, executor))
            return
    executor.shutdown(wait=True)
