"""The naive fallback of a normalised forecast: where validation says the network's change
from the naive forecast did not help, keep only the share of it that did.

A forecast with instance normalisation also keeps each target's naive forecast (the last
value, or the value one season earlier: ``anchor_lags``). After training, ``fall_back`` sets
the network's trust in its change from that forecast from the validation windows
(``set_trust``); where the default fell back so, ``fit`` may train an ``anchored``
candidate and keeps the one with the lower ``naive_ratio``.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .data.windows import ForecastWindows, Windows
from .nn import LSTMNetwork
from .nn.norm import InstanceNorm
from .pipeline import FittedPipeline
from .spec import Spec
from .tasks import anchor_rows

ANCHOR_WINDOWS = 4096      # training windows that choose each target's anchor, evenly spread


def fall_back(pipeline: FittedPipeline, val_windows: Windows | None,
              device: torch.device) -> None:
    """Set the fitted network's trust in its change from the naive forecast from the
    validation windows (``set_trust``), where it keeps a naive forecast."""
    norm = pipeline.network.norm
    if norm is not None and norm.naive and isinstance(val_windows, ForecastWindows):
        set_trust(norm, val_windows, *pipeline.outputs(val_windows, with_targets=True,
                                                       device=device, network_units=True))


def trusting_copy(network: LSTMNetwork) -> LSTMNetwork:
    """A copy of a fitted ``network`` to train on (a warm start), with trust 1 again: as a
    new network trains, until ``fall_back`` sets the trust from validation once more."""
    network = copy.deepcopy(network).train()
    if network.norm is not None and network.norm.naive:
        network.norm.trust.fill_(1.0)
    return network


def anchored_may_help(pipeline: FittedPipeline, mode: str | None, chosen: bool) -> bool:
    """Whether to try ``instance_norm='anchored'`` beside the default: the user left it
    unset (``chosen`` False) and the default network fell back on the naive forecast for
    some target (it did worse than that on the validation part)."""
    norm = pipeline.network.norm
    return (not chosen and mode == "revin" and norm is not None
            and norm.naive and bool((norm.trust < 1).any()))


def naive_ratio(pipeline: FittedPipeline, windows: Windows, offsets: torch.Tensor,
                device: torch.device) -> float:
    """The mean over regression targets of the model's validation MAE over the naive
    forecast's: lower is better."""
    verdict = pipeline.score_windows(windows, offsets, device).verdict()
    ratios = [e["model"] / e["naive"] for e in verdict["targets"].values()
              if e["metric"] == "MAE" and e["model"] is not None and e["naive"]]
    return float(np.mean(ratios)) if ratios else math.inf


def kept(pipeline: FittedPipeline) -> dict[str, float]:
    """Per target with a naive forecast to fall back on, the share of the network's
    change from it that validation kept (its trust, mean over steps)."""
    norm = pipeline.network.norm
    if norm is None or not norm.naive:
        return {}
    shares = norm.trust.mean(0).tolist()
    return {pipeline.spec.targets[j].name: round(share, 4)
            for j, share, single in zip(norm.targets.tolist(), shares, norm.single.tolist(),
                                        strict=True) if single}


def naive_lag(pipeline: FittedPipeline, target: str) -> int:
    """How many steps back ``target``'s naive forecast looks (1: the last value)."""
    lags = pipeline.network.config.anchor_lags
    return lags[pipeline.spec.target_names.index(target)] if lags else 1


def set_trust(norm: InstanceNorm, windows: ForecastWindows, outputs: np.ndarray,
               truth: np.ndarray) -> None:
    """Where the network does worse than the naive forecasts on ``windows`` (its MAE over
    theirs, averaged over the mapped targets, is 1 or more): per target it does worse on,
    and per step, the share of its change from the naive forecast that brings its forecasts
    closest to ``truth`` (least squares, in [0, 1]; 0 where the change made them worse).
    Other targets, and every target of a network that beats the naive forecasts as a whole,
    keep trust 1: on ETTh1 (H=96), whose validation and test parts differ, shrinking the
    few channels that lost on validation raised test MSE (BENCHMARKS.md)."""
    targets = windows.targets.numpy()
    # targets of several columns (quantiles) are left alone: trust 1
    entries = [(m, j, column) for m, (j, column, single) in enumerate(zip(
        norm.targets.tolist(), norm.columns.tolist(), norm.single.tolist(), strict=True))
        if single]
    changes, wanted, ratios = [], [], []
    for m, j, column in entries:
        anchor = targets[anchor_rows(windows, int(norm.lags[m])), j]       # (N, H)
        changes.append(outputs[..., column] - anchor)
        wanted.append(truth[..., j] - anchor)
        ratios.append(np.nanmean(np.abs(wanted[-1] - changes[-1]))
                      / np.nanmean(np.abs(wanted[-1])))
    if not ratios or np.nanmean(ratios) < 1:
        return                                           # it beats the naive forecasts
    for i, (m, _, _) in enumerate(entries):
        if not ratios[i] >= 1:
            continue                                     # it beats this one's naive forecast
        known = ~np.isnan(wanted[i])
        change, want = np.where(known, changes[i], 0.0), np.where(known, wanted[i], 0.0)
        power = (change**2).sum(axis=0)                                      # (H,)
        share = np.divide((change * want).sum(axis=0), power, out=np.ones_like(power),
                          where=power > 0)
        norm.trust[:, m] = torch.from_numpy(np.clip(share, 0.0, 1.0))


def anchor_lags(spec: Spec, windows: Windows, season: int | None) -> tuple[int, ...]:
    """Per target, the naive forecast a normalised forecast falls back on (and an
    ``anchored`` network changes): the season (``m``
    steps back, for every step) where it beats the last value on ``windows`` (the
    validation part's, else the training part's), else 1 (the last value). Without a
    season the lookback can hold, all 1."""
    lags = [1] * len(spec.targets)
    if not isinstance(windows, ForecastWindows) or not season or season > spec.lookback:
        return tuple(lags)
    spread = np.linspace(0, len(windows) - 1, min(len(windows), ANCHOR_WINDOWS)).astype(int)
    some = ForecastWindows(windows.inputs, windows.targets, windows.starts[spread],
                           windows.lookback, windows.horizon)
    targets = windows.targets.numpy()
    ahead = (some.starts + some.lookback).numpy()[:, None] + np.arange(windows.horizon)
    errors = {lag: np.nanmean(np.abs(targets[ahead] - targets[anchor_rows(some, lag)]),
                              axis=(0, 1)) for lag in (1, season)}           # (T,) each
    for j, t in enumerate(spec.targets):
        if t.target_kind.value_channel and errors[season][j] < errors[1][j]:
            lags[j] = season
    return tuple(lags)
