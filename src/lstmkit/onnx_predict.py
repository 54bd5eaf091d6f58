"""Predictions from an exported ``.onnx`` file with onnxruntime, numpy and pandas: no torch.

The file carries its own schema (see ``lstmkit.export``), so a table of raw rows
is all it needs: forecasts read the last ``lookback`` rows of each series (with
inputs known in advance, ``lookback`` rows and then the ``horizon`` rows that give
those), sequence tasks every sequence (padded, with its length). The result has the same
columns as ``LSTMModel.predict`` (``origins="last"``).

Example:
    >>> from lstmkit.onnx_predict import OnnxModel
    >>> model = OnnxModel("etth1.onnx")
    >>> model.predict(df.tail(96))              # tidy DataFrame, original units
    >>> model.run({"numeric": windows})         # or the raw graph: arrays in, arrays out
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data import timestep
from .data.groups import Groups, arrange, fill_gaps, fill_unread, forecast_columns
from .data.scaling import Labels
from .data.sources import Source, from_arrays, read_table
from .data.validate import check_schema, numeric, present
from .errors import ArtifactError, ConfigError, DataError
from .spec import Spec

FORMAT = "lstmkit.onnx"
FORMAT_VERSION = 1
METADATA_KEY = "lstmkit"
RUN_WINDOWS = 4096   # windows per onnxruntime call: memory stays bounded for long tables


class OnnxModel:
    """An exported lstmkit model, run by onnxruntime.

    Args:
        path: an ``.onnx`` file written by ``LSTMModel.export_onnx`` or
            ``lstmkit export``.

    Attributes:
        metadata: the schema the file records (inputs, outputs, spec, versions).
        spec: the model's ``Spec``.
        time_step: the time step the model was trained on (``TimeStep``), or None.
    """

    def __init__(self, path: str | Path) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ConfigError("running an ONNX model needs onnxruntime: pip install "
                              "'lstmkit[onnx]' (or just onnxruntime)") from None
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"no ONNX file at {str(path)!r}; pass the file that "
                                "`lstmkit export MODEL --onnx FILE` wrote")
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
            raise ArtifactError(f"{str(path)!r} is not a valid ONNX model ({exc}); export it "
                                "again") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        metadata = json.loads(raw) if raw else {}
        if metadata.get("format") != FORMAT:
            raise ArtifactError(f"{str(path)!r} has no lstmkit metadata; it was not written by "
                                "lstmkit export, so its inputs are unknown")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"{str(path)!r} has lstmkit ONNX format version "
                                f"{metadata.get('format_version')!r}; this lstmkit reads version "
                                f"{FORMAT_VERSION}: export the model again")
        self.metadata: dict[str, Any] = metadata
        self.spec = Spec.from_dict(metadata["spec"])
        try:
            self.time_step = timestep.from_json(metadata.get("time_step"))
        except ValueError as exc:
            raise ArtifactError(f"{str(path)!r} records a damaged time step ({exc}); export the "
                                "model again") from None

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph on ready arrays: ``{input name: array}`` -> ``{output name: array}``."""
        expected = [i.name for i in self.session.get_inputs()]
        if sorted(feeds) != sorted(expected):
            raise DataError(f"the graph takes inputs {expected}, got {sorted(feeds)}; see "
                            "OnnxModel.metadata['inputs'] for their shapes and column order")
        names = [o["name"] for o in self.metadata["outputs"]]
        try:
            return dict(zip(names, self.session.run(names, feeds), strict=True))
        except Exception as exc:  # onnxruntime's own types: wrong dtype or shape
            raise DataError(f"onnxruntime rejected the inputs: {exc}; see "
                            "OnnxModel.metadata['inputs'] for dtypes and shapes") from None

    def predict(self, data: Source | np.ndarray | list, origins: str = "last") -> pd.DataFrame:
        """Predictions in original units, with the columns of ``LSTMModel.predict``.

        Args:
            data: a DataFrame, a CSV/Parquet path, or arrays ``X`` as for
                ``LSTMModel.predict``; targets are not needed.
            origins: forecasts only: ``last`` forecasts from the end of each series,
                ``all`` from every row with a full lookback behind it.
        """
        if origins not in ("last", "all"):
            raise ConfigError(f"origins must be 'last' or 'all', got {origins!r}")
        spec = self.spec
        if isinstance(data, np.ndarray | list | tuple):
            frame, spec = from_arrays(data, None, spec)
        else:
            frame = read_table(data)
        check_schema(frame, self.metadata["schema"])
        groups = fill_gaps(fill_unread(arrange(frame, spec, self.time_step), spec), spec)
        rows, lengths, origin = self._window_rows(groups, origins)
        columns = self._columns(groups)
        parts = []
        for i in range(0, len(rows), RUN_WINDOWS):
            feeds = {name: values[rows[i : i + RUN_WINDOWS]] for name, values in columns.items()}
            if lengths is not None:
                feeds[self.metadata["inputs"]["lengths"]["name"]] = lengths[i : i + RUN_WINDOWS]
            parts.append(self.run(feeds))
        outputs = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        return self._frame(spec, groups, outputs, lengths, origin)

    # -- internals -----------------------------------------------------------------------
    def _window_rows(self, groups: Groups, origins: str
                     ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Arranged rows of every (window, step), sequence lengths, and forecast origin rows."""
        starts, ends = groups.offsets[:-1], groups.offsets[1:]
        lookback = self.metadata["lookback"]
        if lookback is not None:
            span = self.metadata.get("span") or lookback
            groups.require_span(lookback, span)
            last = ends - 1 - (span - lookback)     # the last origin of each series
            if origins == "last":
                origin = last
            else:    # every row with a full lookback behind it, series after series
                first = starts + lookback - 1
                counts = last + 1 - first
                shift = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
                origin = np.arange(int(counts.sum())) + shift
            return (origin - lookback + 1)[:, None] + np.arange(span), None, origin
        lengths = groups.lengths.astype(np.int64)
        steps = np.arange(lengths.max())
        rows = starts[:, None] + np.minimum(steps[None, :], lengths[:, None] - 1)
        return rows, lengths, None

    def _columns(self, groups: Groups) -> dict[str, np.ndarray]:
        """Each graph input over the whole arranged table, validated once: rows first."""
        frame, positions = groups.frame, groups.rows
        inputs, policy = self.metadata["inputs"], {f.name: f.missing for f in self.spec.inputs}
        columns = {}
        if inputs["numeric"]:
            values = [numeric(frame, c, positions, allow_nan=policy[c] != "error")
                      for c in inputs["numeric"]["columns"]]
            columns[inputs["numeric"]["name"]] = np.stack(values, axis=-1).astype(np.float32)
        for entry in inputs["categorical"]:
            column = entry["column"]
            values = (present(frame, column, positions) if policy[column] == "error"
                      else frame[column].to_numpy(dtype=object))
            codes = Labels(tuple(entry["classes"])).codes(values, column, positions)
            columns[entry["name"]] = np.where(np.isnan(codes), -1, codes).astype(np.int64)  # gap
        return columns

    def _frame(self, spec: Spec, groups: Groups, outputs: dict[str, np.ndarray],
               lengths: np.ndarray | None, origin: np.ndarray | None) -> pd.DataFrame:
        n = len(next(iter(outputs.values())))
        steps = next(iter(outputs.values())).shape[1]
        keys = groups.key_array
        columns: dict[str, Any] = {}
        keep = np.ones(n * steps, dtype=bool)
        if spec.task == "forecast":
            columns = forecast_columns(groups, origin, steps, spec.series,
                                       ahead=bool(spec.future_names))
        elif spec.task == "sequence":
            columns[spec.sequence] = keys
        else:
            columns[spec.sequence] = np.repeat(keys, steps)
            columns["step"] = np.tile(np.arange(1, steps + 1), n)
            if spec.aligned:
                keep = (np.arange(steps)[None, :] < lengths[:, None]).ravel()
        for entry in self.metadata["outputs"]:
            values = outputs[entry["name"]]
            target = entry["target"]
            if entry["kind"] == "regression":
                columns[target] = values.astype(np.float64).reshape(n * steps)
                continue
            classes = entry["classes"]
            columns[target] = Labels(tuple(classes)).decode(values.argmax(-1)).reshape(-1)
            shown = range(1, 2) if entry["kind"] == "binary" else range(len(classes))
            for k in shown:
                columns[f"{target}_proba_{classes[k]}"] = values[..., k].astype(
                    np.float64).reshape(n * steps)
        frame = pd.DataFrame(columns)
        return frame if keep.all() else frame[keep].reset_index(drop=True)
