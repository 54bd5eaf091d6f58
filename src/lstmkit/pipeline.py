"""``FittedPipeline``: what ``fit`` learned, and everything a fitted model does with it.

The estimator (``lstmkit.model.LSTMModel``) holds parameters and trains; the pipeline it
fits holds the task (``spec``), the scalers and labels (``encoding``), the trained network,
the input schema, the time step, the baselines and what the fit recorded (history,
architecture, split, seed, data checksum, validation check). It predicts, checks inputs
and evaluates (beside the baselines and into the tables of ``lstmkit.scoring``), and is
what ``artifact``, ``export``, ``card``, ``plots``, ``serve`` and ``batch`` read. Its JSON
part (``to_dict``) is the body of a saved model's ``config.json``; the weights and the
nearest-neighbour sequences live in ``artifact``'s files.

Example:
    >>> pipeline = LSTMModel(spec).fit(df).pipeline_
    >>> pipeline.predict(df.tail(96))
    >>> FittedPipeline.from_dict(pipeline.to_dict(), pipeline.network).spec == pipeline.spec
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch

from .baselines import NearestNeighbour
from .checks import check_choice, check_positive_int, quote
from .conformal import PARTS as CONFORMAL_PARTS
from .conformal import (
    check_bands,
    check_coverage,
    chosen,
    conformal_targets,
    fit_conformal,
    floors,
    interval_levels,
    with_intervals,
)
from .conformal_online import (
    adapt_rate,
    adapt_windows,
    adapted,
    check_adaptable,
    feedback,
)
from .conformal_panel import WindowSeries
from .data import prepare, timestep
from .data.encoding import Encoding
from .data.groups import Groups, arrange, fill_gaps, fill_unread
from .data.series_scaling import to_reference
from .data.sources import Source, from_arrays, raw_sequences, read_table
from .data.timestep import TimeStep
from .data.validate import check_schema
from .data.weights import require_weight
from .data.windows import Batches, ForecastWindows, SequenceWindows, Windows
from .decision import labels as decided_labels
from .decision import offsets_of
from .errors import ConfigError, DataError, NotFittedError
from .hyperparams import Architecture, ResolvedArchitecture
from .kinds import Decoded, Regression
from .metrics import Baseline, Evaluation
from .nn import LSTMNetwork, NetworkConfig, Output
from .scale_free import NaiveScales, training_scales
from .scoring import (
    ScoredSeries,
    evaluate_outputs,
    naive_proba,
    neighbour_baseline,
    seasonal_naive,
)
from .spec import PARTS, Spec, Split, Target
from .tasks import (
    OUTPUTS,
    WindowRows,
    categorical_names,
    prediction_frame,
    probabilities,
    sample_frame,
    window_origin,
)
from .vote import blended_logits

PREDICT_ELEMENTS = 2**23   # per inference batch: windows x steps x widest layer (32 MB float32)
PREDICT_WINDOWS = 512      # at most, or as many as keep one step's gates (windows x 4 x
PREDICT_GATES = 2**17      # hidden) within 2**17 values (512 KB) on CPU: W1's LSTM(64) ran
                           # slower past 512 windows, W2's LSTM(32) faster at 1024 (BENCHMARKS)
GPU_PREDICT_ELEMENTS = 2**26   # on a GPU, where larger batches fill the device (not yet timed)
GPU_PREDICT_WINDOWS = 8192


@dataclass
class FittedPipeline:
    """What ``fit`` learned, with the behaviour of a fitted model.

    Args:
        spec: the task, with the kinds ``fit`` read.
        encoding: the scalers and category labels fitted on the training part.
        network: the trained network (in eval mode).
        schema: column -> kind, for checking data at predict time.
        time_step: the series' time step (None without a time column).
        baseline: per target, the encoded training mean or majority class code (NaN for
            forecasts, compared with persistence instead).
        history: the training history (``epochs``, ``best_epoch``, ``best_val_loss``); after
            a warm start (``fit(warm_start=True)``) those of its last phase, and
            ``phases``: every phase's, in order, each with its table's ``data_sha256``.
        architecture: the architecture the network was built with, ``lr`` as trained.
        split, seed: the split and seed of the fit (``evaluate(part=...)`` re-splits so).
        data_sha256: the training table's checksum (None in files that lack it); after a
            warm start, the last phase's.
        validation: ``Evaluation.verdict()`` of the validation part (None without one).
        neighbours: the 1-NN baseline of sequence classification (None for other tasks).
        neighbour_targets: the targets the model answers with the nearest neighbour's label
            (models saved before ``neighbour_vote``; ``fit`` now blends instead).
        neighbour_vote: per categorical target whose class probabilities blend the
            network's with the nearest neighbours' vote (``lstmkit.vote``): its ``weight``
            w (> 0) in ``(1 - w) * network + w * vote``, the vote's ``scale``, and what w
            was chosen by (``fitting.fit_vote``: the network's validation accuracy, 1-NN's
            leave-one-out accuracy, their sample sizes, the blend's validation accuracy).
        naive_spread: per quantile target, the empirical quantiles (S, Q) at its levels of
            the naive baseline's errors (truth - naive) per step on the training part,
            encoded (null where a step had none): the naive probabilistic baseline is the
            naive prediction plus them. Per regression target with conformal intervals, the
            same at the levels of the intervals' ends (``conformal.interval_levels``): the
            naive baseline's intervals.
        calibration: what temperature scaling did (``lstmkit.calibration``): the part it
            was fitted on, or why there is none, and per categorical target its
            ``temperature`` and validation NLL and ECE before and after; None (files
            saved before it): every temperature is 1.
        class_frequencies: per categorical target of a sequence task, the training share
            of each class: the naive baseline's probabilities (absent: one-hot).
        class_weights: per target with a ``class_weight``, the weight of each label (in the
            labels' order) its loss was weighted with (``lstmkit.data.weights``).
        naive_scales: per series and numeric target of a forecast, the in-sample errors of
            the seasonal naive forecast on the training part, which MASE and RMSSE divide
            by (``lstmkit.scale_free``); None for other tasks and in files saved before.
        conformal: the calibrated conformal intervals (``lstmkit.conformal``): the part,
            coverages and per number target the margins per step; None: no intervals.
        decisions: per target with ``decision="macro_F1"``, the label offsets chosen on
            the validation part (``lstmkit.decision``); absent (files saved before it, or
            no validation part): the most probable label.
        target_axis: fit's ``y`` was (samples, 1): ``predict(output="array")`` of a sequence
            task keeps that axis (False, and absent from files saved before it: (samples,)).
    """

    spec: Spec
    encoding: Encoding
    network: LSTMNetwork
    schema: dict[str, str]
    time_step: TimeStep | None
    baseline: list[float]
    history: dict[str, Any]
    architecture: ResolvedArchitecture
    split: Split
    seed: int
    data_sha256: str | None = None
    validation: dict[str, Any] | None = None
    neighbours: NearestNeighbour | None = None
    neighbour_targets: tuple[str, ...] = ()
    neighbour_vote: dict[str, dict[str, float]] = field(default_factory=dict)
    naive_spread: dict[str, list[list[float | None]]] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    class_frequencies: dict[str, list[float]] = field(default_factory=dict)
    class_weights: dict[str, list[float]] = field(default_factory=dict)
    naive_scales: NaiveScales | None = None
    conformal: dict[str, Any] | None = None
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_axis: bool = False

    @property
    def temperatures(self) -> list[float]:
        """Each target's calibration temperature, in the targets' order (1: none)."""
        fitted = (self.calibration or {}).get("targets", {})
        return [fitted.get(t.name, {}).get("temperature", 1.0) for t in self.spec.targets]

    def tempered(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs (N, S, C) with each target's temperature applied by its kind."""
        if all(t == 1 for t in self.temperatures):
            return outputs
        edges = np.cumsum([0] + [self.encoding.n_classes(t) for t in self.spec.targets])
        return np.concatenate([t.target_kind.tempered(outputs[..., a:b], temperature)
                               for t, a, b, temperature in zip(
                                   self.spec.targets, edges[:-1], edges[1:],
                                   self.temperatures, strict=True)], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """The JSON part (everything but the weights and the neighbours' sequences), in the
        layout of a saved model's ``config.json``."""
        return {
            "spec": self.spec.to_dict(),
            "fitted": {"architecture": dict(self.architecture), "split": self.split.to_dict(),
                       "seed": self.seed},
            "network": self.network.config.to_dict(),
            "encoding": self.encoding.to_dict(),
            "schema": self.schema,
            "baseline": [None if np.isnan(v) else v for v in self.baseline],
            "time_step": timestep.to_json(self.time_step),
            "history": self.history,
            "data_sha256": self.data_sha256,
            "validation": self.validation,
            "neighbour_targets": list(self.neighbour_targets),
            **({"neighbour_vote": self.neighbour_vote} if self.neighbour_vote else {}),
            **({"naive_spread": self.naive_spread} if self.naive_spread else {}),
            "calibration": self.calibration,
            "class_frequencies": self.class_frequencies,
            **({"class_weights": self.class_weights} if self.class_weights else {}),
            **({"naive_scales": self.naive_scales.to_dict()} if self.naive_scales else {}),
            "conformal": self.conformal,
            **({"decisions": self.decisions} if self.decisions else {}),
            **({"target_axis": True} if self.target_axis else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], network: LSTMNetwork,
                  neighbours: NearestNeighbour | None = None) -> FittedPipeline:
        """The pipeline of ``to_dict``'s ``data`` around ``network`` (built from
        ``data["network"]`` with its weights) and ``neighbours``; ``artifact.load_pipeline``
        checks a saved file in depth before it comes here.

        Example:
            >>> FittedPipeline.from_dict(pipeline.to_dict(), pipeline.network)
        """
        spec = Spec.saved(data["spec"])
        fitted = data["fitted"]
        return cls(spec=spec, encoding=Encoding.from_dict(spec, data["encoding"]),
                   network=network, schema=dict(data["schema"]),
                   time_step=timestep.from_json(data["time_step"]),
                   baseline=[math.nan if v is None else v for v in data["baseline"]],
                   history=data["history"],
                   architecture=ResolvedArchitecture(**fitted["architecture"]),
                   split=Split.from_dict(fitted["split"]), seed=fitted["seed"],
                   data_sha256=data.get("data_sha256"), validation=data.get("validation"),
                   neighbours=neighbours,
                   neighbour_targets=tuple(data.get("neighbour_targets", ())),
                   neighbour_vote=dict(data.get("neighbour_vote", {})),
                   naive_spread=dict(data.get("naive_spread", {})),
                   calibration=data.get("calibration"),
                   class_frequencies=dict(data.get("class_frequencies", {})),
                   class_weights=dict(data.get("class_weights", {})),
                   naive_scales=(NaiveScales.from_dict(data["naive_scales"], spec)
                                 if data.get("naive_scales") else None),
                   conformal=data.get("conformal"),
                   decisions=dict(data.get("decisions", {})),
                   target_axis=data.get("target_axis", False))

    def predict(self, data: Source | np.ndarray | list, origins: str = "last",
                output: str = "frame", device: torch.device | None = None,
                samples: int | None = None, seed: int | None = None,
                coverage: float | list[float] | None = None, adapt: bool | float = False
                ) -> pd.DataFrame | np.ndarray:
        """``LSTMModel.predict``: predictions in original units, as a tidy DataFrame
        (``output="frame"``, with the calibrated intervals at ``coverage``: all of them
        where None; ``adapt``: each adapted to the misses of the table's earlier windows,
        ``lstmkit.conformal_online``) or shaped like ``y`` (``"array"``), or ``samples``
        draws per prediction (``sample_frame``, seeded by ``seed``, without the
        intervals); ``device``: where the network runs (default ``inference_device()``).

        Example:
            >>> pipeline.predict(df.tail(96))
        """
        check_choice("output", output, OUTPUTS)
        intervals = chosen(self.conformal, coverage, self.spec)
        if samples is not None:
            check_positive_int("samples", samples)
            if not any(t.distribution for t in self.spec.targets):
                raise ConfigError("samples= draws from a distribution target's predicted "
                                  "distribution, and this model has none; set "
                                  "Target(..., distribution='normal') or drop samples")
            if output != "frame":
                raise ConfigError("samples= gives a frame, one row per sample (a 'sample' "
                                  "column); use output='frame'")
        rate = adapt_rate(adapt)
        if rate is not None:
            self.check_adapt(output, samples)
        decoded, windows, groups = self._predicted(
            data, origins if rate is None else "all", device, values_only=output == "array",
            need_targets=rate is not None)
        if output == "array":
            return self.spec.shape.array_layout(decoded, _lengths(windows), self.target_axis)
        which = None if groups is None else window_series(windows, groups.offsets)
        decoded = with_intervals(self.spec, decoded, self.conformal, intervals,
                                 None if which is None else [groups.keys[g] for g in which])
        if rate is not None:
            decoded, last = adapt_windows(decoded, groups.target_frame, groups.offsets,
                                          windows.starts.numpy(), which, self.spec, rate,
                                          floors(self.conformal), last=origins == "last")
            if last is not None:                           # each series' last window only
                windows = windows.take(last)
        rows = self._window_rows(windows, groups)
        if samples is not None:
            return sample_frame(self.spec, rows, decoded, samples, np.random.default_rng(seed))
        return prediction_frame(self.spec, rows, decoded)

    def calibrate_intervals(self, data: Source | np.ndarray | list,
                            y: np.ndarray | None = None, part: str = "val",
                            coverage: float | list[float] = (0.8, 0.95),
                            device: torch.device | None = None) -> dict[str, Any]:
        """``LSTMModel.calibrate_intervals``: conformal intervals at ``coverage`` calibrated
        on the windows of ``part`` of ``data`` (``val``/``test``: of the fit's split;
        ``all``: a held-out table), kept as ``conformal`` (replacing any before), returned.

        Example:
            >>> pipeline.calibrate_intervals(df, coverage=[0.8, 0.95])["coverage"]
            [0.8, 0.95]
        """
        coverage = check_coverage(coverage)
        if part == "train":
            raise ConfigError("calibrate part 'train' would read the residuals of the windows "
                              "the network was fitted on, which are too small; use 'val', "
                              "'test', or 'all' with a held-out table")
        check_choice("calibrate part", part, CONFORMAL_PARTS)
        check_bands(self.spec, coverage)
        spec = self.spec
        groups = self._groups(data, y, need_targets=True)
        parts = None if part == "all" else prepare.assign_parts(groups, spec, self.split,
                                                                 self.seed)
        encoded = prepare.encode(groups, spec, self.encoding, with_targets=True)
        windows = prepare.part_windows(encoded, spec, parts, part)
        require_windows(windows, f"{part!r}", spec, prepare.part_room(
            groups, spec, self.split, parts, part, fitted=True))
        training = windows if part == "all" else prepare.part_windows(encoded, spec, parts,
                                                                      "train")
        self.calibrate_windows(windows, training, coverage, part, device,
                               (encoded.offsets, self.series_scales(groups)))
        return self.conformal

    def calibrate_windows(self, windows: Windows, training: Windows, coverage: tuple[float, ...],
                          part: str, device: torch.device | None = None,
                          series: tuple[torch.Tensor, NaiveScales | None] | None = None
                          ) -> None:
        """Calibrate conformal intervals at ``coverage`` on ``windows`` (of ``part``), and
        the naive baseline's intervals of the regression targets on ``training`` (the
        training part, or the same windows where the data has no such part); ``series``:
        the row offsets of the table's series and their naive scales (in its series'
        order), which make a panel's margins scale-aware (``lstmkit.conformal``)."""
        outputs, truth = self.outputs(windows, with_targets=True, device=device)
        decoded = _decode(self.spec, self.encoding, self.tempered(outputs))
        targets = conformal_targets(self.spec)
        true = {t.name: self.encoding.decode_regression(t, truth[..., j]) for j, t in targets}
        seen = self.truth(training) if len(training) else None   # non-negative: a floor at 0
        floors = {t.name: 0.0 for j, t in targets if seen is not None and not (
            self.encoding.decode_regression(t, seen[..., j]) < 0).any()}
        which = None if series is None else window_series(windows, series[0])
        scales = None if series is None else series[1]
        self.conformal = fit_conformal(
            self.spec, decoded, true, coverage, part, pooled=self.spec.shape.per_step,
            series=None if which is None or scales is None else WindowSeries(
                tuple(map(str, scales.series)), which, scales.mae),
            floors=floors)
        points = {t.name: interval_levels(coverage) for _, t in targets
                  if not t.target_kind.spread_levels(t)}
        self.naive_spread = {**{k: v for k, v in self.naive_spread.items() if k not in points},
                             **self.residual_quantiles(training, points)}

    def predict_proba(self, data: Source | np.ndarray | list, origins: str = "last",
                      device: torch.device | None = None) -> np.ndarray | dict[str, np.ndarray]:
        """``LSTMModel.predict_proba``: class probabilities of the categorical targets, as
        arrays (a dict by target name with several); ``device``: where the network runs
        (default ``inference_device()``)."""
        categorical_names(self.spec)                  # before predicting: a model without one
        decoded, windows, _ = self._predicted(data, origins, device)
        return probabilities(self.spec, decoded, _lengths(windows))

    @property
    def classes(self) -> np.ndarray | dict[str, np.ndarray]:
        """The labels of ``predict_proba``'s columns, as scikit-learn's ``classes_`` holds
        them: one array for one categorical target, else a dict by target name (as
        ``predict_proba`` gives); an ``AttributeError`` for a model without one."""
        labels = {t.name: np.asarray(self.encoding.target_labels[t.name].classes)
                  for t in self.spec.targets if t.categorical}
        if not labels:
            raise AttributeError("classes_ holds the labels of categorical targets, and every "
                                 "target of this model is a regression target")
        return next(iter(labels.values())) if len(labels) == 1 else labels

    def _predicted(self, data: Any, origins: str, device: torch.device | None,
                   values_only: bool = False, need_targets: bool = False
                   ) -> tuple[dict[str, Decoded], Windows, Groups | None]:
        """Every target's decoded predictions (``values_only``: without probabilities), the
        windows they came from, and the arranged table (None on the array path, which reads
        a 3-D ``X`` without building one; ``need_targets``: a table with the targets'
        columns, checked)."""
        check_choice("origins", origins, ("last", "all"))
        spec = self.spec
        raw = raw_sequences(data, spec)
        if raw is not None:
            windows, groups = self._array_windows(raw), None
        else:
            groups = self._groups(data, None, need_targets=need_targets)
            encoded = prepare.encode(groups, spec, self.encoding, with_targets=False)
            windows = prepare.predict_windows(encoded, spec, origins)
        return self.decoded(windows, device, values_only), windows, groups

    def check_adapt(self, output: str = "frame", samples: int | None = None) -> None:
        """Raise a ConfigError where ``predict(adapt=...)`` has nothing to adapt."""
        check_adaptable(self.conformal, self.spec, output, samples)

    def decoded(self, windows: Windows, device: torch.device | None = None,
                values_only: bool = False) -> dict[str, Decoded]:
        """Every target's predictions on ``windows`` in original units, as ``predict`` makes
        them (``values_only``: without probabilities); ``device`` as for ``outputs``."""
        outputs = self.tempered(self.outputs(windows, device=device)[0])
        outputs = self.answered(outputs, windows)
        return _decode(self.spec, self.encoding, outputs, values_only, self.decisions)

    def _array_windows(self, X: np.ndarray) -> SequenceWindows:
        """One window per sample of a 3-D ``X`` (``raw_sequences``), scaled batch by batch."""
        n, steps, width = X.shape
        scalers = [self.encoding.input_scalers[name] for name in self.spec.input_names]
        scaling = (torch.tensor([s.center for s in scalers], dtype=torch.float64),
                   torch.tensor([s.scale for s in scalers], dtype=torch.float64))
        inputs = torch.from_numpy(np.ascontiguousarray(X).reshape(n * steps, width))
        return SequenceWindows(inputs, torch.arange(n + 1) * steps, torch.arange(n), None,
                               self.spec.shape.per_step, scaling)

    def check_inputs(self, data: Source | np.ndarray | list) -> None:
        """Raise what ``predict`` would raise for bad rows (columns, values, time order).

        Unlike ``predict`` it needs no full window: it checks a piece of a series
        (with future inputs, its last ``horizon`` rows as the steps to forecast).
        """
        groups = self._groups(data, None, need_targets=False)
        prepare.encode(groups, self.spec, self.encoding, with_targets=False)

    def evaluate(self, data: Source | np.ndarray | list, y: np.ndarray | None = None,
                 part: str = "all", device: torch.device | None = None,
                 weighted: bool = False, adapt: bool | float = False) -> Evaluation:
        """``LSTMModel.evaluate``: metrics per target in original units beside the baselines,
        on ``all`` windows of ``data`` or on a ``part`` of the fit's split (``split``,
        shuffled with ``seed``); ``device``: where the network runs (default
        ``inference_device()``); ``weighted``: each window weighs its ``Spec.weight``
        (within its series, for the per-series metrics; series weigh the same in the means
        over series); scoring the validation or test part, the nearest neighbours leave
        that part's sequences out (``leaving_out``); ``adapt``: the calibrated intervals
        adapted as ``predict`` adapts them, over the scored windows."""
        rate = adapt_rate(adapt)
        if rate is not None:
            self.check_adapt()
        windows, encoded = self.part_windows(data, y, part, weighted)
        return self.leaving_out(part).score_windows(windows, encoded.offsets, device,
                                                    encoded.groups.keys,
                                                    self.series_scales(encoded.groups), rate)

    def leaving_out(self, part: str) -> FittedPipeline:
        """This pipeline, where ``part`` is the validation or test part of the fit's split,
        with the nearest neighbours' references of that part left out
        (``NearestNeighbour.without``): the vote then scores a part of the data it was fitted
        on as it scores new sequences, none its own neighbour."""
        if self.neighbours is None or part not in ("val", "test"):
            return self
        return dataclasses.replace(self, neighbours=self.neighbours.without(
            prepare.PART_CODES[part]))

    def part_windows(self, data: Source | np.ndarray | list, y: np.ndarray | None = None,
                     part: str = "all", weighted: bool = False
                     ) -> tuple[Windows, prepare.Encoded]:
        """The windows, with their targets (and, ``weighted``, their ``Spec.weight``), that
        ``evaluate`` scores on ``part`` of ``data``, and the encoded table they index (its
        series and their row boundaries).

        Raises:
            ConfigError: for an unknown ``part``, or ``weighted`` without a weight column.
            DataError: where the part has no window (or, weighted, no weight).
        """
        check_choice("part", part, PARTS)
        spec = self.spec
        if weighted and spec.weight is None:
            raise ConfigError("evaluate(weighted=True) weighs windows by the spec's weight "
                              "column, and this model's spec has none; set Spec(weight=...) "
                              "when fitting, or leave weighted off")
        groups = self._groups(data, y, need_targets=True)
        parts = None
        if part != "all":
            parts = prepare.assign_parts(groups, spec, self.split, self.seed)
        encoded = prepare.encode(groups, spec, self.encoding, with_targets=True,
                                 weighted=weighted)
        windows = prepare.part_windows(encoded, spec, parts, part)
        require_windows(windows, f"{part!r}", spec, prepare.part_room(
            groups, spec, self.split, parts, part, fitted=True))
        require_weight(windows.window_weights(), repr(part), spec)
        return windows, encoded

    def series_scales(self, groups: Groups) -> NaiveScales | None:
        """The naive scales of ``groups``' series, in their order: those fitted on the
        training part where the model keeps them (``naive_scales``), else (a model saved
        before it kept them, or a series it was not fitted on) from the training part of
        ``groups`` itself by the fit's split, marked ``from_data``; None where a forecast
        has none (other tasks, rows with calendar gaps)."""
        saved = self.naive_scales
        if saved is not None and saved.covers(groups.keys):
            return saved.select(groups.keys)
        fresh = training_scales(self.spec, groups, self.split)
        if fresh is None:
            return None if saved is None else saved.select(groups.keys)
        if saved is None:
            return dataclasses.replace(fresh, from_data=True)
        return saved.select(groups.keys, fresh)

    def score(self, data: Source | np.ndarray | list, y: np.ndarray | None = None,
              device: torch.device | None = None) -> float:
        """``LSTMModel.score``: one number, higher better (accuracy, R2; the mean over
        targets); ``device``: where the network runs (default ``inference_device()``)."""
        table = self.evaluate(data, y, device=device).table
        scores = {t.name: t.target_kind.score_metric for t in self.spec.targets}
        return float(table.loc[table["metric"] == table["target"].map(scores), "model"].mean())

    def _groups(self, data: Any, y: Any, need_targets: bool) -> Groups:
        spec = self.spec
        if isinstance(data, np.ndarray | list | tuple) or y is not None:
            frame, _ = from_arrays(data, y, spec)
        else:
            frame = read_table(data, spec=spec)
        schema = {k: v for k, v in self.schema.items()
                  if need_targets or k not in spec.target_names or k in spec.input_names}
        check_schema(frame, schema)
        groups = arrange(frame, spec, self.time_step)
        return fill_gaps(groups if need_targets else fill_unread(groups, spec), spec)

    def outputs(self, windows: Windows, with_targets: bool = False,
                device: torch.device | None = None, network_units: bool = False
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """Network outputs (N, S, C) and, if asked, encoded targets (N, S, T), as numpy, in
        the encoding's global units (``referenced``), or as the network has them
        (``network_units``: each series' own, where scaled per series).

        On a GPU (``device``, by default ``inference_device()``) the windows move there once
        and every batch's outputs come back; the network returns to the CPU afterwards.
        """
        device = inference_device() if device is None else device
        on_gpu = device.type != "cpu"
        network = (self.network.to(device) if on_gpu else self.network).eval()
        steps = self._padded_steps(windows)
        size = self._predict_batch_size(windows, on_gpu)
        outputs, targets = [], []
        try:
            with torch.inference_mode():
                for batch in Batches(windows.to(device) if on_gpu else windows, size,
                                     reuse=True):
                    out = network(batch["x"], batch.get("lengths"), future=batch.get("future"))
                    outputs.append(_pad_steps(out, steps).cpu())
                    if with_targets:
                        targets.append(_pad_steps(batch["y"], steps).cpu())
        finally:
            if on_gpu:
                self.network.cpu()
        if not outputs:
            return np.zeros((0, 0, 0), np.float32), None
        truth = torch.cat(targets).numpy() if with_targets else None
        outputs = torch.cat(outputs).numpy()
        if network_units:
            return outputs, truth
        return self.referenced(windows, outputs), self.referenced(windows, truth, "targets")

    def referenced(self, windows: Windows, values: np.ndarray | None, of: str = "outputs"
                   ) -> np.ndarray | None:
        """``values`` (N, S, C) of ``windows``, network outputs (``of="outputs"``) or encoded
        targets (``"targets"``), in the encoding's global units: where rows are scaled per
        series (``Spec.scale_by``), each window's mapped there from its series' units
        (``lstmkit.data.series_scaling``; the statistics the windows carry, which cover
        series the model was not fitted on); otherwise as given."""
        codes = windows.window_series() if isinstance(windows, ForecastWindows) else None
        series = self.encoding.series if codes is None else (windows.scalers
                                                             or self.encoding.series)
        if values is None or series is None or codes is None:
            return values
        maps = (series.output_maps if of == "outputs" else series.target_maps)(
            self.spec, self.encoding)
        return to_reference(values, codes.cpu().numpy(), maps)

    def truth(self, windows: Windows) -> np.ndarray:
        """The encoded targets (N, S, T) of ``windows``, as ``outputs(with_targets=True)``
        gives them (global units), without running the network."""
        steps = self._padded_steps(windows)
        return self.referenced(windows, torch.cat([
            _pad_steps(batch["y"], steps) for batch in
            Batches(windows, self._predict_batch_size(windows))]).numpy(), "targets")

    def _padded_steps(self, windows: Windows) -> int | None:
        """Steps every window's outputs are padded to: the longest sequence's where there is
        one output per input step, else None (all windows have the same)."""
        return getattr(windows, "max_length", 0) if self.spec.shape.per_step else None

    def _predict_batch_size(self, windows: Windows, on_gpu: bool = False) -> int:
        """Windows per inference batch, fewer for longer windows: memory stays bounded."""
        c = self.network.config
        steps = windows.lookback if isinstance(windows, ForecastWindows) else windows.max_length
        gates = 4 * c.hidden * (2 if c.bidirectional else 1)
        width = max(c.n_inputs, gates)
        elements, most = ((GPU_PREDICT_ELEMENTS, GPU_PREDICT_WINDOWS) if on_gpu
                          else (PREDICT_ELEMENTS, max(PREDICT_WINDOWS, PREDICT_GATES // gates)))
        return min(max(elements // max(1, steps * width), 32), most)   # ints: no np.clip

    def score_windows(self, windows: Windows, offsets: torch.Tensor,
                      device: torch.device | None = None, keys: list[Any] | None = None,
                      scales: NaiveScales | None = None, adapt: float | None = None
                      ) -> Evaluation:
        """Metrics of the model and its baselines on ``windows`` of series split at
        ``offsets``; forecasts given the series' ``keys`` are scored per series too, and
        given their ``scales`` (``series_scales``) by MASE and RMSSE; each window weighs
        its weight, where ``windows`` have weights; ``adapt``: the rate the calibrated
        intervals adapt at over the windows (``lstmkit.conformal_online``), None: as
        calibrated."""
        outputs, truth = self.outputs(windows, with_targets=True, device=device)
        nearest = self._nearest(windows)
        baselines = {"naive": Baseline(self.spec.shape.baseline_name, self._naive(windows, truth),
                                       naive_proba(windows, truth, self.class_frequencies)),
                     "seasonal": seasonal_naive(self.spec, self.time_step, windows, offsets,
                                                self.referenced),
                     "neighbour": neighbour_baseline(self.spec, self.neighbours, nearest,
                                                     truth)}
        series = None
        which = window_series(windows, offsets)
        if keys is not None and which is not None:
            series = ScoredSeries(which, keys, scales)                # which: (N,)
        weights = windows.window_weights()
        outputs = self.answered(self.tempered(outputs), windows, nearest)
        intervals = {}
        if self.conformal:
            intervals = with_intervals(
                self.spec, _decode(self.spec, self.encoding, outputs), self.conformal,
                tuple(self.conformal["coverage"]),
                None if series is None else [series.keys[g] for g in series.which])
        if adapt is not None:
            true = {t.name: self.encoding.decode_regression(t, truth[..., j])
                    for j, t in conformal_targets(self.spec) if t.name in intervals}
            intervals = adapted(intervals, feedback(windows.starts.numpy(), which, true, adapt),
                                floors(self.conformal))
        return evaluate_outputs(self.spec, self.encoding, outputs, truth, baselines,
                                self.naive_spread, None if weights is None else weights.numpy(),
                                series, intervals, self.decisions)

    def residual_quantiles(self, windows: Windows, levels: dict[str, tuple[float, ...]] | None
                           = None) -> dict[str, list[list[float | None]]]:
        """Per target of ``levels`` (default: each quantile or distribution target's kind's
        ``spread_levels``), the quantiles at those levels of the naive baseline's errors per
        step on ``windows`` (the training part), encoded (``naive_spread``)."""
        if levels is None:
            levels = {t.name: t.target_kind.spread_levels(t) for t in self.spec.targets
                      if t.target_kind.spread_levels(t)}
        levels = {j: levels[t.name] for j, t in enumerate(self.spec.targets) if t.name in levels}
        if not levels or len(windows) == 0:
            return {}
        truth = self.truth(windows)
        errors = truth - self._naive(windows, truth)                     # (N, S, T)
        spread = {}
        for j, q in levels.items():
            known = np.isfinite(errors[..., j]).any(axis=0)
            per_step = np.full((errors.shape[1], len(q)), np.nan)
            per_step[known] = np.nanquantile(errors[:, known, j], q, axis=0).T
            spread[self.spec.targets[j].name] = [[None if np.isnan(v) else v for v in row]
                                                 for row in per_step.round(8).tolist()]
        return spread

    def _nearest(self, windows: Windows) -> np.ndarray | None:
        """Each sequence's nearest training sequence's encoded targets (N, T), where the
        model has the nearest-neighbour baseline (``neighbours_``), else None."""
        neighbours = self.neighbours
        if neighbours is None or not isinstance(windows, SequenceWindows):
            return None
        return neighbours.predict(numeric_sequences(windows, self.encoding))

    @property
    def answers_with_neighbours(self) -> bool:
        """Whether some target's answers come (in part) from the nearest neighbours."""
        return bool(self.neighbour_targets or self.neighbour_vote)

    def answered(self, outputs: np.ndarray, windows: Windows,
                 nearest: np.ndarray | None = None) -> np.ndarray:
        """Tempered ``outputs`` (N, 1, C) with the logits of the targets the neighbours
        answer replaced: blended with their vote (``neighbour_vote``, in float64), or set to
        the nearest one's label (``neighbour_targets``, probability 1; ``nearest``: codes,
        ``_nearest``'s, found here where not given)."""
        if not self.answers_with_neighbours or self.neighbours is None or \
                not isinstance(windows, SequenceWindows):
            return outputs
        if nearest is None and self.neighbour_targets:
            nearest = self._nearest(windows)
        outputs = outputs.astype(np.float64)
        edges = np.cumsum([0] + [self.encoding.n_classes(t) for t in self.spec.targets])
        sequences = numeric_sequences(windows, self.encoding) if self.neighbour_vote else None
        for j, t in enumerate(self.spec.targets):
            width, block = edges[j + 1] - edges[j], slice(edges[j], edges[j + 1])
            if t.name in self.neighbour_vote:
                vote = self.neighbour_vote[t.name]
                outputs[:, 0, block] = blended_logits(
                    t.target_kind, outputs[:, 0, block], self.neighbours.distances(
                        sequences, j, len(self.encoding.target_labels[t.name])),
                    vote["weight"], vote["scale"])
            elif t.name in self.neighbour_targets and nearest is not None:
                known = np.isfinite(nearest[:, j])
                code = nearest[known, j].astype(np.int64)
                outputs[known, 0, block] = t.target_kind.sure_logits(code, width,
                                                                     outputs.dtype)
        return outputs

    def _naive(self, windows: Windows, truth: np.ndarray) -> np.ndarray:
        """Encoded naive predictions shaped like ``truth``.

        Forecasts repeat each target's last value. Seq2seq with a horizon repeats
        the last input step of targets that are also inputs. Everything else gets
        the training mean (regression) or majority class.
        """
        if isinstance(windows, ForecastWindows):
            origin = window_origin(windows.starts, windows.lookback)
            last = self.referenced(windows, windows.targets[origin].numpy()[:, None, :],
                                   "targets")                   # (N, 1, T)
            return np.broadcast_to(last, truth.shape)
        naive = np.array(np.broadcast_to(np.asarray(self.baseline, np.float32), truth.shape))
        spec = self.spec
        if spec.shape.continues and not spec.shape.sliding:   # seq2seq with a horizon
            last_rows = windows.offsets[windows.index + 1] - 1
            last = windows.inputs[last_rows].numpy()           # (N, F)
            for j, channel in enumerate(self.network.config.target_channels):
                if channel >= 0:
                    scale, shift = scaler_map(self.encoding, spec.targets[j].name)
                    naive[:, :, j] = (last[:, channel] * scale + shift)[:, None]
        return np.where(np.isnan(truth), np.nan, naive)

    def _window_rows(self, windows: Windows, groups: Groups | None) -> WindowRows:
        """What identifies each of ``windows`` in the prediction table (``groups`` None:
        samples of an array, numbered from 0)."""
        if isinstance(windows, ForecastWindows):
            return WindowRows(groups, origin=self.spec.shape.origin(windows.starts.numpy()))
        index, lengths = windows.index.numpy(), _lengths(windows)
        keys, rows = (index if groups is None else groups.key_array[index]), None
        if groups is not None and lengths is not None:   # an output per step: its row's time
            steps = np.arange(int(lengths.max(initial=1)))
            rows = groups.offsets[index][:, None] + np.minimum(steps, lengths[:, None] - 1)
        return WindowRows(groups, rows, keys=keys, lengths=lengths)


class Fitted(Protocol):
    """What holds a fitted pipeline: an ``LSTMModel`` after ``fit`` or ``load``."""

    pipeline_: FittedPipeline


def fitted(model: FittedPipeline | Fitted) -> FittedPipeline:
    """The pipeline of ``model``: itself, or a fitted estimator's ``pipeline_``.

    Raises:
        NotFittedError: for an estimator that is not fitted yet.
    """
    if isinstance(model, FittedPipeline):
        return model
    pipeline = getattr(model, "pipeline_", None)
    if pipeline is None:
        raise NotFittedError("this LSTMModel is not fitted yet; call fit(data) first, or "
                             "LSTMModel.load(path)")
    return pipeline


def network_config(spec: Spec, encoding: Encoding, a: Architecture, lags: tuple[int, ...] = (),
                   precision: str = "32-true") -> NetworkConfig:
    """The network for ``spec`` and ``encoding`` with architecture ``a``, resolved (a
    loaded model checks its saved network with the architecture it was built with)."""
    outputs = tuple(Output(t.name, t.kind, encoding.n_classes(t)) for t in spec.targets)
    columns = encoding.input_columns
    numeric = tuple(name in encoding.input_scalers for name in columns)
    channels = tuple(columns.index(t.name) if _norm_maps(t) and t.name in
                     encoding.input_scalers else -1 for t in spec.targets)
    static = encoding.static_columns
    if a["instance_norm"] and not any(n for j, n in enumerate(numeric) if j not in static):
        raise ConfigError("instance_norm needs at least one numeric input column that is not "
                          "static")
    if lags and (len(lags) != len(outputs) or max(lags) > (spec.lookback or 1)):
        raise ConfigError(f"anchor lags {quote(list(lags))} must give one lag per target, "
                          f"none longer than the lookback ({spec.lookback})")
    embedded = encoding.embedded_columns
    if precision == "bf16-true" and any(k > 256 for _, k, _ in embedded):
        raise ConfigError("precision 'bf16-true' holds category indices exactly only up to "
                          "256, and an embedded input has more categories; use 'bf16-mixed'")
    return NetworkConfig(n_inputs=len(columns), outputs=outputs, steps=spec.shape.output_steps,
                         hidden=a["hidden"], layers=a["layers"],
                         bidirectional=a["bidirectional"], dropout=float(a["dropout"]),
                         decoder=a["decoder"], heads=a["heads"],
                         instance_norm=a["instance_norm"], numeric_inputs=numeric,
                         target_channels=channels, checkpoint_steps=a["checkpoint_steps"],
                         segment=a["segment"], channel_independent=a["channel_independent"],
                         conv=a["conv"], future_columns=encoding.future_columns,
                         embedded=embedded, anchor_lags=lags, static_columns=static)


def _norm_maps(target: Target) -> bool:
    """Whether the instance norm maps ``target``'s outputs back, where it is an input."""
    return target.target_kind.value_channel or target.target_kind.norm_maps


def inference_device(accelerator: str = "auto", devices: int | str | list = 1) -> torch.device:
    """Where ``predict`` and ``evaluate`` run: the GPU when training would use one
    (``accelerator`` ``gpu``/``cuda``, or ``auto``) and CUDA is present, else the CPU
    (so a model trained on a GPU still predicts on a machine without one)."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        ids = devices if isinstance(devices, list | tuple) else ()
        return torch.device("cuda", ids[0]) if ids else torch.device("cuda")
    return torch.device("cpu")


def scaler_map(encoding: Encoding, name: str) -> tuple[float, float]:
    """(scale, shift) taking column ``name`` from input-scaled to target-scaled units."""
    return encoding.input_scalers[name].map_to(encoding.target_scalers[name])


def _decode(spec: Spec, encoding: Any, outputs: np.ndarray, values_only: bool = False,
            decisions: dict[str, dict[str, Any]] | None = None) -> dict[str, Decoded]:
    """Network outputs (N, S, C) to each target's values or labels and probabilities
    (``values_only``: without what only the table shows, for ``output="array"``), the
    labels of targets with ``decisions`` chosen by their offsets."""
    decoded: dict[str, Decoded] = {}
    edges = np.cumsum([0] + [encoding.n_classes(t) for t in spec.targets])
    plain = _plain_regression(spec, encoding, outputs, edges, decisions) if values_only else {}
    for j, t in enumerate(spec.targets):
        if t.name in plain:
            decoded[t.name] = plain[t.name]
            continue
        out = outputs[..., edges[j] : edges[j + 1]]                # (N, S, width)
        kind = t.target_kind
        decoded[t.name] = (kind.decode_values if values_only else kind.decode)(t, encoding, out)
        offsets = offsets_of(decisions, t.name)
        if offsets is not None:
            decoded[t.name] = dataclasses.replace(decoded[t.name], values=encoding.decode_labels(
                t, decided_labels(kind.probabilities(out), offsets)))
    return decoded


def _plain_regression(spec: Spec, encoding: Any, outputs: np.ndarray, edges: np.ndarray,
                      decisions: dict[str, dict[str, Any]] | None) -> dict[str, Decoded]:
    """The values of the plain regression targets (one output column, one global scaler
    each, no decision offsets), decoded in one step as views of one (N, S, P) array:
    ``z * scale + center`` in float64 as each scaler's ``inverse``, bit for bit, without P
    passes and temporaries (W3's 300 targets). Empty with fewer than two such targets."""
    plain = [(int(edges[j]), t) for j, t in enumerate(spec.targets)
             if type(t.target_kind) is Regression and offsets_of(decisions, t.name) is None
             and np.ndim(encoding.target_scalers[t.name].center) == 0
             and np.ndim(encoding.target_scalers[t.name].scale) == 0]
    if len(plain) < 2:
        return {}
    scalers = [encoding.target_scalers[t.name] for _, t in plain]
    scale = np.array([s.scale for s in scalers], dtype=np.float64)
    center = np.array([s.center for s in scalers], dtype=np.float64)
    columns = [c for c, _ in plain]
    side_by_side = columns == list(range(columns[0], columns[0] + len(columns)))
    block = (outputs[..., columns[0] : columns[0] + len(columns)] if side_by_side
             else outputs[..., columns]).astype(np.float64)             # (N, S, P)
    block *= scale
    block += center
    return {t.name: Decoded(block[..., k]) for k, (_, t) in enumerate(plain)}


def _lengths(windows: Windows) -> np.ndarray | None:
    """Each sequence's input steps, for seq2seq with one output per step; else None."""
    if not getattr(windows, "aligned", False):
        return None
    return (windows.offsets[windows.index + 1] - windows.offsets[windows.index]).numpy()


def window_series(windows: Windows, offsets: torch.Tensor | np.ndarray) -> np.ndarray | None:
    """Each forecast window's series (N,), as its position among the series whose rows
    begin at ``offsets``; None for sequence windows."""
    if not isinstance(windows, ForecastWindows):
        return None
    bounds = offsets.numpy() if isinstance(offsets, torch.Tensor) else np.asarray(offsets)
    return np.searchsorted(bounds, windows.starts.numpy(), side="right") - 1


def numeric_sequences(windows: SequenceWindows, encoding: Encoding) -> list[np.ndarray]:
    """Each sequence of ``windows`` as a (steps, numeric inputs) array, in window order."""
    numeric = [j for j, name in enumerate(encoding.input_columns)
               if name in encoding.input_scalers]
    inputs, offsets = windows.inputs.numpy(), windows.offsets.numpy()
    return [inputs[offsets[g] : offsets[g + 1], numeric] for g in windows.index.numpy()]


def _pad_steps(t: torch.Tensor, steps: int | None) -> torch.Tensor:
    """Right-pad (B, S, C) with NaN to ``steps`` steps (aligned seq2seq of varying lengths)."""
    if steps is None or t.shape[1] == steps:
        return t
    pad = t.new_full((t.shape[0], steps - t.shape[1], t.shape[2]), math.nan)
    return torch.cat([t, pad], dim=1)


def require_windows(windows: Windows, part: str, spec: Spec, room: str = "") -> None:
    """Raise a DataError where ``windows`` is empty (``room``: the part's rows and what a
    window needs there, ``prepare.part_room``)."""
    if len(windows) > 0:
        return
    if spec.shape.sliding:
        raise DataError(f"the {part} part has no full window of lookback + horizon = "
                        f"{spec.lookback} + {spec.horizon} rows" + (room or (
                            "; give it more rows (move the split boundaries) or lower "
                            "lookback/horizon")))
    raise DataError(f"the {part} part has no sequences; move the split boundaries or pass more "
                    "sequences")
