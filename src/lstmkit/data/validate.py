"""Checks on raw tables: columns present, numeric where they must be, finite.

Each check raises ``DataError`` naming the column, the row (its 0-based position in
the table as given) and the fix. The time column's checks are in ``timestep``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..checks import closest, quote
from ..errors import DataError, SchemaError, warn

COLUMNS_CHARS = 240     # the most characters of a table's column names that a message lists

SENTINELS = {"?", "-", "--", "na", "n/a", "nan", "null", "none", "missing", "nil", "#n/a", ""}
# A number written with a decimal comma (35,27 or -1.234,5 with dots between thousands), as
# spreadsheets in much of Europe write CSV files (with ';' between fields).
DECIMAL_COMMA = re.compile(r"\s*[-+]?\d{1,3}(?:\.\d{3})*,\d+(?:[eE][-+]?\d+)?\s*|"
                           r"\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*")
THOUSANDS_DOT = re.compile(r"\s*[-+]?\d{1,3}(?:\.\d{3})+,\d+")
# A number with commas between thousands (1,234.5 or 12,345), as English spreadsheets show it.
THOUSANDS_COMMA = re.compile(r"\s*[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*")
# ... or with spaces between thousands (135 450, 1 234,5), as French and Nordic ones do.
THOUSANDS_SPACE = re.compile(r"\s*[-+]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?\s*")
PERCENT = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)\s*%\s*")


def number_text_hint(value: Any, column: str) -> str:
    """How to read ``value`` as a number where it is one written as a spreadsheet shows it
    (a decimal comma, commas or spaces between thousands, a percent sign), or is the
    column's name (its header written again), else ""."""
    if not isinstance(value, str):
        return ""
    if value.strip() == column:
        return (f"; that is the column's name: the header written again (two files joined "
                f"into one?): drop that row, df = df[df[{column!r}] != {column!r}] (in a CSV "
                "file, delete that line)")
    if THOUSANDS_COMMA.fullmatch(value) and ("." in value or value.count(",") > 1):
        return (f"; {quote(value)} looks like a number with commas between thousands: read the "
                f"file with pandas.read_csv(path, thousands=',') (lstmkit's own CSV reader does "
                f"so where its first rows hold such numbers), or df[{column!r}] = "
                f"pd.to_numeric(df[{column!r}].str.replace(',', ''))")
    if THOUSANDS_SPACE.fullmatch(value):
        comma = ".str.replace(',', '.')" if "," in value else ""
        return (f"; {quote(value)} looks like a number with spaces between thousands: read it as "
                rf"a number, df[{column!r}] = pd.to_numeric(df[{column!r}].str.replace(r'\s', "
                f"'', regex=True){comma})")
    if PERCENT.fullmatch(value):
        return (f"; {quote(value)} looks like a percentage: read it as a number, df[{column!r}] = "
                f"pd.to_numeric(df[{column!r}].str.rstrip('%')) (divide by 100 for fractions), "
                "or write the file without the % signs")
    if not DECIMAL_COMMA.fullmatch(value):
        return ""
    thousands = ", thousands='.'" if THOUSANDS_DOT.match(value) else ""   # as 1.234,5
    either = (" (or, if the comma is between thousands, pandas.read_csv(path, "
              "thousands=','))" if THOUSANDS_COMMA.fullmatch(value) else "")   # 1,234
    return (f"; {quote(value)} looks like a number with a decimal comma: read the file with "
            f"pandas.read_csv(path, sep=';', decimal=','{thousands}) (lstmkit's own CSV reader "
            f"does so for a ';'-separated file whose first rows hold such numbers){either}")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], role: str,
                    error: type[DataError] = DataError) -> None:
    """Raise ``error`` naming the first of ``columns`` that ``frame`` lacks."""
    available = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            other = [c for c in frame.columns if str(c) == column]
            if other:
                raise error(f"{role} column {column!r} is in the data as {quote(other[0])} "
                            f"of type {type(other[0]).__name__}, not a string; name the columns "
                            "with strings: df.columns = df.columns.astype(str)")
            if column in frame.index.names:
                raise error(f"{role} column {column!r} is the index of the data, not one of its "
                            "columns; make it a column: df.reset_index() (or read the file "
                            "without index_col)")
            raise error(f"{role} column {column!r} is missing from the data"
                        f"{closest(column, available)}; the data has columns "
                        f"{quote(available, COLUMNS_CHARS)}")


def warn_time_index(frame: pd.DataFrame, time: str | None) -> None:
    """Warn where a forecast's spec has no time column but ``frame``'s index holds times:
    they are not read, so forecasts are numbered by row and a gap in time goes unnoticed."""
    index = frame.index
    if time is not None or not isinstance(index, pd.DatetimeIndex | pd.PeriodIndex):
        return
    name = index.name or "index"
    warn(f"the data's index ({name!r}) holds times, but the spec has no time column, so they "
         "are not read: forecasts are numbered by row, and a gap in time is not noticed; to "
         f"use them make the index a column and name it: df.reset_index(), "
         f"Spec(time={name!r}, ...)")


NUMBER_SENTINELS = (-9999.0, -999.0, -99999.0, 9999.0, 99999.0)
SENTINEL_SPREADS = 20     # a sentinel this many interquartile ranges from the median: a marker


def warn_sentinels(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Warn where a numeric column holds a missing-value marker as a number (-9999, as the
    Jena weather station writes a gap), far from its other values: fitted and scored as a
    value, it would dominate the scalers, the loss and the errors."""
    for column in dict.fromkeys(columns):
        if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]) \
                or pd.api.types.is_bool_dtype(frame[column]):
            continue
        values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        marked = np.isin(values, NUMBER_SENTINELS)
        if not marked.any() or marked.all():
            continue
        rest = values[~marked & ~np.isnan(values)]
        if not rest.size:
            continue
        low, median, high = np.percentile(rest, [25, 50, 75])
        i = int(np.flatnonzero(marked)[0])
        if abs(values[i] - median) <= SENTINEL_SPREADS * max(high - low, abs(median) * 1e-3):
            continue
        warn(f"column {column!r} holds {values[i]:g} in {int(marked.sum())} row(s) (first at "
             f"row {i}), far from its other values (median {median:.4g}): a missing-value "
             f"marker, fitted as a value? Read it as missing (pandas: read_csv(..., "
             f"na_values=[{values[i]:g}]) or df[{column!r}].replace({values[i]:g}, np.nan)) and "
             f"choose a missing policy (Feature({column!r}, missing='ffill' or 'mask'))")


def check_number_targets(frame: pd.DataFrame, targets: Iterable[Any]) -> None:
    """Raise ``DataError`` where a target that is not labelled (regression and its kin) holds
    text: labels where most values are text (the fix is the target's kind), a stray value
    otherwise. The input-side message would suggest a ``Feature``."""
    for target in targets:
        series = frame[target.name]
        if not target.categorical and _booleans_only(series):
            warn(f"target {target.name!r} holds only True and False, which a {target.kind} "
                 "target reads as 1 and 0 (its forecasts are numbers, not labels); for the "
                 f"probability of True declare Target({target.name!r}, kind='binary') (YAML: "
                 f"{{name: {target.name}, kind: binary}})")
        if target.categorical or pd.api.types.is_numeric_dtype(series) or \
                pd.api.types.is_bool_dtype(series):
            continue
        parsed, bad = _as_numbers(series)
        check_booleans(series, parsed, target.name, np.arange(len(series)))
        if not bad.size or str(series.iloc[bad[0]]).strip().lower() in SENTINELS:
            continue                       # numbers as text, or a missing-value marker
        where = f"holds {quote(series.iloc[bad[0]])} at row {bad[0]}"
        if hint := number_text_hint(series.iloc[bad[0]], target.name):
            raise DataError(f"target {target.name!r} must be numeric but {where}{hint}")
        if bad.size <= series.notna().sum() / 2:
            raise DataError(f"target {target.name!r} must be numeric but {where}; clean the "
                            "value")
        labels = series.dropna().unique()
        kind = "binary" if len(labels) == 2 else "classification"
        raise DataError(
            f"target {target.name!r} is a {target.kind} target but {where} ({len(labels)} "
            f"distinct values): for labels declare Target({target.name!r}, kind={kind!r}) "
            f"(YAML: {{name: {target.name}, kind: {kind}}})")


BOOLEAN_TEXT = ("true", "false")


def _booleans(values: np.ndarray) -> np.ndarray:
    """Which of ``values`` (objects) are booleans, or True / False written as text."""
    return np.array([isinstance(v, bool | np.bool_) or (
        isinstance(v, str) and v.strip().lower() in BOOLEAN_TEXT) for v in values], dtype=bool)


def _booleans_only(series: pd.Series) -> bool:
    """Whether ``series`` holds booleans and nothing else but missing values."""
    if pd.api.types.is_bool_dtype(series):
        return True
    if series.dtype != object:
        return False
    values = series.dropna().to_numpy(dtype=object)
    return bool(values.size) and all(isinstance(v, bool | np.bool_) for v in values)


def check_booleans(series: pd.Series, parsed: pd.Series, column: str, rows: np.ndarray) -> None:
    """Raise ``DataError`` where a column of numbers (``parsed``: ``series`` as numbers, NaN
    where it is none) also holds booleans: a column of booleans alone is 1 and 0 to a
    numeric input or target, but True among numbers is a data error (a flag written into a
    measurement), which would be read as 1.0 without a word."""
    values = series.to_numpy(dtype=object)
    flags = _booleans(values)
    numbers = np.flatnonzero(parsed.notna().to_numpy() & ~flags)
    if not flags.any() or not numbers.size:
        return
    i, j = int(np.flatnonzero(flags)[0]), int(numbers[0])
    raise DataError(f"column {column!r} mixes booleans and numbers ({quote(values[i])} at row "
                    f"{rows[i]}, {quote(values[j])} at row {rows[j]}); a numeric input or "
                    "target reads a column of True and False alone as 1 and 0, but among "
                    "numbers they are no measurement: write the numbers they stand for, or "
                    "give the flag a column of its own")


def _as_numbers(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``series`` parsed as numbers (NaN where it cannot be), and the positions of the values
    that are there but are no numbers (text)."""
    parsed = pd.to_numeric(series, errors="coerce")
    return parsed, np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())


FLOAT32_MAX = float(np.finfo(np.float32).max)   # 3.4e38: the network computes in float32
EXACT_INTEGERS = 2**53     # float64, in which columns are scaled, holds every int up to this


def numeric(frame: pd.DataFrame, column: str, rows: np.ndarray, *, allow_nan: bool,
            gaps: Callable[[], list[str]] | None = None) -> np.ndarray:
    """Column ``column`` as float64, or a ``DataError`` naming the first bad value and its row
    (a missing one with the other columns ``gaps`` names: each needs its fix too).

    Refused: text, complex numbers, times and durations, integers that float64 rounds
    coarser than the network resolves (``_merging``), infinities, values beyond
    float32's range, and (unless ``allow_nan``) missing values.
    """
    series = frame[column]
    _check_number_kind(series, column)
    if isinstance(series.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    ):
        parsed, bad = _as_numbers(series)
        check_booleans(series, parsed, column, rows)
        if bad.size:
            i = bad[0]
            value = series.iloc[i]
            if str(value).strip().lower() in SENTINELS:
                raise DataError(
                    f"column {column!r} holds {quote(value)} at row {rows[i]}, which looks like a "
                    f"missing-value marker; read it as missing (pandas: df = pd.read_csv(path, "
                    f"na_values=[{quote(value)}]); for a file lstmkit reads, write it back so: "
                    "df.to_csv(path, index=False)) and choose a missing policy "
                    f"(Feature({column!r}, missing='ffill' or 'mask'); YAML: {{name: {column}, "
                    "missing: ffill})")
            raise DataError(
                f"column {column!r} must be numeric but holds {quote(value)} at row "
                f"{rows[i]}" + (number_text_hint(value, column) or "; clean the value, or declare "
                                f"the column categorical (Feature({column!r}, "
                                "kind='categorical'))"))
        series = parsed
        _check_number_kind(series, column)
    if pd.api.types.is_integer_dtype(series):
        _check_exact(series, column, rows)
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if _within_float32(values):                          # the common case: one pass
        return values
    if np.isinf(values).any():
        i = np.flatnonzero(np.isinf(values))[0]
        raise DataError(f"column {column!r} holds {values[i]} at row {rows[i]}; infinite values "
                        "are not allowed: replace them or drop the row")
    beyond = np.abs(values) > FLOAT32_MAX
    if beyond.any():
        i = np.flatnonzero(beyond)[0]
        raise DataError(f"column {column!r} holds {values[i]:.6g} at row {rows[i]}, beyond "
                        f"float32's range (±{FLOAT32_MAX:.4g}) in which the network computes; "
                        "rescale the column (divide it by a power of ten, or take its log) or "
                        "drop the row")
    if not allow_nan and np.isnan(values).any():
        i = np.flatnonzero(np.isnan(values))[0]
        others = [c for c in gaps() if c != column] if gaps is not None else []
        also = (f", as do input columns {quote(others)}" if len(others) > 1 else
                f", as does input column {others[0]!r}" if others else "")
        raise DataError(f"input column {column!r} has a missing value (NaN) at row {rows[i]}"
                        f"{also}; fill the gap or drop the row, or choose a missing policy: "
                        f"Feature({column!r}, missing='ffill' or 'mask') (YAML: {{name: {column}, "
                        "missing: ffill}; or spec missing: ffill for every input)")
    return values


def _within_float32(values: np.ndarray) -> bool:
    """Whether every float is finite and within float32's range (False on any NaN)."""
    if values.dtype.itemsize <= 4:             # float32 or narrower: finite is within range
        return bool(np.isfinite(values).all())
    return values.size == 0 or bool(values.min() >= -FLOAT32_MAX
                                    and values.max() <= FLOAT32_MAX)


def _exact_block(ints: pd.DataFrame) -> bool:
    """Whether float64 holds these 64-bit integer columns finely enough (``_merging``)."""
    return len(ints) == 0 or not _merging(ints.min().to_numpy(np.float64),
                                          ints.max().to_numpy(np.float64)).any()


def _merging(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Which integer columns (given their least and greatest values) float64 rounds coarser
    than float32's resolution of their range: beyond 2**53, float64 rounds integers to
    multiples of 2**(e - 52) for values of about 2**e, and the network reads the scaled
    values as float32, which resolve about 2**-24 of the range."""
    top = np.maximum(np.abs(low), np.abs(high))
    return (top > EXACT_INTEGERS) & (top * 2.0**-53 > (high - low) * 2.0**-24)


def _check_number_kind(series: pd.Series, column: str) -> None:
    """Refuse complex numbers, timestamps and durations, saying how to make numbers of them."""
    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise DataError(f"column {column!r} holds complex numbers (dtype {dtype}), which a "
                        "numeric input or target cannot take; give its real and imaginary parts "
                        f"as two columns (df[{column!r}].to_numpy().real and .imag)")
    if pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"column {column!r} holds durations (dtype {dtype}), not numbers; "
                        f"convert it, e.g. df[{column!r}].dt.total_seconds()")
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        raise DataError(f"column {column!r} holds timestamps (dtype {dtype}), not numbers; make "
                        f"it the spec's time column (time={column!r}), or give calendar features "
                        f"as inputs instead (df[{column!r}].dt.hour, .dt.dayofweek, ...)")


def _check_exact(series: pd.Series, column: str, rows: np.ndarray) -> None:
    """Refuse integers too large for float64 to tell apart at the column's scale."""
    low, high = series.min(), series.max()
    if pd.isna(low) or not _merging(np.float64(low), np.float64(high)):
        return
    i = int(np.flatnonzero(series.abs().to_numpy(dtype=np.float64, na_value=0.0)
                           > EXACT_INTEGERS)[0])
    step = 2 ** (int(np.log2(max(abs(float(low)), abs(float(high))))) - 52)
    raise DataError(
        f"integer column {column!r} holds {series.iloc[i]} at row {rows[i]}: beyond 2**53, "
        f"float64 (in which lstmkit scales numbers) rounds its values to multiples of {step:,}, "
        f"coarse against the column's range of {int(high) - int(low):,} (more than "
        "2**-24 of it, what the network's float32 resolves), so nearby values would merge. "
        "An id or code is categorical: declare it so (kind='categorical' for an input, "
        "'classification' for a target); a count or a time in nanoseconds needs rescaling, "
        f"e.g. df[{column!r}] // 10**9 (seconds) or minus its first value")


BLOCK_BYTES = 1 << 25      # bytes (as float64) read at once by numeric_columns


def numeric_columns(frame: pd.DataFrame, columns: list[str], rows: np.ndarray, *,
                    allow_nan: list[bool]) -> Iterator[np.ndarray]:
    """``numeric`` for each of ``columns`` in turn, converted a block of columns at a time.

    Plain numeric columns whose values are all finite, within float32's range and (if
    integers) exact in float64 are read in blocks of at most ``BLOCK_BYTES`` (one
    pandas call per block, not per column); any other block
    goes column by column through ``numeric``, which names the bad value. A block
    of float columns comes in its own common type (float32 stays float32: the
    scalers compute in float64 without a float64 copy of every column first).
    """
    def gaps() -> list[str]:
        """The columns that may not have gaps and do (read only once one does)."""
        return [c for c, ok in zip(columns, allow_nan, strict=True)
                if not ok and bool(frame[c].isna().any())]

    width = max(1, BLOCK_BYTES // (8 * max(len(frame), 1)))
    for lo in range(0, len(columns), width):
        names, nan_ok = columns[lo : lo + width], allow_nan[lo : lo + width]
        dtypes = frame.dtypes[names]
        wide = [n for n, d in zip(names, dtypes, strict=True)
                if isinstance(d, np.dtype) and d.kind in "iu" and d.itemsize == 8]
        if all(isinstance(d, np.dtype) and d.kind in "fiub" for d in dtypes) and (
                not wide or _exact_block(frame[wide])):
            values = frame[names].to_numpy()                       # (rows, block)
            if values.dtype.kind in "iub":    # integers or booleans: finite, within float32
                yield from values.astype(np.float64).T
                continue
            if values.dtype.kind == "O":      # floats with booleans: objects
                values = values.astype(np.float64)
            if _within_float32(values):
                yield from values.T                                # (rows,) each
                continue
        for name, ok in zip(names, nan_ok, strict=True):
            yield numeric(frame, name, rows, allow_nan=ok, gaps=gaps)


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
            _, bad = _as_numbers(series)
            if bad.size:
                value = series.iloc[bad[0]]
                raise SchemaError(
                    f"column {column!r} was numeric when the model was trained but now holds "
                    f"{quote(value)} at row {bad[0]} (dtype {series.dtype})"
                    + (number_text_hint(value, column) or "; pass numbers in that column"))
