"""Training checkpoints: one safetensors file holding tensors and a JSON header; no pickle.

A checkpoint holds everything needed to continue training exactly where it
stopped: the weights, the optimiser's moments, the learning-rate schedule, the
early-stopping state, the best weights so far, the history, the random-number
state and the epoch to run next. It is written atomically (``lstmkit.storage.files.atomic_file``),
so a crash leaves the last complete checkpoint.
A fingerprint of the parameters and the training data stops a resume with
different data or settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import ArtifactError, ConfigError
from ..storage.files import CHECKPOINT, CHECKPOINT_FORMAT, atomic_file

FILE = CHECKPOINT
FORMAT = CHECKPOINT_FORMAT


@dataclass
class TrainingState:
    """Where training stands: ``tensors`` by dotted name, and JSON-safe ``meta``.

    Args:
        tensors: network weights (``network.*``), best weights (``best.*``), optimiser
            moments (``optimizer.<param>.<name>``) and the RNG state (``rng``).
        meta: ``next_epoch``, ``finished``, ``fingerprint``, ``history``, ``optimizer``
            (param groups), ``scheduler``, ``early_stopping``, ``best``.
    """

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def section(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors under ``prefix.``, with the prefix removed."""
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}


@dataclass(frozen=True)
class Checkpoints:
    """Where to keep the training state, and the state to continue from.

    Args:
        directory: where ``checkpoint.safetensors`` is written, at the start of every
            epoch and once more when training has finished.
        fingerprint: identifies the parameters and data (``checkpoint.fingerprint``).
        resume: the state read from ``directory`` to continue from, or None.
    """

    directory: Path
    fingerprint: str
    resume: TrainingState | None = None


def sectioned(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` under ``prefix.``: what ``TrainingState.section(prefix)`` reads back."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def fingerprint(params: dict[str, Any], arrays: list[torch.Tensor | None]) -> str:
    """A sha256 over the training parameters and the encoded training data."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for array in arrays:
        if array is not None:
            digest.update(array.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def write(directory: Path, state: TrainingState) -> Path:
    """Write ``state`` atomically to ``directory/checkpoint.safetensors``."""
    path = directory / FILE
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.tensors.items()}
    with atomic_file(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "meta": json.dumps(state.meta)})
    return path


def read(directory: Path) -> TrainingState | None:
    """The checkpoint in ``directory``, or None if there is none."""
    path = directory / FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as handle:
            header = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        meta = json.loads(header["meta"])
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"checkpoint {str(path)!r} is unreadable ({type(exc).__name__}); "
                            "delete it to start training afresh") from None
    if header.get("format") != FORMAT:
        raise ArtifactError(f"{str(path)!r} is not an lstmkit checkpoint, so lstmkit neither "
                            "resumes nor replaces it: pass another checkpoint_dir (CLI: "
                            "--run-dir)")
    return TrainingState(tensors, meta)


def check_matches(state: TrainingState, expected: str, directory: Path) -> None:
    """Refuse to resume a checkpoint written for other data or parameters."""
    if state.meta.get("fingerprint") != expected:
        raise ConfigError(
            f"the checkpoint in {str(directory)!r} was written by a run with other data or "
            "parameters, so it cannot be resumed; use the same config and data, or start afresh "
            "in another directory (CLI: --run-dir, or --overwrite to replace the run)")


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    """The optimiser's per-parameter tensors (flat names) and its param groups (JSON)."""
    state = optimizer.state_dict()
    tensors = sectioned("optimizer", {f"{i}.{name}": value for i, slots in state["state"].items()
                                      for name, value in slots.items()})
    return tensors, state["param_groups"]


def load_optimizer(optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
    """Restore what ``optimizer_state`` captured."""
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.section("optimizer").items():
        i, name = key.split(".", 1)
        slots.setdefault(int(i), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": state.meta["optimizer"]})
