"""How forestock uses the machine: threads, OpenMP waiting, compiled kernels.

This is the one place where forestock decides its threading; everything else
asks here.

- **OpenMP waits passively.** OpenMP worker threads (LightGBM's, numba's
  threading layer) spin while they wait for work by default. On a machine
  shared with other jobs the spinning threads fight those jobs for the cores:
  a forecast took 1,258 s of wall time for 266 s of CPU beside other work, and
  22 s with passive waiting, writing the same forecast. Passive waiting costs
  a quiet machine nothing measurable. :func:`configure` sets
  ``OMP_WAIT_POLICY=PASSIVE`` on ``import forestock``, before any OpenMP
  runtime loads, unless the user set it.
- **Threads follow the cores this process may use**, not the cores the machine
  has: the CPUs of its affinity mask (``os.sched_getaffinity``: ``taskset``,
  ``docker --cpuset-cpus``) and its cgroup's CPU quota (v2 ``cpu.max``, v1
  ``cpu.cfs_quota_us``: ``docker --cpus``, Kubernetes limits), rounded up.
  ``FORESTOCK_THREADS=N`` overrides the count. :func:`threads` is that count:
  LightGBM's threads (``ForecastParams.threads``), numba's threading layer
  (``NUMBA_NUM_THREADS``) and OpenMP / BLAS pools (``OMP_NUM_THREADS``, unless
  set) take it; the rehearsal's ``workers`` stay the caller's choice (1 by
  default), and results never depend on them.
- **Compiled kernels are cached on disk** (every ``@njit`` in forestock has
  ``cache=True``: numba writes them beside the source in ``__pycache__``, or
  in ``NUMBA_CACHE_DIR``), and ``forestock warm`` (run by ``make demo`` after
  installing) compiles them ahead. :class:`CompileClock` measures the seconds
  a run spends compiling or loading kernels, so the figures the CLI prints can
  leave them out.

The library never prints; :func:`configure` only sets defaults of the process
environment.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "ENV_THREADS",
    "CompileClock",
    "available_cpus",
    "cgroup_cpus",
    "configure",
    "threads",
]

#: Environment variable overriding the thread count (a positive integer).
ENV_THREADS = "FORESTOCK_THREADS"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota_v2(text: str | None) -> float | None:
    """CPUs of a cgroup v2 ``cpu.max`` (``"max 100000"``: none; ``"150000 100000"``: 1.5)."""
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(quota: str | None, period: str | None) -> float | None:
    """CPUs of cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1: none)."""
    try:
        q, p = int(quota or ""), int(period or "")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _ancestors(fs: Path, path: str) -> list[Path]:
    """``fs/path`` and every folder above it up to ``fs`` (an ancestor's limit binds too),
    and ``fs`` itself (a container sees its own cgroup mounted at the root)."""
    parts = [p for p in path.strip().split("/") if p and p != ".."]
    out = [fs.joinpath(*parts[:k]) for k in range(len(parts), 0, -1)]
    return [*out, fs]


def cgroup_cpus(root: Path = Path("/")) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (1.5 for ``--cpus 1.5``), or None.

    Reads ``root/proc/self/cgroup`` and the cgroup file systems under
    ``root/sys/fs/cgroup``, v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us``), taking
    the tightest quota of the cgroup and its ancestors. ``root`` exists for tests.
    """
    listing = _read(root / "proc/self/cgroup")
    if listing is None:
        return None
    fs = root / "sys/fs/cgroup"
    found: list[float] = []
    for line in listing.splitlines():
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":  # v2, unified
            for d in _ancestors(fs, path):
                q = _quota_v2(_read(d / "cpu.max"))
                if q is not None:
                    found.append(q)
        elif "cpu" in controllers.split(","):  # v1
            for mount in (fs / controllers, fs / "cpu,cpuacct", fs / "cpu"):
                for d in _ancestors(mount, path):
                    q = _quota_v1(_read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us"))
                    if q is not None:
                        found.append(q)
                if mount.exists():
                    break
    return min(found) if found else None


def available_cpus(root: Path = Path("/")) -> int:
    """CPUs this process may use: its affinity mask, capped by its cgroup's quota (rounded
    up, at least 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        n = os.cpu_count() or 1
    quota = cgroup_cpus(root)
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return max(1, n)


def threads() -> int:
    """Threads forestock's parallel parts use: ``$FORESTOCK_THREADS`` if set, else
    :func:`available_cpus`.

    Raises ``ValueError`` naming the value when ``FORESTOCK_THREADS`` is not a
    positive integer.
    """
    given = os.environ.get(ENV_THREADS, "").strip()
    if given:
        try:
            n = int(given)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{ENV_THREADS} must be a positive integer, got {given!r}")
        return n
    return available_cpus()


def configure() -> None:
    """Set forestock's defaults in the process environment; a value already set is kept.

    ``OMP_WAIT_POLICY=PASSIVE``; ``OMP_NUM_THREADS`` and ``NUMBA_NUM_THREADS`` to
    :func:`threads` (numba's no higher than the machine's CPUs, which it refuses
    beyond). They take effect for runtimes loaded afterwards (``import forestock``
    runs this first) and for child processes.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        n = threads()
    except ValueError:
        return  # (reported where the count is used)
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    os.environ.setdefault("NUMBA_NUM_THREADS", str(min(n, os.cpu_count() or n)))


class CompileClock:
    """Wall seconds numba spends compiling or loading cached kernels while it runs.

    A context manager: ``with CompileClock() as clock: ...`` then ``clock.seconds``
    (time during which some thread compiled, loaded or waited for numba's compiler
    lock) and ``clock.compiled`` (kernels compiled, not loaded from the cache).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.compiled = 0
        self._depth = 0
        self._since = 0.0
        self._lock = threading.Lock()
        self._listeners: list[tuple[str, object]] = []

    def __enter__(self) -> CompileClock:
        from numba.core import event

        clock = self

        class _Lock(event.Listener):
            def on_start(self, ev: event.Event) -> None:
                with clock._lock:
                    if clock._depth == 0:
                        clock._since = time.perf_counter()
                    clock._depth += 1

            def on_end(self, ev: event.Event) -> None:
                with clock._lock:
                    clock._depth -= 1
                    if clock._depth == 0:
                        clock.seconds += time.perf_counter() - clock._since

        class _Compile(event.Listener):
            def on_start(self, ev: event.Event) -> None:
                pass

            def on_end(self, ev: event.Event) -> None:
                with clock._lock:
                    clock.compiled += 1

        self._listeners = [("numba:compiler_lock", _Lock()), ("numba:compile", _Compile())]
        for kind, listener in self._listeners:
            event.register(kind, listener)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        from numba.core import event

        for kind, listener in self._listeners:
            event.unregister(kind, listener)
        self._listeners = []
