"""Dropout whose mask costs little on CPU.

torch's CPU dropout draws its mask with ``bernoulli_``, one slow generator call
per element, which showed in profiles of the default forecast model's training
step (``benchmarks/long_horizon.py`` times both). This draws 16 random bits per
element (two elements per 32-bit draw) and keeps an element when its bits clear a
threshold, so the keep probability is 1 - p rounded to a multiple of 1/65536.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

LEVELS = 2**16   # the mask's resolution: 16 bits per element


class Dropout(nn.Module):
    """``nn.Dropout``: zero each element with probability ``p`` in training, scale the
    rest by 1 / (1 - p); identity in evaluation. Off the CPU it is ``F.dropout``.

    Args:
        p: probability of zeroing an element, in [0, 1).

    Example:
        >>> drop = Dropout(0.5).train()
        >>> (drop(torch.ones(10_000)) == 0).float().mean().round(decimals=1)
        tensor(0.5000)
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p
        # An element is kept when its 16 bits, read as int16, are >= this.
        self.threshold = round(p * LEVELS) - LEVELS // 2

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        n = x.numel()
        words = torch.empty((n + 1) // 2, dtype=torch.int32).random_(-(2**31), 2**31)
        bits = words.view(torch.int16)[:n].view(x.shape)            # uniform int16
        mask = (bits >= self.threshold).to(x.dtype).mul_(1 / (1 - self.p))
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
