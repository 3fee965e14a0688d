"""`forestock plan` end to end on the tiny network: methods, pages, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forestock import Workspace
from forestock.cli import main
from tests.conftest import snapshot


@pytest.fixture
def ws_dir(tiny_dir: Path, tmp_path: Path) -> str:
    """A workspace with the tiny network loaded and its event forecast."""
    ws = str(tmp_path / "ws")
    assert main(["load", str(tiny_dir), "-w", ws]) == 0
    assert main(["forecast", "-w", ws, "--event", "추석 세일"]) == 0
    return ws


@pytest.mark.parametrize("method", ["fast", "exact", "nearest"])
def test_plan_writes_plan_notices_and_pages(ws_dir: str, method: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """plan --method M --json exits 0; notices before the event add up to the plan, the
    waves' to the inbound waves (the event runs three weeks); one page per brand."""
    capsys.readouterr()
    assert main(["plan", "-w", ws_dir, "--method", method, "--quantile", "mean",
                 "--allow-shortfall", "--scenarios", "4", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["method"] == method and 0 <= facts["expected_share_24h"] <= 1
    ws = Workspace(ws_dir)
    notices, waves = ws.read("notices"), ws.read("replenishment")
    before = notices["wave"] == 0
    assert notices.loc[before, "units"].sum() == ws.read("plan")["units"].sum() == facts["units"]
    assert facts["days"] == 21 and facts["waves"] == waves["wave"].max() > 0
    assert (notices.loc[~before, "units"].sum() == facts["inbound_units"]
            == waves.loc[waves["kind"] == "inbound", "units"].sum())
    assert sorted(p.name for p in (Path(ws_dir) / "notices").iterdir()) == ["B1.html", "B2.html"]


def test_plan_prints_table_and_where_pages_are(ws_dir: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json, plan prints utilisation per warehouse, shares, cost and the pages' folder."""
    capsys.readouterr()
    assert main(["plan", "-w", ws_dir, "--quantile", "mean", "--allow-shortfall"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for word in ("Stock per warehouse", "within 24 h", "cost:", "notices"):
        assert word in text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ws: ws.write("lanes", ws.read("lanes").iloc[1:]), "no lane from warehouse"),
        (lambda ws: ws.write("warehouses", ws.read("warehouses").assign(storage_units=10)),
         "every warehouse full"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(ws_dir: str, edit: object, message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Missing lanes or too little storage: exit 2 with a message, workspace untouched."""
    edit(Workspace(ws_dir))  # type: ignore[operator]
    before = snapshot(Path(ws_dir))
    capsys.readouterr()
    assert main(["plan", "-w", ws_dir]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert snapshot(Path(ws_dir)) == before


def test_unknown_method_exits_2(ws_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --method names the choices."""
    assert main(["plan", "-w", ws_dir, "--method", "magic"]) == 2
    assert "method" in capsys.readouterr().err
    assert not (Path(ws_dir) / "notices").exists()


def test_correlation_option_sets_national_quantities(ws_dir: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--correlation 0 (regions independent) plans fewer q90 units than regions that all move
    together (0.99); out of [0, 1) it exits 2 and writes nothing."""
    units = {}
    for rho in ("0", "0.99"):
        capsys.readouterr()
        assert main(["plan", "-w", ws_dir, "--correlation", rho, "--allow-shortfall",
                     "--scenarios", "4", "--json"]) == 0
        units[rho] = json.loads(capsys.readouterr().out)["units"]
    assert units["0"] < units["0.99"]
    before = snapshot(Path(ws_dir))
    assert main(["plan", "-w", ws_dir, "--correlation", "1.5"]) == 2
    assert "correlation" in capsys.readouterr().err
    assert snapshot(Path(ws_dir)) == before


def test_the_market_error_goes_from_the_forecast_to_the_plan_and_rehearsal(
        ws_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The forecast notes its market error; a plan run as a separate command (the workspace
    opened afresh) reads it, draws its scenarios with it and notes it; the same plan with
    the market's error 0 places the same national quantities (the SKUs' own spreads do not
    change; --market-sd 0), and a rehearsal of the forecast draws with the plan's market
    error."""
    from forestock.flow._simulate import _correlations

    noted = Workspace(ws_dir).notes()["forecast"]
    # (the tiny history's held-out occurrence is the event's first: the ordinary periods')
    assert noted["market_sd"] == noted["market_ordinary_sd"] > 0
    assert noted["market_errors"] == [] and noted["market_prior"] == 1.0
    capsys.readouterr()
    assert main(["plan", "-w", ws_dir, "--allow-shortfall", "--scenarios", "4", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["market_sd"] == noted["market_sd"]
    ws = Workspace(ws_dir)
    assert ws.notes()["plan"]["market_sd"] == noted["market_sd"]
    assert _correlations(ws)[2] == noted["market_sd"]
    assert main(["plan", "-w", ws_dir, "--allow-shortfall", "--scenarios", "4", "--json",
                 "--market-sd", "0"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["market_sd"] == 0.0 and alone["demand"] == facts["demand"]
    assert _correlations(Workspace(ws_dir))[2] == 0.0


def test_costs_file_is_used_and_bad_costs_exit_2(ws_dir: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--costs with per-item shortage and surplus costs plans and reports; a cost that is not
    a number >= 0 exits 2 naming the file, row and column, and writes nothing."""
    ws = Workspace(ws_dir)
    sku = str(ws.read("skus")["sku_id"].iloc[0])
    wh = str(ws.read("warehouses")["warehouse_id"].iloc[0])
    good = tmp_path / "costs.csv"
    good.write_text(f"sku_id,warehouse_id,shortage_cny,surplus_cny\n{sku},,40,5\n{sku},{wh},40,9\n",
                    encoding="utf-8")
    capsys.readouterr()
    assert main(["plan", "-w", ws_dir, "--allow-shortfall", "--scenarios", "4", "--costs",
                 str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["units"] > 0
    bad = tmp_path / "bad_costs.csv"
    bad.write_text(f"sku_id,shortage_cny,surplus_cny\n{sku},40,5\n{sku},-3,5\n", encoding="utf-8")
    before = snapshot(Path(ws_dir))
    assert main(["plan", "-w", ws_dir, "--allow-shortfall", "--costs", str(bad)]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "bad_costs.csv, row 2, column 'shortage_cny'" in text
    assert snapshot(Path(ws_dir)) == before
