"""The training objective: a weighted sum of one loss per target, blind to missing targets."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .spec import Target


def _elementwise(kind: str, loss: str, out: Tensor, y: Tensor) -> Tensor:
    """Loss of each element; ``y`` has no NaN here.

    Regression and binary: ``out`` and ``y`` are (B, S, k) for k targets at once.
    Classification: ``out`` is (B, S, classes) and ``y`` (B, S) class indices.
    """
    if kind == "classification":
        k = out.shape[-1]
        return F.cross_entropy(out.reshape(-1, k), y.reshape(-1).long(),
                               reduction="none").view(y.shape)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out, y, reduction="none")
    if loss == "mae":
        return (out - y).abs()
    if loss == "huber":
        return F.huber_loss(out, y, reduction="none")
    return (out - y).square()


class MultiTargetLoss(nn.Module):
    """Weighted sum over targets of each target's mean loss over its known values.

    Regression and binary targets with the same loss are computed together, one
    set of tensor operations for all of them; each categorical target separately.

    Args:
        targets: the spec's targets (kind, loss and weight of each).
        slices: each target's channels in the network output.

    Returns (from ``forward``, given outputs (B, S, C) and targets (B, S, T)):
        the total loss and a (T,) tensor of the per-target losses.
    """

    def __init__(self, targets: list[Target], slices: list[slice]) -> None:
        super().__init__()
        self.targets, self.slices = list(targets), list(slices)
        groups: dict[tuple[str, str], list[int]] = {}
        for j, target in enumerate(self.targets):
            key = (target.kind, target.loss if target.kind == "regression" else target.kind)
            groups.setdefault(key, []).append(j)
        self.groups = []    # (kind, loss, target indices, output channels or a class slice)
        for (kind, loss), members in groups.items():
            if kind == "classification":
                self.groups += [(kind, loss, [j], self.slices[j]) for j in members]
            else:
                self.groups.append((kind, loss, members, [self.slices[j].start for j in members]))
        order = [j for *_, members, _ in self.groups for j in members]
        self.register_buffer("weights", torch.tensor([t.weight for t in self.targets]),
                             persistent=False)
        self.register_buffer("order", torch.tensor(order).argsort(), persistent=False)

    def forward(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        known = ~torch.isnan(y)                                # (B, S, T)
        y = torch.where(known, y, 0.0)
        losses = []
        for kind, loss, members, channels in self.groups:
            if kind == "classification":
                mask = known[..., members[0]]                  # (B, S)
                value = _elementwise(kind, loss, outputs[..., channels], y[..., members[0]])
                losses.append(((value * mask).sum() / mask.sum().clamp(min=1))[None])
            else:
                mask = known[..., members]                     # (B, S, k)
                value = _elementwise(kind, loss, outputs[..., channels], y[..., members])
                losses.append((value * mask).sum((0, 1)) / mask.sum((0, 1)).clamp(min=1))
        per_target = torch.cat(losses)[self.order]             # (T,) in the spec's order
        return (self.weights * per_target).sum(), per_target.detach()
