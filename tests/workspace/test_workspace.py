"""The workspace: atomic writes, SQL views, notes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from tests.conftest import snapshot

from forestock import Workspace
from forestock.errors import ForestockError, MissingTableError
from forestock.workspace import load_dir


def test_load_then_sql(tiny_dir: Path, tmp_path: Path) -> None:
    """Loaded tables (Korean and Chinese names, non-Latin folder) answer SQL as views."""
    ws = Workspace(tmp_path / "ws")
    report = load_dir(ws, tiny_dir)
    assert report["history"] > 0 and report.ignored == []
    names = ws.sql("SELECT name FROM regions ORDER BY region_id")["name"].tolist()
    assert names == ["서울", "부산", "광주"]
    brand = ws.sql("SELECT name FROM brands WHERE country = 'CN'")["name"].item()
    assert brand == "上海家化"
    assert (ws.root / "forestock.duckdb").exists()


def test_streamed_write_is_all_or_nothing(tmp_path: Path, tiny: dict[str, pd.DataFrame]) -> None:
    """A writer that fails midway leaves the previous table in place and no temporary file."""
    ws = Workspace(tmp_path / "ws")
    ws.write("regions", tiny["regions"])
    before = snapshot(ws.root)
    with pytest.raises(RuntimeError), ws.writer("regions") as w:
        w.write_table(pa.Table.from_pandas(tiny["regions"].iloc[:1], preserve_index=False,
                                           schema=w.schema))
        raise RuntimeError("crash")
    assert snapshot(ws.root) == before


def test_write_many_validates_everything_first(tmp_path: Path,
                                                tiny: dict[str, pd.DataFrame]) -> None:
    """If any table of a batch is bad, none of the batch is written."""
    ws = Workspace(tmp_path / "ws")
    bad = tiny["skus"].assign(price=-1.0)
    with pytest.raises(ForestockError):
        ws.write_many({"regions": tiny["regions"], "brands": tiny["brands"], "skus": bad})
    assert not ws.has("regions")


def test_missing_table_is_named(tmp_path: Path) -> None:
    """A stage lacking a table says which one and how to provide it."""
    with pytest.raises(MissingTableError, match=r"lanes\.csv"):
        Workspace(tmp_path).require(["lanes"], "plan")


def test_sql_error_is_a_user_error(tmp_path: Path, tiny: dict[str, pd.DataFrame]) -> None:
    """A bad query raises ForestockError (exit 2 in the CLI), not a crash."""
    ws = Workspace(tmp_path)
    ws.write("regions", tiny["regions"])
    with pytest.raises(ForestockError, match="SQL"):
        ws.sql("SELECT nope FROM regions")


def test_notes_roundtrip(tmp_path: Path) -> None:
    """Stage notes survive a round trip and keep non-Latin text."""
    ws = Workspace(tmp_path)
    ws.note("world", {"seed": 3, "event": "추석"})
    ws.note("plan", {"units": 5})
    assert ws.notes() == {"world": {"seed": 3, "event": "추석"}, "plan": {"units": 5}}
