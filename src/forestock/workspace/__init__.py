"""A workspace: one ``<table>.parquet`` per table plus a DuckDB catalogue of views.

A stage commits whole: everything it writes (tables, pages, its notes, the
catalogue) goes to a staging folder and is published in one step through a
journal (see :mod:`forestock.workspace._commit`), so a reader never sees half
of a stage and a crash leaves the stage's old results or all of its new ones.
Bad input is found before anything is published, so nothing in the workspace
changes when a load or a stage fails. Every table remembers the content hash
of the tables it was computed from (``forestock.lineage.json``), so a table
whose inputs changed since is known to be stale (:meth:`Workspace.stale`).
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forestock.errors import (
    ForestockError,
    ForestockWarning,
    MissingTableError,
    WorkspaceNotFoundError,
)
from forestock.tables import (
    KEY_COLUMNS,
    LOAD_ORDER,
    SPECS,
    SUFFIXES,
    TABLES,
    from_arrow,
    read_table,
    spec,
    to_arrow,
    validate,
)
from forestock.workspace._commit import (
    Journal,
    StagingDir,
    digest,
    jsonable,
    locked,
    pending,
    recover,
    remove_litter,
    write_json,
)

__all__ = ["DEFAULT_WORKSPACE", "LoadReport", "Stage", "StaleWarning", "TableStore", "Workspace",
           "jsonable", "load_dir"]

log = logging.getLogger("forestock.workspace")

DEFAULT_WORKSPACE = Path("forestock-ws")
CATALOGUE = "forestock.duckdb"
NOTES = "forestock.json"
LINEAGE = "forestock.lineage.json"

#: Statements ``Workspace.sql`` runs: queries only.
_QUERIES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class StaleWarning(ForestockWarning):
    """A stage reads a table computed from inputs that changed since."""


class Stage:
    """What one stage run has staged so far: tables, folders of pages, notes, inputs read.

    Made by :meth:`Workspace.stage`; published whole when its block ends.
    """

    def __init__(self, ws: Workspace, name: str) -> None:
        self.name = name
        self.ws = ws
        self.staging = StagingDir(ws.root, name)
        self.tables: set[str] = set()
        self.folders: set[str] = set()
        self.notes: dict[str, dict[str, object]] = {}
        self.inputs: dict[str, str] = {}

    def file(self, name: str) -> Path:
        """The staged file of table ``name`` (its writer writes here)."""
        spec(name)
        self.tables.add(name)
        return self.staging.create() / f"{name}.parquet"

    def folder(self, name: str) -> Path:
        """A folder of files (notice pages) published whole: files it lacks are removed."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"folder {name!r} must be a plain sub-folder name")
        self.folders.add(name)
        path = self.staging.create() / name
        path.mkdir(exist_ok=True)
        return path

    def read(self, name: str) -> None:
        """Record that the stage read table ``name`` as it is now (its content hash)."""
        if name not in self.tables and name not in self.inputs and self.ws.has(name):
            self.inputs[name] = self.ws.content_hash(name)


class TableStore(abc.ABC):
    """What a workspace and tables in memory (:class:`forestock.flow.Tables`) share: the ids
    of referenced tables, and the check of tables before they are written."""

    @abc.abstractmethod
    def has(self, name: str) -> bool:
        """Whether table ``name`` is held."""

    @abc.abstractmethod
    def key_ids(self, name: str) -> pd.Index:
        """The key column of a referenced table (``regions`` -> its region ids)."""

    def known(self, extra: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.Index]:
        """Ids of every referenced table, from ``extra`` first, else from those held."""
        out: dict[str, pd.Index] = {}
        for name, col in KEY_COLUMNS.items():
            if extra and name in extra:
                out[name] = pd.Index(extra[name][col])
            elif self.has(name):
                out[name] = self.key_ids(name)
        return out

    def checked(self, frames: Mapping[str, pd.DataFrame], check: bool = True
                ) -> dict[str, pd.DataFrame]:
        """``frames`` validated against their contracts (unless ``check`` is false), referenced
        tables first, each against the ids of the others and of those held."""
        typed: dict[str, pd.DataFrame] = {}
        for name in sorted(frames, key=LOAD_ORDER.index):
            frame = frames[name]
            if check:
                frame = validate(frame, name, source=name, known=self.known({**frames, **typed}))
            typed[name] = frame
        return typed


class Workspace(TableStore):
    """A folder of tables.

    Parameters
    ----------
    root
        The folder; created on the first write.
    """

    def __init__(self, root: str | Path = DEFAULT_WORKSPACE) -> None:
        self.root = Path(root)
        self._stage: Stage | None = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # ------------------------------------------------------------------ reading

    def exists(self) -> bool:
        """Whether the workspace folder exists."""
        return self.root.is_dir()

    def check_exists(self) -> None:
        """Raise :class:`WorkspaceNotFoundError` unless the folder exists."""
        if not self.root.is_dir():
            what = "is not a folder" if self.root.exists() else "does not exist"
            raise WorkspaceNotFoundError(
                f"workspace {self.root} {what}; make one with `forestock demo`, "
                "`forestock world` or `forestock load DIR`, or pass --workspace DIR"
            )

    def _settle(self) -> None:
        """Finish a publish a crash interrupted before anything is read."""
        if pending(self.root):
            with locked(self.root):
                if recover(self.root):
                    self.refresh_catalogue()

    def path(self, name: str) -> Path:
        spec(name)
        if self._stage is not None and name in self._stage.tables:
            return self._stage.staging.path / f"{name}.parquet"
        return self.root / f"{name}.parquet"

    def has(self, name: str) -> bool:
        if self._stage is None or name not in self._stage.tables:
            self._settle()
        return self.path(name).exists()

    def tables(self) -> list[str]:
        """Names of the tables present, in flow order."""
        return [t for t in TABLES if self.has(t)]

    def require(self, names: Sequence[str], stage: str) -> None:
        """Raise :class:`MissingTableError` naming every table ``stage`` needs but lacks.

        A workspace folder that does not exist raises :class:`WorkspaceNotFoundError`.
        """
        self.check_exists()
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
        memory for long tables such as history. Inside a stage, the table is
        recorded as one of the stage's inputs.
        """
        self.require([name], f"reading {name}")
        if self._stage is not None:
            self._stage.read(name)
        ids = [c.name for c in spec(name).columns if c.name.endswith("_id")]
        table = pq.read_table(self.path(name), columns=list(columns) if columns else None,
                              read_dictionary=ids if categorical else None)
        return from_arrow(table)

    def key_ids(self, name: str) -> pd.Index:
        """The key column of a referenced table (``regions`` -> its region ids)."""
        col = KEY_COLUMNS[name]
        return pd.Index(pq.read_table(self.path(name), columns=[col]).column(col).to_pylist())

    # ------------------------------------------------------------------ lineage

    def lineage(self) -> dict[str, dict[str, Any]]:
        """Per table: its content hash, the stage that wrote it, and its inputs' hashes."""
        self._settle()
        path = self.root / LINEAGE
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def content_hash(self, name: str, lineage: Mapping[str, Any] | None = None) -> str:
        """SHA-256 of table ``name``'s file, from the lineage when the file is unchanged."""
        path = self.path(name)
        entry = (lineage if lineage is not None else self.lineage()).get(name)
        st = path.stat()
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            return str(entry["sha256"])
        return digest(path)

    def stale(self) -> dict[str, str]:
        """Tables computed from inputs that changed (or went) since, each with the reason.

        A table computed from a stale table is stale too.
        """
        lineage = self.lineage()
        present = set(self.tables())
        hashes: dict[str, str] = {}
        reasons: dict[str, str] = {}
        for name in TABLES:
            entry = lineage.get(name)
            if name not in present or not entry:
                continue
            for inp, was in sorted(entry.get("inputs", {}).items()):
                if inp not in present:
                    reasons[name] = f"{inp}, which it was computed from, is gone"
                    break
                if inp not in hashes:
                    hashes[inp] = self.content_hash(inp, lineage)
                if hashes[inp] != was:
                    by = lineage.get(inp, {}).get("stage")
                    since = f" (by {by})" if by else ""
                    reasons[name] = f"{inp} changed since it was computed{since}"
                    break
                if inp in reasons:
                    reasons[name] = f"{inp}, which it was computed from, is stale"
                    break
        return reasons

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def stage(self, name: str, reads: Sequence[str] = ()) -> Iterator[Stage]:
        """Run a stage: everything written inside the block is published whole at its end.

        What interrupted runs left (an unfinished publish, staging folders,
        temporary files) is dealt with first. ``reads`` names the tables the
        stage computes from (tables read with :meth:`read` inside the block
        count too); reading a stale one warns (:class:`StaleWarning`). If the
        block raises, nothing it wrote is published. Stages do not nest: a
        stage opened inside another is the outer one.
        """
        if self._stage is not None:
            yield self._stage
            return
        self.tidy()
        st = Stage(self, name)
        stale = self.stale() if reads else {}
        for inp in reads:
            st.read(inp)
            if inp in stale:
                warnings.warn(StaleWarning(
                    f"{name} reads {inp}, which is stale: {stale[inp]}; re-run the stage that "
                    f"makes {inp} first"), stacklevel=3)
        self._stage = st
        try:
            yield st
        except BaseException:
            self._stage = None
            st.staging.discard()
            raise
        self._stage = None
        try:
            self._publish(st)
        except BaseException:
            st.staging.discard()
            raise

    def tidy(self) -> list[str]:
        """Finish an interrupted publish and remove what dead runs left (temporary files)."""
        if not self.root.is_dir():
            return []
        with locked(self.root):
            if recover(self.root):
                self.refresh_catalogue()
            return remove_litter(self.root, ("notices",))

    def _publish(self, st: Stage) -> None:
        if not st.staging.created and not st.notes:
            return
        folder = st.staging.create()
        with locked(self.root):
            recover(self.root)
            lineage = self.lineage()
            now = dt.datetime.now().isoformat(timespec="seconds")
            for name, was in st.inputs.items():
                if name not in lineage and (self.root / f"{name}.parquet").exists():
                    mine = self.root / f"{name}.parquet"
                    lineage[name] = {"sha256": was, "size": mine.stat().st_size,
                                     "mtime_ns": mine.stat().st_mtime_ns, "stage": None,
                                     "inputs": {}}
            for name in sorted(st.tables):
                path = folder / f"{name}.parquet"
                lineage[name] = {"sha256": digest(path), "size": path.stat().st_size,
                                 "mtime_ns": path.stat().st_mtime_ns, "stage": st.name,
                                 "inputs": {k: v for k, v in sorted(st.inputs.items())
                                            if k != name},
                                 "written": now}
            if st.tables:
                write_json(folder / LINEAGE, lineage)
            if st.notes:
                write_json(folder / NOTES, {**self.notes(), **st.notes})
            moves = st.staging.files()
            deletes = []
            for sub in sorted(st.folders):
                new = {m for m in moves if m.startswith(f"{sub}/")}
                old = self.root / sub
                if old.is_dir():
                    deletes += [str(p.relative_to(self.root)) for p in sorted(old.iterdir())
                                if p.is_file() and str(p.relative_to(self.root)) not in new]
            journal = Journal(self.root, folder.name, moves, deletes)
            journal.commit()
            st.staging.release()
            journal.apply()
            if st.tables:
                self.refresh_catalogue()

    def write(self, name: str, frame: pd.DataFrame, *, check: bool = True) -> Path:
        """Validate ``frame`` (unless ``check`` is false) and write it atomically."""
        return self.write_many({name: frame}, check=check)[0]

    def write_many(self, frames: Mapping[str, pd.DataFrame], *, check: bool = True) -> list[Path]:
        """Validate every table first, then write them all; on error nothing is written."""
        arrow = {name: to_arrow(frame, name) for name, frame in self.checked(frames, check).items()}
        with self.stage("write") as st:
            for name, table in arrow.items():
                pq.write_table(table, st.file(name), compression="zstd")
        return [self.root / f"{name}.parquet" for name in arrow]

    @contextlib.contextmanager
    def writer(self, name: str, schema: pa.Schema | None = None) -> Iterator[pq.ParquetWriter]:
        """Stream a large table in row groups; it appears only when the block (and stage) ends."""
        with self.stage("write") as st:
            path = st.file(name)
            w = pq.ParquetWriter(path, schema or spec(name).arrow_schema(), compression="zstd")
            try:
                yield w
            finally:
                w.close()

    def refresh_catalogue(self) -> None:
        """Rebuild ``forestock.duckdb`` with one view per table present (atomically).

        The catalogue is derived from the tables present; a crash before it is
        rebuilt is mended by the next stage or read that finishes the publish.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / CATALOGUE
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        names = {t for t in TABLES if (self.root / f"{t}.parquet").exists()}
        _catalogue(tmp, self.root, names)
        if tmp.exists():
            tmp.replace(final)

    def notes(self) -> dict[str, dict[str, object]]:
        """What each stage recorded about its last run (seed, window, day...)."""
        self._settle()
        path = self.root / NOTES
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def note(self, stage: str, facts: Mapping[str, object]) -> None:
        """Record ``facts`` about ``stage``'s last run, published with the stage's tables."""
        with self.stage(stage) as st:
            st.notes[stage] = dict(jsonable(dict(facts)))  # type: ignore[call-overload]

    # ------------------------------------------------------------------ SQL

    def sql(self, query: str) -> pd.DataFrame:
        """Run a read-only SQL query over the workspace's tables (each a view named after it).

        Only queries run (``SELECT``, ``EXPLAIN``): a statement that writes,
        attaches, installs or sets anything is refused, and DuckDB's external
        access is off (with the configuration locked) but for the workspace's
        own folder, so no file outside it can be read.

        Raises
        ------
        ForestockError
            A statement that is not a query, a file outside the workspace, or a
            bad query.
        """
        self._settle()
        con = duckdb.connect(":memory:")
        try:
            try:
                statements = con.extract_statements(query)
            except duckdb.Error as err:
                raise ForestockError(f"SQL error: {err}") from None
            refused = sorted({str(s.type).rsplit(".", 1)[-1] for s in statements
                              if s.type not in _QUERIES})
            if refused or not statements:
                raise ForestockError(
                    "forestock sql is read-only: it runs queries (SELECT) over the workspace's "
                    f"tables; {', '.join(refused) or 'an empty'} statement(s) refused")
            _create_views(con, self.root, self.tables())
            folder = str(self.root.resolve()).replace("'", "''")
            con.execute(f"SET allowed_directories = ['{folder}/']")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            try:
                return con.execute(query).df()
            except duckdb.PermissionException as err:
                raise ForestockError(f"SQL refused: only the workspace's tables can be read "
                                     f"({err})") from None
            except duckdb.Error as err:
                raise ForestockError(f"SQL error: {err}") from None
        finally:
            con.close()


def _create_views(con: duckdb.DuckDBPyConnection, root: Path, names: Sequence[str] | set[str]
                  ) -> None:
    folder = root.resolve()
    for name in (t for t in TABLES if t in names):
        path = str(folder / f"{name}.parquet").replace("'", "''")
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")


def _catalogue(path: Path, root: Path, names: set[str]) -> None:
    """Write a DuckDB file at ``path`` with a view per table of ``root`` in ``names``."""
    path.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(path))
        try:
            _create_views(con, root, names)
        finally:
            con.close()
    except duckdb.Error as err:  # the parquet files stay authoritative
        path.unlink(missing_ok=True)
        log.warning("could not write the catalogue %s: %s", path, err)


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
    for name in sorted(found, key=LOAD_ORDER.index):
        frame = read_table(found[name], name)
        raw[name] = validate(frame, name, source=found[name].name, known=ws.known(raw))
    ws.write_many(raw, check=False)
    report = LoadReport({name: len(frame) for name, frame in raw.items()})
    report.ignored = ignored
    return report
