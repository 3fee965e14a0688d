"""Table contracts between stages: columns, dtypes, keys, references, and the id codes.

Ids are strings at the edges and dense ``int32`` codes inside hot loops;
:class:`IdIndex` owns that mapping.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from forestock.errors import TableError
from forestock.tables._schema import SPECS, TABLES, Column, Ref, TableSpec, spec
from forestock.tables._validate import SUFFIXES, read_table, validate

__all__ = [
    "KEY_COLUMNS",
    "LOAD_ORDER",
    "SPECS",
    "SUFFIXES",
    "TABLES",
    "Column",
    "IdIndex",
    "Ref",
    "TableError",
    "TableSpec",
    "from_arrow",
    "lane_hours",
    "read_table",
    "spec",
    "to_arrow",
    "validate",
]

#: Tables whose keys other tables reference, with their key column, in the order they
#: must be known.
KEY_COLUMNS = {"regions": "region_id", "brands": "brand_id", "skus": "sku_id",
               "warehouses": "warehouse_id"}
#: Every table, referenced tables first: the order in which tables are checked.
LOAD_ORDER = (*KEY_COLUMNS, *[t for t in TABLES if t not in KEY_COLUMNS])


class IdIndex:
    """Dense ``int32`` codes for a set of string ids, in the order given."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = np.asarray(list(ids), dtype=object)
        self._index = pd.Index(self.ids)
        if not self._index.is_unique:
            raise ValueError("ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def codes(self, values: Iterable[str] | pd.Series, *, what: str = "id") -> np.ndarray:
        """Return the code of each value; raise ``ValueError`` naming an unknown one."""
        vals = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
        out = self._index.get_indexer(vals)
        if (out < 0).any():
            bad = vals.iloc[int(np.flatnonzero(out < 0)[0])]
            raise ValueError(f"unknown {what} {bad!r}")
        return out.astype(np.int32)


def to_arrow(frame: pd.DataFrame, name: str) -> pa.Table:
    """Convert a typed table to Arrow with the contract's schema (column order kept)."""
    sp = spec(name)
    extra = tuple(c for c in frame.columns if c not in sp.names)
    schema = sp.arrow_schema(extra)
    arrays = []
    for fld in schema:
        col = frame[fld.name]
        if pa.types.is_date32(fld.type):
            days = pd.to_datetime(col).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
            arrays.append(pa.array(days, type=fld.type))
        else:
            arrays.append(pa.array(col.to_numpy(), type=fld.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow table of a contract as pandas, dates as ``datetime64`` (as tables are read)."""
    frame = table.to_pandas()
    for fld in table.schema:
        if pa.types.is_date32(fld.type):
            frame[fld.name] = pd.to_datetime(frame[fld.name])
    return frame


def lane_hours(lanes: pd.DataFrame, warehouses: IdIndex, regions: IdIndex) -> np.ndarray:
    """Transit hours as a ``[warehouse, region]`` matrix, NaN where no lane exists.

    Raises ``ValueError`` naming a lane whose warehouse or region is unknown.
    """
    w = warehouses.codes(lanes["warehouse_id"], what="warehouse_id in lanes")
    r = regions.codes(lanes["region_id"], what="region_id in lanes")
    hours = np.full((len(warehouses), len(regions)), np.nan)
    hours[w, r] = lanes["transit_hours"].to_numpy(dtype=float)
    return hours
