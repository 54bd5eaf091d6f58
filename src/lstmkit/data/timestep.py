"""A table's time column and its step: a calendar offset (pandas), or a number.

The step of a datetime column is a pandas offset inferred from the timestamps of each
series (``pd.infer_freq``): minutes, hours, days, business days, weeks, month, quarter
and year starts or ends, so a month is one step whether it has 28 or 31 days. Gaps are
found on that calendar, forecasts' times are generated on it, and a fitted model keeps
its step to check the rows it is given later. Zone-aware times are held as naive UTC
(windows need only order and spacing) beside their zone; calendar arithmetic is done,
and times are shown, in the zone. Numeric time columns step by a number. Reading the
column's text, periods or datetimes as instants is ``time_reading``'s.

Example:
    >>> step = TimeStep("datetime", "QS-JAN")
    >>> step.forecast_times(np.array(["2009-07-01"], "datetime64[ns]"), 3)
    DatetimeIndex(['2009-10-01', '2010-01-01', '2010-04-01'], ...)
"""

from __future__ import annotations

import math
import warnings
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries import offsets
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset, Tick

from ..checks import closest, quote
from ..errors import ConfigError, DataError, SchemaError
from .date_order import day_first, refuse_undecided, warn_undecided
from .shared_time import shared_time
from .time_reading import known_zone, pandas_reading, read_times

KINDS = ("datetime", "number")
HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")
DAY_NS = 86_400 * 10**9
HOLIDAYS_IN_A_ROW = 2    # business days a market closes in a row (Christmas, Boxing Day)
HOLIDAY_SHARE = 0.05     # of a series' business days: a calendar's public holidays, 8-12 a year
PIECE = 6      # rows per piece when a series with gaps votes: 6 business days span a weekend
VOTES = 64     # pieces read at most
# Zones tried first when a naive column looks like local time skipping or repeating a
# daylight-saving hour.
COMMON_ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago",
                "America/Denver", "America/Los_Angeles", "Australia/Sydney")
# A spreadsheet's dates written as numbers are days since this (Excel, LibreOffice), and
# the days of 1950-01-01 to 2100-12-31 in it: numbers there, stepping unevenly, are dates.
SPREADSHEET_EPOCH = "1899-12-30"
SPREADSHEET_DAYS = (18264, 73415)
# Calendar steps of whole months, between their first or last days.
MONTHS = (offsets.MonthBegin, offsets.MonthEnd, offsets.QuarterBegin, offsets.QuarterEnd,
          offsets.YearBegin, offsets.YearEnd)
EXAMPLES = "'h', '15min', 'D', 'B', 'W-SUN', 'MS', 'ME', 'QS', 'YS'"
# Steps of a calendar's season for steps of one unit: a week of days or business days, a
# year of weeks, half months, months or quarters. (Steps under a day: a day of them.)
SEASONS: tuple[tuple[tuple[type, ...], int], ...] = (
    ((offsets.Day,), 7),
    ((offsets.BusinessDay,), 5),
    ((offsets.Week,), 52),
    ((offsets.SemiMonthBegin, offsets.SemiMonthEnd), 24),
    ((offsets.MonthBegin, offsets.MonthEnd, offsets.BusinessMonthBegin, offsets.BusinessMonthEnd,
      offsets.CustomBusinessMonthBegin, offsets.CustomBusinessMonthEnd), 12),
    ((offsets.QuarterBegin, offsets.QuarterEnd, offsets.BQuarterBegin, offsets.BQuarterEnd), 4),
)


def canonical(freq: Any, what: str = "spec freq") -> str:
    """``freq`` as pandas' own name for that offset (``"YS"`` -> ``"YS-JAN"``).

    Raises:
        ConfigError: ``freq`` is not a pandas offset alias of a forward step.
    """
    if not isinstance(freq, str):
        raise ConfigError(f"{what} must be a pandas offset alias such as {EXAMPLES}, got "
                          f"{quote(freq)}")
    try:
        offset = to_offset(freq)
    except ValueError:
        raise ConfigError(f"{what} {quote(freq)} is not a pandas offset alias; use one such as "
                          f"{EXAMPLES}") from None
    if offset.n < 1:
        raise ConfigError(f"{what} {quote(freq)} does not step forward in time; use a positive "
                          f"multiple such as {EXAMPLES}")
    return offset.freqstr


def check_zone(zone: Any, what: str = "spec zone") -> str:
    """``zone`` if it is a time zone name pandas knows (``"America/Los_Angeles"``, ``"UTC"``).

    Raises:
        ConfigError: naming the value, a close name if one is, and the fix.
    """
    if not isinstance(zone, str) or not known_zone(zone):
        hint = closest(zone, zoneinfo.available_timezones()) if isinstance(zone, str) else ""
        raise ConfigError(f"{what} {quote(zone)} is not a time zone{hint}; give an IANA name "
                          "such as 'America/Los_Angeles', 'Europe/Berlin' or 'UTC' (the zone "
                          "the time column's wall-clock times are in)")
    return zone


@dataclass(frozen=True)
class TimeStep:
    """The step between consecutive rows of a series, and what the time column holds.

    Attributes:
        kind: ``"datetime"`` or ``"number"``: what the time column holds.
        freq: a pandas offset alias for datetimes (``"15min"``, ``"h"``, ``"D"``,
            ``"B"``, ``"W-SUN"``, ``"MS"``, ``"QE-DEC"``, ``"YS-JAN"``, ...), a number
            for numbers; None where rows need no step (sequence tasks).
        zone: the time zone of zone-aware datetimes, None for naive ones.
        dayfirst: the time column is text dates written day first (13.07.2016), which the
            rows to predict from are read as too (``date_order``).
    """

    kind: str
    freq: str | float | None = None
    zone: str | None = None
    dayfirst: bool = False

    @property
    def offset(self) -> BaseOffset:
        return to_offset(self.freq)

    @property
    def season(self) -> int | None:
        """Steps in one season of the calendar (for the seasonal naive baseline).

        A day of steps under a day (24 hours, 96 quarter-hours), a week of days (7) or
        business days (5), a year of weeks (52), months (12) or quarters (4); a multiple
        of the step takes its share (``2h``: 12, ``2MS``: 6). None where no season is
        known: years, numbers, and multiples that do not divide the season.

        Example:
            >>> TimeStep("datetime", "h").season, TimeStep("datetime", "YS-JAN").season
            (24, None)
        """
        if self.kind != "datetime" or self.freq is None:
            return None
        offset = self.offset
        if isinstance(offset, Tick) and offset.nanos < DAY_NS:
            steps, rest = divmod(DAY_NS, offset.nanos)
            return steps if rest == 0 else None
        steps = next((n for kinds, n in SEASONS if isinstance(offset, kinds)), None)
        if steps is None or steps % offset.n or steps // offset.n < 2:
            return None
        return steps // offset.n

    def shift(self, time: np.ndarray, k: int = 1) -> np.ndarray:
        """The times ``k`` steps after ``time`` (naive UTC datetime64[ns] or numbers)."""
        if self.kind == "number":
            return time + k * self._number_step(time)
        offset = self.offset
        if isinstance(offset, Tick):        # a fixed duration, the same in every zone
            return time + k * np.timedelta64(offset.nanos, "ns")
        with warnings.catch_warnings():     # offsets pandas applies one by one say so
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            return _utc(_in_zone(time, self.zone) + k * offset)

    def _number_step(self, time: np.ndarray) -> float | int:
        """The numeric step, an int where ``time`` holds integers and the step is whole
        (years as integers stay integers: 2011, not 2011.0)."""
        whole = float(self.freq).is_integer() and np.asarray(time).dtype.kind in "iu"
        return int(self.freq) if whole else self.freq

    def forecast_times(self, origin: np.ndarray, steps: int, zone: str | None = None
                       ) -> np.ndarray | pd.DatetimeIndex:
        """The times of steps 1 .. ``steps`` after each origin, origin by origin.

        Args:
            origin: origin times, naive UTC datetime64[ns] or numbers.
            steps: steps ahead.
            zone: the zone to show the times in (the data's), None for naive.

        Returns:
            ``len(origin) * steps`` times, on the step's calendar (in its zone).
        """
        if self.kind == "number":
            step = self._number_step(origin)
            return (origin[:, None] + np.arange(1, steps + 1) * step).ravel()
        ahead = np.stack([self.shift(origin, k) for k in range(1, steps + 1)], axis=1)
        return _in_zone(ahead.ravel(), zone)


@dataclass(frozen=True)
class Timeline:
    """A table's time column, arranged series after series, with where its rows came from.

    Attributes:
        values: datetime64[ns] (naive; UTC for zone-aware times) or numbers.
        zone: the column's time zone (None: naive, or numbers).
        offsets: series boundaries, as ``Groups.offsets``.
        keys: the series ids, as ``Groups.keys``.
        rows: each value's row in the table as given.
        column: the time column's name.
        group: the series column's name, or None.
        dayfirst: the column's text dates were read day first (``date_order``).
        reading: the pandas call that reads the column as the dates lstmkit read from its
            text or periods (``df['month'] = pd.to_datetime(df['month'], format='mixed')``),
            which a calendar's pandas calls need first; None where it holds dates already.
    """

    values: np.ndarray
    zone: str | None
    offsets: np.ndarray
    keys: list[Any]
    rows: np.ndarray
    column: str
    group: str | None
    dayfirst: bool = False
    reading: str | None = None

    @classmethod
    def read(cls, frame: pd.DataFrame, column: str, offsets: np.ndarray, keys: list[Any],
             rows: np.ndarray, group: str | None, dayfirst: bool = False,
             zone: str | None = None) -> Timeline:
        """Parse ``frame[column]`` (arranged) and check that time increases in every series;
        ``dayfirst``: a fitted model's text dates were day first (``TimeStep.dayfirst``);
        ``zone``: the zone of its wall-clock times (``Spec.zone``, ``read_times``)."""
        order = day_first(frame[column], column, rows, dayfirst)
        if order is None:
            _undecided(frame[column], column, rows, offsets)
        dayfirst = bool(order)
        values, zone = read_times(frame[column], column, rows, dayfirst, zone, offsets)
        reading = (pandas_reading(frame[column], column, dayfirst) if values.dtype.kind == "M"
                   else None)
        timeline = cls(values, zone, offsets, keys, rows, column, group, dayfirst, reading)
        timeline.check_order(frame)
        return timeline

    @property
    def kind(self) -> str:
        return "datetime" if self.values.dtype.kind == "M" else "number"

    @property
    def inside(self) -> np.ndarray:
        """Which differences ``values[i + 1] - values[i]`` lie within one series."""
        inside = np.ones(max(len(self.values) - 1, 0), dtype=bool)
        inside[self.offsets[1:-1] - 1] = False
        return inside

    def local(self, index: Any = slice(None)) -> np.ndarray | pd.DatetimeIndex:
        """``values[index]`` as the user sees them: in the column's zone."""
        values = self.values[index]
        return values if self.kind == "number" else _in_zone(values, self.zone)

    def check_order(self, frame: pd.DataFrame | None = None) -> None:
        """Raise a DataError unless time strictly increases within each series; ``frame``
        (arranged as the timeline) tells what rows sharing a time are (``shared_time``)."""
        time = self.values
        bad = np.flatnonzero(~(time[1:] > time[:-1]) & self.inside)
        if bad.size == 0:
            return
        i = bad[0] + 1
        problem = "a duplicate" if time[i] == time[i - 1] else "an out-of-order"
        order = f"[{self.group!r}, {self.column!r}]" if self.group else repr(self.column)
        text = (f"time column {self.column!r} has {problem} timestamp {self.show(i)} at row "
                f"{self.rows[i]}{self.where(i)} (previous row {self.rows[i - 1]} has "
                f"{self.show(i - 1)})")
        zone = _repeated_hour_zone(self, i)
        if zone is not None:
            raise DataError(f"{text}: this looks like local time at the end of daylight saving "
                            f"(as in {zone!r}, where an hour of that night comes twice): "
                            f"localise it, which tells the two hours apart: spec zone {zone!r} "
                            f"(with your zone; YAML spec: {{zone: {zone}}}), or in pandas "
                            f"df[{self.column!r}].dt.tz_localize({zone!r}, ambiguous='infer')")
        shared = self._shared(i) if frame is not None else None
        if shared is not None:
            a, b = shared
            same = "" if (a, b) == (i - 1, i) else (
                f"; rows {self.rows[a]} and {self.rows[b]} have the same time {self.show(a)}")
            fix = shared_time(frame, self.column, self.group, a, b, order)
            raise DataError(f"{text}{same}; {fix}")
        raise DataError(f"{text}; sort the table by {order}")

    def _shared(self, i: int) -> tuple[int, int] | None:
        """Two positions in the series of value ``i`` that hold the same time, or None."""
        g = np.searchsorted(self.offsets, i, side="right") - 1
        lo = self.offsets[g]
        order = np.argsort(self.values[lo : self.offsets[g + 1]], kind="stable")
        ahead = self.values[lo + order]
        same = np.flatnonzero(ahead[1:] == ahead[:-1])
        if not same.size:
            return None
        return int(lo + order[same[0]]), int(lo + order[same[0] + 1])

    def show(self, i: int) -> str:
        """Value ``i`` as text, in the column's zone."""
        return self.show_value(self.values[i])

    def show_value(self, value: Any) -> str:
        """A value of the column's kind (naive UTC for zone-aware times) as text, in its zone."""
        if self.kind == "number":
            return str(value)
        return str(_in_zone(np.array([value], "datetime64[ns]"), self.zone)[0])

    def where(self, i: int) -> str:
        """`` in series 'a'`` for the series holding value ``i``; '' without series."""
        if self.group is None:
            return ""
        return f" in series {self.keys[np.searchsorted(self.offsets, i, side='right') - 1]!r}"

    def regrid(self, freq: Any) -> str:
        """The pandas calls that put a table's series on the calendar of ``freq``: its time
        column read as dates first where it holds text or periods (``reading``), which
        ``asfreq`` and ``resample`` refuse."""
        column = self.column
        if self.kind == "number":
            return self._renumber(freq)
        first = f"{self.reading}, then " if self.reading else ""
        if self.group:
            return (f"{first}df.set_index({column!r}).groupby({self.group!r})"
                    f".resample({freq!r}).asfreq().reset_index()")
        return f"{first}df.set_index({column!r}).asfreq({freq!r}).reset_index()"

    def resampled(self, freq: Any) -> str:
        """The pandas call that resamples a table's series to ``freq``, each step's last row."""
        group = f".groupby({self.group!r})" if self.group else ""
        return f"df.set_index({self.column!r}){group}.resample({freq!r}).last().reset_index()"

    def _renumber(self, freq: Any) -> str:
        """The pandas call that puts each series of integers (years) on every ``freq``."""
        column = self.column
        if not (float(freq).is_integer() and np.all(np.mod(self.values, 1) == 0)):
            return f"reindex each series to every {freq} of {column!r}"
        step = int(freq)
        if self.group is None:
            return (f"df.set_index({column!r}).reindex(pd.RangeIndex(df[{column!r}].min(), "
                    f"df[{column!r}].max() + {step}, {step}, name={column!r})).reset_index()")
        return (f"df.set_index({column!r}).groupby({self.group!r}).apply(lambda g: g.reindex("
                f"pd.RangeIndex(g.index.min(), g.index.max() + {step}, {step}, "
                f"name={column!r})), include_groups=False).reset_index()")


def infer(timeline: Timeline, declared: str | None = None) -> TimeStep:
    """The step of a time column: ``declared`` (``Spec.freq``) if given, else inferred.

    Each series' step is pandas' (``pd.infer_freq``). Series too short to tell (fewer
    than 3 rows) or with gaps take the others'; if no series tells, pieces of the series
    vote, and failing those the commonest difference is the step. Numbers step by their
    median difference.

    Raises:
        DataError: two series step differently, or a step is declared for numbers.
    """
    if timeline.kind == "number":
        if declared is not None:
            raise DataError(f"spec freq {quote(declared)} is a calendar step, but time column "
                            f"{timeline.column!r} holds numbers; pass dates in it, or drop freq")
        steps = np.diff(timeline.values)[timeline.inside]
        return TimeStep("number", float(np.median(steps)) if steps.size else None)
    if declared is not None:
        return TimeStep("datetime", canonical(declared), timeline.zone)
    found = _series_freqs(timeline)
    if len(set(found.values())) > 1:
        items = list(found.items())
        g, freq = items[0]
        h, other = next(item for item in items if item[1] != freq)
        raise DataError(
            f"series {timeline.keys[g]!r} of time column {timeline.column!r} steps by {freq!r} "
            f"but series {timeline.keys[h]!r} by {other!r}, and a model has one time step: put "
            f"them on one calendar ({timeline.regrid(freq)}), fit a model per step, or declare "
            f"the step (Spec(freq={freq!r}))")
    observed = _observed(timeline, found)
    if not found:
        _check_whole_months(timeline, observed)
    return TimeStep("datetime", observed, timeline.zone)


def _check_whole_months(timeline: Timeline, observed: str | float | None) -> None:
    """Refuse dates on one day of every month (the 15th), or of every few months, that no
    pandas calendar steps by (months step between starts or ends): the commonest difference,
    31 days, would drift off them; named with the call that puts them on month starts."""
    if not isinstance(observed, str) or not isinstance(to_offset(observed), offsets.Day) or \
            to_offset(observed).n < 28:
        return
    local = pd.DatetimeIndex(timeline.local())
    months = np.diff(local.year * 12 + local.month)[timeline.inside]
    if local.day.nunique() != 1 or len(set(local.time)) != 1 or not months.size or \
            months.min() < 1 or (months % months.min()).any():
        return
    k = int(months.min())
    period, unit = {3: ("Q", "quarter"), 12: ("Y", "year")}.get(k, ("M", "month"))
    every = "every month" if k == 1 else f"every {k} months"
    column = timeline.column
    raise DataError(f"time column {column!r} holds dates on day {local.day[0]} of {every} "
                    f"({timeline.show(0)}, {timeline.show(1)}, ...), a step no pandas calendar "
                    f"has (months step between their starts, 'MS', or ends, 'ME'; {observed!r} "
                    f"would drift off them): put each on its {unit}'s first day, "
                    f"df[{column!r}] = pd.to_datetime(df[{column!r}]).dt.to_period("
                    f"{period!r}).dt.to_timestamp() (forecasts then land on {unit} starts)")


def check_regular(step: TimeStep, timeline: Timeline) -> None:
    """Raise a DataError at the first row that is not one ``step`` after the previous row
    of its series (a daylight-saving hour missing from naive local times is named so).

    Business days with a market's holidays off are regular: a series stepping by ``B``
    may skip a day, or two in a row, on up to 5 % of its rows (trading days).
    """
    bad = _jumps(step, timeline)
    bad = bad[~_holidays(step, timeline, bad)]
    if bad.size == 0:
        return
    i = bad[0] + 1
    column, freq = timeline.column, step.freq
    if step.kind == "number" and float(freq).is_integer():
        freq = int(freq)                                   # years step by 1, not 1.0
    want = timeline.show_value(step.shift(timeline.values[i - 1 : i])[0])
    text = (f"time column {column!r} jumps from {timeline.show(i - 1)} to {timeline.show(i)} at "
            f"row {timeline.rows[i]}{timeline.where(i)}, but its time step is {freq!r}, which "
            f"puts the next row at {want}: windows would span the gap. ")
    if _repeated_hour_once(step, timeline, i):
        text += (f"The wall clock steps by {freq!r} there, but in {timeline.zone!r} the hour "
                 "of the earlier row comes twice (daylight saving ends) and the rows show "
                 "it once: that hour's row is missing. ")
    zone = _skipped_hour_zone(step, timeline, i)
    if zone is not None:
        raise DataError(text + "This looks like local time crossing a daylight-saving change "
                        f"(as in {zone!r}, where an hour of that night does not exist): localise "
                        f"it, spec zone {zone!r} (with your zone; YAML spec: {{zone: {zone}}}) "
                        f"or in pandas pd.to_datetime(df[{column!r}]).dt.tz_localize({zone!r}, "
                        "nonexistent='shift_forward') (where the autumn's repeated hour is there "
                        "only once, pandas cannot tell which it is), put the rows on that "
                        f"calendar as they are ({timeline.regrid(freq)}, the column read as "
                        "dates) and choose a missing policy for the skipped hour, or set spec "
                        "regular=False")
    own = _own_step(step, timeline)
    if own is not None:
        raise DataError(text + f"The rows step by {own!r} throughout, a calendar other than "
                        f"{freq!r} (putting them on {freq!r} would leave their values off "
                        f"it): declare {own!r} (Spec(freq={own!r}), YAML freq: {own}), or "
                        "leave freq out to have the step inferred")
    if step.kind == "datetime" and isinstance(step.offset, MONTHS) and \
            pd.Timestamp(want).to_period("M") == timeline.local([i])[0].to_period("M"):
        how = "how='end'" if isinstance(step.offset, MONTHS[1::2]) else ""
        end = ".dt.normalize()" if how else ""
        raise DataError(text + f"{timeline.show(i)} lies in the month of {want} but not on its "
                        "day (a date written off its day, as 28 February in a leap year?): put "
                        f"every date on its month's {'last' if how else 'first'} day, "
                        f"df[{column!r}] = pd.to_datetime(df[{column!r}]).dt.to_period('M')"
                        f".dt.to_timestamp({how}){end}")
    if step.kind == "number" and _spreadsheet_days(timeline.values):
        day = pd.Timestamp(SPREADSHEET_EPOCH) + pd.Timedelta(days=int(timeline.values[i]))
        raise DataError(text + f"Its numbers look like a spreadsheet's day numbers "
                        f"({timeline.show(i)} is {day.date()}): read them as dates, "
                        f"df[{column!r}] = pd.to_datetime(df[{column!r}], unit='D', "
                        f"origin={SPREADSHEET_EPOCH!r}), and the step is the calendar's")
    written = _dates_written_as_numbers(timeline.values) if step.kind == "number" else None
    if written is not None:
        raise DataError(text + f"Its numbers look like dates written as {written}: read them "
                        f"as dates, df[{column!r}] = pd.to_datetime(df[{column!r}].astype(str), "
                        f"format={written!r}) (in a CSV file, write them as ISO dates, "
                        "2010-01-01), and the step is the calendar's")
    declare = ", declare the step if it is another (Spec(freq=...))" if step.kind == "datetime" \
        else ""                         # numbers step by their median difference, undeclared
    raise DataError(text + f"Put the rows on that calendar ({timeline.regrid(freq)}) and choose "
                    f"a missing policy for the new rows{declare}, or set spec regular=False for "
                    "rows with calendar gaps")


def check_matches(fitted: TimeStep, timeline: Timeline, forecast: bool, regular: bool) -> None:
    """Raise a SchemaError unless ``timeline`` holds what a model fitted with ``fitted`` read.

    The time column must hold the same kind (dates or numbers) and be zone-aware if and
    only if it was. A forecast's rows must be on the model's step: each one step after
    the previous, unless the rows show another step (with ``regular=False``: unless no
    row is one step after the previous). A series of one row has no step to check.
    """
    column = timeline.column
    if timeline.kind != fitted.kind:
        was, now = ("dates", "numbers") if fitted.kind == "datetime" else ("numbers", "dates")
        first = quote(timeline.values[0].item()) if now == "numbers" else timeline.show(0)
        raise SchemaError(f"time column {column!r} held {was} when the model was trained, but "
                          f"these rows hold {now} ({first} at row {timeline.rows[0]}); pass "
                          f"{was} in it")
    if fitted.zone is not None and timeline.zone is None:
        raise SchemaError(f"time column {column!r} was in time zone {fitted.zone!r} when the "
                          "model was trained, but these times have no zone; localise them: "
                          f"df[{column!r}].dt.tz_localize({fitted.zone!r}), or in a file write "
                          "each time with its UTC offset (2016-10-30T02:00:00+02:00)")
    if fitted.zone is None and timeline.zone is not None:
        raise SchemaError(f"time column {column!r} had no time zone when the model was "
                          f"trained, but these times are in {timeline.zone!r}; pass them as "
                          f"the model saw them, naive: df[{column!r}].dt.tz_localize(None) "
                          "keeps the wall-clock times (a model saved by lstmkit 0.2.0 saw "
                          "zone-aware times in UTC: .dt.tz_convert('UTC').dt.tz_localize(None)), "
                          "or refit on zone-aware times")
    if not forecast or fitted.freq is None:
        return
    bad = _jumps(fitted, timeline)
    if bad.size == 0:
        return
    seen = _observed(timeline, _series_freqs(timeline))
    other = seen is not None and seen != fitted.freq
    if (regular and other) or (not regular and bad.size == timeline.inside.sum()):
        i = bad[0] + 1
        apart = f"{seen!r}" if seen is not None else "not one step"
        raise SchemaError(
            f"the model was trained on rows {fitted.freq!r} apart (its time step), but the rows "
            f"of time column {column!r} are {apart} apart (from {timeline.show(i - 1)} to "
            f"{timeline.show(i)} at row {timeline.rows[i]}{timeline.where(i)}); "
            + (f"resample them to {fitted.freq!r} ({timeline.resampled(fitted.freq)}: each "
               "step's last row; .mean() for means where every column holds numbers) or refit "
               "the model on rows of this step"
               if timeline.values[i] < fitted.shift(timeline.values[i - 1 : i])[0] else
               f"pass rows every {fitted.freq!r}, as it was trained on (these are too far apart "
               "to resample: the steps between would be gaps), or refit the model on rows of "
               "this step"))


def to_json(step: TimeStep | None) -> dict[str, Any] | None:
    """A time step as plain JSON: ``{"freq", "zone"}`` for datetimes, ``{"number"}``."""
    if step is None:
        return None
    if step.kind == "number":
        return {"number": step.freq}
    return {"freq": step.freq, "zone": step.zone, **({"dayfirst": True} if step.dayfirst else {})}


def from_json(data: Any) -> TimeStep | None:
    """The inverse of ``to_json``; also reads 0.2.0's ``{"nanoseconds": N}`` (a fixed offset).

    Raises:
        ValueError: ``data`` is no valid time step (negative, zero, unknown alias or zone,
            wrong type).
    """
    if data is None:
        return None
    keys = sorted(data) if isinstance(data, dict) else None
    if keys == ["nanoseconds"]:
        ns = data["nanoseconds"]
        if isinstance(ns, bool) or not isinstance(ns, int) or ns <= 0:
            raise ValueError(f"time_step nanoseconds must be a positive integer, got {quote(ns)}")
        return TimeStep("datetime", _fixed_alias(np.timedelta64(ns, "ns")))
    if keys == ["number"]:
        x = data["number"]
        if x is not None and (isinstance(x, bool) or not isinstance(x, int | float)
                              or not math.isfinite(x) or x <= 0):
            raise ValueError(f"time_step number must be a positive number or null, got "
                             f"{quote(x)}")
        return TimeStep("number", None if x is None else float(x))
    if keys in (["freq", "zone"], ["dayfirst", "freq", "zone"]):
        freq, zone, dayfirst = data["freq"], data["zone"], data.get("dayfirst", False)
        if not isinstance(dayfirst, bool):
            raise ValueError(f"time_step dayfirst must be true or false, got {quote(dayfirst)}")
        if freq is not None:
            canonical(freq, "time_step freq")          # a ConfigError is a ValueError
        if zone is not None and not known_zone(zone):
            raise ValueError(f"time_step zone {quote(zone)} is not a time zone")
        return TimeStep("datetime", freq, zone, dayfirst)
    raise ValueError(f"time_step must be null, {{'freq': ..., 'zone': ...}}, {{'number': ...}} "
                     f"or {{'nanoseconds': ...}}, got {quote(data)}")


# -- internals ----------------------------------------------------------------------------
def _undecided(series: pd.Series, column: str, rows: np.ndarray, offsets: np.ndarray) -> None:
    """Dates no number orders (``day_first`` None), read month first: refused where the
    first series long enough steps by a calendar only when read day first (01/02/2006,
    a month start each, read month first: 1 to 12 January each year), else warned."""
    long = np.flatnonzero(np.diff(offsets) >= 3)
    if long.size:
        part = slice(offsets[long[0]], offsets[long[0] + 1])
        month, day = (pd.DatetimeIndex(read_times(series.iloc[part], column, rows[part], first)[0])
                      for first in (False, True))
        found = _infer_freq(day)
        if found is not None and _infer_freq(month) is None:
            steps = np.diff(month.asi8)
            k = int(np.argmax(steps != steps[0]))      # the first step unlike the first
            text, at = series.iloc[part], rows[part]
            refuse_undecided(series, column, f"{quote(text.iloc[k])} at row {at[k]} reads as "
                             f"{month[k]}, {quote(text.iloc[k + 1])} after it as "
                             f"{month[k + 1]}", found)
    warn_undecided(series, column)


def _dates_written_as_numbers(values: np.ndarray) -> str | None:
    """The date format integers such as 201001 (``%Y%m``) or 20100131 (``%Y%m%d``) are all
    written in, or None where they are not every one a date so."""
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.mod(values, 1) == 0):
        return None
    text = pd.Series(values.astype(np.int64).astype(str))
    for digits, form in ((6, "%Y%m"), (8, "%Y%m%d")):
        if (text.str.len() == digits).all() and pd.to_datetime(
                text, format=form, errors="coerce").notna().all():
            return form
    return None


def _own_step(step: TimeStep, timeline: Timeline) -> str | None:
    """The step every series' rows take, where it is not ``step`` (a declared ``W-MON`` for
    weeks that end on Sundays, ``ME`` for month starts) and the rows have no gap on it."""
    if step.kind != "datetime":
        return None
    found = set(_series_freqs(timeline).values())
    if len(found) != 1:
        return None
    own = found.pop()
    if own == step.freq or _jumps(TimeStep("datetime", own, step.zone), timeline).size:
        return None
    return own


def _spreadsheet_days(values: np.ndarray) -> bool:
    """Whether numbers are all whole days since ``SPREADSHEET_EPOCH`` of 1950 to 2100, as a
    spreadsheet's dates become when written as numbers (38749 is 2006-02-01)."""
    return bool(np.issubdtype(values.dtype, np.number) and values.size
                and np.all(np.mod(values, 1) == 0)
                and values.min() >= SPREADSHEET_DAYS[0] and values.max() <= SPREADSHEET_DAYS[1])


def _in_zone(values: np.ndarray, zone: str | None) -> pd.DatetimeIndex:
    """Naive UTC datetime64 values as times in ``zone`` (left naive without one)."""
    index = pd.DatetimeIndex(values)
    return index if zone is None else index.tz_localize("UTC").tz_convert(zone)


def _utc(index: pd.DatetimeIndex) -> np.ndarray:
    """The inverse of ``_in_zone``."""
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy().astype("datetime64[ns]")


def _fixed_alias(step: np.timedelta64) -> str:
    """A fixed step as an alias: whole days as ``nD`` (calendar days), else ``h``, ``min``..."""
    if step % DAY == np.timedelta64(0, "ns"):
        days = int(step // DAY)
        return "D" if days == 1 else f"{days}D"
    return to_offset(pd.Timedelta(step)).freqstr


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    """pandas' alias for the step of ``index`` (3 rows or more), or None."""
    if len(index) < 3:
        return None
    with warnings.catch_warnings():       # pandas 3 announces it will return an offset
        warnings.simplefilter("ignore", DeprecationWarning)
        freq = index.inferred_freq
    return None if freq is None else to_offset(freq).freqstr


def _series_freqs(timeline: Timeline) -> dict[int, str]:
    """Series number -> its inferred alias, for the series regular enough to tell."""
    local, offsets = timeline.local(), timeline.offsets
    steps = np.diff(timeline.values)[timeline.inside]
    if steps.size and steps.max() == steps.min() and steps[0] <= DAY:  # one fixed step
        long = np.flatnonzero(np.diff(offsets) >= 3)
        if long.size:       # every series is this alias: no anchor (weekday) to differ in
            g = long[0]
            freq = _infer_freq(local[offsets[g] : offsets[g + 1]])
            return {} if freq is None else {int(g): freq}
    found = {}
    for g in range(len(offsets) - 1):
        freq = _infer_freq(local[offsets[g] : offsets[g + 1]])
        if freq is not None:
            found[g] = freq
    return found


def _observed(timeline: Timeline, found: dict[int, str]) -> str | float | None:
    """The step the rows show: the commonest series' alias, else the pieces' vote, else
    the commonest difference (None if no series has two rows)."""
    if timeline.kind == "number":
        steps = np.diff(timeline.values)[timeline.inside]
        return float(np.median(steps)) if steps.size else None
    if found:
        return Counter(found.values()).most_common(1)[0][0]
    return _vote(timeline) or _commonest(timeline)


def _vote(timeline: Timeline) -> str | None:
    """The alias most pieces of ``PIECE`` consecutive rows agree on (series with gaps):
    at most ``VOTES`` pieces, spread evenly over the series long enough."""
    local, offsets = timeline.local(), timeline.offsets
    long = np.flatnonzero(np.diff(offsets) >= PIECE)[:VOTES]
    votes: Counter[str] = Counter()
    for g in long:
        lo, hi = offsets[g], offsets[g + 1]
        for start in np.unique(np.linspace(lo, hi - PIECE, VOTES // len(long)).astype(np.int64)):
            freq = _infer_freq(local[start : start + PIECE])
            votes.update([freq] if freq else [])
    return votes.most_common(1)[0][0] if votes else None


def _commonest(timeline: Timeline) -> str | None:
    """The commonest difference between consecutive rows, as a fixed alias."""
    steps = np.diff(timeline.values)[timeline.inside]
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    return _fixed_alias(values[np.argmax(counts)])


def _jumps(step: TimeStep, timeline: Timeline) -> np.ndarray:
    """Positions ``i`` where row ``i + 1`` is not one step after row ``i`` of its series."""
    time = timeline.values
    if step.freq is None or len(time) < 2:
        return np.zeros(0, dtype=np.int64)
    if step.kind == "number":
        return np.flatnonzero((np.diff(time) != step.freq) & timeline.inside)
    return np.flatnonzero((step.shift(time[:-1]) != time[1:]) & timeline.inside)


def _holidays(step: TimeStep, timeline: Timeline, jumps: np.ndarray) -> np.ndarray:
    """Which ``jumps`` (``_jumps``'s) skip holidays of a business-day calendar: one or two
    business days each, where no series skips more than ``HOLIDAY_SHARE`` of its rows."""
    if step.kind != "datetime" or to_offset(step.freq) != offsets.BDay() or jumps.size == 0:
        return np.zeros(jumps.size, dtype=bool)
    before, after = (np.asarray(timeline.local(rows).normalize(), dtype="datetime64[D]")
                     for rows in (jumps, jumps + 1))
    skipped = np.busday_count(before, after) - 1
    short = (skipped >= 1) & (skipped <= HOLIDAYS_IN_A_ROW)
    series = np.searchsorted(timeline.offsets, jumps, side="right") - 1
    allowed = np.maximum(HOLIDAY_SHARE * np.diff(timeline.offsets), HOLIDAYS_IN_A_ROW)
    off = np.bincount(series, weights=skipped * short, minlength=len(allowed))
    return short & (off <= allowed)[series]


def _repeated_hour_zone(timeline: Timeline, i: int) -> str | None:
    """For a naive column whose row ``i`` repeats or goes back before row ``i - 1`` by at most
    an hour: a zone in which that wall-clock time comes twice (daylight saving ended)."""
    time = timeline.values
    if timeline.zone is not None or timeline.kind != "datetime" or \
            not np.timedelta64(0) <= time[i - 1] - time[i] < HOUR:
        return None
    return _zone_refusing([pd.Timestamp(time[i])], ambiguous="raise",
                          nonexistent="shift_forward")


def _repeated_hour_once(step: TimeStep, timeline: Timeline, i: int) -> bool:
    """Whether rows ``i - 1`` and ``i`` of a zone-aware column are one fixed ``step`` apart on
    the wall clock but more in time: an hour that comes twice, shown once."""
    if timeline.zone is None or step.kind != "datetime" or not isinstance(step.offset, Tick):
        return False
    wall = timeline.local([i - 1, i]).tz_localize(None)
    return bool(wall[1] - wall[0] == pd.Timedelta(step.offset))


def _skipped_hour_zone(step: TimeStep, timeline: Timeline, i: int) -> str | None:
    """For a naive column that jumps one hour too far at row ``i``: a zone in which that
    row's predecessor or the time skipped does not exist (daylight saving began), else None."""
    if timeline.zone is not None or step.kind != "datetime" or not isinstance(step.offset, Tick):
        return None
    time = timeline.values
    if time[i] - time[i - 1] != np.timedelta64(pd.Timedelta(step.offset)) + HOUR:
        return None
    wall = [pd.Timestamp(time[i - 1]), pd.Timestamp(step.shift(time[i - 1 : i])[0])]
    return _zone_refusing(wall, nonexistent="raise")


def _zone_refusing(stamps: list[pd.Timestamp], **localize: str) -> str | None:
    """The first zone (``COMMON_ZONES`` first) in which localising one of the wall-clock
    ``stamps`` with ``localize`` raises: where that time does not exist (``nonexistent=
    "raise"``) or comes twice (``ambiguous="raise"``) because of daylight saving."""
    for zone in (*COMMON_ZONES, *sorted(zoneinfo.available_timezones())):
        for stamp in stamps:
            try:
                stamp.tz_localize(zone, **localize)
            except ValueError:      # pandas: "... is a nonexistent time", "Cannot infer dst"
                return zone
    return None
