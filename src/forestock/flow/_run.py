"""What every stage run returns: where its tables went, and its figures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from forestock.flow._store import Store, TableView

__all__ = ["StageRun", "public_facts"]


@dataclass(frozen=True)
class StageRun:
    """A stage's run: the store it read and wrote, and the facts it noted there.

    ``tables`` gives the stage's tables, read from the store when asked for.
    """

    NAMES: ClassVar[tuple[str, ...]] = ()
    """The tables the stage writes."""

    store: Store
    facts: dict[str, Any]

    def _names(self) -> tuple[str, ...]:
        return self.NAMES

    @property
    def tables(self) -> TableView:
        """The tables this stage wrote, by name."""
        return TableView(self.store, self._names())


def public_facts(obj: object) -> dict[str, Any]:
    """A result dataclass's fields, its tables left out."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: v for k, v in dataclasses.asdict(obj).items()
                if not isinstance(v, pd.DataFrame)}
    return dict(vars(obj))
