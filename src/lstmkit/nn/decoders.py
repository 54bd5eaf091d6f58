"""Decoders: from the encoder's summary to one feature vector per output step.

* ``direct``: no recurrence; the heads map the summary to all steps at once.
* ``repeat``: RepeatVector + LSTM (+ per-step dense heads = TimeDistributed(Dense)).
* ``autoregressive``: an LSTM fed its own previous prediction, started from the
  encoder's final state and trained with teacher forcing.
* ``parallel``: one LSTM step per output segment, all segments at once from the
  encoder's final state, each told which segment (and channel) it is (SegRNN's
  parallel multi-step forecasting).
* ``aligned``: the encoder's own per-step outputs (seq2seq X(t) -> Y(t)).

Inputs known in advance (``future``, (B, S, K) over the output steps) join each
decoder's per-step input: the repeated context, the fed-back prediction, or an
embedding of each output segment's values added to its position.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .broadcast_step import broadcast_lstm_step, lstm_cell, plain_lstm_step
from .dropout import Dropout
from .encoder import State
from .heads import Heads

DECODERS = ("direct", "repeat", "autoregressive", "parallel")
# From this size on, RepeatDecoder's hand-written recurrence beats nn.LSTM on CPU;
# below it the per-step Python costs more than the products it saves
# (benchmarks/repeat_decoder.py times both ways; results in BENCHMARKS.md).
ONCE_MIN_HIDDEN = 128


class RepeatDecoder(nn.Module):
    """The classic encoder-decoder: the context vector repeated at every output step.

    The input is the same at every step, so on CPU a single-layer decoder of at
    least ``ONCE_MIN_HIDDEN`` units computes its input-to-gate product once per
    sample instead of once per step: the same LSTM, with S times fewer of those
    multiplies. Elsewhere (GPU, stacked layers, small LSTMs, ONNX export) it
    runs ``nn.LSTM`` over the repeated vector.

    Args:
        in_features: size of the context vector.
        hidden: decoder LSTM units.
        layers: stacked decoder layers.
        dropout: dropout between stacked layers.
        n_future: inputs known in advance, joined to the context at each step.

    Example:
        >>> RepeatDecoder(64, 64)(torch.randn(8, 64), steps=12).shape
        torch.Size([8, 12, 64])
    """

    def __init__(self, in_features: int, hidden: int, layers: int = 1, dropout: float = 0.0,
                 n_future: int = 0):
        super().__init__()
        self.lstm = nn.LSTM(in_features + n_future, hidden, num_layers=layers,
                            batch_first=True, dropout=dropout if layers > 1 else 0.0)

    def input_once(self, device: torch.device) -> bool:
        """Whether ``forward`` on ``device`` computes the input product once per sample."""
        lstm = self.lstm
        return (lstm.num_layers == 1 and lstm.hidden_size >= ONCE_MIN_HIDDEN
                and device.type == "cpu" and not torch.onnx.is_in_onnx_export())

    def forward(self, context: Tensor, steps: int, future: Tensor | None = None) -> Tensor:
        if future is None and self.input_once(context.device):
            return self._input_once(context, steps)
        repeated = context[:, None, :].expand(-1, steps, -1)  # (B, S, D)
        if future is not None:
            repeated = torch.cat([repeated, future], dim=-1)   # (B, S, D + K)
        return self.lstm(repeated)[0]                          # (B, S, hidden)

    def _input_once(self, context: Tensor, steps: int) -> Tensor:
        lstm = self.lstm
        x_gates = torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, context,
                              lstm.weight_ih_l0.T)             # (B, 4H), once
        w_hh = lstm.weight_hh_l0.T                             # (H, 4H)
        h, c = lstm_cell(x_gates, x_gates.new_zeros(len(context), lstm.hidden_size))
        outputs = [h]
        for _ in range(steps - 1):
            h, c = lstm_cell(torch.addmm(x_gates, h, w_hh), c)   # (B, H) each
            outputs.append(h)
        return torch.stack(outputs, dim=1)                     # (B, S, H)


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
        n_future: inputs known in advance, joined to the fed-back prediction.
    """

    def __init__(self, feedback: int, hidden: int, layers: int, dropout: float = 0.0,
                 n_future: int = 0):
        super().__init__()
        self.lstm = nn.LSTM(feedback + n_future, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)

    def forward(self, state: State, heads: Heads, steps: int, dropout: nn.Module,
                teacher: Tensor | None = None, future: Tensor | None = None) -> Tensor:
        b = state[0].shape[1]
        start = state[0].new_zeros(b, 1, heads.width)          # (B, 1, C)
        if teacher is not None:
            inputs = torch.cat([start, heads.teacher(teacher)[:, :-1]], dim=1)  # (B, S, C)
            if future is not None:
                inputs = torch.cat([inputs, future], dim=-1)   # (B, S, C + K)
            return heads(dropout(self.lstm(inputs, state)[0]))  # (B, S, C)
        outputs, step_input = [], start
        for step in range(steps):
            if future is not None:
                step_input = torch.cat([step_input, future[:, step : step + 1]], dim=-1)
            features, state = self.lstm(step_input, state)     # (B, 1, hidden)
            out = heads(dropout(features))                     # (B, 1, C)
            outputs.append(out)
            step_input = heads.feedback(out)
        return torch.cat(outputs, dim=1)                       # (B, S, C)


class ParallelDecoder(nn.Module):
    """Every output segment from the same encoder state, in one batched LSTM step.

    The input of segment ``m`` is a learned position embedding, joined (in
    channel-independent mode) by a learned embedding of the channel, so one
    shared network tells segments and channels apart. Inputs known in advance
    add a dense embedding of each segment's values to that input.

    All segments start from the same state, so the first layer's hidden-to-gate
    product is computed once per sample rather than once per segment, and its
    input-to-gate product once per segment (and channel) rather than per sample:
    the same LSTM step, M times cheaper for M output segments. The step itself
    runs without (B, M, 4D) intermediates (``broadcast_lstm_step``).

    Args:
        hidden: units, equal to the encoder's directions x hidden.
        layers: stacked layers, equal to the encoder's.
        segments: output segments M.
        channels: number of channels for channel embeddings, or 0 for none.
        dropout: dropout between stacked layers.
        future: values per output segment known in advance (steps x inputs), or 0.

    Example:
        >>> dec = ParallelDecoder(hidden=64, layers=1, segments=4, channels=7)
        >>> state = (torch.zeros(1, 14, 64), torch.zeros(1, 14, 64))
        >>> dec(state, channel=torch.arange(7).repeat(2)).shape
        torch.Size([14, 4, 64])
    """

    def __init__(self, hidden: int, layers: int, segments: int, channels: int = 0,
                 dropout: float = 0.0, future: int = 0) -> None:
        super().__init__()
        self.future = nn.Linear(future, hidden) if future else None
        position = hidden // 2 if channels else hidden
        self.position = nn.Parameter(torch.randn(segments, position) * 0.02)
        self.channel = nn.Parameter(torch.randn(channels, hidden - position) * 0.02) \
            if channels else None
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
        self.dropout = Dropout(dropout if layers > 1 else 0.0)

    def forward(self, state: State, channel: Tensor | None = None,
                future: Tensor | None = None) -> Tensor:
        """Features (B, M, D) of every output segment; ``future`` is (B, M, W*K)."""
        h0, c0 = state                                                 # (L, B, D) each
        first = self.cells[0]
        p = self.position.shape[1]
        positions = self.position @ first.weight_ih[:, :p].T           # (M, 4D)
        rows = h0[0] @ first.weight_hh.T + first.bias_ih + first.bias_hh  # (B, 4D)
        if self.channel is not None:
            rows = rows + (self.channel @ first.weight_ih[:, p:].T)[channel]  # (B, 4D)
        if self.future is None:
            h = broadcast_lstm_step(rows, positions, c0[0])            # (B, M, D)
        else:
            known = self.future(future) @ first.weight_ih.T            # (B, M, 4D)
            h = plain_lstm_step(rows, positions + known, c0[0])        # (B, M, D)
        b, m, d = h.shape
        for layer, cell in enumerate(self.cells[1:], start=1):
            start = (h0[layer].repeat_interleave(m, dim=0), c0[layer].repeat_interleave(m, dim=0))
            h = cell(self.dropout(h).reshape(b * m, d), start)[0].view(b, m, d)  # (B, M, D)
        return h
