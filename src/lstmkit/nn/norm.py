"""Reversible instance normalisation (RevIN, Kim et al., ICLR 2022).

Each window's numeric input channels are shifted and scaled by the window's own
mean and standard deviation, so a level the training data never reached (a
drifting series) looks familiar to the LSTM. Outputs of regression targets that
are also input channels are mapped back with the same statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

Stats = tuple[Tensor, Tensor]


class InstanceNorm(nn.Module):
    """Per-window normalisation of inputs, reversed on the outputs of matching targets.

    Args:
        numeric: per input channel, whether to normalise it (one-hot columns are not).
        target_channels: per target, its input channel, or -1 if it is not an input
            (or not a regression target): such outputs are left alone.
        output_columns: per target, its first column in the network output.
        eps: added to the variance.

    Buffers ``scale``/``shift`` (per mapped target) map a value in the input
    channel's scaled units to the target's scaled units, since the two scalers of
    one column may differ; the model sets them from the fitted scalers.

    Example:
        >>> norm = InstanceNorm([True, True], target_channels=[1], output_columns=[0])
        >>> x, stats = norm.normalize(torch.randn(8, 96, 2))
        >>> norm.denormalize(torch.randn(8, 24, 1), stats).shape
        torch.Size([8, 24, 1])
    """

    def __init__(self, numeric: list[bool], target_channels: list[int],
                 output_columns: list[int], eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        mapped = [j for j, c in enumerate(target_channels) if c >= 0]
        self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.float32))
        self.register_buffer("targets", torch.tensor(mapped, dtype=torch.long))
        self.register_buffer("channels", torch.tensor([target_channels[j] for j in mapped],
                                                      dtype=torch.long))
        self.register_buffer("columns", torch.tensor([output_columns[j] for j in mapped],
                                                     dtype=torch.long))
        self.register_buffer("scale", torch.ones(len(mapped)))
        self.register_buffer("shift", torch.zeros(len(mapped)))

    def normalize(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Stats]:
        """x (B, T, F) -> normalised x, and each window's (B, 1, F) mean and std."""
        if lengths is None:
            mean = x.mean(1, keepdim=True)                     # (B, 1, F)
            var = x.var(1, keepdim=True, unbiased=False)
        else:
            steps = torch.arange(x.shape[1], device=x.device)
            mask = (steps[None, :] < lengths.to(x.device)[:, None])[..., None]  # (B, T, 1)
            count = lengths.to(x.device, x.dtype).view(-1, 1, 1)
            mean = (x * mask).sum(1, keepdim=True) / count
            var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / count
        # One-hot channels get mean 0 and std 1: they pass through unchanged.
        mean = mean * self.numeric
        std = (var + self.eps).sqrt() * self.numeric + (1 - self.numeric)
        normed = (x - mean) / std
        if lengths is not None:
            normed = normed * mask
        return normed, (mean, std)

    def denormalize(self, outputs: Tensor, stats: Stats | None) -> Tensor:
        """Outputs (B, S, C) with the mapped targets restored to their scaled units.

        Without ``stats`` (inputs were not normalised) only the map from input
        units to target units is applied.
        """
        if len(self.columns) == 0:
            return outputs
        values = outputs[..., self.columns]
        if stats is not None:
            mean, std = stats[0][..., self.channels], stats[1][..., self.channels]  # (B, 1, M)
            values = values * std + mean
        restored = values * self.scale + self.shift
        outputs = outputs.to(restored.dtype, copy=True)    # float32 under mixed precision
        outputs[..., self.columns] = restored
        return outputs

    def normalize_targets(self, y: Tensor, stats: Stats) -> Tensor:
        """True targets (B, S, T) in the units the network predicts in (for teacher forcing)."""
        if len(self.targets) == 0:
            return y
        mean, std = stats[0][..., self.channels], stats[1][..., self.channels]  # (B, 1, M)
        y = y.clone()
        y[..., self.targets] = ((y[..., self.targets] - self.shift) / self.scale - mean) / std
        return y
