"""Decoders: from the encoder's summary to one feature vector per output step.

* ``direct``: no recurrence; the heads map the summary to all steps at once.
* ``repeat``: RepeatVector + LSTM (+ per-step dense heads = TimeDistributed(Dense)).
* ``autoregressive``: an LSTM fed its own previous prediction, started from the
  encoder's final state and trained with teacher forcing.
* ``aligned``: the encoder's own per-step outputs (seq2seq X(t) -> Y(t)).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .encoder import State
from .heads import Heads

DECODERS = ("direct", "repeat", "autoregressive")


class RepeatDecoder(nn.Module):
    """The classic encoder-decoder: the context vector repeated at every output step.

    Args:
        in_features: size of the context vector.
        hidden: decoder LSTM units.
        layers: stacked decoder layers.
        dropout: dropout between stacked layers.

    Example:
        >>> RepeatDecoder(64, 64)(torch.randn(8, 64), steps=12).shape
        torch.Size([8, 12, 64])
    """

    def __init__(self, in_features: int, hidden: int, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(in_features, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)

    def forward(self, context: Tensor, steps: int) -> Tensor:
        repeated = context[:, None, :].expand(-1, steps, -1)  # (B, S, D)
        return self.lstm(repeated)[0]                          # (B, S, hidden)


class AutoregressiveDecoder(nn.Module):
    """An LSTM whose input at each step is its previous prediction.

    It starts from the encoder's final state (directions merged per layer) and a
    zero input. In training, ``teacher`` (the true previous targets) replaces the
    predictions, so all steps run as one LSTM call; in inference it loops.

    Args:
        feedback: width of a prediction fed back (sum of the heads' widths).
        hidden: units, equal to the encoder's directions x hidden.
        layers: stacked layers, equal to the encoder's.
        dropout: dropout between stacked layers.
    """

    def __init__(self, feedback: int, hidden: int, layers: int, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(feedback, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)

    def forward(self, state: State, heads: Heads, steps: int, dropout: nn.Module,
                teacher: Tensor | None = None) -> Tensor:
        b = state[0].shape[1]
        start = state[0].new_zeros(b, 1, heads.width)          # (B, 1, C)
        if teacher is not None:
            inputs = torch.cat([start, heads.teacher(teacher)[:, :-1]], dim=1)  # (B, S, C)
            return heads(dropout(self.lstm(inputs, state)[0]))  # (B, S, C)
        outputs, step_input = [], start
        for _ in range(steps):
            features, state = self.lstm(step_input, state)     # (B, 1, hidden)
            out = heads(dropout(features))                     # (B, 1, C)
            outputs.append(out)
            step_input = heads.feedback(out)
        return torch.cat(outputs, dim=1)                       # (B, S, C)
