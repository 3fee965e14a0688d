"""The nine failures found by trying forestock as a new user and as an attacker would.

Each test reproduces one failure as it was reported and proves it is gone:
1 big integers, 2 wrong-typed Parquet, 3 stages not atomic, 4 stale results,
5 SQL writing and reading anywhere, 6 names read as markup, 7 notice pages
colliding, 8 notices due in the past, 9 unclear failures.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import snapshot, tiny_tables, write_csvs

from forestock import Workspace
from forestock.cli import main
from forestock.tables import to_arrow, validate

EVENT = "추석 세일"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny network loaded, forecast (seasonal naive, quick) and planned (mean)."""
    root = tmp_path_factory.mktemp("planned")
    data = write_csvs(root / "data", tiny_tables())
    ws = root / "ws"
    assert main(["load", str(data), "-w", str(ws)]) == 0
    assert main(["forecast", "-w", str(ws), "--event", EVENT, "--method", "seasonal_naive"]) == 0
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    return ws


@pytest.fixture
def ws(planned: Path, tmp_path: Path) -> Path:
    """A private copy of the planned workspace."""
    return Path(shutil.copytree(planned, tmp_path / "ws"))


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


# ---------------------------------------------------------------- 1. big integers


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("history", "units", "1e20"),
        ("history", "units", "9223372036854775807"),
        ("history", "units", "9223372036854775808"),
        ("history", "units", "-9223372036854775809"),
        ("warehouses", "storage_units", "1e20"),
        ("warehouses", "storage_units", "9223372036854775807"),
    ],
)
def test_1_big_integers_are_refused_not_wrapped(table: str, column: str, value: str,
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A quantity beyond any sane count (or beyond 64 bits) exits 2 naming file, row, column."""
    tables = tiny_tables()
    frame = tables[table].astype({column: object})
    frame.loc[1, column] = value
    tables[table] = frame
    data = write_csvs(tmp_path / "data", tables)
    assert main(["load", str(data), "-w", str(tmp_path / "ws")]) == 2
    text = " ".join(_err(capsys).split())
    assert f"{table}.csv, row 2, column '{column}'" in text
    assert not (tmp_path / "ws" / f"{table}.parquet").exists()


def test_1_integers_read_exactly_beyond_float64() -> None:
    """A whole number above 2**53 (where float64 loses units) is read to the unit."""
    big = 2**53 + 1
    frame = pd.DataFrame({"sku_id": ["S1"], "region_id": ["R"], "start": ["2026-09-01"],
                          "end": ["2026-09-21"], "days": [str(big)], "mean": ["1"],
                          "q10": ["0"], "q50": ["1"], "q90": ["2"]})
    assert validate(frame, "forecast_total")["days"].tolist() == [big]
    parquet_ints = frame.assign(days=pd.array([big], dtype="Int64"))
    assert validate(parquet_ints, "forecast_total")["days"].tolist() == [big]


# ---------------------------------------------------------------- 2. wrong-typed Parquet


@pytest.mark.parametrize(
    ("column", "array", "expected"),
    [
        ("units", pa.array([dt.datetime(2026, 1, 1)] * 3, pa.timestamp("ns")), "whole numbers"),
        ("units", pa.array(["1", "2", "3"]), "whole numbers"),
        ("units", pa.array([True, False, True]), "whole numbers"),
        ("date", pa.array([20250101, 20250102, 20250103]), "dates"),
    ],
)
def test_2_wrong_typed_parquet_is_refused(column: str, array: pa.Array, expected: str,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """history.parquet whose units are timestamps (or text, booleans) exits 2 naming the column."""
    tables = tiny_tables()
    data = write_csvs(tmp_path / "data", {k: v for k, v in tables.items() if k != "history"})
    hist = pa.Table.from_pandas(tables["history"].head(3), preserve_index=False)
    hist = hist.set_column(hist.schema.get_field_index(column), column, array)
    pq.write_table(hist, data / "history.parquet")
    assert main(["load", str(data), "-w", str(tmp_path / "ws")]) == 2
    text = " ".join(_err(capsys).split())
    assert f"history.parquet, row 1, column '{column}': is a Parquet column of type" in text
    assert expected in text
    assert not (tmp_path / "ws").exists()


# ---------------------------------------------------------------- 3. stages not atomic


def test_3_a_failing_stage_publishes_none_of_its_tables(ws: Path) -> None:
    """A world stage that dies after writing five tables leaves every table as it was."""
    before = snapshot(ws)
    w = Workspace(ws)
    tables = tiny_tables(seed=1)
    with pytest.raises(RuntimeError), w.stage("world"):
        w.write_many({k: tables[k] for k in ("regions", "brands", "skus", "warehouses",
                                              "lanes")})
        with w.writer("history") as hist:
            hist.write_table(to_arrow(validate(tables["history"].head(5), "history"),
                                      "history"))
        raise RuntimeError("killed")
    assert snapshot(ws) == before


def test_3_what_dead_runs_left_is_removed_by_the_next_run(ws: Path) -> None:
    """Temporary files and staging folders of dead processes go at the next stage."""
    dead = 2**22 + 12345  # above the default pid_max of 4,194,304: no such process
    (ws / f".history.parquet.tmp-{dead}").write_bytes(b"half")
    (ws / "notices" / f".B1.html.tmp-{dead}").write_bytes(b"half")
    staged = ws / f".stage-plan-{dead}-1"
    staged.mkdir()
    (staged / "plan.parquet").write_bytes(b"half")
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    assert not [p for p in ws.rglob(".*") if "tmp-" in p.name or p.name.startswith(".stage")]


# ---------------------------------------------------------------- 4. stale results


def test_4_report_marks_a_plan_older_than_its_warehouses(ws: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """Warehouses cut to a tenth after the plan: load and report say the plan is stale, and
    the report's warehouse section carries the stale banner."""
    data = tmp_path / "new"
    wh = tiny_tables()["warehouses"]
    write_csvs(data, {"warehouses": wh.assign(storage_units=wh["storage_units"] // 10)})
    capsys.readouterr()
    assert main(["load", str(data), "-w", str(ws)]) == 0
    assert "plan is stale: warehouses changed since it was computed" in \
        " ".join(_err(capsys).split())
    assert set(Workspace(ws).stale()) == {"plan", "notices", "replenishment"}
    assert main(["report", "-w", str(ws)]) == 0
    assert "plan is stale" in " ".join(_err(capsys).split())
    page = (ws / "report.html").read_text(encoding="utf-8")
    start = page.index('<section id="warehouses">')
    section = page[start:page.index("</section>", start)]
    assert 'class="stale"' in section and "<code>plan</code>" in section
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    assert Workspace(ws).stale() == {}


def test_4_a_stage_reading_a_stale_table_says_so(ws: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A new history makes the forecast stale; plan then warns that it reads a stale forecast."""
    hist = tiny_tables()["history"]
    write_csvs(tmp_path / "new", {"history": hist.assign(units=hist["units"] + 1)})
    assert main(["load", str(tmp_path / "new"), "-w", str(ws)]) == 0
    capsys.readouterr()
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    text = " ".join(_err(capsys).split())
    assert "plan reads forecast, which is stale: history changed since it was computed" in text


def test_4_replanning_removes_pages_of_brands_no_longer_planned(ws: Path) -> None:
    """Notice pages of brands the new plan does not ship are removed when it is published."""
    (ws / "notices" / "OLD.html").write_text("old brand", encoding="utf-8")
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    assert sorted(p.name for p in (ws / "notices").iterdir()) == ["B1.html", "B2.html"]


# ---------------------------------------------------------------- 5. SQL


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 42) TO '{outside}/x.csv'",
        "ATTACH '{outside}/x.duckdb' AS x",
        "COPY (SELECT * FROM skus LIMIT 1) TO '{ws}/skus.parquet'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv('{ws}/../../../../../../etc/passwd')",
        "SELECT * FROM glob('{outside}/*')",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "CREATE TABLE t AS SELECT 1",
        "SELECT 1; COPY (SELECT 1) TO '{outside}/y.csv'",
        "PRAGMA enable_profiling",
    ],
)
def test_5_sql_is_read_only_and_confined(ws: Path, tmp_path: Path, query: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Writes, attaches, installs, settings and files outside the workspace exit 2; nothing
    is written anywhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    before = snapshot(ws)
    assert main(["sql", "-w", str(ws), query.format(ws=ws, outside=outside)]) == 2
    assert "error:" in _err(capsys)
    assert snapshot(ws) == before
    assert list(outside.iterdir()) == []


def test_5_sql_still_answers_queries(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Queries (joins, CTEs, EXPLAIN) over the views still run."""
    capsys.readouterr()
    assert main(["sql", "-w", str(ws), "WITH p AS (SELECT * FROM plan) SELECT count(*) AS n "
                 "FROM p JOIN skus USING (sku_id)", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["n"] > 0


# ---------------------------------------------------------------- 6. names as markup


def test_6_names_with_brackets_print_as_they_are(ws: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Warehouses named `沈阳 [/x] RDC` and `Shenyang [old] RDC` plan and print verbatim."""
    wh = tiny_tables()["warehouses"].assign(name=["沈阳 [/x] RDC", "Shenyang [old] RDC"])
    write_csvs(tmp_path / "new", {"warehouses": wh})
    assert main(["load", str(tmp_path / "new"), "-w", str(ws)]) == 0
    capsys.readouterr()
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    text = capsys.readouterr().out
    assert "沈阳 [/x] RDC" in text and "Shenyang [old] RDC" in text
    assert main(["sql", "-w", str(ws), "SELECT name FROM warehouses"]) == 0
    assert "Shenyang [old] RDC" in capsys.readouterr().out


def test_6_errors_quoting_user_text_are_not_markup(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An error message quoting `[bold]x[/]` from a file prints it as text."""
    tables = tiny_tables()
    tables["skus"] = tables["skus"].astype({"price": object})
    tables["skus"].loc[0, "price"] = "[bold]x[/]"
    data = write_csvs(tmp_path / "data", tables)
    assert main(["load", str(data), "-w", str(tmp_path / "ws")]) == 2
    assert "value '[bold]x[/]' is not a number" in _err(capsys)


# ---------------------------------------------------------------- 7. notice pages


def test_7_brand_ids_that_clean_alike_get_their_own_pages(ws: Path, tmp_path: Path) -> None:
    """Brands `A/B` and `A_B` get two pages, each naming its own brand."""
    t = tiny_tables()
    brands = t["brands"].assign(brand_id=["A/B", "A_B"])
    skus = t["skus"].assign(brand_id=t["skus"]["brand_id"].map({"B1": "A/B", "B2": "A_B"}))
    write_csvs(tmp_path / "new", {"brands": brands, "skus": skus})
    assert main(["load", str(tmp_path / "new"), "-w", str(ws)]) == 0
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 0
    pages = sorted((ws / "notices").iterdir())
    assert len(pages) == 2 and pages[0].name != pages[1].name
    assert [p.name for p in pages if p.name == "A_B.html"] == ["A_B.html"]
    owners = {p.name: ("(A/B," in p.read_text(encoding="utf-8")) for p in pages}
    assert sorted(owners.values()) == [False, True]
    assert all(name.startswith("A_B") for name in owners)


# ---------------------------------------------------------------- 8. notices due in the past


def test_8_notices_due_by_the_last_day_of_history_are_flagged(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ship-by dates on or before the history's last day warn and set past_due."""
    capsys.readouterr()
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    notices = Workspace(ws).read("notices")
    last = pd.Timestamp("2026-08-31")  # the tiny history's last day
    assert notices["past_due"].tolist() == (notices["ship_by"] <= last).tolist()
    assert facts["past_due"] == int(notices["past_due"].sum()) > 0


def test_8_make_notices_warns_only_when_due(tiny: dict[str, pd.DataFrame]) -> None:
    """make_notices flags nothing when the history ends before every ship-by date."""
    from forestock.plan import PastDueWarning, make_notices

    plan = pd.DataFrame({"sku_id": ["S1", "S3"], "warehouse_id": ["W-SEL", "W-PUS"],
                         "units": [10, 5]})
    args = (plan, tiny["skus"], tiny["brands"], tiny["warehouses"], dt.date(2026, 9, 1))
    early = make_notices(*args, history_end=dt.date(2026, 6, 30))
    assert not early["past_due"].any()
    with pytest.warns(PastDueWarning, match="2 of 2 notices"):
        late = make_notices(*args, history_end=dt.date(2026, 8, 31))
    assert late["past_due"].all()


# ---------------------------------------------------------------- 9. unclear failures


def test_9_a_full_disk_is_one_line_exit_2_and_changes_nothing(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC while writing a table: one `error:` line, exit 2, the workspace as it was."""
    import forestock.workspace as wsmod

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "plan.parquet")

    before = snapshot(ws)
    monkeypatch.setattr(wsmod.pq, "write_table", full)
    capsys.readouterr()
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "no space left" in lines[0] and "Traceback" not in err
    assert snapshot(ws) == before


def test_9_json_is_strict(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """plan --json (gap not measured) prints null, never NaN."""
    capsys.readouterr()
    assert main(["plan", "-w", str(ws), "--quantile", "mean", "--allow-shortfall",
                 "--scenarios", "4", "--json"]) == 0
    text = capsys.readouterr().out

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    facts = json.loads(text, parse_constant=refuse)
    assert facts["gap"] is None


@pytest.mark.parametrize("verb", [["report"], ["sql", "SELECT 1"], ["forecast"], ["plan"],
                                  ["simulate"], ["backtest"],
                                  ["sortation", "size", "--warehouse", "W"]])
def test_9_a_missing_workspace_is_an_error_and_is_not_created(
    verb: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verbs that read a workspace exit 2 on a folder that does not exist, and make none."""
    typo = tmp_path / "TYPO"
    assert main([*verb, "-w", str(typo)]) == 2
    assert "does not exist" in " ".join(_err(capsys).split())
    assert not typo.exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["simulate", "--seed", "-5"], "--seed"),
        (["forecast", "--seed", "-1"], "--seed"),
        (["plan", "--seed", "-1"], "--seed"),
        (["world", "--seed", "-2"], "--seed"),
        (["backtest", "--seed", "-1"], "--seed"),
        (["demo", "--seed", "-1"], "--seed"),
        (["world", "--skus", "0"], "--skus"),
        (["simulate", "--workers", "0"], "--workers"),
        (["plan", "--scenarios", "0"], "--scenarios"),
        (["sql", "SELECT 1", "--limit", "-1"], "--limit"),
        (["simulate", "--unknown"], "--unknown"),
    ],
)
def test_9_invalid_options_are_refused_alike(args: list[str], option: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Every invalid option exits 2 with one `error:` line naming the option."""
    assert main([*args, "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and option in err
    assert not (tmp_path / "ws").exists()
