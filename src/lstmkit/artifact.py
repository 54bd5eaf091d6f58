"""Model directories: ``config.json`` (plain JSON), ``weights.safetensors`` and a ``README.md``
model card; no pickle.

Directories are written atomically (``lstmkit.files.atomic_directory``): everything goes
into a hidden temporary directory beside the target, each file is fsynced, and only then
is the directory renamed into place, so a crash never leaves a half-written model and
never destroys the previous one; if a crash falls between the two renames of a
replacement, the next save or load puts the previous directory back. A save replaces
only a model directory that holds nothing but lstmkit's files.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .data import timestep
from .data.encoding import Encoding
from .errors import ArtifactError, ConfigError
from .files import MODEL, MODEL_FORMAT, atomic_directory, json_text, recover
from .metrics import check_verdict
from .nn import LSTMNetwork, NetworkConfig
from .spec import Spec, Split

if TYPE_CHECKING:
    from .model import LSTMModel

FORMAT = MODEL_FORMAT
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
CARD = "README.md"
# Weights that later versions added, absent from older files. At zero each adds nothing,
# so a file without it loads as the network that saved it computed.
ZERO_IF_ABSENT = frozenset({"future_effect.weight"})


def save_model(model: LSTMModel, path: Path, overwrite: bool = False) -> Path:
    """Write ``model`` as a directory at ``path``; ``overwrite`` replaces a model directory
    that holds only lstmkit's files, never another folder."""
    with atomic_directory(path, MODEL, overwrite, error=ArtifactError) as tmp:
        write_model_files(model, tmp)
    return path


def write_model_files(model: LSTMModel, directory: Path,
                      metrics: dict[str, Any] | None = None) -> None:
    """Write the model's files into an existing directory: config, weights and model card.

    Args:
        model: a fitted model.
        directory: where to write.
        metrics: an ``Evaluation.to_dict()`` for the card, if the model was scored.
    """
    from .card import model_card

    (directory / CONFIG).write_text(json_text(model_config(model)), encoding="utf-8")
    weights = {k: v.detach().cpu().contiguous() for k, v in model.network_.state_dict().items()}
    save_file(weights, str(directory / WEIGHTS), metadata={"format": FORMAT})
    (directory / CARD).write_text(model_card(model, metrics), encoding="utf-8")


def model_config(model: LSTMModel) -> dict[str, Any]:
    """Everything but the weights, as plain JSON."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {"lstmkit": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "spec": model.spec_.to_dict(),
        "params": model.get_params(),
        "network": model.network_.config.to_dict(),
        "encoding": model.encoding_.to_dict(),
        "schema": model.schema_,
        "baseline": [None if np.isnan(v) else v for v in model.baseline_],
        "time_step": timestep.to_json(model.time_step_),
        "history": model.history_,
        "data_sha256": getattr(model, "data_sha256_", None),
        "validation": model.validation_,
    }


def load_model(path: Path) -> LSTMModel:
    """Rebuild a model from its directory, checking format, version and weight shapes."""
    from .model import LSTMModel

    config = read_config(path)
    try:
        spec = Spec.from_dict(config["spec"])
        params = dict(config["params"])
        params["split"] = Split.from_dict(params["split"])
        model = LSTMModel(spec, **params)
        encoding = Encoding.from_dict(spec, config["encoding"])
        network = LSTMNetwork(NetworkConfig.from_dict(config["network"]))
        step = timestep.from_json(config["time_step"])
        validation = check_verdict(config.get("validation"))   # absent in 0.2.0's files
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ArtifactError(f"{str(path / CONFIG)!r} is not a valid lstmkit model config "
                            f"({type(exc).__name__}: {exc}); re-save the model") from None
    _load_weights(network, path / WEIGHTS, _saved_by(config))
    model.spec_, model.encoding_, model.network_ = spec, encoding, network.eval()
    model.schema_ = config["schema"]
    model.baseline_ = [np.nan if v is None else v for v in config["baseline"]]
    model.time_step_ = step
    model.history_ = config["history"]
    model.data_sha256_ = config.get("data_sha256")   # optional: absent in older files
    model.validation_ = validation
    return model


def read_config(path: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a model directory, with its format checked."""
    recover(path)
    if not path.is_dir():
        raise ArtifactError(f"no model directory at {str(path)!r}; pass the directory that "
                            "model.save() or `lstmkit fit` wrote")
    file = path / CONFIG
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{str(path)!r} has no {CONFIG}; it is not an lstmkit model "
                            "directory") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{str(file)!r} is not valid JSON ({exc}); the model directory is "
                            "damaged: re-save or re-train the model") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ArtifactError(f"{str(file)!r} is not an lstmkit model config (format "
                            f"{config.get('format') if isinstance(config, dict) else None!r})")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{str(path)!r} has model format version {version!r}, but lstmkit {__version__} reads "
            f"version {FORMAT_VERSION}; load it with the lstmkit version that saved it "
            f"({_saved_by(config)}) or re-train")
    return config


def _saved_by(config: dict[str, Any]) -> str:
    """The lstmkit version that wrote a model's config ("unknown" if it does not say)."""
    return config.get("versions", {}).get("lstmkit", "unknown")


def _load_weights(network: LSTMNetwork, file: Path, version: str) -> None:
    if not file.is_file():
        raise ArtifactError(f"{str(file)!r} is missing; a model directory needs {WEIGHTS}")
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{str(file)!r} is not a valid safetensors file ({exc}); lstmkit "
                            "loads weights only from safetensors, never from pickles") from None
    expected = network.state_dict()
    for name in ZERO_IF_ABSENT & (set(expected) - set(tensors)):
        tensors[name] = torch.zeros_like(expected[name])
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        if version == __version__:
            fix = (f"this lstmkit version saved it, so {WEIGHTS} was replaced or damaged after "
                   "saving: copy the model directory again whole, or re-train")
        else:
            fix = (f"it was saved by lstmkit {version} (this is {__version__}): load it with "
                   "that version, or re-train")
        raise ArtifactError(f"{str(file)!r} does not match the network in {CONFIG}: missing "
                            f"{missing[:3]}, unexpected {extra[:3]}; {fix}")
    for name, tensor in expected.items():
        if tensors[name].shape != tensor.shape:
            raise ArtifactError(f"{str(file)!r}: weight {name!r} has shape "
                                f"{tuple(tensors[name].shape)}, the config needs "
                                f"{tuple(tensor.shape)}")
    network.load_state_dict(tensors)
