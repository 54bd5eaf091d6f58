"""Task shapes: forecast, sequence, seq2seq and aligned seq2seq, each decided once from a Spec.

A shape owns what depends on how windows and outputs are laid out: the rows of each window
(forecast origins ``last``/``all``, whole sequences with their lengths), the prediction
table's id columns, the array layout ``predict`` returns, the naive baseline's description
and the ONNX graph's input and output steps. ``LSTMModel`` and the torch-free ``OnnxModel``
both ask it, so this module imports numpy and pandas only.

Example:
    >>> shape = task_shape(spec)            # or spec.shape
    >>> rows = shape.window_rows(groups, origins="last")
    >>> prediction_frame(spec, rows, decoded)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import ConfigError
from .kinds import Decoded, prediction_columns

if TYPE_CHECKING:
    from .data.groups import Groups
    from .spec import Spec


OUTPUTS = ("frame", "array")     # what predict gives: the tidy table, or arrays shaped like y


@dataclass(frozen=True)
class WindowRows:
    """Which rows each window reads and what identifies it in the prediction table.

    Attributes:
        groups: the arranged table the rows index (None: samples of an array).
        rows: (N, steps) arranged row of every window step (None where not needed).
        origin: forecasts: each window's origin, its last input row (arranged rows).
        keys: sequence tasks: each window's sequence id.
        lengths: sequence tasks: each window's input steps.
    """

    groups: Groups | None
    rows: np.ndarray | None = None
    origin: np.ndarray | None = None
    keys: np.ndarray | None = None
    lengths: np.ndarray | None = None


@dataclass(frozen=True)
class TaskShape:
    """What every task shape answers; see ``task_shape`` for the four of them.

    Attributes:
        name: ``forecast``, ``sequence``, ``seq2seq`` or ``aligned``.
        sliding: windows slide along series and forecast from an origin (forecast);
            else each window is one whole sequence.
        per_sequence: one output per sequence (sequence classification/regression).
        per_step: one output per input step (aligned seq2seq, X(t) -> Y(t)).
        continues: the outputs continue the input series in time (forecast, seq2seq with
            a horizon), so the last input value is a naive forecast of them.
        baseline_name: how the naive baseline of the evaluation is made.
    """

    spec: Spec
    name: str = ""
    sliding: bool = False
    per_sequence: bool = False
    per_step: bool = False
    continues: bool = False
    baseline_name: str = "training mean / majority class"

    @property
    def output_steps(self) -> int:
        """Output steps per window: the horizon, or 1 (a sequence; aligned seq2seq per step)."""
        return 1 if self.per_sequence or self.per_step else self.spec.horizon

    @property
    def onnx_steps(self) -> int | str:
        """The ONNX graph's input steps: the rows a forecast reads, else dynamic."""
        return self.spec.span if self.sliding else "steps"

    @property
    def onnx_out_steps(self) -> int | str:
        """The ONNX graph's output steps: dynamic per input step, else fixed."""
        return "steps" if self.per_step else (self.spec.horizon or 1)

    @property
    def onnx_lengths(self) -> bool:
        """Whether the ONNX graph takes each sequence's length."""
        return not self.sliding

    def window_rows(self, groups: Groups, origins: str = "last") -> WindowRows:
        """Every window of ``groups`` to predict from, with the rows of each of its steps.

        Sequence tasks: one window per sequence, its steps past the end repeating its
        last row (padding). ``origins`` is for forecasts (see ``ForecastShape``).
        """
        starts = groups.offsets[:-1]
        lengths = groups.lengths.astype(np.int64)
        steps = np.arange(lengths.max())
        rows = starts[:, None] + np.minimum(steps[None, :], lengths[:, None] - 1)
        return WindowRows(groups, rows, keys=groups.key_array, lengths=lengths)

    def id_columns(self, rows: WindowRows, n: int, steps: int
                   ) -> tuple[dict[str, Any], np.ndarray]:
        """The prediction table's id columns for ``n`` windows of ``steps`` output steps,
        and which of the ``n * steps`` rows to keep (steps past a sequence's end go)."""
        columns = {self.spec.sequence: np.repeat(rows.keys, steps),
                   "step": np.tile(np.arange(1, steps + 1), n)}
        return columns, np.ones(n * steps, dtype=bool)

    def array_layout(self, decoded: dict[str, Decoded], lengths: np.ndarray | None,
                     target_axis: bool = False) -> np.ndarray:
        """Every target's values or labels in one array shaped like ``y`` (see
        ``LSTMModel.predict``); targets of different types share an object array.
        ``target_axis``: fit's ``y`` had a targets axis for one target (sequence tasks)."""
        values = [d.values for d in decoded.values()]                   # each (N, S)
        if len({v.dtype for v in values}) > 1:
            values = [v.astype(object) for v in values]
        joined = _block_of(values)
        return self.sample_layout(np.stack(values, axis=-1) if joined is None else joined,
                                  lengths)                              # (N, S, T)

    def sample_layout(self, array: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """(N, S, ...) per window and step as the user sees it (see the subclasses)."""
        return array


def _block_of(values: list[np.ndarray]) -> np.ndarray | None:
    """The (N, S, T) array whose last axis ``values`` (each (N, S)) are, in order (targets
    decoded at once, ``pipeline._plain_regression``): ``np.stack(values, axis=-1)`` without
    copying (stacking strided views costs more than decoding them); else None."""
    block = values[0].base
    if not isinstance(block, np.ndarray) or block.ndim != 3 or block.shape[-1] != len(values):
        return None
    start = block.__array_interface__["data"][0]
    same = all(v.base is block and v.shape == block.shape[:-1] and v.strides == block.strides[:-1]
               and v.__array_interface__["data"][0] == start + k * block.strides[-1]
               for k, v in enumerate(values))
    return block if same else None


@dataclass(frozen=True)
class ForecastShape(TaskShape):
    """Windows of ``lookback`` rows (with future inputs, then ``horizon`` more) sliding along
    each series; a window's origin is its last input row."""

    name: str = "forecast"
    sliding: bool = True
    continues: bool = True
    baseline_name: str = "last value (persistence)"

    def origin(self, start: np.ndarray) -> np.ndarray:
        """The origin (last input row) of windows starting at rows ``start``."""
        return window_origin(start, self.spec.lookback)

    def start(self, origin: np.ndarray) -> np.ndarray:
        """The first input row of windows whose origin is ``origin``."""
        return origin - self.spec.lookback + 1

    def starts(self, groups: Groups, origins: str) -> np.ndarray:
        """First rows of the windows to predict from: the last of each series (``last``)
        or every full lookback (``all``), series after series. With future inputs a window
        reads ``lookback + horizon`` rows (``Spec.span``), so the last one ends ``horizon``
        rows before its series does.
        """
        spec = self.spec
        groups.require_span(spec.lookback, spec.span)
        end = groups.offsets[1:] - spec.span                          # last start, inclusive
        first = end if origins == "last" else groups.offsets[:-1]
        return row_ranges(first, end + 1)

    def part_starts(self, groups: Groups, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """First rows of the windows whose targets lie in rows ``lo .. hi - 1`` (within
        each series) of ``groups``; their inputs may reach back before ``lo``."""
        spec = self.spec
        first = np.maximum(lo - spec.lookback, 0)
        last = hi - spec.lookback - spec.horizon + 1          # exclusive
        base = groups.offsets[:-1]
        return row_ranges(base + first, base + np.maximum(last, first))

    def window_rows(self, groups: Groups, origins: str = "last") -> WindowRows:
        start = self.starts(groups, origins)
        return WindowRows(groups, start[:, None] + np.arange(self.spec.span),
                          origin=self.origin(start))

    def id_columns(self, rows: WindowRows, n: int, steps: int
                   ) -> tuple[dict[str, Any], np.ndarray]:
        columns = forecast_columns(rows.groups, rows.origin, steps, self.spec.series,
                                   ahead=bool(self.spec.future_names))
        return columns, np.ones(n * steps, dtype=bool)


@dataclass(frozen=True)
class SequenceShape(TaskShape):
    """One output per whole sequence."""

    name: str = "sequence"
    per_sequence: bool = True

    def id_columns(self, rows: WindowRows, n: int, steps: int
                   ) -> tuple[dict[str, Any], np.ndarray]:
        return {self.spec.sequence: rows.keys}, np.ones(n * steps, dtype=bool)

    def array_layout(self, decoded: dict[str, Decoded], lengths: np.ndarray | None,
                     target_axis: bool = False) -> np.ndarray:
        """(samples, targets), or (samples,) with one target unless ``target_axis`` (fit's
        ``y`` was (samples, 1))."""
        array = super().array_layout(decoded, lengths)
        return array[..., 0] if len(decoded) == 1 and not target_axis else array

    def sample_layout(self, array: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """A sequence task drops the step axis."""
        return array[:, 0]


@dataclass(frozen=True)
class Seq2SeqShape(TaskShape):
    """Whole sequences in, ``horizon`` steps out that follow them."""

    name: str = "seq2seq"
    continues: bool = True
    baseline_name: str = "last input value, else training mean / majority class"


@dataclass(frozen=True)
class AlignedShape(TaskShape):
    """Seq2seq with one output per input step (X(t) -> Y(t)), sequences of any length."""

    name: str = "aligned"
    per_step: bool = True

    def id_columns(self, rows: WindowRows, n: int, steps: int
                   ) -> tuple[dict[str, Any], np.ndarray]:
        """The sequence, the step (1..) and, with a time column, each step's ``time`` as
        its row has it, so the labels join back onto the rows."""
        columns, _ = super().id_columns(rows, n, steps)
        timeline = None if rows.groups is None else rows.groups.timeline
        if timeline is not None and rows.rows is not None:      # arrays have no times
            columns["time"] = timeline.local(rows.rows[:, :steps].ravel())
        return columns, (np.arange(steps)[None, :] < rows.lengths[:, None]).ravel()

    def sample_layout(self, array: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """Steps past a sequence's end are NaN (None in an array of labels)."""
        if lengths is None or (lengths == array.shape[1]).all():
            return array
        past = np.arange(array.shape[1])[None, :] >= lengths[:, None]  # (N, S)
        array = array.copy() if array.dtype.kind == "f" else array.astype(object)
        array[past] = np.nan if array.dtype.kind == "f" else None
        return array


def task_shape(spec: Spec) -> TaskShape:
    """The shape of ``spec``'s task (also ``spec.shape``).

    Example:
        >>> task_shape(Spec(task="seq2seq", sequence="id", ...)).per_step   # no horizon
        True
    """
    if spec.task == "forecast":
        return ForecastShape(spec)
    if spec.task == "sequence":
        return SequenceShape(spec)
    return Seq2SeqShape(spec) if spec.horizon is not None else AlignedShape(spec)


def categorical_names(spec: Spec) -> list[str]:
    """The categorical targets, whose probabilities ``predict_proba`` gives; a ConfigError
    for a model without one."""
    names = [t.name for t in spec.targets if t.categorical]
    if not names:
        raise ConfigError("predict_proba needs a classification or binary target, and every "
                          "target of this model is a regression target; use predict")
    return names


def probabilities(spec: Spec, decoded: dict[str, Decoded], lengths: np.ndarray | None
                  ) -> np.ndarray | dict[str, np.ndarray]:
    """``predict_proba``'s arrays from every target's ``decoded`` predictions: each
    categorical target's (samples, classes), (samples or windows, steps, classes) for
    seq2seq and forecasts (``lengths``: as for ``array_layout``); a dict of them by target
    name with several."""
    probas = {name: spec.shape.sample_layout(decoded[name].proba, lengths)
              for name in categorical_names(spec)}
    return next(iter(probas.values())) if len(probas) == 1 else probas


def prediction_frame(spec: Spec, rows: WindowRows, decoded: dict[str, Decoded]
                     ) -> pd.DataFrame:
    """The tidy prediction table, as ``LSTMModel.predict`` and ``OnnxModel.predict`` give it:
    the shape's id columns, then each target's values and probabilities."""
    n, steps = decoded[spec.targets[0].name].values.shape
    columns, keep = spec.shape.id_columns(rows, n, steps)
    columns.update(prediction_columns(spec.targets, decoded))
    frame = pd.DataFrame(columns)
    return frame if keep.all() else frame[keep].reset_index(drop=True)


def sample_frame(spec: Spec, rows: WindowRows, decoded: dict[str, Decoded], samples: int,
                 rng: np.random.Generator) -> pd.DataFrame:
    """The prediction table's id columns with ``samples`` rows per prediction, numbered in a
    ``sample`` column, and each target's draws: distribution targets' from their
    distribution (independent across steps), the others' point predictions repeated."""
    n, steps = decoded[spec.targets[0].name].values.shape
    columns, keep = spec.shape.id_columns(rows, n, steps)
    frame = pd.DataFrame(columns)
    frame = frame.loc[frame.index.repeat(samples)].reset_index(drop=True)
    frame["sample"] = np.tile(np.arange(samples), n * steps)
    for t in spec.targets:
        d = decoded[t.name]
        frame[t.name] = (np.repeat(d.values.reshape(-1), samples) if d.params is None else
                         t.target_kind.sample(d.params, samples, rng).reshape(-1))  # (N*S*n,)
    keep = np.repeat(keep, samples)
    return frame if keep.all() else frame[keep].reset_index(drop=True)


def window_origin(start: Any, lookback: int) -> Any:
    """The origin (last input row) of forecast windows of ``lookback`` rows starting at
    ``start`` (an array or a tensor)."""
    return start + lookback - 1


def anchor_rows(windows: Any, lag: int) -> np.ndarray:
    """Rows (N, H) of the naive forecast with ``lag`` of each window of a forecast window set
    (``starts``, ``lookback``, ``horizon``): the origin for 1, else the row one season
    (``lag`` steps) before each step."""
    origin = window_origin(np.asarray(windows.starts), windows.lookback)[:, None]
    k = np.arange(1, windows.horizon + 1)
    return origin + k - lag * ((k + lag - 1) // lag)


def row_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(lo[i], hi[i])`` over i, without a Python loop."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.arange(total, dtype=np.int64) + shift


def forecast_columns(groups: Groups, origin: np.ndarray, steps: int, series: str | None,
                     ahead: bool = False) -> dict[str, Any]:
    """The id columns of forecasts made at arranged rows ``origin``, ``steps`` rows each.

    Returns the series id (if the spec has one), ``origin`` (the time, or the row
    within its series, of the last input row), ``step`` (1..steps) and, with a time
    column and a known time step, ``time`` (the predicted step's time, on the step's
    calendar). Times are in the data's zone. With ``ahead`` the table holds the
    predicted steps' rows (they give future inputs), and ``time`` is read from them.
    """
    n = len(origin)
    keys = groups.key_array
    group = np.searchsorted(groups.offsets, origin, side="right") - 1
    columns: dict[str, np.ndarray] = {}
    if series is not None:
        columns[series] = np.repeat(keys[group], steps)
    timeline, step = groups.timeline, groups.step
    if timeline is not None:
        columns["origin"] = timeline.local(np.repeat(origin, steps))
    else:
        columns["origin"] = np.repeat(origin - groups.offsets[group], steps)
    columns["step"] = np.tile(np.arange(1, steps + 1), n)
    if timeline is not None and ahead:
        columns["time"] = timeline.local(np.repeat(origin, steps) + columns["step"])
    elif timeline is not None and step is not None and step.freq is not None:
        columns["time"] = step.forecast_times(timeline.values[origin], steps, timeline.zone)
    return columns
