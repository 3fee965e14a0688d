"""A workspace: one ``<table>.parquet`` per table plus a DuckDB catalogue of views.

Every write goes to a temporary file in the same folder and is renamed into
place, so a crash leaves the old table or the new one, never half of one.
Bad input is found before anything is renamed, so nothing in the workspace
changes when a load or a stage fails.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forestock.errors import ForestockError, MissingTableError
from forestock.tables import SPECS, SUFFIXES, TABLES, read_table, spec, to_arrow, validate

__all__ = ["DEFAULT_WORKSPACE", "LoadReport", "Workspace", "load_dir"]

log = logging.getLogger("forestock.workspace")

DEFAULT_WORKSPACE = Path("forestock-ws")
CATALOGUE = "forestock.duckdb"
NOTES = "forestock.json"

#: Tables whose keys other tables reference, in the order they must be known.
_KEY_TABLES = {"regions": "region_id", "brands": "brand_id", "skus": "sku_id",
               "warehouses": "warehouse_id"}
_LOAD_ORDER = ("regions", "brands", "skus", "warehouses", *[t for t in TABLES if t not in
               ("regions", "brands", "skus", "warehouses")])


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


class Workspace:
    """A folder of tables.

    Parameters
    ----------
    root
        The folder; created on the first write.
    """

    def __init__(self, root: str | Path = DEFAULT_WORKSPACE) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def path(self, name: str) -> Path:
        spec(name)
        return self.root / f"{name}.parquet"

    def has(self, name: str) -> bool:
        return self.path(name).exists()

    def tables(self) -> list[str]:
        """Names of the tables present, in flow order."""
        return [t for t in TABLES if self.has(t)]

    def require(self, names: Sequence[str], stage: str) -> None:
        """Raise :class:`MissingTableError` naming every table ``stage`` needs but lacks."""
        missing = [n for n in names if not self.has(n)]
        if missing:
            files = ", ".join(f"{m}.csv" for m in missing)
            raise MissingTableError(
                f"{stage} needs the table(s) {', '.join(missing)}, which {self.root} does not "
                f"hold; run the stage that makes them, or `forestock load DIR` with {files}"
            )

    def read(
        self, name: str, columns: Sequence[str] | None = None, *, categorical: bool = False
    ) -> pd.DataFrame:
        """Read table ``name`` as pandas (dates as ``datetime64``).

        ``categorical`` reads id columns as pandas categoricals: much less
        memory for long tables such as history.
        """
        self.require([name], f"reading {name}")
        ids = [c.name for c in spec(name).columns if c.name.endswith("_id")]
        table = pq.read_table(self.path(name), columns=list(columns) if columns else None,
                              read_dictionary=ids if categorical else None)
        frame = table.to_pandas()
        for fld in table.schema:
            if pa.types.is_date32(fld.type):
                frame[fld.name] = pd.to_datetime(frame[fld.name])
        return frame

    def keys(self, name: str) -> pd.Index:
        """The key column of a referenced table (``regions`` -> its region ids)."""
        col = _KEY_TABLES[name]
        return pd.Index(pq.read_table(self.path(name), columns=[col]).column(col).to_pylist())

    def known(self, extra: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.Index]:
        """Ids of every referenced table, from ``extra`` first, else from the workspace."""
        out: dict[str, pd.Index] = {}
        for name, col in _KEY_TABLES.items():
            if extra and name in extra:
                out[name] = pd.Index(extra[name][col])
            elif self.has(name):
                out[name] = self.keys(name)
        return out

    def write(self, name: str, frame: pd.DataFrame, *, check: bool = True) -> Path:
        """Validate ``frame`` (unless ``check`` is false) and write it atomically."""
        return self.write_many({name: frame}, check=check)[0]

    def write_many(self, frames: Mapping[str, pd.DataFrame], *, check: bool = True) -> list[Path]:
        """Validate every table first, then write them all; on error nothing is written."""
        typed: dict[str, pd.DataFrame] = {}
        for name in sorted(frames, key=_LOAD_ORDER.index):
            frame = frames[name]
            if check:
                frame = validate(frame, name, source=name, known=self.known({**frames, **typed}))
            typed[name] = frame
        arrow = {name: to_arrow(frame, name) for name, frame in typed.items()}
        return self._commit(arrow)

    def _commit(self, tables: Mapping[str, pa.Table]) -> list[Path]:
        self.root.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for name, table in tables.items():
                final = self.path(name)
                tmp = _tmp(final)
                pq.write_table(table, tmp, compression="zstd")
                staged.append((tmp, final))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in staged:
            tmp.replace(final)
        self.refresh_catalogue()
        return [final for _, final in staged]

    @contextlib.contextmanager
    def writer(self, name: str, schema: pa.Schema | None = None) -> Iterator[pq.ParquetWriter]:
        """Stream a large table in row groups; it appears only if the block completes."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(name)
        tmp = _tmp(final)
        w = pq.ParquetWriter(tmp, schema or spec(name).arrow_schema(), compression="zstd")
        try:
            yield w
            w.close()
        except BaseException:
            w.close()
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(final)
        self.refresh_catalogue()

    def refresh_catalogue(self) -> None:
        """Rebuild ``forestock.duckdb`` with one view per table present (atomically)."""
        final = self.root / CATALOGUE
        tmp = _tmp(final)
        tmp.unlink(missing_ok=True)
        try:
            con = duckdb.connect(str(tmp))
            try:
                _create_views(con, self)
            finally:
                con.close()
            tmp.replace(final)
        except duckdb.Error as err:  # a reader holds the file: the parquet files stay authoritative
            tmp.unlink(missing_ok=True)
            log.warning("could not refresh %s: %s", final, err)

    def notes(self) -> dict[str, dict[str, object]]:
        """What each stage recorded about its last run (seed, window, day...)."""
        path = self.root / NOTES
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def note(self, stage: str, facts: Mapping[str, object]) -> None:
        """Record ``facts`` about ``stage``'s last run (atomically)."""
        notes = self.notes()
        notes[stage] = dict(facts)
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / NOTES
        tmp = _tmp(final)
        tmp.write_text(json.dumps(notes, indent=2, default=str, ensure_ascii=False),
                       encoding="utf-8")
        tmp.replace(final)

    def sql(self, query: str) -> pd.DataFrame:
        """Run a SQL query over the workspace's tables (each a view named after it)."""
        con = duckdb.connect()
        try:
            _create_views(con, self)
            try:
                return con.execute(query).df()
            except duckdb.Error as err:
                raise ForestockError(f"SQL error: {err}") from None
        finally:
            con.close()


def _create_views(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    for name in ws.tables():
        path = str(ws.path(name).resolve()).replace("'", "''")
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")


class LoadReport(dict[str, int]):
    """Rows loaded per table; ``ignored`` lists files that are not forestock tables."""

    ignored: list[str]


def load_dir(ws: Workspace, folder: str | Path) -> LoadReport:
    """Import every ``<table>.csv`` or ``<table>.parquet`` in ``folder`` into ``ws``.

    All files are validated (against each other and the tables already in the
    workspace) before any is written.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ForestockError(f"{folder} is not a folder")
    found: dict[str, Path] = {}
    ignored: list[str] = []
    for path in sorted(folder.iterdir()):
        stem, suffix = path.stem.lower(), path.suffix.lower()
        if suffix in SUFFIXES and stem in SPECS:
            if stem in found:
                raise ForestockError(
                    f"{folder} holds both {found[stem].name} and {path.name}; keep one"
                )
            found[stem] = path
        elif path.is_file():
            ignored.append(path.name)
    if not found:
        names = ", ".join(f"{t}.csv" for t in ("regions", "skus", "history", "calendar"))
        raise ForestockError(f"{folder} holds no forestock tables (files such as {names})")
    raw: dict[str, pd.DataFrame] = {}
    for name in sorted(found, key=_LOAD_ORDER.index):
        frame = read_table(found[name], name)
        raw[name] = validate(frame, name, source=found[name].name, known=ws.known(raw))
    ws.write_many(raw, check=False)
    report = LoadReport({name: len(frame) for name, frame in raw.items()})
    report.ignored = ignored
    return report
