"""The CLI end to end on the tiny network and a small embedded world."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import snapshot

from forestock import Workspace
from forestock.cli import main


def test_flow_on_loaded_korean_tables(tiny_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """load, forecast (a three-week event), plan, simulate, report and sql all exit 0."""
    ws = str(tmp_path / "ws")
    assert main(["load", str(tiny_dir), "-w", ws]) == 0
    assert main(["forecast", "-w", ws, "--event", "추석 세일"]) == 0
    assert main(["plan", "-w", ws, "--quantile", "mean", "--allow-shortfall"]) == 0
    capsys.readouterr()
    assert main(["simulate", "-w", ws, "--day", "2026-09-01", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["units"] > 0 and 0 <= facts["share_24h"] <= facts["share_48h"] <= 1
    assert main(["report", "-w", ws]) == 0
    assert "report.html" in capsys.readouterr().out
    assert main(["sql", "-w", ws, "SELECT count(*) AS n FROM forecast", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == [{"n": 4 * 3 * 21}]
    fc = Workspace(ws).read("forecast")
    assert set(fc["region_id"]) == {"KR-11", "KR-26", "KR-29"}


def test_world_seed_twice_gives_identical_files(tmp_path: Path) -> None:
    """`forestock world --seed 1` twice gives byte-identical table files."""
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--seed", "1", "--skus", "30", "--regions", "31"]
    assert main(["world", "-w", str(a), *args]) == 0
    assert main(["world", "-w", str(b), *args]) == 0
    files = sorted(p.name for p in a.glob("*.parquet"))
    assert len(files) == 8
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast"], "needs the table(s) history, calendar"),
        (["plan"], "needs the table(s) forecast"),
        (["sql", "SELECT 1"], "holds no tables"),
        (["world", "--skus", "0"], "skus"),
        (["simulate", "--day", "2027-11-11"], "needs the table(s)"),
        (["simulate", "--day", "tomorrow"], "--day 'tomorrow' is not a date"),
    ],
)
def test_user_errors_exit_2(args: list[str], message: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Missing tables and bad arguments exit 2 with a message saying what to do."""
    (tmp_path / "empty").mkdir()
    assert main([*args, "-w", str(tmp_path / "empty")]) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_failed_stage_keeps_earlier_results(tiny_dir: Path, tmp_path: Path) -> None:
    """A plan refused for lack of room leaves the workspace exactly as it was."""
    ws = str(tmp_path / "ws")
    assert main(["load", str(tiny_dir), "-w", ws]) == 0
    assert main(["forecast", "-w", ws, "--event", "추석 세일"]) == 0
    wh = pd.read_csv(tiny_dir / "warehouses.csv")
    wh["storage_units"] = 10
    Workspace(ws).write("warehouses", wh)
    before = snapshot(Path(ws))
    assert main(["plan", "-w", ws]) == 2
    assert snapshot(Path(ws)) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--event", "black friday"], "not in the calendar"),
        (["--start", "2026-08-01", "--end", "2026-08-05"], "inside the history"),
    ],
)
def test_forecast_bad_requests_exit_2_and_write_nothing(
    args: list[str], message: str, tiny_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unknown event or a window inside the history: exit 2, the message, nothing written."""
    ws = str(tmp_path / "ws")
    assert main(["load", str(tiny_dir), "-w", ws]) == 0
    before = snapshot(Path(ws))
    capsys.readouterr()
    assert main(["forecast", "-w", ws, *args]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert snapshot(Path(ws)) == before


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock --help` names every stage a planner runs."""
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for verb in ("world", "load", "forecast", "plan", "simulate", "report", "demo", "sql"):
        assert verb in text


@pytest.mark.parametrize(("verb", "words"), [
    ("simulate", ["forestock[cluster]", "[[what_if]]"]),
    ("plan", ["forestock[cluster]", "notices/<brand_id>.html"]),
    ("load", ["TABLE.csv", "regions.csv"]),
    ("backtest", ["WRMSSE (M5), MASE"]),
])
def test_help_keeps_brackets_and_reflows_paragraphs(verb: str, words: list[str],
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A verb's help shows bracketed words as written (Rich markup ate `[cluster]` and
    `[[what_if]]`), and joins a docstring's lines into paragraphs rather than breaking
    each source line anew."""
    monkeypatch.setenv("COLUMNS", "200")
    assert main([verb, "--help"]) == 0
    lines = [" ".join(line.replace("│", " ").split())
             for line in capsys.readouterr().out.splitlines()]
    for word in words:
        assert any(word in line for line in lines), word


def test_embedded_world_flow_keeps_the_invariants(tmp_path: Path) -> None:
    """On a small embedded world: plan within storage; every unit shipped or unfilled."""
    ws_dir = str(tmp_path / "ws")
    assert main(["world", "-w", ws_dir, "--skus", "40", "--regions", "35", "--seed", "2"]) == 0
    assert main(["forecast", "-w", ws_dir]) == 0
    assert main(["plan", "-w", ws_dir]) == 0
    assert main(["simulate", "-w", ws_dir, "--seed", "2"]) == 0
    ws = Workspace(ws_dir)
    held = ws.sql("SELECT p.warehouse_id, sum(p.units) AS units, any_value(w.storage_units) AS "
                  "room FROM plan p JOIN warehouses w USING (warehouse_id) GROUP BY 1")
    assert (held["units"] <= held["room"]).all()
    notices = ws.read("notices")
    assert notices["units"].sum() == ws.read("plan")["units"].sum()
    reg = ws.read("outcomes_region")
    assert (reg["units"] == reg["shipped"] + reg["unfilled"]).all()
    truth = ws.sql("SELECT sum(units) AS u FROM truth WHERE date = DATE '2027-11-11'")["u"].item()
    assert reg["units"].sum() == truth
    shipped = ws.sql("SELECT sum(shipped) AS s FROM outcomes_brand")["s"].item()
    assert shipped == reg["shipped"].sum()
    assert ws.notes()["simulate"]["seed"] == 2


def test_sigterm_leaves_no_half_written_file(tmp_path: Path) -> None:
    """A `forestock world` stopped by SIGTERM mid-write exits 143 and leaves no staged file."""
    import signal
    import subprocess
    import sys
    import time

    ws = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-c", "from forestock.cli import run; run()",
                             "world", "-w", str(ws), "--skus", "20000", "--regions", "31"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(ws.glob(".stage-world-*/history.parquet")):
        assert proc.poll() is None, "the world finished before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert not list(ws.glob(".*tmp*")) and not list(ws.glob(".stage-*"))
    assert not (ws / "history.parquet").exists()
