"""Learned vectors for categorical inputs in place of their index columns.

An embedded categorical input reaches the network as one column holding each
row's category index (``categories`` for no category); this module swaps every
such column for a trainable vector, so the data never holds a one-hot column per
category.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

# (position among the encoded input columns, categories, vector size)
Embedded = tuple[int, int, int]


class CategoryEmbedding(nn.Module):
    """Index columns -> learned vectors, for the inputs and for their future part.

    Args:
        n_inputs: encoded input columns (F).
        embedded: each embedded input's (column, categories, vector size).
        future_columns: the encoded columns of the inputs known in advance, which
            arrive separately (B, S, K) and are embedded with the same tables.

    The output keeps the other columns in order and appends the vectors.

    Example:
        >>> embed = CategoryEmbedding(3, [(1, 21, 4)])
        >>> embed(torch.tensor([[[0.5, 7.0, 1.0]]])).shape     # (B, T, 3 - 1 + 4)
        torch.Size([1, 1, 6])
    """

    def __init__(self, n_inputs: int, embedded: Sequence[Embedded],
                 future_columns: Sequence[int] = ()) -> None:
        super().__init__()
        # Index K (no category) is the padding row: a vector of zeros, never trained,
        # as a one-hot encoding gives no category all zeros.
        self.tables = nn.ModuleList(nn.Embedding(k + 1, d, padding_idx=k)
                                    for _, k, d in embedded)
        self._inputs = _plan(range(n_inputs), embedded)
        self._future = _plan(future_columns, embedded)
        self.out_features = _width(self._inputs, embedded)
        self.future_features = _width(self._future, embedded)

    def forward(self, x: Tensor, future: bool = False) -> Tensor:
        """(..., F) -> (..., F'); ``future=True`` for the known-ahead part (..., K)."""
        plain, coded = self._future if future else self._inputs
        parts = [x[..., plain]] + [self.tables[t](x[..., j].long()) for j, t in coded]
        return torch.cat(parts, dim=-1)


def _plan(columns: Sequence[int], embedded: Sequence[Embedded]
          ) -> tuple[list[int], list[tuple[int, int]]]:
    """Positions in a tensor over ``columns``: the plain ones, and (index column, table)."""
    table = {column: t for t, (column, _, _) in enumerate(embedded)}
    plain = [i for i, c in enumerate(columns) if c not in table]
    coded = [(i, table[c]) for i, c in enumerate(columns) if c in table]
    return plain, coded


def _width(plan: tuple[list[int], list[tuple[int, int]]], embedded: Sequence[Embedded]) -> int:
    """Columns after embedding: the plain ones and each vector's size."""
    plain, coded = plan
    return len(plain) + sum(embedded[t][2] for _, t in coded)
