"""Reader for the UEA / sktime ``.ts`` text format of multivariate series.

A file has ``#`` comment lines (and, before ``@data``, ``%`` ones, as ARFF writes them
and aeon's bundled files keep them), ``@`` header lines (``@problemName``,
``@dimensions``, ``@equalLength``, ``@classLabel true a b c``, ... ``@data``) and
then one sample per line: ``dim1 values:dim2 values:...:label``, values separated
by commas, ``?`` or ``NaN`` for a missing value. Samples may differ in length, but
the dimensions of one sample may not. The timestamped variant
(``@timeStamps true``) is not supported.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..checks import no_file
from ..errors import DataError

TS_SUFFIX = ".ts"

_BOOLEAN_HEADERS = ("timestamps", "missing", "univariate", "equallength", "classlabel",
                    "targetlabel")


class _Header:
    """What the ``@`` lines of one file declare."""

    def __init__(self) -> None:
        self.flags: dict[str, bool] = {}
        self.dimensions: int | None = None
        self.length: int | None = None
        self.classes: set[str] = set()
        self.data = False

    @property
    def labelled(self) -> bool:
        return self.flags.get("classlabel", False) or self.flags.get("targetlabel", False)

    def read(self, line: str, where: str) -> None:
        words = line[1:].split()
        key = words.pop(0).lower() if words else ""
        if key == "data":
            self.data = True
        elif key in _BOOLEAN_HEADERS:
            if not words or words[0].lower() not in ("true", "false"):
                raise DataError(f"{where}: @{key} must be followed by true or false")
            self.flags[key] = words[0].lower() == "true"
            if key == "timestamps" and self.flags[key]:
                raise DataError(f"{where}: timestamped .ts files (@timeStamps true) are not "
                                "supported; convert the file to the plain format")
            if key == "classlabel":
                self.classes = set(words[1:])
        elif key in ("dimensions", "serieslength"):
            if len(words) != 1 or not words[0].isdigit() or int(words[0]) == 0:
                raise DataError(f"{where}: @{key} must be followed by a positive integer")
            if key == "dimensions":
                self.dimensions = int(words[0])
            else:
                self.length = int(words[0])
        # @problemName and unknown headers carry nothing the reader needs.


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Samples as float64 arrays of shape (steps, channels), and their labels.

    Labels come back as an object array of strings; for a file without labels
    (``@classLabel false``) every label is ``None``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(no_file(".ts file", path))
    header = _Header()
    samples: list[np.ndarray] = []
    labels: list[str | None] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#") or (line.startswith("%") and not header.data):
                continue
            where = f"{path}, line {number}"
            if line.startswith("@"):
                header.read(line, where)
            elif not header.data:
                raise DataError(f"{where}: data before the @data header; a .ts file needs its "
                                "@ header block, ending with @data, before the samples")
            else:
                sample, label = _sample(line, header, where)
                samples.append(sample)
                labels.append(label)
    if not samples:
        raise DataError(f".ts file {str(path)!r} holds no samples; check it is complete")
    return samples, np.array(labels, dtype=object)


def _sample(line: str, header: _Header, where: str) -> tuple[np.ndarray, str | None]:
    """One data line as a (steps, channels) array and its label."""
    fields = line.split(":")
    label = None
    if header.labelled:
        label = fields.pop().strip()
        if (not fields or not label or "," in label
                or (header.dimensions and len(fields) < header.dimensions)):
            raise DataError(f"{where}: missing class label; each line must be "
                            "'dim1 values:dim2 values:...:label'")
        if header.classes and label not in header.classes:
            raise DataError(f"{where}: label {label!r} is not among the classes declared by "
                            f"@classLabel ({' '.join(sorted(header.classes))})")
    if header.dimensions is None:
        header.dimensions = len(fields)            # the first sample sets it for the rest
    if len(fields) != header.dimensions:
        raise DataError(f"{where}: {len(fields)} dimension(s), expected {header.dimensions}")
    columns = [field.split(",") for field in fields]
    lengths = {len(column) for column in columns}
    if len(lengths) > 1:
        counts = ", ".join(str(len(column)) for column in columns)
        raise DataError(f"{where}: the dimensions have different lengths ({counts}); all "
                        "dimensions of one sample must have the same number of values")
    steps = lengths.pop()
    if header.flags.get("equallength") and header.length and steps != header.length:
        raise DataError(f"{where}: {steps} values per dimension, but @seriesLength is "
                        f"{header.length}")
    try:
        values = np.array(columns, dtype=np.float64)
    except ValueError:                             # '?' for missing, or a bad value
        values = np.array([[_number(text, dim, step, where) for step, text in enumerate(column, 1)]
                           for dim, column in enumerate(columns, 1)])
    return values.T.copy(), label


def _number(text: str, dim: int, step: int, where: str) -> float:
    """One value of a data line: a number, or NaN for '?'."""
    text = text.strip()
    if text == "?":
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: dimension {dim}, value {step} is not a number: {text!r}; "
                        "values must be numbers, '?' or NaN") from None


def read_ts_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """A ``.ts`` file as the arrays ``LSTMModel.fit`` takes: X (n, max_steps, channels),
    NaN-padded (``to_padded``), and the labels (None for a file without labels).

    Example:
        >>> X, y = read_ts_arrays("NATOPS_TRAIN.ts")
        >>> LSTMModel().fit(X, y)
    """
    samples, labels = read_ts(path)
    return to_padded(samples), None if all(label is None for label in labels) else labels


def to_padded(samples: list[np.ndarray]) -> np.ndarray:
    """Stack (steps, channels) samples into (n, max_steps, channels), NaN-padded at the end.

    lstmkit treats trailing all-NaN steps as padding, so a sample whose last steps
    are entirely missing is read back as a shorter one.
    """
    if not samples:
        raise DataError("no samples to pad")
    channels = {s.shape[1] for s in samples}
    if len(channels) > 1:
        raise DataError(f"samples have different channel counts {sorted(channels)}; they "
                        "must all have the same number of channels")
    out = np.full((len(samples), max(len(s) for s in samples), channels.pop()), np.nan)
    for i, sample in enumerate(samples):
        out[i, : len(sample)] = sample
    return out
