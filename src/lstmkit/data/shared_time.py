"""What rows of a series that share a time are, and the fix to name for them: copies, a
column that is part of the time (an hour of a day, a quarter or month of a year), a column
telling series apart (alone, or with the series column), or events to aggregate.
"""

from __future__ import annotations

import pandas as pd


def shared_time(frame: pd.DataFrame, column: str, group: str | None, a: int, b: int,
                 order: str) -> str:
    """The fix for rows ``a`` and ``b`` of ``frame`` (arranged as the timeline) that share a
    time: copies to drop (then to sort by ``order``); a column that is part of the time (a
    quarter or month of a year, as statsmodels' interest_inflation writes them, or an hour
    of a day: the two rows next to each other); a column telling series apart (the time and
    it are unique together; with the series column, the two make the id); else events, or
    parts of a step, to aggregate."""
    pair = frame.iloc[[a, b]]
    differ = [c for c in frame.columns if c not in (column, group) and not (
        pair[c].isna().all() or pair[c].iloc[0] == pair[c].iloc[1])]
    if not differ:
        return f"they are copies: drop them (df.drop_duplicates()) and sort the table by {order}"
    keys = [column] if group is None else [group, column]
    apart = [c for c in differ if not frame.duplicated([*keys, c]).any()]
    ids = [c for c in apart if frame[c].nunique() <= len(frame) // 2]
    if ids and b > a + 1 and group is None:     # not one step's parts written together
        return _series_per(ids[0])
    if ids and b > a + 1:
        return (f"the table seems to hold a series per {group!r} and {ids[0]!r} (each time "
                f"comes once per pair): make one series column of the two, "
                f"{joined_id([group, ids[0]], 'series')}, and make it the spec's series (YAML "
                "series: series)")
    dates = pd.api.types.is_datetime64_any_dtype(frame[column]) or not \
        pd.api.types.is_numeric_dtype(frame[column])
    for c in apart:
        values = pd.to_numeric(frame[c], errors="coerce")
        if not (values.notna().all() and (values % 1 == 0).all()):
            continue
        if dates and values.between(0, 23).all():
            return (f"column {c!r} looks like the hour of its day: make one time column of "
                    f"the two, df['time'] = pd.to_datetime(df[{column!r}]) + "
                    f"pd.to_timedelta(df[{c!r}], unit='h'), and make it the spec's time "
                    "(YAML time: time)")
        if not dates and values.between(1, 12).all():
            part, freq = ("quarter", "Q") if values.max() <= 4 else ("month", "M")
            return (f"column {c!r} looks like the {part} of its year: make one date column "
                    f"of the two, df['date'] = pd.PeriodIndex.from_fields(year=df[{column!r}]"
                    f".astype(int), {part}=df[{c!r}].astype(int), freq={freq!r})"
                    ".to_timestamp(), and make it the spec's time (YAML time: date)")
    if group is None and ids:
        return _series_per(ids[0])
    by = keys + _kept_by(frame, keys)
    return (f"if the rows are events, or parts of one step, aggregate them to one row per "
            f"time (df.groupby({by if len(by) > 1 else column!r}, as_index=False)"
            ".sum(numeric_only=True), or .size() to count them), or drop the rows that should "
            f"not be there; and sort the table by {order}")


def joined_id(columns: list[str], name: str) -> str:
    """The pandas call that makes one id column ``name`` of several (a store and an item):
    their values as text, joined by '/'."""
    return f"df[{name!r}] = " + " + '/' + ".join(f"df[{c!r}].astype(str)" for c in columns)


def _series_per(column: str) -> str:
    """The fix for a table of several series whose series column is not named."""
    return (f"the table seems to hold a series per {column!r} (each time comes once per "
            f"{column!r}): name it the spec's series (Spec(series={column!r}), YAML "
            f"series: {column})")


def _kept_by(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """The columns an aggregation by ``keys`` must also group by to keep them as they are:
    those with one value per series and time already (a static column, a covariate of the
    time), which a sum would add up, or drop where they are text; grouping by them splits
    no group."""
    rest = [c for c in frame.columns if c not in keys]
    if not rest:
        return []
    one = frame.groupby(keys, sort=False)[rest].nunique(dropna=False).le(1).all()
    return [c for c in rest if one[c]]
