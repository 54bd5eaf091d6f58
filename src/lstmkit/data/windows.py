"""Windows as indices into one contiguous array, and batches gathered by one indexing op.

Each series is stored once (rows x features, float32). A forecast window is just
its start row; a sequence is just its row range. A batch of ``B`` windows is
built by one vectorised gather, so memory is O(rows x features) whatever the
lookback, and there is no per-sample Python in the training loop.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Self

import torch
from torch import Tensor

if TYPE_CHECKING:
    import numpy as np

Batch = dict[str, Tensor]
Permutation = tuple[Tensor, Tensor]   # (input columns, donor window of each window)


def gather_rows(table: Tensor, rows: Tensor) -> Tensor:
    """``table[rows]`` for a (R, C) table and (B, S) row numbers: (B, S, C).

    ``index_select`` copies whole rows, 1.5-3x faster than advanced indexing on CPU.
    """
    return table.index_select(0, rows.reshape(-1)).view(*rows.shape, table.shape[1])


class Scratch:
    """Buffers one batch after another is written into (``Batches(reuse=True)``): a batch's
    tensors live until the next is made, and no batch allocates (and faults in) its own."""

    def __init__(self) -> None:
        self._buffers: dict[torch.dtype, Tensor] = {}

    def take(self, shape: torch.Size, dtype: torch.dtype, device: torch.device) -> Tensor:
        """An uninitialised tensor of ``shape``: a view of the buffer of ``dtype``, grown
        when too small."""
        n = math.prod(shape)
        buffer = self._buffers.get(dtype)
        if buffer is None or buffer.numel() < n or buffer.device != device:
            buffer = self._buffers[dtype] = torch.empty(n, dtype=dtype, device=device)
        return buffer[:n].view(shape)


class _Permutable:
    """What both window sets share: input columns read from other windows (``permuted``)."""

    permutation: Permutation | None = None

    def permuted(self, columns: list[int], order: Tensor) -> Self:
        """These windows with input ``columns`` of window ``i`` read from window
        ``order[i]`` at the same steps (every other column, and the targets, their own):
        the column keeps its values and loses its link to the targets (permutation
        importance)."""
        moved = copy.copy(self)
        moved.permutation = (torch.tensor(columns, dtype=torch.long, device=self.device),
                             order.to(self.device))
        return moved

    def _carry(self, moved: Self) -> Self:
        """``moved`` (``to``'s copy) with this set's permutation, on its device."""
        if self.permutation is not None:
            moved.permutation = tuple(t.to(moved.device) for t in self.permutation)
        return moved


class ForecastWindows(_Permutable):
    """Forecast windows of one part, as start rows into shared arrays.

    A window starting at row ``s`` reads inputs ``[s, s + lookback)`` and targets
    ``[s + lookback, s + lookback + horizon)``; with ``future_columns``, those
    input columns over the target rows too (inputs known in advance).

    Args:
        inputs: encoded inputs, (rows, F) float32, all series back to back.
        targets: encoded targets, (rows, T) float32 (NaN = missing), or None to predict.
        starts: (N,) int64 start row of each window.
        lookback: input steps per window.
        horizon: target steps per window.
        future_columns: the input columns known in advance (none by default).
        weights: (rows,) float32 weight of each row (``Spec.weight``): a window weighs its
            origin's (the last input row's); batches then carry ``w`` (B,). None: unweighted.
        series: (rows,) int64 code of each row's series where rows are scaled per series
            (``lstmkit.data.series_scaling``): a window's units are its series'. None: one
            scaling for all.
        scalers: the ``SeriesScalers`` the codes of ``series`` index (they may hold series
            the model was not fitted on, scaled for this data), carried along unread.
    """

    def __init__(self, inputs: Tensor, targets: Tensor | None, starts: Tensor,
                 lookback: int, horizon: int, future_columns: tuple[int, ...] = (),
                 weights: Tensor | None = None, series: Tensor | None = None,
                 scalers: Any = None) -> None:
        self.inputs, self.targets, self.starts, self.weights = inputs, targets, starts, weights
        self.series, self.scalers = series, scalers
        self.lookback, self.horizon = lookback, horizon
        self.future_columns = future_columns
        # The known-ahead columns, stored once: each batch gathers its horizon rows.
        self._future = (inputs[:, list(future_columns)].contiguous()
                        if future_columns else None)     # (rows, K)
        self._in_steps = torch.arange(lookback, device=inputs.device)
        self._out_steps = torch.arange(lookback, lookback + horizon, device=inputs.device)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def device(self) -> torch.device:
        return self.inputs.device

    def to(self, device: torch.device | str) -> ForecastWindows:
        move = (lambda t: None if t is None else t.to(device))  # noqa: E731
        return self._carry(ForecastWindows(move(self.inputs), move(self.targets),
                                           move(self.starts), self.lookback, self.horizon,
                                           self.future_columns, move(self.weights),
                                           move(self.series), self.scalers))

    def take(self, index: np.ndarray) -> ForecastWindows:
        """These windows at ``index`` (an integer array) only, over the same rows."""
        return self._carry(ForecastWindows(
            self.inputs, self.targets, self.starts[torch.as_tensor(index)], self.lookback,
            self.horizon, self.future_columns, self.weights, self.series, self.scalers))

    def window_weights(self) -> Tensor | None:
        """Each window's weight (N,), or None without weights."""
        return None if self.weights is None else self.weights[self.starts + self.lookback - 1]

    def window_series(self) -> Tensor | None:
        """Each window's series code (N,) where rows are scaled per series, else None."""
        return None if self.series is None else self.series[self.starts]

    def has_target_gaps(self) -> bool:
        """Whether any target may be missing (NaN) in a batch."""
        return self.targets is not None and bool(torch.isnan(self.targets).any())

    def batch(self, idx: Tensor | slice, scratch: Scratch | None = None) -> Batch:
        """The windows ``idx``; ``scratch`` is for sequences (forecast windows gather)."""
        start = self.starts[idx]                                 # (B,)
        x = gather_rows(self.inputs, start[:, None] + self._in_steps)   # (B, L, F)
        future = (None if self._future is None else
                  gather_rows(self._future, start[:, None] + self._out_steps))  # (B, H, K)
        if self.permutation is not None:
            columns, order = self.permutation
            donor = self.starts[order[idx]]                          # (B,)
            x[..., columns] = gather_rows(self.inputs, donor[:, None] + self._in_steps)[
                ..., columns]
            if future is not None:
                ahead = [k for k, j in enumerate(self.future_columns) if j in columns]
                future[..., ahead] = gather_rows(self._future, donor[:, None]
                                                 + self._out_steps)[..., ahead]
        out = {"x": x}
        if future is not None:
            out["future"] = future
        if self.targets is not None:
            out["y"] = gather_rows(self.targets, start[:, None] + self._out_steps)  # (B, H, T)
        if self.weights is not None:
            out["w"] = self.weights[start + self.lookback - 1]  # (B,): at each origin
        return out


class SequenceWindows(_Permutable):
    """Whole sequences of one part; sequence ``g`` is input rows ``offsets[g]:offsets[g+1]``.

    Batches are right-padded with zeros to the longest sequence in the batch and
    carry ``lengths`` when lengths differ, so the encoder can pack them.

    Args:
        inputs: encoded inputs, (rows, F) float32, all sequences back to back.
        offsets: (G + 1,) int64 row boundaries of the sequences.
        index: (N,) int64 the sequences that belong to this part.
        targets: per-sequence targets (G, S, T); per-row targets (rows, T) when
            ``aligned``; or None to predict.
        aligned: targets are per input step (seq2seq X(t) -> Y(t)).
        scaling: ``(center, scale)`` float64 per input column when ``inputs`` are raw
            numbers (the array path of ``predict``): each batch is scaled as it is
            gathered, ``(x - center) / scale`` (``_scaled``), instead of a scaled copy of
            all inputs.
        weights: (G,) float32 weight of each sequence (``Spec.weight``); batches then carry
            ``w`` (B,). None: unweighted.
    """

    def __init__(self, inputs: Tensor, offsets: Tensor, index: Tensor,
                 targets: Tensor | None, aligned: bool,
                 scaling: tuple[Tensor, Tensor] | None = None,
                 weights: Tensor | None = None) -> None:
        self.inputs, self.offsets, self.index, self.weights = inputs, offsets, index, weights
        self.targets, self.aligned, self.scaling = targets, aligned, scaling
        lengths = offsets[1:] - offsets[:-1]
        self.max_length = int(lengths.max()) if len(lengths) else 0
        equal = len(lengths) == 0 or bool((lengths == lengths[0]).all())
        self.fixed_length = self.max_length if equal else None
        self._steps = torch.arange(self.max_length, device=inputs.device)
        # Sequences of one length back to back from row 0 are the inputs viewed as
        # (G, T, F): a batch copies whole sequences, or is a slice of them (``_in_order``:
        # this set holds every sequence in order, so the windows of a slice are its sequences).
        packed = (equal and len(lengths) > 0 and int(offsets[0]) == 0 and inputs.is_contiguous()
                  and len(inputs) == len(lengths) * self.max_length)
        self._sequences = (inputs.view(len(lengths), self.max_length, inputs.shape[1])
                           if packed else None)
        self._in_order = packed and torch.equal(index, torch.arange(len(lengths),
                                                                    device=index.device))
        # The type the inputs are scaled in, and the scaling in it tiled over a whole
        # sequence's T x F values (see ``_scaled``).
        self._scaling_dtype = torch.float32 if inputs.dtype == torch.float32 else torch.float64
        self._tiled = None if scaling is None else tuple(
            v.to(self._scaling_dtype).repeat(self.max_length) for v in scaling)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def device(self) -> torch.device:
        return self.inputs.device

    def to(self, device: torch.device | str) -> SequenceWindows:
        move = (lambda t: None if t is None else t.to(device))  # noqa: E731
        scaling = None if self.scaling is None else tuple(map(move, self.scaling))
        return self._carry(SequenceWindows(self.inputs.to(device), self.offsets.to(device),
                                           self.index.to(device), move(self.targets),
                                           self.aligned, scaling, move(self.weights)))

    def window_weights(self) -> Tensor | None:
        """Each window's (sequence's) weight (N,), or None without weights."""
        return None if self.weights is None else self.weights[self.index]

    def has_target_gaps(self) -> bool:
        """Whether any target may be missing (NaN) in a batch: per-step targets of
        unequal sequences are NaN past each one's end."""
        if self.targets is None:
            return False
        return bool(torch.isnan(self.targets).any()) or (self.aligned
                                                          and self.fixed_length is None)

    def batch(self, idx: Tensor | slice, scratch: Scratch | None = None) -> Batch:
        """The windows ``idx``; with ``scratch``, a range of raw equal sequences is scaled
        into its buffers (valid until the next batch into them)."""
        seq = self.index[idx]                                    # (B,)
        steps, mask, rows = self._steps, None, None
        if self._sequences is not None:     # whole sequences, no row numbers to gather by
            view = self._in_order and isinstance(idx, slice)
            x = (self._scaled(self._sequences[idx], copy=True, scratch=scratch) if view else
                 self._scaled(self._sequences.index_select(0, seq)))    # (B, T, F)
        else:
            start = self.offsets[seq]
            if self.fixed_length is not None:
                rows = start[:, None] + steps                    # (B, T)
            else:
                length = self.offsets[seq + 1] - start
                steps = self._steps[: int(length.max())]
                mask = steps[None, :] < length[:, None]          # (B, T)
                rows = self._rows(seq, steps)
            x = self._gather(rows)                               # (B, T, F)
        if self.permutation is not None:   # a shorter donor repeats its last step
            columns, order = self.permutation
            x[..., columns] = self._gather(self._rows(self.index[order[idx]], steps))[
                ..., columns]
        out = {"x": x} if mask is None else {"x": x * mask[..., None], "lengths": length}
        if self.weights is not None:
            out["w"] = self.weights[seq]                         # (B,)
        if self.targets is None:
            return out
        if self.aligned:
            rows = self.offsets[seq][:, None] + steps if rows is None else rows
            y = gather_rows(self.targets, rows)                  # (B, T, n_targets)
            if mask is not None:
                y = y.masked_fill(~mask[..., None], math.nan)
        else:
            y = self.targets.index_select(0, seq)                # (B, S, n_targets)
        out["y"] = y
        return out

    def _rows(self, seq: Tensor, steps: Tensor) -> Tensor:
        """Rows (B, T) of sequences ``seq`` at ``steps``; past its end, a sequence's last row."""
        start = self.offsets[seq]
        length = self.offsets[seq + 1] - start
        return start[:, None] + torch.minimum(steps[None, :], length[:, None] - 1)

    def _gather(self, rows: Tensor) -> Tensor:
        """Input rows (B, T, F) float32, scaled here when the inputs are raw."""
        return self._scaled(gather_rows(self.inputs, rows))

    def _scaled(self, x: Tensor, copy: bool = False, scratch: Scratch | None = None) -> Tensor:
        """``x`` (B, T, F) scaled when the inputs are raw (then always a new tensor), else
        ``x`` itself or, with ``copy`` (a view of the inputs), a copy of it; with
        ``scratch``, written into its buffers instead of new tensors.

        ``(x - center) / scale`` in float32 for float32 inputs, the scalers' float64 center
        and scale rounded to float32: two passes over the batch in its own float32 buffer
        (float64 took four, through a float64 copy), numbers within float32 rounding of
        the float64 arithmetic of ``AffineScaler`` (BENCHMARKS.md, issue 28.4). Inputs of
        any other type are scaled in float64, as ``AffineScaler`` does, bit for bit. Each
        sample is one row of T x F values and the scaling is tiled to match, so the
        arithmetic runs over contiguous rows (vectorised) rather than rows of F.
        """
        if self.scaling is None:
            if not copy:
                return x
            return x.clone() if scratch is None else scratch.take(
                x.shape, x.dtype, x.device).copy_(x)
        b, t, f = x.shape
        dtype = self._scaling_dtype                      # x is a batch of the inputs
        center, scale = (self._tiled if t == self.max_length else
                         (v.to(dtype).repeat(t) for v in self.scaling))   # (T * F,)
        rows = x.reshape(b, t * f)
        work = (torch.empty(rows.shape, dtype=dtype, device=x.device) if scratch is None
                else scratch.take(rows.shape, dtype, x.device))
        scaled = torch.sub(rows, center, out=work).div_(scale).view(b, t, f)
        if dtype == torch.float32:
            return scaled
        return scaled.float() if scratch is None else scratch.take(
            x.shape, torch.float32, x.device).copy_(scaled)


Windows = ForecastWindows | SequenceWindows


class EpochOrder:
    """The order windows are visited in: a seeded permutation per epoch, or in sequence.

    Lightning calls ``set_epoch`` before each epoch, so a resumed run repeats the
    same orders.
    """

    def __init__(self, n: int, shuffle: bool, seed: int) -> None:
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.n, generator=generator)


class Batches:
    """An iterable of batches over ``windows``: one gather per batch, no collate step.

    Under data parallelism every process builds the same global batches (same
    seeded order) and takes its own share of each, so every window is used
    exactly once per epoch and every process takes the same number of steps.

    Args:
        windows: the window set to draw from.
        batch_size: windows per (global) batch; the last batch may be smaller.
        shuffle: visit windows in a new seeded order each epoch.
        seed: seed of the shuffling.
        rank: this process's index among ``world`` data-parallel processes.
        world: the number of data-parallel processes.
        reuse: in order on one process, each batch's inputs are written into the previous
            one's buffers (``Scratch``): for a consumer done with a batch before it asks
            for the next (inference), never for training (autograd keeps the inputs).
    """

    batch_sampler = None  # Lightning reads ``sampler`` (to call set_epoch) and this attribute

    def __init__(self, windows: Windows, batch_size: int, shuffle: bool = False,
                 seed: int = 0, rank: int = 0, world: int = 1, reuse: bool = False) -> None:
        self.windows, self.batch_size, self.rank, self.world = windows, batch_size, rank, world
        self.reuse = reuse
        self.sampler = EpochOrder(len(windows), shuffle, seed)
        n = len(windows)
        starts = list(range(0, n, batch_size))
        if world > 1 and len(starts) > 1 and n - starts[-1] < world:
            starts.pop()          # too few for every process: the previous batch takes them
        self.bounds = [*starts, n] if n else [0]

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __iter__(self) -> Iterator[Batch]:
        bounds = zip(self.bounds[:-1], self.bounds[1:], strict=True)
        if not self.sampler.shuffle and self.world == 1:    # in order: a batch is a range
            scratch = Scratch() if self.reuse else None
            for lo, hi in bounds:
                yield self.windows.batch(slice(lo, hi), scratch)
            return
        order = self.sampler.indices().to(self.windows.device)
        for lo, hi in bounds:
            yield self.windows.batch(order[lo:hi][self.rank :: self.world])
