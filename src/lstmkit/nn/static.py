"""Static inputs: read once per window, they set the encoder's initial state.

A static input (``Feature.static``: a store's size, a sensor's type) has one value per series
or sequence. It reaches the network as columns of the inputs like any other (so every path
that reads rows, ONNX included, gives it unchanged), but the network takes those columns out
before anything reads steps: ``StaticInputs`` reads them at each window's first step (which
every window has, padded or not) and embeds their categories, and ``InitialState`` maps that
vector to the encoder LSTM's initial hidden and cell state of every layer and direction.

Every decoder reads what the encoder read (its final state, its summary or its per-step
outputs), so every decoder sees the static inputs through it; a channel-independent network
gives each channel's encoder the same vector (``lstmkit.nn.channels``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .embedding import CategoryEmbedding, Embedded
from .encoder import State


def per_step_columns(n_inputs: int, static_columns: Sequence[int]) -> list[int]:
    """The input columns that are read step by step: all but the static ones."""
    static = set(static_columns)
    return [j for j in range(n_inputs) if j not in static]


class StaticInputs(nn.Module):
    """Split inputs (B, T, F) into the per-step columns (B, T, F - S) and the static vector
    (B, S') of each window, its embedded categories as learned vectors.

    Args:
        n_inputs: encoded input columns (F).
        columns: the static ones among them (S).
        embedded: every embedded input's (column, categories, vector size); those of static
            columns are embedded here.

    Example:
        >>> split = StaticInputs(4, [2, 3], [(3, 5, 2)])
        >>> x, static = split(torch.zeros(8, 24, 4))
        >>> x.shape, static.shape                       # (B, T, 2), (B, 1 + 2)
        (torch.Size([8, 24, 2]), torch.Size([8, 3]))
    """

    def __init__(self, n_inputs: int, columns: Sequence[int],
                 embedded: Sequence[Embedded] = ()) -> None:
        super().__init__()
        columns = list(columns)
        own = [(columns.index(j), k, d) for j, k, d in embedded if j in columns]
        self.embed = CategoryEmbedding(len(columns), own) if own else None
        self.out_features = self.embed.out_features if own else len(columns)
        self.register_buffer("columns", torch.tensor(columns), persistent=False)
        self.register_buffer("kept", torch.tensor(per_step_columns(n_inputs, columns)),
                             persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        static = x[:, 0].index_select(-1, self.columns)       # (B, S): constant in a window
        if self.embed is not None:
            static = self.embed(static)                       # (B, S')
        return x.index_select(-1, self.kept), static           # (B, T, F - S), (B, S')


class InitialState(nn.Module):
    """A static vector (B, S') -> the LSTM's initial state ``(h0, c0)``, each
    (layers * directions, B, hidden): one dense layer, ``tanh`` on ``h0`` (an LSTM's hidden
    state lies in (-1, 1)).

    Example:
        >>> h0, c0 = InitialState(3, layers=2, directions=1, hidden=16)(torch.zeros(8, 3))
        >>> h0.shape
        torch.Size([2, 8, 16])
    """

    def __init__(self, n_static: int, layers: int, directions: int, hidden: int) -> None:
        super().__init__()
        self.states, self.hidden = layers * directions, hidden
        self.dense = nn.Linear(n_static, 2 * self.states * hidden)

    def forward(self, static: Tensor) -> State:
        b = static.shape[0]
        h0, c0 = self.dense(static).view(b, 2, self.states, self.hidden).permute(
            1, 2, 0, 3)                                       # 2 x (L*D, B, H)
        return torch.tanh(h0).contiguous(), c0.contiguous()

    @staticmethod
    def parameters_of(n_static: int, layers: int, directions: int, hidden: int) -> int:
        """Its parameters, for ``lstmkit.nn.size``."""
        return (n_static + 1) * 2 * layers * directions * hidden
