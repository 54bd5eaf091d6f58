"""Reversible instance normalisation: each window measured against itself.

* ``revin`` (RevIN, Kim et al., ICLR 2022): each window's numeric input channels
  are shifted and scaled by the window's own mean and standard deviation.
* ``last`` (SegRNN, Lin et al. 2023): each channel's last observed value is
  subtracted, so the network forecasts the change from now; nothing is rescaled.
* ``anchored``: the inputs as ``revin``; each target's outputs are the change from
  its naive forecast (its last value, or with a lag of one season the value a season
  before each step), in units of the window's standard deviation. An untrained or
  unsure network forecasts what the naive forecast does, and learns what to change.

Given ``lags`` (any mode; always in ``anchored``), each mapped target's forecast is
finally moved towards that naive forecast: ``naive + trust * (forecast - naive)`` per
step, with ``trust`` 1 while training and set from validation data afterwards, so that
a network that does not beat the naive forecast there falls back on it. The naive
forecast it falls back on may carry a share ``drift`` of the window's drift (its mean
step change, times the steps from the value it repeats): the naive forecast with drift,
and per step a share ``momentum`` of the window's last change over the lag (what the naive
forecast would have missed by at the window's last step), where the data outside the test
part say that helps (0, the plain naive forecast, until then).

Either way a level the training data never reached (a drifting series) looks
familiar to the LSTM, and outputs of regression targets that are also input
channels are mapped back with the same statistics.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

MODES = ("revin", "last", "anchored")
# How an output column maps back (``TargetKind.roles``): ``value`` affinely (times the
# window's scale, plus its level), ``spread`` times the window's scale only (a scale
# parameter), ``rate`` times 1 + the window's level in the target's units (a count's mean,
# as DeepAR scales it: positive, and not tiny for a window of zeros), ``free`` not at all.
ROLES = ("value", "spread", "rate", "free")


class Stats(NamedTuple):
    """One batch of windows measured: what ``normalize`` did and ``denormalize`` undoes.

    Attributes:
        shift: (B, 1, F) subtracted from each input channel.
        scale: (B, 1, F) the channel was then divided by.
        anchor: (B, S, M) each mapped target's naive forecast (given ``lags``, or in
            ``anchored`` mode, whose outputs are changes from it); None: no naive forecast.
        slope: (B, 1, M) with ``anchor``: each mapped target's drift in the window, its
            mean step change (last value - first) / (steps - 1).
        miss: (B, 1, M) with ``anchor``: each mapped target's last change over its lag,
            the window's last value less the one ``lag`` steps before it (0 in a window of
            no more than ``lag`` steps).
    """

    shift: Tensor
    scale: Tensor
    anchor: Tensor | None = None
    slope: Tensor | None = None
    miss: Tensor | None = None


def norm_mode(instance_norm: bool | str | None) -> str | None:
    """The mode an ``instance_norm`` setting asks for: True means ``revin``, False none."""
    if instance_norm is True:
        return "revin"
    return instance_norm or None


class InstanceNorm(nn.Module):
    """Per-window normalisation of inputs, reversed on the outputs of matching targets.

    Args:
        numeric: per input channel, whether to normalise it (one-hot columns are not).
        target_channels: per target, its input channel, or -1 if it is not an input
            (or not a regression target): such outputs are left alone.
        output_columns: per target, its first column in the network output.
        mode: ``revin`` (window mean and std), ``last`` (the last value only) or
            ``anchored`` (mean and std in, changes from a naive forecast out).
        steps: output steps (``anchored``: one anchor per step).
        lags: per target, how many steps back its naive forecast looks: 1 repeats
            the last value, a season ``m`` the value ``m`` steps before each step
            (``T - m + (k - 1) mod m`` for step ``k`` of a window of ``T`` steps).
            None: no naive forecast (``anchored``: 1 for every target).
        eps: added to the variance.
        widths: per target, its columns in the network output (default 1 each): a
            mapped target's columns (such as its quantiles) are all mapped with its
            statistics; the naive fallback (``trust``) applies to one-column targets.
        roles: per target, how each of its columns maps back (``ROLES``; default
            ``value`` for every column, as ``widths`` says): a distribution's location
            maps as a value, its scale only multiplicatively, a count's rate by the
            window's level, and a shape parameter not at all.

    With a naive forecast, the buffer ``trust`` (S, M) scales each mapped target's change
    from it, per step: 1 while training; afterwards the model may set it from validation
    data (``lstmkit.fallback``), towards 0 where the network's change did not help. The
    buffer ``drift`` (M,) is the share of the window's drift that naive forecast carries
    (0: none, the last value or last season's; 1: the naive forecast with drift), set
    beside ``trust`` from the training and validation windows, as is the buffer
    ``momentum`` (S, M), per step the share of the window's last change over the lag
    (``Stats.miss``) added to it (0: none); they move only what the network falls back
    on, never what it is trained on.

    Buffers ``scale``/``shift`` (per mapped target) map a value in the input
    channel's scaled units to the target's scaled units, since the two scalers of
    one column may differ; the model sets them from the fitted scalers.

    Example:
        >>> norm = InstanceNorm([True, True], target_channels=[1], output_columns=[0])
        >>> x, stats = norm.normalize(torch.randn(8, 96, 2))
        >>> norm.denormalize(torch.randn(8, 24, 1), stats).shape
        torch.Size([8, 24, 1])
    """

    def __init__(self, numeric: list[bool], target_channels: list[int],
                 output_columns: list[int], mode: str = "revin", steps: int = 1,
                 lags: list[int] | None = None, eps: float = 1e-5,
                 widths: list[int] | None = None,
                 roles: list[tuple[str, ...]] | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown instance norm mode {mode!r}")
        self.mode, self.eps = mode, eps
        widths = widths or [1] * len(target_channels)
        roles = roles or [("value",) * w for w in widths]
        # one entry per mapped column: its target, that target's input channel, the column
        mapped = [(j, k) for j, c in enumerate(target_channels) if c >= 0
                  for k in range(len(roles[j])) if roles[j][k] != "free"]
        role = [roles[j][k] for j, k in mapped]
        self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.float32))
        self.register_buffer("targets", torch.tensor([j for j, _ in mapped], dtype=torch.long))
        self.register_buffer("channels", torch.tensor([target_channels[j] for j, _ in mapped],
                                                      dtype=torch.long))
        self.register_buffer("columns", torch.tensor([output_columns[j] + k for j, k in mapped],
                                                     dtype=torch.long))
        # Derived from the config, not saved: the entries the naive fallback may move.
        self.register_buffer("single", torch.tensor([widths[j] == 1 and r == "value" for
                                                     (j, _), r in zip(mapped, role, strict=True)],
                                                    dtype=torch.bool), persistent=False)
        # per entry: 1 where it is a value (shifted), and whether it is a count's rate
        self.register_buffer("located", torch.tensor([float(r == "value") for r in role]),
                             persistent=False)
        self.register_buffer("rated", torch.tensor([r == "rate" for r in role],
                                                   dtype=torch.bool), persistent=False)
        self.rates = "rate" in role
        # the entries that give a target's teacher values: its first column (a location)
        self.register_buffer("first", torch.tensor([k == 0 for _, k in mapped],
                                                   dtype=torch.bool), persistent=False)
        mapped = [j for j, _ in mapped]
        self.register_buffer("scale", torch.ones(len(mapped)))
        self.register_buffer("shift", torch.zeros(len(mapped)))
        # Derived from the config, not learned: left out of the saved weights.
        self.naive = lags is not None or mode == "anchored"
        lags = lags or [1] * len(target_channels)
        self.register_buffer("lags", torch.tensor([lags[j] for j in mapped], dtype=torch.long),
                             persistent=False)
        self.register_buffer("ahead", torch.arange(steps), persistent=False)
        # per step and entry, how many steps past the value it repeats the naive forecast is
        self.register_buffer("reach", reach(steps, self.lags), persistent=False)
        if self.naive:   # learned on validation data after training (1: keep it all)
            self.register_buffer("trust", torch.ones(steps, len(mapped)))
            # the share of the window's drift in the naive forecast (0: none), and per step
            # that of its last change over the lag
            self.register_buffer("drift", torch.zeros(len(mapped)))
            self.register_buffer("momentum", torch.zeros(steps, len(mapped)))

    def _load_from_state_dict(self, state_dict: dict[str, Tensor], prefix: str,
                              *args: object) -> None:
        # A checkpoint written before the naive fallback existed (0.2.0) trained with
        # trust 1 throughout, and one written before its drift (or momentum) fell back on
        # the naive forecast without it: resume them with that.
        if self.naive:
            state_dict.setdefault(f"{prefix}trust", torch.ones_like(self.trust))
            state_dict.setdefault(f"{prefix}drift", torch.zeros_like(self.drift))
            state_dict.setdefault(f"{prefix}momentum", torch.zeros_like(self.momentum))
        super()._load_from_state_dict(state_dict, prefix, *args)

    def normalize(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Stats]:
        """x (B, T, F) -> normalised x, and each window's statistics."""
        mask = None
        if lengths is not None:
            steps = torch.arange(x.shape[1], device=x.device)
            mask = (steps[None, :] < lengths.to(x.device)[:, None])[..., None]  # (B, T, 1)
        if self.mode == "last":
            if lengths is None:
                shift = x[:, -1:]                              # (B, 1, F)
            else:
                last = (lengths.to(x.device) - 1).view(-1, 1, 1).expand(-1, 1, x.shape[2])
                shift = x.gather(1, last)                      # (B, 1, F)
            scale = torch.ones_like(shift)
        elif mask is None:
            shift = x.mean(1, keepdim=True)                    # (B, 1, F)
            scale = (x.var(1, keepdim=True, unbiased=False) + self.eps).sqrt()
        else:
            count = lengths.to(x.device, x.dtype).view(-1, 1, 1)
            shift = (x * mask).sum(1, keepdim=True) / count
            scale = ((((x - shift) * mask) ** 2).sum(1, keepdim=True) / count + self.eps).sqrt()
        # One-hot channels get shift 0 and scale 1: they pass through unchanged.
        shift = shift * self.numeric
        scale = scale * self.numeric + (1 - self.numeric)
        normed = (x - shift) / scale
        if mask is not None:
            normed = normed * mask
        if not self.naive:
            return normed, Stats(shift, scale)
        return normed, Stats(shift, scale, self._anchor(x, lengths), self._slope(x, lengths),
                             self._miss(x, lengths))

    def _anchor(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """Each mapped target's naive forecast (B, S, M) from the raw window x (B, T, F):
        step ``k`` (from 0) reads ``k mod lag - lag`` steps from the window's end."""
        back = self.ahead[:, None] % self.lags - self.lags                 # (S, M), < 0
        end = x.shape[1] if lengths is None else lengths.to(x.device).view(-1, 1, 1)
        rows = (end + back).expand(x.shape[0], -1, -1)                     # (B, S, M)
        return x[..., self.channels].gather(1, rows)

    def _slope(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """Each mapped target's mean step change (B, 1, M) over the raw window x (B, T, F):
        (last value - first) / (steps - 1), 0 for a window of one step."""
        values = x[..., self.channels]                                     # (B, T, M)
        if lengths is None:
            return (values[:, -1:] - values[:, :1]) / max(x.shape[1] - 1, 1)
        n = lengths.to(x.device).view(-1, 1, 1)
        last = values.gather(1, (n - 1).expand(-1, 1, values.shape[2]))
        return (last - values[:, :1]) / (n - 1).clamp(min=1)

    def _miss(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """Each mapped target's last change over its lag (B, 1, M) in the raw window x
        (B, T, F): its last value less the one ``lag`` steps before, 0 where the window has
        no value that far back."""
        values = x[..., self.channels]                                     # (B, T, M)
        if lengths is None:
            last = values[:, -1:]                                          # (B, 1, M)
            before = (x.shape[1] - 1 - self.lags).view(1, 1, -1)           # (1, 1, M)
        else:
            n = lengths.to(x.device).view(-1, 1, 1)
            last = values.gather(1, (n - 1).expand(-1, 1, values.shape[2]))
            before = n - 1 - self.lags                                     # (B, 1, M)
        earlier = values.gather(1, before.clamp(min=0).expand(x.shape[0], 1, -1))
        return torch.where(before >= 0, last - earlier, torch.zeros_like(last))

    def fallback(self, stats: Stats) -> Tensor:
        """The naive forecast (B, S, M) the outputs fall back on: the anchor, plus the
        ``drift`` share of the window's drift over each step's ``reach`` and the
        ``momentum`` share of its last change (where a share is 0, nothing of that term,
        whatever its value: a window with gaps stays the naive forecast)."""
        drifted = stats.anchor + self.drift * self.reach * stats.slope
        naive = torch.where(self.drift != 0, drifted, stats.anchor)
        return torch.where(self.momentum != 0, naive + self.momentum * stats.miss, naive)

    def denormalize(self, outputs: Tensor, stats: Stats | None) -> Tensor:
        """Outputs (B, S, C) with the mapped targets restored to their scaled units.

        Without ``stats`` (inputs were not normalised) only the map from input
        units to target units is applied.
        """
        if len(self.columns) == 0:
            return outputs
        values = outputs[..., self.columns]
        if stats is not None:
            factor = self._factor(stats)                                         # (B, 1, M)
            values = values * factor + self._base(stats) * self.located          # (B, S, M)
            if stats.anchor is not None:      # towards the naive forecast, as validation said
                naive = self.fallback(stats)
                values = naive + self.trust * (values - naive)
        restored = values * self._unit_scale(stats) + self.shift * self.located
        # float32 under mixed precision; scatter rather than index assignment: the same
        # values, and it exports to ONNX
        columns = self.columns.expand(*restored.shape[:-1], -1)
        return outputs.to(restored.dtype).scatter(-1, columns, restored)

    def normalize_targets(self, y: Tensor, stats: Stats) -> Tensor:
        """True targets (B, S, T) in the units the network predicts in (for teacher forcing)."""
        if len(self.targets) == 0:
            return y
        first = self.first
        values = y[..., self.targets[first]]                              # (B, S, M')
        scale, shift = self.scale[first], self.shift[first]
        if self.rates:    # a rate was multiplied by 1 + the level, already in target units
            values = torch.where(self.rated[first], values * (1 / self._factor(stats))[..., first],
                                 ((values - shift) / scale - self._base(stats)[..., first])
                                 / stats.scale[..., self.channels[first]])
        else:
            values = ((values - shift) / scale - self._base(stats)[..., first]) \
                / stats.scale[..., self.channels[first]]
        y = y.clone()
        y[..., self.targets[first]] = values
        return y

    def _factor(self, stats: Stats) -> Tensor:
        """What each entry's outputs are multiplied by (B, 1, M): the window's scale, or for
        a rate 1 + the window's level (its shift) in the target's units, at least 1."""
        std = stats.scale[..., self.channels]
        if not self.rates:
            return std
        level = (stats.shift[..., self.channels] * self.scale + self.shift).clamp(min=0)
        return torch.where(self.rated, 1 + level, std)

    def _unit_scale(self, stats: Stats | None) -> Tensor:
        """The map of each entry's values to the target's units: ``scale``, but 1 for a rate
        that ``_factor`` measured in them already."""
        if not self.rates or stats is None:
            return self.scale
        return torch.where(self.rated, torch.ones_like(self.scale), self.scale)

    def _base(self, stats: Stats) -> Tensor:
        """What the mapped targets' outputs are measured from: (B, S, M) anchors
        (``anchored``), or each channel's (B, 1, M) shift."""
        return stats.anchor if self.mode == "anchored" else stats.shift[..., self.channels]


def reach(steps: int, lags: Tensor) -> Tensor:
    """(S, M): for output step ``k`` (from 0) and each lag, how many steps past the value
    it repeats the naive forecast is: ``k + 1`` for the last value, ``m * (k // m + 1)``
    for a season of ``m``."""
    ahead = torch.arange(steps)[:, None]
    return (ahead - (ahead % lags - lags)).to(torch.float32)
