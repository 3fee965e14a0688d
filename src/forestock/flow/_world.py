"""The world stage: the embedded China world, into a folder or into memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from forestock.callbacks import Callbacks
from forestock.flow._run import StageRun, public_facts
from forestock.flow._store import Store, Tables

if TYPE_CHECKING:
    from forestock.world import WorldParams, WorldResult

__all__ = ["WorldRun", "run_world"]


@dataclass(frozen=True)
class WorldRun(StageRun):
    """A world generated: rows per table, its windows and seed (``result``)."""

    NAMES: ClassVar[tuple[str, ...]] = ("regions", "warehouses", "brands", "skus", "lanes",
                                        "calendar", "history", "truth")

    result: WorldResult


def run_world(store: Store | None = None, params: WorldParams | None = None, *,
              callbacks: Callbacks | None = None) -> WorldRun:
    """Generate the embedded China world (the same seed, the same tables).

    Writes regions, warehouses, brands, skus, lanes, calendar, history and truth into
    ``store`` (default: new :class:`Tables` in memory, ``run.store``).

    Parameters
    ----------
    store
        A workspace or tables in memory.
    params
        Size and shape; default :class:`~forestock.world.WorldParams`.
    callbacks
        Progress (task ``"world"``, by SKUs generated).
    """
    from forestock.world import WorldParams, build_world

    store = Tables() if store is None else store
    params = params if params is not None else WorldParams()
    t0 = time.perf_counter()
    with store.stage("world"):  # every table of the world, published together
        result = build_world(store, params, callbacks)
        facts = {**public_facts(result), "seconds": round(time.perf_counter() - t0, 2)}
        store.note("world", facts)
    return WorldRun(store, facts, result)
