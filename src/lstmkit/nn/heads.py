"""Output heads: dense layers from decoder features to every target's outputs.

Targets whose kind ``shares_head`` (regression) share one dense layer (``shared=True``:
correlated outputs) or get one each; every other target (classification, binary) gets
its own. Outputs are linear: values for regression, logits for classification and binary
targets; the target's kind (``lstmkit.kinds``) says what they mean, and a kind that
``constrains`` its outputs shapes them here (quantile targets: non-crossing values).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..kinds import KINDS

HEADS = ("shared", "separate")   # one dense layer for all regression targets, or one each


@dataclass(frozen=True)
class Output:
    """One target as the network sees it: a name, a kind and an output width."""

    name: str
    kind: str    # a name in lstmkit.kinds.KINDS: "regression", "classification", "binary"
    width: int   # the kind's width: 1, or the number of classes


class Heads(nn.Module):
    """Dense output layers applied to per-step features.

    Args:
        in_features: feature size D of the decoder.
        outputs: the targets, in order.
        shared: one dense layer for all targets whose kind shares a head (regression),
            else one each.
        steps: output steps per feature vector: the horizon for a direct decoder
            (one vector -> all steps), 1 when the decoder yields a vector per step.

    Returns (from ``forward``, given features (B, S, D), or (B, D) for one vector each):
        (B, S * steps, C) with C = sum of widths, targets side by side in order (S = 1
        for (B, D) features).

    Example:
        >>> outputs = [Output("temp", "regression", 1), Output("kind", "classification", 3)]
        >>> heads = Heads(64, outputs, shared=True, steps=24)
        >>> heads(torch.randn(8, 1, 64)).shape
        torch.Size([8, 24, 4])
        >>> heads(torch.randn(8, 64)).shape
        torch.Size([8, 24, 4])
    """

    def __init__(self, in_features: int, outputs: list[Output], shared: bool, steps: int = 1):
        super().__init__()
        self.outputs, self.steps = list(outputs), steps
        self.kinds = [KINDS[o.kind] for o in outputs]
        sharing = [i for i, kind in enumerate(self.kinds) if kind.shares_head]
        groups = [sharing] if shared and sharing else [[i] for i in sharing]
        groups += [[i] for i, kind in enumerate(self.kinds) if not kind.shares_head]
        self.groups = groups                                   # target indices per layer
        self.layers = nn.ModuleList(
            nn.Linear(in_features, steps * sum(outputs[i].width for i in g)) for g in groups)
        order = [i for g in groups for i in g]                 # targets in layer order
        self.restore = [order.index(i) for i in range(len(outputs))]
        edges = [0, *itertools.accumulate(o.width for o in outputs)]   # also on meta
        self.slices = [slice(edges[i], edges[i + 1]) for i in range(len(outputs))]
        self.constrained = any(kind.constrains for kind in self.kinds)   # e.g. non-crossing

    @property
    def width(self) -> int:
        return sum(o.width for o in self.outputs)

    def forward(self, features: Tensor) -> Tensor:
        out = self._linear(features)
        if not self.constrained:
            return out
        return torch.cat([kind.constrain(out[..., sl]) if kind.constrains else out[..., sl]
                          for kind, sl in zip(self.kinds, self.slices, strict=True)], dim=-1)

    def _linear(self, features: Tensor) -> Tensor:
        # (B, D) goes through the layers as is: no reshapes forward and back (a small
        # model's step feels every operation).
        b, s = features.shape[0], features.shape[1] if features.dim() == 3 else 1
        if len(self.layers) == 1:                              # one layer: already in order
            return self.layers[0](features).view(b, s * self.steps, -1)  # (B, S*steps, C)
        parts: list[Tensor] = []
        for group, layer in zip(self.groups, self.layers, strict=True):
            out = layer(features).view(b, s * self.steps, -1)  # (B, S*steps, group width)
            parts += out.split([self.outputs[i].width for i in group], dim=-1)
        if len(parts) == 1:
            return parts[0]
        return torch.cat([parts[i] for i in self.restore], dim=-1)  # (B, S*steps, C)

    def feedback(self, outputs: Tensor) -> Tensor:
        """Predictions as the next decoder input: each kind's activation (values, class
        probabilities, P(positive))."""
        parts = [kind.activate(outputs[..., sl]) for kind, sl in zip(self.kinds, self.slices,
                                                                      strict=True)]
        return torch.cat(parts, dim=-1)

    def teacher(self, targets: Tensor) -> Tensor:
        """True targets (B, S, n_targets) in the same form as ``feedback``; missing -> 0."""
        parts = []
        for j, (o, kind) in enumerate(zip(self.outputs, self.kinds, strict=True)):
            value = targets[..., j : j + 1]
            parts.append(kind.teacher(value, ~torch.isnan(value), o.width))
        return torch.cat(parts, dim=-1)
