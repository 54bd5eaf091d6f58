"""The training objective: a weighted sum of one loss per target, blind to missing targets,
each a mean over windows weighted by window and class weights where they are given."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.scaling import AffineScaler
from ..spec import Target


class MultiTargetLoss(nn.Module):
    """Weighted sum over targets of each target's mean loss over its known values.

    Targets of a kind that ``stacks`` (regression, binary) with the same loss are computed
    together, one set of tensor operations for all of them; the others (classification)
    each separately. Each kind gives its loss function (``TargetKind.target_loss``): the
    mean comes from each loss's own reduction, one kernel forward and one backward, where
    the element-wise loss and its mean would take several (a small model's step feels it).

    Args:
        targets: the spec's targets (kind, loss and weight of each).
        slices: each target's channels in the network output.
        masked: targets may hold NaN (missing) values, left out of the loss; without
            gaps (``False``) the masking operations are skipped.
        scalers: the fitted target scalers by name, for kinds whose loss reads them (a
            count distribution's likelihood is in counts).
        class_weights: per class-weighted target, its weight per label code
            (``lstmkit.data.weights.class_weights``).

    Returns (from ``forward``, given outputs (B, S, C), targets (B, S, T) and optionally
    window weights (B,)):
        the total loss, a scalar (``per_target`` gives each target's part). With window or
        class weights each target's part is ``sum(w * loss) / sum(w)`` over its known
        values, ``w`` the window's weight times the class weight of the true label.
    """

    def __init__(self, targets: list[Target], slices: list[slice], masked: bool = True,
                 scalers: dict[str, AffineScaler] | None = None,
                 class_weights: dict[str, list[float]] | None = None) -> None:
        super().__init__()
        self.targets, self.slices, self.masked = list(targets), list(slices), masked
        scalers = scalers or {}
        groups: dict[tuple[str, str], list[int]] = {}
        for j, target in enumerate(self.targets):
            groups.setdefault((target.kind, target.loss), []).append(j)
        width = max(sl.stop for sl in self.slices)
        # (loss function, target index or indices, output channels, weight): the indexers
        # are None where they would take everything; the weight is one number for the group
        # when its targets share it (unmasked, the group's weighted sum is then the weight
        # times its number of targets times the mean over all its elements), else None.
        self.groups, self.labelled = [], []      # labelled: the group's truth is label codes
        for members in groups.values():
            kind = self.targets[members[0]].target_kind
            self.labelled += [kind.labelled] * (1 if kind.stacks else len(members))
            if not kind.stacks:
                self.groups += [(kind.target_loss(self.targets[j],
                                                  scalers.get(self.targets[j].name)), j,
                                 _all_or(self.slices[j], width), self.targets[j].weight)
                                for j in members]
            else:
                function = kind.target_loss(self.targets[members[0]],
                                            scalers.get(self.targets[members[0]].name))
                weights = {self.targets[j].weight for j in members}
                weight = weights.pop() * len(members) if len(weights) == 1 else None
                channels = _indexer([self.slices[j].start for j in members])
                self.groups.append((function, _all_or(_indexer(members), len(self.targets)),
                                    _all_or(channels, width), weight))
        order = [j for members in groups.values() for j in members]
        self.register_buffer("weights", torch.tensor([t.weight for t in self.targets]),
                             persistent=False)
        self.register_buffer("order", None if order == sorted(order) else
                             torch.tensor(order).argsort(), persistent=False)
        self.register_buffer("class_table", _class_table(self.targets, class_weights or {}),
                             persistent=False)
        self.register_buffer("target_index", torch.arange(len(self.targets)), persistent=False)

    def forward(self, outputs: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
        if self.masked or w is not None or self.class_table is not None:
            return (self.weights * self._per_target(outputs, y, w)).sum()
        total = None
        for loss, members, channels, weight in self.groups:
            out, target = _take(outputs, channels), _take(y, members)
            if weight is None:                                  # unequal weights within
                term = (_take(self.weights, members)
                        * loss(out, target, reduction="none").mean((0, 1))).sum()
            else:
                term = loss(out, target, reduction="mean")
                term = term if weight == 1 else term * weight
            total = term if total is None else total + term
        return total

    @torch.no_grad()
    def per_target(self, outputs: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
        """Each target's (weighted) mean loss over its known values, (T,) in the spec's
        order."""
        return self._per_target(outputs, y, w)

    def _per_target(self, outputs: Tensor, y: Tensor, w: Tensor | None = None) -> Tensor:
        known = ~torch.isnan(y)                                # (B, S, T)
        y = torch.where(known, y, 0.0)
        losses = []
        for (loss, members, channels, _), labelled in zip(self.groups, self.labelled,
                                                          strict=True):
            # (B, S) for a classification target, (B, S, k) for k targets computed together
            truth = _take(y, members)
            value = loss(_take(outputs, channels), truth, reduction="none")
            weight = _take(known, members).to(value.dtype)
            if w is not None:
                weight = weight * w.view(-1, *[1] * (weight.dim() - 1))      # (B, 1[, 1])
            if self.class_table is not None and labelled:   # the true label's weight
                weight = weight * self.class_table[_take(self.target_index, members),
                                                   truth.long()]
            total = weight.sum((0, 1)).reshape(-1)
            losses.append((value * weight).sum((0, 1)).reshape(-1)
                          / torch.where(total > 0, total, 1.0))
        per_target = losses[0] if len(losses) == 1 else torch.cat(losses)
        return per_target if self.order is None else per_target[self.order]


def _class_table(targets: list[Target], class_weights: dict[str, list[float]]
                 ) -> Tensor | None:
    """Each target's weight per label code (T, most labels), 1 where none is given; None
    without class weights."""
    if not class_weights:
        return None
    table = torch.ones(len(targets), max(len(w) for w in class_weights.values()))
    for j, target in enumerate(targets):
        given = class_weights.get(target.name)
        if given is not None:
            table[j, : len(given)] = torch.tensor(given)
    return table


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
