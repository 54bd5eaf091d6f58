"""Scoring a fitted model's predictions and its baselines against the truth: ``Evaluation``.

``FittedPipeline.score_windows`` (behind ``LSTMModel.evaluate`` and ``score``) runs the
network; the baselines it is scored beside come from here (``naive_proba``: the naive
one's class probabilities, ``seasonal_naive``, ``neighbour_baseline``; the naive
prediction itself stays the pipeline's, which fit and calibration read too), and
``evaluate_outputs`` turns the outputs, the baselines and the true targets into the tables
of an ``Evaluation`` (``lstmkit.metrics``): each target's metrics by its kind, overall and
per step, per series with MASE and RMSSE where the windows' series are given
(``lstmkit.scale_free``), and the metrics of the calibrated conformal intervals beside the
naive baseline's. It knows nothing of the pipeline: the pipeline imports it, never the
reverse.

Example:
    >>> evaluate_outputs(spec, encoding, outputs, truth, baselines).table
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import presets
from .baselines import NearestNeighbour
from .conformal import SUFFIX, interval_levels, interval_scores
from .data.timestep import TimeStep
from .data.windows import ForecastWindows, Windows
from .decision import offsets_of
from .errors import ConfigError
from .kinds import Decoded
from .metrics import (
    BASELINES,
    PREDICTORS,
    SCALE_FREE,
    SERIES_COLUMNS,
    Baseline,
    Evaluation,
    interval_metrics,
)
from .scale_free import NaiveScales, describe, scaled
from .spec import Spec, Target
from .tasks import anchor_rows

# (windows, values (N, S, T), "targets") -> the values in the encoding's global units
Referenced = Callable[[Windows, np.ndarray, str], np.ndarray]


@dataclass(frozen=True)
class ScoredSeries:
    """Which series each scored window belongs to (``which``: an index into ``keys``), and
    the series' naive scales (None: no MASE and RMSSE)."""

    which: np.ndarray
    keys: list[Any]
    scales: NaiveScales | None


def evaluate_outputs(spec: Spec, encoding: Any, outputs: np.ndarray, truth: np.ndarray,
                     baselines: dict[str, Baseline],
                     spread: dict[str, list[list[float | None]]] | None = None,
                     weights: np.ndarray | None = None, series: ScoredSeries | None = None,
                     intervals: dict[str, Decoded] | None = None,
                     decisions: dict[str, dict[str, Any]] | None = None) -> Evaluation:
    """Per-target metrics (overall and per step) of ``outputs`` and of the baselines
    (``naive``, ``seasonal``, ``neighbour``) against ``truth``; the naive baseline of a
    quantile or distribution target with a ``spread`` (``FittedPipeline.naive_spread``) is
    probabilistic: the naive prediction plus the spread's quantiles (``_with_spread``);
    ``weights`` (N,): each window's weight in every metric. Given the windows' ``series``,
    the metrics per series too, with MASE and RMSSE where it has scales, whose means over
    series (each weighing the same) join the overall rows. Targets whose decoded outputs
    in ``intervals`` carry calibrated conformal intervals (``conformal.with_intervals``)
    add their metrics (``_conformal_rows``). Targets with ``decisions`` are scored by the
    labels their offsets choose."""
    rows, step_rows, series_rows, confusion, reliability = [], [], [], {}, {}
    edges = np.cumsum([0] + [encoding.n_classes(t) for t in spec.targets])
    decoded = intervals or {}
    for j, t in enumerate(spec.targets):
        y = truth[..., j]                                          # (N, S)
        out = outputs[..., edges[j] : edges[j + 1]]
        bases = [baselines[b].of_target(t.name, j) for b in BASELINES]
        naive = bases[0]
        if t.target_kind.spread_levels(t) and spread and t.name in spread and naive is not None:
            bases[0] = _with_spread(naive, np.array(spread[t.name], dtype=np.float64))
        offsets = offsets_of(decisions, t.name)
        decided = {} if offsets is None else {"offsets": offsets}
        scored = t.target_kind.scored(t, encoding, y, out, bases, **decided)
        if scored.confusion is not None:
            confusion[t.name] = scored.confusion
        if scored.reliability is not None:
            reliability[t.name] = scored.reliability
        score, names, true, predictions = (scored.score, scored.names, scored.true,
                                           scored.predictions)
        if weights is not None and "weights" not in inspect.signature(score).parameters:
            raise ConfigError(f"target {t.name!r} is of kind {t.kind!r}, whose scored() gives a "
                              "score(true, prediction) without weights; evaluate it with "
                              "weighted=False, or give that score a weights argument")
        w = None if weights is None else np.broadcast_to(weights[:, None], true.shape)
        rows += [(t.name, *row) for row in _scored(score, names, true, predictions, w)]
        if series is not None:
            own = _per_series(t, encoding, y, out, bases, series, w, decided)
            rows += _series_means(t.name, own)
            if t.name in decoded and decoded[t.name].intervals:
                own += _series_intervals(t.name, true, decoded[t.name], series, w)
            series_rows += own
        if true.shape[1] > 1:
            for s in range(true.shape[1]):
                at_step = [None if p is None else p[:, s] for p in predictions]
                step_rows += [(t.name, s + 1, *row) for row in _scored(
                    score, names, true[:, s], at_step, None if w is None else w[:, s])]
        if t.name in decoded and decoded[t.name].intervals:
            coverage = [c for c, _, _ in decoded[t.name].intervals]
            levels = t.target_kind.spread_levels(t) or interval_levels(coverage)
            bands = None
            if naive is not None and (spread or {}).get(t.name):
                bands = encoding.decode_regression(t, _with_spread(
                    naive, np.array(spread[t.name], dtype=np.float64)))       # (N, S, L)
            naive = None if naive is None else encoding.decode_regression(t, naive)
            overall, per_step = _conformal_rows(true, decoded[t.name], naive, bands, levels, w)
            rows += [(t.name, *row) for row in overall]
            step_rows += [(t.name, *row) for row in per_step]
    table = pd.DataFrame(rows, columns=["target", "metric", *PREDICTORS])
    per_step = pd.DataFrame(step_rows, columns=["target", "step", "metric", *PREDICTORS])
    panel = series is not None and series.keys != [None]
    per_series = pd.DataFrame(series_rows if panel else [], columns=SERIES_COLUMNS)
    scales = None if series is None else series.scales
    scale_free = "" if scales is None else describe(scales, len(np.unique(series.which)))
    return Evaluation(table, per_step, confusion, baselines["naive"].description,
                      baselines["seasonal"].description, dict(spec.units),
                      baselines["neighbour"].description, reliability, per_series, scale_free)


def _per_series(target: Target, encoding: Any, truth: np.ndarray, outputs: np.ndarray,
                bases: list[np.ndarray | None], series: ScoredSeries,
                weights: np.ndarray | None = None, decided: dict[str, Any] | None = None
                ) -> list[tuple[Any, ...]]:
    """Rows ``(series, target, metric, *one score per predictor)`` of ``target`` on each
    series' windows, scored by its kind as the whole is (``weights`` shaped like ``truth``,
    where given; ``decided``: its label offsets, as ``scored`` takes them), with MASE and
    RMSSE where the series has scales and the kind gives MAE and RMSE."""
    rows = []
    scales = series.scales
    order = np.argsort(series.which, kind="stable")
    for mine in np.split(order, np.flatnonzero(np.diff(series.which[order])) + 1):
        if not mine.size:                                            # no windows at all
            continue
        g = series.which[mine[0]]
        scored = target.target_kind.scored(target, encoding, truth[mine], outputs[mine],
                                           [None if b is None else b[mine] for b in bases],
                                           **(decided or {}))
        own = _scored(scored.score, scored.names, scored.true, scored.predictions,
                      None if weights is None else weights[mine])
        errors = {row[0]: list(row[1:]) for row in own}
        if scales is not None and target.name in scales.mae and {"MAE", "RMSE"} <= set(errors):
            own += scaled(errors, scales.mae[target.name][g], scales.mse[target.name][g])
        rows += [(series.keys[g], target.name, *row) for row in own]
    return rows


def _series_intervals(target: str, true: np.ndarray, decoded: Decoded, series: ScoredSeries,
                      weights: np.ndarray | None = None) -> list[tuple[Any, ...]]:
    """Rows ``(series, target, metric, model, NaN, NaN, NaN)`` of the coverage and mean width
    of each calibrated interval of ``decoded`` on each series' windows (``true`` (N, S),
    original units): whether every series is covered, not only the pooled windows."""
    rows = []
    for g in np.unique(series.which):
        mine = series.which == g
        for coverage, lower, upper in decoded.intervals:
            scores = interval_metrics(true[mine], lower[mine], upper[mine], coverage, math.nan,
                                      SUFFIX, None if weights is None else weights[mine])
            rows += [(series.keys[g], target, name, value, math.nan, math.nan, math.nan)
                     for name, value in scores.items() if not name.startswith("MSIS")]
    return rows


def _series_means(target: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows ``(target, metric, *means)`` of MASE and RMSSE: the mean over the series (of
    ``_per_series``' ``rows``) that have them, each series weighing the same."""
    frame = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    frame = frame[frame.metric.isin(SCALE_FREE)]
    means = frame.groupby("metric", sort=False)[list(PREDICTORS)].mean()   # NaN: left out
    return [(target, metric, *values) for metric, values in zip(
        means.index, means.to_numpy().tolist(), strict=True)]


def _conformal_rows(true: np.ndarray, decoded: Decoded, naive: np.ndarray | None,
                    bands: np.ndarray | None, levels: tuple[float, ...],
                    weights: np.ndarray | None = None
                    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows ``(metric, model, naive, seasonal, neighbour)`` over all steps, and rows ``(step,
    metric, ...)`` per step where there are several, of each calibrated interval of
    ``decoded`` and the naive baseline's (its point prediction ``naive`` (N, S) plus the
    error quantiles ``bands`` (N, S, L) at ``levels``, original units; NaN where ``levels``
    lack an interval's ends) against ``true`` (N, S), each value weighing ``weights``
    (N, S) where given; MSIS divides by the naive baseline's mean absolute error."""
    scale = math.nan if naive is None else float(np.nanmean(np.abs(true - naive)))
    steps = [None] + (list(range(true.shape[1])) if true.shape[1] > 1 else [])
    overall, per_step = [], []
    for coverage, _, _ in decoded.intervals:
        ends = [np.flatnonzero(np.isclose(levels, end))
                for end in ((1 - coverage) / 2, (1 + coverage) / 2)]
        has_ends = bands is not None and all(len(e) for e in ends)
        for s in steps:
            at = slice(None) if s is None else slice(s, s + 1)
            step = dataclasses.replace(decoded, intervals=tuple(
                (c, lo[:, at], hi[:, at]) for c, lo, hi in decoded.intervals))
            band = ((bands[:, at, int(ends[0][0])], bands[:, at, int(ends[1][0])])
                    if has_ends else None)
            scored = interval_scores(true[:, at], step, band, coverage, scale,
                                     None if weights is None else weights[:, at])
            made = [(m, model, theirs, math.nan, math.nan)
                    for m, (model, theirs) in scored.items()]
            if s is None:
                overall += made
            else:
                per_step += [(s + 1, *row) for row in made]
    return overall, per_step


def _with_spread(naive: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Naive predictions (N, S) plus each step's error quantiles ``spread`` (S, Q): (N, S, Q).
    Where the steps differ from those the spread was measured on (aligned seq2seq of other
    lengths), every step takes the spread's mean over steps."""
    if spread.shape[0] != naive.shape[1]:
        spread = np.broadcast_to(np.nanmean(spread, axis=0), (naive.shape[1], spread.shape[1]))
    return naive[..., None] + spread[None]


def _scored(score: Any, names: tuple[str, ...], true: np.ndarray,
            predictions: list[np.ndarray | None], weights: np.ndarray | None = None
            ) -> list[tuple[Any, ...]]:
    """Rows ``(metric, *one score per prediction)``; a missing prediction (None) scores NaN;
    ``weights`` (shaped like ``true``) are passed on where given."""
    def one(p: np.ndarray) -> dict[str, float]:
        return score(true, p) if weights is None else score(true, p, weights)
    scores = [dict.fromkeys(names, math.nan) if p is None else one(p) for p in predictions]
    return [(m, *(each[m] for each in scores)) for m in names]


def naive_proba(windows: Windows, truth: np.ndarray, class_frequencies: dict[str, list[float]]
                ) -> dict[str, np.ndarray]:
    """The naive baseline's class probabilities (N, S, K) where it answers with the
    training majority class: the training class frequencies (``class_frequencies``)."""
    if isinstance(windows, ForecastWindows):
        return {}
    return {name: np.broadcast_to(np.asarray(shares), (*truth.shape[:2], len(shares)))
            for name, shares in class_frequencies.items()}


def neighbour_baseline(spec: Spec, neighbours: NearestNeighbour | None,
                       nearest: np.ndarray | None, truth: np.ndarray) -> Baseline:
    """The nearest-neighbour baseline of the categorical targets of sequence classification
    (``nearest``: each sequence's nearest training sequence's targets, by ``neighbours``,
    ``FittedPipeline._nearest``), shaped like ``truth``; NaN for regression targets."""
    if not presets.classifies(spec):
        return Baseline("")
    if nearest is None:
        return Baseline("not available: the model keeps no training sequences (1-NN "
                        "needs numeric inputs, and a saved model keeps them only where "
                        "it answers a target with them)")
    scaled = [not t.categorical for t in spec.targets]
    values = np.where(np.isnan(truth) | scaled, np.nan, nearest[:, None, :])
    return Baseline(neighbours.description, values)


def seasonal_naive(spec: Spec, time_step: TimeStep | None, windows: Windows,
                   offsets: torch.Tensor, referenced: Referenced) -> Baseline:
    """Forecasts repeat the value one season earlier: step ``k`` from origin ``o`` is the
    value at ``o + k - m * ceil(k / m)``, ``m`` the calendar's season (``TimeStep.season``);
    ``offsets``: where each series' rows begin; ``referenced``: the targets' values in the
    encoding's global units (``FittedPipeline.referenced``).

    Where a window's season reaches before the first row of its series (a lookback
    shorter than the season and no earlier rows), it is not available for any window:
    scored on fewer windows than the model, its numbers would not compare.
    """
    if not isinstance(windows, ForecastWindows):
        return Baseline("")
    step, m = time_step, getattr(time_step, "season", None)
    if m is None:
        what = "data without a time column" if step is None else f"time step {step.freq!r}"
        return Baseline(f"none ({what}: no calendar season)")
    if not spec.regular:
        return Baseline("not available: rows with calendar gaps (spec regular=False) are "
                        "not one step apart")
    origin = (windows.starts + windows.lookback - 1).numpy()
    first = offsets.numpy()[np.searchsorted(offsets.numpy(), origin, side="right") - 1]
    if (origin - m + 1 < first).any():
        return Baseline(f"not available: a season is {m} steps, more than the lookback "
                        f"({windows.lookback}), and the data has no rows that far before "
                        "its first windows; pass rows from before the part scored")
    rows = anchor_rows(windows, m)                                # (N, H)
    values = referenced(windows, windows.targets[torch.from_numpy(rows)].numpy(),
                        "targets")                                # (N, H, T)
    return Baseline(f"value one season ({m} steps) earlier", values)
