"""Crash tests: a stage killed at any moment leaves the workspace as before or as after.

Two tests. The first kills a publish at every one of its file operations in
turn (a forked child that SIGKILLs itself just before its k-th rename or
removal). The second runs every stage of the CLI as a process and sends it
SIGKILL after a random, seeded delay, several times per stage; the next run
of the stage then succeeds and gives the same workspace as an uninterrupted
run. The workspace is compared as a reader sees it (a reader finishes a
publish a crash interrupted), without the catalogue (derived) and without run
times.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import tiny_tables, write_csvs

from forestock import Workspace
from forestock.cli import main

EVENT = "추석 세일"
#: Kills per stage in the process test, and the seed of their delays.
KILLS = 4
SEED = 15
#: Facts that differ from run to run (times), left out of the comparison.
_VOLATILE = {"seconds", "compile_seconds", "orders_per_second_simulated", "written",
             "mtime_ns"}


def _scrub(value: object) -> object:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VOLATILE}
    return value


def state(root: Path) -> dict[str, object]:
    """The workspace as a reader sees it: every file but the catalogue, litter and times."""
    Workspace(root).tables()  # a reader: finishes a publish a crash interrupted
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        name = rel.parts[0]
        if not path.is_file() or name == "forestock.duckdb" or name.startswith(
                (".stage-", ".simulate-checkpoint")) or "tmp-" in path.name:
            continue
        if path.suffix == ".json":
            out[str(rel)] = _scrub(json.loads(path.read_text(encoding="utf-8")))
        else:
            out[str(rel)] = path.read_bytes()
    return out


def _litter(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*")
                  if p.name.startswith((".stage-", ".commit-")) or "tmp-" in p.name)


# ---------------------------------------------------------------- every step of a publish


def _stage_in_child(root: Path, kill_at: int) -> int:
    """Fork; the child publishes a stage and SIGKILLs itself before file operation
    ``kill_at`` (a rename or a removal). Returns the child's wait status."""
    pid = os.fork()
    if pid:
        return os.waitpid(pid, 0)[1]
    code = 1
    try:
        calls = [0]

        def counted(real: Callable[..., object]) -> Callable[..., object]:
            def op(self: Path, *args: object, **kwargs: object) -> object:
                calls[0] += 1
                if calls[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(self, *args, **kwargs)
            return op

        Path.replace = counted(Path.replace)  # type: ignore[method-assign]
        Path.unlink = counted(Path.unlink)  # type: ignore[method-assign]
        ws = Workspace(root)
        new = tiny_tables(seed=1)
        with ws.stage("load", reads=["skus"]) as st:
            ws.write_many({k: new[k] for k in ("regions", "brands", "skus", "history",
                                               "truth")})
            for brand in ("B1", "B2"):
                (st.folder("notices") / f"{brand}.html").write_text(f"new {brand}",
                                                                    encoding="utf-8")
            ws.note("load", {"rows": 5})
        code = 0
    finally:
        os._exit(code)


def test_a_publish_killed_at_every_step_is_before_or_after(tmp_path: Path) -> None:
    """Killed before each rename and removal of a publish (five tables, pages, notes), the
    workspace reads as before or as after, and the next stage succeeds."""
    base = tmp_path / "base"
    ws = Workspace(base)
    ws.write_many(tiny_tables())
    with ws.stage("plan") as st:
        for page in ("B1", "OLD"):
            (st.folder("notices") / f"{page}.html").write_text(f"old {page}", encoding="utf-8")
    before = state(base)
    ref = tmp_path / "ws"
    shutil.copytree(base, ref)
    assert os.WEXITSTATUS(_stage_in_child(ref, kill_at=10**9)) == 0
    after = state(ref)
    assert after != before and "notices/OLD.html" not in after
    # the next run succeeds from either state (so from any state a crash leaves, as each is
    # one of them, byte for byte but for the catalogue, which a run rebuilds)
    assert os.WEXITSTATUS(_stage_in_child(ref, kill_at=10**9)) == 0
    assert state(ref) == after
    outcomes: Counter[str] = Counter()
    k = 1
    while True:
        shutil.rmtree(ref)
        shutil.copytree(base, ref)
        status = _stage_in_child(ref, kill_at=k)
        got = state(ref)
        assert got in (before, after), f"killed at file operation {k}: a mix"
        Workspace(ref).tidy()
        assert _litter(ref) == []
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0 and got == after
            break
        assert os.WTERMSIG(status) == signal.SIGKILL
        outcomes["before" if got == before else "after"] += 1
        k += 1
    print(json.dumps({"test": "publish steps", "kill_points": k - 1, **outcomes}))
    assert outcomes["before"] > 0 and outcomes["after"] > 0


# ---------------------------------------------------------------- every stage, as a process


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny network through load, forecast, plan, simulate and report (a workspace),
    and a second version of its tables as CSV files (a folder to load)."""
    root = tmp_path_factory.mktemp("crash")
    ws = root / "ws"
    assert main(["load", str(write_csvs(root / "data", tiny_tables())), "-w", str(ws)]) == 0
    assert main(["forecast", "-w", str(ws), "--event", EVENT, "--method", "seasonal_naive"]) == 0
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    assert main(["simulate", "-w", str(ws), "--day", "2026-09-01"]) == 0
    assert main(["report", "-w", str(ws)]) == 0
    other = tiny_tables(seed=1)
    wh = other["warehouses"]
    other["warehouses"] = wh.assign(storage_units=wh["storage_units"] // 2)
    return ws, write_csvs(root / "data2", other)


#: Each stage's arguments: a run that changes what the flow fixture holds.
STAGES: dict[str, Callable[[Path], list[str]]] = {
    "world": lambda data: ["world", "--skus", "12", "--regions", "31", "--seed", "4"],
    "load": lambda data: ["load", str(data)],
    "forecast": lambda data: ["forecast", "--method", "seasonal_naive", "--start",
                              "2026-09-01", "--end", "2026-09-10"],
    "plan": lambda data: ["plan", "--quantile", "q50", "--allow-shortfall", "--scenarios", "4"],
    "simulate": lambda data: ["simulate", "--day", "2026-09-02", "--seed", "3"],
    "report": lambda data: ["report"],
}


def _run(args: list[str], ws: Path, kill_after: float | None = None) -> int:
    proc = subprocess.Popen([sys.executable, "-c", "from forestock.cli import run; run()",
                             *args, "-w", str(ws)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        return proc.wait(timeout=300)
    try:
        return proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=60)


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_killed_at_random_moments_is_before_or_after(
    stage: str, flow: tuple[Path, Path], tmp_path: Path
) -> None:
    """SIGKILL after seeded random delays (KILLS per stage): the workspace reads as before or
    as after, never a mix; the next run succeeds and gives what an uninterrupted run gives."""
    base, data = flow
    args = STAGES[stage](data)
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    before = state(ws)
    t0 = time.perf_counter()
    assert _run(args, ws) == 0
    took = time.perf_counter() - t0
    after = state(ws)
    assert after != before
    rng = np.random.default_rng([SEED, list(STAGES).index(stage)])
    outcomes: Counter[str] = Counter()
    delays = np.sort(rng.uniform(0.3, 1.1, size=KILLS)) * took
    shutil.rmtree(ws)
    shutil.copytree(base, ws)
    for delay in delays:
        code = _run(args, ws, kill_after=float(delay))
        got = state(ws)
        assert got in (before, after), f"{stage} killed after {delay:.2f} s: a mix"
        outcomes["finished" if code == 0 else "before" if got == before else "after"] += 1
    assert _run(args, ws) == 0
    assert state(ws) == after
    assert _litter(ws) == []
    print(json.dumps({"stage": stage, "kill_points": KILLS, "run_seconds": round(took, 2),
                      "delays": [round(float(d), 2) for d in delays], **outcomes}))


def test_state_ignores_only_litter_and_times(tmp_path: Path) -> None:
    """The comparison sees a changed table but not a staging folder or a run time."""
    ws = Workspace(tmp_path)
    ws.write("regions", tiny_tables()["regions"])
    ws.note("x", {"seconds": 1.0, "seed": 1})
    a = state(tmp_path)
    (tmp_path / ".stage-x-1-1").mkdir()
    ws.note("x", {"seconds": 2.0, "seed": 1})
    assert state(tmp_path) == a
    ws.write("regions", tiny_tables()["regions"].assign(population=1))
    assert state(tmp_path) != a
    assert isinstance(pd.read_parquet(tmp_path / "regions.parquet"), pd.DataFrame)
