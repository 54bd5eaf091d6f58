"""Channel independence as a wrapper: every input channel through one shared network.

``ChannelIndependent(inner, ...)`` folds the channels of (B, T, F) inputs into the batch,
(B*F, T, 1), runs ``inner`` once over them all, telling it each row's channel, and reads
each target from the output of its own input channel: (B, S, n_targets). ``inner`` is built
for one univariate series with one output, ``CHANNEL_OUTPUT``. Inputs known in advance are
not channels (as channels they would forecast nothing): every channel's row gets them whole,
as it gets the static vector (``lstmkit.nn.static``).

The network builder (``lstmkit.nn.network``) wraps its encoder-decoder in it when
``NetworkConfig.channel_independent`` is set; nothing inside knows it is wrapped.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .heads import Output

CHANNEL_OUTPUT = Output("value", "regression", 1)   # what the inner network gives per channel


def channel_columns(n_inputs: int, future_columns: tuple[int, ...]) -> list[int]:
    """The input columns that are channels: all but those known in advance."""
    return [j for j in range(n_inputs) if j not in future_columns]


class ChannelIndependent(nn.Module):
    """``inner`` run on every channel of the inputs as a univariate series.

    Args:
        inner: maps (B', T, 1) inputs, their lengths, the inputs known in advance, each
            row's channel (B',) and the static vector (B', S') to (B', S, 1) outputs.
        n_inputs: input columns.
        future_columns: the input columns known in advance (not channels).
        target_columns: per target, the input column it is.

    Example:
        >>> from lstmkit.nn.network import EncoderDecoder, NetworkConfig
        >>> config = NetworkConfig(n_inputs=3, outputs=(Output("OT", "regression", 1),),
        ...                        steps=4, hidden=8, decoder="parallel")
        >>> inner = EncoderDecoder(config, inputs=1, outputs=(CHANNEL_OUTPUT,), channels=3)
        >>> ChannelIndependent(inner, 3, (), target_columns=(2,))(torch.randn(5, 12, 3)).shape
        torch.Size([5, 4, 1])
    """

    def __init__(self, inner: nn.Module, n_inputs: int, future_columns: tuple[int, ...],
                 target_columns: tuple[int, ...]) -> None:
        super().__init__()
        kept = channel_columns(n_inputs, future_columns)
        self.register_buffer("channels", torch.tensor([kept.index(j) for j in target_columns],
                                                      dtype=torch.long))
        self.register_buffer("kept", torch.tensor(kept), persistent=False)
        self.select = bool(future_columns)              # some columns are not channels
        self.inner = inner

    @property
    def output_slices(self) -> list[slice]:
        """Each target's column in the output of ``forward``."""
        return [slice(j, j + 1) for j in range(len(self.channels))]

    def forward(self, x: Tensor, lengths: Tensor | None = None, teacher: Tensor | None = None,
                future: Tensor | None = None, static: Tensor | None = None) -> Tensor:
        """Map inputs (B, T, F) to outputs (B, S, n_targets); ``future`` is (B, S, K), the
        static vector (B, S').

        ``teacher`` is accepted for the interface's sake: a decoder that would read it
        does not run channel-independent."""
        if self.select:
            x = x.index_select(-1, self.kept)              # (B, T, F - K)
        b, t, f = x.shape
        x = x.transpose(1, 2).reshape(b * f, t, 1)         # (B*F, T, 1)
        channel = torch.arange(f, device=x.device).repeat(b)
        lengths = None if lengths is None else lengths.repeat_interleave(f)
        if future is not None:
            future = future.repeat_interleave(f, dim=0)    # (B*F, S, K)
        if static is not None:
            static = static.repeat_interleave(f, dim=0)    # (B*F, S'): every channel's the same
        out = self.inner(x, lengths, None, future, channel, static=static)  # (B*F, S, 1)
        return out.view(b, f, -1).transpose(1, 2)[..., self.channels]  # (B, S, T)
