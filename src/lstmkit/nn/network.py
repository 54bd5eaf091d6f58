"""The whole network: inputs -> (segments) -> LSTM encoder -> decoder -> output heads.

Reads top to bottom: a config dataclass, then one module whose ``forward`` maps
(B, T, F) inputs to (B, S, C) outputs, C being every target's outputs side by side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..checks import check_choice, check_mapping, check_positive_int, quote
from ..errors import ConfigError
from ..kinds import KINDS
from ..spec import TARGET_KINDS
from ..storage.saved_files import check_fields
from .channels import CHANNEL_OUTPUT, ChannelIndependent, channel_columns
from .decoders import DECODERS, Decoder, DecoderParts, Encoded
from .embedding import CategoryEmbedding, Embedded
from .encoder import LSTMEncoder
from .heads import HEADS, Output
from .norm import MODES as NORM_MODES
from .norm import InstanceNorm, norm_mode
from .segments import SegmentEmbedding
from .static import InitialState, StaticInputs, per_step_columns


@dataclass(frozen=True)
class NetworkConfig:
    """Everything needed to rebuild the network.

    Args:
        n_inputs: encoded input features per step.
        outputs: the targets with their output widths.
        steps: output steps per sample (horizon; 1 for a sequence; ignored if aligned).
        hidden: LSTM units per direction and layer (and the segment embedding size).
        layers: stacked encoder layers.
        bidirectional: bidirectional encoder.
        dropout: dropout between layers and before the heads.
        decoder: a name in ``DECODERS`` (``lstmkit.nn.decoders``): ``direct``, ``repeat``,
            ``autoregressive``, ``parallel`` or ``aligned``.
        heads: ``shared`` (one dense layer for all regression targets) or ``separate``.
        instance_norm: normalise each window by its own statistics: True or
            ``revin`` (mean and std), ``last`` (subtract the last value), ``anchored``
            (mean and std in; outputs as changes from each target's naive forecast),
            or False.
        numeric_inputs: per input feature, whether it is numeric (not one-hot).
        target_channels: per target, the input feature it also is, or -1.
        checkpoint_steps: recompute encoder activations in chunks of this many steps
            in training, so memory does not grow with the input length.
        segment: steps per input segment (and per output segment of the parallel
            decoder), or None to recur over single steps.
        channel_independent: every input channel is its own univariate series through
            one shared network; each target is read from its own channel
            (``lstmkit.nn.channels``).
        conv: add a convolutional (FCN) branch beside the LSTM (direct decoder).
        future_columns: the encoded inputs known in advance, read over the output
            steps by the decoder (forecasts). A channel-independent network reads
            them there only: as channels of their own they would forecast nothing.
            Except with the autoregressive decoder, a linear term of them is also
            added to the outputs after the instance norm is undone.
        embedded: each categorical input given as an index column: (its column,
            categories, vector size); a learned vector replaces the column.
        anchor_lags: ``anchored``: per target, the steps back its naive forecast
            looks (1: the last value; a season: the value one season before each
            step); empty for 1 throughout.
        static_columns: the encoded inputs with one value per series or sequence
            (``Feature.static``): read once per window, they set the encoder's initial
            state (``lstmkit.nn.static``) and are no per-step input or channel.
    """

    n_inputs: int
    outputs: tuple[Output, ...]
    steps: int = 1
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    decoder: str = "direct"
    heads: str = "shared"
    instance_norm: bool | str = False
    numeric_inputs: tuple[bool, ...] = ()
    target_channels: tuple[int, ...] = ()
    checkpoint_steps: int | None = None
    segment: int | None = None
    channel_independent: bool = False
    conv: bool = False
    future_columns: tuple[int, ...] = ()
    embedded: tuple[Embedded, ...] = ()
    anchor_lags: tuple[int, ...] = ()
    static_columns: tuple[int, ...] = ()

    @property
    def n_future(self) -> int:
        return len(self.future_columns)

    @property
    def n_static(self) -> int:
        """Size of the static vector the encoder's initial state is made from: one per
        static column, an embedded one's vector size for its index column."""
        static = set(self.static_columns)
        return len(static) + sum(d - 1 for j, _, d in self.embedded if j in static)

    def per_step(self) -> NetworkConfig:
        """This config over the input columns read step by step: the static ones taken
        out, every per-column list and index moved to match (itself without static ones)."""
        if not self.static_columns:
            return self
        kept = per_step_columns(self.n_inputs, self.static_columns)
        at = {j: i for i, j in enumerate(kept)}
        numeric = tuple(self.numeric_inputs[j] for j in kept) if self.numeric_inputs else ()
        return dataclasses.replace(
            self, n_inputs=len(kept), numeric_inputs=numeric,
            target_channels=tuple(at.get(j, -1) for j in self.target_channels),
            future_columns=tuple(at[j] for j in self.future_columns),
            embedded=tuple((at[j], k, d) for j, k, d in self.embedded if j in at),
            static_columns=())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> NetworkConfig:
        """A saved config, checked: every field of its type, sizes positive, the per-input
        and per-target lists as long as the inputs and targets, their indices in range.

        Whether the sizes fit the spec and encoding is for the loader to check
        (``lstmkit.storage.artifact``), and whether they fit the weights, for the weights.

        Raises:
            ConfigError: naming the field (``network.hidden``) and its value.
        """
        check_fields(data, SAVED_REQUIRED, SAVED_OPTIONAL, where="network.")
        check_mapping(data, "network", [f.name for f in dataclasses.fields(cls)])
        for name in ("n_inputs", "steps", "hidden", "layers"):
            if name in data:
                check_positive_int(f"network.{name}", data[name])
        for name in ("checkpoint_steps", "segment"):
            check_positive_int(f"network.{name}", data.get(name), allow_none=True)
        check_choice("network.decoder", data.get("decoder", cls.decoder), tuple(DECODERS))
        check_choice("network.heads", data.get("heads", cls.heads), HEADS)
        if not 0 <= data.get("dropout", cls.dropout) < 1:
            raise ConfigError(f"network.dropout is {quote(data['dropout'])}; it must lie in [0, 1)")
        if isinstance(data.get("instance_norm"), str):
            check_choice("network.instance_norm", data["instance_norm"], NORM_MODES)
        outputs = tuple(_output(o, f"network.outputs[{i}]") for i, o in enumerate(data["outputs"]))
        n = data["n_inputs"]
        lists = {"numeric_inputs": (bool, n, None), "target_channels": (int, len(outputs), (-1, n)),
                 "future_columns": (int, None, (0, n)), "static_columns": (int, None, (0, n)),
                 "anchor_lags": (int, len(outputs) if data.get("anchor_lags") else None,
                                 (1, 2**31))}
        for name, (kind, length, bounds) in lists.items():
            _check_list(data.get(name, []), f"network.{name}", kind, length, bounds)
        embedded = tuple(_embedded(e, f"network.embedded[{i}]", n)
                         for i, e in enumerate(data.get("embedded", [])))
        _check_static(data)
        return cls(**{**data, "outputs": outputs, "numeric_inputs": tuple(data["numeric_inputs"]),
                      "target_channels": tuple(data["target_channels"]),
                      "future_columns": tuple(data.get("future_columns", ())),
                      "embedded": embedded, "anchor_lags": tuple(data.get("anchor_lags", ())),
                      "static_columns": tuple(data.get("static_columns", ()))})


# A saved config's fields and their JSON types. Those of ``SAVED_OPTIONAL`` came in later
# versions or keep their default when absent.
SAVED_REQUIRED = {"n_inputs": int, "outputs": list, "numeric_inputs": list,
                  "target_channels": list}
SAVED_OPTIONAL = {"steps": int, "hidden": int, "layers": int, "bidirectional": bool,
                  "dropout": float, "decoder": str, "heads": str, "instance_norm": (bool, str),
                  "checkpoint_steps": (int, type(None)), "segment": (int, type(None)),
                  "channel_independent": bool, "conv": bool, "future_columns": list,
                  "embedded": list, "anchor_lags": list, "static_columns": list}


def _output(data: Any, where: str) -> Output:
    """A saved ``Output``, checked."""
    check_fields(data, {"name": str, "kind": str, "width": int}, where=f"{where}.")
    check_mapping(data, where, ("name", "kind", "width"))
    check_choice(f"{where}.kind", data["kind"], TARGET_KINDS)
    check_positive_int(f"{where}.width", data["width"])
    return Output(**data)


def _check_static(data: dict[str, Any]) -> None:
    """Raise ConfigError unless a saved config's static columns are distinct, neither known
    in advance nor a target's channel, and leave a column read step by step."""
    static = data.get("static_columns", [])
    clash = set(static) & {*data.get("future_columns", []), *data["target_channels"]}
    if len(set(static)) != len(static) or clash or len(static) >= data["n_inputs"]:
        raise ConfigError(f"network.static_columns is {quote(static)}; they must be distinct "
                          "columns, none known in advance or a target's, and not all "
                          f"{data['n_inputs']} input columns")


def _embedded(data: Any, where: str, n_inputs: int) -> Embedded:
    """A saved (column, categories, vector size) triple, checked."""
    _check_list(data, where, int, 3, None)
    column, categories, size = data
    if not 0 <= column < n_inputs or categories < 1 or size < 1:
        raise ConfigError(f"{where} is {quote(data)}; it must be [column in [0, {n_inputs}), "
                          "categories >= 1, vector size >= 1]")
    return column, categories, size


def _check_list(data: Any, where: str, kind: type, length: int | None,
                bounds: tuple[int, int] | None) -> None:
    """Raise ConfigError unless ``data`` is a list of ``kind`` values, of ``length`` if given,
    each in ``[low, high)`` if ``bounds`` are given."""
    if not isinstance(data, list) or (length is not None and len(data) != length):
        size = f" of {length}" if length is not None else ""
        raise ConfigError(f"{where} is {quote(data)}; it must be an array{size} of "
                          f"{kind.__name__} values")
    low, high = bounds or (None, None)
    for value in data:
        if (isinstance(value, bool) != (kind is bool) or not isinstance(value, kind)
                or (bounds and not low <= value < high)):
            span = f" in [{low}, {high})" if bounds else ""
            raise ConfigError(f"{where} holds {quote(value)}; it must hold {kind.__name__} "
                              f"values{span}")


class LSTMNetwork(nn.Module):
    """Encoder, decoder and heads for any of the task shapes.

    The static input columns (if any) are taken out first (``lstmkit.nn.static``); the
    others pass the instance norm and the category embedding (if any), then the
    ``EncoderDecoder`` (wrapped in ``ChannelIndependent`` when the config says so); its
    outputs go back through the instance norm and take the direct effect of the inputs
    known in advance. The weights are saved under the names of the network before the
    encoder-decoder was a module of its own (``saved_name``), so that every saved model
    keeps loading.

    Example:
        >>> cfg = NetworkConfig(n_inputs=7, outputs=(Output("OT", "regression", 1),), steps=24)
        >>> LSTMNetwork(cfg)(torch.randn(32, 96, 7)).shape
        torch.Size([32, 24, 1])
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        c = config.per_step()                           # without the static columns
        decoder = _decoder_type(c)
        self.static = (StaticInputs(config.n_inputs, config.static_columns, config.embedded)
                       if config.static_columns else None)
        self.embed = None
        width, n_future = c.n_inputs, c.n_future        # per step, after any embedding
        if c.embedded:
            self.embed = CategoryEmbedding(c.n_inputs, c.embedded, c.future_columns)
            width, n_future = self.embed.out_features, self.embed.future_features
        self.core = _core(c, width, n_future, config.n_static)
        self.norm = None
        # Outputs read from input channels come in the inputs' scaled units: the norm maps them.
        if c.instance_norm or c.channel_independent:
            self.norm = InstanceNorm(list(c.numeric_inputs), list(c.target_channels),
                                     [sl.start for sl in self.output_slices],
                                     mode=norm_mode(c.instance_norm) or "revin", steps=c.steps,
                                     lags=list(c.anchor_lags) or None,
                                     widths=[o.width for o in c.outputs],
                                     roles=[KINDS[o.kind].roles(o.width) for o in c.outputs])
        # Inputs known in advance also act on the outputs directly, after the instance norm
        # is undone: an effect fixed in the targets' units (an event that adds a set load)
        # need not be relearned for every window's scale. It starts at zero. A decoder that
        # feeds its outputs back does so in normalised units, which a term added afterwards
        # would miss, so it has none.
        self.future_effect = None
        if n_future and not decoder.feeds_back:
            self.future_effect = nn.Linear(n_future, sum(o.width for o in c.outputs),
                                           bias=False)
            nn.init.zeros_(self.future_effect.weight)
        # A kind that shapes its columns (non-crossing quantiles) takes its first column's
        # effect on all of them, which keeps their order: derived, not saved.
        self.register_buffer("effect_columns", _effect_columns(c.outputs), persistent=False)
        # Only values take it: a distribution's scale, shape or count rate does not.
        self.register_buffer("effect_mask", _effect_mask(c.outputs), persistent=False)
        self._paths = {saved_name(path): path for path in self.state_dict(keep_vars=True)}
        self.register_state_dict_post_hook(_to_saved_names)
        self.register_load_state_dict_pre_hook(_from_saved_names)

    @property
    def decoder(self) -> Decoder:
        """The decoder (inside the channel-independent wrapper, if any)."""
        return getattr(self.core, "inner", self.core).decoder

    @property
    def output_slices(self) -> list[slice]:
        """Each target's columns in the output of ``forward``."""
        return self.core.output_slices

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                teacher: Tensor | None = None, future: Tensor | None = None) -> Tensor:
        """Map inputs (B, T, F) to outputs (B, S, C).

        Args:
            x: encoded inputs, the static columns among them; sequences right-padded if
                ``lengths`` is given.
            lengths: (B,) true lengths, for batches of unequal sequences.
            teacher: (B, S, n_targets) true targets, for teacher forcing of the
                autoregressive decoder in training.
            future: (B, S, n_future) encoded inputs known in advance, over the
                output steps; required when ``n_future`` > 0.
        """
        c = self.config
        if c.n_future and future is None:
            raise ValueError(f"this network reads {c.n_future} inputs known in advance: pass "
                             f"future of shape (batch, {c.steps}, {c.n_future})")
        static = None
        if self.static is not None:
            x, static = self.static(x)                         # (B, T, F - S), (B, S')
        stats = None
        if c.instance_norm:
            x, stats = self.norm.normalize(x, lengths)         # (B, T, F), 2 x (B, 1, F)
            if teacher is not None:
                teacher = self.norm.normalize_targets(teacher, stats)
        if self.embed is not None:
            x = self.embed(x)                                  # (B, T, F')
            future = None if future is None else self.embed(future, future=True)  # (B, S, K')
        known = future
        out = self.core(x, lengths, teacher, future, static=static)  # (B, S, C)
        if self.norm is not None:
            out = self.norm.denormalize(out, stats)
        if self.future_effect is not None:
            effect = self.future_effect(known)                  # (B, S, C)
            if self.effect_columns is not None:
                effect = effect[..., self.effect_columns]
            if self.effect_mask is not None:
                effect = effect * self.effect_mask
            out = out + effect
        return out


def _effect_columns(outputs: tuple[Output, ...]) -> Tensor | None:
    """Per output column, the column whose effect of inputs known in advance it takes: its
    own, or, for a target whose kind ``constrains`` its columns, the target's first; None
    where every column takes its own."""
    columns, start = [], 0
    for o in outputs:
        shaped = KINDS[o.kind].constrains
        columns += [start] * o.width if shaped else list(range(start, start + o.width))
        start += o.width
    return None if columns == list(range(start)) else torch.tensor(columns)


def _effect_mask(outputs: tuple[Output, ...]) -> Tensor | None:
    """Per output column, 1 where it takes the effect of inputs known in advance (its kind's
    role is ``value``), else 0; None where every column takes it."""
    mask = [float(role == "value") for o in outputs for role in KINDS[o.kind].roles(o.width)]
    return None if all(mask) else torch.tensor(mask)


def _decoder_type(c: NetworkConfig) -> type[Decoder]:
    """The decoder class of ``c``; ValueError if it cannot run as ``c`` asks."""
    if c.decoder not in DECODERS:
        raise ValueError(f"unknown decoder {c.decoder!r}")
    decoder = DECODERS[c.decoder]
    if c.channel_independent and (c.embedded or not decoder.per_channel):
        raise ValueError("channel_independent needs a decoder that runs per channel "
                         f"(not {c.decoder!r}) and no embedded inputs (they are not channels)")
    if c.conv and not decoder.takes_conv:
        raise ValueError(f"conv adds a branch the {c.decoder!r} decoder does not read")
    return decoder


def _core(c: NetworkConfig, width: int, n_future: int, n_static: int) -> nn.Module:
    """The encoder-decoder over ``width`` inputs per step (and a static vector of
    ``n_static``), run on every channel alone if ``c`` is channel-independent."""
    if not c.channel_independent:
        return EncoderDecoder(c, width, c.outputs, 0, n_future, n_static)
    channels = len(channel_columns(c.n_inputs, c.future_columns))
    inner = EncoderDecoder(c, 1, (CHANNEL_OUTPUT,), channels, n_future, n_static)
    return ChannelIndependent(inner, c.n_inputs, c.future_columns, c.target_channels)


class EncoderDecoder(nn.Module):
    """(Segments,) the LSTM encoder and a decoder with its heads: (B, T, F) -> (B, S, C).

    Args:
        config: the network's config (sizes, decoder, heads).
        inputs: input features per step (1 for each channel of a channel-independent one).
        outputs: the targets with their output widths.
        channels: channels sharing it (channel-independent), or 0.
        n_future: inputs known in advance per output step (after any embedding).
        n_static: size of the static vector that sets the encoder's initial state, or 0.
    """

    def __init__(self, config: NetworkConfig, inputs: int, outputs: tuple[Output, ...],
                 channels: int = 0, n_future: int = 0, n_static: int = 0) -> None:
        super().__init__()
        c = config
        self.segments = SegmentEmbedding(inputs, c.segment, c.hidden) if c.segment else None
        self.encoder = LSTMEncoder(c.hidden if c.segment else inputs, c.hidden, c.layers,
                                   c.bidirectional, c.dropout, c.checkpoint_steps)
        self.decoder = DECODERS[c.decoder](decoder_parts(c, self.encoder.out_features, inputs,
                                                         outputs, channels, n_future))
        self.initial = (InitialState(n_static, c.layers, self.encoder.directions, c.hidden)
                        if n_static else None)

    @property
    def output_slices(self) -> list[slice]:
        """Each target's columns in the output of ``forward``."""
        return self.decoder.heads.slices

    def forward(self, x: Tensor, lengths: Tensor | None = None, teacher: Tensor | None = None,
                future: Tensor | None = None, channel: Tensor | None = None,
                static: Tensor | None = None) -> Tensor:
        """Map inputs (B, T, F) (and the static vector (B, S')) to outputs (B, S, C); see
        ``Decoder.forward``."""
        # Segments (if any) are embedded inside the encoder: under checkpoint_steps it
        # recomputes the embedding chunk by chunk with the recurrence. Only a decoder of
        # one output per input step reads the per-step outputs; the others the final state.
        initial = None if self.initial is None else self.initial(static)  # 2 x (L*D, B, H)
        outputs, state = self.encoder(x, lengths, self.segments,
                                      keep_outputs=self.decoder.aligned, initial=initial)
        encoded = Encoded(x, lengths, outputs, state, self.encoder)
        return self.decoder(encoded, future, teacher, channel)


def decoder_parts(c: NetworkConfig, features: int, inputs: int, outputs: tuple[Output, ...],
                  channels: int, n_future: int) -> DecoderParts:
    """What ``c`` fixes of its decoder, given the encoder's output size and the inputs,
    outputs, channels and inputs known in advance the decoder works with."""
    return DecoderParts(features=features, outputs=tuple(outputs), hidden=c.hidden,
                        layers=c.layers, dropout=c.dropout, steps=c.steps,
                        shared=c.heads == "shared", n_future=n_future, segment=c.segment,
                        channels=channels, inputs=inputs, conv=c.conv)


# Modules that group others without a name of their own in the saved weights, and the
# decoder's modules saved at the top: the names of the network before decoders and channel
# independence were modules, which every saved model (0.2.0 on) uses.
GROUPS = ("core", "inner")
SAVED_AT_TOP = ("heads", "conv")


def saved_name(path: str) -> str:
    """The name a weight at module ``path`` is saved under (``core.inner.decoder.heads.x``
    -> ``heads.x``, ``core.decoder.lstm.x`` -> ``decoder.lstm.x``)."""
    parts = path.split(".")
    while parts[0] in GROUPS:
        parts = parts[1:]
    if parts[0] == "decoder" and parts[1] in SAVED_AT_TOP:
        parts = parts[1:]
    return ".".join(parts)


def _to_saved_names(network: LSTMNetwork, state: dict[str, Any], prefix: str,
                    local_metadata: Any) -> None:
    """``state_dict`` hook: the network's entries under their saved names, in order."""
    for key in [k for k in state if k.startswith(prefix)]:
        state[prefix + saved_name(key[len(prefix):])] = state.pop(key)


def _from_saved_names(network: LSTMNetwork, state: dict[str, Any], prefix: str,
                      *args: Any) -> None:
    """``load_state_dict`` hook: saved names back to the network's module paths."""
    for key in [k for k in state if k.startswith(prefix)]:
        path = network._paths.get(key[len(prefix):])
        if path is not None:
            state[prefix + path] = state.pop(key)
