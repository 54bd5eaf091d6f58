"""Reading a table's time column as instants: text, periods, quarter and month labels,
datetimes (naive or zone-aware) or numbers, refusing what pandas would misread.

pandas reads many things as dates that are not what a user meant: a number among text dates
as nanoseconds after 1970, a month name with a two-digit year as a day of year 1, a
megabyte of text only after a minute. Each such case is refused here with the row, the value
and the call that fixes it. Zone-aware times become naive UTC beside their zone; naive times
with a zone named (``Spec.zone``) are read as its wall-clock times (``localised``).

Example:
    >>> values, zone = read_times(pd.Series(["1970 Q1", "1970 Q2"]), "quarter",
    ...                           rows=np.arange(2), dayfirst=False)
    >>> values.astype("datetime64[D]")
    array(['1970-01-01', '1970-04-01'], dtype='datetime64[D]')
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..checks import quote
from ..errors import DataError

UTC_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"     # the end of 2016-07-01T00:00+02:00, or of ...Z
TIME_CHARS = 100    # the longest text a time may be (2016-07-01T00:00:00.000000000+02:00: 35)
# A quarter written as a label (1970 Q1, 1970-Q1, 1970Q1, Q1 1970): pandas reads some of
# these (deprecated), others not at all.
QUARTER = re.compile(r"\s*(?:(\d{4})\s*[-/ ]?\s*[Qq]([1-4])|[Qq]([1-4])\s*[-/ ]?\s*(\d{4}))\s*")
# Rows of a time column that may be no date (totals, notes) where the others are dates.
STRAY_ROWS = 3
STRAY_SHARE = 0.01
# A month written as a label, as Eurostat, the IMF and EViews write them (2006M01, 2006-M1),
# which pandas cannot read.
MONTH_LABEL = re.compile(r"\s*(\d{4})\s*-?\s*[Mm](0?[1-9]|1[0-2])\s*")
# A month name and a two-digit year (Jan-06, as a spreadsheet's mmm-yy shows months): pandas
# reads the 06 as a day, of year 1.
MONTH_YY = re.compile(r"\s*[A-Za-z]{3,9}([-/ .'])\d{2}\s*")


def read_times(series: pd.Series, column: str, rows: np.ndarray, dayfirst: bool,
           local: str | None = None, offsets: np.ndarray | None = None
           ) -> tuple[np.ndarray, str | None]:
    """A time column as instants, or as numbers.

    Args:
        series: the time column, arranged series after series.
        column: its name, for messages.
        rows: each value's row in the table as given, for messages.
        dayfirst: read numeric text dates day first (``date_order.day_first``).
        local: a zone the dates are in (``Spec.zone``): naive ones are read as its
            wall-clock times (``_localised``).
        offsets: the series' boundaries, as ``Timeline.offsets`` (None: one series).

    Returns:
        Naive UTC datetime64[ns] values and their zone (None for naive times), or the
        numbers with None.

    Raises:
        DataError: naming the row and value pandas would misread or cannot read, and the fix.
    """
    values = series
    if isinstance(series.dtype, pd.PeriodDtype):          # a period stands for its start
        series = values = series.dt.to_timestamp()
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)):
        _check_no_numbers(series, column, rows)
        _check_text_length(series, column, rows)
        _check_two_digit_years(series, column)
        try:
            values = _quarter_starts(series)
            if values is None:
                values = pd.to_datetime(series, format="mixed", dayfirst=dayfirst)
        except (ValueError, TypeError) as exc:
            try:        # offsets that change (daylight saving): one instant each, in UTC
                values = pd.to_datetime(series, format="mixed", dayfirst=dayfirst, utc=True)
            except (ValueError, TypeError):
                _check_stray_rows(series, column, rows, dayfirst)
                raise DataError(f"time column {column!r} cannot be read as dates "
                                f"({quote(str(exc), 120)}); give "
                                "it ISO dates like 2016-07-01 00:00, or numbers") from None
            _check_offsets(series, column, rows)
    if values.isna().any():
        i = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"time column {column!r} has a missing value at row {rows[i]}; "
                        "every row needs a time: drop the rows without one "
                        f"(df.dropna(subset=[{column!r}]); in a CSV file, delete the empty "
                        "lines a spreadsheet may have left at its end) or give them their time")
    if not pd.api.types.is_datetime64_any_dtype(values):
        if local is not None:
            raise DataError(f"spec zone {local!r} is the time zone of dates, but time column "
                            f"{column!r} holds numbers ({quote(values.iloc[0].item())} at row "
                            f"{rows[0]}); drop zone, or give dates in the column")
        return values.to_numpy(), None
    if local is not None:
        bounds = np.array([0, len(values)]) if offsets is None else offsets
        values = pd.Series(_localised(pd.DatetimeIndex(values), local, bounds))
    zone = None
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        tz = values.dt.tz
        zone = getattr(tz, "key", None) or getattr(tz, "zone", None) or str(tz)
        if not known_zone(zone):
            raise DataError(f"time column {column!r} is in a time zone pandas cannot name "
                            f"({quote(zone)}); convert it to a named one: "
                            f"df[{column!r}].dt.tz_convert('Europe/Berlin')")
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return _nanoseconds(values.to_numpy(), column, rows), zone


def pandas_reading(series: pd.Series, column: str, dayfirst: bool) -> str | None:
    """The pandas call that reads a time column of text or periods as the dates ``read_times``
    reads from it; None for datetimes, and for quarter and month labels (which pandas cannot
    read)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return None
    target = f"df[{column!r}] = "
    if isinstance(series.dtype, pd.PeriodDtype):
        return f"{target}df[{column!r}].dt.to_timestamp()"
    first = series.iloc[0] if len(series) else None
    if isinstance(first, str) and (QUARTER.fullmatch(first) or MONTH_LABEL.fullmatch(first)):
        return None
    order = ", dayfirst=True" if dayfirst else ""
    return f"{target}pd.to_datetime(df[{column!r}], format='mixed'{order})"


def _nanoseconds(values: np.ndarray, column: str, rows: np.ndarray) -> np.ndarray:
    """Datetimes as datetime64[ns], refusing those outside its range (1677-2262): numpy's
    cast would wrap them round silently (1565 read as 2149), and the error that followed
    would be about order."""
    low, high = (t.to_datetime64().astype(values.dtype)   # compared in the values' unit
                 for t in (pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")))
    outside = np.flatnonzero((values < low) | (values > high))
    if outside.size:
        i = int(outside[0])
        raise DataError(f"time column {column!r} holds {pd.Timestamp(values[i])} at row "
                        f"{rows[i]}, outside the dates a model can hold ({low.astype('M8[D]')} "
                        f"to {high.astype('M8[D]')}); give the time as numbers, years as "
                        f"ints: df[{column!r}] = pd.to_datetime(df[{column!r}]).dt.year")
    return values.astype("datetime64[ns]")


def _quarter_starts(series: pd.Series) -> pd.Series | None:
    """Quarter labels (1970 Q1, Q1 1970, 1970-Q1) as the first day of each quarter, and month
    labels (2006M01, 2006-M1) as the first day of each month, where every row is one of a
    kind; else None (read as other dates)."""
    if series.dtype != object and not pd.api.types.is_string_dtype(series):
        return None
    values = series.to_numpy()
    kind = next((k for k in (QUARTER, MONTH_LABEL) if len(values) and isinstance(values[0], str)
                 and k.fullmatch(values[0])), None)         # the first row tells which
    found = [kind.fullmatch(v) if isinstance(v, str) else None for v in values] if kind else []
    if not found or not all(found):
        return None
    if kind is QUARTER:
        years = [int(m[1] or m[4]) for m in found]
        months = [3 * int(m[2] or m[3]) - 2 for m in found]
    else:
        years, months = [int(m[1]) for m in found], [int(m[2]) for m in found]
    return pd.Series(pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1})
                                     ).to_numpy(), index=series.index)


def _localised(times: pd.DatetimeIndex, zone: str, offsets: np.ndarray) -> pd.DatetimeIndex:
    """Times in ``zone`` (``Spec.zone``): zone-aware ones converted to it, naive ones read as
    its wall-clock times. A wall-clock time the zone skips as daylight saving begins is
    read as the time a clock running on shows (02:30 as 03:30, pandas'
    ``nonexistent='shift_forward'``); one that comes twice as it ends is told apart by the
    order of its series' rows (``_daylight``).

    Args:
        times: the time column, arranged series after series.
        zone: a time zone name.
        offsets: the series' boundaries, as ``Timeline.offsets``.
    """
    if times.tz is not None:
        return times.tz_convert(zone)
    local = times.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    twice = np.asarray(local.isna())
    if not twice.any():
        return local
    return times.tz_localize(zone, ambiguous=_daylight(times, twice, offsets),
                             nonexistent="shift_forward")


def _daylight(times: pd.DatetimeIndex, twice: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Which naive ``times`` that come ``twice`` in a zone are the first time (daylight
    time): in each run of such times within a series, those before the wall clock goes
    back (as pandas' ``ambiguous='infer'`` reads them); a time the rows show once is read
    as the first, as Python's ``datetime`` reads it (``fold=0``)."""
    inside = np.ones(len(times), dtype=bool)
    inside[offsets[:-1]] = False                  # row i follows row i - 1 in its series
    wall = times.asi8
    linked = np.zeros(len(times), dtype=bool)
    linked[1:] = twice[1:] & twice[:-1] & inside[1:]
    back = np.zeros(len(times), dtype=bool)
    back[1:] = linked[1:] & (wall[1:] <= wall[:-1])
    runs = np.cumsum(twice & ~linked)              # each run of repeated times its number
    backs = np.cumsum(back)
    before = backs[np.flatnonzero(twice & ~linked)]   # backs at each run's first time
    return ~(twice & (backs - before[np.maximum(runs, 1) - 1] > 0))


def _check_no_numbers(series: pd.Series, column: str, rows: np.ndarray) -> None:
    """Refuse a number among text dates (a JSON row's epoch time): pandas would read it as
    nanoseconds after 1970, and the error that follows would be about order."""
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in (
            "string", "datetime", "date"):
        return
    numbers = np.flatnonzero([isinstance(v, int | float | np.number) and not isinstance(v, bool)
                              and v == v for v in series.to_numpy()])
    if numbers.size and numbers.size < len(series):
        i = int(numbers[0])
        raise DataError(f"time column {column!r} holds the number {series.iloc[i]!r} at row "
                        f"{rows[i]} among dates; give every row a date (as text like "
                        "2016-07-01 00:00), or every row a number")


def _check_stray_rows(series: pd.Series, column: str, rows: np.ndarray, dayfirst: bool) -> None:
    """Name the row of a time column that is no date where the others are (a spreadsheet's
    'Total' line, a note such as 'Source: BLS', the header written again), with the call
    that drops it; the message was pandas' alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # pandas' could-not-infer-format
        read = pd.to_datetime(series, format="mixed", dayfirst=dayfirst, errors="coerce",
                              utc=True)
    stray = np.flatnonzero(read.isna().to_numpy() & series.notna().to_numpy())
    if not stray.size or stray.size > max(STRAY_ROWS, STRAY_SHARE * len(series)):
        return
    i = int(stray[0])
    value = series.iloc[i]
    drop = f"df = df[df[{column!r}] != {value!r}] (in a CSV file, delete those lines)"
    if str(value).strip() == column:
        what = f"the header written again (two files joined into one?): drop them, {drop}"
    elif rows[i] >= len(series) - STRAY_ROWS:
        what = f"a total or a note under the table?: drop them, {drop}"
    else:
        what = f"a typo?: correct it, or drop the rows, {drop}"
    raise DataError(f"time column {column!r} cannot be read as dates: it holds {quote(value)} "
                    f"at row {rows[i]}, which is no date ({stray.size} such row(s) among "
                    f"{len(series)}; {what})")


def _check_text_length(series: pd.Series, column: str, rows: np.ndarray) -> None:
    """Refuse text far longer than any time: pandas takes a minute to find that a megabyte of
    it is no date, while the server's one predicting thread waits."""
    lengths = np.array([len(v) if isinstance(v, str) else 0 for v in series.to_numpy()])
    long = np.flatnonzero(lengths > TIME_CHARS)
    if long.size:
        i = int(long[0])
        raise DataError(f"time column {column!r} holds text of {lengths[i]:,} characters at row "
                        f"{rows[i]} ({quote(series.iloc[i])}), too long for a time; give it "
                        "times like 2016-07-01 00:00")


def _check_two_digit_years(series: pd.Series, column: str) -> None:
    """Refuse months written with a name and two-digit years (Jan-06): pandas reads them as
    days of year 1, and the error that followed named a fix by the year."""
    first = series.iloc[0] if len(series) else None
    if not (isinstance(first, str) and MONTH_YY.fullmatch(first)) or \
            not series.astype(str).str.fullmatch(MONTH_YY).all():
        return
    name = "%b" if len(first.strip()) <= 6 else "%B"                 # Jan-06, January-06
    form = f"{name}{MONTH_YY.fullmatch(first)[1]}%y"
    raise DataError(f"time column {column!r} writes months as {quote(first)}, a month's name "
                    "and a two-digit year, which pandas reads as a day of year 1: read them "
                    f"so, df[{column!r}] = pd.to_datetime(df[{column!r}], format={form!r}), or "
                    "write ISO dates (2006-01-01)")


def _check_offsets(series: pd.Series, column: str, rows: np.ndarray) -> None:
    """Refuse text times of which some have a UTC offset and some none: read in UTC, the
    ones without would be taken for UTC, hours off the others."""
    text = series.astype(str)
    marked = text.str.contains(UTC_OFFSET).to_numpy(dtype=bool)
    if marked.all() or not marked.any():
        return
    i, j = int(np.flatnonzero(marked)[0]), int(np.flatnonzero(~marked)[0])
    raise DataError(f"time column {column!r} has times with a UTC offset ({quote(text.iloc[i])} "
                    f"at row {rows[i]}) and times without ({quote(text.iloc[j])} at row "
                    f"{rows[j]}); give every time an offset, or none")


def known_zone(zone: Any) -> bool:
    try:
        pd.Timestamp(0, tz=zone)
    except Exception:  # zoneinfo raises KeyError subclasses, pandas ValueError or TypeError
        return False
    return isinstance(zone, str)
