"""The training objective: a weighted sum of one loss per target, blind to missing targets."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .spec import Target

REGRESSION_LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


def _loss(kind: str, loss: str, out: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """A target group's loss, reduced to its mean (a scalar) or per element
    (``reduction="none"``: shaped like ``y``); ``y`` has no NaN here.

    Regression and binary: ``out`` and ``y`` are (B, S, k) for k targets at once.
    Classification: ``out`` is (B, S, classes) and ``y`` (B, S) class indices. The
    mean comes from each loss's own reduction: one kernel forward and one backward,
    where the element-wise loss and its mean would take several (a small model's step
    feels it).
    """
    if kind == "classification":
        value = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1).long(),
                                reduction=reduction)
        return value if reduction == "mean" else value.view(y.shape)   # (B, S)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out, y, reduction=reduction)
    return REGRESSION_LOSSES[loss](out, y, reduction=reduction)


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
        the total loss, a scalar (``per_target`` gives each target's part).
    """

    def __init__(self, targets: list[Target], slices: list[slice], masked: bool = True) -> None:
        super().__init__()
        self.targets, self.slices, self.masked = list(targets), list(slices), masked
        groups: dict[tuple[str, str], list[int]] = {}
        for j, target in enumerate(self.targets):
            key = (target.kind, target.loss if target.kind == "regression" else target.kind)
            groups.setdefault(key, []).append(j)
        width = max(sl.stop for sl in self.slices)
        # (kind, loss, target index or indices, output channels, weight): the indexers are
        # None where they would take everything; the weight is one number for the group
        # when its targets share it (unmasked, the group's weighted sum is then the weight
        # times its number of targets times the mean over all its elements), else None.
        self.groups = []
        for (kind, loss), members in groups.items():
            if kind == "classification":
                self.groups += [(kind, loss, j, _all_or(self.slices[j], width),
                                 self.targets[j].weight) for j in members]
            else:
                weights = {self.targets[j].weight for j in members}
                weight = weights.pop() * len(members) if len(weights) == 1 else None
                channels = _indexer([self.slices[j].start for j in members])
                self.groups.append((kind, loss, _all_or(_indexer(members), len(self.targets)),
                                    _all_or(channels, width), weight))
        order = [j for members in groups.values() for j in members]
        self.register_buffer("weights", torch.tensor([t.weight for t in self.targets]),
                             persistent=False)
        self.register_buffer("order", None if order == sorted(order) else
                             torch.tensor(order).argsort(), persistent=False)

    def forward(self, outputs: Tensor, y: Tensor) -> Tensor:
        if self.masked:
            return (self.weights * self._per_target(outputs, y)).sum()
        total = None
        for kind, loss, members, channels, weight in self.groups:
            out, target = _take(outputs, channels), _take(y, members)
            if weight is None:                                  # unequal weights within
                term = (_take(self.weights, members)
                        * _loss(kind, loss, out, target, "none").mean((0, 1))).sum()
            else:
                term = _loss(kind, loss, out, target)
                term = term if weight == 1 else term * weight
            total = term if total is None else total + term
        return total

    @torch.no_grad()
    def per_target(self, outputs: Tensor, y: Tensor) -> Tensor:
        """Each target's mean loss over its known values, (T,) in the spec's order."""
        return self._per_target(outputs, y)

    def _per_target(self, outputs: Tensor, y: Tensor) -> Tensor:
        known = ~torch.isnan(y)                                # (B, S, T)
        y = torch.where(known, y, 0.0)
        losses = []
        for kind, loss, members, channels, _ in self.groups:
            # (B, S) for a categorical target, (B, S, k) for k targets computed together
            value = _loss(kind, loss, _take(outputs, channels), _take(y, members), "none")
            mask = _take(known, members)
            losses.append((value * mask).sum((0, 1)).reshape(-1)
                          / mask.sum((0, 1)).clamp(min=1).reshape(-1))
        per_target = losses[0] if len(losses) == 1 else torch.cat(losses)
        return per_target if self.order is None else per_target[self.order]


def _take(tensor: Tensor, index: slice | list[int] | int | None) -> Tensor:
    """``tensor[..., index]``, or ``tensor`` itself where ``index`` is None (everything)."""
    return tensor if index is None else tensor[..., index]


def _all_or(index: slice | list[int] | int, width: int) -> slice | list[int] | int | None:
    """None for a slice that takes all ``width`` positions (no indexing needed), else ``index``."""
    return None if isinstance(index, slice) and (index.start, index.stop) == (0, width) else index


def _indexer(positions: list[int]) -> slice | list[int]:
    """Consecutive positions as a slice (indexing makes a view), others as a list."""
    if positions == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return positions
