"""The naive fallback of a normalised forecast: where validation says the network's change
from the naive forecast did not help, keep only the share of it that did.

A forecast with instance normalisation also keeps each target's naive forecast (the last
value, or the value one season earlier: ``anchor_lags``). After training, ``fall_back`` sets
the network's trust in its change from that forecast from the validation windows
(``set_trust``), and for a target it falls back on, that forecast's share of drift (the
naive forecast with drift: ``naive_drift``) and of the window's last change (``momentum``),
from the training and validation windows; where the default fell back so, ``fit`` may
train an ``anchored`` candidate and keeps the one with the lower ``naive_ratio``.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np
import torch

from .data.windows import ForecastWindows, Windows
from .nn import LSTMNetwork
from .nn.norm import InstanceNorm
from .pipeline import FittedPipeline
from .spec import Spec
from .tasks import anchor_rows, window_origin

ANCHOR_WINDOWS = 4096      # training windows that choose each target's anchor, evenly spread


def fall_back(pipeline: FittedPipeline, val_windows: Windows | None,
              device: torch.device, train_windows: Windows | None = None,
              times: np.ndarray | None = None) -> None:
    """Set the fitted network's trust in its change from the naive forecast from the
    validation windows, and that forecast's drift from those and the training windows
    (``set_trust``), where it keeps a naive forecast; ``times``: each row's time, the
    windows' rows' (``window_blocks``)."""
    norm = pipeline.network.norm
    if norm is not None and norm.naive and isinstance(val_windows, ForecastWindows):
        more = (train_windows,) if isinstance(train_windows, ForecastWindows) else ()
        set_trust(norm, val_windows, *pipeline.outputs(val_windows, with_targets=True,
                                                       device=device, network_units=True),
                  more=more, times=times)


def trusting_copy(network: LSTMNetwork) -> LSTMNetwork:
    """A copy of a fitted ``network`` to train on (a warm start), with trust 1 and no drift
    or momentum again: as a new network trains, until ``fall_back`` sets them from
    validation once more."""
    network = copy.deepcopy(network).train()
    if network.norm is not None and network.norm.naive:
        network.norm.trust.fill_(1.0)
        network.norm.drift.zero_()
        network.norm.momentum.zero_()
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


def drifts(pipeline: FittedPipeline) -> dict[str, float]:
    """Per target whose fallback forecast carries drift (``set_trust``), the share of the
    window's drift in it; targets without drift are left out."""
    norm = pipeline.network.norm
    if norm is None or not norm.naive:
        return {}
    return {pipeline.spec.targets[j].name: round(share, 4)
            for j, share in zip(norm.targets.tolist(), norm.drift.tolist(), strict=True)
            if share > 0}


def momenta(pipeline: FittedPipeline) -> dict[str, list[float]]:
    """Per target whose fallback forecast carries momentum (``set_trust``), the share of the
    window's last change added at each step; targets without it are left out."""
    norm = pipeline.network.norm
    if norm is None or not norm.naive:
        return {}
    return {pipeline.spec.targets[j].name: [round(v, 4) for v in shares]
            for j, shares in zip(norm.targets.tolist(), norm.momentum.T.tolist(), strict=True)
            if any(shares)}


def naive_lag(pipeline: FittedPipeline, target: str) -> int:
    """How many steps back ``target``'s naive forecast looks (1: the last value)."""
    lags = pipeline.network.config.anchor_lags
    return lags[pipeline.spec.target_names.index(target)] if lags else 1


def set_trust(norm: InstanceNorm, windows: ForecastWindows, outputs: np.ndarray,
               truth: np.ndarray, more: tuple[ForecastWindows, ...] = (),
               times: np.ndarray | None = None) -> None:
    """Where the network does not beat the naive forecasts on ``windows`` by more than one
    standard error (``beats``: the one-standard-error rule, on its absolute errors less
    theirs, each target's over its naive MAE and averaged over the mapped targets): per
    target it does not beat so, the naive forecast to fall back on (with the share of the
    window's drift, ``naive_drift``, and per step of its last change, ``momentum``, that
    ``windows`` and ``more``, the training windows, say helps, else none), and per step the
    share of the network's change from that
    forecast that brings its forecasts closest to ``truth`` (least squares, in [0, 1]; 0
    where the change made them worse, and 0 at every step where the forecast so shrunk
    does not beat that naive forecast by more than one standard error either: the share
    is fitted on the same windows, and on a random walk it is noise). Other targets, and
    every target of a network that beats the naive forecasts as a whole, keep trust 1 and
    no drift: on ETTh1 (H=96), whose validation and test parts differ, shrinking the few
    channels that lost on validation raised test MSE (BENCHMARKS.md). ``times``: each
    row's time, so that a panel's windows of the same time share a block
    (``window_blocks``)."""
    norm.drift.zero_()
    norm.momentum.zero_()
    # targets of several columns (quantiles) are left alone: trust 1
    entries = [(m, j, column) for m, (j, column, single) in enumerate(zip(
        norm.targets.tolist(), norm.columns.tolist(), norm.single.tolist(), strict=True))
        if single]
    gains = [relative_gain(truth[..., j], outputs[..., column], windows.targets.numpy()[
        anchor_rows(windows, int(norm.lags[m])), j]) for m, j, column in entries]
    blocks = window_blocks(windows, times)
    if not gains or beats(_mean_over(np.stack(gains)), blocks) is not False:
        return                                           # it beats the naive forecasts
    for i, (m, j, column) in enumerate(entries):
        if beats(gains[i], blocks) is not False:
            continue                                     # it beats this one's naive forecast
        lag, steps = int(norm.lags[m]), norm.reach[:, m].cpu().numpy()
        terms = [naive_terms(w, j, lag, steps) for w in (windows, *more)]
        share = naive_drift(terms)
        shares = momentum([t._replace(anchor=t.anchor + share * t.drift) for t in terms])
        norm.drift[m] = share
        norm.momentum[:, m] = torch.from_numpy(shares)
        anchor, drift, miss, _ = terms[0]
        naive = anchor + share * drift + shares * miss
        change = outputs[..., column] - naive                                # (N, H)
        trust = least_squares_share(change, truth[..., j] - naive)          # (H,)
        if not beats(relative_gain(truth[..., j], naive + trust * change, naive), blocks):
            trust = np.zeros_like(trust)     # the share kept is no better than noise either
        norm.trust[:, m] = torch.from_numpy(trust)


def relative_gain(truth: np.ndarray, outputs: np.ndarray, naive: np.ndarray) -> np.ndarray:
    """Per window (N,), the network's absolute error less the naive forecast's (each (N, H)),
    mean over the known steps, over the naive forecast's MAE on all windows: its mean over
    the windows is about the MAE ratio less 1. NaN where nothing is known."""
    naive_error = np.abs(truth - naive)
    gain = _mean_over(np.abs(truth - outputs) - naive_error, axis=1)
    scale = _mean_over(naive_error.ravel())
    return gain / scale if scale > 0 else np.full(len(gain), np.nan)


def _mean_over(values: np.ndarray, axis: int | None = 0) -> np.ndarray:
    """The mean of ``values`` over ``axis``, leaving out NaN (NaN where all are)."""
    known = np.isfinite(values)
    counts = known.sum(axis=axis)
    sums = np.where(known, values, 0.0).sum(axis=axis)
    return np.divide(sums, counts, out=np.full(np.shape(sums), np.nan), where=counts > 0)


def window_blocks(windows: ForecastWindows, times: np.ndarray | None = None) -> np.ndarray:
    """Each window's block (N,): its start over the horizon. Windows one step apart share all
    but one of their target rows, so their errors are no independent draws; blocks of
    ``horizon`` consecutive starts are taken as such. With ``times`` (each row's time) a
    start is its time's rank among the table's times, so that the windows of a panel's
    series that start at the same times share a block: the series of a panel share their
    times' shocks (Grunfeld's eleven firms' investment years: BENCHMARKS.md), and counted
    as independent they made a few validation years look like many. For one series
    without gaps the rank is the row itself. Without ``times``, and where every window
    starts in one block of times (a panel of short series, validated on a year), the rows
    (a series' rows lie back to back): one block would give no standard error at all."""
    horizon = max(windows.horizon, 1)
    rows = np.asarray(windows.starts)
    if times is None:
        return rows // horizon
    by_time = np.unique(times, return_inverse=True)[1].reshape(-1)[rows] // horizon
    return by_time if len(np.unique(by_time)) > 1 else rows // horizon


def beats(gain: np.ndarray, blocks: np.ndarray) -> bool | None:
    """Whether the network beats the naive forecast by more than one standard error: the
    mean of ``gain`` (its per-window error less the naive forecast's, NaN unknown) plus the
    standard error of that mean below 0. The standard error is that of the means over the
    windows' ``blocks`` (roughly independent units); with fewer than two blocks there is no
    such estimate, and the mean alone decides. None where no window's gain is known (as a
    network that beats the naive forecast: nothing to judge by)."""
    known = np.isfinite(gain)
    if not known.any():
        return None
    gain, blocks = gain[known], blocks[known]
    _, block, counts = np.unique(blocks, return_inverse=True, return_counts=True)
    means = np.bincount(block, weights=gain) / counts
    error = means.std(ddof=1) / math.sqrt(len(means)) if len(means) > 1 else 0.0
    return bool(gain.mean() + error < 0)


class NaiveTerms(NamedTuple):
    """Of one target over a set of windows, each (N, H): the naive forecast (``anchor``),
    the drift the naive forecast with drift adds to it, the window's last change over the
    lag (``miss``, the same at every step) and the truth (``InstanceNorm.fallback``)."""

    anchor: np.ndarray
    drift: np.ndarray
    miss: np.ndarray
    truth: np.ndarray


def naive_terms(windows: ForecastWindows, j: int, lag: int, reach: np.ndarray) -> NaiveTerms:
    """The ``NaiveTerms`` of target ``j`` over ``windows`` for a naive forecast with ``lag``:
    the drift is the window's mean step change over its lookback times each step's
    ``reach``, the miss its last value less the one ``lag`` steps before (0 where the
    lookback holds no value that far back), as ``InstanceNorm`` computes them."""
    values = windows.targets.numpy()[:, j]
    first = np.asarray(windows.starts)
    origin = window_origin(first, windows.lookback)
    slope = (values[origin] - values[first]) / max(windows.lookback - 1, 1)       # (N,)
    miss = (values[origin] - values[origin - lag] if lag < windows.lookback
            else np.zeros(len(origin)))                                            # (N,)
    ahead = origin[:, None] + np.arange(1, windows.horizon + 1)
    shape = (len(origin), windows.horizon)
    return NaiveTerms(values[anchor_rows(windows, lag)], slope[:, None] * reach[None, :],
                      np.broadcast_to(miss[:, None], shape), values[ahead])


def naive_drift(terms: list[NaiveTerms]) -> float:
    """The share of the drift added to the naive forecast that brings it closest to the
    truth (``naive_terms`` of each window set, pooled; least squares over all steps, in
    [0, 1]), kept only where it lowers the naive forecast's MAE on them all and raises
    neither its MAE nor its squared error on the first set (the validation windows); else
    0: no drift. Steps with a gap are left out.

    The share is the naive forecast's, not the network's: it is chosen on every window
    outside the test part, the training part's too, so that one episode of trend in the
    validation part (macro's unemployment in 1994-2001) does not set it alone; validation
    can only veto it."""
    pooled = _known(*(np.concatenate([getattr(t, k).ravel() for t in terms])
                      for k in ("anchor", "drift", "truth")))
    if not len(pooled[0]):
        return 0.0
    share = float(least_squares_share(pooled[0][:, None], pooled[1][:, None])[0])
    drift, wanted = pooled
    if not np.abs(wanted - share * drift).mean() < np.abs(wanted).mean():
        return 0.0
    drift, wanted = _known(terms[0].anchor.ravel(), terms[0].drift.ravel(),
                           terms[0].truth.ravel())
    return share if _no_worse(wanted - share * drift, wanted) else 0.0


def momentum(terms: list[NaiveTerms]) -> np.ndarray:
    """Per step (H,), the share of the window's last change (``NaiveTerms.miss``) whose
    addition brings the naive forecast (``anchor``) closest to the truth: least squares per
    step over every window set pooled (any sign: a change that goes on, or one that
    reverses), kept only where it lowers that forecast's MAE over them all and raises
    neither its MAE nor its squared error on the first set (the validation windows); else
    zeros. A change that goes on (quarterly unemployment) is then forecast to go on; on a
    random walk the shares are noise, and validation vetoes them (BENCHMARKS.md)."""
    def known(t: NaiveTerms) -> tuple[np.ndarray, np.ndarray]:     # (N, H) each, NaN: 0
        wanted = t.truth - t.anchor
        ok = np.isfinite(wanted) & np.isfinite(t.miss)
        return np.where(ok, t.miss, 0.0), np.where(ok, wanted, np.nan)

    miss, wanted = (np.concatenate(parts) for parts in zip(*map(known, terms), strict=True))
    zeros = np.zeros(miss.shape[1])
    if not len(miss):
        return zeros
    power = (miss**2).sum(axis=0)
    shares = np.divide((miss * np.nan_to_num(wanted)).sum(axis=0), power, out=zeros.copy(),
                       where=power > 0)
    if not np.nanmean(np.abs(wanted - shares * miss)) < np.nanmean(np.abs(wanted)):
        return zeros
    miss, wanted = known(terms[0])
    return shares if _no_worse(wanted - shares * miss, wanted) else zeros


def _no_worse(errors: np.ndarray, before: np.ndarray) -> bool:
    """Whether ``errors`` have neither a larger mean absolute value nor a larger mean square
    than ``before`` (the same steps; NaN left out): the validation windows' veto."""
    return all(np.nanmean(np.abs(errors) ** power) <= np.nanmean(np.abs(before) ** power)
               for power in (1, 2))


def _known(anchor: np.ndarray, drift: np.ndarray, truth: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """The drift and the truth's change from the naive forecast, at the steps where all
    three are known."""
    known = ~(np.isnan(truth) | np.isnan(drift) | np.isnan(anchor))
    return drift[known], truth[known] - anchor[known]


def least_squares_share(change: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Per step (the last axis; over the first), the share of ``change`` that brings it
    closest to ``wanted`` (least squares, in [0, 1]; 1 where the change is 0 throughout).
    NaN in either counts as no change there."""
    known = ~(np.isnan(change) | np.isnan(wanted))
    change, wanted = np.where(known, change, 0.0), np.where(known, wanted, 0.0)
    power = (change**2).sum(axis=0)
    share = np.divide((change * wanted).sum(axis=0), power, out=np.ones_like(power),
                      where=power > 0)
    return np.clip(share, 0.0, 1.0)


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
