"""LSTMModel's hyperparameters, declared once: what the network is, how it trains, where.

Three frozen dataclasses hold them, and everything else that names them derives from
their fields: ``LSTMModel``'s parameters (``PARAMS``, ``get_params``, ``set_params``; its
constructor's signature is checked against them by a test), the config sections' keys and
which of them are floats (``lstmkit.cli.config_keys``), the keys a search may vary and the
ones a checkpoint's fingerprint leaves out (the hardware), ``TrainConfig`` and the presets'
keys (``lstmkit.presets``). Importing this module loads neither torch nor Lightning.

Example:
    >>> Architecture(hidden=32)["hidden"]
    32
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .spec import Split


class _Fields(Mapping):
    """A dataclass readable as a mapping of its fields (``a["hidden"]``, ``dict(a)``), equal
    to a dict of the same items: the form in which an architecture is saved and shown."""

    def __getitem__(self, name: str) -> Any:
        if name not in names(type(self)):
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(names(type(self)))

    def __len__(self) -> int:
        return len(names(type(self)))


@dataclass(frozen=True, eq=False)
class Architecture(_Fields):
    """The network's shape. A value left unset (None) comes from the preset for the task
    (``lstmkit.presets``); whatever is set explicitly wins.

    Args:
        hidden: LSTM units per direction and layer.
        layers: stacked encoder layers.
        bidirectional: bidirectional encoder.
        dropout: dropout between layers and before the heads.
        decoder: ``direct`` (dense map to horizon x targets), ``repeat``
            (RepeatVector + LSTM + per-step dense), ``autoregressive`` (fed its
            previous prediction, teacher forcing in training) or ``parallel`` (one
            LSTM step per output segment, all at once); ``aligned`` (the encoder's
            per-step outputs) is the one decoder of seq2seq with one output per step.
        heads: ``shared`` (one dense layer for all regression targets) or
            ``separate`` (one each); categorical targets always get their own.
        instance_norm: normalise each input window by its own statistics and map
            the outputs of targets that are also inputs back: True or ``"revin"``
            (the window's mean and std, RevIN), ``"last"`` (subtract each channel's
            last value, as SegRNN does), False for none.
        segment: recur over segments of this many steps, each embedded by a dense
            layer, instead of single steps (SegRNN); the ``parallel`` decoder then
            emits output segments of the same length.
        channel_independent: run every numeric input channel as its own univariate
            series through one shared network and read each target from its own
            channel (all targets must be regression targets that are inputs).
        conv: add a convolutional branch (LSTM-FCN) beside the encoder, for the
            direct decoder.
        checkpoint_steps: train the encoder in chunks of this many steps, recomputing
            their activations in the backward pass: memory no longer grows with the
            lookback, for about one more forward pass of compute (unidirectional).
    """

    hidden: int | None = None
    layers: int = 1
    bidirectional: bool | None = None
    dropout: float | None = None
    decoder: str | None = None
    heads: str = "shared"
    instance_norm: bool | str | None = None
    segment: int | None = None
    channel_independent: bool | None = None
    conv: bool | None = None
    checkpoint_steps: int | None = None


@dataclass(frozen=True, eq=False)
class ResolvedArchitecture(Architecture):
    """An ``Architecture`` with the presets' values filled in, and the learning rate the
    preset chose with it: what ``fit`` builds and trains (``LSTMModel.architecture_``).

    Args:
        lr: the learning rate trained with.
    """

    lr: float = 1e-3


@dataclass(frozen=True)
class Training:
    """How to train (checked by ``lstmkit.training.config.TrainConfig``).

    Args:
        optimizer: ``adam`` or ``adamw``.
        lr: learning rate; unset: the preset's.
        lr_decay: multiply the learning rate by this after every epoch (1: constant).
        weight_decay: L2 penalty (decoupled for AdamW).
        batch_size: windows per training step; unset comes from the data
            (``lstmkit.presets.batch_size``: 64, and a tenth of the training sequences for
            sequence classification). With several devices it stays the global batch.
        max_epochs: upper bound on passes over the training windows.
        patience: epochs without a better validation loss before stopping.
        grad_clip: clip the gradient norm to this value (None: no clipping).
        seed: seed of weight initialisation and shuffling, 0 to 2**32 - 1; fixed seed,
            same result on CPU.
        split: the chronological train/validation/test split (``Split()``: 70/15/15;
            ``Split.train_only()``: every sample trains, no validation).
        precision: Lightning precision: ``32-true`` (default), ``bf16-mixed``
            (bfloat16 compute, float32 weights: faster on GPUs, and on CPUs with
            AVX512-BF16 or AMX for all but the smallest LSTMs) or ``16-mixed`` (GPU).
        calibrate: fit one temperature per classification or binary target on the
            validation part after training, so that its class probabilities are calibrated
            (``lstmkit.calibration``; labels do not change); False keeps the network's.
        coverage: calibrate conformal intervals at these nominal coverages (e.g.
            ``[0.8, 0.95]``) on the validation part after training, for the regression,
            quantile and distribution targets (``lstmkit.conformal``): ``predict`` then gives
            ``<target>_lo_80`` / ``<target>_hi_80`` columns; ``[]``: no intervals; None
            (default): a model with quantile targets and a validation part is calibrated at
            the central intervals their levels hold (``[0.1, 0.5, 0.9]``: 80 %;
            ``conformal.fit_coverage``), one with distribution targets (and none of
            quantiles) at those their reported levels hold (default 0.1, 0.5, 0.9: 80 %),
            any other model takes none.
    """

    optimizer: str = "adam"
    lr: float | None = None
    lr_decay: float = 1.0
    weight_decay: float = 0.0
    batch_size: int | None = None
    max_epochs: int = 100
    patience: int = 10
    grad_clip: float | None = 1.0
    seed: int = 0
    split: Split | None = None
    precision: str = "32-true"
    calibrate: bool = True
    coverage: float | list[float] | None = None


@dataclass(frozen=True)
class Hardware:
    """Where training runs and how it reports: they change neither the result on CPU nor
    what a checkpoint resumes, and a search does not vary them. Not frozen by ``fit``:
    ``predict`` and ``evaluate`` run where ``accelerator`` and ``devices`` say at the time.

    Args:
        progress: show a progress bar.
        accelerator: Lightning accelerator (``auto``, ``cpu``, ``gpu`` or ``cuda``, ``mps``),
            which this machine must have; ``predict`` and ``evaluate`` also run on the GPU
            when it is ``gpu`` or ``auto`` and CUDA is present.
        devices: devices per machine (an int, ``auto`` or a list of GPU ids), at most
            those present (CPU: processes, at most the cores); more than one trains
            data-parallel (DDP): ``batch_size`` stays the global batch, shared between
            the processes.
        num_nodes: machines (DDP across nodes, launched by torchrun, SLURM or LSF, or
            with NODE_RANK set on every node).
        strategy: Lightning strategy (``auto``, ``ddp``, ``ddp_spawn``, ...).
    """

    progress: bool = True
    accelerator: str = "auto"
    devices: int | str | list = 1
    num_nodes: int = 1
    strategy: str = "auto"


GROUPS = (Architecture, Training, Hardware)
OWN_SECTION = ("split",)     # a training parameter with a config section of its own


def names(group: type) -> tuple[str, ...]:
    """The parameter names of ``group`` (a dataclass of this module), in order."""
    return tuple(f.name for f in dataclasses.fields(group))


def defaults() -> dict[str, Any]:
    """Every parameter's default, by name, in ``PARAMS`` order."""
    return {f.name: f.default for group in GROUPS for f in dataclasses.fields(group)}


def floats() -> frozenset[str]:
    """The parameters that take a float (a config may not write them as text)."""
    return frozenset(name for group in GROUPS
                     for name, kind in typing.get_type_hints(group).items()
                     if kind is float or float in typing.get_args(kind))


def typed(group: type, kind: Any) -> tuple[str, ...]:
    """The parameters of ``group`` declared as of type ``kind`` (e.g. ``int | None``)."""
    return tuple(name for name, hint in typing.get_type_hints(group).items() if hint == kind)


def of(group: type, holder: Any) -> Any:
    """An instance of ``group`` from the attributes of ``holder`` that it names (an
    ``LSTMModel``, a ``NetworkConfig``).

    Example:
        >>> of(Architecture, LSTMModel(hidden=8)).hidden
        8
    """
    return group(**{name: getattr(holder, name) for name in names(group)})


PARAMS = tuple(name for group in GROUPS for name in names(group))
# Keras (and scikit-learn) names of parameters, not close in spelling to lstmkit's own: the
# estimator, the config and the search space name the parameter they mean.
KNOWN_AS = {"verbose": "progress", "learning_rate": "lr", "units": "hidden",
            "recurrent_dropout": "dropout"}
HARDWARE = names(Hardware)
# Training parameters that act after the network is trained: a checkpoint's fingerprint
# leaves them out, so a resumed run may set them anew.
AFTER_TRAINING = ("calibrate", "coverage")
