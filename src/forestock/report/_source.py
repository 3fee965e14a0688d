"""Where the report's tables come from: a workspace, or tables and results held in memory.

Both sources answer the same questions (which tables, their rows, SQL over
them, the stages' notes), and tables in memory are typed exactly as a
workspace stores them (validated, then converted to the contract's Arrow
schema), so the same tables give the same report whichever way they came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forestock.errors import ForestockError, MissingTableError
from forestock.tables import TABLES, from_arrow, to_arrow, validate
from forestock.workspace import Workspace

if TYPE_CHECKING:
    from forestock.insights import InsightsResult
    from forestock.plan import PlanResult
    from forestock.simulate import ScenariosResult, SimulateResult
    from forestock.world import WorldResult

    Part: TypeAlias = (Mapping[str, pd.DataFrame] | SimulateResult | PlanResult | InsightsResult
                       | WorldResult | ScenariosResult)
    ReportInput: TypeAlias = Workspace | Part | Sequence[Part]

__all__ = ["Frames", "MemorySource", "Source", "TableReader", "WorkspaceSource", "open_source"]


class TableReader(Protocol):
    """Reads tables by name: a workspace, or tables in memory."""

    def has(self, name: str) -> bool:
        """Whether table ``name`` is there."""
        ...

    def read(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Table ``name`` as pandas (dates as ``datetime64``)."""
        ...


class Source(TableReader, Protocol):
    """What the report's data layer reads: tables, SQL over them, the stages' notes."""

    @property
    def workspace(self) -> Path | None:
        """The workspace's folder; ``None`` for tables in memory."""
        ...

    def require(self, names: Sequence[str], what: str) -> None:
        """Raise :class:`MissingTableError` naming the tables ``what`` needs but lacks."""
        ...

    def sql(self, query: str) -> pd.DataFrame:
        """A read-only query over the tables, each a view named after it."""
        ...

    def tables(self) -> list[str]:
        """Names of the tables present, in flow order."""
        ...

    def rows(self, name: str) -> int:
        """Rows of table ``name``."""
        ...

    def notes(self) -> dict[str, dict[str, Any]]:
        """What each stage recorded about its run (its seed...), by stage."""
        ...

    def stale(self) -> dict[str, str]:
        """Tables computed from inputs that changed since, with the reason."""
        ...


class Frames:
    """A :class:`TableReader` over frames already typed (as read from a source)."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self._frames = dict(frames)

    def has(self, name: str) -> bool:
        return name in self._frames

    def read(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if name not in self._frames:
            raise MissingTableError(f"no table {name} among {', '.join(self._frames)}")
        frame = self._frames[name]
        return (frame[list(columns)] if columns else frame).copy()


class WorkspaceSource:
    """A workspace's tables, read where they lie (aggregates by SQL over its Parquet files)."""

    def __init__(self, ws: Workspace) -> None:
        ws.check_exists()
        self.ws = ws

    @property
    def workspace(self) -> Path | None:
        return self.ws.root

    def has(self, name: str) -> bool:
        return self.ws.has(name)

    def read(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self.ws.read(name, columns)

    def require(self, names: Sequence[str], what: str) -> None:
        self.ws.require(names, what)

    def sql(self, query: str) -> pd.DataFrame:
        return self.ws.sql(query)

    def tables(self) -> list[str]:
        return self.ws.tables()

    def rows(self, name: str) -> int:
        return int(pq.ParquetFile(self.ws.path(name)).metadata.num_rows)

    def notes(self) -> dict[str, dict[str, Any]]:
        return self.ws.notes()

    def stale(self) -> dict[str, str]:
        return self.ws.stale()


class MemorySource:
    """Tables held in memory, read as a workspace would read them.

    Each table is validated against its contract and converted to its Arrow
    schema when first read (so a table the report never reads, such as the
    history, costs nothing); SQL runs in DuckDB over those Arrow tables.

    Parameters
    ----------
    tables
        Tables by name (``None`` values are left out).
    notes
        What each stage recorded about its run, by stage (``{"simulate":
        {"seed": 0, "day": "2027-11-11"}}``), as a workspace's notes.

    Raises
    ------
    ValueError
        A name that is no table of the contracts.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame | None],
                 notes: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown table name(s) {', '.join(map(repr, unknown))}; tables "
                             f"are named as in the contracts ({', '.join(TABLES[:6])}, ...)")
        self._frames = {n: f for n in TABLES if (f := tables.get(n)) is not None}
        self._arrow: dict[str, pa.Table] = {}
        self._notes = {stage: dict(facts) for stage, facts in (notes or {}).items()}

    @property
    def workspace(self) -> Path | None:
        return None

    def has(self, name: str) -> bool:
        return name in self._frames

    def require(self, names: Sequence[str], what: str) -> None:
        missing = [n for n in names if n not in self._frames]
        if missing:
            raise MissingTableError(f"{what} needs the table(s) {', '.join(missing)}, which the "
                                    "tables given do not hold")

    def _table(self, name: str) -> pa.Table:
        if name not in self._arrow:
            typed = validate(self._frames[name], name, source=f"{name} (in memory)")
            self._arrow[name] = to_arrow(typed, name)
        return self._arrow[name]

    def read(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        self.require([name], f"reading {name}")
        table = self._table(name)
        if columns:
            table = table.select(list(columns))
        return from_arrow(table)

    def sql(self, query: str) -> pd.DataFrame:
        con = duckdb.connect(":memory:")
        try:
            for name in self._frames:
                if re.search(rf"\b{name}\b", query):
                    con.register(name, self._table(name))
            try:
                return con.execute(query).df()
            except duckdb.Error as err:
                raise ForestockError(f"SQL error: {err}") from None
        finally:
            con.close()

    def tables(self) -> list[str]:
        return list(self._frames)

    def rows(self, name: str) -> int:
        return len(self._frames[name])

    def notes(self) -> dict[str, dict[str, Any]]:
        return {stage: dict(facts) for stage, facts in self._notes.items()}

    def stale(self) -> dict[str, str]:
        return {}


def open_source(source: ReportInput | Source) -> Source:
    """The report's source for a workspace, tables by name, stage results, or a list of these.

    Results give their tables (a rehearsal its ``outcomes_*``, a plan its
    ``plan``, insights their ``insight_*``) and their stage's seed (and the
    rehearsal its day), as a workspace's notes would; a later item's tables
    replace an earlier one's of the same name.

    Raises
    ------
    WorkspaceNotFoundError
        A workspace whose folder does not exist.
    TypeError
        Something else.
    """
    if isinstance(source, WorkspaceSource | MemorySource):
        return source
    if isinstance(source, Workspace):
        return WorkspaceSource(source)
    parts = list(source) if isinstance(source, list | tuple) else [source]
    tables: dict[str, pd.DataFrame] = {}
    notes: dict[str, dict[str, Any]] = {}
    for part in parts:
        _gather(part, tables, notes)
    return MemorySource(tables, notes)


def _gather(part: object, tables: dict[str, pd.DataFrame],
            notes: dict[str, dict[str, Any]]) -> None:
    """Add the tables and the stage's notes of one in-memory ``part``."""
    from forestock.insights import InsightsResult
    from forestock.plan import PlanResult
    from forestock.simulate import ScenariosResult, SimulateResult
    from forestock.world import WorldResult

    if isinstance(part, Mapping):
        tables.update(part)
        return
    stages: dict[type, str] = {WorldResult: "world", PlanResult: "plan",
                               SimulateResult: "simulate", InsightsResult: "insights",
                               ScenariosResult: "scenarios"}
    stage = stages.get(type(part))
    if stage is None:
        raise TypeError(f"cannot report on a {type(part).__name__}: give a Workspace, tables by "
                        "name, stage results (world, plan, simulate, scenarios, insights) or "
                        "a list of these")
    found = getattr(part, "tables", None)
    if isinstance(found, Mapping):
        tables.update(found)
    facts: dict[str, Any] = {"seed": getattr(part, "seed", None)}
    if isinstance(part, PlanResult):
        tables["plan"] = part.plan
    if isinstance(part, SimulateResult):
        facts["day"] = part.day.isoformat()
    notes[stage] = facts
