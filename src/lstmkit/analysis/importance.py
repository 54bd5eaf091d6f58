"""Permutation importance: which input drives which target.

For each input column, its values are permuted across the windows scored: every window
reads that column from another window, at the same steps (a shorter sequence's last step
repeated), and all its other columns, and its targets, from itself. The column keeps its
values and loses its link to the targets; the increase of each target's error over the
unpermuted error is that column's importance for that target. Each column is permuted
``repeats`` times (seeded); the table gives the mean increase and its spread over the
repeats. One forward pass per (column, repeat), batched as ``evaluate`` batches; nothing
is refitted.

The error is the target kind's ``error_metric`` in original units: MAE for regression and
quantile targets (of the median), the Brier score for classification and binary targets
(a proper score of the class probabilities: it moves when they do, where accuracy moves
only when a label flips). Every input counts: numeric, categorical (a one-hot or embedded
column moves as one), known ahead (with its future rows) and a target's own past where it
is an input (permuting that input leaves the target itself alone).

The same function reads an exported ONNX file (``OnnxModel``): the graph is fed the raw
columns, permuted the same way, so a model and its export give the same table up to
float rounding. The file records no split, so it scores every window of ``data``. Scaled
per series (``Spec.scale_by``, a panel's default), the two differ: the model permutes
values in each series' own units, and the graph, which keeps the statistics inside and
reads each window's series code, raw values, so that a window may read another series'
level; the model's table is the one to read there.

Example:
    >>> from lstmkit.analysis.importance import importance
    >>> table = importance(model, df, part="test", repeats=5)
    >>> table[table.target == "temp_max"].head(3)     # the largest increases first
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..checks import check_choice, check_int, check_positive_int, quote
from ..data import prepare
from ..data.encoding import Encoding
from ..data.groups import arrange, fill_gaps
from ..data.scaling import AffineScaler
from ..data.sources import Source, from_arrays, read_table
from ..data.validate import check_schema
from ..data.windows import Batches, ForecastWindows, Windows
from ..deploy.onnx_model import RUN_WINDOWS, OnnxModel
from ..errors import ConfigError
from ..kinds import Decoded
from ..pipeline import Fitted, FittedPipeline, fitted, require_windows
from ..spec import PARTS, Spec

COLUMNS = ["input", "target", "metric", "error", "increase", "spread", "relative"]


@dataclass(frozen=True)
class _Scoring:
    """What importance reads from a model on one part of a table.

    Attributes:
        spec: the model's task.
        windows: the windows scored.
        positions: each input column's columns in ``windows.inputs``.
        truth: each target's true values (N, S), original units (labelled: class codes).
        decoded: the model's predictions on windows (permuted or not) in original units.
    """

    spec: Spec
    windows: Windows
    positions: dict[str, list[int]]
    truth: dict[str, np.ndarray]
    decoded: Callable[[Windows], dict[str, Decoded]]


def importance(model: FittedPipeline | Fitted | OnnxModel, data: Source | np.ndarray | list,
               y: np.ndarray | None = None, part: str = "test", repeats: int = 5,
               per_step: bool = False, seed: int = 0,
               device: torch.device | None = None) -> pd.DataFrame:
    """Permutation importance of every input column for every target.

    Args:
        model: a fitted ``LSTMModel`` (or its pipeline), or an ``OnnxModel``.
        data: a table with inputs and targets, or arrays ``X`` (with ``y``).
        y: targets when ``data`` is an array.
        part: ``train``, ``val``, ``test`` or ``all``: the windows ``evaluate`` scores
            there. An ``OnnxModel`` knows no split: ``all`` only.
        repeats: permutations per input column (at least 1).
        per_step: one row per output step too (``step`` 1 .. S), each step's error.
        seed: seed of the permutations (the same seed permutes the same windows alike).
        device: where the network runs (default ``inference_device()``).

    Returns:
        A DataFrame, one row per input x target (x step): ``input``, ``target``
        (``step``), ``metric`` (the error's name), ``error`` (unpermuted), ``increase``
        (the mean over repeats of the permuted error minus ``error``), ``spread`` (its
        standard deviation over the repeats; NaN for one) and ``relative``
        (``increase / error``); per target (and step), the largest increase first.

    Raises:
        ConfigError: an unknown ``part``, ``repeats`` below 1, ``part`` other than ``all``
            for an ``OnnxModel``, or a target kind without an ``error_metric``.
        DataError: where the part has no window, or for the data ``evaluate`` refuses.

    Example:
        >>> importance(model, df, part="test", repeats=5, per_step=True)
    """
    check_choice("part", part, PARTS)
    check_positive_int("repeats", repeats)
    check_int("seed", seed, 0)
    scoring = (_graph_scoring(model, data, y, part) if isinstance(model, OnnxModel)
               else _pipeline_scoring(fitted(model), data, y, part, device))
    spec = scoring.spec
    metrics = {t.name: t.target_kind.error_metric for t in spec.targets}
    for t in spec.targets:
        if not metrics[t.name]:
            raise ConfigError(f"target {t.name!r} is of kind {t.kind!r}, which names no "
                              "error_metric; set error_metric and error() on its TargetKind")
    base = _errors(spec, scoring.decoded(scoring.windows), scoring.truth, per_step)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for name in spec.input_names:
        increases = []
        for _ in range(repeats):
            order = torch.randperm(len(scoring.windows), generator=generator)
            permuted = scoring.windows.permuted(scoring.positions[name], order)
            errors = _errors(spec, scoring.decoded(permuted), scoring.truth, per_step)
            increases.append({key: errors[key] - value for key, value in base.items()})
        for (target, step), error in base.items():
            change = np.array([each[target, step] for each in increases])
            spread = float(change.std(ddof=1)) if repeats > 1 else math.nan
            rows.append((name, target, step, metrics[target], error, float(change.mean()),
                         spread))
    table = pd.DataFrame(rows, columns=["input", "target", "step", "metric", "error",
                                        "increase", "spread"])
    table["relative"] = table["increase"] / table["error"]
    order = {t.name: j for j, t in enumerate(spec.targets)}
    table = table.sort_values(["target", "step", "increase"], ascending=[True, True, False],
                              key=lambda c: c.map(order) if c.name == "target" else c,
                              kind="stable", ignore_index=True)
    return table[[*COLUMNS[:2], "step", *COLUMNS[2:]]] if per_step else table[COLUMNS]


def _errors(spec: Spec, decoded: dict[str, Decoded], truth: dict[str, np.ndarray],
            per_step: bool) -> dict[tuple[str, int], float]:
    """Each target's error (kind's ``error_metric``) over every window and step, keyed
    ``(target, 0)``, or per step ``(target, 1 .. S)``."""
    errors = {}
    for t in spec.targets:
        terms = t.target_kind.error(truth[t.name], decoded[t.name])          # (N, S)
        with warnings.catch_warnings():    # a step without truth: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            if per_step:
                errors.update({(t.name, s + 1): float(m)
                               for s, m in enumerate(np.nanmean(terms, axis=0))})
            else:
                errors[t.name, 0] = float(np.nanmean(terms))
    return errors


# -- a fitted model -------------------------------------------------------------------------
def _pipeline_scoring(pipeline: FittedPipeline, data: Any, y: Any, part: str,
                      device: torch.device | None) -> _Scoring:
    """The windows ``evaluate`` scores, run through the network as ``predict`` runs it (the
    nearest neighbours leaving the part out, as ``evaluate`` does)."""
    windows, _ = pipeline.part_windows(data, y, part)
    pipeline = pipeline.leaving_out(part)
    encoded = pipeline.truth(windows)                                    # (N, S, T)
    encoding = pipeline.encoding
    truth = {t.name: encoded[..., j] if t.categorical
             else encoding.decode_regression(t, encoded[..., j])
             for j, t in enumerate(pipeline.spec.targets)}
    return _Scoring(pipeline.spec, windows, encoding.feature_positions, truth,
                    lambda w: pipeline.decoded(w, device))


# -- an ONNX file -------------------------------------------------------------------------
class _GraphColumns(Encoding):
    """The ONNX graph's view of a table: each numeric input as read (gaps NaN), then each
    categorical input's class code (NaN: none), one column per input; targets unscaled
    (identity scalers), so windows built from it hold what the graph is fed."""

    def encode_read(self, n: int, numeric: Any, codes: dict[str, np.ndarray]) -> np.ndarray:
        columns = [*numeric, *codes.values()]
        if not columns:
            return np.zeros((n, 0), np.float32)
        return np.stack(columns, axis=-1).astype(np.float32)       # (n, inputs)

    @property
    def feature_positions(self) -> dict[str, list[int]]:
        return {name: [j] for j, name in enumerate(self.graph_order)}

    @property
    def future_columns(self) -> tuple[int, ...]:
        future = set(self.spec.future_names)
        return tuple(j for j, name in enumerate(self.graph_order) if name in future)

    @property
    def graph_order(self) -> list[str]:
        """The input columns in this table's order: numeric ones, then categorical ones."""
        inputs = self.spec.inputs
        return ([f.name for f in inputs if f.kind != "categorical"]
                + [f.name for f in inputs if f.kind == "categorical"])


def _graph_scoring(model: OnnxModel, data: Any, y: Any, part: str) -> _Scoring:
    """Every window of ``data`` with its targets, fed to the graph as raw columns."""
    if part != "all":
        raise ConfigError(f"an ONNX file records no split, so part {part!r} is unknown to it; "
                          "pass the rows to score (such as the test rows) and part='all'")
    spec = model.spec
    if isinstance(data, np.ndarray | list | tuple) or y is not None:
        frame, spec = from_arrays(data, y, spec)
    else:
        frame = read_table(data, spec=spec)
    check_schema(frame, model.metadata["schema"])
    source = model.encoding
    columns = _GraphColumns(spec, source.input_scalers, source.input_labels,
                            {t.name: AffineScaler(0.0, 1.0) for t in spec.targets
                             if not t.categorical}, source.target_labels)
    groups = fill_gaps(arrange(frame, spec, model.time_step), spec)
    encoded = prepare.encode(groups, spec, columns, with_targets=True)
    if source.series is not None:    # scaled per series: the graph reads each window's code
        encoded = dataclasses.replace(encoded, series=torch.from_numpy(
            source.series.row_codes(groups)))
    windows = prepare.part_windows(encoded, spec, None, "all")
    require_windows(windows, "'all'", spec)
    steps = getattr(windows, "max_length", 0) if spec.shape.per_step else None
    truth = torch.cat([_pad(b["y"], steps) for b in Batches(windows, RUN_WINDOWS)]).numpy()
    n_numeric = sum(f.kind != "categorical" for f in spec.inputs)
    return _Scoring(spec, windows, columns.feature_positions,
                    {t.name: truth[..., j].astype(np.float64)
                     for j, t in enumerate(spec.targets)},
                    lambda w: _graph_decoded(model, w, n_numeric, steps))


def _graph_decoded(model: OnnxModel, windows: Windows, n_numeric: int, steps: int | None
                   ) -> dict[str, Decoded]:
    """The graph's predictions on ``windows`` (of ``_GraphColumns``), decoded."""
    inputs = model.metadata["inputs"]
    series = windows.window_series() if isinstance(windows, ForecastWindows) else None
    parts = []
    for lo, batch in zip(range(0, len(windows), RUN_WINDOWS), Batches(windows, RUN_WINDOWS),
                         strict=True):
        x = batch["x"]                                                   # (B, T, inputs)
        if "future" in batch:   # the graph reads lookback + horizon rows: future inputs last
            ahead = x.new_full((x.shape[0], batch["future"].shape[1], x.shape[2]), math.nan)
            ahead[..., list(windows.future_columns)] = batch["future"]
            x = torch.cat([x, ahead], dim=1)                             # (B, L + H, inputs)
        x = x.numpy()
        feeds = {}
        if inputs["numeric"]:
            feeds[inputs["numeric"]["name"]] = np.ascontiguousarray(x[..., :n_numeric])
        for j, entry in enumerate(inputs["categorical"]):
            code = x[..., n_numeric + j]
            feeds[entry["name"]] = np.where(np.isnan(code), -1, code).astype(np.int64)
        if inputs.get("series"):
            feeds[inputs["series"]["name"]] = series[lo : lo + len(x)].numpy()
        if inputs["lengths"]:
            lengths = batch.get("lengths", torch.full((len(x),), x.shape[1]))
            feeds[inputs["lengths"]["name"]] = lengths.numpy().astype(np.int64)
        parts.append({name: _pad(torch.from_numpy(out), steps).numpy()
                      for name, out in model.run(feeds).items()})
    return model.decoded({name: np.concatenate([p[name] for p in parts]) for name in parts[0]})


def _pad(t: torch.Tensor, steps: int | None) -> torch.Tensor:
    """Right-pad (B, S, ...) with NaN to ``steps`` steps (aligned seq2seq of varying
    lengths, as ``FittedPipeline.outputs`` pads)."""
    if steps is None or t.shape[1] == steps:
        return t
    pad = t.new_full((t.shape[0], steps - t.shape[1], *t.shape[2:]), math.nan)
    return torch.cat([t, pad], dim=1)


def check_table(table: Any) -> pd.DataFrame:
    """``table`` if it is an importance table (``importance``'s columns), else ConfigError."""
    if not isinstance(table, pd.DataFrame) or not set(COLUMNS) <= set(table.columns):
        raise ConfigError(f"expected the table importance() returns, with columns "
                          f"{quote(COLUMNS)}")
    return table
