"""``forestock simulate``: demand sources, kill -9 and --resume, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from forestock.cli import main
from forestock.cli.simulate import CHECKPOINT
from forestock.workspace import Workspace
from tests.conftest import snapshot

DAY = "2026-09-01"
NETWORK = ("regions", "warehouses", "brands", "skus", "lanes", "calendar", "truth")


def make_ws(folder: Path, tiny: dict[str, pd.DataFrame]) -> str:
    """The tiny Korean network with a plan holding 90% of the event day's truth, split
    2:1 between the Seoul hub and the Busan centre."""
    ws = Workspace(folder)
    ws.write_many({name: tiny[name] for name in NETWORK})
    truth = tiny["truth"]
    per_sku = truth[truth["date"] == pd.Timestamp(DAY)].groupby("sku_id")["units"].sum()
    plan = pd.DataFrame({
        "sku_id": list(per_sku.index) * 2,
        "warehouse_id": ["W-SEL"] * len(per_sku) + ["W-PUS"] * len(per_sku),
        "units": [int(u * 0.6) for u in per_sku] + [int(u * 0.3) for u in per_sku],
    })
    ws.write("plan", plan)
    return str(folder)


def outcomes(ws: str) -> dict[str, pd.DataFrame]:
    """The outcome tables a run wrote."""
    w = Workspace(ws)
    return {name: w.read(name) for name in ("outcomes_region", "outcomes_warehouse",
                                             "outcomes_second", "outcomes_brand",
                                             "outcomes_flow")}


def test_resume_after_kill_gives_identical_tables(tmp_path: Path,
                                                  tiny: dict[str, pd.DataFrame],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A run killed with SIGKILL mid-day, finished by `simulate --resume`, writes exactly the
    tables of an uninterrupted run."""
    args = ["--day", DAY, "--scale", "3000", "--seed", "4"]
    victim = make_ws(tmp_path / "victim", tiny)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from forestock.cli import main; "
                               "sys.exit(main(sys.argv[1:]))",
         "simulate", "-w", victim, *args, "--chunk-orders", "1000", "--checkpoint-every", "0",
         "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = Path(victim) / CHECKPOINT
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    proc.kill()
    proc.wait()
    assert proc.returncode == -9 and ckpt.exists(), "the run ended before it could be killed"
    assert not Workspace(victim).has("outcomes_region")
    capsys.readouterr()
    assert main(["simulate", "-w", victim, *args, "--resume", "--chunk-orders", "50000",
                 "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["resumed_at_second"] > 0 and not ckpt.exists()
    reference = make_ws(tmp_path / "reference", tiny)
    assert main(["simulate", "-w", reference, *args, "--json"]) == 0
    want = json.loads(capsys.readouterr().out)
    assert facts["orders"] == want["orders"] > 100_000
    for name, table in outcomes(reference).items():
        pd.testing.assert_frame_equal(outcomes(victim)[name], table)


def test_forecast_and_orders_sources(tmp_path: Path, tiny: dict[str, pd.DataFrame],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--source forecast draws a scenario from the quantiles; --source orders rehearses a
    table of orders exactly as given."""
    ws = make_ws(tmp_path / "ws", tiny)
    truth = tiny["truth"]
    day = truth[truth["date"] == pd.Timestamp(DAY)]
    fc = day[["sku_id", "region_id", "date"]].assign(
        mean=day["units"] * 1.0, q10=day["units"] * 0.5, q50=day["units"] * 1.0,
        q90=day["units"] * 1.5)
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(day))],
        "time": pd.Timestamp(DAY) + pd.to_timedelta(range(0, 60 * len(day), 60), unit="s"),
        "sku_id": day["sku_id"].to_numpy(), "region_id": day["region_id"].to_numpy(),
        "units": day["units"].to_numpy(),
    })
    Workspace(ws).write_many({"forecast": fc, "orders": orders})
    capsys.readouterr()
    assert main(["simulate", "-w", ws, "--source", "forecast", "--day", DAY, "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["source"] == "forecast" and facts["units"] > 0
    assert main(["simulate", "-w", ws, "--source", "orders", "--json", "--workers", "2"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["orders"] == len(orders) and facts["units"] == int(day["units"].sum())


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("bad_plan", [], "W-NOWHERE"),
        ("", ["--scale", "0"], "scale=0.0 is invalid: must be a number > 0"),
        ("", ["--scale", "-2"], "is invalid: must be a number > 0"),
        ("", ["--scale", "nan"], "is invalid: must be a number > 0"),
        ("late_orders", ["--source", "orders", "--day", DAY], "outside the rehearsed day"),
        ("", ["--resume"], "no interrupted rehearsal"),
        ("", ["--source", "forecast"], "needs the table(s) forecast"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(setup: str, args: list[str], message: str,
                                               tmp_path: Path, tiny: dict[str, pd.DataFrame],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A plan naming an unknown warehouse, a scale that is not a positive number, orders
    outside the day, a resume with nothing to resume: a clear message, exit 2, no change."""
    ws = make_ws(tmp_path / "ws", tiny)
    w = Workspace(ws)
    if setup == "bad_plan":
        plan = w.read("plan")
        plan.loc[0, "warehouse_id"] = "W-NOWHERE"
        w.write("plan", plan, check=False)
    if setup == "late_orders":
        w.write("orders", pd.DataFrame({
            "order_id": ["a", "b"], "time": pd.to_datetime([f"{DAY} 23:59:59",
                                                            "2026-09-02 00:00:01"]),
            "sku_id": ["S1", "S2"], "region_id": ["KR-11", "KR-26"], "units": [1, 2]}))
    before = snapshot(Path(ws))
    assert main(["simulate", "-w", ws, "--day", DAY, *args]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert snapshot(Path(ws)) == before


def test_forecast_source_rehearses_the_plans_own_scenario(
        tmp_path: Path, tiny: dict[str, pd.DataFrame], capsys: pytest.CaptureFixture[str]) -> None:
    """--scenario K rehearses the plan's K-th scenario (its seed and number of scenarios from
    its notes); out of range, or before any plan, is a clear error, exit 2."""
    from forestock.simulate import demand_from_forecast

    ws = make_ws(tmp_path / "ws", tiny)
    truth = tiny["truth"]
    day = truth[truth["date"] == pd.Timestamp(DAY)]
    fc = day[["sku_id", "region_id", "date"]].assign(
        mean=day["units"] * 1.0, q10=day["units"] * 0.5, q50=day["units"] * 1.0,
        q90=day["units"] * 1.5)
    Workspace(ws).write("forecast", fc)
    capsys.readouterr()
    assert main(["simulate", "-w", ws, "--source", "forecast", "--scenario", "1"]) == 2
    assert "plan first" in " ".join(capsys.readouterr().err.split())
    assert main(["plan", "-w", ws, "--seed", "3", "--scenarios", "5", "--json"]) == 0
    capsys.readouterr()
    assert main(["simulate", "-w", ws, "--source", "forecast", "--scenario", "2",
                 "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    want = demand_from_forecast(fc, pd.Timestamp(DAY).date(), 3, scenario=2, scenarios=5)
    assert facts["scenario"] == 2 and facts["units"] == int(want["units"].sum())
    assert main(["simulate", "-w", ws, "--source", "forecast", "--scenario", "5"]) == 2
    assert "from 0 to 4" in " ".join(capsys.readouterr().err.split())
