"""Bad input: one clear message naming file, row and column, exit code 2, nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import snapshot, write_csvs

from forestock.cli import main
from forestock.tables import TableError, validate


def _edit(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / f"{name}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        fn(frame).to_csv(path, index=False)

    return apply


def _set(name: str, row: int, col: str, value: str) -> Callable[[Path], None]:
    def fn(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row - 1, col] = value
        return frame

    return _edit(name, fn)


def _raw(name: str, data: bytes) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / f"{name}.csv").write_bytes(data)

    return apply


def _dup_row(name: str, row: int) -> Callable[[Path], None]:
    return _edit(name, lambda f: pd.concat([f, f.iloc[[row - 1]]], ignore_index=True))


CASES = {
    "missing column": (_edit("skus", lambda f: f.drop(columns=["price"])),
                       "skus.csv, header, column 'price'", "missing"),
    "wrong type": (_set("history", 5, "units", "lots"),
                   "history.csv, row 5, column 'units'", "not a number"),
    "fractional units": (_set("history", 7, "units", "2.5"),
                         "history.csv, row 7, column 'units'", "whole number"),
    "negative quantity": (_set("history", 3, "units", "-4"),
                          "history.csv, row 3, column 'units'", "negative"),
    "unknown sku": (_set("history", 9, "sku_id", "S999"),
                    "history.csv, row 9, column 'sku_id'", "'S999' is not a known sku_id"),
    "unknown region": (_set("history", 2, "region_id", "KR-99"),
                       "history.csv, row 2, column 'region_id'", "not a known region_id"),
    "duplicate key": (_dup_row("lanes", 2), "lanes.csv, row 7, column 'region_id'", "duplicate"),
    "empty file": (_raw("calendar", b""), "calendar.csv", "empty"),
    "header only": (_raw("brands", b"brand_id,name,country,factory_lat,factory_lon\n"),
                    "brands.csv, row 1", "no rows"),
    "not utf-8": (_raw("regions", "region_id,name,province,lat,lon,population\n"
                                  "KR-11,서울,서울특별시,37.5,127.0,9400000\n".encode("euc-kr")),
                  "regions.csv, row 1", "not UTF-8"),
    "warehouse in unknown region": (_set("warehouses", 2, "region_id", "KR-00"),
                                    "warehouses.csv, row 2, column 'region_id'",
                                    "not a known region_id"),
    "bad date": (_set("calendar", 4, "date", "2025-13-40"),
                 "calendar.csv, row 4, column 'date'", "not a date"),
    "empty cell": (_set("skus", 2, "category", ""), "skus.csv, row 2, column 'category'",
                   "empty"),
    "NaN price": (_set("skus", 3, "price", "nan"), "skus.csv, row 3, column 'price'", ""),
    "bad tier": (_set("warehouses", 1, "tier", "hub"), "warehouses.csv, row 1, column 'tier'",
                 "not one of rdc, fdc"),
    "latitude out of range": (_set("regions", 2, "lat", "135.2"),
                              "regions.csv, row 2, column 'lat'", "above 90"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_named_and_changes_nothing(
    case: str, tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each kind of bad input exits 2 naming file, row and column; the workspace is untouched."""
    ws = tmp_path / "ws"
    assert main(["load", str(tiny_dir), "-w", str(ws)]) == 0
    before = snapshot(ws)
    edit, where, what = CASES[case]
    edit(tiny_dir)
    capsys.readouterr()
    assert main(["load", str(tiny_dir), "-w", str(ws)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert where in message
    assert what in message
    assert snapshot(ws) == before


def test_bad_input_on_first_load_writes_nothing(tiny_dir: Path, tmp_path: Path) -> None:
    """A failed first load leaves no workspace files behind."""
    _set("history", 1, "units", "-1")(tiny_dir)
    ws = tmp_path / "ws"
    assert main(["load", str(tiny_dir), "-w", str(ws)]) == 2
    assert not ws.exists() or not any(ws.iterdir())


def test_validate_types_and_orders_columns(tiny: dict[str, pd.DataFrame]) -> None:
    """validate() returns the contract's columns in order, with numeric and date dtypes."""
    frame = tiny["history"].astype(str)[["units", "region_id", "sku_id", "date"]]
    out = validate(frame, "history")
    assert list(out.columns) == ["date", "sku_id", "region_id", "units"]
    assert out["units"].dtype == "int64"
    assert str(out["date"].dtype).startswith("datetime64")


def test_table_error_carries_its_parts() -> None:
    """TableError keeps file, row, column and problem apart for programs."""
    frame = pd.DataFrame({"sku_id": ["a"], "warehouse_id": ["w"], "units": [-1]})
    with pytest.raises(TableError) as info:
        validate(frame, "plan", source="plan.csv")
    assert (info.value.file, info.value.row, info.value.column) == ("plan.csv", 1, "units")


def test_forecast_accepts_extra_quantile_columns() -> None:
    """The forecast contract allows more qNN columns but rejects other extra columns."""
    base = {"sku_id": ["a"], "region_id": ["r"], "date": ["2027-11-11"], "mean": [1.0],
            "q10": [0.5], "q50": [1.0], "q90": [2.0]}
    assert "q95" in validate(pd.DataFrame({**base, "q95": [3.0]}), "forecast").columns
    with pytest.raises(TableError, match="'colour'"):
        validate(pd.DataFrame({**base, "colour": ["red"]}), "forecast")


def test_write_csvs_roundtrip(tmp_path: Path, tiny: dict[str, pd.DataFrame]) -> None:
    """The CSV fixture writer keeps every row (guards the fixtures other tests rely on)."""
    folder = write_csvs(tmp_path / "x", {"history": tiny["history"]})
    assert len(pd.read_csv(folder / "history.csv")) == len(tiny["history"])
