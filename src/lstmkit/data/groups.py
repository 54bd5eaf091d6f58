"""Arrange a table so each series (or sequence) is one contiguous, time-ordered block of rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..spec import Spec
from . import validate
from .scaling import value_array
from .timestep import Timeline, TimeStep, check_matches, check_regular, infer


@dataclass(frozen=True)
class Groups:
    """A table whose groups (series or sequences) are contiguous blocks.

    Attributes:
        frame: the rows, arranged; group ``g`` spans ``offsets[g]:offsets[g + 1]``.
        rows: each arranged row's 0-based position in the table as given (for messages).
        offsets: int64 block boundaries, length ``n_groups + 1``.
        keys: the group ids (``[None]`` for a table without a group column).
        timeline: the time column, arranged, or None without one.
        step: its time step (the fitted model's, or the data's), or None.
        unfilled: the rows before ``fill_gaps`` filled a column that is also a target:
            targets are read from them, with their gaps (None: ``frame``).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    offsets: np.ndarray
    keys: list[Any]
    timeline: Timeline | None = None
    step: TimeStep | None = None
    unfilled: pd.DataFrame | None = None

    @property
    def target_frame(self) -> pd.DataFrame:
        """The rows targets are read from: as given, gaps and all (``unfilled``)."""
        return self.frame if self.unfilled is None else self.unfilled

    @property
    def time(self) -> np.ndarray | None:
        """The time column as datetime64 (naive; UTC if zone-aware) or numbers, or None."""
        return None if self.timeline is None else self.timeline.values

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def key_array(self) -> np.ndarray:
        """The group ids as one array of their own type (int64 for integer ids)."""
        return value_array(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def require_length(self, need: int, what: str, fix: str | None = None) -> None:
        """Raise a DataError naming the first group with fewer than ``need`` rows.

        Args:
            need: the fewest rows a group may have.
            what: what ``need`` stands for, e.g. ``"lookback"``.
            fix: how to mend it; by default, longer groups or a shorter window (or, in a
                panel with a time column, the pandas call that drops the short series).
        """
        short = np.flatnonzero(self.lengths < need)
        if short.size:
            g = short[0]
            kind = "series" if self.keys != [None] else "table"
            name = f"{kind} {self.keys[g]!r}" if self.keys != [None] else "the table"
            column = None if self.timeline is None else self.timeline.group
            if fix is None and column is not None:
                fix = (f"{short.size} of {len(self)} series are that short: drop them, "
                       f"df.groupby({column!r}).filter(lambda g: len(g) >= {need}), pass "
                       "longer series, or lower lookback/horizon")
            fix = fix or f"pass a longer {kind}, drop it, or lower lookback/horizon"
            raise DataError(f"{name} has {self.lengths[g]} rows, fewer than {what} = {need}; "
                            f"{fix}")

    def require_span(self, lookback: int, span: int) -> None:
        """Check that every series holds the ``span`` rows a forecast reads (``Spec.span``)."""
        short = int((self.lengths < span).sum())
        column = None if self.timeline is None else self.timeline.group
        drop = (f" or leave out the {short} of {len(self)} series that are shorter, "
                f"df.groupby({column!r}).filter(lambda g: len(g) >= {span})"
                if column is not None and short < len(self) else "")
        self.require_length(span, "lookback + horizon (the last horizon rows give the future "
                            "inputs)" if span > lookback else "lookback",
                            f"pass at least {span} rows per series (a trained model's "
                            f"window is fixed){drop}")


def require_sequence_column(spec: Spec) -> None:
    """Raise a ``DataError`` where a sequence task read from a table has no sequence id
    column, naming the fix, and how a wide table (a row per sequence) becomes one."""
    if spec.group is not None or spec.shape.sliding:
        return
    label = spec.target_names[0] if spec.targets else "label"
    raise DataError(f"task {spec.task!r} from a table needs a sequence id column: set "
                    "spec 'sequence' to the column that says which sequence each row is in "
                    "(or pass a 3-D array of shape (samples, steps, features)). A wide "
                    "table, one row per sequence and a column per step (the UCR archive's "
                    "files), is such an array: fit(df.drop(columns="
                    f"{label!r}).to_numpy()[..., None], df[{label!r}]); or, for a config, "
                    "melt it into one row per step: df.rename_axis('sequence')"
                    f".reset_index().melt(['sequence', {label!r}], var_name='step')"
                    ".sort_values('sequence', kind='stable'), with spec sequence: "
                    "sequence, inputs: [value]")


def arrange(frame: pd.DataFrame, spec: Spec, fitted: TimeStep | None = None) -> Groups:
    """Group ``frame`` by the spec's series/sequence column (stable) and check its time column.

    Args:
        frame: the table.
        spec: the task.
        fitted: a fitted model's time step, which the rows must match; without it
            the step is ``spec.freq`` or inferred from the rows.
    """
    if len(frame) == 0:
        raise DataError("the data has no rows; pass a table with at least one full window")
    group = spec.group
    require_sequence_column(spec)
    if group is None:
        rows = np.arange(len(frame))
        offsets = np.array([0, len(frame)], dtype=np.int64)
        keys: list[Any] = [None]
    else:
        validate.require_columns(frame, [group], "group")
        ids = frame[group]
        if ids.isna().any():
            gaps = np.flatnonzero(ids.isna().to_numpy())
            raise DataError(f"group column {group!r} has a missing id at row {gaps[0]} ("
                            f"{len(gaps)} of {len(ids)} rows have none); every row must say "
                            "which series/sequence it belongs to: fill them in, or drop those "
                            f"rows (df.dropna(subset=[{group!r}]))")
        values = ids.to_numpy()
        first = np.concatenate([[0], np.flatnonzero(values[1:] != values[:-1]) + 1])
        if len(pd.unique(values[first])) == len(first):      # each group one block already
            rows = np.arange(len(frame))
            offsets = np.append(first, len(frame)).astype(np.int64)
            keys = ids.iloc[first].tolist()                   # plain Python values
        else:
            codes, uniques = pd.factorize(ids, sort=False)
            rows = np.argsort(codes, kind="stable")
            counts = np.bincount(codes, minlength=len(uniques))
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            keys = uniques.tolist()
            frame = frame.iloc[rows]
        frame = frame.reset_index(drop=True)
    if spec.time is None:
        return Groups(frame, rows, offsets, keys)
    validate.require_columns(frame, [spec.time], "time")
    timeline = Timeline.read(frame, spec.time, offsets, keys, rows, group,
                             fitted is not None and fitted.dayfirst, spec.zone)
    return Groups(frame, rows, offsets, keys, timeline, _time_step(timeline, spec, fitted))


def _time_step(timeline: Timeline, spec: Spec, fitted: TimeStep | None) -> TimeStep:
    """The step of the rows (``fitted``, checked against them, or the data's), checked:
    a regular forecast's rows are each one step after the previous."""
    forecast = spec.shape.sliding
    if fitted is not None:
        check_matches(fitted, timeline, forecast, spec.regular)
        step = fitted
    elif forecast:
        step = infer(timeline, spec.freq)
    else:                                   # sequences: time orders the rows, no more
        step = TimeStep(timeline.kind, None, timeline.zone)
    if fitted is None and timeline.dayfirst:
        step = dataclasses.replace(step, dayfirst=True)
    if forecast and spec.regular:
        check_regular(step, timeline)
    return step


def fill_gaps(groups: Groups, spec: Spec) -> Groups:
    """Forward-fill the inputs whose missing policy is ``ffill``, within each group; a
    target of the same column keeps its gaps (``Groups.unfilled``): a filled value is
    no observation to train on or score against."""
    columns = [f.name for f in spec.inputs if f.missing == "ffill"]
    if not columns:
        return groups
    ids = np.repeat(np.arange(len(groups)), groups.lengths)
    frame = groups.frame.copy(deep=False)
    for column in columns:
        if column in frame.columns:
            frame[column] = frame[column].groupby(ids).ffill()
    unfilled = groups.frame if set(columns) & set(spec.target_names) else None
    return dataclasses.replace(groups, frame=frame, unfilled=unfilled)


def fill_unread(groups: Groups, spec: Spec) -> Groups:
    """Placeholders where a prediction reads nothing: with future inputs, the last
    ``horizon`` rows of each series give only those; their other input columns
    take the values of the series' last row before them (0 if it has none), so
    they may be left empty."""
    h = spec.horizon
    others = [f for f in spec.inputs if not f.future and f.name in groups.frame.columns]
    if not spec.future_names or not others:
        return groups
    lengths, ends = groups.lengths, groups.offsets[1:]
    n = np.minimum(lengths, h)
    unread = np.concatenate([np.arange(e - k, e) for e, k in zip(ends, n, strict=True)])
    last_read = np.repeat(np.where(lengths > h, ends - h - 1, -1), n)   # -1: none
    known = last_read >= 0
    frame = groups.frame.copy(deep=False)
    for f in others:
        values = frame[f.name].to_numpy(copy=True)
        if f.kind == "numeric":
            values = values.astype(np.float64) if values.dtype.kind in "iub" else values
            values[unread] = np.where(known, values[np.maximum(last_read, 0)], 0)
        else:
            values[unread[known]] = values[last_read[known]]
        frame[f.name] = values
    return dataclasses.replace(groups, frame=frame)
