"""The LSTM encoder: reads (batch, steps, features), packing sequences of different lengths."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.checkpoint import checkpoint

from .segments import SegmentEmbedding

State = tuple[Tensor, Tensor]


class LSTMEncoder(nn.Module):
    """A (stacked, optionally bidirectional) LSTM over the input steps.

    Args:
        n_inputs: features per step.
        hidden: units per direction and layer.
        layers: stacked LSTM layers.
        bidirectional: read the sequence both ways.
        dropout: dropout between stacked layers.
        checkpoint_steps: in training, run the steps in chunks of this length and
            recompute each chunk's activations in the backward pass, so activation
            memory stays that of one chunk whatever the sequence length (costs one
            more forward pass; unidirectional, equal-length batches only). With a
            segment embedding, chunks are whole segments and the embedding is
            recomputed with them. Inference that needs only the final state runs
            in the same chunks.

    Returns (from ``forward``):
        outputs (B, T, D*hidden) for every step (zeros past a sequence's end; None
        when not kept), and
        the final state ``(h, c)``, each (layers * D, B, hidden), taken at each
        sequence's own last step.

    Example:
        >>> enc = LSTMEncoder(n_inputs=7, hidden=64)
        >>> outputs, (h, c) = enc(torch.randn(32, 96, 7))  # (32, 96, 64), 2 x (1, 32, 64)
    """

    def __init__(self, n_inputs: int, hidden: int, layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, checkpoint_steps: int | None = None) -> None:
        super().__init__()
        self.directions = 2 if bidirectional else 1
        self.hidden, self.layers, self.checkpoint_steps = hidden, layers, checkpoint_steps
        self.lstm = nn.LSTM(n_inputs, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0, bidirectional=bidirectional)

    @property
    def out_features(self) -> int:
        return self.directions * self.hidden

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                embed: SegmentEmbedding | None = None, keep_outputs: bool = True,
                initial: State | None = None) -> tuple[Tensor | None, State]:
        """Encode ``x`` (B, T, F), first embedding it into segments if ``embed`` is given,
        from the ``initial`` state (each (layers * D, B, hidden); None: zeros).

        With ``keep_outputs=False`` (the caller reads only the final state) and
        ``checkpoint_steps``, long sequences are read chunk by chunk in inference too,
        and the outputs are None: memory stays that of one chunk.
        """
        chunk = self.checkpoint_steps
        if chunk and lengths is None and self.directions == 1 and x.shape[1] > chunk \
                and (self.training or not keep_outputs):
            return self._chunked(x, chunk, embed, keep_outputs, initial)
        if embed is not None:
            x, lengths = embed(x, lengths)                    # (B, N, hidden)
        if lengths is None:
            return self.lstm(x, initial)
        # Exported to ONNX, packing becomes the LSTM operator's sequence_lens, which needs no
        # sorting at run time; the exporter maps it only if the lengths are marked sorted (the
        # example batch is) and the initial state is explicit.
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                      enforce_sorted=torch.onnx.is_in_onnx_export())
        if initial is None:
            zeros = x.new_zeros(self.layers * self.directions, x.shape[0], self.hidden)
            initial = (zeros, zeros)
        outputs, state = self.lstm(packed, initial)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])
        return outputs, state

    def _chunked(self, x: Tensor, chunk: int, embed: SegmentEmbedding | None,
                 keep_outputs: bool, initial: State | None = None
                 ) -> tuple[Tensor | None, State]:
        """Run chunk by chunk, carrying the state; with gradients, each chunk is
        recomputed in the backward pass, so only chunk inputs and boundary states stay."""
        if embed is not None:
            x = embed.pad_front(x)                            # (B, N*W, F)
            chunk = math.ceil(chunk / embed.segment) * embed.segment
        outputs, state = [], initial
        for piece in x.split(chunk, dim=1):                  # (B, <=chunk, F) each
            if torch.is_grad_enabled():
                out, h, c = checkpoint(self._step, piece, state, embed, use_reentrant=False)
            else:
                out, h, c = self._step(piece, state, embed)
            if keep_outputs:
                outputs.append(out)
            state = (h, c)
        return (torch.cat(outputs, dim=1) if keep_outputs else None), state  # (B, T or N, D*H)

    def _step(self, x: Tensor, state: State | None, embed: SegmentEmbedding | None
              ) -> tuple[Tensor, Tensor, Tensor]:
        if embed is not None:
            x = embed(x)[0]                                   # (B, n, hidden)
        out, (h, c) = self.lstm(x, state)
        return out, h, c

    def summary(self, state: State) -> Tensor:
        """The top layer's final hidden state, directions side by side: (B, D*hidden)."""
        if self.directions == 1:
            return state[0][-1]                               # (B, H), a view
        h = state[0][-self.directions :]                      # (D, B, H)
        return h.transpose(0, 1).reshape(h.shape[1], -1)      # (B, D*H)

    def per_layer(self, state: State) -> State:
        """The final state with directions merged per layer: each (layers, B, D*hidden)."""
        def merge(t: Tensor) -> Tensor:
            t = t.view(self.layers, self.directions, t.shape[1], self.hidden)  # (L, D, B, H)
            return t.permute(0, 2, 1, 3).reshape(self.layers, t.shape[2], -1)  # (L, B, D*H)
        return merge(state[0]), merge(state[1])



def lstm_parameters(inputs: int, hidden: int, layers: int, directions: int) -> int:
    """Parameters of ``torch.nn.LSTM(inputs, hidden, layers, bidirectional=directions == 2)``."""
    first = 4 * hidden * (inputs + hidden + 2)
    later = 4 * hidden * (directions * hidden + hidden + 2)
    return directions * (first + (layers - 1) * later)
