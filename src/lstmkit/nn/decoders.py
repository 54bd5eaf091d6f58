"""Decoders: from what the encoder read to every target's outputs, behind one interface.

* ``direct``: no recurrence; the heads map the summary to all steps at once (beside it,
  optionally, a convolutional branch over the inputs: ``conv``).
* ``repeat``: RepeatVector + LSTM (+ per-step dense heads = TimeDistributed(Dense)).
* ``autoregressive``: an LSTM fed its own previous prediction, started from the
  encoder's final state and trained with teacher forcing.
* ``parallel``: one LSTM step per output segment, all segments at once from the
  encoder's final state, each told which segment (and channel) it is (SegRNN's
  parallel multi-step forecasting).
* ``aligned``: the encoder's own per-step outputs (seq2seq X(t) -> Y(t)); the one
  decoder of seq2seq without a horizon, and of no other task.

Inputs known in advance (``future``, (B, S, K) over the output steps) join each
decoder's per-step input: the repeated context, the fed-back prediction, or an
embedding of each output segment's values added to its position.

Every decoder is a ``Decoder``: built from ``DecoderParts`` (what the network around it
fixes), it owns its ``heads`` and maps ``forward(encoded, future, teacher, channel)`` to
the outputs (B, S, C); its class attributes say where it applies, and ``size`` estimates
it for ``lstmkit.nn.size``. ``DECODERS`` registers them by name: ``NetworkConfig``'s
validation, the model's ``decoder`` parameter, the presets and the size estimate read it.

How to add a decoder:

1. Subclass ``Decoder`` here. In ``__init__`` create its layers and ``self.heads``; the
   order of creation is the order in which random initial weights are drawn, and the
   attribute names are the saved weights' names (``decoder.<name>``; the heads and a
   ``conv`` branch are saved at the top, as ``heads.`` and ``conv.``): keep both once
   released. Write ``forward`` and ``size``, and set the class attributes that differ
   from the defaults (``aligned``, ``sequence``, ``per_channel``, ``feeds_back``,
   ``takes_conv``).
2. Register it in ``DECODERS``.
3. Test it: the shape tests of tests/test_network.py and the size test take every
   registered decoder; add a test of what is special about it, and an ONNX export
   (tests/test_export.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .broadcast_step import broadcast_lstm_step, lstm_cell, plain_lstm_step
from .conv import FILTERS, ConvBranch, conv_parameters
from .dropout import Dropout
from .encoder import LSTMEncoder, State, lstm_parameters
from .heads import Heads, Output

# From this size on, RepeatDecoder's hand-written recurrence beats nn.LSTM on CPU;
# below it the per-step Python costs more than the products it saves
# (benchmarks/repeat_decoder.py times both ways; results in BENCHMARKS.md).
ONCE_MIN_HIDDEN = 128


@dataclass(frozen=True)
class DecoderParts:
    """What the network around a decoder fixes: the sizes it reads and the outputs it makes.

    Args:
        features: size D of the encoder's outputs and summary (directions x hidden).
        outputs: the targets with their output widths.
        hidden: the model's ``hidden`` (units of the repeat decoder's LSTM).
        layers: the encoder's stacked layers (the recurrent decoders stack as many).
        dropout: dropout before the heads (and between stacked decoder layers).
        steps: output steps per sample (ignored by ``aligned``).
        shared: one dense layer for all regression targets, else one each.
        n_future: inputs known in advance per output step.
        segment: output steps per segment of the parallel decoder (None: all in one).
        channels: channels sharing the network (channel-independent), or 0.
        inputs: input features per step (what a ``conv`` branch reads).
        conv: add a convolutional branch beside the encoder (``direct`` only).
    """

    features: int
    outputs: tuple[Output, ...]
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0
    steps: int = 1
    shared: bool = True
    n_future: int = 0
    segment: int | None = None
    channels: int = 0
    inputs: int = 1
    conv: bool = False

    @property
    def out_width(self) -> int:
        """Output columns per step: every target's width, side by side."""
        return sum(o.width for o in self.outputs)


@dataclass(frozen=True)
class Encoded:
    """What the encoder read, for the decoder.

    Attributes:
        inputs: the encoder's inputs (B, T, F), for a branch beside it.
        lengths: (B,) true lengths, or None.
        outputs: the encoder's outputs at every step (B, T', D), if the decoder asked
            for them (``Decoder.aligned``), else None.
        state: the final state, each (layers * directions, B, hidden).
        encoder: the encoder, which knows how to read its state.
    """

    inputs: Tensor
    lengths: Tensor | None
    outputs: Tensor | None
    state: State
    encoder: LSTMEncoder

    def summary(self) -> Tensor:
        """The top layer's final hidden state, directions side by side: (B, D)."""
        return self.encoder.summary(self.state)

    def per_layer(self) -> State:
        """The final state with directions merged per layer: each (layers, B, D)."""
        return self.encoder.per_layer(self.state)


@dataclass(frozen=True)
class DecoderSize:
    """A decoder's parameters, and the recurrent steps and units per step it keeps for
    the backward pass (0 for none), as ``lstmkit.nn.size`` counts them."""

    parameters: int
    steps: int = 0
    width: int = 0


class Decoder(nn.Module):
    """The interface of every decoder: encoded inputs -> outputs (B, S, C) of its heads.

    Class attributes say where a decoder applies:

    * ``aligned``: it gives one output per input step, from the encoder's outputs
      (seq2seq without a horizon), and nothing else does.
    * ``sequence``: it can give a sequence task its one output per sequence.
    * ``per_channel``: it can run channel-independent (one shared network per channel).
    * ``feeds_back``: its outputs feed its next steps, in normalised units: it is trained
      with teacher forcing, and nothing may be added to its outputs afterwards.
    * ``takes_conv``: it reads a convolutional branch beside the encoder (``conv``).

    Args:
        parts: the sizes and outputs fixed by the network around it.
    """

    aligned: ClassVar[bool] = False
    sequence: ClassVar[bool] = False
    per_channel: ClassVar[bool] = True
    feeds_back: ClassVar[bool] = False
    takes_conv: ClassVar[bool] = False
    heads: Heads

    def __init__(self, parts: DecoderParts) -> None:
        super().__init__()
        self.steps = parts.steps
        # Without dropout, no module call that dispatches an operation per batch in inference.
        self.dropout = Dropout(parts.dropout) if parts.dropout else nn.Identity()

    def forward(self, encoded: Encoded, future: Tensor | None = None,
                teacher: Tensor | None = None, channel: Tensor | None = None) -> Tensor:
        """The outputs (B, S, C).

        Args:
            encoded: what the encoder read.
            future: (B, S, K) inputs known in advance over the output steps, or None.
            teacher: (B, S, n_targets) true targets, for teacher forcing in training
                (read by decoders that feed back), or None.
            channel: (B,) the channel of each sample when channel-independent, or None.
        """
        raise NotImplementedError

    @classmethod
    def size(cls, parts: DecoderParts) -> DecoderSize:
        """Its parameters and kept activations, estimated from ``parts`` alone."""
        raise NotImplementedError


class DirectDecoder(Decoder):
    """No recurrence: dense heads map the encoder's summary (beside it, a ``conv`` branch's
    features and the inputs known in advance at every output step) to all steps at once.

    Example:
        >>> parts = DecoderParts(64, (Output("OT", "regression", 1),), steps=24)
        >>> DirectDecoder(parts).heads.layers[0].out_features
        24
    """

    sequence = True
    takes_conv = True

    def __init__(self, parts: DecoderParts) -> None:
        super().__init__(parts)
        self.conv = ConvBranch(parts.inputs) if parts.conv else None
        summary = (parts.features + (self.conv.out_features if self.conv else 0)
                   + parts.steps * parts.n_future)
        self.heads = Heads(summary, parts.outputs, parts.shared, steps=parts.steps)

    def forward(self, encoded: Encoded, future: Tensor | None = None,
                teacher: Tensor | None = None, channel: Tensor | None = None) -> Tensor:
        context = self.dropout(encoded.summary())              # (B, D)
        if self.conv is not None:
            conv = self.dropout(self.conv(encoded.inputs, encoded.lengths))  # (B, 128)
            context = torch.cat([context, conv], dim=-1)       # (B, D + 128)
        if future is not None:
            context = torch.cat([context, future.flatten(1)], dim=-1)  # (B, D' + S*K)
        return self.heads(context)                             # (B, S, C) from (B, D')

    @classmethod
    def size(cls, parts: DecoderParts) -> DecoderSize:
        summary = parts.features + (FILTERS[-1] if parts.conv else 0)
        return DecoderSize((summary + 1) * parts.out_width * parts.steps
                           + (conv_parameters(parts.inputs) if parts.conv else 0))


class AlignedDecoder(Decoder):
    """The encoder's own output at every input step through the heads: (B, T, C).

    Example:
        >>> parts = DecoderParts(64, (Output("y", "regression", 1),))
        >>> AlignedDecoder(parts).heads.layers[0].in_features
        64
    """

    aligned = True
    per_channel = False

    def __init__(self, parts: DecoderParts) -> None:
        super().__init__(parts)
        self.heads = Heads(parts.features, parts.outputs, parts.shared)

    def forward(self, encoded: Encoded, future: Tensor | None = None,
                teacher: Tensor | None = None, channel: Tensor | None = None) -> Tensor:
        return self.heads(self.dropout(encoded.outputs))       # (B, T, C)

    @classmethod
    def size(cls, parts: DecoderParts) -> DecoderSize:
        return DecoderSize((parts.features + 1) * parts.out_width)


class RepeatDecoder(Decoder):
    """The classic encoder-decoder: the context vector repeated at every output step.

    The input is the same at every step, so on CPU a single-layer decoder of at
    least ``ONCE_MIN_HIDDEN`` units computes its input-to-gate product once per
    sample instead of once per step: the same LSTM, with S times fewer of those
    multiplies. Elsewhere (GPU, stacked layers, small LSTMs, ONNX export) it
    runs ``nn.LSTM`` over the repeated vector. Its LSTM has ``parts.hidden`` units
    and reads the context with the inputs known in advance joined at each step.

    Example:
        >>> parts = DecoderParts(64, (Output("OT", "regression", 1),), hidden=32, steps=12)
        >>> RepeatDecoder(parts).features(torch.randn(8, 64), steps=12).shape
        torch.Size([8, 12, 32])
    """

    def __init__(self, parts: DecoderParts) -> None:
        super().__init__(parts)
        self.lstm = nn.LSTM(parts.features + parts.n_future, parts.hidden,
                            num_layers=parts.layers, batch_first=True,
                            dropout=parts.dropout if parts.layers > 1 else 0.0)
        self.heads = Heads(parts.hidden, parts.outputs, parts.shared)

    def forward(self, encoded: Encoded, future: Tensor | None = None,
                teacher: Tensor | None = None, channel: Tensor | None = None) -> Tensor:
        context = self.dropout(encoded.summary())              # (B, D)
        features = self.features(context, self.steps, future)  # (B, S, hidden)
        return self.heads(self.dropout(features))              # (B, S, C)

    @classmethod
    def size(cls, parts: DecoderParts) -> DecoderSize:
        return DecoderSize(lstm_parameters(parts.features, parts.hidden, parts.layers, 1)
                           + (parts.hidden + 1) * parts.out_width, parts.steps, parts.hidden)

    def input_once(self, device: torch.device) -> bool:
        """Whether ``features`` on ``device`` computes the input product once per sample."""
        lstm = self.lstm
        return (lstm.num_layers == 1 and lstm.hidden_size >= ONCE_MIN_HIDDEN
                and device.type == "cpu" and not torch.onnx.is_in_onnx_export())

    def features(self, context: Tensor, steps: int, future: Tensor | None = None) -> Tensor:
        """The LSTM's outputs (B, S, hidden) over ``context`` (B, D) repeated ``steps`` times."""
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


class AutoregressiveDecoder(Decoder):
    """An LSTM whose input at each step is its previous prediction.

    It starts from the encoder's final state (directions merged per layer) and a
    zero input. In training, ``teacher`` (the true previous targets) replaces the
    predictions, so all steps run as one LSTM call; in inference it loops. Its LSTM
    has the encoder's layers and directions x hidden units; it reads the fed-back
    prediction with the inputs known in advance joined.

    Example:
        >>> parts = DecoderParts(64, (Output("OT", "regression", 1),), steps=12)
        >>> state = (torch.zeros(1, 8, 64), torch.zeros(1, 8, 64))
        >>> AutoregressiveDecoder(parts).unroll(state).shape
        torch.Size([8, 12, 1])
    """

    per_channel = False
    feeds_back = True

    def __init__(self, parts: DecoderParts) -> None:
        super().__init__(parts)
        self.heads = Heads(parts.features, parts.outputs, parts.shared)
        self.lstm = nn.LSTM(self.heads.width + parts.n_future, parts.features,
                            num_layers=parts.layers, batch_first=True,
                            dropout=parts.dropout if parts.layers > 1 else 0.0)

    def forward(self, encoded: Encoded, future: Tensor | None = None,
                teacher: Tensor | None = None, channel: Tensor | None = None) -> Tensor:
        return self.unroll(encoded.per_layer(), teacher, future)  # (B, S, C)

    @classmethod
    def size(cls, parts: DecoderParts) -> DecoderSize:
        return DecoderSize(lstm_parameters(parts.out_width, parts.features, parts.layers, 1)
                           + (parts.features + 1) * parts.out_width, parts.steps,
                           parts.features)

    def unroll(self, state: State, teacher: Tensor | None = None,
               future: Tensor | None = None) -> Tensor:
        """The outputs (B, S, C) from the encoder's state (directions merged per layer)."""
        heads, dropout = self.heads, self.dropout
        b = state[0].shape[1]
        start = state[0].new_zeros(b, 1, heads.width)          # (B, 1, C)
        if teacher is not None:
            inputs = torch.cat([start, heads.teacher(teacher)[:, :-1]], dim=1)  # (B, S, C)
            if future is not None:
                inputs = torch.cat([inputs, future], dim=-1)   # (B, S, C + K)
            return heads(dropout(self.lstm(inputs, state)[0]))  # (B, S, C)
        outputs, step_input = [], start
        for step in range(self.steps):
            if future is not None:
                step_input = torch.cat([step_input, future[:, step : step + 1]], dim=-1)
            features, state = self.lstm(step_input, state)     # (B, 1, hidden)
            out = heads(dropout(features))                     # (B, 1, C)
            outputs.append(out)
            step_input = heads.feedback(out)
        return torch.cat(outputs, dim=1)                       # (B, S, C)


class ParallelDecoder(Decoder):
    """Every output segment from the same encoder state, in one batched LSTM step.

    The input of segment ``m`` is a learned position embedding, joined (in
    channel-independent mode) by a learned embedding of the channel, so one
    shared network tells segments and channels apart. Inputs known in advance
    add a dense embedding of each segment's values to that input.

    All segments start from the same state, so the first layer's hidden-to-gate
    product is computed once per sample rather than once per segment, and its
    input-to-gate product once per segment (and channel) rather than per sample:
    the same LSTM step, M times cheaper for M output segments. The step itself
    runs without (B, M, 4D) intermediates (``broadcast_lstm_step``). Its LSTM has
    the encoder's layers and directions x hidden units; segments are ``parts.segment``
    output steps long (all steps in one if None).

    Example:
        >>> parts = DecoderParts(64, (Output("OT", "regression", 1),), steps=24, segment=6,
        ...                      channels=7)
        >>> state = (torch.zeros(1, 14, 64), torch.zeros(1, 14, 64))
        >>> ParallelDecoder(parts).features(state, channel=torch.arange(7).repeat(2)).shape
        torch.Size([14, 4, 64])
    """

    def __init__(self, parts: DecoderParts) -> None:
        super().__init__(parts)
        hidden = parts.features
        self.out_segment = parts.segment or parts.steps    # output steps per segment
        segments = math.ceil(parts.steps / self.out_segment)
        future = self.out_segment * parts.n_future         # known values per segment
        self.future = nn.Linear(future, hidden) if future else None
        position = hidden // 2 if parts.channels else hidden
        self.position = nn.Parameter(torch.randn(segments, position) * 0.02)
        self.channel = nn.Parameter(torch.randn(parts.channels, hidden - position) * 0.02) \
            if parts.channels else None
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(parts.layers))
        self.between = Dropout(parts.dropout if parts.layers > 1 else 0.0)  # stacked layers
        self.heads = Heads(hidden, parts.outputs, parts.shared, steps=self.out_segment)

    def forward(self, encoded: Encoded, future: Tensor | None = None,
                teacher: Tensor | None = None, channel: Tensor | None = None) -> Tensor:
        segments = None if future is None else self._segments(future)  # (B, M, W*K)
        features = self.features(encoded.per_layer(), channel, segments)  # (B, M, D)
        return self.heads(self.dropout(features))[:, : self.steps]  # (B, S, C)

    @classmethod
    def size(cls, parts: DecoderParts) -> DecoderSize:
        d, segment = parts.features, parts.segment or parts.steps
        segments = math.ceil(parts.steps / segment)
        position = d // 2 if parts.channels else d
        parameters = (segments * position + parts.channels * (d - position)
                      + parts.layers * 4 * d * (2 * d + 2) + (d + 1) * segment * parts.out_width)
        return DecoderSize(parameters, segments, d)

    def features(self, state: State, channel: Tensor | None = None,
                 future: Tensor | None = None) -> Tensor:
        """Features (B, M, D) of every output segment from the encoder's state (directions
        merged per layer); ``future`` is (B, M, W*K)."""
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
            h = cell(self.between(h).reshape(b * m, d), start)[0].view(b, m, d)  # (B, M, D)
        return h

    def _segments(self, future: Tensor) -> Tensor:
        """Future values (B, S, K) as the segments' inputs: (B, M, W*K)."""
        b, steps, k = future.shape
        m = math.ceil(steps / self.out_segment)
        padded = F.pad(future, (0, 0, 0, m * self.out_segment - steps))  # (B, M*W, K)
        return padded.reshape(b, m, self.out_segment * k)


DECODERS: dict[str, type[Decoder]] = {
    "direct": DirectDecoder,
    "repeat": RepeatDecoder,
    "autoregressive": AutoregressiveDecoder,
    "parallel": ParallelDecoder,
    "aligned": AlignedDecoder,
}
