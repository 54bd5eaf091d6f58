"""Where data comes from: DataFrames, CSV and Parquet files, and numpy arrays.

Everything becomes one pandas DataFrame in long format (a row per time step),
so the rest of the pipeline has a single path.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..spec import Spec, Target

Source = pd.DataFrame | str | os.PathLike
SAMPLE = "sample"
logger = logging.getLogger(__name__)
_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
_PARQUET = (".parquet", ".pq")


def read_table(source: Source) -> pd.DataFrame:
    """A DataFrame as is, or a CSV / Parquet file read into one."""
    if isinstance(source, pd.DataFrame):
        return source
    if not isinstance(source, str | os.PathLike):
        raise DataError(f"data must be a pandas DataFrame, a CSV/Parquet path or numpy arrays, "
                        f"got {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    name = path.name.lower()
    kind = "Parquet" if name.endswith(_PARQUET) else "CSV (UTF-8)"
    try:
        if name.endswith(_PARQUET):
            return pd.read_parquet(path)
        if name.endswith(_CSV):
            return pd.read_csv(path, sep=_delimiter(path), encoding="utf-8-sig")
    except Exception as exc:  # pandas, pyarrow, gzip and codecs each raise their own types
        detail = " ".join(str(exc).split())
        raise DataError(f"cannot read {str(path)!r} ({type(exc).__name__}: {detail}); check "
                        f"that it is a complete, valid {kind} file (a truncated or damaged "
                        "file must be written again)") from None
    raise DataError(f"data file {str(path)!r} has an unknown type; use .csv, .tsv, .csv.gz or "
                    ".parquet")


def _delimiter(path: Path) -> str:
    """The likeliest delimiter of a CSV file, judged from its header line."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def from_arrays(X: Any, y: Any, spec: Spec | None) -> tuple[pd.DataFrame, Spec]:
    """Long-format table and a resolved spec for the classic array forms.

    * ``X`` (samples, steps, features) or a list of (steps, features) arrays, with
      ``y`` (samples,) / (samples, targets): a sequence task. Trailing all-NaN steps
      count as padding, so variable lengths may be NaN-padded.
    * ``y`` (samples, out_steps, targets): seq2seq; ``out_steps`` equal to the
      longest input means one output per step unless the spec sets a horizon; any
      other ``out_steps`` is the horizon of an encoder-decoder.
    * ``X`` (rows, features) with ``y`` (rows,) / (rows, targets): a forecast table,
      ``y`` holding the targets that are not input columns.

    A ``y`` whose last axis holds 0/1 indicators (``to_categorical``, ``get_dummies``)
    is read by ``indicator_targets``: one-hot as one classification target, multi-hot
    as a binary target per column.
    """
    steps = _sequence_steps(X)
    y_arr, implied = (None, None) if y is None else indicator_targets(y, spec)
    if steps is None:
        return _forecast_table(np.asarray(X), y_arr, spec)
    values, lengths = steps
    n_features = values.shape[1]
    if y_arr is not None and len(y_arr) != len(lengths):
        raise DataError(f"X has {len(lengths)} samples but y has {len(y_arr)}; they must match")
    if spec is None:
        spec = _default_spec(n_features, y_arr, int(lengths.max()), implied)
    if spec.task == "forecast":
        raise ConfigError(f"X holds {len(lengths)} sequences, one per sample, but the spec's "
                          "task is 'forecast' "
                          "(the default, which reads a 2-D table of rows x features); set "
                          "Spec(..., task='sequence') for one output per sample, or "
                          "task='seq2seq' for an output sequence")
    _check_width(spec.input_names, n_features, "X", "inputs")
    if spec.sequence is None:
        spec = dataclasses.replace(spec, sequence=SAMPLE)
    frame = pd.DataFrame(values, columns=spec.input_names, copy=False)   # X is only read
    frame.insert(0, spec.sequence, np.repeat(np.arange(len(lengths)), lengths))
    if y_arr is None:
        return frame, spec
    if spec.task == "sequence":
        targets = y_arr.reshape(len(y_arr), -1)
        _check_width(spec.target_names, targets.shape[1], "y", "targets")
        for j, name in enumerate(spec.target_names):
            frame[name] = np.repeat(targets[:, j], lengths)
        return frame, spec
    return _seq2seq_table(frame, lengths, y_arr, spec), spec


def indicator_targets(y: Any, spec: Spec | None) -> tuple[np.ndarray, tuple[Target, ...] | None]:
    """``y`` as an array, with 0/1 indicator columns (its last axis, 2 or more wide) read.

    * one-hot (exactly one 1 per row, as ``keras.utils.to_categorical`` makes): the
      column index becomes the label (a DataFrame's column name, as
      ``pd.get_dummies`` makes), one classification target ``y``;
    * multi-hot (any other 0/1 rows, e.g. several labels per sample): a binary
      target per column, named ``y0``, ``y1``, ... (or the DataFrame's column names).

    With a spec, only a one-hot ``y`` for a spec of one categorical target is turned
    into labels; anything else (a single 0/1 column among them) keeps its usual meaning.

    Returns:
        ``y`` (labels in place of a one-hot axis; seq2seq keeps a last axis of 1) and
        the targets it implies, or None where ``y`` implies nothing new.

    Example:
        >>> indicator_targets(np.eye(3)[[2, 0, 1]], None)[0]
        array([2, 0, 1])
    """
    names = list(y.columns) if isinstance(y, pd.DataFrame) else None
    arr = np.asarray(y)
    if arr.ndim < 2 or arr.shape[-1] < 2 or not _zero_one(arr):
        return arr, None
    one_hot = bool((arr.sum(axis=-1) == 1).all())
    if spec is not None:
        target = spec.targets[0]
        if not (one_hot and len(spec.targets) == 1 and target.categorical):
            return arr, None
        return _labels(arr, names), None
    if one_hot:
        labels = _labels(arr, names)
        logger.info("y is one-hot over %d columns: one classification target 'y' whose labels "
                    "are the %s", arr.shape[-1], "column names" if names else "column indices")
        return labels, (Target("y", kind="classification"),)
    names = [str(c) for c in names] if names else [f"y{j}" for j in range(arr.shape[-1])]
    logger.info("y is multi-hot over %d columns: a binary target per column (%s)",
                len(names), ", ".join(names))
    return arr.astype(np.int64), tuple(Target(n, kind="binary") for n in names)


def _zero_one(arr: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (numbers or booleans); the first row is tried first."""
    if arr.dtype.kind not in "biuf":
        return False
    rows = arr.reshape(-1, arr.shape[-1])
    return all(bool(((part == 0) | (part == 1)).all()) for part in (rows[:1], rows))


def _labels(indicators: np.ndarray, names: list[Any] | None) -> np.ndarray:
    """Each row's hot column as its label: the column's index or name; seq2seq keeps (.., 1)."""
    codes = indicators.argmax(axis=-1)
    labels = codes if names is None else np.asarray(names, dtype=object)[codes]
    return labels[..., None] if indicators.ndim == 3 else labels


def raw_sequences(X: Any, spec: Spec) -> np.ndarray | None:
    """``X`` itself (samples, steps, features), where predicting from it needs no table.

    That is a 3-D array of finite numbers (no NaN padding, no gaps) for a sequence task
    without a time column whose inputs are all numeric without a missing policy: its
    rows are exactly the steps the model reads, and scaling is all their encoding. For
    anything else (lists, padding, categorical inputs, ...) None: the long table.
    """
    if not (isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype.kind in "biuf"):
        return None
    if spec.task == "forecast" or spec.time is not None or any(
            f.kind != "numeric" or f.missing != "error" for f in spec.inputs):
        return None
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if X.shape[1] == 0 or not np.isfinite(X).all():
        return None
    _check_width(spec.input_names, X.shape[2], "X", "inputs")
    return X


def _sequence_steps(X: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Every sample's steps back to back (rows, F) and the samples' lengths, or None for 2-D X.

    A 3-D array loses its trailing all-NaN (padding) steps; a 3-D array without
    padding is reshaped, not copied.
    """
    if isinstance(X, list | tuple):
        arrays = [np.asarray(x, dtype=np.float64) for x in X]
        if not arrays:
            raise DataError("X is an empty list; pass at least one (steps, features) array")
        bad = next((i for i, a in enumerate(arrays) if a.ndim != 2), None)
        if bad is not None:
            raise DataError(f"a list X must hold 2-D arrays of shape (steps, features), but item "
                            f"{bad} has shape {arrays[bad].shape}; reshape it (a univariate "
                            "sequence: x.reshape(-1, 1))")
        if len({a.shape[1] for a in arrays}) != 1:
            raise DataError("every sequence in X must have the same number of features")
        return np.concatenate(arrays), np.array([len(a) for a in arrays])
    X = np.asarray(X)
    if X.ndim == 2:
        return None
    if X.ndim != 3:
        raise DataError(f"X must have shape (samples, steps, features) or (rows, features), got "
                        f"{X.ndim} dimension(s) {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    n, steps, f = X.shape
    if steps and not np.isnan(X[:, -1]).all(axis=1).any():    # no sample ends in padding
        return X.reshape(n * steps, f), np.full(n, steps)
    padded = np.isnan(X).all(axis=2)                          # (samples, steps)
    lengths = steps - np.argmin(padded[:, ::-1], axis=1)
    lengths[padded.all(axis=1)] = 0
    if (lengths == 0).any():
        raise DataError(f"sample {int(np.flatnonzero(lengths == 0)[0])} of X is all NaN")
    keep = np.arange(steps)[None, :] < lengths[:, None]      # (samples, steps)
    return X[keep], lengths


def _default_spec(n_features: int, y: np.ndarray | None, steps: int,
                  implied: tuple[Target, ...] | None = None) -> Spec:
    """The spec arrays imply: inputs ``x0``..., targets ``y`` or ``y0``... (or ``implied``),
    a sequence task for y (samples,) / (samples, targets), seq2seq for a 3-D y."""
    inputs = [f"x{i}" for i in range(n_features)]
    if y is None:
        raise ConfigError("predicting from arrays needs the spec of a fitted model")
    if y.ndim == 3:
        targets = implied or [Target(f"y{j}", kind=_kind(y[..., j])) for j in range(y.shape[2])]
        horizon = None if y.shape[1] == steps else y.shape[1]
        return Spec(inputs, targets, task="seq2seq", horizon=horizon)
    if implied:
        return Spec(inputs, implied, task="sequence")
    width = 1 if y.ndim == 1 else y.shape[1]
    names = ["y"] if y.ndim == 1 else [f"y{j}" for j in range(width)]
    columns = [y] if y.ndim == 1 else [y[:, j] for j in range(width)]
    return Spec(inputs, [Target(n, kind=_kind(c)) for n, c in zip(names, columns, strict=True)],
                task="sequence")


def _kind(values: np.ndarray) -> str:
    return "regression" if np.asarray(values).dtype.kind == "f" else "classification"


def _seq2seq_table(frame: pd.DataFrame, lengths: np.ndarray, y: np.ndarray, spec: Spec
                   ) -> pd.DataFrame:
    if y.ndim != 3:
        raise DataError(f"seq2seq y must have shape (samples, out_steps, targets), got {y.shape}")
    _check_width(spec.target_names, y.shape[2], "y", "targets")
    if spec.aligned:
        if not (lengths == y.shape[1]).all():
            raise DataError(f"y has {y.shape[1]} steps per sample but X has {lengths.max()}; one "
                            "output per input step needs equal lengths (or set spec horizon)")
        for j, name in enumerate(spec.target_names):
            frame[name] = y[:, :, j].reshape(-1)
        return frame
    if y.shape[1] != spec.horizon:
        raise DataError(f"y has {y.shape[1]} output steps but spec horizon is {spec.horizon}")
    # Long format: each sample's input steps, then its output steps (NaN where absent); a
    # target that is also an input is one column, holding X on input rows, y on output rows.
    n, horizon = len(lengths), spec.horizon
    names = spec.input_names + [t for t in spec.target_names if t not in spec.input_names]
    width = len(spec.input_names)
    inputs = frame[spec.input_names].to_numpy()
    dtype = np.result_type(inputs.dtype, y.dtype, np.float32)   # NaN needs a float type
    # Column-major, so that the DataFrame below wraps the array without copying it.
    table = np.full((int(lengths.sum()) + n * horizon, len(names)), np.nan, dtype=dtype,
                    order="F")
    targets = [names.index(name) for name in spec.target_names]
    if (lengths == lengths[0]).all():                     # equal lengths: strided copies
        steps = int(lengths[0])
        cube = table.T.reshape(len(names), n, steps + horizon)       # (C, n, L + S) view
        cube[:width, :, :steps] = inputs.reshape(n, steps, width).transpose(2, 0, 1)
        cube[targets, :, steps:] = y.transpose(2, 0, 1)
    else:
        is_input = np.repeat(np.tile([True, False], n),
                             np.column_stack([lengths, np.full(n, horizon)]).ravel())
        table[is_input, :width] = inputs
        out_rows = np.flatnonzero(~is_input)
        for j, column in enumerate(targets):
            table[out_rows, column] = y[:, :, j].reshape(-1)
    sequence = pd.DataFrame({spec.sequence: np.repeat(np.arange(n), lengths + horizon)})
    return pd.concat([sequence, pd.DataFrame(table, columns=names, copy=False)], axis=1)


def _forecast_table(X: np.ndarray, y: np.ndarray | None, spec: Spec | None) -> tuple[
        pd.DataFrame, Spec]:
    if spec is None or spec.task != "forecast":
        raise ConfigError(f"X has shape {X.shape}, 2 dimensions, but an LSTM reads a sequence "
                          "per sample: (samples, steps, features). One feature per step: "
                          "X[..., None] gives (samples, steps, 1). A 2-D X is otherwise a "
                          "forecast table of rows x features, which needs Spec(inputs=..., "
                          "targets=..., lookback=..., horizon=...)")
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (rows, features), got shape {X.shape}")
    _check_width(spec.input_names, X.shape[1], "X", "inputs")
    frame = pd.DataFrame(X, columns=spec.input_names, copy=False)        # X is only read
    missing = [n for n in spec.target_names if n not in frame.columns]
    if not missing or y is None:   # predicting needs no targets; fitting checks for them
        return frame, spec
    y2 = y.reshape(len(y), -1)
    if len(y2) != len(X):
        raise DataError(f"X has {len(X)} rows but y has {len(y2)}; they must match")
    _check_width(missing, y2.shape[1], "y", "targets that are not inputs")
    for j, name in enumerate(missing):
        frame[name] = y2[:, j]
    return frame, spec


def _check_width(names: list[str], width: int, array: str, role: str) -> None:
    if len(names) != width:
        raise DataError(f"{array} has {width} feature column(s) but the spec lists {len(names)} "
                        f"{role} ({names}); make them match")
