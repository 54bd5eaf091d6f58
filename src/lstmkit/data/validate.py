"""Checks on raw tables: columns present, numeric where they must be, finite.

Each check raises ``DataError`` naming the column, the row (its 0-based position in
the table as given) and the fix. The time column's checks are in ``timestep``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from ..checks import closest
from ..errors import DataError, SchemaError

SENTINELS = {"?", "-", "--", "na", "n/a", "nan", "null", "none", "missing", "nil", "#n/a", ""}


def require_columns(frame: pd.DataFrame, columns: Iterable[str], role: str,
                    error: type[DataError] = DataError) -> None:
    """Raise ``error`` naming the first of ``columns`` that ``frame`` lacks."""
    available = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            raise error(f"{role} column {column!r} is missing from the data"
                        f"{closest(column, available)}; the data has columns {available}")


def numeric(frame: pd.DataFrame, column: str, rows: np.ndarray, *, allow_nan: bool) -> np.ndarray:
    """Column ``column`` as float64, or a ``DataError`` naming the first bad value and its row."""
    series = frame[column]
    if isinstance(series.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    ):
        parsed = pd.to_numeric(series, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())
        if bad.size:
            i = bad[0]
            value = series.iloc[i]
            if str(value).strip().lower() in SENTINELS:
                raise DataError(
                    f"column {column!r} holds {value!r} at row {rows[i]}, which looks like a "
                    f"missing-value marker; read it as missing (pandas: read_csv(..., "
                    f"na_values=[{value!r}])) and choose a missing policy "
                    f"(Feature({column!r}, missing='ffill' or 'mask'))")
            raise DataError(
                f"column {column!r} must be numeric but holds {value!r} at row "
                f"{rows[i]}; clean the value, or declare the column categorical "
                f"(Feature({column!r}, kind='categorical'))")
        series = parsed
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isfinite(values).all():                        # the common case: one pass
        return values
    if np.isinf(values).any():
        i = np.flatnonzero(np.isinf(values))[0]
        raise DataError(f"column {column!r} holds {values[i]} at row {rows[i]}; infinite values "
                        "are not allowed: replace them or drop the row")
    if not allow_nan and np.isnan(values).any():
        i = np.flatnonzero(np.isnan(values))[0]
        raise DataError(f"input column {column!r} has a missing value (NaN) at row {rows[i]}; "
                        "fill the gap or drop the row, or choose a missing policy: "
                        f"Feature({column!r}, missing='ffill' or 'mask') (YAML: missing: ffill)")
    return values


BLOCK_BYTES = 1 << 25      # bytes (as float64) read at once by numeric_columns


def numeric_columns(frame: pd.DataFrame, columns: list[str], rows: np.ndarray, *,
                    allow_nan: list[bool]) -> Iterator[np.ndarray]:
    """``numeric`` for each of ``columns`` in turn, converted a block of columns at a time.

    Plain numeric columns that are all finite are read in blocks of at most
    ``BLOCK_BYTES`` (one pandas call per block, not per column); any other block
    goes column by column through ``numeric``, which names the bad value. A block
    of float columns comes in its own common type (float32 stays float32: the
    scalers compute in float64 without a float64 copy of every column first).
    """
    width = max(1, BLOCK_BYTES // (8 * max(len(frame), 1)))
    for lo in range(0, len(columns), width):
        names, nan_ok = columns[lo : lo + width], allow_nan[lo : lo + width]
        if all(isinstance(d, np.dtype) and d.kind in "fiub" for d in frame.dtypes[names]):
            values = frame[names].to_numpy()                       # (rows, block)
            if values.dtype.kind != "f":      # integers, booleans, or a mix (objects)
                values = values.astype(np.float64)
            if np.isfinite(values).all():
                yield from values.T                                # (rows,) each
                continue
        for name, ok in zip(names, nan_ok, strict=True):
            yield numeric(frame, name, rows, allow_nan=ok)


def present(frame: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """A categorical input column as objects, or a ``DataError`` on its first missing value."""
    values = frame[column].to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        i = np.flatnonzero(missing)[0]
        raise DataError(f"categorical input column {column!r} has a missing value at row "
                        f"{rows[i]}; fill it with a category of its own or drop the row, or "
                        f"choose a missing policy: Feature({column!r}, kind='categorical', "
                        "missing='ffill' or 'mask')")
    return values


def check_schema(frame: pd.DataFrame, schema: dict[str, str]) -> None:
    """Raise ``SchemaError`` if a column the model was trained on is missing or retyped."""
    require_columns(frame, schema, "required", error=SchemaError)
    for column, kind in schema.items():
        series = frame[column]
        numeric_now = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        if kind == "numeric" and not numeric_now:
            parsed = pd.to_numeric(series, errors="coerce")
            bad = np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())
            if bad.size:
                raise SchemaError(
                    f"column {column!r} was numeric when the model was trained but now holds "
                    f"{series.iloc[bad[0]]!r} at row {bad[0]} (dtype {series.dtype}); pass "
                    "numbers in that column")
