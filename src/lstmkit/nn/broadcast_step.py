"""One LSTM step for every (sample, segment) pair, when the gates are a per-sample row
plus a per-segment row: the first layer of the parallel decoder.

Its inputs are small, (B, 4D) and (M, 4D), but autograd over the plain formula
keeps five (B, M, 4D)-sized tensors and makes a few dozen passes over them; at a
horizon of 720 (M = 30, B = 256 windows x 21 channels) those passes, and the page
faults of tensors that large, took most of a training step on CPU
(``benchmarks/long_horizon.py``). Here
the step runs block by block of samples, so every temporary stays small and warm
in cache, and the backward recomputes the gates from the small inputs instead of
saving them: the output is the only (B, M, D) tensor that outlives the step.
Its tanh is 2 sigmoid(2x) - 1, which CPUs compute faster than tanh (within 2e-7
of it in float32).
"""

from __future__ import annotations

import torch
from torch import Tensor

BLOCK_ELEMENTS = 2**16   # samples x segments x units per block on CPU (256 KiB of float32)


def broadcast_lstm_step(rows: Tensor, positions: Tensor, c0: Tensor) -> Tensor:
    """The hidden state (B, M, D) after one LSTM step from gates ``rows[b] + positions[m]``.

    Args:
        rows: (B, 4D) per-sample pre-activations in the order (i, f, g, o), biases included.
        positions: (M, 4D) per-segment pre-activations.
        c0: (B, D) the cell state every segment of a sample starts from.

    Returns:
        (B, M, D), equal to ``nn.LSTMCell`` applied to each pair.

    Example:
        >>> h = broadcast_lstm_step(torch.randn(8, 64), torch.randn(5, 64), torch.randn(8, 16))
        >>> h.shape
        torch.Size([8, 5, 16])
    """
    if torch.onnx.is_in_onnx_export():                 # plain operators for the graph
        return plain_lstm_step(rows, positions, c0)
    dtype = torch.promote_types(torch.promote_types(rows.dtype, positions.dtype), c0.dtype)
    rows, positions, c0 = rows.to(dtype), positions.to(dtype), c0.to(dtype)
    if torch.is_grad_enabled() and (rows.requires_grad or positions.requires_grad
                                    or c0.requires_grad):
        return _BroadcastStep.apply(rows, positions, c0)
    return _forward(rows, positions, c0)


def plain_lstm_step(rows: Tensor, positions: Tensor, c0: Tensor) -> Tensor:
    """The same step as ``lstm_cell`` over (B, M, 4D) gates, for autograd and export;
    ``positions`` may also be per sample, (B, M, 4D)."""
    return lstm_cell(rows[:, None, :] + positions, c0[:, None, :])[0]   # (B, M, D)


def lstm_cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM cell step from pre-activation gates (i, f, g, o): the new (h, c)."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _blocks(rows: Tensor, positions: Tensor) -> list[slice]:
    """Sample ranges whose temporaries hold about ``BLOCK_ELEMENTS`` each on CPU; one
    range elsewhere (an accelerator wants few large kernels)."""
    b, (m, gates) = len(rows), positions.shape
    size = max(1, BLOCK_ELEMENTS // (m * gates // 4)) if rows.device.type == "cpu" else b
    return [slice(start, start + size) for start in range(0, b, size)]


def _activate(gates: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Sigmoid on (i, f, o), tanh on g, in place: the four activations as views."""
    d = gates.shape[-1] // 4
    gates[..., : 2 * d].sigmoid_()
    _tanh_(gates[..., 2 * d : 3 * d])
    gates[..., 3 * d :].sigmoid_()
    return gates.split(d, dim=-1)


def _tanh_(x: Tensor) -> Tensor:
    """tanh in place, as 2 sigmoid(2x) - 1."""
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)


def _forward(rows: Tensor, positions: Tensor, c0: Tensor) -> Tensor:
    d = c0.shape[1]
    h = rows.new_empty(len(rows), len(positions), d)                # (B, M, D)
    for block in _blocks(rows, positions):
        i, f, g, o = _activate(rows[block, None, :] + positions)    # 4 x (b, M, D)
        c = (f * c0[block, None, :]).addcmul_(i, g)                 # new cell state
        torch.mul(o, _tanh_(c), out=h[block])
    return h


class _BroadcastStep(torch.autograd.Function):
    """The step with a hand-written backward that recomputes the gates block by block."""

    @staticmethod
    def forward(ctx, rows: Tensor, positions: Tensor, c0: Tensor) -> Tensor:
        ctx.save_for_backward(rows, positions, c0)
        return _forward(rows, positions, c0)

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        rows, positions, c0 = ctx.saved_tensors
        grad_rows, grad_c0 = torch.empty_like(rows), torch.empty_like(c0)
        grad_positions = torch.zeros_like(positions)
        for block in _blocks(rows, positions):
            gates = rows[block, None, :] + positions                # (b, M, 4D)
            i, f, g, o = _activate(gates)
            start = c0[block, None, :]                              # (b, 1, D)
            tanh_c = _tanh_((f * start).addcmul_(i, g))
            dh = grad_h[block]
            dc = dh * o                                             # dh * o, for now
            do = dc * tanh_c                                        # dh * o * tanh(c)
            dc.addcmul_(dc, tanh_c.square_(), value=-1)             # dh * o * (1 - tanh^2)
            torch.addcmul(do, do, o, value=-1, out=o)               # o's slot: d o-gate
            torch.sum(dc * f, dim=1, out=grad_c0[block])            # dc flows to c0 via f
            df = dc * start
            df.mul_(f)
            torch.addcmul(df, df, f, value=-1, out=f)               # f's slot: d f-gate
            dg = dc * i
            dg.addcmul_(dg, g.square(), value=-1)                   # dc * i * (1 - g^2)
            di = dc.mul_(g).mul_(i)
            torch.addcmul(di, di, i, value=-1, out=i)               # i's slot: d i-gate
            g.copy_(dg)                                             # g's slot: d g-gate
            torch.sum(gates, dim=1, out=grad_rows[block])           # (b, 4D)
            grad_positions += gates.sum(dim=0)                      # (M, 4D)
        return grad_rows, grad_positions, grad_c0
