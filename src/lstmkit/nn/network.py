"""The whole network: inputs -> (segments) -> LSTM encoder -> decoder -> output heads.

Reads top to bottom: a config dataclass, then one module whose ``forward`` maps
(B, T, F) inputs to (B, S, C) outputs, C being every target's outputs side by side.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..checks import check_choice, check_mapping, check_positive_int, quote
from ..errors import ConfigError
from ..saved_files import check_fields
from ..spec import TARGET_KINDS
from .conv import ConvBranch
from .decoders import DECODERS, AutoregressiveDecoder, ParallelDecoder, RepeatDecoder
from .dropout import Dropout
from .embedding import CategoryEmbedding, Embedded
from .encoder import LSTMEncoder
from .heads import HEADS, Heads, Output
from .norm import MODES as NORM_MODES
from .norm import InstanceNorm, norm_mode
from .segments import SegmentEmbedding


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
        decoder: ``direct``, ``repeat``, ``autoregressive``, ``parallel`` or ``aligned``.
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
            one shared network; each target is read from its own channel.
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

    @property
    def n_future(self) -> int:
        return len(self.future_columns)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> NetworkConfig:
        """A saved config, checked: every field of its type, sizes positive, the per-input
        and per-target lists as long as the inputs and targets, their indices in range.

        Whether the sizes fit the spec and encoding is for the loader to check
        (``lstmkit.artifact``), and whether they fit the weights, for the weights.

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
        check_choice("network.decoder", data.get("decoder", cls.decoder), NETWORK_DECODERS)
        check_choice("network.heads", data.get("heads", cls.heads), HEADS)
        if not 0 <= data.get("dropout", cls.dropout) < 1:
            raise ConfigError(f"network.dropout is {quote(data['dropout'])}; it must lie in [0, 1)")
        if isinstance(data.get("instance_norm"), str):
            check_choice("network.instance_norm", data["instance_norm"], NORM_MODES)
        outputs = tuple(_output(o, f"network.outputs[{i}]") for i, o in enumerate(data["outputs"]))
        n = data["n_inputs"]
        lists = {"numeric_inputs": (bool, n, None), "target_channels": (int, len(outputs), (-1, n)),
                 "future_columns": (int, None, (0, n)),
                 "anchor_lags": (int, len(outputs) if data.get("anchor_lags") else None,
                                 (1, 2**31))}
        for name, (kind, length, bounds) in lists.items():
            _check_list(data.get(name, []), f"network.{name}", kind, length, bounds)
        embedded = tuple(_embedded(e, f"network.embedded[{i}]", n)
                         for i, e in enumerate(data.get("embedded", [])))
        return cls(**{**data, "outputs": outputs, "numeric_inputs": tuple(data["numeric_inputs"]),
                      "target_channels": tuple(data["target_channels"]),
                      "future_columns": tuple(data.get("future_columns", ())),
                      "embedded": embedded, "anchor_lags": tuple(data.get("anchor_lags", ()))})


# A saved config's fields and their JSON types. Those of ``SAVED_OPTIONAL`` came in later
# versions or keep their default when absent.
SAVED_REQUIRED = {"n_inputs": int, "outputs": list, "numeric_inputs": list,
                  "target_channels": list}
SAVED_OPTIONAL = {"steps": int, "hidden": int, "layers": int, "bidirectional": bool,
                  "dropout": float, "decoder": str, "heads": str, "instance_norm": (bool, str),
                  "checkpoint_steps": (int, type(None)), "segment": (int, type(None)),
                  "channel_independent": bool, "conv": bool, "future_columns": list,
                  "embedded": list, "anchor_lags": list}
NETWORK_DECODERS = (*DECODERS, "aligned")


def _output(data: Any, where: str) -> Output:
    """A saved ``Output``, checked."""
    check_fields(data, {"name": str, "kind": str, "width": int}, where=f"{where}.")
    check_mapping(data, where, ("name", "kind", "width"))
    check_choice(f"{where}.kind", data["kind"], TARGET_KINDS)
    check_positive_int(f"{where}.width", data["width"])
    return Output(**data)


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

    Example:
        >>> cfg = NetworkConfig(n_inputs=7, outputs=(Output("OT", "regression", 1),), steps=24)
        >>> LSTMNetwork(cfg)(torch.randn(32, 96, 7)).shape
        torch.Size([32, 24, 1])
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = c = config
        # Channel-independent: every channel is a univariate series with one output; the
        # inputs known in advance are not channels.
        kept = [j for j in range(c.n_inputs) if j not in c.future_columns]
        if c.embedded and c.channel_independent:
            raise ValueError("embedded inputs are not channels: they need channel_independent "
                             "off")
        self.embed = None
        width, n_future = c.n_inputs, c.n_future        # per step, after any embedding
        if c.embedded:
            self.embed = CategoryEmbedding(c.n_inputs, c.embedded, c.future_columns)
            width, n_future = self.embed.out_features, self.embed.future_features
        per_series = 1 if c.channel_independent else width
        outputs = [Output("value", "regression", 1)] if c.channel_independent else list(c.outputs)
        self.segments = None
        encoder_inputs = per_series
        if c.segment:
            self.segments = SegmentEmbedding(per_series, c.segment, c.hidden)
            encoder_inputs = c.hidden
        self.encoder = LSTMEncoder(encoder_inputs, c.hidden, c.layers, c.bidirectional,
                                   c.dropout, c.checkpoint_steps)
        d = self.encoder.out_features
        # Without dropout, no module call that dispatches an operation per batch in inference.
        self.dropout = Dropout(c.dropout) if c.dropout else nn.Identity()
        self.conv = ConvBranch(per_series) if c.conv else None
        shared = c.heads == "shared"
        # Output steps per parallel-decoder segment (each segment reads its future values).
        self.out_segment = c.segment or c.steps
        if c.decoder == "direct":
            summary = d + (self.conv.out_features if self.conv else 0) + c.steps * n_future
            self.heads = Heads(summary, outputs, shared, steps=c.steps)
        elif c.decoder == "aligned":
            self.heads = Heads(d, outputs, shared)
        elif c.decoder == "repeat":
            self.decoder = RepeatDecoder(d, c.hidden, c.layers, c.dropout, n_future)
            self.heads = Heads(c.hidden, outputs, shared)
        elif c.decoder == "autoregressive":
            self.heads = Heads(d, outputs, shared)
            self.decoder = AutoregressiveDecoder(self.heads.width, d, c.layers, c.dropout,
                                                 n_future)
        elif c.decoder == "parallel":
            channels = len(kept) if c.channel_independent else 0
            self.decoder = ParallelDecoder(d, c.layers, math.ceil(c.steps / self.out_segment),
                                           channels, c.dropout, self.out_segment * n_future)
            self.heads = Heads(d, outputs, shared, steps=self.out_segment)
        else:
            raise ValueError(f"unknown decoder {c.decoder!r}")
        self.norm = None
        if c.instance_norm or c.channel_independent:
            columns = list(range(len(c.outputs))) if c.channel_independent else [
                sl.start for sl in self.heads.slices]
            self.norm = InstanceNorm(list(c.numeric_inputs), list(c.target_channels), columns,
                                     mode=norm_mode(c.instance_norm) or "revin", steps=c.steps,
                                     lags=list(c.anchor_lags) or None)
        # Inputs known in advance also act on the outputs directly, after the instance norm
        # is undone: an effect fixed in the targets' units (an event that adds a set load)
        # need not be relearned for every window's scale. It starts at zero. The
        # autoregressive decoder feeds its outputs back in normalised units, which a term
        # added afterwards would miss, so it has none.
        self.future_effect = None
        if n_future and c.decoder != "autoregressive":
            self.future_effect = nn.Linear(n_future, sum(o.width for o in c.outputs),
                                           bias=False)
            nn.init.zeros_(self.future_effect.weight)
        if c.channel_independent:
            self.register_buffer("channels", torch.tensor([kept.index(j) for j in
                                                           c.target_channels], dtype=torch.long))
            self.register_buffer("kept", torch.tensor(kept), persistent=False)

    @property
    def output_slices(self) -> list[slice]:
        """Each target's columns in the output of ``forward``."""
        if self.config.channel_independent:
            return [slice(j, j + 1) for j in range(len(self.config.outputs))]
        return self.heads.slices

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                teacher: Tensor | None = None, future: Tensor | None = None) -> Tensor:
        """Map inputs (B, T, F) to outputs (B, S, C).

        Args:
            x: encoded inputs; sequences right-padded if ``lengths`` is given.
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
        stats = None
        if c.instance_norm:
            x, stats = self.norm.normalize(x, lengths)         # (B, T, F), 2 x (B, 1, F)
            if teacher is not None:
                teacher = self.norm.normalize_targets(teacher, stats)
        if self.embed is not None:
            x = self.embed(x)                                  # (B, T, F')
            future = None if future is None else self.embed(future, future=True)  # (B, S, K')
        known = future
        channel = None
        if c.channel_independent:
            if c.future_columns:
                x = x.index_select(-1, self.kept)              # (B, T, F - K)
            b, t, f = x.shape
            x = x.transpose(1, 2).reshape(b * f, t, 1)         # (B*F, T, 1)
            channel = torch.arange(f, device=x.device).repeat(b)
            lengths = None if lengths is None else lengths.repeat_interleave(f)
            if future is not None:
                future = future.repeat_interleave(f, dim=0)    # (B*F, S, K)
        out = self._decode(x, lengths, teacher, channel, future)  # (B', S, C')
        if c.channel_independent:
            out = out.view(b, f, -1).transpose(1, 2)[..., self.channels]  # (B, S, T)
        if self.norm is not None:
            out = self.norm.denormalize(out, stats)
        if self.future_effect is not None:
            out = out + self.future_effect(known)               # (B, S, C)
        return out

    def _decode(self, x: Tensor, lengths: Tensor | None, teacher: Tensor | None,
                channel: Tensor | None, future: Tensor | None) -> Tensor:
        c = self.config
        # Segments (if any) are embedded inside the encoder: under checkpoint_steps it
        # recomputes the embedding chunk by chunk with the recurrence. Only the aligned
        # decoder reads the per-step outputs; the others read the final state.
        outputs, state = self.encoder(x, lengths, self.segments,
                                      keep_outputs=c.decoder == "aligned")
        # outputs (B, N, D) or None, state 2 x (L*D, B, H)
        if c.decoder == "aligned":
            return self.heads(self.dropout(outputs))           # (B, T, C)
        if c.decoder == "autoregressive":
            return self.decoder(self.encoder.per_layer(state), self.heads, c.steps,
                                self.dropout, teacher, future)  # (B, S, C)
        if c.decoder == "parallel":
            segments = None if future is None else self._segments(future)  # (B, M, W*K)
            features = self.decoder(self.encoder.per_layer(state), channel, segments)
            return self.heads(self.dropout(features))[:, : c.steps]  # (B, S, C) from (B, M, D)
        context = self.dropout(self.encoder.summary(state))   # (B, D)
        if c.decoder == "repeat":
            features = self.decoder(context, c.steps, future)  # (B, S, hidden)
            return self.heads(self.dropout(features))          # (B, S, C)
        if self.conv is not None:
            conv = self.dropout(self.conv(x, lengths))         # (B, 128)
            context = torch.cat([context, conv], dim=-1)       # (B, D + 128)
        if future is not None:
            context = torch.cat([context, future.flatten(1)], dim=-1)  # (B, D' + S*K)
        return self.heads(context)                             # (B, S, C) from (B, D')

    def _segments(self, future: Tensor) -> Tensor:
        """Future values (B, S, K) as the parallel decoder's segments: (B, M, W*K)."""
        b, steps, k = future.shape
        m = math.ceil(steps / self.out_segment)
        padded = F.pad(future, (0, 0, 0, m * self.out_segment - steps))  # (B, M*W, K)
        return padded.reshape(b, m, self.out_segment * k)
