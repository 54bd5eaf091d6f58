"""Metrics per target in original units, each beside the naive baselines, and a skill score.

Regression: MAE, RMSE, sMAPE (%) and R2. Quantile targets: those of the median, and the
pinball loss per level, CRPS, and coverage, width and MSIS per central interval
(``quantile_metrics``). Classification and binary: accuracy, macro-F1, the confusion matrix,
and of the class probabilities the expected calibration error
(ECE: 15 equal-width bins of the top class's probability, the mean gap between each bin's
confidence and accuracy weighted by its share of predictions) and the Brier score (as
scikit-learn's ``brier_score_loss``: the squared error of the probability vector against the
one-hot truth, summed over classes, averaged over predictions; halved for two classes, where
it is the positive class's squared error). The naive baseline's probabilities are the
training class frequencies where it predicts the majority class, else one-hot (the last
label: certain).
Missing true values (NaN) are left out. With window weights (``evaluate(weighted=True)``,
``Spec.weight``) every mean above is a weighted mean, and accuracy and macro-F1 read a
confusion matrix of summed weights (the one ``Evaluation.confusion`` shows stays counts).
Every metric is
given for the model, the naive baseline (the last value, for forecasts), the seasonal
naive one (the value one season earlier) and, for the categorical targets of sequence
tasks, the nearest neighbour (1-NN on z-normalised series, ``lstmkit.baselines``), and as
a scale-free skill: 1 - the model's error / the naive baseline's error. Forecasts are
scored per series too (``Evaluation.per_series``), and numeric targets by MASE and RMSSE,
whose overall values are means over series that weigh each series the same
(``lstmkit.scale_free``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .checks import quote

REGRESSION_METRICS = ("MAE", "RMSE", "sMAPE", "R2")
CLASSIFICATION_METRICS = ("accuracy", "macro_F1", "ECE", "Brier")
SCALE_FREE = ("MASE", "RMSSE")               # per series, over its naive scale (scale_free)
LOWER_IS_BETTER = ("MAE", "RMSE", "sMAPE", "ECE", "Brier", "NLL", *SCALE_FREE)  # errors; others:
# higher better
IN_UNITS = ("MAE", "RMSE")                   # in the target's units; the others are scale-free
# Quantile metrics, by the start of their names: errors (lower better), those in the
# target's units, and those with no better direction (coverage is best at its nominal
# share, a width only at the same coverage): no skill, no verdict
QUANTILE_ERRORS = ("pinball_q", "CRPS", "MSIS_")
QUANTILE_IN_UNITS = ("pinball_q", "CRPS", "width_")
UNDIRECTED = ("coverage_", "width_")
HEADLINE = ("MAE", "accuracy")               # the one metric per target that checks read
PREDICTORS = ("model", "naive", "seasonal", "neighbour")
BASELINES = PREDICTORS[1:]
SERIES_COLUMNS = ("series", "target", "metric", *PREDICTORS)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                       weights: np.ndarray | None = None) -> dict[str, float]:
    """MAE, RMSE, sMAPE (in %, 0/0 counted as 0) and R2 over the known values (``weights``,
    shaped like ``y_true``: weighted means, R2 about the weighted mean)."""
    y_true, y_pred = np.ravel(y_true).astype(np.float64), np.ravel(y_pred).astype(np.float64)
    w = _weights(weights, y_true)
    known = np.isfinite(y_true) & np.isfinite(y_pred) & (w > 0)
    y_true, y_pred, w = y_true[known], y_pred[known], w[known]
    if y_true.size == 0:
        return dict.fromkeys(REGRESSION_METRICS, float("nan"))
    error = y_pred - y_true
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(2 * np.abs(error), denominator, out=np.zeros_like(error),
                      where=denominator > 0)
    total = np.sum(w * (y_true - np.average(y_true, weights=w)) ** 2)
    r2 = 1 - np.sum(w * error**2) / total if total > 0 else float("nan")
    return {"MAE": float(np.average(np.abs(error), weights=w)),
            "RMSE": float(np.sqrt(np.average(error**2, weights=w))),
            "sMAPE": float(100 * np.average(ratio, weights=w)), "R2": float(r2)}


def _weights(weights: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """``weights`` (one per value of ``like``) flattened as float64; None: each weighs 1."""
    if weights is None:
        return np.ones(np.size(like))
    return np.ravel(weights).astype(np.float64)


def quantile_metric_names(levels: tuple[float, ...]) -> tuple[str, ...]:
    """The names ``quantile_metrics`` gives for ``levels``: ``pinball_q10``, ..., ``CRPS``,
    then ``coverage_80``, ``width_80``, ``MSIS_80`` per central interval."""
    names = [f"pinball_q{percent(level)}" for level in levels] + ["CRPS"]
    for lo, hi in central_intervals(levels):
        share = percent(levels[hi] - levels[lo])
        names += [f"coverage_{share}", f"width_{share}", f"MSIS_{share}"]
    return tuple(names)


def central_intervals(levels: tuple[float, ...]) -> list[tuple[int, int]]:
    """The intervals the levels form, outermost first, as (lower, upper) indices: the
    first level with the last, the second with the one before it, ... (0.1 and 0.9: 80 %)."""
    return [(i, len(levels) - 1 - i) for i in range(len(levels) // 2)]


def quantile_metrics(y_true: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...],
                     scale: float, weights: np.ndarray | None = None) -> dict[str, float]:
    """Probabilistic metrics of quantiles (..., Q) at ``levels`` against ``y_true`` (...),
    over the known values, in the target's units where they have units.

    * ``pinball_q<percent>``: the mean pinball (quantile) loss of each level.
    * ``CRPS``: approximated from the quantiles as twice the pinball loss integrated over
      the levels, each level standing for the share of (0, 1) nearest to it (from midway
      to its lower neighbour, or 0, to midway to its upper one, or 1); it tends to the
      exact CRPS as the levels fill (0, 1). With few levels it leaves out the tails.
    * per central interval (``central_intervals``) of nominal share ``p`` = upper level -
      lower level: ``coverage_<p>`` (the share of true values inside it, in %),
      ``width_<p>`` (its mean width) and ``MSIS_<p>`` (the mean interval score, width plus
      2 / alpha times the miss, alpha = 1 - p, divided by ``scale``: the naive baseline's
      mean absolute error on the same windows, as M4's MSIS divides by the in-sample one).

    With ``weights`` (shaped like ``y_true``) every mean is the weighted mean.

    Example:
        >>> quantile_metrics(np.array([1.0]), np.array([[0.0, 1.0, 2.0]]), (0.1, 0.5, 0.9),
        ...                  1.0)["coverage_80"]
        100.0
    """
    y = np.asarray(y_true, np.float64).reshape(-1)
    q = np.asarray(quantiles, np.float64).reshape(-1, len(levels))
    w = _weights(weights, y)
    known = np.isfinite(y) & np.isfinite(q).all(axis=1) & (w > 0)
    y, q, w = y[known], q[known], w[known]
    if y.size == 0:
        return dict.fromkeys(quantile_metric_names(levels), float("nan"))
    pinball = np.average(_pinball(y, q, np.asarray(levels)), axis=0, weights=w)  # (Q,)
    out = {f"pinball_q{percent(level)}": float(p) for level, p in zip(levels, pinball,
                                                                         strict=True)}
    out["CRPS"] = float(2 * (pinball * _level_weights(levels)).sum())
    for lo, hi in central_intervals(levels):
        out.update(interval_metrics(y, q[:, lo], q[:, hi], levels[hi] - levels[lo], scale,
                                    weights=w))
    return out


def interval_metrics(y_true: np.ndarray, lower: np.ndarray, upper: np.ndarray, share: float,
                     scale: float, suffix: str = "", weights: np.ndarray | None = None
                     ) -> dict[str, float]:
    """``coverage_<p>``, ``width_<p>`` and ``MSIS_<p>`` (each + ``suffix``) of the intervals
    [``lower``, ``upper``] (...) of nominal ``share`` p against ``y_true`` (...), over the
    values known in all three (and of positive ``weights``, shaped like ``y_true``, which
    make the means weighted ones); as ``quantile_metrics`` describes them.

    Example:
        >>> interval_metrics(np.array([1.0, 5.0]), np.zeros(2), np.full(2, 2.0), 0.8, 1.0)
        {'coverage_80': 50.0, 'width_80': 2.0, 'MSIS_80': 17.0}
    """
    y, lower, upper = (np.asarray(a, np.float64).reshape(-1) for a in (y_true, lower, upper))
    w = _weights(weights, y)
    known = np.isfinite(y) & np.isfinite(lower) & np.isfinite(upper) & (w > 0)
    y, lower, upper, w = y[known], lower[known], upper[known], w[known]
    p = percent(share)
    names = [f"{m}_{p}{suffix}" for m in ("coverage", "width", "MSIS")]
    if y.size == 0:
        return dict.fromkeys(names, float("nan"))
    alpha = 1 - share
    score = (upper - lower) + 2 / alpha * (np.maximum(lower - y, 0) + np.maximum(y - upper, 0))
    return dict(zip(names, (float(100 * np.average((lower <= y) & (y <= upper), weights=w)),
                            float(np.average(upper - lower, weights=w)),
                            float(np.average(score, weights=w) / scale) if scale > 0
                            else float("nan")),
                    strict=True))


def crps_from_quantiles(y_true: np.ndarray, quantiles: np.ndarray,
                        levels: tuple[float, ...]) -> np.ndarray:
    """CRPS (...) of each forecast given by quantiles (..., Q) at ``levels``, approximated
    as ``quantile_metrics`` says."""
    y = np.asarray(y_true, np.float64)
    pinball = _pinball(y[..., None], np.asarray(quantiles, np.float64), np.asarray(levels))
    return 2 * (pinball * _level_weights(levels)).sum(axis=-1)


def _pinball(y: np.ndarray, q: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Pinball loss per quantile: y (N,) or (..., 1) against q (..., Q)."""
    miss = (y[:, None] if y.ndim == 1 and q.ndim == 2 else y) - q
    return np.maximum(levels * miss, (levels - 1) * miss)


def _level_weights(levels: tuple[float, ...]) -> np.ndarray:
    """The share of (0, 1) each level stands for: from midway to its lower neighbour (or 0)
    to midway to its upper one (or 1)."""
    levels = np.asarray(levels, np.float64)
    edges = np.concatenate([[0.0], (levels[1:] + levels[:-1]) / 2, [1.0]])
    return np.diff(edges)


def percent(share: float) -> str:
    """A share as percent text: 0.1 -> "10", 0.025 -> "2.5", 0.8 -> "80"."""
    return format(round(share * 100, 10), "g")


def lower_is_better(metric: str) -> bool:
    """Whether ``metric`` is an error (lower better)."""
    return metric in LOWER_IS_BETTER or metric.startswith(QUANTILE_ERRORS)


def in_units(metric: str) -> bool:
    """Whether ``metric`` is in the target's units."""
    return metric in IN_UNITS or metric.startswith(QUANTILE_IN_UNITS)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (n_classes, n_classes): rows are true classes, columns predicted; NaN left
    out. With ``weights`` (shaped like ``y_true``) each prediction counts its weight."""
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    known = np.isfinite(y_true) & np.isfinite(y_pred)
    t, p = y_true[known].astype(np.int64), y_pred[known].astype(np.int64)
    w = None if weights is None else _weights(weights, y_true)[known]
    return np.bincount(t * n_classes + p, w, minlength=n_classes**2).reshape(n_classes,
                                                                              n_classes)


def classification_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 (over the classes that occur as truth or prediction)."""
    total = confusion.sum()
    if total == 0:
        return dict.fromkeys(CLASSIFICATION_METRICS, float("nan"))
    tp = np.diag(confusion).astype(np.float64)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    occurs = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=occurs)
    return {"accuracy": float(tp.sum() / total), "macro_F1": float(f1[occurs].mean())}


ECE_BINS = 15


def probability_metrics(y_true: np.ndarray, proba: np.ndarray,
                        weights: np.ndarray | None = None) -> dict[str, float]:
    """ECE (``calibration_error``) and the Brier score of class probabilities ``proba``
    (..., K) against class codes ``y_true`` (...); NaN truth is left out; ``weights``
    (shaped like ``y_true``): weighted means.

    Example:
        >>> probability_metrics(np.array([0, 1]), np.array([[0.8, 0.2], [0.4, 0.6]]))
        # ECE (0.2 + 0.4) / 2 = 0.3; Brier (0.04 + 0.16) / 2 = 0.1 (two classes: halved)
    """
    proba = np.asarray(proba, np.float64).reshape(-1, np.shape(proba)[-1])
    y_true = np.ravel(y_true)
    w = _weights(weights, y_true)
    known = np.isfinite(y_true) & np.isfinite(proba).all(axis=-1) & (w > 0)
    if not known.any():
        return {"ECE": float("nan"), "Brier": float("nan")}
    proba, codes, w = proba[known], y_true[known].astype(np.int64), w[known]
    return {"ECE": calibration_error(codes, proba, weights=None if weights is None else w),
            "Brier": float(np.average(brier_terms(codes, proba), weights=w))}


def brier_terms(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each prediction's Brier term (...): the squared error of its probabilities
    ``proba`` (..., K) against the one-hot of class code ``y_true`` (...), summed over
    classes and halved for two; NaN where the truth is. The Brier score is their mean."""
    proba = np.asarray(proba, np.float64)
    y_true = np.asarray(y_true, np.float64)
    onehot = np.eye(proba.shape[-1])[np.nan_to_num(y_true).astype(np.int64)]
    terms = np.sum((proba - onehot) ** 2, axis=-1) / (2 if proba.shape[-1] == 2 else 1)
    return np.where(np.isnan(y_true), np.nan, terms)


def reliability_bins(y_true: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS,
                     weights: np.ndarray | None = None) -> pd.DataFrame:
    """Predictions grouped into ``bins`` equal-width bins of the top class's probability:
    per bin (non-empty ones only) its ``lower`` and ``upper`` edge, mean ``confidence``,
    ``accuracy`` (share whose top class is the truth) and ``count`` (with ``weights``, one
    per prediction: weighted means, and the sum of weights)."""
    codes, proba = np.ravel(y_true).astype(np.int64), np.asarray(proba, np.float64)
    confidence, hit = proba.max(axis=-1), (proba.argmax(axis=-1) == codes)
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    w = np.ones(len(codes)) if weights is None else np.asarray(weights, np.float64)
    confidence, hit = confidence * w, hit * w
    count = np.bincount(which, w, minlength=bins)
    used = count > 0
    with np.errstate(invalid="ignore"):
        return pd.DataFrame({
            "lower": np.arange(bins)[used] / bins, "upper": (np.arange(bins)[used] + 1) / bins,
            "confidence": (np.bincount(which, confidence, bins) / count)[used],
            "accuracy": (np.bincount(which, hit, bins) / count)[used],
            "count": count[used] if weights is not None else count[used].astype(np.int64)})


def calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS,
                      weights: np.ndarray | None = None) -> float:
    """The expected calibration error of probabilities (N, K) against codes (N,): over
    ``bins`` equal-width bins (right-closed, (0, 1/bins] first) of the top class's
    probability, sum of |accuracy - confidence| x the bin's share of the N predictions
    (with ``weights`` (N,), of their weight)."""
    table = reliability_bins(y_true, proba, bins, weights)
    gaps = np.abs(table["accuracy"] - table["confidence"]) * table["count"]
    return float(gaps.sum() / table["count"].sum())


def metric_label(name: str, unit: str | None) -> str:
    """A metric's name with its unit, for those in the target's units: "MAE (°C)"."""
    return f"{name} ({unit})" if unit and in_units(name) else name


def compare(metric: str, model: float, naive: float) -> str:
    """How ``model`` does against ``naive`` on ``metric``: "better", "worse", "same", or ""
    where either is unknown (NaN)."""
    if metric.startswith(UNDIRECTED) or not (np.isfinite(model) and np.isfinite(naive)):
        return ""
    mine, theirs = _error(metric, model), _error(metric, naive)
    return "better" if mine < theirs else "worse" if mine > theirs else "same"


@dataclass(frozen=True)
class Baseline:
    """A naive predictor on a set of windows: what it is, and its predictions.

    Attributes:
        description: what it predicts (e.g. "last value (persistence)"); where it is not
            available, why not.
        values: its predictions in the targets' encoded units, shaped like the truth
            (windows, steps, targets); None where it is not available.
        proba: per categorical target whose prediction comes with class probabilities,
            those (windows, steps, classes); the others' probabilities are one-hot.
    """

    description: str
    values: np.ndarray | None = None
    proba: dict[str, np.ndarray] = field(default_factory=dict)

    def of_target(self, name: str, j: int) -> np.ndarray | None:
        """Its predictions of target ``name`` (the ``j``-th): probabilities (N, S, K) where
        it has them, else values (N, S); None where it is not available."""
        if self.values is None:
            return None
        return self.proba.get(name, self.values[..., j])


@dataclass
class Evaluation:
    """Metrics of a model beside naive baselines, per target (and per output step).

    Attributes:
        table: one row per (target, metric) with columns ``model``, ``naive``,
            ``seasonal`` (the seasonal naive baseline; NaN where there is none),
            ``neighbour`` (1-NN on z-normalised series, for the categorical targets of
            sequence tasks; NaN elsewhere) and
            ``skill``: 1 - the model's error / the naive baseline's error, where the error
            is the metric itself (MAE, RMSE, sMAPE) or 1 - it (accuracy, macro-F1, R2; for
            R2 that makes the MSE skill score). 1 is perfect, 0 as good as naive, below 0
            worse; NaN where the naive baseline makes no error (to rounding: under
            ``ROUNDING`` of the model's). ``skill`` is derived here.
        per_step: the same per output step (forecast and seq2seq), with a ``step`` column.
        confusion: per categorical target, the confusion matrix as a labelled DataFrame.
        baseline: what the naive baseline is (e.g. "last value (persistence)").
        seasonal: what the seasonal naive baseline is, or why there is none.
        neighbour: what the nearest-neighbour baseline is, or why there is none ("" where
            it does not apply).
        units: unit per column (``Spec.units``), for labels such as "MAE (°C)".
        reliability: per categorical target, the model's ``reliability_bins``.
        per_series: for forecasts of a spec with a ``series`` column, the rows of
            ``table`` per series, with a ``series`` column (the series' ids) first; empty
            without one (the table is one series: ``table`` is its) and for sequence
            tasks. Numeric
            targets add ``MASE`` and ``RMSSE`` per series (``lstmkit.scale_free``; NaN where
            the series' training part is constant or too short for the season); ``table``'s
            rows of those two are their means over the series, each weighing the same.
            Targets with conformal intervals add each interval's ``coverage_<p>_conformal``
            and ``width_<p>_conformal`` per series (the model's only; the rest NaN).
        scale_free: what MASE and RMSSE divide by ("" where they are not given).
    """

    table: pd.DataFrame
    per_step: pd.DataFrame
    confusion: dict[str, pd.DataFrame] = field(default_factory=dict)
    baseline: str = ""
    seasonal: str = ""
    units: dict[str, str] = field(default_factory=dict)
    neighbour: str = ""
    reliability: dict[str, pd.DataFrame] = field(default_factory=dict)
    per_series: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(SERIES_COLUMNS)))
    scale_free: str = ""

    def __post_init__(self) -> None:
        self.table, self.per_step = _with_skill(self.table), _with_skill(self.per_step)
        self.per_series = _with_skill(self.per_series)

    def series_mean(self) -> pd.DataFrame:
        """Every metric of ``table`` as the mean over series, each series weighing the
        same (``table``'s MAE pools the windows, so a series of larger values or more
        windows counts more there); ``table`` itself where there is no ``per_series``.

        Example:
            >>> evaluation.series_mean().query("metric == 'MAE'")
        """
        if self.per_series.empty:
            return self.table
        means = self.per_series.groupby(["target", "metric"], sort=False)[list(PREDICTORS)]
        return _with_skill(means.mean().reset_index())

    def metric(self, target: str, name: str, of: str = "model") -> float:
        """One number: ``of`` is ``model``, ``naive``, ``seasonal``, ``neighbour`` or
        ``skill``."""
        rows = self.table[(self.table.target == target) & (self.table.metric == name)]
        if rows.empty:
            raise KeyError(f"no metric {name!r} for target {target!r}")
        return float(rows[of].iloc[0])

    def label(self, name: str, target: str) -> str:
        """``name`` with the target's unit where the metric has one: "MAE (°C)"."""
        return metric_label(name, self.units.get(target))

    def verdict(self) -> dict[str, Any]:
        """Each target's headline metric (MAE; accuracy if categorical) for the model, the
        naive baseline and the nearest neighbour (null where there is none), and whether the
        model is worse than each, as plain JSON."""
        targets = {}
        for row in self.table[self.table.metric.isin(HEADLINE)].itertuples():
            targets[row.target] = {
                "metric": row.metric, "model": _json(row.model), "naive": _json(row.naive),
                "worse": compare(row.metric, row.model, row.naive) == "worse",
                "neighbour": _json(row.neighbour),
                "worse_than_neighbour": compare(row.metric, row.model, row.neighbour) == "worse"}
        return {"baseline": self.baseline, "neighbour": self.neighbour, "targets": targets}

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe numbers: {target: {metric: {model, naive, seasonal, neighbour,
        skill}}, ...}."""
        out: dict[str, Any] = {"baseline": self.baseline, "seasonal": self.seasonal,
                               "neighbour": self.neighbour, "targets": {}}
        for row in self.table.itertuples():
            out["targets"].setdefault(row.target, {})[row.metric] = {
                key: _json(getattr(row, key)) for key in (*PREDICTORS, "skill")}
        out["confusion"] = {k: {"labels": [str(c) for c in v.columns],
                                "counts": v.to_numpy().tolist()}
                            for k, v in self.confusion.items()}
        if self.scale_free:
            out["scale_free"] = self.scale_free
        if not self.per_series.empty:
            out["per_series"] = [
                {"series": _json_key(row.series), "target": row.target, "metric": row.metric,
                 **{key: _json(getattr(row, key)) for key in (*PREDICTORS, "skill")}}
                for row in self.per_series.itertuples()]
        return out

    def __str__(self) -> str:
        table = self.table.assign(
            metric=[self.label(r.metric, r.target) for r in self.table.itertuples()],
            vs_naive=[compare(r.metric, r.model, r.naive) for r in self.table.itertuples()])
        neighbour = f"; neighbour: {self.neighbour}" if self.neighbour else ""
        scale_free = f"; MASE, RMSSE: {self.scale_free}" if self.scale_free else ""
        return (f"metrics in original units; naive baseline: {self.baseline}; seasonal naive: "
                f"{self.seasonal or 'none'}{neighbour}{scale_free}\n"
                + table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def mostly_naive(entry: dict[str, Any]) -> bool:
    """Whether a verdict entry's forecasts fell back mostly on the naive forecast: they keep
    under half of the network's change from it (``kept``; absent: all of it)."""
    return entry.get("kept", 1.0) < 0.5


def check_verdict(data: Any, names: list[str]) -> dict[str, Any] | None:
    """``data`` if it is None or shaped like ``Evaluation.verdict()`` for targets ``names``
    (as read back from a file; files before the nearest-neighbour baseline lack its
    entries), else ValueError."""
    if data is None:
        return None
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, dict) or not isinstance(data.get("baseline"), str) or \
            not isinstance(data.get("neighbour", ""), str):
        raise ValueError("validation must be null or {'baseline': text, 'targets': {...}}, "
                         "with an optional 'neighbour': text")
    for name, entry in targets.items():
        if name not in names:
            raise ValueError(f"validation names target {quote(name)}, which the spec does not "
                             f"have ({quote(names)})")
        if not _is_verdict_entry(entry):
            raise ValueError(f"validation of target {quote(name)} must hold metric ('MAE' or "
                             "'accuracy'), model and naive (numbers or null) and worse (bool), "
                             "and may hold neighbour (a number or null), "
                             "worse_than_neighbour (bool), kept and drift (numbers from 0 to 1) "
                             "and momentum (a list of numbers, one per step)")
    return data


def _is_verdict_entry(entry: Any) -> bool:
    numbers = (int, float, type(None))
    return (isinstance(entry, dict) and entry.get("metric") in HEADLINE
            and isinstance(entry.get("worse"), bool)
            and isinstance(entry.get("worse_than_neighbour", False), bool)
            and all(type(entry.get(k)) in numbers for k in ("model", "naive", "neighbour"))
            and all(type(entry.get(k, 1.0)) in numbers[:2] and 0 <= entry.get(k, 1.0) <= 1
                    for k in ("kept", "drift"))
            and isinstance(entry.get("momentum", []), list)
            and all(type(v) in numbers[:2] and math.isfinite(v)
                    for v in entry.get("momentum", [])))


def _error(metric: str, value: Any) -> Any:
    """A metric as an error (lower better): itself for MAE, RMSE, sMAPE, else 1 - it."""
    return value if lower_is_better(metric) else 1 - value


ROUNDING = 1e-12    # a naive error below this share of the model's is zero, for the skill


def _with_skill(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every baseline's column (NaN where it had none) and ``skill`` computed."""
    frame = frame.assign(**{b: frame.get(b, np.nan) for b in BASELINES})
    lower = np.array([lower_is_better(m) for m in frame.metric], dtype=bool)
    model, naive = (np.where(lower, frame[c], 1 - frame[c]).astype(np.float64)
                    for c in ("model", "naive"))
    # A naive error that is zero but for rounding (the class prior's ECE on balanced
    # classes, 4e-16) has no skill either, not one of -1e14.
    with np.errstate(divide="ignore", invalid="ignore"):
        skill = np.where(naive > np.abs(model) * ROUNDING, 1 - model / naive, np.nan)
    skill[frame.metric.str.startswith(UNDIRECTED).to_numpy(dtype=bool)] = np.nan
    return frame.assign(skill=skill)


def _json(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _json_key(key: Any) -> Any:
    """A series id as JSON: numbers and text as they are, anything else as text."""
    if isinstance(key, np.generic):
        key = key.item()
    return key if isinstance(key, str | int | float | bool) else str(key)
