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


def _mean_per_target(kind: str, loss: str, out: Tensor, y: Tensor) -> Tensor:
    """Mean loss of each target over batch and steps, (k,); ``y`` has no NaN here.

    A categorical target's mean comes from cross-entropy's own reduction: one kernel
    instead of three, a fifth of a small classifier's loss time.
    """
    if kind == "classification":
        k = out.shape[-1]
        return F.cross_entropy(out.reshape(-1, k), y.reshape(-1).long()).reshape(1)
    return _elementwise(kind, loss, out, y).mean((0, 1))


class MultiTargetLoss(nn.Module):
    """Weighted sum over targets of each target's mean loss over its known values.

    Regression and binary targets with the same loss are computed together, one
    set of tensor operations for all of them; each categorical target separately.

    Args:
        targets: the spec's targets (kind, loss and weight of each).
        slices: each target's channels in the network output.
        masked: targets may hold NaN (missing) values, left out of the loss; without
            gaps (``False``) the masking operations are skipped.

    Returns (from ``forward``, given outputs (B, S, C) and targets (B, S, T)):
        the total loss and a (T,) tensor of the per-target losses.
    """

    def __init__(self, targets: list[Target], slices: list[slice], masked: bool = True) -> None:
        super().__init__()
        self.targets, self.slices, self.masked = list(targets), list(slices), masked
        groups: dict[tuple[str, str], list[int]] = {}
        for j, target in enumerate(self.targets):
            key = (target.kind, target.loss if target.kind == "regression" else target.kind)
            groups.setdefault(key, []).append(j)
        self.groups = []    # (kind, loss, target index or indices, output channels)
        for (kind, loss), members in groups.items():
            if kind == "classification":
                self.groups += [(kind, loss, j, self.slices[j]) for j in members]
            else:
                channels = [self.slices[j].start for j in members]
                self.groups.append((kind, loss, _indexer(members), _indexer(channels)))
        order = [j for members in groups.values() for j in members]
        self.register_buffer("weights", torch.tensor([t.weight for t in self.targets]),
                             persistent=False)
        self.register_buffer("order", None if order == sorted(order) else
                             torch.tensor(order).argsort(), persistent=False)

    def forward(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        known = None
        if self.masked:
            known = ~torch.isnan(y)                            # (B, S, T)
            y = torch.where(known, y, 0.0)
        losses = []
        for kind, loss, members, channels in self.groups:
            # (B, S) for a categorical target, (B, S, k) for k targets computed together
            out, target = outputs[..., channels], y[..., members]
            if known is None:
                losses.append(_mean_per_target(kind, loss, out, target))
            else:
                value, mask = _elementwise(kind, loss, out, target), known[..., members]
                losses.append((value * mask).sum((0, 1)).reshape(-1)
                              / mask.sum((0, 1)).clamp(min=1).reshape(-1))
        per_target = losses[0] if len(losses) == 1 else torch.cat(losses)
        if self.order is not None:
            per_target = per_target[self.order]                # (T,) in the spec's order
        return (self.weights * per_target).sum(), per_target.detach()


def _indexer(positions: list[int]) -> slice | list[int]:
    """Consecutive positions as a slice (indexing makes a view), others as a list."""
    if positions == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return positions
