"""Whether a time column written as numeric dates (01.07.2016, 07/01/2016) puts the day or
the month first.

pandas reads such text month first, element by element where the format is ``mixed``, so
13.07.2016 is 13 July but 01.07.2016 is 7 January: one column read in two orders, and
the error that follows (an out-of-order timestamp) points at sorting. The order is judged
once per column: a first number above 12 means day first, a second one above 12 month
first; where neither is, it is month first as pandas reads it, with a warning. A model
fitted on day-first dates keeps the order (``TimeStep.dayfirst``), so that the last rows of
the table, 01.08.2016 and on, are read day first too.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..checks import quote
from ..errors import DataError, warn

# day or month, the same separator, the other, the same separator, the year (2 or 4 digits)
NUMERIC_DATE = re.compile(r"\s*(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)")


def day_first(series: pd.Series, column: str, rows: np.ndarray, fitted: bool = False
              ) -> bool | None:
    """Whether ``series`` holds text dates written day first (to read with ``dayfirst=True``);
    False for month first and for anything else (ISO dates, numbers, datetimes); None where
    no number tells (01.07.2016 to 12.07.2016): read month first, as pandas does, unless
    the calendar tells (``timestep``), with ``warn_undecided``.

    Args:
        fitted: the model's dates were day first (``TimeStep.dayfirst``): so are these,
            whatever their days are.

    Raises:
        DataError: where one row can only be day first and another only month first.
    """
    first = series.iloc[0] if len(series) else None
    if not (isinstance(first, str) and NUMERIC_DATE.match(first)):
        return False
    parts = series.astype(str).str.extract(NUMERIC_DATE)
    if parts[0].isna().any():           # not every row a numeric date: pandas reads them
        return False
    day = np.flatnonzero(parts[0].astype(int).to_numpy() > 12)
    month = np.flatnonzero(parts[2].astype(int).to_numpy() > 12)
    if month.size and (day.size or fitted):
        other = (f"{quote(series.iloc[day[0]])} at row {rows[day[0]]} has the day first"
                 if day.size else "the model was fitted on dates with the day first")
        raise DataError(
            f"time column {column!r} writes dates in two orders: {other}, "
            f"{quote(series.iloc[month[0]])} at row {rows[month[0]]} the month; write every "
            "date in one order, best ISO (2016-07-13)")
    if day.size or fitted:
        return True
    return None if not month.size else False


def warn_undecided(series: pd.Series, column: str) -> None:
    """Warn that ``series``' dates (``day_first`` None) are read month first."""
    warn(f"time column {column!r} writes dates as {quote(series.iloc[0])}, with no day above "
         "12 to tell whether the day or the month comes first: read month first, as pandas "
         "does. If the day comes first, write ISO dates (2016-07-01) or convert the column "
         f"yourself: pd.to_datetime(df[{column!r}], dayfirst=True)")


def refuse_undecided(series: pd.Series, column: str, month_first: str, day_first: str) -> None:
    """Raise for dates that no number orders, of which the day-first reading steps by
    ``day_first`` but the month-first one by nothing (``month_first``: where it breaks)."""
    raise DataError(
        f"time column {column!r} writes dates as {quote(series.iloc[0])}, with no day above 12 "
        f"to tell whether the day or the month comes first: read month first, as pandas reads "
        f"them, they step by no calendar ({month_first}), read day first they step by "
        f"{day_first!r}. If the day comes first, read them so, df[{column!r}] = "
        f"pd.to_datetime(df[{column!r}], dayfirst=True), or write ISO dates (2016-07-01) in "
        "the file")
