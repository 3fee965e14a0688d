"""A fuzz test of the loader: generated tables with random corruptions.

For each example hypothesis picks a file format, a table, a row, a column and
a corruption (or a harmless change). Either the load succeeds and every value
reads back exactly, or it exits 2 with one message naming the file, the row
and the column, and the workspace is byte-identical.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from tests.conftest import snapshot

from forestock import Workspace
from forestock.cli import main
from forestock.tables import spec

#: Examples run, and the seed hypothesis draws them with.
EXAMPLES = 200
SEED = 15
STATS: Counter[str] = Counter()


def base_tables() -> dict[str, pd.DataFrame]:
    """Four small valid tables, ASCII text (so that an encoding can be broken on purpose)."""
    regions = pd.DataFrame({"region_id": ["R1", "R2", "R3"], "name": ["North", "South", "West"],
                            "province": ["P1", "P2", "P2"], "lat": [40.5, 23.25, 30.0],
                            "lon": [116.4, 113.3, 104.1], "population": [21_000_000, 15_000_000,
                                                                         9_000_000]})
    brands = pd.DataFrame({"brand_id": ["B1", "B2"], "name": ["Acme", "Bolt"],
                           "country": ["CN", "US"], "factory_lat": [31.2, 37.7],
                           "factory_lon": [121.5, -122.4]})
    skus = pd.DataFrame({"sku_id": ["S1", "S2", "S3", "S4"], "brand_id": ["B1", "B1", "B2", "B2"],
                         "category": ["home", "home", "toys", "food"],
                         "price": [10.5, 99.0, 5.25, 1.0], "volume_l": [1.0, 2.5, 0.5, 0.25]})
    days = pd.date_range("2026-01-01", periods=3)
    history = pd.DataFrame([(d, s, r) for d in days for s, r in
                            (("S1", "R1"), ("S2", "R2"), ("S3", "R3"), ("S4", "R1"))],
                           columns=["date", "sku_id", "region_id"])
    history["units"] = [3, 0, 7, 1, 12, 4, 0, 9, 2, 5, 6, 8]
    return {"regions": regions, "brands": brands, "skus": skus, "history": history}


BASE = base_tables()
INT_COLS = {"regions": ["population"], "history": ["units"]}
FLOAT_COLS = {"regions": ["lat", "lon"], "brands": ["factory_lat"], "skus": ["price", "volume_l"]}
TEXT_COLS = {"regions": ["name", "province"], "brands": ["name"], "skus": ["category"]}
ID_REFS = {"skus": ["brand_id"], "history": ["sku_id", "region_id"]}
GOOD = ("int_exact", "int_spelled", "text", "float_exact", "none")
BAD = ("negative", "huge", "not_number", "fraction", "blank", "duplicate", "unknown_id",
       "encoding", "separator", "wrong_type")
_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                max_size=12).filter(lambda t: t.strip() != "")


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A format, a table, a row and column, a change, and what the load must do."""
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    kind = draw(st.sampled_from(GOOD + BAD))
    columns = {"int_exact": INT_COLS, "int_spelled": INT_COLS, "negative": INT_COLS,
               "huge": INT_COLS, "fraction": INT_COLS, "text": TEXT_COLS,
               "encoding": TEXT_COLS, "float_exact": FLOAT_COLS, "unknown_id": ID_REFS,
               "not_number": {**INT_COLS, **FLOAT_COLS},
               "wrong_type": {**INT_COLS, **FLOAT_COLS}}.get(kind)
    if kind in ("encoding", "separator", "int_spelled"):
        fmt = "csv"
    if columns is None:
        table = draw(st.sampled_from(sorted(BASE)))
        column = draw(st.sampled_from(list(BASE[table].columns)))
    else:
        table = draw(st.sampled_from(sorted(columns)))
        column = draw(st.sampled_from(columns[table]))
    row = draw(st.integers(1, len(BASE[table])))
    case: dict[str, Any] = {"fmt": fmt, "kind": kind, "table": table, "column": column,
                            "row": row}
    if kind in ("int_exact", "int_spelled", "negative"):
        case["value"] = draw(st.integers(0, 10**15))
    if kind == "int_spelled":
        case["spelling"] = draw(st.sampled_from(["+{}", "00{}", "  {}  ", "{}.0", "{}e0"]))
    if kind == "huge":
        case["value"] = draw(st.one_of(st.integers(10**15 + 1, 2**64 + 5),
                                       st.integers(2**64, 10**40)))
    if kind == "text":
        case["value"] = draw(_TEXT)
    if kind == "float_exact":
        value = draw(st.floats(-90, 90, allow_nan=False, allow_infinity=False))
        case["value"] = abs(value) if column in ("price", "volume_l") else value
    if kind == "not_number":
        case["value"] = draw(st.text("abcxyz!?-_ ", min_size=1, max_size=6).filter(
            lambda t: t.strip() not in ("", "-")))
    if kind == "fraction":
        case["value"] = draw(st.integers(0, 10**6)) + 0.5
    return case


def _write(folder: Path, tables: dict[str, pd.DataFrame], case: dict[str, Any]) -> None:
    folder.mkdir()
    for name, frame in tables.items():
        path = folder / f"{name}.{case['fmt'] if name == case['table'] else 'csv'}"
        if path.suffix == ".parquet":
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            if case["kind"] == "wrong_type" and name == case["table"]:
                at = arrow.schema.get_field_index(case["column"])
                stamps = pa.array([dt.datetime(2026, 1, 1)] * len(frame), pa.timestamp("ms"))
                arrow = arrow.set_column(at, case["column"], stamps)
            pq.write_table(arrow, path)
            continue
        out = frame.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].dt.strftime("%Y-%m-%d")
        sep = ";" if case["kind"] == "separator" and name == case["table"] else ","
        text = out.to_csv(index=False, sep=sep)
        enc = "latin-1" if case["kind"] == "encoding" and name == case["table"] else "utf-8"
        path.write_bytes(text.encode(enc))


def _apply(case: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], tuple[int, str] | None]:
    """The tables to write, and where the load must fail (data row, column) or None."""
    tables = {k: v.copy() for k, v in BASE.items()}
    kind, name, col, i = case["kind"], case["table"], case["column"], case["row"] - 1
    frame = tables[name]
    csv = case["fmt"] == "csv"
    if kind in ("int_exact", "negative", "huge"):
        value = -case["value"] - 1 if kind == "negative" else case["value"]
        frame[col] = frame[col].astype(object)
        if csv:
            frame.loc[i, col] = str(value)
        elif abs(value) < 2**63:  # a Parquet int64 column
            frame.loc[i, col] = value
            frame[col] = pd.array(frame[col], dtype="Int64")
        else:  # beyond int64: a Parquet double column
            frame[col] = frame[col].astype(float)
            frame.loc[i, col] = float(value)
    elif kind == "int_spelled":
        frame[col] = frame[col].astype(object)
        frame.loc[i, col] = case["spelling"].format(case["value"])
    elif kind == "fraction":
        frame[col] = frame[col].astype(float)
        frame.loc[i, col] = case["value"]
    elif kind in ("text", "float_exact"):
        frame.loc[i, col] = case["value"]
    elif kind == "not_number":
        frame[col] = frame[col].astype(object)
        frame.loc[i, col] = case["value"]
        if not csv:  # a text column where a number belongs: refused by its Parquet type
            frame[col] = frame[col].astype(str)
            return tables, (1, col)
    elif kind == "blank":
        frame[col] = frame[col].astype(object)
        frame.loc[i, col] = "" if csv else None
    elif kind == "duplicate":
        tables[name] = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
        return tables, (len(frame) + 1, spec(name).key[-1])
    elif kind == "unknown_id":
        frame.loc[i, col] = "ZZ-unknown"
    elif kind == "encoding":
        frame.loc[i, col] = "Zürich"
    elif kind == "separator":
        return tables, (0, spec(name).names[0])
    elif kind == "wrong_type":
        return tables, (1 if not csv else i + 1, col)
    if kind in GOOD:
        return tables, None
    return tables, (i + 1, col)


def _expected(case: dict[str, Any]) -> object:
    kind, value = case["kind"], case.get("value")
    if kind in ("int_exact", "int_spelled"):
        return value
    if kind == "text":
        return str(value).strip()
    return value


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the base tables (each example loads over it)."""
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "base"
    _write(folder, BASE, {"fmt": "csv", "kind": "none", "table": "regions"})
    assert main(["load", str(folder), "-w", str(root / "ws")]) == 0
    return root / "ws"


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(case=cases())
def test_load_succeeds_exactly_or_fails_naming_file_row_column(
    case: dict[str, Any], loaded: Path, tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every generated load reads back exactly or exits 2 naming file, row, column and
    changing nothing."""
    if case["kind"] == "wrong_type" and case["fmt"] == "csv":
        case = {**case, "kind": "not_number", "value": "2026-01-01T00:00:00"}
    tables, failure = _apply(case)
    folder = tmp_path_factory.mktemp("case") / "data"
    _write(folder, tables, case)
    before = snapshot(loaded)
    capsys.readouterr()
    code = main(["load", str(folder), "-w", str(loaded)])
    err = capsys.readouterr().err
    STATS[f"{case['kind']}:{'ok' if code == 0 else 'refused'}"] += 1
    if failure is None:
        assert code == 0, err
        got = Workspace(loaded).read(case["table"])
        want = {k: v.reset_index(drop=True) for k, v in tables.items()}[case["table"]]
        if case["kind"] != "none":
            cell = got.loc[case["row"] - 1, case["column"]]
            assert cell == _expected(case), (cell, case)
            assert type(cell).__name__ in ("int64", "float64", "str")
        untouched = [c for c in want.columns if c != case["column"]]
        for col in untouched:
            if pd.api.types.is_datetime64_any_dtype(want[col]):
                assert (got[col] == want[col]).all()
            else:
                assert got[col].tolist() == want[col].tolist(), col
        return
    row, column = failure
    ext = "csv" if case["table"] != case["table"] or case["fmt"] == "csv" else "parquet"
    where = "header" if row == 0 else f"row {row}"
    line = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(line) == 1, err
    assert re.match(rf"error: {case['table']}\.{ext}, {where}, column '{column}': ", line[0]), \
        (line[0], case)
    assert snapshot(loaded) == before


def test_fuzz_covered_every_change() -> None:
    """The fuzz run above met every harmless change and every corruption (run after it)."""
    if not STATS:
        pytest.skip("run with the fuzz test")
    kinds = {k.split(":")[0] for k in STATS}
    assert set(GOOD + BAD) - {"wrong_type"} <= kinds | {"wrong_type"}
    print({"examples": sum(STATS.values()), **dict(sorted(STATS.items()))})
