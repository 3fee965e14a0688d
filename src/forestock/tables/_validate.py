"""Reading and validating tables: every problem names the file, the row and the column."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forestock.errors import TableError
from forestock.tables._schema import Column, spec

SUFFIXES = (".parquet", ".csv")


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _empty(values: pd.Series) -> np.ndarray:
    mask = values.isna().to_numpy().copy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        as_text = values.astype("string")
        mask |= (as_text.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return mask


def _coerce(values: pd.Series, col: Column, source: str) -> pd.Series:
    """Return ``values`` converted to the column's kind, or raise naming the first bad row."""
    empty = _empty(values)
    if empty.any() and not col.nullable:
        row = _first(empty)
        raise TableError(source, row + 1, col.name, "is empty (a value is required)")
    if col.kind == "str":
        out = values.astype("string").str.strip()
        if col.choices is not None:
            bad = ~out.isin(col.choices).fillna(True).to_numpy(dtype=bool) & ~empty
            if bad.any():
                row = _first(bad)
                raise TableError(
                    source,
                    row + 1,
                    col.name,
                    f"value {_shown(out.iloc[row])} is not one of {', '.join(col.choices)}",
                )
        return out.astype(object).where(~empty, None)
    if col.kind in ("int", "float"):
        if pd.api.types.is_bool_dtype(values.dtype):
            raise TableError(source, 1, col.name, f"holds true/false, expected a {col.kind} number")
        num = pd.to_numeric(values, errors="coerce")
        bad = num.isna().to_numpy() & ~empty
        if bad.any():
            row = _first(bad)
            raise TableError(
                source,
                row + 1,
                col.name,
                f"value {_shown(values.iloc[row])} is not a number (expected {col.kind})",
            )
        arr = num.to_numpy(dtype=float, na_value=np.nan)
        inf = np.isinf(arr)
        if inf.any():
            raise TableError(source, _first(inf) + 1, col.name, "value is infinite")
        if col.kind == "int":
            frac = ~empty & (np.nan_to_num(arr) != np.round(np.nan_to_num(arr)))
            if frac.any():
                row = _first(frac)
                shown = _shown(values.iloc[row])
                raise TableError(source, row + 1, col.name, f"value {shown} is not a whole number")
        checks = []
        if col.low is not None:
            word = "negative" if col.low == 0 else f"below {col.low:g}"
            checks.append((arr < col.low, f"is {word} (must be >= {col.low:g})"))
        if col.high is not None:
            checks.append((arr > col.high, f"is above {col.high:g}"))
        for broken, what in checks:
            broken &= ~empty
            if broken.any():
                row = _first(broken)
                raise TableError(source, row + 1, col.name,
                                 f"value {_shown(values.iloc[row])} {what}")
        if col.kind == "int":
            return pd.Series(np.nan_to_num(arr).astype(np.int64), index=values.index)
        return pd.Series(arr, index=values.index)
    # date / timestamp
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        ts = values
    else:
        ts = pd.to_datetime(values.astype("string"), errors="coerce", format="ISO8601")
        bad = ts.isna().to_numpy() & ~empty
        if bad.any():
            row = _first(bad)
            raise TableError(
                source,
                row + 1,
                col.name,
                f"value {_shown(values.iloc[row])} is not a date (expected YYYY-MM-DD)",
            )
    ts = ts.astype("datetime64[s]")
    if col.kind == "date":
        with_time = ~empty & (ts.dt.normalize() != ts).to_numpy(dtype=bool)
        if with_time.any():
            row = _first(with_time)
            raise TableError(source, row + 1, col.name, "holds a time of day; expected a date")
    return ts


def validate(
    frame: pd.DataFrame,
    name: str,
    *,
    source: str | None = None,
    known: Mapping[str, pd.Index | set[str]] | None = None,
) -> pd.DataFrame:
    """Check ``frame`` against the contract of table ``name`` and return it typed.

    Parameters
    ----------
    frame
        The table as read, with cells as text or typed values.
    name
        Table name, one of :data:`forestock.tables.TABLES`.
    source
        What to call the table in messages (a file name); defaults to ``name``.
    known
        Keys of referenced tables (``{"skus": Index([...])}``); references to
        tables not given are not checked.

    Returns
    -------
    pandas.DataFrame
        Columns in contract order, typed: ids as ``object`` strings, numbers as
        ``int64``/``float64``, dates as ``datetime64[s]``; rows blank in the
        contract's ``skip_blank`` column (a calendar date without events) dropped.

    Raises
    ------
    TableError
        On the first problem, naming the source, the 1-based data row (header
        not counted) and the column.
    """
    sp = spec(name)
    src = source or name
    cols = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(cols, axis=1)
    dupes = [c for c in set(cols) if cols.count(c) > 1]
    if dupes:
        raise TableError(src, 0, dupes[0], "appears twice in the header")
    missing = [c for c in sp.names if c not in cols]
    if missing:
        raise TableError(src, 0, missing[0], f"is missing (needed: {', '.join(sp.names)})")
    extra = [c for c in cols if c not in sp.names]
    bad_extra = [c for c in extra if not (sp.extra and re.fullmatch(sp.extra, c))]
    if bad_extra:
        raise TableError(
            src, 0, bad_extra[0], f"is not a column of {name} (expected: {', '.join(sp.names)})"
        )
    if len(frame) == 0:
        raise TableError(src, 1, sp.names[0], "the table has no rows")
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(
        {c: _coerce(frame[c], sp.column(c), src) for c in (*sp.names, *sorted(extra))}
    )
    rows = np.arange(len(out))  # each kept row's 0-based data row in ``frame``
    if sp.skip_blank is not None:
        kept = out[sp.skip_blank].notna().to_numpy()
        out, rows = out[kept].reset_index(drop=True), rows[kept]
    keys = list(sp.key)
    dup = out.duplicated(subset=keys, keep="first").to_numpy()
    if dup.any():
        row = _first(dup)
        shown = ", ".join(f"{k}={out[k].iloc[row]}" for k in keys)
        raise TableError(src, int(rows[row]) + 1, keys[-1],
                         f"duplicate key ({shown}) seen in an earlier row")
    for ref in sp.refs:
        if known is None or ref.table not in known:
            continue
        vals = out[ref.column]
        present = vals.notna().to_numpy()
        ok = vals.isin(pd.Index(list(known[ref.table]))).to_numpy()
        bad = present & ~ok
        if bad.any():
            row = _first(bad)
            raise TableError(
                src,
                int(rows[row]) + 1,
                ref.column,
                f"{_shown(vals.iloc[row])} is not a known {ref.target} in {ref.table}",
            )
    return out


def _decode(raw: bytes, src: str) -> str:
    if not raw.strip():
        raise TableError(src, 0, "-", "the file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise TableError(
            src,
            max(line - 1, 0),
            "-",
            f"is not UTF-8 text (byte {err.start} on line {line}); save it as UTF-8",
        ) from None


def read_table(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file without checking it against the contract.

    The table name defaults to the file's stem. Cells of CSV files are
    returned as text; :func:`validate` types them.
    """
    path = Path(path)
    src = path.name
    if path.suffix.lower() == ".csv":
        text = _decode(path.read_bytes(), src)
        try:
            return pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
            )
        except pd.errors.ParserError as err:
            match = re.search(r"line (\d+)", str(err))
            row = int(match.group(1)) - 1 if match else 0
            raise TableError(src, row, "-", f"is not a well-formed CSV row: {err}") from None
        except pd.errors.EmptyDataError:
            raise TableError(src, 0, "-", "the file is empty") from None
    if path.suffix.lower() == ".parquet":
        if path.stat().st_size == 0:
            raise TableError(src, 0, "-", "the file is empty")
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise TableError(src, 0, "-", f"is not a readable Parquet file: {err}") from None
        return table.to_pandas()
    raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")

