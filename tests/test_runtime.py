"""forestock._runtime: threads follow the CPUs available, OpenMP waits passively."""

from __future__ import annotations

import os
from pathlib import Path

import numba
import pytest

from forestock import _runtime
from forestock.forecast import ForecastParams


def fake_root(tmp: Path, cgroup: str, files: dict[str, str]) -> Path:
    """A file system root with ``proc/self/cgroup`` and files under ``sys/fs/cgroup``."""
    (tmp / "proc/self").mkdir(parents=True)
    (tmp / "proc/self/cgroup").write_text(cgroup)
    for rel, text in files.items():
        path = tmp / "sys/fs/cgroup" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp


@pytest.mark.parametrize(("cgroup", "files", "cpus"), [
    ("0::/\n", {"cpu.max": "150000 100000\n"}, 1.5),
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),
    ("0::/user.slice/job\n", {"user.slice/job/cpu.max": "max 100000",
                               "user.slice/cpu.max": "200000 100000"}, 2.0),
    ("0::/a/b\n", {"a/b/cpu.max": "50000 100000", "a/cpu.max": "300000 100000"}, 0.5),
    ("4:cpu,cpuacct:/docker/x\n", {"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "300000",
                                   "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000"}, 3.0),
    ("4:cpu,cpuacct:/docker/x\n", {"cpu,cpuacct/cpu.cfs_quota_us": "-1",
                                   "cpu,cpuacct/cpu.cfs_period_us": "100000"}, None),
    ("4:cpu,cpuacct:/\n", {"cpu,cpuacct/cpu.cfs_quota_us": "100000",
                           "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 1.0),
    ("0::/\n", {"cpu.max": "garbage"}, None),
    ("0::/\n", {}, None),
])
def test_cgroup_quota_read_v1_and_v2(tmp_path: Path, cgroup: str, files: dict[str, str],
                                     cpus: float | None) -> None:
    """The tightest CPU quota of the cgroup and its ancestors, v1 or v2; None without one."""
    assert _runtime.cgroup_cpus(fake_root(tmp_path, cgroup, files)) == cpus


def test_no_cgroup_file_means_no_quota(tmp_path: Path) -> None:
    """A system without /proc/self/cgroup has no quota."""
    assert _runtime.cgroup_cpus(tmp_path) is None


def test_available_cpus_capped_by_quota_rounded_up(tmp_path: Path) -> None:
    """A quota of 0.5 CPU leaves one thread; 1.5 leaves two (if the affinity allows)."""
    half = fake_root(tmp_path / "a", "0::/\n", {"cpu.max": "50000 100000"})
    assert _runtime.available_cpus(half) == 1
    one_half = fake_root(tmp_path / "b", "0::/\n", {"cpu.max": "150000 100000"})
    assert _runtime.available_cpus(one_half) == min(2, len(os.sched_getaffinity(0)))
    assert _runtime.available_cpus(tmp_path / "none") == len(os.sched_getaffinity(0))


def test_threads_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """FORESTOCK_THREADS sets the count, LightGBM's default included."""
    monkeypatch.setenv(_runtime.ENV_THREADS, "3")
    assert _runtime.threads() == 3
    assert ForecastParams().threads == 3
    monkeypatch.delenv(_runtime.ENV_THREADS)
    assert _runtime.threads() == _runtime.available_cpus()


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_threads_env_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """A FORESTOCK_THREADS that is not a positive integer is refused, naming it."""
    monkeypatch.setenv(_runtime.ENV_THREADS, value)
    with pytest.raises(ValueError, match=f"FORESTOCK_THREADS.*{value!r}"):
        _runtime.threads()


def test_configure_sets_defaults_and_keeps_the_users(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passive OpenMP waiting and the thread count unless set; a user's value is kept."""
    for key in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv(_runtime.ENV_THREADS, "1")
    _runtime.configure()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["NUMBA_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    _runtime.configure()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_import_sets_passive_waiting() -> None:
    """Importing forestock leaves OMP_WAIT_POLICY set (passive unless the user chose)."""
    import forestock  # noqa: F401

    assert os.environ.get("OMP_WAIT_POLICY")


def test_compile_clock_counts_a_compile() -> None:
    """A kernel compiled inside the clock counts, with its seconds; a cached call does not."""

    @numba.njit(cache=False)
    def twice(x: int) -> int:
        return 2 * x

    with _runtime.CompileClock() as clock:
        assert twice(3) == 6
    assert clock.compiled >= 1 and clock.seconds > 0
    with _runtime.CompileClock() as again:
        assert twice(4) == 8
    assert again.compiled == 0 and again.seconds == 0
