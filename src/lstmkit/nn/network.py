"""The whole network: LSTM encoder -> decoder for the task shape -> output heads.

Reads top to bottom: a config dataclass, then one module whose ``forward`` maps
(B, T, F) inputs to (B, S, C) outputs, C being every target's outputs side by side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from .decoders import AutoregressiveDecoder, RepeatDecoder
from .encoder import LSTMEncoder
from .heads import Heads, Output
from .norm import InstanceNorm


@dataclass(frozen=True)
class NetworkConfig:
    """Everything needed to rebuild the network.

    Args:
        n_inputs: encoded input features per step.
        outputs: the targets with their output widths.
        steps: output steps per sample (horizon; 1 for a sequence; ignored if aligned).
        hidden: LSTM units per direction and layer.
        layers: stacked encoder layers.
        bidirectional: bidirectional encoder.
        dropout: dropout between layers and before the heads.
        decoder: ``direct``, ``repeat``, ``autoregressive`` or ``aligned``.
        heads: ``shared`` (one dense layer for all regression targets) or ``separate``.
        instance_norm: normalise each window by its own statistics (RevIN).
        numeric_inputs: per input feature, whether it is numeric (not one-hot).
        target_channels: per target, the input feature it also is, or -1.
        checkpoint_steps: recompute encoder activations in chunks of this many steps
            in training, so memory does not grow with the input length.
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
    instance_norm: bool = False
    numeric_inputs: tuple[bool, ...] = ()
    target_channels: tuple[int, ...] = ()
    checkpoint_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        outputs = tuple(Output(**o) for o in data["outputs"])
        return cls(**{**data, "outputs": outputs, "numeric_inputs": tuple(data["numeric_inputs"]),
                      "target_channels": tuple(data["target_channels"])})


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
        self.encoder = LSTMEncoder(c.n_inputs, c.hidden, c.layers, c.bidirectional, c.dropout,
                                   c.checkpoint_steps)
        d = self.encoder.out_features
        self.dropout = nn.Dropout(c.dropout)
        shared = c.heads == "shared"
        if c.decoder == "direct":
            self.heads = Heads(d, list(c.outputs), shared, steps=c.steps)
        elif c.decoder == "repeat":
            self.decoder = RepeatDecoder(d, c.hidden, c.layers, c.dropout)
            self.heads = Heads(c.hidden, list(c.outputs), shared)
        elif c.decoder == "autoregressive":
            self.heads = Heads(d, list(c.outputs), shared)
            self.decoder = AutoregressiveDecoder(self.heads.width, d, c.layers, c.dropout)
        elif c.decoder == "aligned":
            self.heads = Heads(d, list(c.outputs), shared)
        else:
            raise ValueError(f"unknown decoder {c.decoder!r}")
        self.norm = None
        if c.instance_norm:
            columns = [sl.start for sl in self.heads.slices]
            self.norm = InstanceNorm(list(c.numeric_inputs), list(c.target_channels), columns)

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                teacher: Tensor | None = None) -> Tensor:
        """Map inputs (B, T, F) to outputs (B, S, C).

        Args:
            x: encoded inputs; sequences right-padded if ``lengths`` is given.
            lengths: (B,) true lengths, for batches of unequal sequences.
            teacher: (B, S, n_targets) true targets, for teacher forcing of the
                autoregressive decoder in training.
        """
        stats = None
        if self.norm is not None:
            x, stats = self.norm.normalize(x, lengths)         # (B, T, F), 2 x (B, 1, F)
            if teacher is not None:
                teacher = self.norm.normalize_targets(teacher, stats)
        out = self._decode(x, lengths, teacher)                 # (B, S, C)
        return out if stats is None else self.norm.denormalize(out, stats)

    def _decode(self, x: Tensor, lengths: Tensor | None, teacher: Tensor | None) -> Tensor:
        c = self.config
        outputs, state = self.encoder(x, lengths)             # (B, T, D), 2 x (L*dirs, B, H)
        if c.decoder == "aligned":
            return self.heads(self.dropout(outputs))           # (B, T, C)
        if c.decoder == "autoregressive":
            return self.decoder(self.encoder.per_layer(state), self.heads, c.steps,
                                self.dropout, teacher)        # (B, S, C)
        context = self.dropout(self.encoder.summary(state))   # (B, D)
        if c.decoder == "repeat":
            features = self.decoder(context, c.steps)          # (B, S, hidden)
            return self.heads(self.dropout(features))          # (B, S, C)
        return self.heads(context[:, None, :])                 # (B, S, C) from (B, 1, D)
