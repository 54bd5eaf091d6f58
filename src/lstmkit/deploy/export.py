"""ONNX export of the whole inference pipeline: raw columns in, original units out.

The graph holds everything ``LSTMModel.predict`` does between a window of raw
rows and the predictions: input scaling, one-hot encoding of categorical inputs
(the index column of an embedded one), the network (any decoder), inverse target
scaling and class probabilities; where a sequence classifier answers with its nearest
training sequences (``neighbour_vote``, ``neighbour_targets``), those sequences and their
answers too (``lstmkit.deploy.neighbours``).

Graph inputs (``batch`` is dynamic everywhere):

* ``numeric``: float32 (batch, steps, n_numeric), the numeric input columns in
  original units, in the order the metadata lists them. ``steps`` is the
  lookback for forecasts (``lookback + horizon`` with inputs known in advance:
  the last ``horizon`` steps give those and the other columns there are not
  read, NaN allowed); sequence tasks take any number of steps.
* ``<column>_code``: int64 (batch, steps), one per categorical input: the
  position of each row's label in that column's ``classes`` (metadata).
* ``series``: int64 (batch,), forecasts scaled per series (``Spec(scale_by="series")``)
  only: each window's series, as its position in the metadata's ``inputs.series.keys``;
  it selects the statistics the graph scales the window's inputs by and maps its outputs
  back with (``lstmkit.data.series_scaling``).
* ``interval_series``: int64 (batch,), models with scale-aware conformal intervals (a panel)
  only: each window's series, as its position in the metadata's
  ``inputs.interval_series.keys`` (their count for a series not there: the pooled margins);
  it selects the series' margins.
* ``lengths``: int64 (batch,), sequence and seq2seq tasks only: the number of
  real steps of each sequence; shorter sequences are padded at the end with
  any values, NaN included (they are masked out, as ``predict`` does).

Graph outputs:

* ``<target>``: float32 (batch, out_steps) per regression target, original units.
* ``<target>_proba``: float32 (batch, out_steps, classes) per classification or
  binary target (binary: ``[negative, positive]``), calibrated as ``predict``'s are (the
  fitted temperature divides the logits); labels in the metadata.
* ``<target>_intervals``: float32 (batch, out_steps, coverages, 2) per target with
  calibrated conformal intervals (``lstmkit.conformal``), after the targets' outputs: the
  lower and upper end at each coverage the metadata's ``conformal`` lists, in original
  units (the margins, per series where scale-aware, and the floor of non-negative targets
  are constants of the graph). Targets whose band has no torch form (a Student's t or a
  count distribution's quantiles, ``TargetKind.graph_band`` False) have none: the graph
  gives their parameters, the metadata's ``conformal.from_parameters`` their margins, and
  ``OnnxModel`` computes their intervals as ``predict`` does.

Each target's kind (``lstmkit.kinds``) gives its output (``TargetKind.graph_output``) and
the metadata's entry for it (``TargetKind.onnx_output``).

``out_steps`` is the horizon (forecast, seq2seq), 1 for a sequence task, and the
input steps for seq2seq with one output per step (outputs past a sequence's
length are padding). The metadata (``metadata_props["lstmkit"]``, JSON) records
this schema, the spec, the scalers and the versions that wrote the file.
"""

from __future__ import annotations

import io
import json
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..conformal import SPREAD, floors
from ..conformal_panel import margin_table
from ..data import timestep
from ..data.scaling import AffineScaler
from ..decision import offsets_of
from ..errors import ArtifactError, ConfigError
from ..pipeline import Fitted, FittedPipeline, fitted
from ..spec import Spec
from ..storage import files
from ..version import __version__
from .neighbours import NeighbourAnswers, check_size
from .onnx_model import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_KEY,
    input_entries,
    signature,
)

OPSET = 17


class InferenceGraph(nn.Module):
    """A fitted model's predict path as one module: raw inputs -> outputs in original units.

    Args:
        model: a fitted pipeline, or a fitted ``LSTMModel`` (its ``pipeline_``).

    Example:
        >>> graph = InferenceGraph(model)
        >>> outputs = graph(numeric, lengths)   # one tensor per graph output
    """

    def __init__(self, model: FittedPipeline | Fitted) -> None:
        super().__init__()
        pipeline = fitted(model)
        spec, encoding = pipeline.spec, pipeline.encoding
        self.network = pipeline.network.eval()
        self.sequences = spec.shape.onnx_lengths
        numeric = [f.name for f in spec.inputs if f.kind == "numeric"]
        scalers = [encoding.input_scalers[name] for name in numeric]
        self.register_buffer("center", torch.tensor([s.center for s in scalers]))
        self.register_buffer("scale", torch.tensor([s.scale for s in scalers]))
        series = encoding.series
        self.per_series = series is not None
        if series is not None:   # per series (G, ...): input statistics, maps of the outputs
            for name, values in (("series_center", [series.inputs[n][0] for n in numeric]),
                                 ("series_scale", [series.inputs[n][1] for n in numeric])):
                self.register_buffer(name, torch.tensor(
                    np.stack(values, axis=-1) if values else np.zeros((len(series.keys), 0)),
                    dtype=torch.float32))
            factor, shift = series.output_maps(spec, encoding, original=True)
            self.register_buffer("out_factor", torch.tensor(factor, dtype=torch.float32))
            self.register_buffer("out_shift", torch.tensor(shift, dtype=torch.float32))
        # Encoded columns in the network's order: a numeric column's position in
        # ``numeric``, or -K for a categorical input one-hot over K classes.
        self.blocks = [numeric.index(f.name) if f.kind == "numeric" else
                       -len(encoding.input_labels[f.name]) for f in spec.inputs]
        self.missing = [f.missing for f in spec.inputs]
        self.embedded = [f.embed is not None for f in spec.inputs]
        self.lookback = spec.lookback if spec.future_names else None
        self.future_columns = list(encoding.future_columns)
        self.kinds = [t.target_kind for t in spec.targets]
        self.slices = list(self.network.output_slices)
        # outputs scaled per series are in original units already (``out_factor``)
        self.target_scalers = [AffineScaler(0.0, 1.0) if series and t.name in series.targets
                               and t.target_kind.series_scaled
                               else encoding.target_scalers.get(t.name) for t in spec.targets]
        self.temperatures = pipeline.temperatures
        self.targets = list(spec.targets)
        record = pipeline.conformal or {"coverage": [], "targets": {}}
        # Per target with intervals the graph computes (``graph_band``): its index,
        # coverages, margins (series + 1 or 1, K, S or 1) (``conformal_panel.margin_table``),
        # floor (None: none) and whether they are in units of its spread.
        self.intervals = [
            (j, list(record["coverage"]), torch.tensor(np.stack(
                [margin_table(record, t.name, k) for k in range(len(record["coverage"]))],
                axis=1), dtype=torch.float32), record["targets"][t.name].get("floor"),
             record["targets"][t.name].get("unit") == SPREAD)
            for j, t in enumerate(spec.targets)
            if t.name in record["targets"] and t.target_kind.graph_band]
        self.interval_series = "series" in record and bool(self.intervals)
        self.vote, self.nearest = pipeline.neighbour_vote, set(pipeline.neighbour_targets)
        self.answers = None if pipeline.neighbours is None or not \
            pipeline.answers_with_neighbours else NeighbourAnswers(
                pipeline.neighbours, [j for j, name in enumerate(encoding.input_columns)
                                      if name in encoding.input_scalers])

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        """(numeric?, codes of each categorical input..., series?, lengths?) -> one tensor
        per output."""
        inputs_ = list(inputs)
        lengths = inputs_.pop() if self.sequences else None
        interval_series = inputs_.pop() if self.interval_series else None
        series = inputs_.pop() if self.per_series else None
        numeric = inputs_.pop(0) if len(self.center) else None
        x = self.encode(numeric, inputs_, series)                        # (B, T, F)
        if lengths is not None:   # padding (even NaN) becomes zeros, as in predict
            steps = torch.arange(x.shape[1], device=x.device)
            x = torch.where((steps[None, :] < lengths[:, None])[..., None], x, 0.0)
        future = None
        if self.lookback is not None:   # the rows after the lookback give the known-ahead inputs
            x, future = x[:, : self.lookback], x[:, self.lookback :, self.future_columns]
        out = self.network(x, lengths, future=future)                    # (B, S, C)
        if series is not None:   # from each window's series units to the global scalers'
            out = out * self.out_factor[series][:, None] + self.out_shift[series][:, None]
        values = tuple(kind.graph_output(kind.tempered(out[..., part], temperature), scaler)
                       for kind, part, scaler, temperature in zip(   # each kind's activation
                           self.kinds, self.slices, self.target_scalers, self.temperatures,
                           strict=True))
        if self.answers is not None and lengths is not None:
            values = self.answered(values, x, lengths)
        return values + tuple(self.interval_ends(j, values[j], coverage, table, floor,
                                                 interval_series, spread)
                              for j, coverage, table, floor, spread in self.intervals)

    def answered(self, values: tuple[Tensor, ...], x: Tensor, lengths: Tensor
                 ) -> tuple[Tensor, ...]:
        """``values`` with the class probabilities (B, 1, K) of the targets the nearest
        neighbours answer replaced, as ``FittedPipeline.decoded`` replaces them: blended
        with their vote (``neighbour_vote``), or the nearest one's label with probability 1
        (``neighbour_targets``; the network's where that sequence has none)."""
        squared = self.answers.squared(x, lengths)
        out = list(values)
        for j, proba in enumerate(values):
            name, classes = self.targets[j].name, proba.shape[-1]
            if name in self.vote:
                weight, scale = self.vote[name]["weight"], self.vote[name]["scale"]
                vote = self.answers.vote(squared, j, classes, scale)[:, None]
                out[j] = ((1 - weight) * proba.double() + weight * vote).float()
            elif name in self.nearest:
                code = self.answers.nearest_codes(squared, j)[:, None]            # (B, 1)
                sure = (code[..., None] == torch.arange(classes, device=code.device)).float()
                out[j] = torch.where(code[..., None] >= 0, sure, proba)
        return tuple(out)

    def interval_ends(self, j: int, values: Tensor, coverage: list[float], table: Tensor,
                      floor: float | None, series: Tensor | None, spread: bool) -> Tensor:
        """Target ``j``'s conformal intervals (B, S, K, 2) from its output ``values``: its
        kind's band at each coverage, widened by that coverage's margins per step (those of
        each window's ``series`` where given; ``table`` (G + 1 or 1, K, S)), times each
        prediction's ``spread`` where the margins are in its units, the lower end kept at
        ``floor`` or above."""
        kind, target = self.kinds[j], self.targets[j]
        margins = table[0] if series is None else table[series]        # (K, S) or (B, K, S)
        ends = []
        for k, c in enumerate(coverage):
            lower, upper = kind.band(target, values, c)                      # (B, S) each
            margin = margins.select(-2, k)                                   # (S,) or (B, S)
            if spread:
                margin = margin * kind.spread(values)                        # (B, S)
            low = lower - margin
            if floor is not None:
                low = torch.clamp(low, min=floor)
            ends.append(torch.stack([low, upper + margin], dim=-1))
        return torch.stack(ends, dim=-2)

    def encode(self, numeric: Tensor | None, codes: list[Tensor], series: Tensor | None = None
               ) -> Tensor:
        """The network's input columns (..., F) from raw numbers (..., numeric inputs) and
        each categorical input's codes (-1: no category), scaled by each window's
        ``series`` statistics where given: ``Encoding.encode_read`` in torch ops, so that
        the graph needs no numpy."""
        remaining = list(codes)
        center, scale = self.center, self.scale
        if series is not None:                                           # (B, 1, numeric)
            center, scale = self.series_center[series][:, None], self.series_scale[series][:, None]
        scaled = None if numeric is None else (numeric - center) / scale
        columns = []
        for block, missing, embedded in zip(self.blocks, self.missing, self.embedded,
                                            strict=True):
            if block >= 0:
                value = scaled[..., block : block + 1]
                if missing != "error":   # a gap left (mask, or before a series' first value)
                    gap = torch.isnan(value)
                    value = torch.where(gap, 0.0, value)
                columns.append(value)
                if missing == "mask":
                    columns.append(gap.to(torch.float32))
            elif embedded:   # the index column predict encodes: K (no category) for code -1
                code = remaining.pop(0)
                columns.append(torch.where(code < 0, -block, code).to(torch.float32)[..., None])
            else:   # a missing label has code -1: no class matches, an all-zero one-hot
                code = remaining.pop(0)
                classes = torch.arange(-block, device=code.device)
                columns.append((code[..., None] == classes).to(torch.float32))
        return torch.cat(columns, dim=-1)


def export_onnx(model: FittedPipeline | Fitted, path: str | Path, overwrite: bool = False
                ) -> Path:
    """Write ``model``'s whole inference pipeline as an ONNX file.

    The file is written under a temporary name and renamed into place, so a failed
    export leaves nothing behind and never touches an existing file.

    Args:
        model: a fitted pipeline, or a fitted ``LSTMModel`` (its ``pipeline_``).
        path: the ``.onnx`` file to write (not inside a model directory).
        overwrite: replace an existing file at ``path`` if it is an lstmkit ONNX export.

    Returns:
        The path written.

    Example:
        >>> export_onnx(model, "etth1.onnx")
        >>> import onnxruntime; onnxruntime.InferenceSession("etth1.onnx")
    """
    import onnx

    pipeline = fitted(model)
    if pipeline.neighbours is not None and pipeline.answers_with_neighbours:
        check_size(pipeline.neighbours)
    path = Path(path)
    files.check_output_file(path, overwrite, kind="ONNX export", is_own=_is_export,
                            error=ArtifactError, suffixes=(".onnx",))
    metadata = onnx_metadata(pipeline)
    _check_names(metadata)
    proto = onnx.load_from_string(_trace(pipeline, metadata))
    proto.producer_name, proto.producer_version = "lstmkit", __version__
    proto.doc_string = (__doc__ or "").split("\n\n", 1)[-1]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, allow_nan=False)
    onnx.checker.check_model(proto)
    with files.atomic_file(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return path


def _is_export(path: Path) -> bool:
    """Whether ``path`` is an ONNX file lstmkit exported (it carries lstmkit's metadata)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # protobuf raises its own types for files that are not ONNX
        return False
    entries = {entry.key: entry.value for entry in proto.metadata_props}
    try:
        return json.loads(entries.get(METADATA_KEY, "{}")).get("format") == FORMAT
    except (json.JSONDecodeError, AttributeError):
        return False


def onnx_metadata(model: FittedPipeline | Fitted) -> dict[str, Any]:
    """The JSON the graph carries: inputs, outputs, spec, scalers, versions."""

    pipeline = fitted(model)
    spec = pipeline.spec
    conformal = graph_conformal(spec, pipeline.conformal)
    offsets = {t.name: offsets_of(pipeline.decisions, t.name) for t in spec.targets}
    inputs, outputs = signature(spec, pipeline.encoding, conformal,
                                {name: b for name, b in offsets.items() if b is not None})
    schema = {k: v for k, v in pipeline.schema.items()
              if k not in spec.target_names or k in spec.input_names}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "task": spec.task,
        "lookback": spec.lookback, "horizon": spec.horizon, "aligned": spec.shape.per_step,
        "span": spec.span, "future": spec.future_names,
        "inputs": inputs, "outputs": outputs, "schema": schema, "spec": spec.to_dict(),
        "time_step": timestep.to_json(pipeline.time_step),
        "data_sha256": pipeline.data_sha256, "conformal": conformal,
        **({"target_axis": True} if pipeline.target_axis else {}),
        "versions": {"lstmkit": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }


def graph_conformal(spec: Spec, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The metadata's ``conformal``: the calibrated coverages, the targets whose intervals
    the graph computes (``targets``; ``series`` where their margins are per series) and,
    where some target's band has no torch form (``TargetKind.graph_band``: a Student's t or
    a count), ``from_parameters``: the conformal record of those targets (as
    ``FittedPipeline.conformal`` holds it), whose intervals ``OnnxModel`` computes from the
    graph's parameters as ``predict`` does."""
    if record is None:
        return None
    kinds = {t.name: t.target_kind for t in spec.targets}
    graph = [name for name in record["targets"] if kinds[name].graph_band]
    others = {name: entry for name, entry in record["targets"].items() if name not in graph}
    conformal: dict[str, Any] = {"coverage": record["coverage"], "targets": graph}
    if "series" in record and graph:
        conformal["series"] = record["series"]
    if others:    # only then: exports without such targets stay as they were
        conformal["from_parameters"] = {**record, "targets": others}
    lowest = floors(record)
    if lowest:    # the graph floors its intervals; adapting them floors them again
        conformal["floors"] = lowest
    return conformal


def _input_names(metadata: dict[str, Any]) -> list[str]:
    return [entry["name"] for entry in input_entries(metadata["inputs"])]


def _check_names(metadata: dict[str, Any]) -> None:
    names = _input_names(metadata) + [o["name"] for o in metadata["outputs"]]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ConfigError(f"the ONNX graph would have two values named {clash[0]!r} (inputs: "
                          f"numeric, <column>_code, lengths; outputs: <target>, "
                          "<target>_proba); rename that column to export the model")


def _trace(pipeline: FittedPipeline, metadata: dict[str, Any]) -> bytes:
    """The graph as ONNX bytes, from the TorchScript exporter (it maps nn.LSTM, with
    packed sequences, onto the ONNX LSTM operator and its ``sequence_lens``)."""
    spec, config = pipeline.spec, pipeline.network.config
    if not spec.shape.sliding and config.segment:
        raise ConfigError("ONNX export of a segment model is for forecasts only (segments of "
                          "sequences of different lengths depend on each length); refit "
                          "without segment to export it")
    graph = InferenceGraph(pipeline)
    batch, steps = 3, spec.span or 6
    lengths = torch.tensor([steps, steps - 1, steps - 3])   # sorted, as the exporter needs
    example: list[Tensor] = []
    inputs = metadata["inputs"]
    if inputs["numeric"]:
        example.append(torch.randn(batch, steps, inputs["numeric"]["shape"][-1]))
    example += [torch.zeros(batch, steps, dtype=torch.int64) for _ in inputs["categorical"]]
    for name in ("series", "interval_series"):
        if inputs.get(name):
            example.append(torch.arange(batch) % len(inputs[name]["keys"]))
    if inputs["lengths"]:
        example.append(lengths)
    names = _input_names(metadata)
    outputs = [o["name"] for o in metadata["outputs"]]
    dynamic = {entry["name"]: {axis: size for axis, size in enumerate(entry["shape"])
                               if isinstance(size, str)}     # the signature's named sizes
               for entry in input_entries(inputs) + metadata["outputs"]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and tracer notes are not the user's to
        # act on; the tests check the graph against predict instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, tuple(example), buffer, dynamo=False, input_names=names,
                          output_names=outputs, dynamic_axes=dynamic, opset_version=OPSET)
    return buffer.getvalue()
