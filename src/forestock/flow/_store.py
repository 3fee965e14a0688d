"""Where a stage reads and writes: a workspace folder, or :class:`Tables` in memory."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from forestock.errors import MissingTableError
from forestock.tables import KEY_COLUMNS, TABLES, from_arrow, spec, to_arrow
from forestock.workspace import TableStore, Workspace, jsonable

__all__ = ["Store", "TableView", "Tables", "history_end", "history_span"]


class _Chunks:
    """Collects a long table's row groups in memory (what a Parquet writer is to a file)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.parts: list[pa.Table] = []

    def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None:
        """Keep ``table`` (``row_group_size`` is a file's concern, ignored here)."""
        self.parts.append(table.cast(self.schema))


class Tables(TableStore, Mapping[str, pd.DataFrame]):
    """Tables by name, in memory, and what each stage noted: a workspace without a folder.

    The flow's stages (:mod:`forestock.flow`) read from it and add their tables to it,
    as they do with a :class:`~forestock.workspace.Workspace`. Every table is checked
    against its contract when it comes in (missing columns, types, negative quantities,
    unknown ids, duplicate keys), and kept as a workspace would read it back (ids as
    strings, dates as ``datetime64``), so a stage gives the same tables from memory as
    from a folder. A stage adds all of its tables or, if it fails, none.

    Parameters
    ----------
    frames
        Tables to start from (your own data, as ``forestock load`` takes it), by name.

    Examples
    --------
    >>> from forestock.flow import Tables
    >>> tables = Tables()              # then flow.run_world(tables), or Tables({...})
    >>> len(tables)
    0
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame] | None = None) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        self._notes: dict[str, dict[str, object]] = {}
        self._pending: dict[str, pd.DataFrame] = {}  # what the open stage wrote
        self._pending_notes: dict[str, dict[str, object]] = {}
        self._open = False
        if frames:
            self.write_many(frames)

    # ------------------------------------------------------------------ the mapping

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name in self._pending:
            return self._pending[name]
        return self._frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables())

    def __len__(self) -> int:
        return len(self.tables())

    def __repr__(self) -> str:
        return f"Tables({', '.join(f'{n}: {len(self[n]):,} rows' for n in self)})"

    # ------------------------------------------------------------------ reading

    def has(self, name: str) -> bool:
        """Whether table ``name`` is held."""
        return name in self._frames or name in self._pending

    def tables(self) -> list[str]:
        """Names of the tables held, in flow order."""
        return [t for t in TABLES if self.has(t)]

    def require(self, names: Sequence[str], stage: str) -> None:
        """Raise :class:`MissingTableError` naming every table ``stage`` needs but lacks."""
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise MissingTableError(
                f"{stage} needs the table(s) {', '.join(missing)}, which these tables do not "
                "hold; run the stage that makes them first, or add them (Tables({...}))")

    def read(self, name: str, columns: Sequence[str] | None = None, *,
             categorical: bool = False) -> pd.DataFrame:
        """Table ``name`` (a shallow copy: adding or replacing its columns leaves the held
        table alone); ``categorical`` gives its id columns as pandas categoricals, in order
        of first appearance as a workspace reads them."""
        self.require([name], f"reading {name}")
        frame = self[name]
        frame = frame[list(columns)] if columns else frame.copy(deep=False)
        if categorical:
            for col in (c.name for c in spec(name).columns if c.name.endswith("_id")):
                if col in frame.columns:
                    frame[col] = pd.Categorical(frame[col], categories=pd.unique(frame[col]))
        return frame

    def key_ids(self, name: str) -> pd.Index:
        """The key column of a referenced table (``regions`` -> its region ids)."""
        return pd.Index(self[name][KEY_COLUMNS[name]])

    def notes(self) -> dict[str, dict[str, object]]:
        """What each stage recorded about its last run (seed, window, day...)."""
        return {**self._notes, **self._pending_notes}

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def stage(self, name: str, reads: Sequence[str] = ()) -> Iterator[None]:
        """Run a stage: what it writes and notes inside the block is added at its end, all
        of it, or nothing if the block raises. Stages do not nest (as a workspace's);
        ``reads`` (a workspace's lineage) has no use here."""
        if self._open:
            yield
            return
        self._open = True
        try:
            yield
            self._frames.update(self._pending)
            self._notes.update(self._pending_notes)
        finally:
            self._pending, self._pending_notes, self._open = {}, {}, False

    def note(self, stage: str, facts: Mapping[str, object]) -> None:
        """Record ``facts`` about ``stage``'s last run, added with the stage's tables."""
        with self.stage(stage):
            self._pending_notes[stage] = dict(jsonable(dict(facts)))  # type: ignore[call-overload]

    def write_many(self, frames: Mapping[str, pd.DataFrame], *, check: bool = True) -> None:
        """Check every table (unless ``check`` is false: tables made by forestock itself),
        then add them all; on error nothing is added."""
        kept = {name: from_arrow(to_arrow(frame, name))
                for name, frame in self.checked(frames, check).items()}
        with self.stage("write"):
            self._pending.update(kept)

    @contextlib.contextmanager
    def writer(self, name: str, schema: pa.Schema | None = None) -> Iterator[_Chunks]:
        """Take a long table in row groups (``write_table``); it is added when the block
        (and stage) ends."""
        chunks = _Chunks(schema or spec(name).arrow_schema())
        yield chunks
        table = pa.concat_tables(chunks.parts) if chunks.parts else chunks.schema.empty_table()
        with self.stage("write"):
            self._pending[name] = from_arrow(table)


Store = Workspace | Tables
"""Where the flow's stages read and write: a folder or tables in memory."""


class TableView(Mapping[str, pd.DataFrame]):
    """A stage's tables in its store, read when asked for (a folder's are not loaded
    until then)."""

    def __init__(self, store: Store, names: Sequence[str]) -> None:
        self.store = store
        self.names = tuple(n for n in names if store.has(n))

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.names:
            raise KeyError(name)
        return self.store.read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"TableView({', '.join(self.names)})"


def history_span(store: Store) -> dict[str, Any]:
    """First and last date and rows of the history (a folder's without reading it)."""
    if isinstance(store, Workspace):
        row = store.sql("SELECT min(date), max(date), count(*) FROM history").iloc[0]
        first, last, rows = row.iloc[0], row.iloc[1], int(row.iloc[2])
    else:
        dates = store["history"]["date"]
        first, last, rows = dates.min(), dates.max(), len(dates)
    return {"first": pd.Timestamp(first).date(), "last": pd.Timestamp(last).date(), "rows": rows}


def history_end(store: Store) -> dt.date | None:
    """The last day of the history, if the store holds a history with rows."""
    if not store.has("history"):
        return None
    if isinstance(store, Workspace):
        last = store.sql("SELECT max(date) AS last FROM history")["last"].iloc[0]
    else:
        last = store["history"]["date"].max()
    return None if pd.isna(last) else pd.Timestamp(last).date()
