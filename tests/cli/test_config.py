"""``--config FILE.toml``: a stage's parameters from a file, the flags given over them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from forestock import Workspace, flow
from forestock.cli import main
from forestock.plan import PastDueWarning, PlanParams

DAY = "2026-09-01"


def _toml(folder: Path, text: str, name: str = "stage.toml") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _facts(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    facts = json.loads(capsys.readouterr().out)
    assert isinstance(facts, dict)
    return facts


def test_world_reads_the_file_and_a_flag_overrides_it(tmp_path: Path) -> None:
    """[world] skus = 33 makes a world of 33 SKUs; --skus 32 overrides the file; keys the
    flags do not name (regions) keep the file's value."""
    config = _toml(tmp_path, "[world]\nskus = 33\nregions = 32\nhistory_days = 60\n")
    for flags, skus in (([], 33), (["--skus", "32"], 32)):
        ws = tmp_path / f"ws{skus}"
        assert main(["world", "-w", str(ws), "--config", config, *flags, "--json"]) == 0
        read = Workspace(ws)
        assert len(read.read("skus")) == skus
        assert len(read.read("regions")) == 32
        assert read.notes()["world"]["params"]["history_days"] == 60


@pytest.fixture
def planned(tmp_path: Path, tiny: dict[str, pd.DataFrame]) -> str:
    """A workspace holding the tiny network, a seasonal naive forecast of its event and a
    plan of the forecast's means."""
    ws = Workspace(tmp_path / "planned")
    ws.write_many(tiny)
    flow.run_forecast(ws, window=flow.forecast_window(ws, "추석 세일"), method="seasonal_naive")
    with pytest.warns(PastDueWarning):  # (the tiny network's event is three weeks ahead)
        flow.run_plan(ws, PlanParams(allow_shortfall=True), quantile="mean")
    return str(ws.root)


def test_top_level_keys_serve_as_the_stage_table(planned: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A file without a [simulate] table gives its top-level keys; --scale overrides."""
    ws = planned
    config = _toml(tmp_path, "scale = 2.0\nchunk_orders = 5000\n")
    assert main(["simulate", "-w", ws, "--day", DAY, "--config", config, "--json"]) == 0
    assert _facts(capsys)["scale"] == 2.0
    assert main(["simulate", "-w", ws, "--day", DAY, "--config", config, "--scale", "3",
                 "--json"]) == 0
    assert _facts(capsys)["scale"] == 3.0
    assert main(["simulate", "-w", ws, "--day", DAY, "--json"]) == 0
    assert _facts(capsys)["scale"] == 1.0  # (without the file: the parameters' default)


def test_plan_method_from_the_file_then_a_flag(planned: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """[plan] method = "nearest" plans with the baseline; --method central overrides it; a
    bool in the file (allow_shortfall) holds unless --no-allow-shortfall says otherwise."""
    ws = Workspace(planned)
    ws.write("warehouses", ws.read("warehouses").assign(storage_units=100))
    config = _toml(tmp_path, '[plan]\nmethod = "nearest"\nallow_shortfall = true\n')
    args = ["plan", "-w", planned, "--config", config, "--json"]
    capsys.readouterr()
    assert main(args) == 0
    facts = _facts(capsys)
    assert facts["method"] == "nearest" and facts["shortfall"] > 0
    assert main([*args, "--method", "central"]) == 0
    assert _facts(capsys)["method"] == "central"
    assert main([*args, "--no-allow-shortfall"]) == 2
    assert "allow-shortfall" in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(
    ("verb", "text", "message"),
    [
        ("plan", "[plan]\nscenarios = 4\nwings = 2\n", "[plan]: unknown parameter(s) wings"),
        ("world", "[world]\nskus = 0\n", "skus=0 is invalid"),
        ("simulate", "scale = [1, 2\n", "is not valid TOML"),
        ("forecast", "[forecast]\nrounds = 0\n", "rounds"),
        ("insights", "[insights]\nthresholds = []\n", "thresholds"),
        ("serve", "[serve]\nport = 70000\n", "port"),
    ],
)
def test_a_bad_file_is_one_error_naming_it(verb: str, text: str, message: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown key, a value out of range or a file that is not TOML: exit 2, one error
    line naming the file and the trouble, nothing written."""
    (tmp_path / "ws").mkdir()
    config = _toml(tmp_path, text, "bad config.toml")
    assert main([verb, "-w", str(tmp_path / "ws"), "--config", config]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("error:") and "bad config.toml" in err and message in err
    assert list((tmp_path / "ws").iterdir()) == []


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--config naming no file: exit 2 saying so."""
    assert main(["world", "-w", str(tmp_path / "ws"), "--config",
                 str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: no such file" in " ".join(capsys.readouterr().err.split())

