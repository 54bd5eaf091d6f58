"""The training objective: a weighted sum of one loss per target, blind to missing targets."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .spec import Target


def _elementwise(target: Target, out: Tensor, y: Tensor) -> Tensor:
    """Loss of each (sample, step) for one target; ``y`` has no NaN here."""
    if target.kind == "classification":
        k = out.shape[-1]
        return F.cross_entropy(out.reshape(-1, k), y.reshape(-1).long(),
                               reduction="none").view(y.shape)
    out = out.squeeze(-1)
    if target.kind == "binary":
        return F.binary_cross_entropy_with_logits(out, y, reduction="none")
    if target.loss == "mae":
        return (out - y).abs()
    if target.loss == "huber":
        return F.huber_loss(out, y, reduction="none")
    return (out - y).square()


class MultiTargetLoss(nn.Module):
    """Weighted sum over targets of each target's mean loss over its known values.

    Args:
        targets: the spec's targets (kind, loss and weight of each).
        slices: each target's channels in the network output.

    Returns (from ``forward``, given outputs (B, S, C) and targets (B, S, T)):
        the total loss and a (T,) tensor of the per-target losses.
    """

    def __init__(self, targets: list[Target], slices: list[slice]) -> None:
        super().__init__()
        self.targets, self.slices = list(targets), list(slices)

    def forward(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        known = ~torch.isnan(y)                                # (B, S, T)
        y = torch.where(known, y, 0.0)
        losses = []
        for j, (target, sl) in enumerate(zip(self.targets, self.slices, strict=True)):
            mask = known[..., j]
            loss = _elementwise(target, outputs[..., sl], y[..., j]) * mask
            losses.append(loss.sum() / mask.sum().clamp(min=1))
        per_target = torch.stack(losses)                       # (T,)
        weights = per_target.new_tensor([t.weight for t in self.targets])
        return (weights * per_target).sum(), per_target.detach()
