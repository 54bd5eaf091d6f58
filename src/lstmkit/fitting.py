"""How ``LSTMModel.fit`` runs: from a checked table to a ``FittedPipeline``.

The estimator (``model.py``) holds the parameters, checks them, reads the table and
resolves the architecture; ``fit_pipeline`` does the rest, in order: the split, the
encoding fitted on the training part (or a warm start's, kept; scaled per series, new
series get statistics of their own), the windows, the checkpoint plan, the network trained
on them (on forecasts normalised per window, an anchored second candidate too, kept where
validation prefers it), then what rests on validation: the naive fallback, temperature
scaling, the nearest neighbours' vote (``fit_vote``), the validation check and conformal
intervals. It reads the estimator's parameters and never sets them.

Example:
    >>> pipeline = fit_pipeline(model, spec, frame, architecture)   # what model.fit does
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from . import presets
from .baselines import NearestNeighbour, class_distances
from .calibration import fit_calibration
from .checks import quote
from .conformal import fit_coverage
from .data import prepare
from .data.checksum import table_sha256
from .data.encoding import Encoding
from .data.groups import arrange, fill_gaps
from .data.sources import from_arrays, read_table
from .data.validate import require_columns
from .data.weights import class_weights as fitted_class_weights
from .data.weights import require_weight
from .data.windows import ForecastWindows, SequenceWindows, Windows
from .decision import fit_decisions
from .errors import ConfigError
from .fallback import anchor_lags, anchored_may_help, fall_back, naive_ratio, trusting_copy
from .hyperparams import AFTER_TRAINING, HARDWARE, ResolvedArchitecture
from .nn import LSTMNetwork, NetworkConfig, size
from .nn.norm import InstanceNorm, norm_mode
from .pipeline import (
    FittedPipeline,
    network_config,
    numeric_sequences,
    require_windows,
    scaler_map,
)
from .scale_free import training_scales
from .spec import Spec, Split
from .tasks import row_ranges
from .training import checkpoint
from .training.checkpoint import Checkpoints
from .training.config import TrainConfig
from .training.losses import MultiTargetLoss
from .verdict import check_against_naive
from .vote import choose_weight, fit_scale, votes

LOO_QUERIES = 2_000      # sequences voted for by the others, to fit the vote's scale

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import Callback

    from .model import LSTMModel


def fit_pipeline(model: LSTMModel, spec: Spec, frame: pd.DataFrame,
                 architecture: ResolvedArchitecture, validation_data: Any = None,
                 checkpoint_dir: str | Path | None = None, resume: bool = False,
                 loggers: list[Any] | None = None, callbacks: Sequence[Callback] = (),
                 start: FittedPipeline | None = None, device: torch.device | None = None
                 ) -> FittedPipeline:
    """The pipeline ``model.fit`` learns from ``frame`` (columns checked) with ``spec`` and
    the resolved ``architecture``; ``start``: the fitted pipeline a warm start continues
    (its encoding, time step and network kept; ``prepare.continued_encoding``);
    ``device``: where validation runs. The other arguments are ``LSTMModel.fit``'s.

    Returns:
        The fitted pipeline; ``model`` is not changed.
    """
    if callbacks:
        from .training.loop import check_callbacks  # Lightning loads when a fit has callbacks

        check_callbacks(callbacks)
    split = _fit_split(model, validation_data)
    if model.coverage not in (None, []) and split.val_start is None and validation_data is None:
        raise ConfigError(f"coverage={quote(model.coverage)} calibrates intervals on the "
                          "validation part, and this fit has none (its split has no "
                          "val_start); give the split a validation part, or fit without "
                          "coverage and calibrate on held-out data: "
                          "model.calibrate_intervals(data, part='all', coverage=[...])")
    groups = fill_gaps(arrange(frame, spec, None if start is None else start.time_step), spec)
    given, spec = spec, spec.scaled_for(len(groups))       # scale_by unset: the data decide
    parts = prepare.assign_parts(groups, spec, split, model.seed)
    encoding = (prepare.fit_encoding(groups, spec, parts) if start is None
                else prepare.continued_encoding(groups, spec, parts, start.encoding))
    encoded = prepare.encode(groups, spec, encoding, with_targets=True, weighted=True,
                             fitting=True)
    train_windows = prepare.part_windows(encoded, spec, parts, "train")
    require_windows(train_windows, "training", spec,
                    prepare.part_room(groups, spec, split, parts, "train"))
    val_windows = None
    if validation_data is not None:
        val_windows = _validation_windows(validation_data, spec, encoding, groups.step)
    elif split.val_start is not None:
        val_windows = prepare.part_windows(encoded, spec, parts, "val")
        require_windows(val_windows, "validation", spec,
                        prepare.part_room(groups, spec, split, parts, "val"))
    for part, each in (("training", train_windows), ("validation", val_windows)):
        require_weight(None if each is None else each.window_weights(), part, spec)
    class_weights = fitted_class_weights(spec, encoding, train_windows)
    batch_size = model.batch_size or presets.batch_size(spec, len(train_windows))
    plan = _checkpoints(model, checkpoint_dir, resume, given, batch_size, train_windows,
                       val_windows, start=start)
    # A forecast normalised per window also keeps each target's naive forecast, to fall
    # back on where validation shows the network's change from it did not help.
    mode = norm_mode(architecture["instance_norm"])
    naive = mode == "anchored" or (mode is not None and spec.shape.sliding)
    if start is not None:
        config = start.network.config
    else:
        lags = (anchor_lags(spec, val_windows or train_windows,
                            getattr(groups.step, "season", None)) if naive else ())
        config = network_config(spec, encoding, architecture, lags, model.precision)
    train_config = train_config_of(model, architecture["lr"], batch_size)
    for logger in loggers or []:
        logger.log_hyperparams({**model.params_json(), **architecture, "task": spec.task,
                                "lookback": spec.lookback, "horizon": spec.horizon,
                                "inputs": ",".join(spec.input_names),
                                "targets": ",".join(spec.target_names)})
    windows = (train_windows, val_windows)
    neighbours = nearest_neighbour(spec, encoding, model.seed, train_windows)
    network, history = _train_network(model, spec, encoding, config, train_config, windows,
                                      plan, loggers, callbacks, class_weights, start)
    data_sha256 = table_sha256(frame)
    if start is not None:
        history = _continued_history(start, history, data_sha256)
    pipeline = FittedPipeline(
        spec=spec, encoding=encoding, network=network, schema=_schema(frame, spec),
        time_step=groups.step, baseline=training_baseline(spec, train_windows),
        history=history, architecture=presets.built(architecture, network.config),
        split=split, seed=model.seed, neighbours=neighbours,
        class_frequencies=class_frequencies(spec, encoding, train_windows),
        class_weights=class_weights, naive_scales=training_scales(spec, groups, split))
    times = groups.time if validation_data is None else None   # the rows of val_windows'
    fall_back(pipeline, val_windows, device, train_windows, times)
    if start is None and anchored_may_help(pipeline, mode,
                                           chosen=model.instance_norm is not None):
        # A second candidate that forecasts changes from the naive forecast; kept where
        # validation says it does better (cost: one more fit, on such data only).
        skill = naive_ratio(pipeline, val_windows, encoded.offsets, device)
        anchored = dataclasses.replace(architecture, instance_norm="anchored")
        network, history = _train_network(
            model, spec, encoding,
            network_config(spec, encoding, anchored, lags, model.precision), train_config,
            windows, _second(plan, "anchored"), None, (), class_weights)
        candidate = dataclasses.replace(
            pipeline, network=network, history=history,
            architecture=presets.built(architecture, network.config))
        fall_back(candidate, val_windows, device, train_windows, times)
        if not naive_ratio(candidate, val_windows, encoded.offsets, device) >= skill:
            pipeline = candidate                         # (a NaN ratio keeps it too)
    pipeline.naive_spread = pipeline.residual_quantiles(train_windows)
    pipeline.data_sha256 = data_sha256
    pipeline.calibration = fit_calibration(pipeline, val_windows, model.calibrate,
                                           device)
    both = nearest_neighbour(spec, encoding, model.seed, train_windows, val_windows) \
        if val_windows is not None and pipeline.neighbours is not None else None
    vote = fit_vote(pipeline, val_windows, both, model.seed, device)
    pipeline.validation = check_against_naive(pipeline, val_windows, encoded.offsets,
                                              device, vote, groups.keys if spec.series else None)
    pipeline.neighbour_vote = {t: v for t, v in vote.items() if v["weight"] > 0}
    if both is not None:
        # 1-NN, the baseline (and the vote where it answers), from every labelled sequence
        # fit was given, as the archives' 1-NN reads all of TRAIN; as long as those the
        # vote's scale was fitted on. Scoring a part of the split leaves its own out.
        pipeline.neighbours = nearest_neighbour(
            spec, encoding, model.seed, train_windows, val_windows,
            prepare.part_windows(encoded, spec, parts, "test"), length=both.references.shape[1])
    pipeline.decisions = fit_decisions(pipeline.leaving_out("val"), val_windows, train_windows,
                                       device)
    coverage = fit_coverage(model.coverage, spec, val_windows is not None)
    if coverage:
        pipeline.calibrate_windows(val_windows, train_windows, coverage, "val", device,
                                   None if validation_data is not None
                                   else (encoded.offsets, pipeline.naive_scales))
    return pipeline


def _train_network(model: LSTMModel, spec: Spec, encoding: Encoding, config: NetworkConfig,
                   train_config: TrainConfig, windows: tuple[Windows, Windows | None],
                   plan: Checkpoints | None, loggers: list[Any] | None,
                   callbacks: Sequence[Callback], class_weights: dict[str, list[float]],
                   start: FittedPipeline | None = None
                   ) -> tuple[LSTMNetwork, dict[str, Any]]:
    """A network built from ``config`` (or a copy of ``start``'s, to continue training),
    trained on ``windows`` (training, validation) with the loss weighted by the
    windows' weights and ``class_weights``."""
    from .training.loop import train  # Lightning loads when a fit trains, never to predict

    train_windows, val_windows = windows
    size.check(config, model.batch_size or presets.BATCH_SIZE,
               getattr(train_windows, "max_length", spec.lookback))
    torch.manual_seed(model.seed)
    if start is not None:
        network = trusting_copy(start.network)
    else:
        network = LSTMNetwork(config)
        if network.norm is not None:
            _link_scalers(network.norm, spec, encoding)
    gaps = any(w.has_target_gaps() for w in windows if w is not None)
    loss = MultiTargetLoss(list(spec.targets), network.output_slices, masked=gaps,
                           scalers=encoding.target_scalers, class_weights=class_weights)
    history = train(network, loss, train_windows, val_windows, train_config, plan, loggers,
                    callbacks)
    return network.eval(), history


def _fit_split(model: LSTMModel, validation_data: Any) -> Split:
    """The split of a fit: the model's, else 70/15/15, or all training when the
    validation set is given (a split that has a validation part of its own is refused)."""
    if validation_data is None:
        return model.split or Split()
    split = model.split or Split.train_only()
    if split.val_start is not None:
        raise ConfigError(f"validation_data replaces the split's validation part, but the "
                          f"split has one (val_start={split.val_start!r}); set "
                          f"split={dataclasses.replace(split, val_start=None)!r} or drop "
                          "validation_data")
    return split


def _validation_windows(validation_data: Any, spec: Spec, encoding: Encoding,
                        step: Any) -> Windows:
    """Windows of the given validation set, encoded with the training part's encoding."""
    if isinstance(validation_data, tuple | list):
        if len(validation_data) != 2:
            raise ConfigError(f"validation_data must be a pair (X_val, y_val) or a table, "
                              f"got a {type(validation_data).__name__} of "
                              f"{len(validation_data)} items")
        frame, _ = from_arrays(*validation_data, spec)
    elif isinstance(validation_data, np.ndarray):
        raise ConfigError(f"validation_data is one array of shape {validation_data.shape}, "
                          "inputs without targets; pass the pair (X_val, y_val), as fit(X, y) "
                          "takes them")
    else:
        frame = read_table(validation_data, spec=spec)
    for role, names in (("target", spec.target_names), ("input", spec.input_names)):
        require_columns(frame, names, f"validation_data {role}")
    groups = fill_gaps(arrange(frame, spec, step), spec)
    encoded = prepare.encode(groups, spec, encoding, with_targets=True, weighted=True,
                             fitting=True)
    windows = prepare.part_windows(encoded, spec, None, "all")
    require_windows(windows, "validation_data", spec)
    return windows


def _checkpoints(model: LSTMModel, directory: str | Path | None, resume: bool, spec: Spec,
                 batch_size: int, *windows: Windows | None,
                 start: FittedPipeline | None = None) -> Checkpoints | None:
    """The checkpoint plan of a fit: where to write, and what to continue from; the
    fingerprint holds the batch size and stratification trained with, so that a run
    0.2.0 interrupted (64 and no stratification unless given) resumes, and a warm
    start's weights (``start``), so that it resumes only from those. ``spec`` is the one
    given to ``fit``, its ``scale_by`` unresolved (unset, it is written as earlier versions
    wrote their default; the windows, fingerprinted too, differ where it resolves to
    per-series scaling)."""
    if directory is None:
        if resume:
            raise ConfigError("resume=True needs checkpoint_dir, the directory the "
                              "interrupted run saved its checkpoints to")
        return None
    directory = Path(directory)
    state = checkpoint.read(directory)
    if state is not None and not resume:
        raise ConfigError(f"{str(directory)!r} already holds a training checkpoint; pass "
                          "resume=True (CLI: --resume) to continue that run, or remove it "
                          "to start afresh")
    params = {k: v for k, v in model.params_json().items()
              if k not in HARDWARE + AFTER_TRAINING}
    params["batch_size"] = batch_size
    if params["split"]["stratify"] is None:
        params["split"]["stratify"] = presets.stratified(spec)
    arrays = [t for w in windows if w is not None for t in _window_tensors(w)]
    if start is not None:
        arrays += list(start.network.state_dict().values())
    plan = Checkpoints(directory, checkpoint.fingerprint(
        {"spec": spec.to_dict(), **params}, arrays), state)
    if state is not None:
        checkpoint.check_matches(state, plan.fingerprint, directory)
    return plan


def train_config_of(model: LSTMModel, lr: float, batch_size: int) -> TrainConfig:
    """The model's training and hardware parameters, checked, with ``lr`` and
    ``batch_size`` as resolved (the preset's or the data's where unset)."""
    given = {f.name: getattr(model, f.name) for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{**given, "lr": lr, "batch_size": batch_size})


def _continued_history(start: FittedPipeline, history: dict[str, Any], data_sha256: str
                       ) -> dict[str, Any]:
    """The history of a warm start: this phase's ``history`` (its epochs, best epoch and
    loss: what the card, the learning curves and ``metrics.csv`` show) with ``phases``,
    every phase so far in order (each its own history and ``data_sha256``): ``start``'s,
    then this one."""
    before = start.history.get("phases") or [
        {**{k: start.history.get(k) for k in ("epochs", "best_epoch", "best_val_loss")},
         "data_sha256": start.data_sha256}]
    return {**history, "phases": [*before, {**history, "data_sha256": data_sha256}]}


def _window_tensors(windows: Windows) -> list[torch.Tensor | None]:
    """The tensors that define a window set (for the checkpoint fingerprint)."""
    if isinstance(windows, ForecastWindows):
        return [windows.inputs, windows.targets, windows.starts, windows.weights]
    return [windows.inputs, windows.targets, windows.offsets, windows.index, windows.weights]


def _link_scalers(norm: InstanceNorm, spec: Spec, encoding: Encoding) -> None:
    """Set the instance norm's per-target maps from input to target units."""
    for m, j in enumerate(norm.targets.tolist()):
        norm.scale[m], norm.shift[m] = scaler_map(encoding, spec.targets[j].name)


def nearest_neighbour(spec: Spec, encoding: Encoding, seed: int, *windows: SequenceWindows,
                      length: int | None = None) -> NearestNeighbour | None:
    """The 1-NN baseline over the sequences of ``windows``, the split's parts in order (the
    training part; to fit the vote, the validation part too; where the model answers with
    it, the test part as well), of sequence classification with numeric inputs; None for
    other tasks. Each reference keeps its part's code (``NearestNeighbour.parts``);
    ``length``: the steps they are resampled to (default: the longest sequence's)."""
    if not presets.classifies(spec) or not encoding.input_scalers:
        return None
    sequences = [s for w in windows for s in numeric_sequences(w, encoding)]
    targets = np.concatenate([w.targets[w.index][:, 0, :].numpy() for w in windows])  # (N, T)
    parts = np.repeat(np.arange(len(windows)), [len(w) for w in windows])
    return NearestNeighbour.fit(sequences, targets, seed, parts, length)


def fit_vote(pipeline: FittedPipeline, windows: Windows | None,
             both: NearestNeighbour | None, seed: int, device: torch.device | None = None
             ) -> dict[str, dict[str, float]]:
    """Per categorical target of sequence classification, how the neighbours' vote
    (``lstmkit.vote``) answers with the network: the vote's ``scale`` and 1-NN's
    leave-one-out accuracy ``loo`` over ``both``, the training and validation sequences
    (a seeded sample of at most ``LOO_QUERIES`` of them voted for by all the others:
    ``sequences``); the network's accuracy on the validation ``windows`` (``network``)
    and their count (``validation``); the vote's ``weight`` in the blend
    (``vote.choose_weight``, the network's accuracy the best of the epochs scored there:
    ``looks``); and the blend's validation ``accuracy``, the vote scored
    there against the training sequences (``pipeline.neighbours``)."""
    if windows is None or both is None or pipeline.neighbours is None:
        return {}
    outputs, truth = pipeline.outputs(windows, with_targets=True, device=device)
    logits = pipeline.tempered(outputs)[:, 0]
    sequences = numeric_sequences(windows, pipeline.encoding)
    flat = both.references.reshape(len(both.references), -1)
    rows = np.arange(len(flat))
    if len(rows) > LOO_QUERIES:
        rows = np.sort(np.random.default_rng(seed).choice(rows, LOO_QUERIES, replace=False))
    edges = np.cumsum([0] + [pipeline.encoding.n_classes(t) for t in pipeline.spec.targets])
    looks = len(pipeline.history.get("epochs", ())) or 1   # epochs scored on validation
    fitted = {}
    for j, t in enumerate(pipeline.spec.targets):
        known = np.isfinite(truth[:, 0, j])
        if not t.categorical or not known.any():
            continue
        classes, own = len(pipeline.encoding.target_labels[t.name]), both.targets[rows, j]
        labelled = np.isfinite(own)
        loo = class_distances(flat[rows[labelled]], flat, both.targets[:, j], classes,
                              rows[labelled])
        own = own[labelled].astype(np.int64)
        scale = fit_scale(loo, own)
        network = t.target_kind.probabilities(logits[known, edges[j] : edges[j + 1]])
        vote = votes(pipeline.neighbours.distances(
            [s for s, k in zip(sequences, known, strict=True) if k], j, classes), scale)
        codes = truth[known, 0, j].astype(np.int64)
        alone = float(np.mean(network.argmax(1) == codes))
        nearest = float(np.mean(loo.argmin(1) == own))            # 1-NN, leave-one-out
        weight = choose_weight(alone, len(codes), nearest, looks)
        blend = (1 - weight) * network + weight * vote
        fitted[t.name] = {"weight": weight, "scale": scale, "loo": nearest,
                          "sequences": int(labelled.sum()), "network": alone,
                          "validation": len(codes),
                          "accuracy": float(np.mean(blend.argmax(1) == codes))}
    return fitted


def training_baseline(spec: Spec, windows: Windows) -> list[float]:
    """Encoded training mean (regression) or majority class code (categorical) per target.

    Forecasts are compared with persistence instead, so they need none of this.
    """
    if isinstance(windows, ForecastWindows):
        return [math.nan] * len(spec.targets)
    y = _training_targets(spec, windows)
    known = ~np.isnan(y)
    counts = known.sum(axis=0)
    means = np.where(known, y, 0.0).sum(axis=0, dtype=np.float64) / np.maximum(counts, 1)
    baseline = []
    for j, t in enumerate(spec.targets):
        if counts[j] == 0:
            baseline.append(math.nan)
        else:   # a view: a kind that reads the values copies only what it reads
            baseline.append(t.target_kind.naive(y[:, j], float(means[j])))
    return baseline


def class_frequencies(spec: Spec, encoding: Encoding, windows: Windows
                       ) -> dict[str, list[float]]:
    """Per categorical target, the share of each class among the training labels: the naive
    baseline's probabilities where it answers with the majority class (not for forecasts,
    whose naive forecast is the last label)."""
    if isinstance(windows, ForecastWindows):
        return {}
    y = _training_targets(spec, windows)
    frequencies = {}
    for j, t in enumerate(spec.targets):
        if not t.categorical:
            continue
        codes = y[~np.isnan(y[:, j]), j].astype(np.int64)
        if len(codes):
            counts = np.bincount(codes, minlength=len(encoding.target_labels[t.name]))
            frequencies[t.name] = (counts / counts.sum()).tolist()
    return frequencies


def _training_targets(spec: Spec, windows: SequenceWindows) -> np.ndarray:
    """The encoded targets (rows, T) of training sequences: one row per sequence, or per
    step where the targets are per row."""
    if windows.aligned:   # per-row targets: the rows of the training sequences
        lo, hi = windows.offsets[windows.index], windows.offsets[windows.index + 1]
        values = windows.targets[torch.from_numpy(row_ranges(lo.numpy(), hi.numpy()))]
    else:
        values = windows.targets[windows.index]
    return values.reshape(-1, len(spec.targets)).numpy()


def _second(plan: Checkpoints | None, name: str) -> Checkpoints | None:
    """Checkpoints of a second candidate network: a folder ``name`` in the first's."""
    if plan is None:
        return None
    directory = plan.directory / name
    fingerprint = checkpoint.fingerprint({"first": plan.fingerprint, "candidate": name}, [])
    state = checkpoint.read(directory)
    if state is not None:
        checkpoint.check_matches(state, fingerprint, directory)
    return Checkpoints(directory, fingerprint, state)


def _schema(frame: pd.DataFrame, spec: Spec) -> dict[str, str]:
    """Column -> kind, for checking data at predict time."""
    schema: dict[str, str] = {}
    for column in (spec.time, spec.group):
        if column is not None and column in frame.columns:
            schema[column] = "id"
    for f in spec.inputs:
        schema[f.name] = f.kind
    for t in spec.targets:
        schema.setdefault(t.name, "categorical" if t.categorical else "numeric")
    return schema
