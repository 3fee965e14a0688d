"""After the rehearsal: the insights and the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from forestock.callbacks import Callbacks
from forestock.errors import ForestockError
from forestock.flow._run import StageRun
from forestock.flow._store import Store
from forestock.workspace import Workspace

if TYPE_CHECKING:
    from forestock.insights import InsightsParams, InsightsResult, Rehearsal

__all__ = ["InsightsRun", "ReportRun", "rehearsal_of", "run_insights", "run_report"]


@dataclass(frozen=True)
class InsightsRun(StageRun):
    """The insights computed: their tables, headline figures and window (``result``)."""

    result: InsightsResult

    def _names(self) -> tuple[str, ...]:
        return tuple(self.result.tables)  # which depends on the tables there were


@dataclass(frozen=True)
class ReportRun:
    """A report written: its file, and the tables it showed as stale (with why)."""

    path: Path
    stale: dict[str, str] = field(default_factory=dict)


def run_insights(store: Store, params: InsightsParams | None = None, *, seed: int = 0,
                 callbacks: Callbacks | None = None, export: str | Path | None = None,
                 export_format: str = "csv", compare: Sequence[Store | str | Path] = ()
                 ) -> InsightsRun:
    """What the event's data says: the brand leaderboard, regional taste, the event's
    lift, the plan's post-mortem and what to change next year (``insight_*`` tables).

    Reads whatever of the history, truth, forecast, plan and outcomes the store holds
    (see ``forestock.insights``), and the stages' notes; writes the insight tables.
    ``export`` also writes each as ``<export>/<table>.csv`` (or ``.parquet``).
    ``compare`` are other stores (or workspace folders) whose rehearsals stand beside
    this one's in ``insight_rehearsals`` and ``insight_rehearsal_days``: a multi-day
    event of the same network beside a one-day event (:func:`rehearsal_of`).
    """
    from forestock import insights

    others = [rehearsal_of(other) for other in compare]
    if isinstance(store, Workspace):
        result = insights.run_insights(store, params, seed=seed, callbacks=callbacks,
                                       export=None if export is None else Path(export),
                                       export_format=export_format, compare=others)
        return InsightsRun(store, dict(store.notes().get("insights", {})), result)
    present = [n for n in insights.READS if store.has(n)]
    if not any(n.startswith("outcomes_") for n in present) and "history" not in present:
        raise ForestockError("insights need at least the history or a rehearsal's outcomes; "
                             "run the stages first")
    with store.stage("insights", reads=present):
        result = insights.compute_insights({n: store.read(n) for n in present}, params,
                                           notes=store.notes(), seed=seed, callbacks=callbacks,
                                           compare=others)
        store.write_many(result.tables, check=False)
        store.note("insights", result.figures)
    if export is not None:
        insights.export_insights(result.tables, Path(export), export_format)
    return InsightsRun(store, dict(store.notes()["insights"]), result)


def rehearsal_of(store: Store | str | Path, label: str | None = None) -> Rehearsal:
    """The rehearsal a store holds (its ``outcomes_day`` and what goes with it), labelled
    ``label`` (default: a workspace's folder, else "tables in memory"), for
    :func:`run_insights`'s ``compare``.

    Raises
    ------
    ForestockError
        When it holds no rehearsal.
    """
    from forestock.insights import Rehearsal

    if isinstance(store, str | Path):
        store = Workspace(store)
    if isinstance(store, Workspace):
        found = Rehearsal.from_workspace(store, label)
        where = str(store.root)
    else:
        names = ("outcomes_day", "outcomes_warehouse", "warehouses", "outcomes_stock",
                 "calendar", "skus", "history", "truth")
        found = Rehearsal.from_tables({n: store.read(n) for n in names if store.has(n)},
                                      store.notes(), label or "tables in memory")
        where = "the tables in memory"
    if found is None:
        raise ForestockError(f"no rehearsal to compare with in {where} (no outcomes_day): "
                             "run `forestock simulate` there first")
    return found


def run_report(store: Store, output: str | Path | None = None, *, seed: int | None = None
               ) -> ReportRun:
    """Write the self-contained HTML report (opens offline) of whatever the store holds.

    ``output`` defaults to ``report.html`` in a workspace, or in the current folder for
    tables in memory. ``seed`` (shown in the notes) defaults to the rehearsal's, as noted.
    A workspace's tables computed from inputs that changed since are marked stale in the
    report and listed in ``run.stale``.
    """
    from forestock.report import MemorySource, build_report

    if not isinstance(store, Workspace):
        path = build_report(MemorySource(dict(store), store.notes()), output, seed=seed)
        return ReportRun(path)
    store.check_exists()
    store.tidy()
    return ReportRun(build_report(store, output, seed=seed), store.stale())
