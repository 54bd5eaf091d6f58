"""Model directories: ``config.json`` (plain JSON), ``weights.safetensors`` and a ``README.md``
model card; no pickle. A sequence classifier whose answers blend in its nearest training
and validation sequences' vote (``LSTMModel.neighbour_vote_``), or, saved before the vote,
give the nearest one's label (``LSTMModel.neighbour_targets_``), keeps those sequences,
z-normalised, in ``neighbours.safetensors``. What the files hold is a ``FittedPipeline``
(``lstmkit.pipeline``) and the parameters of the estimator that fitted it;
``load_pipeline`` reads the first alone.

Directories are written atomically (``lstmkit.storage.files.atomic_directory``): everything goes
into a hidden temporary directory beside the target, each file is fsynced, and only then
is the directory renamed into place, so a crash never leaves a half-written model and
never destroys the previous one; if a crash falls between the two renames of a
replacement, the next save or load puts the previous directory back. A save replaces
only a model directory that holds nothing but lstmkit's files.
"""

from __future__ import annotations

import hashlib
import math
import platform
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .. import hyperparams, presets
from ..baselines import NearestNeighbour
from ..calibration import check_calibration
from ..checks import check_int, check_mapping, check_number, quote
from ..conformal import check_conformal, interval_levels
from ..data import timestep
from ..data.encoding import Encoding
from ..decision import check_decisions
from ..errors import ArtifactError, ConfigError
from ..hyperparams import Architecture, ResolvedArchitecture
from ..metrics import check_verdict
from ..nn import LSTMNetwork, NetworkConfig
from ..pipeline import FittedPipeline, network_config
from ..scale_free import NaiveScales
from ..spec import Spec, Split
from ..version import __version__
from .card import model_card
from .files import (
    CARD,
    CHECKPOINT,
    CHECKPOINTS,
    MODEL,
    MODEL_FORMAT,
    NEIGHBOURS,
    WEIGHTS,
    atomic_directory,
    json_text,
    recover,
)
from .files import MODEL_CONFIG as CONFIG
from .saved_files import (
    check_fields,
    check_schema,
    check_strings,
    damaged,
    first_difference,
    is_finite_number,
    read_json,
)

FORMAT = MODEL_FORMAT
FORMAT_VERSION = 1
# Weights that later versions added, absent from older files. At zero each adds nothing,
# so a file without it loads as the network that saved it computed.
ZERO_IF_ABSENT = frozenset({"future_effect.weight", "norm.drift"})
# The entries of config.json and their JSON types; each is checked again in depth on loading.
TOP_LEVEL = {"versions": dict, "spec": dict, "params": dict, "network": dict, "encoding": dict,
             "schema": dict, "baseline": list, "time_step": (dict, type(None)), "history": dict}
REDO = "re-save or re-train the model"
# Parameters a file saved before they existed lacks: the value that says how it was fitted.
ABSENT_PARAMS = {"calibrate": False}
VOTE_FIELDS = ("weight", "scale", "accuracy", "network", "loo", "sequences", "validation")


class Estimator(Protocol):
    """What a model directory is written from and read back into: ``LSTMModel``."""

    pipeline_: FittedPipeline

    def __init__(self, spec: Spec, **params: Any) -> None: ...

    def params_json(self) -> dict[str, Any]: ...


E = TypeVar("E", bound=Estimator)


def save_model(model: Estimator, path: Path, overwrite: bool = False) -> Path:
    """Write ``model`` as a directory at ``path``; ``overwrite`` replaces a model directory
    that holds only lstmkit's files, never another folder."""
    with atomic_directory(path, MODEL, overwrite, error=ArtifactError) as tmp:
        write_model_files(model, tmp)
    return path


def write_model_files(model: Estimator, directory: Path,
                      metrics: dict[str, Any] | None = None) -> None:
    """Write the model's files into an existing directory: config, weights and model card.

    Args:
        model: a fitted model.
        directory: where to write.
        metrics: an ``Evaluation.to_dict()`` for the card, if the model was scored.
    """
    pipeline = model.pipeline_
    weights = {k: v.detach().cpu().contiguous() for k, v in pipeline.network.state_dict().items()}
    save_file(weights, str(directory / WEIGHTS), metadata={"format": FORMAT})
    # The weights' digest lets loading tell a damaged or swapped weights file from the saved one.
    config = {**model_config(model), "weights_sha256": _file_sha256(directory / WEIGHTS)}
    if config["neighbour_targets"] or config.get("neighbour_vote"):
        knn = pipeline.neighbours
        parts = {} if knn.parts is None else {"parts": torch.from_numpy(knn.parts)}
        save_file({"references": torch.from_numpy(knn.references),
                   "targets": torch.from_numpy(np.asarray(knn.targets, np.float32)), **parts},
                  str(directory / NEIGHBOURS), metadata={"format": FORMAT, "total": str(knn.total)})
        config["neighbours_sha256"] = _file_sha256(directory / NEIGHBOURS)
    (directory / CONFIG).write_text(json_text(config), encoding="utf-8")
    (directory / CARD).write_text(model_card(pipeline, metrics), encoding="utf-8")


def model_config(model: Estimator) -> dict[str, Any]:
    """Everything but the weights, as plain JSON: the pipeline's ``to_dict`` with the format,
    the versions and the estimator's parameters."""
    body = model.pipeline_.to_dict()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {"lstmkit": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "spec": body.pop("spec"),
        "params": model.params_json(),
        **body,
    }


def load_model(path: Path, estimator: type[E]) -> E:
    """Rebuild a model from its directory, every part of both files checked before it is used.

    Args:
        path: the model directory.
        estimator: the class to rebuild, ``LSTMModel`` (or a subclass: ``load`` passes its own).

    Raises:
        ArtifactError: naming the file and what in it is wrong (a scaler that is not
            finite, sizes the weights do not have, a weight that is NaN, ...).
    """
    pipeline, params = _load(path)
    model = estimator(pipeline.spec, **params)
    model.pipeline_ = pipeline
    return model


def load_pipeline(path: Path) -> FittedPipeline:
    """The fitted pipeline of a model directory, checked as ``load_model`` checks it,
    without the estimator: enough to predict, evaluate, export or serve.

    Example:
        >>> load_pipeline(Path("etth1_model")).predict(df.tail(96))
    """
    return _load(path)[0]


def _load(path: Path) -> tuple[FittedPipeline, dict[str, Any]]:
    """The pipeline of a model directory and the parameters of the estimator that fitted it."""
    config = read_config(path)
    try:
        body, params, network = _checked(config)
    except ConfigError as exc:
        raise damaged(f"{CONFIG} of {str(path)!r}", exc, REDO) from None
    built = _load_network(network, path / WEIGHTS, config).eval()
    spec = Spec.saved(body["spec"])
    neighbours = None
    if body["neighbour_targets"] or body.get("neighbour_vote"):
        encoding = Encoding.from_dict(spec, body["encoding"])
        neighbours = _load_neighbours(path / NEIGHBOURS, spec, encoding, config)
    return FittedPipeline.from_dict(body, built, neighbours), params


def read_config(path: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a model directory: bounded, format and top-level types
    checked (every entry's content is checked by ``load_model``)."""
    recover(path)
    if not path.is_dir():
        found = ("" if not path.is_file() else " (an ONNX file, which OnnxModel(path) runs)"
                 if path.suffix.lower() == ".onnx" else " (a file)")
        raise ArtifactError(f"no model directory at {str(path)!r}{found}; pass the directory "
                            "that model.save() or `lstmkit fit` wrote")
    try:
        config = read_json(path / CONFIG)
    except FileNotFoundError:
        unfinished = (path / CHECKPOINTS / CHECKPOINT).is_file()
        inside = sorted(str(d) for d in path.iterdir() if (d / CONFIG).is_file())[:3]
        raise ArtifactError(f"{str(path)!r} has no {CONFIG}; it is not an lstmkit model "
                            "directory" + ("; it holds the checkpoint of an unfinished run: "
                                           "finish it first with lstmkit fit CONFIG --run-dir "
                                           f"{str(path)!r} --resume" if unfinished else "")
                            + (f"; the model directories in it: {', '.join(map(repr, inside))}"
                               if inside else "")) from None
    except ConfigError as exc:
        raise damaged(f"{CONFIG} of {str(path)!r}", exc, REDO) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ArtifactError(f"{str(path / CONFIG)!r} is not an lstmkit model config (format "
                            f"{quote(config.get('format') if isinstance(config, dict) else None)})")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{str(path)!r} has model format version {quote(version)}, but lstmkit {__version__} "
            f"reads version {FORMAT_VERSION}; load it with the lstmkit version that saved it "
            f"({_saved_by(config)}) or re-train")
    try:
        check_fields(config, TOP_LEVEL, {"data_sha256": (str, type(None)),
                                         "weights_sha256": str,
                                         "validation": (dict, type(None)),
                                         "neighbour_targets": list,
                                         "neighbour_vote": dict,
                                         "naive_spread": dict,
                                         "calibration": (dict, type(None)),
                                         "conformal": (dict, type(None)),
                                         "class_frequencies": dict,
                                         "class_weights": dict,
                                         "decisions": dict,
                                         "target_axis": bool,
                                         "naive_scales": dict,
                                         "neighbours_sha256": str,
                                         "fitted": dict})
        check_strings(config["versions"], "versions")
        check_strings(config["schema"], "schema")
    except ConfigError as exc:
        raise damaged(f"{CONFIG} of {str(path)!r}", exc, REDO) from None
    return config


def _checked(config: dict[str, Any]
             ) -> tuple[dict[str, Any], dict[str, Any], NetworkConfig]:
    """The pipeline's part of a config (``FittedPipeline.to_dict``'s form, older files'
    missing entries filled in), the estimator's parameters, and the config of the network
    (not built yet). Each part checks its own fields; the parts are then checked against
    each other.
    """
    spec = Spec.saved(config["spec"])
    saved = config["params"]
    check_mapping(saved, "params", hyperparams.PARAMS)
    params = {**ABSENT_PARAMS, **saved, "split": Split.from_dict(saved.get("split", {}))}
    encoding = Encoding.from_dict(spec, config["encoding"])
    network = NetworkConfig.from_dict(config["network"])
    _check_network(params.get("precision", "32-true"), spec, encoding, network)
    check_schema(config["schema"], spec, targets=True)
    _baseline(config["baseline"], spec)
    try:
        timestep.from_json(config["time_step"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _history(config["history"])
    try:
        validation = check_verdict(config.get("validation"), spec.target_names)
        calibration = check_calibration(config.get("calibration"),
                                        [t.name for t in spec.targets if t.categorical])
        conformal = check_conformal(config.get("conformal"), spec)
        decisions = check_decisions(config.get("decisions", {}), {
            t.name: len(encoding.target_labels[t.name]) for t in spec.targets if t.categorical})
    except ValueError as exc:                          # absent in 0.2.0's files: None
        raise ConfigError(str(exc)) from None
    architecture, split, seed = _fitted(config.get("fitted"), spec, params, network)
    body = {name: config.get(name) for name in (
        "spec", "network", "encoding", "schema", "baseline", "time_step", "history",
        "data_sha256")}                                # data_sha256: absent in older files
    body.update(validation=validation, calibration=calibration, conformal=conformal,
                class_frequencies=_class_frequencies(config.get("class_frequencies", {}),
                                                     spec, encoding),
                neighbour_targets=list(_neighbour_targets(config.get("neighbour_targets", []),
                                                          spec)),
                fitted={"architecture": dict(architecture), "split": split.to_dict(),
                        "seed": seed})
    if config.get("neighbour_vote"):        # absent in files saved before the vote: none
        body["neighbour_vote"] = _neighbour_vote(config["neighbour_vote"], spec)
    if config.get("class_weights"):                    # models with class_weight targets
        body["class_weights"] = _class_weights(config["class_weights"], spec, encoding)
    if decisions:                                      # absent in older files: argmax
        body["decisions"] = decisions
    if config.get("target_axis"):             # fit's y was (samples, 1); absent: (samples,)
        body["target_axis"] = True
    if config.get("naive_spread"):    # quantile and distribution targets, conformal intervals
        body["naive_spread"] = _naive_spread(config["naive_spread"], spec, conformal)
    if "naive_scales" in config:          # forecasts; absent in files saved before they were kept
        NaiveScales.from_dict(config["naive_scales"], spec)             # checks it
        body["naive_scales"] = config["naive_scales"]
    return body, params, network


def _fitted(saved: Any, spec: Spec, params: dict[str, Any], network: NetworkConfig
            ) -> tuple[ResolvedArchitecture, Split, int]:
    """What ``fit`` used: the architecture, split and seed, each checked. Files of 0.2.0,
    which lack them, give the architecture their network was built with (``lr`` from
    their params) and their params' split and seed; an architecture saved before ``layers``
    and ``heads`` were part of it takes those from its network."""
    if saved is None:
        given = {**hyperparams.defaults(), **params}
        user = {name: given[name] for name in hyperparams.names(Architecture)}
        architecture = presets.resolve(spec, {**user, "lr": given["lr"]})
        return presets.built(architecture, network), given["split"], given["seed"]
    check_fields(saved, {"architecture": dict, "split": dict, "seed": int}, where="fitted.")
    architecture = {"layers": network.layers, "heads": network.heads, **saved["architecture"]}
    if sorted(architecture) != sorted(presets.ARCHITECTURE):
        raise ConfigError(f"fitted.architecture has the keys {quote(sorted(architecture))}; it "
                          f"must have {quote(sorted(presets.ARCHITECTURE))}")
    recorded = ResolvedArchitecture(**architecture)
    built = presets.built(recorded, network)
    difference = first_difference(dict(recorded), dict(built), "fitted.architecture")
    if difference:
        where, value, in_network = difference
        raise ConfigError(f"{where} is {quote(value)}, but the network was built with "
                          f"{quote(in_network)}")
    check_number("fitted.architecture.lr", architecture["lr"], 0, open_low=True)
    check_int("fitted.seed", saved["seed"], 0)
    return built, Split.from_dict(saved["split"]), saved["seed"]


def _naive_spread(data: dict[str, Any], spec: Spec, conformal: dict[str, Any] | None
                  ) -> dict[str, Any]:
    """The saved ``naive_spread``, checked: per quantile or distribution target (or
    regression target with ``conformal`` intervals), one row of numbers (or null) per step,
    one per level of its kind's ``spread_levels`` (or of the intervals' ends)."""
    ends = interval_levels(conformal["coverage"]) if conformal else ()
    calibrated = (conformal or {}).get("targets", {})
    levels = {t.name: t.target_kind.spread_levels(t) or ends for t in spec.targets
              if t.target_kind.spread_levels(t) or t.name in calibrated}
    for name, rows in data.items():
        if name not in levels:
            raise ConfigError(f"naive_spread names {quote(name)}, which is not a quantile "
                              f"target, a distribution target or a target with conformal "
                              f"intervals of the spec ({quote(list(levels))})")
        if not isinstance(rows, list) or not all(
                isinstance(row, list) and len(row) == len(levels[name])
                and all(v is None or isinstance(v, int | float) for v in row) for row in rows):
            raise ConfigError(f"naive_spread of {quote(name)} must be a list of rows of "
                              f"{len(levels[name])} numbers (one per quantile level)")
    return data


def _neighbour_targets(names: list[Any], spec: Spec) -> tuple[str, ...]:
    """The targets the saved model answers with its nearest neighbour: categorical targets
    of a sequence classifier (absent in older files: none)."""
    allowed = [t.name for t in spec.targets if t.categorical and presets.classifies(spec)]
    if any(name not in allowed for name in names):
        raise ConfigError(f"neighbour_targets is {quote(names)}; it may name only categorical "
                          f"targets of a sequence task ({quote(allowed)})")
    return tuple(names)


def _neighbour_vote(saved: dict[str, Any], spec: Spec) -> dict[str, dict[str, float]]:
    """The blends with the neighbours' vote (``fitting.fit_vote``): per categorical target
    of a sequence classifier, a ``weight`` in (0, 1], a ``scale`` > 0, accuracies from 0 to
    1 (``accuracy``, ``network``, ``loo``) and the counts ``sequences`` and ``validation``."""
    names = _neighbour_targets(list(saved), spec)
    for name in names:
        entry = saved[name]
        if not isinstance(entry, dict) or sorted(entry) != sorted(VOTE_FIELDS) or \
                not all(type(v) in (int, float) for v in entry.values()) or \
                not (0 < entry["weight"] <= 1 and 0 < entry["scale"] < math.inf
                     and all(0 <= entry[k] <= 1 for k in ("accuracy", "network", "loo"))
                     and entry["sequences"] >= 1 and entry["validation"] >= 1):
            raise ConfigError(f"neighbour_vote of {quote(name)} is {quote(entry)}; it must hold "
                              "a weight in (0, 1], a scale > 0, the accuracies accuracy, "
                              "network and loo from 0 to 1, and sequences and validation "
                              ">= 1")
    return dict(saved)


def _class_frequencies(saved: dict[str, Any], spec: Spec, encoding: Encoding
                       ) -> dict[str, list[float]]:
    """The training class shares of categorical targets (absent in older files: none), one
    share from 0 to 1 per label, summing to 1."""
    for name, shares in saved.items():
        target = next((t for t in spec.targets if t.name == name and t.categorical), None)
        labels = len(encoding.target_labels[name]) if target is not None else 0
        if target is None or not isinstance(shares, list) or len(shares) != labels or not all(
                type(v) in (int, float) and 0 <= v <= 1 for v in shares) or \
                abs(sum(shares) - 1) > 1e-6:
            raise ConfigError(f"class_frequencies of {quote(name)} is {quote(shares)}; it must "
                              "name a categorical target and give one share from 0 to 1 per "
                              "label of it, summing to 1")
    return dict(saved)


def _class_weights(saved: dict[str, Any], spec: Spec, encoding: Encoding
                   ) -> dict[str, list[float]]:
    """The class weights of targets with a ``class_weight`` (absent in older files: none),
    one finite number >= 0 per label of each."""
    for name, weights in saved.items():
        target = next((t for t in spec.targets if t.name == name and t.class_weight), None)
        labels = len(encoding.target_labels[name]) if target is not None else 0
        if target is None or not isinstance(weights, list) or len(weights) != labels or not all(
                type(v) in (int, float) and 0 <= v < math.inf for v in weights):
            raise ConfigError(f"class_weights of {quote(name)} is {quote(weights)}; it must name "
                              "a target with a class_weight and give one number >= 0 per label "
                              "of it")
    return dict(saved)


def _load_neighbours(file: Path, spec: Spec, encoding: Encoding,
                     saved: dict[str, Any]) -> NearestNeighbour:
    """The reference sequences of ``file``, checked against the model: z-normalised numbers
    over its numeric inputs, one valid class code (or NaN) per target each, and the part of
    the split each came from (absent in files saved before it: not known)."""
    where = f"{NEIGHBOURS} of {str(file.parent)!r}"
    tensors = _read_weights(file, where)
    references, targets = tensors.get("references"), tensors.get("targets")
    parts = tensors.get("parts")
    if references is None or targets is None or \
            not set(tensors) <= {"references", "targets", "parts"}:
        raise damaged(where, f"it holds {quote(sorted(tensors))}, not 'references', "
                      "'targets' and (optional) 'parts'", REDO)
    width = len(encoding.input_scalers)
    if references.dtype != torch.float32 or references.ndim != 3 or \
            references.shape[2] != width or not torch.isfinite(references).all():
        raise damaged(where, f"'references' is {_describe(references)}; the model needs finite "
                      f"float32 of shape (sequences, steps, {width})", REDO)
    codes = targets.numpy()
    shape = (len(references), len(spec.targets))
    if targets.dtype != torch.float32 or codes.shape != shape or \
            not _class_codes(codes, spec, encoding):
        raise damaged(where, f"'targets' is {_describe(targets)}; the model needs float32 of "
                      f"shape {shape} with a class code (or NaN) per categorical target", REDO)
    if parts is not None and (parts.dtype != torch.int64 or parts.shape != (len(references),)
                              or not bool(((parts >= 0) & (parts <= 2)).all())):
        raise damaged(where, f"'parts' is {_describe(parts)}; the model needs int64 of shape "
                      f"({len(references)},) with a part code (0, 1 or 2) each", REDO)
    if saved.get("neighbours_sha256") != _file_sha256(file):
        fix = _mismatch_fix(_saved_by(saved))
        raise ArtifactError(f"{where} is not the file saved with its {CONFIG} (its sha256 "
                            f"differs from the one recorded there); {fix}")
    with safe_open(str(file), "pt") as handle:
        total = (handle.metadata() or {}).get("total", "")
    return NearestNeighbour(references.numpy(), codes,
                            int(total) if total.isdigit() else len(references),
                            None if parts is None else parts.numpy())


def _check_network(precision: str, spec: Spec, encoding: Encoding,
                   network: NetworkConfig) -> None:
    """Raise ConfigError unless ``network`` is the network that ``spec``, ``encoding`` and the
    saved architecture give: the same derivation as ``fit``'s, so every size is checked."""
    architecture = hyperparams.of(Architecture, network)
    expected = network_config(spec, encoding, architecture, network.anchor_lags, precision)
    difference = first_difference(network.to_dict(), expected.to_dict(), "network")
    if difference:
        where, saved, derived = difference
        raise ConfigError(f"{where} is {quote(saved)}, but the spec, encoding and params give "
                          f"{quote(derived)}")


def _baseline(values: list[Any], spec: Spec) -> list[float]:
    """The saved naive baseline, one finite number or null per target; null becomes NaN."""
    if len(values) != len(spec.targets) or not all(
            v is None or is_finite_number(v) for v in values):
        raise ConfigError(f"baseline is {quote(values)}; it must hold a finite number or null "
                          f"for each of the {len(spec.targets)} targets")
    return [np.nan if v is None else v for v in values]


def _class_codes(codes: np.ndarray, spec: Spec, encoding: Encoding) -> bool:
    """Whether each categorical target's column of ``codes`` holds its class codes or NaN."""
    for column, target in zip(codes.T, spec.targets, strict=True):
        if target.categorical:
            known = column[~np.isnan(column)]
            if not np.isin(known, np.arange(max(2, encoding.n_classes(target)))).all():
                return False
    return True


def _history(history: dict[str, Any], where: str = "history.") -> dict[str, Any]:
    """The saved training history, checked as far as the card and plots read it: each epoch
    an object of numbers with an integer ``epoch``; after a warm start, ``phases`` (absent
    before), each phase a history of its own with the ``data_sha256`` it trained on."""
    check_fields(history, {"epochs": list}, {"best_epoch": (int, type(None)),
                                              "best_val_loss": (float, type(None)),
                                              "phases": list}, where=where)
    for i, epoch in enumerate(history["epochs"]):
        at = f"{where}epochs[{i}]."
        check_fields(epoch, {"epoch": int}, where=at)
        check_fields(epoch, {}, {k: (float, type(None)) for k in epoch if k != "epoch"},
                     where=at)
    for i, phase in enumerate(history.get("phases", [])):
        at = f"{where}phases[{i}]."
        check_fields(phase, {}, {"data_sha256": (str, type(None))}, where=at)
        _history(phase, at)
    return history


def _saved_by(config: dict[str, Any]) -> str:
    """The lstmkit version that wrote a model's config ("unknown" if it does not say)."""
    versions = config.get("versions")
    saved = versions.get("lstmkit") if isinstance(versions, dict) else None
    return saved if isinstance(saved, str) else "unknown"


def _load_network(config: NetworkConfig, file: Path, saved: dict[str, Any]) -> LSTMNetwork:
    """The network of ``config`` with the weights of ``file``, once they are known to fit:
    names, shapes, dtypes, finite values, index buffers, and the sha256 the config records.

    The shapes to compare come from a copy of the network built on the meta device (no
    memory), so a config that asks for an absurd size is refused before anything is allocated.
    """
    where = f"{WEIGHTS} of {str(file.parent)!r}"
    tensors = _read_weights(file, where)
    fix = _mismatch_fix(_saved_by(saved))
    if config.layers > len(tensors):     # every layer has weights of its own
        raise ArtifactError(f"{CONFIG} and {where} disagree: the network has {config.layers} "
                            f"layers, the file holds {len(tensors)} tensors; {fix}")
    try:
        with torch.device("meta"):
            expected = LSTMNetwork(config).state_dict()
    except (ValueError, TypeError, RuntimeError) as exc:   # torch's, for sizes that overflow
        fault = f"the network it describes cannot be built ({str(exc).splitlines()[0]})"
        raise damaged(f"{CONFIG} of {str(file.parent)!r}", fault, REDO) from None
    for name in ZERO_IF_ABSENT & (set(expected) - set(tensors)):
        tensors[name] = torch.zeros(expected[name].shape, dtype=expected[name].dtype)
    _check_tensors(tensors, expected, where, fix)
    network = LSTMNetwork(config)
    _check_indices(tensors, network, where, fix)
    recorded = saved.get("weights_sha256")
    if recorded is not None and recorded != _file_sha256(file):
        raise ArtifactError(f"{where} is not the file saved with its {CONFIG} (its sha256 "
                            f"differs from the one recorded there); {fix}")
    network.load_state_dict(tensors)
    return network


def _read_weights(file: Path, where: str) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; nothing else is ever read as weights."""
    if not file.exists():
        raise ArtifactError(f"{str(file)!r} is missing; a model directory needs {WEIGHTS}")
    if not file.is_file():   # a directory, a device such as /dev/zero, a FIFO
        raise damaged(where, "not a regular file", REDO)
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{str(file)!r} is not a valid safetensors file ({exc}); lstmkit "
                            "loads weights only from safetensors, never from pickles") from None


def _check_tensors(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                   where: str, fix: str) -> None:
    """Raise ArtifactError unless ``tensors`` have the names, shapes and dtypes of
    ``expected`` and every float is finite."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ArtifactError(f"{where} does not match the network in {CONFIG}: missing "
                            f"{quote(missing[:3])}, unexpected {quote(extra[:3])}; {fix}")
    for name, tensor in expected.items():
        got = tensors[name]
        if got.shape != tensor.shape or got.dtype != tensor.dtype:
            raise ArtifactError(f"{where}: {name!r} is {_describe(got)}, the network in {CONFIG} "
                                f"needs {_describe(tensor)}; {fix}")
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise damaged(where, f"{name!r} holds NaN or infinite values", REDO)


def _check_indices(tensors: dict[str, torch.Tensor], network: LSTMNetwork, where: str,
                   fix: str) -> None:
    """Raise ArtifactError unless the integer buffers of ``tensors`` are those ``network``
    computes from its config: they are indices (of channels, targets), not learned.
    BatchNorm's count of training batches is the one integer that training changes."""
    for name, value in network.state_dict().items():
        if value.is_floating_point() or name.endswith("num_batches_tracked"):
            continue
        if not torch.equal(tensors[name], value):
            raise ArtifactError(f"{CONFIG} and {where} disagree: {name!r} holds "
                                f"{quote(tensors[name].tolist())}, the network in {CONFIG} "
                                f"{quote(value.tolist())}; {fix}")


def _mismatch_fix(version: str) -> str:
    """What to do about weights that do not fit the config, by the version that saved them."""
    if version == __version__:
        return (f"this lstmkit version saved it, so {WEIGHTS} was replaced or damaged after "
                "saving: copy the model directory again whole, or re-train")
    return (f"it was saved by lstmkit {quote(version)} (this is {__version__}): load it with "
            "that version, or re-train")


def _describe(tensor: torch.Tensor) -> str:
    return f"{str(tensor.dtype).removeprefix('torch.')} of shape {tuple(tensor.shape)}"


def _file_sha256(file: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    with open(file, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
