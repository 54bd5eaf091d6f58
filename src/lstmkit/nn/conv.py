"""A convolutional branch beside the LSTM (the LSTM-FCN family, Karim et al. 2018).

Three 1-D convolutions with batch normalisation and ReLU, then global average
pooling over the (valid) steps: local shape features that complement what the
LSTM carries through time. Used for sequence classification.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

FILTERS = (128, 256, 128)
KERNELS = (7, 5, 3)


class ConvBranch(nn.Module):
    """(B, T, F) -> (B, 128): the FCN block of LSTM-FCN, masked for padded steps.

    Args:
        n_inputs: features per step.

    Example:
        >>> ConvBranch(6)(torch.randn(8, 100, 6)).shape
        torch.Size([8, 128])
    """

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = n_inputs
        for filters, kernel in zip(FILTERS, KERNELS, strict=True):
            blocks.append(nn.Sequential(nn.Conv1d(channels, filters, kernel, padding="same"),
                                        nn.BatchNorm1d(filters), nn.ReLU()))
            channels = filters
        self.blocks = nn.ModuleList(blocks)

    @property
    def out_features(self) -> int:
        return FILTERS[-1]

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        features = x.transpose(1, 2)                             # (B, F, T)
        if lengths is None:
            for block in self.blocks:
                features = block(features)                       # (B, C, T)
            return features.mean(dim=2)                          # (B, 128)
        steps = torch.arange(x.shape[1], device=x.device)
        mask = (steps[None, :] < lengths.to(x.device)[:, None]).to(x.dtype)[:, None, :]
        for block in self.blocks:   # zero the padding after every block: as if it were absent
            features = block(features * mask)                    # (B, C, T)
        return (features * mask).sum(2) / mask.sum(2)            # (B, 128)


def conv_parameters(n_inputs: int) -> int:
    """Parameters of ``ConvBranch(n_inputs)``: each block's kernel and bias, and its
    normalisation's scale and shift."""
    channels = (n_inputs, *FILTERS[:-1])
    return sum(k * i * f + 3 * f for i, f, k in zip(channels, FILTERS, KERNELS, strict=True))
