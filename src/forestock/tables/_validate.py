"""Reading and validating tables: every problem names the file, the row and the column."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forestock.errors import TableError
from forestock.tables._schema import SPECS, Column, spec

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


#: The range of a 64-bit integer, the type every integer column is stored as.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_TEXT = r"[+-]?\d+"
#: Floats are exact integers up to 2**53; beyond, a text is parsed digit by digit.
_EXACT_FLOAT = 2.0**53


def _not_numeric(values: pd.Series, col: Column, source: str) -> None:
    """Refuse a column of dates, durations or booleans where a number is expected."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise TableError(source, 1, col.name, f"holds true/false, expected {_KIND_WORDS[col.kind]}")
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise TableError(source, 1, col.name,
                         f"holds dates or times ({dtype}), expected {_KIND_WORDS[col.kind]}")


def _exact_int(text: str) -> int | None:
    """The integer a number's text stands for exactly (``"1e3"`` -> 1000), else ``None``."""
    try:
        num = Decimal(text)
    except InvalidOperation:
        return None
    if not num.is_finite() or num != num.to_integral_value():
        return None
    return int(num)


def _ints(values: pd.Series, empty: np.ndarray, col: Column,
          source: str) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers as ``int64`` (empty cells 0), and the sign of those beyond ``int64``.

    Integers never pass through ``float64``: text of digits is read digit by
    digit, integer columns are taken as they are, and a float column is taken
    only where it holds whole numbers. ``wide`` is +1 (-1) where a value is
    above (below) the 64-bit range; its ``int64`` slot then holds 0.
    """
    n = len(values)
    out = np.zeros(n, dtype=np.int64)
    wide = np.zeros(n, dtype=np.int8)

    def put(rows: np.ndarray, ints: list[int]) -> None:
        for row, v in zip(rows, ints, strict=True):
            if INT64_MIN <= v <= INT64_MAX:
                out[row] = v
            else:
                wide[row] = 1 if v > 0 else -1

    dtype = values.dtype
    if pd.api.types.is_integer_dtype(dtype):
        if dtype.kind == "u" or str(dtype) == "UInt64":
            filled = values.to_numpy(dtype=object, na_value=0)
            put(np.arange(n), [int(v) for v in filled])
        else:
            out[:] = values.to_numpy(dtype=np.int64, na_value=0)
        return out, wide
    if pd.api.types.is_float_dtype(dtype):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        _finite_whole(arr, empty, values, col, source)
        big = ~empty & (np.abs(np.nan_to_num(arr)) >= 2.0**63)
        small = ~empty & ~big
        out[small] = arr[small].astype(np.int64)
        wide[big] = np.sign(arr[big]).astype(np.int8)
        return out, wide
    text = values.astype("string").str.strip()
    digits = text.str.fullmatch(_INT_TEXT).fillna(False).to_numpy(dtype=bool) & ~empty
    short = digits & (text.str.lstrip("+-").str.lstrip("0").str.len().fillna(0)
                      .to_numpy() <= 18)
    out[short] = text[short].to_numpy(dtype=str).astype(np.int64)
    long = np.flatnonzero(digits & ~short)
    put(long, [int(t) for t in text.iloc[long]])
    rest = ~digits & ~empty
    if rest.any():
        num = pd.to_numeric(text[rest], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        arr = np.full(n, np.nan)
        arr[rest] = num
        bad = rest & np.isnan(arr)
        if bad.any():
            row = _first(bad)
            raise TableError(source, row + 1, col.name,
                             f"value {_shown(values.iloc[row])} is not a number (expected int)")
        _finite_whole(arr, ~rest, values, col, source)
        exact = rest & (np.abs(arr) < _EXACT_FLOAT)
        out[exact] = arr[exact].astype(np.int64)
        doubt = np.flatnonzero(rest & ~exact)
        ints = []
        for at in doubt:
            whole = _exact_int(str(text.iloc[at]))
            if whole is None:
                raise TableError(source, int(at) + 1, col.name,
                                 f"value {_shown(values.iloc[at])} is not a whole number")
            ints.append(whole)
        put(doubt, ints)
    return out, wide


def _exact_floats(values: pd.Series, num: pd.Series) -> np.ndarray:
    """Numbers as ``float64``, text read correctly rounded (pandas' fast parser is not)."""
    arr = num.to_numpy(dtype=float, na_value=np.nan)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("string").str.strip()
        ok = ~np.isnan(arr) & text.notna().to_numpy(dtype=bool)
        is_text = np.array([isinstance(v, str) for v in values], dtype=bool)
        ok &= is_text
        if ok.any():
            arr[ok] = text[ok].to_numpy(dtype=str).astype(np.float64)
    return arr


def _finite_whole(arr: np.ndarray, skip: np.ndarray, values: pd.Series, col: Column,
                  source: str) -> None:
    """Raise at the first infinite or fractional value of ``arr`` outside ``skip``."""
    inf = np.isinf(arr) & ~skip
    if inf.any():
        raise TableError(source, _first(inf) + 1, col.name, "value is infinite")
    filled = np.nan_to_num(arr, posinf=0.0, neginf=0.0)
    frac = ~skip & (filled != np.round(filled))
    if frac.any():
        row = _first(frac)
        raise TableError(source, row + 1, col.name,
                         f"value {_shown(values.iloc[row])} is not a whole number")


def _bounds(low: np.ndarray, high: np.ndarray, empty: np.ndarray, values: pd.Series, col: Column,
            source: str) -> None:
    """Raise at the first value below ``col.low`` (where ``low``) or above ``col.high``."""
    checks = []
    if col.low is not None:
        word = "negative" if col.low == 0 else f"below {col.low:g}"
        checks.append((low, f"is {word} (must be >= {col.low:g})"))
    if col.high is not None:
        checks.append((high, f"is above {col.high:g}"))
    for broken, what in checks:
        broken = broken & ~empty
        if broken.any():
            row = _first(broken)
            raise TableError(source, row + 1, col.name, f"value {_shown(values.iloc[row])} {what}")


_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _bools(values: pd.Series, empty: np.ndarray, col: Column, source: str) -> pd.Series:
    """True/false cells (``true``/``false``, ``1``/``0``, ``yes``/``no`` in text)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(values.to_numpy(dtype=bool, na_value=False), index=values.index)
    text = values.astype("string").str.strip().str.lower()
    yes = text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)
    no = text.isin(_FALSE).fillna(False).to_numpy(dtype=bool)
    bad = ~(yes | no) & ~empty
    if bad.any():
        row = _first(bad)
        raise TableError(source, row + 1, col.name,
                         f"value {_shown(values.iloc[row])} is not true or false")
    return pd.Series(yes, index=values.index)


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
    if col.kind == "bool":
        return _bools(values, empty, col, source)
    if col.kind == "int":
        _not_numeric(values, col, source)
        ints, wide = _ints(values, empty, col, source)
        inside = wide == 0
        low = (ints < col.low) & inside if col.low is not None else np.zeros(len(ints), bool)
        high = (ints > col.high) & inside if col.high is not None else np.zeros(len(ints), bool)
        if col.low is not None:
            low |= wide < 0
        _bounds(low, high, empty, values, col, source)
        if (~inside & ~empty).any():
            row = _first(~inside & ~empty)
            raise TableError(source, row + 1, col.name,
                             f"value {_shown(values.iloc[row])} is out of range (a 64-bit "
                             f"integer holds {INT64_MIN:,} to {INT64_MAX:,})")
        return pd.Series(ints, index=values.index)
    if col.kind == "float":
        _not_numeric(values, col, source)
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
        arr = _exact_floats(values, num)
        inf = np.isinf(arr)
        if inf.any():
            raise TableError(source, _first(inf) + 1, col.name, "value is infinite")
        low = arr < col.low if col.low is not None else np.zeros(len(arr), dtype=bool)
        high = arr > col.high if col.high is not None else np.zeros(len(arr), dtype=bool)
        _bounds(low, high, empty, values, col, source)
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
        start = raw.rfind(b"\n", 0, err.start) + 1
        field = raw.count(b",", start, err.start)  # quotes aside, the cell's column
        header = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").split(",")
        column = header[field].strip() if line > 1 and field < len(header) else "-"
        raise TableError(
            src,
            max(line - 1, 0),
            column,
            f"is not UTF-8 text (byte {err.start} on line {line}); save it as UTF-8",
        ) from None


#: Parquet types (Arrow type predicates) each column kind accepts.
_PARQUET_KINDS = {
    "int": (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal),
    "float": (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal),
    "str": (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer),
    "date": (pa.types.is_date, pa.types.is_timestamp, pa.types.is_string,
             pa.types.is_large_string),
    "timestamp": (pa.types.is_date, pa.types.is_timestamp, pa.types.is_string,
                  pa.types.is_large_string),
    "bool": (pa.types.is_boolean,),
}
_KIND_WORDS = {"int": "whole numbers", "float": "numbers", "str": "text",
               "date": "dates", "timestamp": "timestamps", "bool": "true/false"}


def _check_parquet_types(schema: pa.Schema, name: str, src: str) -> None:
    """Refuse a Parquet column whose logical type cannot hold its contract's kind."""
    sp = spec(name)
    for fld in schema:
        try:
            col = sp.column(str(fld.name).strip())
        except KeyError:
            continue  # an unknown column: validate names it
        typ = fld.type
        if pa.types.is_dictionary(typ):
            typ = typ.value_type
        if pa.types.is_null(typ) or any(ok(typ) for ok in _PARQUET_KINDS[col.kind]):
            continue
        raise TableError(src, 1, col.name, f"is a Parquet column of type {typ}; expected "
                                           f"{_KIND_WORDS[col.kind]}")


#: Arrow integers read as pandas' nullable integers: never through float64.
_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(),
}


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
        stem = name or path.stem.lower()
        if stem in SPECS:
            _check_parquet_types(table.schema, stem, src)
        return table.to_pandas(types_mapper=_NULLABLE_INTS.get)
    raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")

