"""The fitted transforms of a spec: input scalers and one-hot sets, target scalers and labels.

``Encoding.fit`` sees training rows only. ``encode_inputs`` / ``encode_targets``
turn any rows of a table into the float32 matrices the network reads, and
``decode_*`` turn network outputs back into original units and labels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..checks import quote
from ..errors import ConfigError, DataError
from ..spec import Feature, Spec, Target
from ..storage.saved_files import check_fields
from . import validate
from .scaling import AffineScaler, Labels
from .series_scaling import SeriesScalers

# The entries of a saved encoding, each holding one scaler or label set per column.
ROLES = ("input_scalers", "input_labels", "target_scalers", "target_labels")


@dataclass(frozen=True)
class Encoding:
    """Scalers and label sets for every input and target column of ``spec``; with
    ``Spec(scale_by="series")`` also each series' statistics (``series``), by which the
    rows of each series are scaled (``lstmkit.data.series_scaling``), the global scalers
    giving the units outputs are decoded from."""

    spec: Spec
    input_scalers: dict[str, AffineScaler]
    input_labels: dict[str, Labels]
    target_scalers: dict[str, AffineScaler]
    target_labels: dict[str, Labels]
    series: SeriesScalers | None = None

    @classmethod
    def fit(cls, spec: Spec, inputs: pd.DataFrame, input_rows: np.ndarray,
            targets: pd.DataFrame, target_rows: np.ndarray) -> Encoding:
        """Fit on training rows: ``inputs`` for the input columns, ``targets`` for the targets.

        The ``*_rows`` arrays give each row's position in the user's table, for messages.
        """
        input_scalers, input_labels = {}, {}
        numeric = [f for f in spec.inputs if f.kind != "categorical"]
        for f in spec.inputs:
            if f.kind == "categorical":
                input_labels[f.name] = Labels.fit(_categories(inputs, f, input_rows), f.name,
                                                  input_rows)
        columns = validate.numeric_columns(inputs, [f.name for f in numeric], input_rows,
                                           allow_nan=[f.missing != "error" for f in numeric])
        for f, values in zip(numeric, columns, strict=True):
            input_scalers[f.name] = AffineScaler.fit(f.scaler, values, f.name)
        target_scalers, target_labels = {}, {}
        scaled = [t for t in spec.targets if not t.categorical]
        columns = validate.numeric_columns(targets, [t.name for t in scaled], target_rows,
                                           allow_nan=[True] * len(scaled))
        for t, values in zip(scaled, columns, strict=True):
            t.target_kind.check_values(t, values, target_rows)
            target_scalers[t.name] = AffineScaler.fit(t.scaler, values, t.name)
        for t in spec.targets:
            if t.categorical:
                target_labels[t.name] = _fit_labels(t, targets[t.name].to_numpy(), target_rows)
        return cls(spec, input_scalers, input_labels, target_scalers, target_labels)

    # -- the network's view -------------------------------------------------------------
    @property
    def input_columns(self) -> list[str]:
        """Names of the encoded input columns (``col=label`` for one-hot columns,
        ``col:code`` for an embedded one, ``col:missing`` for the indicator of a column
        with the ``mask`` policy)."""
        return [name for names in self._feature_columns() for name in names]

    @property
    def future_columns(self) -> tuple[int, ...]:
        """Positions in ``input_columns`` of the inputs known in advance."""
        return tuple(j for f, start, width in self._feature_spans() if f.future
                     for j in range(start, start + width))

    @property
    def static_columns(self) -> tuple[int, ...]:
        """Positions in ``input_columns`` of the static inputs (``Feature.static``), which
        the network reads once per window."""
        return tuple(j for f, start, width in self._feature_spans() if f.static
                     for j in range(start, start + width))

    @property
    def embedded_columns(self) -> tuple[tuple[int, int, int], ...]:
        """(position in ``input_columns``, categories, vector size) of each embedded input.

        The column holds the category's index; index ``categories`` is no category.
        """
        return tuple((start, len(self.input_labels[f.name]), f.embed)
                     for f, start, _ in self._feature_spans() if f.embed)

    @property
    def feature_positions(self) -> dict[str, list[int]]:
        """Each input feature's positions in ``input_columns`` (its one-hot columns, its
        ``:missing`` indicator), in the spec's order."""
        return {f.name: list(range(start, start + width))
                for f, start, width in self._feature_spans()}

    def _feature_spans(self) -> list[tuple[Feature, int, int]]:
        """Each input feature with its first column in ``input_columns`` and its width."""
        spans, start = [], 0
        for f, names in zip(self.spec.inputs, self._feature_columns(), strict=True):
            spans.append((f, start, len(names)))
            start += len(names)
        return spans

    def _feature_columns(self) -> list[list[str]]:
        """Each input feature's encoded column names, in the spec's order."""
        columns = []
        for f in self.spec.inputs:
            if f.embed:
                columns.append([f"{f.name}:code"])
            elif f.kind == "categorical":
                columns.append([f"{f.name}={c}" for c in self.input_labels[f.name].classes])
            else:
                columns.append([f.name] + ([f"{f.name}:missing"] if f.missing == "mask" else []))
        return columns

    def n_classes(self, target: Target) -> int:
        """Output width of a target's head, as its kind gives it: 1 for regression and
        binary, K for K classes, Q for Q quantiles."""
        return target.target_kind.width(len(self.target_labels.get(target.name, ())), target)

    def encode_inputs(self, frame: pd.DataFrame, rows: np.ndarray, fitting: bool = False
                      ) -> np.ndarray:
        """Scaled, one-hot and embedded (index) inputs, float32 (len(frame), n_input_columns)."""
        return self.encode_read(len(frame), *self.read_inputs(frame, rows, fitting))

    def read_inputs(self, frame: pd.DataFrame, rows: np.ndarray, fitting: bool = False
                    ) -> tuple[Iterator[np.ndarray], dict[str, np.ndarray]]:
        """The raw values the inputs are encoded from, checked: each numeric input's numbers
        (NaN where its missing policy allows a gap), one column at a time in the spec's
        order, and each categorical input's class codes (float, NaN for no category). The
        ONNX graph takes these (codes as int64, -1 for NaN) and encodes them itself.
        ``fitting``: the rows are the table being fitted on, whose unknown labels the split
        can fix; else a fitted model reads them and its errors say what it can take.
        """
        codes = {f.name: self.input_labels[f.name].codes(
                     _categories(frame, f, rows), f.name, rows,
                     None if fitting else _fitted_label_fix(f.name, f.missing != "error"))
                 for f in self.spec.inputs if f.kind == "categorical"}
        numeric = [f for f in self.spec.inputs if f.kind != "categorical"]
        values = validate.numeric_columns(frame, [f.name for f in numeric], rows,
                                          allow_nan=[f.missing != "error" for f in numeric])
        return values, codes

    def encode_read(self, n: int, numeric: Iterable[np.ndarray], codes: dict[str, np.ndarray]
                    ) -> np.ndarray:
        """The network's input columns of ``n`` rows from ``read_inputs``' values (float32,
        rows first); ``InferenceGraph.encode`` (``lstmkit.deploy.export``) does the same in
        torch."""
        spans = self._feature_spans()
        out = np.zeros((n, sum(width for *_, width in spans)), dtype=np.float32)
        numeric_spans = [(f, j) for f, j, _ in spans if f.kind != "categorical"]
        for (f, j), values in zip(numeric_spans, numeric, strict=True):
            scaled = self.input_scalers[f.name].transform(values)
            if f.missing != "error":
                gaps = np.isnan(values)
                scaled[gaps] = 0.0
            out[:, j] = scaled
            if f.missing == "mask":
                out[:, j + 1] = gaps
        for f, j, _ in spans:                                  # j: the feature's first column
            if f.kind != "categorical":
                continue
            code = codes[f.name]
            if f.embed:     # exact in float32 up to 2**24 categories
                out[:, j] = np.where(np.isnan(code), len(self.input_labels[f.name]), code)
            else:
                known = np.flatnonzero(~np.isnan(code))       # a gap: no category
                out[known, j + code[known].astype(np.int64)] = 1.0
        return out

    def encode_targets(self, frame: pd.DataFrame, rows: np.ndarray, fitting: bool = False
                       ) -> np.ndarray:
        """Scaled targets and class indices, float32 (len(frame), n_targets); NaN = missing."""
        out = np.empty((len(frame), len(self.spec.targets)), dtype=np.float32)
        scaled = [(j, t) for j, t in enumerate(self.spec.targets) if not t.categorical]
        columns = validate.numeric_columns(frame, [t.name for _, t in scaled], rows,
                                           allow_nan=[True] * len(scaled))
        for (j, t), values in zip(scaled, columns, strict=True):
            t.target_kind.check_values(t, values, rows)
            out[:, j] = self.target_scalers[t.name].transform(values)
        for j, t in enumerate(self.spec.targets):
            if t.categorical:
                out[:, j] = self.target_labels[t.name].codes(
                    frame[t.name], t.name, rows,
                    None if fitting else _fitted_label_fix(t.name, True, target=True),
                    sequences=not self.spec.shape.sliding)
        return out

    def decode_regression(self, target: Target, scaled: np.ndarray) -> np.ndarray:
        return self.target_scalers[target.name].inverse(np.asarray(scaled, dtype=np.float64))

    def decode_labels(self, target: Target, codes: np.ndarray) -> np.ndarray:
        return self.target_labels[target.name].decode(codes)

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "input_scalers": {k: v.to_dict() for k, v in self.input_scalers.items()},
            "input_labels": {k: list(v.classes) for k, v in self.input_labels.items()},
            "target_scalers": {k: v.to_dict() for k, v in self.target_scalers.items()},
            "target_labels": {k: list(v.classes) for k, v in self.target_labels.items()},
            **({"series_scalers": self.series.to_dict()} if self.series else {}),
        }

    @classmethod
    def from_dict(cls, spec: Spec, data: Any) -> Encoding:
        """A saved encoding, checked against ``spec``: one entry per column of each role,
        every scaler finite, every label set distinct and as many as the target's kind
        allows (two for a binary target).

        Raises:
            ConfigError: naming the entry (``encoding.input_scalers['OT'].scale``) and value.
        """
        check_fields(data, dict.fromkeys(ROLES, dict), where="encoding.")
        for key, (role, names) in _role_columns(spec).items():
            if sorted(data[key]) != sorted(names):
                raise ConfigError(f"encoding.{key} has {quote(sorted(data[key]))}, but the "
                                  f"spec's {role} are {quote(sorted(names))}")
        encoding = cls(spec, _entries(data, "input_scalers", AffineScaler.from_dict),
                       _entries(data, "input_labels", Labels.from_list),
                       _entries(data, "target_scalers", AffineScaler.from_dict),
                       _entries(data, "target_labels", Labels.from_list))
        for t in spec.targets:
            count = len(encoding.target_labels.get(t.name, ()))
            if t.categorical and not t.target_kind.allows(count):
                raise ConfigError(f"encoding.target_labels[{quote(t.name)}] has {count} "
                                  f"label(s); a {t.kind} target has {t.target_kind.rule}")
        saved = "series_scalers" in data
        if saved != (spec.scale_by == "series"):
            raise ConfigError(f"encoding.series_scalers is {'present' if saved else 'missing'}, "
                              f"but the spec's scale_by is {quote(spec.scale_by)}; statistics "
                              "per series belong with scale_by 'series', and only there")
        if spec.scale_by == "series":
            encoding = dataclasses.replace(encoding, series=SeriesScalers.from_dict(
                data["series_scalers"], encoding))
        return encoding


def _role_columns(spec: Spec) -> dict[str, tuple[str, list[str]]]:
    """Each entry of a saved encoding: what its columns are, and which they are in ``spec``."""
    inputs, targets = spec.inputs, spec.targets
    return {
        "input_scalers": ("numeric inputs", [f.name for f in inputs if f.kind != "categorical"]),
        "input_labels": ("categorical inputs", [f.name for f in inputs if f.kind == "categorical"]),
        "target_scalers": ("scaled targets", [t.name for t in targets if not t.categorical]),
        "target_labels": ("categorical targets", [t.name for t in targets if t.categorical]),
    }


def _entries(data: dict[str, Any], key: str, read: Callable[[Any, str], Any]) -> dict[str, Any]:
    """``data[key]``'s columns, each read by ``read(value, where)``."""
    return {name: read(value, f"encoding.{key}[{quote(name)}]")
            for name, value in data[key].items()}


def _fitted_label_fix(column: str, missing_ok: bool, target: bool = False) -> str:
    """What a fitted model's user can do with a label its training part did not hold:
    read it as missing where the model takes a gap there (a target's gaps are left out of
    the metrics; an input's missing policy), else map it to a known label or fit again."""
    missing = f"df[{column!r}].where(df[{column!r}].isin(known labels))"
    if target:
        return (f"read it as missing ({missing}): rows with a missing target are left out "
                "of the metrics")
    if missing_ok:
        return f"read it as missing ({missing}), which the model's missing policy for it takes"
    return (f"a fitted model reads only those: map it to one (df[{column!r}].replace({{old: "
            "new})), or fit again on data whose training part holds it")


def _categories(frame: pd.DataFrame, feature: Any, rows: np.ndarray) -> np.ndarray:
    """A categorical input's values; a missing one is an error unless its policy allows it."""
    if feature.missing == "error":
        return validate.present(frame, feature.name, rows)
    return frame[feature.name].to_numpy(dtype=object)


def _fit_labels(target: Target, values: np.ndarray, rows: np.ndarray) -> Labels:
    labels = Labels.fit(values, target.name, rows)
    if len(labels) < 2:
        raise DataError(f"{target.kind} target {target.name!r} has {len(labels)} distinct "
                        f"label(s) in the training part ({list(labels.classes)}); it needs at "
                        "least two: check the column or the split")
    if not target.target_kind.allows(len(labels)):
        raise DataError(f"{target.kind} target {target.name!r} has {len(labels)} labels in the "
                        f"training part ({list(labels.classes)[:10]}); a {target.kind} target "
                        f"has {target.target_kind.rule}: use kind='classification' for more")
    return labels
