"""Predictions from an exported ``.onnx`` file with onnxruntime, numpy and pandas: no torch.

The file carries its own schema (see ``lstmkit.deploy.export``), so a table of raw rows
is all it needs: forecasts read the last ``lookback`` rows of each series (with
inputs known in advance, ``lookback`` rows and then the ``horizon`` rows that give
those), sequence tasks every sequence (padded, with its length). The result has the same
columns as ``LSTMModel.predict`` (``origins="last"``).

Example:
    >>> from lstmkit.deploy.onnx_model import OnnxModel
    >>> model = OnnxModel("etth1.onnx")
    >>> model.predict(df.tail(96))              # tidy DataFrame, original units
    >>> model.run({"numeric": windows})         # or the raw graph: arrays in, arrays out
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..checks import check_choice, quote
from ..conformal import check_conformal, check_coverage, chosen, with_intervals
from ..conformal_online import adapt_rate, adapt_windows, check_adaptable
from ..conformal_panel import series_codes
from ..data import timestep
from ..data.encoding import Encoding
from ..data.groups import Groups, arrange, fill_gaps, fill_unread
from ..data.scaling import AffineScaler, Labels
from ..data.series_scaling import SeriesScalers
from ..data.sources import Source, from_arrays, read_table
from ..data.static import check_static
from ..data.validate import check_schema
from ..decision import check_offsets
from ..decision import labels as decided_labels
from ..errors import ArtifactError, ConfigError, DataError
from ..kinds import Decoded
from ..spec import Spec
from ..storage.saved_files import check_fields, check_strings, damaged, first_difference, parse_json
from ..storage.saved_files import check_schema as check_saved_schema
from ..tasks import OUTPUTS, WindowRows, categorical_names, prediction_frame, probabilities

FORMAT = "lstmkit.onnx"
FORMAT_VERSION = 1
METADATA_KEY = "lstmkit"
RUN_WINDOWS = 4096   # windows per onnxruntime call: memory stays bounded for long tables
NUMERIC = "numeric"
LENGTHS = "lengths"
SERIES = "series"
INTERVAL_SERIES = "interval_series"
ONNX_DTYPES = {"tensor(float)": "float32", "tensor(int64)": "int64"}
REEXPORT = "export the model again"
# The metadata's entries and their JSON types; the optional ones came after the first exports.
METADATA_FIELDS = {"task": str, "lookback": (int, type(None)), "horizon": (int, type(None)),
                   "aligned": bool, "inputs": dict, "outputs": list, "schema": dict,
                   "spec": dict, "time_step": (dict, type(None)), "versions": dict}
METADATA_OPTIONAL = {"span": (int, type(None)), "future": list, "data_sha256": (str, type(None)),
                     "conformal": (dict, type(None)), "target_axis": bool}


class OnnxModel:
    """An exported lstmkit model, run by onnxruntime.

    Args:
        path: an ``.onnx`` file written by ``LSTMModel.export_onnx`` or
            ``lstmkit export``.

    Attributes:
        metadata: the schema the file records (inputs, outputs, spec, versions).
        spec: the model's ``Spec``.
        encoding: the input scalers and labels the file records (target scalers are
            inside the graph): it reads and checks rows as ``LSTMModel.predict`` does.
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
            found = (" (a directory: a saved model is LSTMModel.load(path), and "
                     "model.export_onnx(file) exports it)" if path.is_dir() else "")
            raise ArtifactError(f"no ONNX file at {str(path)!r}{found}; pass the file that "
                                "`lstmkit export MODEL --onnx FILE` (Python: model.export_onnx) "
                                "wrote")
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
            raise ArtifactError(f"{str(path)!r} is not a valid ONNX model ({exc}); export it "
                                "again") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        where = f"the lstmkit metadata of {str(path)!r}"
        try:
            metadata = parse_json(raw) if raw else {}
        except ConfigError as exc:
            raise damaged(where, exc, REEXPORT) from None
        if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
            raise ArtifactError(f"{str(path)!r} has no lstmkit metadata; it was not written by "
                                "lstmkit export, so its inputs are unknown")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"{str(path)!r} has lstmkit ONNX format version "
                                f"{quote(metadata.get('format_version'))}; this lstmkit reads "
                                f"version {FORMAT_VERSION}: export the model again")
        try:
            self.spec, self.encoding = _checked_spec(metadata, self.session)
        except ConfigError as exc:
            raise damaged(where, exc, REEXPORT) from None
        self.metadata: dict[str, Any] = metadata
        try:
            self.time_step = timestep.from_json(metadata.get("time_step"))
        except ValueError as exc:
            raise damaged(where, exc, REEXPORT) from None

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

    def predict(self, data: Source | np.ndarray | list, origins: str = "last",
                coverage: float | list[float] | None = None, adapt: bool | float = False,
                output: str = "frame") -> pd.DataFrame | np.ndarray:
        """Predictions in original units, with the columns of ``LSTMModel.predict``.

        Args:
            data: a DataFrame, a CSV/Parquet path, or arrays ``X`` as for
                ``LSTMModel.predict``; targets are not needed.
            origins: forecasts only: ``last`` forecasts from the end of each series,
                ``all`` from every row with a full lookback behind it.
            coverage: the calibrated conformal intervals to give, as for
                ``LSTMModel.predict`` (None: all the graph holds).
            adapt: adapt them to the misses of the table's earlier windows, as for
                ``LSTMModel.predict``.
            output: ``frame`` (the table) or ``array``, shaped like ``y``, as for
                ``LSTMModel.predict``.
        """
        check_choice("output", output, OUTPUTS)
        rate = adapt_rate(adapt)
        if rate is not None:
            check_adaptable(self.metadata.get("conformal"), self.spec, output)
        decoded, windows, spec = self._predicted(data, origins, coverage, rate)
        if output == "array":
            return spec.shape.array_layout(decoded, windows.lengths,
                                           self.metadata.get("target_axis", False))
        return prediction_frame(spec, windows, decoded)

    def predict_proba(self, data: Source | np.ndarray | list, origins: str = "last"
                      ) -> np.ndarray | dict[str, np.ndarray]:
        """Class probabilities of the categorical targets, as ``LSTMModel.predict_proba``
        gives them."""
        categorical_names(self.spec)                  # before predicting: a model without one
        decoded, windows, spec = self._predicted(data, origins, [], None)
        return probabilities(spec, decoded, windows.lengths)

    # -- internals -----------------------------------------------------------------------
    def _predicted(self, data: Any, origins: str, coverage: float | list[float] | None,
                   rate: float | None) -> tuple[dict[str, Decoded], WindowRows, Spec]:
        """Every target's decoded predictions (with the intervals at ``coverage``, adapted
        at ``rate`` unless None), the windows they are of, and the spec read with ``data``."""
        if origins not in ("last", "all"):
            raise ConfigError(f"origins must be 'last' or 'all', got {origins!r}")
        recorded = self.metadata.get("conformal")
        intervals = chosen(recorded, coverage, self.spec)
        spec = self.spec
        if isinstance(data, np.ndarray | list | tuple):
            frame, spec = from_arrays(data, None, spec)
        else:
            frame = read_table(data, spec=spec)
        check_schema(frame, self.metadata["schema"])
        groups = arrange(frame, spec, self.time_step)
        groups = fill_gaps(groups if rate is not None else fill_unread(groups, spec), spec)
        check_static(groups, spec)                   # as prepare.encode does for predict
        windows = spec.shape.window_rows(groups, origins if rate is None else "all")
        rows, lengths = windows.rows, windows.lengths
        columns = self._columns(groups)
        which = np.repeat(np.arange(len(groups.keys)), groups.lengths)[rows[:, 0]]   # (N,)
        series = self.encoding.series
        codes = None if series is None else series.codes(groups.keys)[which]
        calibrated = self.metadata["inputs"].get("interval_series")
        interval_codes = None if calibrated is None else series_codes(
            {"series": calibrated["keys"]}, groups.keys)[which]
        parts = []
        for i in range(0, len(rows), RUN_WINDOWS):
            feeds = {name: values[rows[i : i + RUN_WINDOWS]] for name, values in columns.items()}
            if codes is not None:
                feeds[SERIES] = codes[i : i + RUN_WINDOWS]
            if interval_codes is not None:
                feeds[INTERVAL_SERIES] = interval_codes[i : i + RUN_WINDOWS]
            if lengths is not None:
                feeds[self.metadata["inputs"]["lengths"]["name"]] = lengths[i : i + RUN_WINDOWS]
            parts.append(self.run(feeds))
        outputs = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        decoded = self.decoded(outputs, intervals)
        outside = (recorded or {}).get("from_parameters")
        if outside and intervals:   # bands without a torch form: from the parameters
            decoded = with_intervals(spec, decoded, outside, intervals,
                                     [groups.keys[g] for g in which])
        if rate is not None:
            decoded, last = adapt_windows(decoded, groups.target_frame, groups.offsets,
                                          rows[:, 0], which, spec, rate,
                                          recorded.get("floors", {}), last=origins == "last")
            if last is not None:                       # each series' last window only
                windows = spec.shape.window_rows(groups, "last")
        return decoded, windows, spec

    def _columns(self, groups: Groups) -> dict[str, np.ndarray]:
        """Each graph input over the whole arranged table, read and checked as
        ``LSTMModel.predict`` reads it (``Encoding.read_inputs``): rows first."""
        numeric, codes = self.encoding.read_inputs(groups.frame, groups.rows)
        inputs = self.metadata["inputs"]
        columns = {}
        if inputs["numeric"]:
            columns[inputs["numeric"]["name"]] = np.stack(list(numeric), axis=-1).astype(
                np.float32)
        for entry in inputs["categorical"]:
            code = codes[entry["column"]]
            columns[entry["name"]] = np.where(np.isnan(code), -1, code).astype(np.int64)  # gap
        return columns

    def decoded(self, outputs: dict[str, np.ndarray], coverage: tuple[float, ...] = ()
                ) -> dict[str, Decoded]:
        """The graph's outputs as each target's values or labels and probabilities, with
        its calibrated intervals at ``coverage`` (``<target>_intervals``: (N, S, K, 2))."""
        targets = self.spec.targets
        decoded = {t.name: t.target_kind.decode_graph(t, self.encoding, outputs[entry["name"]])
                   for t, entry in zip(targets, self.metadata["outputs"], strict=False)}
        for t, entry in zip(targets, self.metadata["outputs"], strict=False):
            if "label_offsets" in entry:                  # a decision chooses the labels
                decoded[t.name] = dataclasses.replace(decoded[t.name], values=(
                    self.encoding.decode_labels(t, decided_labels(
                        outputs[entry["name"]], entry["label_offsets"]))))
        calibrated = (self.metadata.get("conformal") or {}).get("coverage", [])
        for entry in self.metadata["outputs"][len(targets):]:
            ends = outputs[entry["name"]].astype(np.float64)
            decoded[entry["target"]] = dataclasses.replace(
                decoded[entry["target"]], intervals=tuple(
                    (c, ends[..., k, 0], ends[..., k, 1]) for k, c in enumerate(calibrated)
                    if c in coverage))
        return decoded


def signature(spec: Spec, encoding: Encoding, conformal: dict[str, Any] | None = None,
              offsets: dict[str, list[float]] | None = None
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The graph's inputs and outputs as the metadata records them: names, dtypes, shapes,
    columns, scalers and labels, and the ``label_offsets`` of targets whose labels a
    decision chooses (``offsets``: per such target, ``lstmkit.decision``); after the
    targets' outputs, one ``<target>_intervals``
    (batch, steps, coverages, 2: lower and upper) per target with ``conformal`` intervals
    (the metadata's ``{"coverage": [...], "targets": [...]}``). ``lstmkit.deploy.export``
    writes them; ``OnnxModel`` checks them.

    Returns:
        ``inputs`` (``numeric``, ``categorical`` and ``lengths`` entries) and ``outputs``.
    """
    shape = spec.shape
    steps = shape.onnx_steps
    numeric = [f for f in spec.inputs if f.kind == "numeric"]
    inputs: dict[str, Any] = {
        "numeric": {"name": NUMERIC, "dtype": "float32", "shape": ["batch", steps, len(numeric)],
                    "columns": [f.name for f in numeric],
                    "scalers": {f.name: {"kind": f.scaler,
                                         **encoding.input_scalers[f.name].to_dict()}
                                for f in numeric}} if numeric else None,
        "categorical": [{"name": f"{f.name}_code", "column": f.name, "dtype": "int64",
                         "shape": ["batch", steps],
                         "classes": list(encoding.input_labels[f.name].classes)}
                        for f in spec.inputs if f.kind == "categorical"],
        "lengths": {"name": LENGTHS, "dtype": "int64", "shape": ["batch"]}
        if shape.onnx_lengths else None,
    }
    if encoding.series is not None:   # only then: exports without it stay as they were
        inputs["series"] = {"name": SERIES, "column": spec.series, "dtype": "int64",
                            "shape": ["batch"], "keys": list(encoding.series.keys)}
    if (conformal or {}).get("series"):   # scale-aware intervals: each series' margins
        inputs["interval_series"] = {"name": INTERVAL_SERIES, "column": spec.series,
                                     "dtype": "int64", "shape": ["batch"],
                                     "keys": list(conformal["series"])}
    out_steps = shape.onnx_out_steps
    outputs = [t.target_kind.onnx_output(t, encoding, out_steps) for t in spec.targets]
    for entry in outputs:                   # only then: exports without them stay as they were
        if entry["target"] in (offsets or {}):
            entry["label_offsets"] = list(offsets[entry["target"]])
    coverage = list((conformal or {}).get("coverage", []))
    outputs += [{"name": f"{t.name}_intervals", "target": t.name, "kind": "intervals",
                 "dtype": "float32", "shape": ["batch", out_steps, len(coverage), 2],
                 "coverage": coverage}
                for t in spec.targets if t.name in (conformal or {}).get("targets", [])]
    return inputs, outputs


def input_entries(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The graph's inputs in order: numeric (if any), one per categorical input, series
    (scaled per series), interval series (scale-aware intervals), lengths (sequences)."""
    return ([inputs["numeric"]] if inputs["numeric"] else []) + inputs["categorical"] + [
        inputs[name] for name in ("series", "interval_series") if inputs.get(name)] + (
        [inputs["lengths"]] if inputs["lengths"] else [])


def _checked_spec(metadata: dict[str, Any], session: Any) -> tuple[Spec, Encoding]:
    """The spec and the recorded encoding of checked metadata: each entry of its JSON type,
    the shape fields, inputs, outputs and schema what the spec and the recorded labels and
    scalers give, and the inputs and outputs those of the graph itself (names, order,
    dtypes, static sizes).

    Raises:
        ConfigError: naming the first entry that disagrees.
    """
    check_fields(metadata, METADATA_FIELDS, METADATA_OPTIONAL)
    check_strings(metadata["versions"], "versions")
    check_strings(metadata["schema"], "schema")
    spec = Spec.saved(metadata["spec"])
    shape = {"task": spec.task, "lookback": spec.lookback, "horizon": spec.horizon,
             "aligned": spec.shape.per_step, "span": spec.span, "future": spec.future_names}
    for key, value in shape.items():
        if key in metadata and metadata[key] != value:
            raise ConfigError(f"{key} is {quote(metadata[key])}, but the spec gives "
                              f"{quote(value)}")
    encoding = _recorded_encoding(spec, metadata)
    inputs, outputs = signature(spec, encoding, _recorded_conformal(metadata, spec),
                                _recorded_offsets(metadata, spec, encoding))
    for key, expected in (("inputs", inputs), ("outputs", outputs)):
        difference = first_difference(metadata[key], expected, key)
        if difference:
            where, recorded, derived = difference
            raise ConfigError(f"{where} is {quote(recorded)}, but the spec and the recorded "
                              f"labels give {quote(derived)}")
    _check_graph("inputs", input_entries(inputs), session.get_inputs())
    _check_graph("outputs", outputs, session.get_outputs())
    check_saved_schema(metadata["schema"], spec, targets=False)
    return spec, encoding


def _recorded_encoding(spec: Spec, metadata: dict[str, Any]) -> Encoding:
    """The input scalers and the labels the metadata records, each checked, for the columns
    the spec gives them (target scalers are inside the graph)."""
    inputs, outputs = metadata["inputs"], metadata["outputs"]
    check_fields(inputs, {"numeric": (dict, type(None)), "categorical": list,
                          "lengths": (dict, type(None))},
                 {"series": dict, "interval_series": dict}, where="inputs.")
    series = None
    if spec.scale_by == "series":    # the keys only: the statistics are inside the graph
        check_fields(inputs.get("series"), {"keys": list}, where="inputs.series.")
        keys = inputs["series"]["keys"]
        if not keys or not all(isinstance(k, str) for k in keys):
            raise ConfigError(f"inputs.series.keys is {quote(keys)}; it lists series ids as text")
        series = SeriesScalers(tuple(keys), {}, {})
    if inputs["numeric"] is not None:
        check_fields(inputs["numeric"], {"scalers": dict}, where="inputs.numeric.")
    for i, entry in enumerate(inputs["categorical"]):
        check_fields(entry, {"column": str}, where=f"inputs.categorical[{i}].")
    outputs = outputs[: len(spec.targets)]           # the intervals' outputs follow
    for j, entry in enumerate(outputs):
        check_fields(entry, {"target": str}, where=f"outputs[{j}].")
    scalers = inputs["numeric"]["scalers"] if inputs["numeric"] else {}
    categorical = inputs["categorical"]
    recorded = {"numeric inputs": (list(scalers), [f.name for f in spec.inputs
                                                   if f.kind == "numeric"]),
                "categorical inputs": ([c["column"] for c in categorical],
                                       [f.name for f in spec.inputs if f.kind == "categorical"]),
                "targets": ([o["target"] for o in outputs], spec.target_names)}
    for what, (columns, names) in recorded.items():
        if columns != names:
            raise ConfigError(f"the {what} recorded are {quote(columns)}, but the spec's are "
                              f"{quote(names)}")
    return Encoding(
        spec,
        {name: AffineScaler.from_dict(_without_kind(value),
                                      f"inputs.numeric.scalers[{quote(name)}]")
         for name, value in scalers.items()},
        {c["column"]: Labels.from_list(c.get("classes"), f"inputs.categorical[{i}].classes")
         for i, c in enumerate(categorical)},
        {},
        {o["target"]: Labels.from_list(o.get("classes"), f"outputs[{j}].classes")
         for j, (o, t) in enumerate(zip(outputs, spec.targets, strict=True)) if t.categorical},
        series)


def _recorded_conformal(metadata: dict[str, Any], spec: Spec) -> dict[str, Any] | None:
    """The metadata's ``conformal`` entry, checked: calibrated coverages, the targets
    whose intervals the graph gives and the record of those whose intervals are computed
    from the graph's parameters (``from_parameters``)."""
    recorded = metadata.get("conformal")
    if recorded is None:
        return None
    check_fields(recorded, {"coverage": list, "targets": list}, where="conformal.")
    if list(check_coverage(recorded["coverage"])) != recorded["coverage"] or \
            not set(recorded["targets"]) <= set(spec.target_names):
        raise ConfigError(f"conformal records coverage {quote(recorded['coverage'])} and "
                          f"targets {quote(recorded['targets'])}; they must be increasing "
                          "shares and targets of the spec")
    keys = recorded.get("series", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"conformal series is {quote(keys)}; it lists series ids as text")
    floors = recorded.get("floors", {})
    if not isinstance(floors, dict) or not set(floors) <= set(recorded["targets"]) | set(
            (recorded.get("from_parameters") or {}).get("targets", {})) or not all(
            type(v) in (int, float) and np.isfinite(v) for v in floors.values()):
        raise ConfigError(f"conformal floors is {quote(floors)}; it maps targets with "
                          "intervals to the finite lowest values their lower ends take")
    _check_from_parameters(recorded, spec)
    return recorded


def _check_from_parameters(recorded: dict[str, Any], spec: Spec) -> None:
    """ConfigError unless ``recorded``'s ``from_parameters`` (if any) is a conformal record
    (``conformal.check_conformal``) at its coverages, of targets the graph gives no
    intervals for and whose bands it has no torch form of (``TargetKind.graph_band``)."""
    if "from_parameters" not in recorded:
        return
    outside = recorded["from_parameters"]
    try:
        check_conformal(outside, spec)
    except ValueError as exc:
        raise ConfigError(f"conformal.from_parameters: {exc}") from None
    kinds = {t.name: t.target_kind for t in spec.targets}
    if outside["coverage"] != recorded["coverage"] or any(
            kinds[name].graph_band or name in recorded["targets"] for name in outside["targets"]):
        raise ConfigError(f"conformal.from_parameters holds targets "
                          f"{quote(list(outside['targets']))} at coverage "
                          f"{quote(outside['coverage'])}; they must be targets whose bands "
                          "the graph does not compute, at the same coverages as the graph's")


def _recorded_offsets(metadata: dict[str, Any], spec: Spec, encoding: Encoding
                      ) -> dict[str, list[float]]:
    """The ``label_offsets`` the metadata's outputs record, each checked: one finite
    number per label of a categorical target."""
    recorded = {}
    for entry, t in zip(metadata["outputs"], spec.targets, strict=False):
        if isinstance(entry, dict) and "label_offsets" in entry:
            if not t.categorical:
                raise ConfigError(f"outputs of target {quote(t.name)} record label_offsets, "
                                  f"but it is {t.kind}, without labels")
            try:
                recorded[t.name] = check_offsets(t.name, entry["label_offsets"],
                                                 len(encoding.target_labels[t.name]))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return recorded


def _without_kind(scaler: Any) -> Any:
    """A recorded scaler without its ``kind`` (which ``signature`` compares)."""
    if not isinstance(scaler, dict):
        return scaler
    return {k: v for k, v in scaler.items() if k != "kind"}


def _check_graph(what: str, entries: list[dict[str, Any]], nodes: list[Any]) -> None:
    """Raise ConfigError unless the graph's ``nodes`` are ``entries``: the same names in the
    same order, the same dtypes, and every size the graph fixes the same."""
    names, graph = [e["name"] for e in entries], [node.name for node in nodes]
    if names != graph:
        raise ConfigError(f"{what} are {quote(names)}, but the graph's {what} are {quote(graph)}")
    for entry, node in zip(entries, nodes, strict=True):
        dtype = ONNX_DTYPES.get(node.type, node.type)
        shape = entry["shape"]
        fixed = len(node.shape) == len(shape) and all(
            not isinstance(g, int) or g == d for g, d in zip(node.shape, shape, strict=True))
        if dtype != entry["dtype"] or not fixed:
            raise ConfigError(f"{what} entry {quote(entry['name'])} is {entry['dtype']} of "
                              f"shape {quote(shape)}, but the graph's is {dtype} of shape "
                              f"{quote(node.shape)}")
