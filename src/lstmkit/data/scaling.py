"""Per-column scalers and label encodings, fitted on training rows and kept as plain numbers.

Every scaler is affine, ``z = (x - center) / scale``, so it is two floats per
column: easy to save as JSON, to invert exactly, and to embed in an exported graph.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..checks import QUOTE_CHARS, quote
from ..errors import ConfigError, DataError
from ..storage.saved_files import is_finite_number


@dataclass(frozen=True)
class AffineScaler:
    """``z = (x - center) / scale`` for one column.

    Args:
        center: subtracted first (mean, minimum or median).
        scale: divided by next (std, range or IQR); never zero.

    Per-series scaling gives one center and scale per row (arrays, ``SeriesScalers.at_rows``):
    ``transform`` and ``inverse`` broadcast them.
    """

    center: float | np.ndarray
    scale: float | np.ndarray

    @classmethod
    def fit(cls, kind: str, values: np.ndarray, column: str) -> AffineScaler:
        """Fit a ``standard``, ``minmax``, ``robust``, ``mean`` (divided by the mean absolute
        value, not centred) or ``none`` scaler on finite ``values``."""
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            values = values[finite]
        if kind == "none":
            return cls(0.0, 1.0)
        if values.size == 0:
            raise DataError(f"column {column!r} has no values in the training part to fit its "
                            f"{kind!r} scaler; check the split or the column's missing values")
        if kind == "standard":
            center, scale = values.mean(), values.std()
        elif kind == "minmax":
            center, scale = values.min(), values.max() - values.min()
        elif kind == "mean":   # not centred: counts stay non-negative, 0 stays 0
            center, scale = 0.0, np.abs(values).mean()
        elif kind == "robust":
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            center, scale = median, q3 - q1
            if not scale > 0:  # more than half the values equal: fall back to the spread
                scale = values.std()
        else:
            raise ValueError(f"unknown scaler {kind!r}")
        # A constant column scales by 1: it carries no signal, but must not produce NaN.
        if not (np.isfinite(scale) and scale > 1e-12 * max(1.0, abs(center))):
            scale = 1.0
        return cls(float(center), float(scale))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``(values - center) / scale`` in float64, whatever the values' float type."""
        scaled = np.subtract(values, self.center, dtype=np.float64)
        scaled /= self.scale
        return scaled

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.scale + self.center

    def map_to(self, other: AffineScaler) -> tuple[float, float]:
        """(scale, shift) taking values scaled by this scaler to values scaled by ``other``:
        ``z * scale + shift``."""
        return self.scale / other.scale, (self.center - other.center) / other.scale

    def to_dict(self) -> dict[str, float]:
        return {"center": self.center, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> AffineScaler:
        """A saved scaler, checked: finite ``center``, finite ``scale`` above 0.

        Args:
            data: ``{"center": ..., "scale": ...}`` as ``to_dict`` wrote it.
            where: its place in the file, for messages (``encoding.input_scalers['OT']``).

        Raises:
            ConfigError: naming the entry and its value.
        """
        if not isinstance(data, dict) or sorted(data) != ["center", "scale"]:
            raise ConfigError(f"{where} is {quote(data)}; a scaler is an object with exactly "
                              "'center' and 'scale'")
        for key, value in data.items():
            if not is_finite_number(value) or (key == "scale" and not value > 0):
                rule = "a finite number" + (" above 0" if key == "scale" else "")
                raise ConfigError(f"{where}.{key} is {quote(value)}; it must be {rule}")
        return cls(float(data["center"]), float(data["scale"]))


@dataclass(frozen=True)
class Labels:
    """The ordered label set of a categorical column, learned from training rows.

    Labels keep the user's own values (strings or ints) and are JSON-safe.
    """

    classes: tuple[Any, ...]

    @classmethod
    def fit(cls, values: Any, column: str, rows: np.ndarray | None = None) -> Labels:
        """The sorted labels present in ``values`` (missing values left out).

        Labels must be of one kind, strings, numbers or booleans (a saved model keeps
        them as JSON); anything else raises a ``DataError`` naming ``column`` and the
        rows (``rows``: each value's row in the user's table; default: its position).
        """
        values = np.asarray(values)
        if values.dtype.kind in "biuf":                    # numbers: unique without objects
            present = np.unique(values[~np.isnan(values)] if values.dtype.kind == "f" else values)
        else:
            values = values.astype(object)
            present = pd.unique(values[_present(values)])   # unsorted: kinds may not compare
            if len({_label_kind(v) for v in present}) > 1 or (
                    len(present) and _label_kind(present[0]) not in LABEL_KINDS):
                _refuse_labels(values, column, np.arange(len(values)) if rows is None else rows)
        return cls(tuple(sorted((_plain(v) for v in present), key=_sort_key)))

    def codes(self, values: Any, column: str, rows: np.ndarray | None = None,
              fix: str | None = None, sequences: bool = False) -> np.ndarray:
        """Class index of each value as float (NaN where missing); unknown labels raise.

        A value that is not a label but reads as one (``"7"`` for the number 7, ``7`` for
        the text ``"7"``, ``"True"`` for True: ``label_text``) is that label, so a model fitted
        on numbers reads text from a CSV file and the reverse; ``"007"`` is not 7.
        ``fix`` ends the message of an unknown label (default: the fixes while fitting, a
        later split or the label read as missing; a fitted model's caller says its own);
        ``sequences``: the values are a sequence task's targets, whose fix is to score the
        sequences of known labels.
        """
        values = np.asarray(values, dtype=object)
        codes = pd.Index(list(self.classes), dtype=object).get_indexer(values).astype(np.float64)
        present = _present(values)
        unknown = present & (codes < 0)
        if unknown.any():
            codes[unknown] = self._by_text(values[unknown])
        unknown = np.flatnonzero(present & (codes < 0))
        if unknown.size:
            i = unknown[0]
            row = int(rows[i]) if rows is not None else int(i)
            known = list(self.classes[:10]) + (["..."] if len(self.classes) > 10 else [])
            if sequences:        # a shuffled split of whole sequences has no row to move
                fix = ("a model cannot predict a label it was not trained on: score the "
                       f"sequences whose label it knows (df[df[{column!r}].isin(known labels)]; "
                       "arrays: keep = np.isin(y, known labels), then X[keep], y[keep]), or fit "
                       f"again on data whose training part holds sequences of {quote(values[i])}")
            elif fix is None:
                fix = (f"fit with a split whose val_start comes after row {row}, or read it "
                       f"as missing (df[{column!r}] = df[{column!r}].where(df[{column!r}].isin("
                       "known labels)), missing='mask' for an input)")
            if not sequences:
                fix = self._written(fix, values[i])
            raise DataError(
                f"column {column!r} has label {quote(values[i])} at row {row}, which was not seen "
                f"in the training part (known labels, {len(self.classes)}: {known}); {fix}")
        codes[~present] = np.nan
        return codes

    def _written(self, fix: str, label: Any) -> str:
        """``fix`` with its placeholders written as code for this column: ``known labels``
        as the list of labels where it is short, ``{old: new}`` as ``label`` mapped to the
        closest known label (as 'sun' for 'sunny'; else the first), so the call runs as it
        reads."""
        listed = repr(list(self.classes))
        if len(self.classes) <= 20 and len(listed) <= QUOTE_CHARS:
            fix = fix.replace("isin(known labels)", f"isin({listed})")
        label = _plain(label)
        if len(repr(label)) <= QUOTE_CHARS:
            texts = [label_text(c) for c in self.classes]
            close = difflib.get_close_matches(label_text(label), texts, n=1)
            instead = self.classes[texts.index(close[0])] if close else self.classes[0]
            fix = fix.replace("{old: new}", f"{{{label!r}: {instead!r}}}")
        return fix

    def _by_text(self, values: np.ndarray) -> np.ndarray:
        """Each value's class index by its text (``label_text``), -1 where none has that text."""
        found, distinct = pd.factorize(values)
        texts = pd.Index([label_text(c) for c in self.classes], dtype=object)
        return texts.get_indexer([label_text(v) for v in distinct])[found]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The labels of class indices, in the labels' own type (int64 for integer labels)."""
        return value_array(self.classes)[np.asarray(codes, dtype=np.int64)]

    def __len__(self) -> int:
        return len(self.classes)

    @classmethod
    def from_list(cls, values: Any, where: str) -> Labels:
        """A saved label set, checked: a non-empty array of distinct strings, integers,
        finite numbers or booleans (as ``fit`` makes them).

        Args:
            values: the labels as ``list(labels.classes)`` wrote them.
            where: its place in the file, for messages (``encoding.target_labels['weather']``).

        Raises:
            ConfigError: naming the entry and the offending label.
        """
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where} is {quote(values)}; labels are a non-empty array")
        seen: set[Any] = set()
        for value in values:
            if not isinstance(value, str | int | float) or (
                    isinstance(value, float) and not np.isfinite(value)):
                raise ConfigError(f"{where} holds {quote(value)}; a label is a string, an "
                                  "integer, a finite number or true/false")
            if value in seen:           # 1, 1.0 and True are one label, to pandas too
                raise ConfigError(f"{where} lists {quote(value)} twice; labels are distinct")
            seen.add(value)
        return cls(tuple(values))


def value_array(values: Sequence[Any]) -> np.ndarray:
    """Plain values as one array: numbers and booleans in their numpy type (int64 for
    ints), anything else (strings, mixed types, times) as the objects themselves."""
    array = np.asarray(values)
    return array if array.dtype.kind in "biuf" else np.asarray(values, dtype=object)


LABEL_KINDS = ("string", "number", "boolean")


def _label_kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | float | np.number):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def _refuse_labels(values: np.ndarray, column: str, rows: np.ndarray) -> None:
    """Raise a ``DataError`` naming the first value of each kind in ``values`` and its row."""
    first: dict[str, int] = {}
    for i in np.flatnonzero(_present(values)):
        first.setdefault(_label_kind(values[i]), int(i))
    fix = f"convert the column to one type, e.g. df[{column!r}] = df[{column!r}].astype(str)"
    odd = [kind for kind in first if kind not in LABEL_KINDS]
    if odd:
        i = first[odd[0]]
        raise DataError(f"categorical column {column!r} holds {quote(values[i])} at row "
                        f"{rows[i]}, a {odd[0]}; labels must be strings, numbers or booleans "
                        f"(a saved model keeps them as JSON): {fix}")
    shown = ", ".join(f"{kind} {quote(values[i])} at row {rows[i]}" for kind, i in first.items())
    raise DataError(f"categorical column {column!r} mixes kinds of labels ({shown}); labels "
                    f"must all be strings, all numbers or all booleans: {fix}")


def _present(values: Any) -> np.ndarray:
    return ~pd.isna(np.asarray(values, dtype=object))


def _plain(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar, so labels are JSON-safe and hash alike."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def label_text(value: Any) -> str:
    """A label as a CSV file writes it: text as is, numbers and booleans as Python prints
    them (whole floats as integers: 7.0 as 7)."""
    return value if isinstance(value, str) else str(_plain(value))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float | bool) else (1, str(value))
