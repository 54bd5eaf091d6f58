"""Segment inputs: the recurrence runs over segments of steps instead of single steps.

A window of L steps becomes ceil(L / W) segments of W steps; each segment's
values are embedded by one dense layer (SegRNN, Lin et al. 2023), so a
lookback of 720 at W = 48 is 15 recurrent steps, not 720.
"""

from __future__ import annotations

import math

from torch import Tensor, nn
from torch.nn import functional as F


class SegmentEmbedding(nn.Module):
    """(B, L, F) steps -> (B, ceil(L / W), dim) embedded segments.

    Fixed-length windows are padded with zeros at the front (the oldest end) to a
    multiple of W; sequences of different lengths are padded at their end, and
    their segment counts are returned for packing.

    Args:
        n_inputs: features per step.
        segment: steps per segment, W.
        dim: embedding size.

    Example:
        >>> emb = SegmentEmbedding(n_inputs=1, segment=24, dim=128)
        >>> emb(torch.randn(64, 96, 1))[0].shape
        torch.Size([64, 4, 128])
    """

    def __init__(self, n_inputs: int, segment: int, dim: int) -> None:
        super().__init__()
        self.segment = segment
        self.embed = nn.Linear(segment * n_inputs, dim)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        x = self.pad_front(x) if lengths is None else self.pad_end(x)   # (B, n*W, F)
        b, steps, f = x.shape
        segments = x.reshape(b, steps // self.segment, self.segment * f)  # (B, n, W*F)
        if lengths is not None:
            lengths = (lengths + self.segment - 1) // self.segment
        return F.relu(self.embed(segments)), lengths               # (B, n, dim)

    def pad_front(self, x: Tensor) -> Tensor:
        """Zeros before the oldest step up to a whole number of segments: (B, n*W, F)."""
        return F.pad(x, (0, 0, self._padding(x.shape[1]), 0))

    def pad_end(self, x: Tensor) -> Tensor:
        """Zeros after the last step up to a whole number of segments: (B, n*W, F)."""
        return F.pad(x, (0, 0, 0, self._padding(x.shape[1])))

    def _padding(self, steps: int) -> int:
        return math.ceil(steps / self.segment) * self.segment - steps
