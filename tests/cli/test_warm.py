"""`forestock warm`: the kernels compiled ahead; the rehearsal's speed leaves compiling out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forestock.cli import main


def test_warm_runs_the_tiny_flow(capsys: pytest.CaptureFixture[str]) -> None:
    """`forestock warm` runs every stage on a tiny world and says how long kernels took."""
    assert main(["warm"]) == 0
    captured = capsys.readouterr()
    assert "kernels ready:" in captured.out
    for stage in ("forecast", "plan", "simulate", "sortation"):
        assert f"{stage}:" in captured.err


def test_rehearsal_speed_excludes_compiling(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The rehearsal's orders per second is taken over its time less its compiling."""
    ws = str(tmp_path / "ws")
    assert main(["world", "-w", ws, "--skus", "30", "--regions", "31", "--seed", "4"]) == 0
    assert main(["forecast", "-w", ws, "--method", "seasonal_naive"]) == 0
    assert main(["plan", "-w", ws]) == 0
    capsys.readouterr()
    assert main(["simulate", "-w", ws, "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert 0 <= facts["compile_seconds"] <= facts["seconds"]
    rate = facts["orders_per_second_simulated"]
    assert rate >= facts["orders"] / (facts["seconds"] + 0.005)  # (seconds: rounded)
    running = facts["seconds"] - facts["compile_seconds"]
    if running > 0.1:
        assert rate == pytest.approx(facts["orders"] / running, rel=0.15)
