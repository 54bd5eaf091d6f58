"""Defaults for the architecture, chosen per task shape on validation data.

Every architecture parameter of ``LSTMModel`` left as ``None`` is filled in from
the preset that fits the task; a value the user gives always wins. The presets
and the validation runs behind them are described in BENCHMARKS.md.

* ``channel_independent`` (forecasts and seq2seq with a horizon whose targets
  are all numeric inputs, none embedded): one shared LSTM reads each channel as a univariate
  series, over segments, with the parallel decoder and RevIN (SegRNN-like);
  lookbacks longer than 96 steps are trained in checkpointed chunks of 96, so
  training memory does not grow with the lookback.
* ``classification`` (sequence tasks with a categorical target): a bidirectional
  LSTM beside a convolutional branch (LSTM-FCN-like), dropout 0.6 before the head.
* ``general``: a unidirectional LSTM of 64 units with the decoder of the shape
  (``default_decoder``), RevIN for forecasts and seq2seq with a horizon.

Two training settings follow the data as well, where the user leaves them unset: sequence
classification splits stratified by class (``stratified``) and trains on batches of a tenth
of its training sequences, 4 to 64 (``batch_size``), so that an epoch of a few dozen
sequences still takes ten optimiser steps; every other task trains on batches of 64. After
training, a categorical target's answers blend in the vote of the nearest training and
validation sequences where validation cannot show the network ahead of 1-NN
(``LSTMModel.neighbour_vote_``, ``lstmkit.vote``), and a forecast that
does worse than the naive forecasts on the validation part keeps, for each target it loses
on, only the share of its change from that forecast which validation says helped; where
RevIN was left to the preset and fell back so, ``fit`` also tries
``instance_norm='anchored'`` and keeps the better (``lstmkit.fallback``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .hyperparams import Architecture, ResolvedArchitecture, names
from .nn.decoders import DECODERS
from .spec import Spec

if TYPE_CHECKING:
    from .nn import NetworkConfig

ARCHITECTURE = names(ResolvedArchitecture)   # what fit resolves; the presets set some of it
UNSET = dict(Architecture())                 # where no preset sets it (layers, heads)

# Each preset's keys are some of ARCHITECTURE (tests/test_presets.py checks).
PRESETS: dict[str, dict[str, Any]] = {
    "channel_independent": {"hidden": 256, "dropout": 0.5, "bidirectional": False,
                            "decoder": "parallel", "instance_norm": True,
                            "channel_independent": True, "conv": False,
                            "checkpoint_steps": 96, "lr": 3e-4},
    "classification": {"hidden": 128, "dropout": 0.6, "bidirectional": True, "decoder": "direct",
                       "instance_norm": False, "segment": None, "channel_independent": False,
                       "conv": True, "checkpoint_steps": None, "lr": 1e-3},
    "general": {"hidden": 64, "dropout": 0.0, "bidirectional": False, "segment": None,
                "channel_independent": False, "conv": False, "checkpoint_steps": None,
                "lr": 1e-3},
}
MAX_SEGMENT = 24
BATCH_SIZE = 64                   # windows per batch: the default, and the most a preset picks
MIN_BATCH, STEPS_PER_EPOCH = 4, 10


def preset_name(spec: Spec, given: Mapping[str, Any]) -> str:
    """Which preset fits ``spec``, given the parameters the user set (not None)."""
    continues = spec.shape.continues
    numeric_inputs = {f.name for f in spec.inputs if f.kind == "numeric"}
    all_inputs = all(t.target_kind.value_channel and t.name in numeric_inputs
                     for t in spec.targets)
    decoder = given.get("decoder")
    compatible = (decoder is None or (decoder in DECODERS and DECODERS[decoder].per_channel)) and \
        not given.get("conv") and given.get("heads") != "separate" and \
        not any(f.embed and not f.static for f in spec.inputs)
    if continues and all_inputs and compatible and given.get("channel_independent") is not False:
        return "channel_independent"
    if classifies(spec):
        return "classification"
    return "general"


def classifies(spec: Spec) -> bool:
    """Whether ``spec`` is sequence classification: a sequence task with a categorical target."""
    return spec.shape.per_sequence and any(t.categorical for t in spec.targets)


def stratified(spec: Spec) -> bool:
    """Whether a split that leaves ``stratify`` unset keeps each class's share in every part:
    for sequence classification, so that a validation part of a few sequences still holds
    every class it can."""
    return classifies(spec)


def batch_size(spec: Spec, train_windows: int) -> int:
    """Windows per batch where the user set none: ``BATCH_SIZE``, and for sequence
    classification a tenth of the training sequences (``STEPS_PER_EPOCH`` steps an epoch),
    at least ``MIN_BATCH`` and at most ``BATCH_SIZE`` (25 -> 4, 275 -> 27, 5000 -> 64)."""
    if not classifies(spec):
        return BATCH_SIZE
    return min(BATCH_SIZE, max(MIN_BATCH, train_windows // STEPS_PER_EPOCH))


def resolve(spec: Spec, given: Mapping[str, Any]) -> ResolvedArchitecture:
    """The architecture: the user's values where set (``given``: an ``Architecture``'s
    items and ``lr``), else the preset's for ``spec``."""
    preset = dict(PRESETS[preset_name(spec, given)])
    continues = spec.shape.continues
    preset.setdefault("instance_norm", continues)
    if preset.get("channel_independent") and "segment" not in preset:
        preset["segment"] = default_segment(spec.lookback) if spec.shape.sliding else None
    if "decoder" not in preset:
        preset["decoder"] = default_decoder(spec)
    resolved = {name: given[name] if given.get(name) is not None else
                preset.get(name, UNSET.get(name)) for name in ARCHITECTURE}
    if spec.shape.per_step and resolved["decoder"] == "direct":   # as 0.2.0 accepted it
        resolved["decoder"] = "aligned"
    if resolved["bidirectional"] and given.get("checkpoint_steps") is None:
        resolved["checkpoint_steps"] = None                # chunks need one reading direction
    return ResolvedArchitecture(**resolved)


def default_decoder(spec: Spec) -> str:
    """The decoder of the task shape: ``aligned`` for seq2seq without a horizon (one output
    per input step), ``repeat`` for seq2seq with one, else ``direct``."""
    if spec.shape.per_step:
        return "aligned"
    return "repeat" if spec.shape.continues and not spec.shape.sliding else "direct"


def default_segment(lookback: int) -> int | None:
    """The largest divisor of ``lookback`` up to 24 (96 -> 24, 720 -> 24, 28 -> 14)."""
    divisors = [w for w in range(2, MAX_SEGMENT + 1) if lookback % w == 0]
    return max(divisors) if lookback >= 8 and divisors else None


def built(architecture: ResolvedArchitecture, network: NetworkConfig) -> ResolvedArchitecture:
    """``architecture`` (the preset's values and the user's) with the values ``network`` was
    built with (``fit`` may choose ``instance_norm``); ``lr``, which the network does not
    hold, as trained with. ``fit`` freezes it as ``LSTMModel.architecture_``."""
    return dataclasses.replace(architecture, **{name: getattr(network, name) for name in
                                                ARCHITECTURE if hasattr(network, name)})
