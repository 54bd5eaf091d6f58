"""From an arranged table to tensors and window sets, in one direction.

``assign_parts`` splits rows (forecast) or sequences (sequence tasks) before
anything is fitted; ``fit_encoding`` fits scalers and labels on the training part
only; ``encode`` turns a whole table into tensors once; ``part_windows`` and
``predict_windows`` index into those tensors without copying them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import presets
from ..errors import ConfigError, DataError
from ..spec import Spec, Split
from ..tasks import row_ranges
from .encoding import Encoding
from .groups import Groups
from .series_scaling import SeriesScalers
from .split import PART_CODES, sequence_parts, series_bounds
from .static import check_static, first_change
from .weights import read_weights
from .windows import ForecastWindows, SequenceWindows, Windows


@dataclass(frozen=True)
class Parts:
    """Where each part lies: row bounds per series (forecast) or a part code per sequence."""

    bounds: np.ndarray | None = None
    codes: np.ndarray | None = None


@dataclass(frozen=True)
class Encoded:
    """A table as tensors: encoded inputs (rows, F) and targets (per row or per sequence).

    ``offsets`` are the input row boundaries of each group (for seq2seq with a
    horizon the output rows are not among the input rows); ``future_columns`` the
    input columns known in advance (forecasts); ``weights`` the window weights
    (``Spec.weight``: per row for forecasts, per group for sequence tasks), None unless asked;
    ``series`` each row's series code where rows are scaled per series
    (``SeriesScalers.row_codes``), else None, and ``scalers`` the statistics those codes
    index (the model's, with those of any series it was not fitted on after them:
    ``SeriesScalers.covering``).
    """

    groups: Groups
    inputs: torch.Tensor
    targets: torch.Tensor | None
    offsets: torch.Tensor
    future_columns: tuple[int, ...] = ()
    weights: torch.Tensor | None = None
    series: torch.Tensor | None = None
    scalers: SeriesScalers | None = None


def assign_parts(groups: Groups, spec: Spec, split: Split, seed: int) -> Parts:
    """Split before fitting: chronological rows per series, or whole sequences."""
    if spec.shape.sliding:
        groups.require_length(spec.lookback + spec.horizon, "lookback + horizon")
        return Parts(bounds=series_bounds(groups, split))
    return Parts(codes=sequence_parts(len(groups), split, seed, _strata(groups, spec, split)))


def part_room(groups: Groups, spec: Spec, split: Split, parts: Parts | None, part: str,
              fitted: bool = False) -> str:
    """Why a forecast's ``part`` ('train', 'val' or 'test') holds no window, in numbers: the
    most rows a series has in it, where the split ends it, what a window needs there (a
    training window all its rows; another its horizon, its inputs reaching back) and the
    row-number boundary that gives it that (a later end of the part; for the test part,
    which runs to ``end``, an earlier start); ``fitted``: a fitted model's split, which is
    fixed: another part or longer series. '' where there is no split to say it by (``parts``
    None: the whole table) or rows are no forecast's (a sequence task's parts hold whole
    sequences)."""
    if parts is None or not spec.shape.sliding:
        return ""
    code = PART_CODES[part]
    lo, hi = parts.bounds[:, code], parts.bounds[:, code + 1]
    g = int(np.argmax(hi - lo))
    need = spec.lookback + spec.horizon if part == "train" else spec.horizon
    edge = ("val_start", "test_start", "end")[code]
    value = getattr(split, edge)
    where = f"series {groups.keys[g]!r}" if spec.series else "the table"
    ends = (f"{edge}={value!r} ends it at row {hi[g]}" if value is not None
            else f"it runs to the last row, {hi[g]}")
    cut = "a row number cuts every series at that row"
    if fitted:
        fix = ("the model's split is fixed: score another part (part='all'; CLI: --part "
               "all), or longer series")
    elif part == "test":
        fix = f"an earlier test_start ({cut}: Split(test_start={hi[g] - need}, ...))"
    else:
        fix = f"a later {edge} ({cut}: Split({edge}={lo[g] + need}, ...))"
    if not fitted:
        fix += ", or lower lookback/horizon"
    return (f"; it holds at most {hi[g] - lo[g]} rows of a series ({where}, {groups.lengths[g]} "
            f"rows: {ends}) and needs {need}: {fix}")


def _strata(groups: Groups, spec: Spec, split: Split) -> np.ndarray | None:
    """Each sequence's class (first categorical target) when the split is stratified
    (``stratify`` unset: as the task's preset says)."""
    if not (presets.stratified(spec) if split.stratify is None else split.stratify):
        return None
    target = next((t for t in spec.targets if t.categorical), None)
    if not spec.shape.per_sequence or target is None:
        raise ConfigError("split stratify=True needs a sequence task with a classification or "
                          "binary target (one class per sequence); set stratify=False")
    return groups.frame[target.name].to_numpy()[groups.offsets[:-1]]


def fit_encoding(groups: Groups, spec: Spec, parts: Parts) -> Encoding:
    """Fit every scaler and label set on training rows only (and, with
    ``scale_by="series"``, each series' statistics on its own)."""
    frame, targets, positions = groups.frame, groups.target_frame, groups.rows
    if parts.bounds is not None:
        rows = row_ranges(groups.offsets[:-1], groups.offsets[:-1] + parts.bounds[:, 1])
        encoding = Encoding.fit(spec, _rows(frame, spec.input_names, rows), positions[rows],
                                _rows(targets, spec.target_names, rows), positions[rows])
        if spec.scale_by == "series":
            encoding = dataclasses.replace(encoding, series=SeriesScalers.fit(
                spec, encoding, groups, parts.bounds[:, 1]))
        return encoding
    train = np.flatnonzero(parts.codes == PART_CODES["train"])
    if train.size == 0:
        raise DataError("the training part has no sequences; raise split val_start or pass more "
                        "sequences")
    if spec.shape.per_sequence:         # the labels are read from each sequence's first row
        _check_constant_targets(groups, spec)
    (in_lo, in_hi), (out_lo, out_hi) = _sequence_rows(groups, spec, with_targets=True)
    in_rows = row_ranges(in_lo[train], in_hi[train])
    out_rows = row_ranges(out_lo[train], out_hi[train])
    return Encoding.fit(spec, _rows(frame, spec.input_names, in_rows), positions[in_rows],
                        _rows(targets, spec.target_names, out_rows), positions[out_rows])


def continued_encoding(groups: Groups, spec: Spec, parts: Parts, encoding: Encoding
                       ) -> Encoding:
    """A warm start's encoding: the fitted ``encoding``, frozen, except that with
    ``scale_by="series"`` the series of ``groups`` it has no statistics for get their own,
    fitted on their training part (``SeriesScalers.extended``)."""
    if encoding.series is None:
        return encoding
    return dataclasses.replace(encoding, series=encoding.series.extended(
        spec, encoding, groups, parts.bounds[:, 1]))


def encode(groups: Groups, spec: Spec, encoding: Encoding, with_targets: bool,
           weighted: bool = False, fitting: bool = False) -> Encoded:
    """Encode a whole arranged table into tensors, once (``weighted``: with the spec's
    window weights, ``lstmkit.data.weights``; ``fitting``: the table being fitted on, whose
    unknown labels a later split fixes, where a fitted model's errors say what it takes)."""
    frame, rows = groups.frame, groups.rows
    check_static(groups, spec)
    weights = _tensor(read_weights(groups, spec)) if weighted and spec.weight else None
    if spec.shape.sliding or spec.shape.per_step:     # a target per input row
        series = scalers = None
        if encoding.series is not None:               # each row by its series' statistics
            scalers = encoding.series.covering(spec, encoding, groups)
            series = scalers.row_codes(groups)
            encoding = scalers.at_rows(encoding, series)
        inputs = encoding.encode_inputs(frame, rows, fitting)
        targets = (encoding.encode_targets(groups.target_frame, rows, fitting) if with_targets
                   else None)
        return Encoded(groups, torch.from_numpy(inputs), _tensor(targets),
                       torch.from_numpy(groups.offsets), encoding.future_columns, weights,
                       _tensor(series), scalers)
    (in_lo, in_hi), (out_lo, out_hi) = _sequence_rows(groups, spec, with_targets)
    if (in_hi == groups.offsets[1:]).all():               # every row is an input step
        inputs, offsets = encoding.encode_inputs(frame, rows, fitting), groups.offsets
    else:
        in_rows = row_ranges(in_lo, in_hi)
        inputs = encoding.encode_inputs(_rows(frame, spec.input_names, in_rows), rows[in_rows],
                                        fitting)
        offsets = np.concatenate([[0], np.cumsum(in_hi - in_lo)]).astype(np.int64)
    targets = None
    if with_targets:
        out_rows = row_ranges(out_lo, out_hi)
        if spec.shape.per_sequence:
            _check_constant_targets(groups, spec)
        steps = spec.shape.output_steps
        encoded = encoding.encode_targets(_rows(groups.target_frame, spec.target_names,
                                                out_rows), rows[out_rows], fitting)
        targets = encoded.reshape(len(groups), steps, len(spec.targets))  # (G, S, T)
    return Encoded(groups, torch.from_numpy(inputs), _tensor(targets), torch.from_numpy(offsets),
                   weights=weights)


def part_windows(data: Encoded, spec: Spec, parts: Parts | None, part: str) -> Windows:
    """Windows whose targets lie in ``part`` ('train', 'val', 'test' or 'all')."""
    groups = data.groups
    if spec.shape.sliding:
        if part == "all" or parts is None:
            lo, hi = np.zeros(len(groups), dtype=np.int64), groups.lengths
        else:
            code = PART_CODES[part]
            lo, hi = parts.bounds[:, code], parts.bounds[:, code + 1]
        starts = spec.shape.part_starts(groups, lo, hi)
        return ForecastWindows(data.inputs, data.targets, torch.from_numpy(starts),
                               spec.lookback, spec.horizon, data.future_columns, data.weights,
                               data.series, data.scalers)
    if part == "all" or parts is None:
        index = np.arange(len(groups))
    else:
        index = np.flatnonzero(parts.codes == PART_CODES[part])
    return SequenceWindows(data.inputs, data.offsets, torch.from_numpy(index), data.targets,
                           spec.shape.per_step, weights=data.weights)


def predict_windows(data: Encoded, spec: Spec, origins: str) -> Windows:
    """Windows to predict from: the last (``origins='last'``) or every full lookback.

    With future inputs each series ends in ``horizon`` rows that give them, so a
    window needs ``lookback + horizon`` rows and the last one ends ``horizon``
    rows before the series does.
    """
    if not spec.shape.sliding:
        return SequenceWindows(data.inputs, data.offsets, torch.arange(len(data.groups)), None,
                               spec.shape.per_step)
    starts = spec.shape.starts(data.groups, origins)
    return ForecastWindows(data.inputs, None, torch.from_numpy(starts), spec.lookback,
                           spec.horizon, data.future_columns, series=data.series,
                           scalers=data.scalers)


def _rows(frame: pd.DataFrame, columns: list[str], rows: np.ndarray) -> pd.DataFrame:
    """Rows ``rows`` of ``columns`` only: the other columns are not copied, and one
    contiguous run of rows (all rows of a sequence task, a series' training rows) is a
    slice, not copied at all."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and (np.diff(rows) > 0).all():
        return frame[columns].iloc[rows[0] : rows[-1] + 1]
    return frame[columns].iloc[rows]


def _tensor(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array))


def _sequence_rows(groups: Groups, spec: Spec, with_targets: bool):
    """Row ranges ``(lo, hi)`` of each sequence's input steps and of its output steps."""
    lo, hi = groups.offsets[:-1], groups.offsets[1:]
    if spec.shape.per_sequence:
        return (lo, hi), (lo, lo + 1)
    if spec.shape.per_step:
        return (lo, hi), (lo, hi)
    if not with_targets:
        return (lo, hi), (hi, hi)
    groups.require_length(spec.horizon + 1, "horizon + 1 (input steps then output steps)")
    return (lo, hi - spec.horizon), (hi - spec.horizon, hi)



def _check_constant_targets(groups: Groups, spec: Spec) -> None:
    for name in spec.target_names:
        change = first_change(groups, groups.target_frame, name)
        if change is None:
            continue
        i, g = change
        values, head = groups.target_frame[name], groups.offsets[g]
        sequence = values.iloc[head : groups.offsets[g + 1]]
        given = np.flatnonzero(sequence.notna().to_numpy())
        if 0 < len(given) < len(sequence) and sequence.iloc[given].nunique() == 1:
            raise DataError(       # a label written once per sequence (its first or last row)
                f"target {name!r} is written on some rows of sequence {groups.keys[g]!r} only "
                f"(row {groups.rows[head + given[0]]} has {sequence.iloc[given[0]]!r}, row "
                f"{groups.rows[head + np.flatnonzero(sequence.isna().to_numpy())[0]]} none); "
                "a sequence task needs its one value on every row of the sequence: "
                f"df[{name!r}] = df.groupby({spec.sequence!r})[{name!r}].transform('first')")
        raise DataError(f"target {name!r} changes within sequence {groups.keys[g]!r} (row "
                        f"{groups.rows[i]} has {values.iloc[i]!r}, its first row "
                        f"{values.iloc[head]!r}); a sequence task needs one value per sequence: "
                        "use task 'seq2seq' for per-step targets")
