"""Split-conformal prediction intervals for number targets, calibrated on held-out windows.

For a coverage ``c`` (``alpha = 1 - c``) each target's kind gives a band
(``TargetKind.band``): a regression target's prediction as both ends, a quantile target's
quantiles at ``alpha / 2`` and ``1 - alpha / 2`` (conformalised quantile regression, CQR),
a distribution target's quantiles there of its fitted distribution (CQR likewise).
A calibration window's score at output step ``s`` is how far its truth lies outside the
band, ``max(lower - y, y - upper)`` (for a point prediction: ``|y - prediction|``, so the
interval is symmetric); the margin ``q_s`` is the ``ceil((n + 1) c)``-th smallest of the
``n`` scores at that step (the finite-sample correction), and the interval is
``[lower - q_s, upper + q_s]``. Were the windows exchangeable with new ones, a new truth
would fall inside with probability at least ``c``; overlapping forecast windows of a
series that drifts are not quite, so ``evaluate`` reports the coverage reached on later
data. Steps get margins of their own (later steps are harder); seq2seq with one output
per input step (sequences of any length) pools its steps into one margin.

Classification and binary targets take none (``TargetKind.conformal`` is False: their
class probabilities are calibrated by temperature scaling, ``lstmkit.calibration``).

The record (``FittedPipeline.conformal``, plain numbers in ``config.json``)::

    {"part": "val", "coverage": [0.8, 0.95], "windows": 2880,
     "targets": {name: {"margins": [[q per step], ...one list per coverage],
                        "covered": [share of the calibration truth inside, per coverage]}}}

Example:
    >>> model.calibrate_intervals(df, part="val", coverage=[0.8, 0.95])
    >>> model.predict(df.tail(96))[["OT", "OT_lo_80", "OT_hi_80"]]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import quote
from .errors import ConfigError, DataError
from .kinds import Decoded
from .metrics import interval_metrics, percent

if TYPE_CHECKING:
    from .spec import Spec, Target

PARTS = ("val", "test", "all")   # not "train": the network fitted those windows' residuals
SUFFIX = "_conformal"            # the evaluation's metrics of the intervals: coverage_80_conformal


def check_coverage(coverage: Any) -> tuple[float, ...]:
    """``coverage`` (a number or a list of them, each strictly between 0 and 1) as increasing
    distinct floats.

    Raises:
        ConfigError: naming the value that is not such a number.

    Example:
        >>> check_coverage([0.95, 0.8])
        (0.8, 0.95)
    """
    values = list(coverage) if isinstance(coverage, list | tuple) else [coverage]
    for value in values:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 < value < 1:
            raise ConfigError(f"coverage {quote(value)} is not a share strictly between 0 and 1; "
                              "give the intervals' nominal coverages as such numbers, e.g. "
                              "coverage=[0.8, 0.95] (CLI: --coverage 0.8 0.95)")
    if not values:
        raise ConfigError("coverage is empty; give at least one share, e.g. [0.8, 0.95]")
    return tuple(sorted({float(v) for v in values}))


def conformal_targets(spec: Spec) -> list[tuple[int, Target]]:
    """The targets (index, target) that take conformal intervals.

    Raises:
        ConfigError: where no target does (every one is categorical).
    """
    targets = [(j, t) for j, t in enumerate(spec.targets) if t.target_kind.conformal]
    if not targets:
        raise ConfigError(f"conformal intervals are for number (regression, quantile and "
                          f"distribution) "
                          f"targets, and this model's targets {quote(spec.target_names)} are "
                          "all categorical, whose class probabilities temperature scaling "
                          "calibrates (LSTMModel(calibrate=True))")
    return targets


def interval_levels(coverage: Sequence[float]) -> tuple[float, ...]:
    """The quantile levels the ends of intervals at ``coverage`` lie at, increasing:
    (0.8, 0.95) -> (0.025, 0.1, 0.9, 0.975)."""
    ends = {round((1 - c) / 2, 12) for c in coverage} | {round((1 + c) / 2, 12) for c in coverage}
    return tuple(sorted(ends))


def check_bands(spec: Spec, coverage: Sequence[float]) -> None:
    """Raise what ``TargetKind.band`` raises for a coverage a target cannot calibrate (a
    quantile target without the levels), before anything is computed."""
    for _, t in conformal_targets(spec):
        probe = np.ones((1, 1, t.target_kind.width(0, t)))
        for c in coverage:
            t.target_kind.band(t, probe, c)


def fit_conformal(spec: Spec, decoded: dict[str, Decoded], truth: dict[str, np.ndarray],
                  coverage: Sequence[float], part: str, pooled: bool) -> dict[str, Any]:
    """The record of margins calibrated on a part's windows.

    Args:
        spec: the model's task.
        decoded: each target's predictions on the calibration windows, in original units.
        truth: each conformal target's truth (N, S) there, original units (NaN: unknown).
        coverage: the nominal coverages, increasing.
        part: which windows (``val``, ``test``, ``all``: a table given for it).
        pooled: one margin for all steps (seq2seq with one output per input step).

    Raises:
        DataError: where a step has too few known values for a coverage (``minimum_windows``).
    """
    targets, windows = {}, 0
    for _, t in conformal_targets(spec):
        y = truth[t.name]
        windows = len(y)
        margins, covered = [], []
        for c in coverage:
            lower, upper = t.target_kind.band(t, decoded[t.name].graph_values, c)
            scores = np.maximum(lower - y, y - upper)                  # (N, S), NaN: unknown
            margin = _margins(scores.reshape(-1, 1) if pooled else scores, c, t.name, part)
            margins.append(margin)
            wide = np.asarray(margin)
            inside = (lower - wide <= y) & (y <= upper + wide)
            covered.append(round(float(inside[np.isfinite(y)].mean()), 6))
        targets[t.name] = {"margins": margins, "covered": covered}
    return {"part": part, "coverage": list(coverage), "windows": windows, "targets": targets}


def _margins(scores: np.ndarray, coverage: float, name: str, part: str) -> list[float]:
    """The ``ceil((n + 1) coverage)``-th smallest score of each step (column) of ``scores``."""
    margins = []
    for s in range(scores.shape[1]):
        known = np.sort(scores[np.isfinite(scores[:, s]), s])
        k = math.ceil((len(known) + 1) * coverage - 1e-9)
        if k > len(known):
            raise DataError(
                f"a {percent(coverage)} % interval of target {name!r} needs at least "
                f"{minimum_windows(coverage)} windows with a known value at each step to "
                f"calibrate on, and the {part!r} part has {len(known)} at step {s + 1}; give "
                "it more rows, or calibrate a lower coverage")
        margins.append(round(float(known[k - 1]), 8))
    return margins


def minimum_windows(coverage: float) -> int:
    """The fewest calibration windows with a ``ceil((n + 1) c)``-th score: n >= c / (1 - c)."""
    return math.ceil(coverage / (1 - coverage) - 1e-9)


def chosen(record: dict[str, Any] | None, coverage: Any) -> tuple[float, ...]:
    """The calibrated coverages to give: all of ``record``'s (``coverage`` None), none
    (``[]``), or those asked for, each of which must be calibrated.

    Raises:
        ConfigError: for a coverage that is not a share, or not calibrated (naming those that are).
    """
    calibrated = tuple((record or {}).get("coverage", ()))
    if coverage is None:
        return calibrated
    if isinstance(coverage, list | tuple) and not coverage:
        return ()
    asked = check_coverage(coverage)
    missing = [c for c in asked if not any(math.isclose(c, d) for d in calibrated)]
    if missing:
        have = (f"it has {', '.join(percent(c) + ' %' for c in calibrated)}" if calibrated
                else "it has none")
        raise ConfigError(f"no calibrated {percent(missing[0])} % interval: {have}; calibrate "
                          f"it first: model.calibrate_intervals(data, "
                          f"coverage={quote(list(asked))}) (CLI: lstmkit calibrate MODEL DATA "
                          "--coverage ... --out DIR)")
    return tuple(d for d in calibrated if any(math.isclose(c, d) for c in asked))


def with_intervals(spec: Spec, decoded: dict[str, Decoded], record: dict[str, Any] | None,
                   coverage: Sequence[float]) -> dict[str, Decoded]:
    """``decoded`` with the calibrated intervals at ``coverage`` (``chosen``) added to each
    calibrated target's predictions (``Decoded.intervals``)."""
    if not record or not coverage:
        return decoded
    out = dict(decoded)
    for t in spec.targets:
        entry = record["targets"].get(t.name)
        if entry is None:
            continue
        intervals = []
        for c in coverage:
            k = next(i for i, d in enumerate(record["coverage"]) if math.isclose(c, d))
            lower, upper = t.target_kind.band(t, decoded[t.name].graph_values, c)
            margin = np.asarray(entry["margins"][k])            # (S,) or (1,): every step
            intervals.append((c, lower - margin, upper + margin))
        out[t.name] = dataclasses.replace(decoded[t.name], intervals=tuple(intervals))
    return out


def interval_scores(true: np.ndarray, model: Decoded, naive: tuple[np.ndarray, np.ndarray]
                    | None, coverage: float, scale: float, weights: np.ndarray | None = None
                    ) -> dict[str, tuple[float, float]]:
    """The model's calibrated interval at ``coverage`` (in ``model.intervals``) and the naive
    baseline's (lower, upper) scored against ``true`` (each value weighing ``weights``,
    shaped like it, where given): {metric: (model, naive)}, the metrics
    ``coverage_<p>_conformal``, ``width_<p>_conformal`` and ``MSIS_<p>_conformal``."""
    _, lower, upper = next(i for i in model.intervals if math.isclose(i[0], coverage))
    ours = interval_metrics(true, lower, upper, coverage, scale, SUFFIX, weights)
    theirs = (dict.fromkeys(ours, math.nan) if naive is None
              else interval_metrics(true, *naive, coverage, scale, SUFFIX, weights))
    return {name: (ours[name], theirs[name]) for name in ours}


def check_conformal(data: Any, spec: Spec) -> dict[str, Any] | None:
    """``data`` if it is None or shaped like ``fit_conformal``'s record for ``spec`` (as read
    back from a file), else ValueError naming what is wrong."""
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("part") not in PARTS or \
            not isinstance(data.get("targets"), dict) or type(data.get("windows")) is not int:
        raise ValueError(f"conformal must be null or {{'part': one of {quote(list(PARTS))}, "
                         "'coverage': [...], 'windows': a count, 'targets': {...}}")
    try:
        coverage = check_coverage(data.get("coverage"))
    except ConfigError as exc:
        raise ValueError(f"conformal: {exc}") from None
    if list(coverage) != data["coverage"]:
        raise ValueError("conformal coverage must be increasing and distinct")
    names = [t.name for _, t in conformal_targets(spec)]
    steps = spec.shape.output_steps
    for name, entry in data["targets"].items():
        if name not in names:
            raise ValueError(f"conformal names target {quote(name)}, which is not a number "
                             f"target of the spec ({quote(names)})")
        margins = entry.get("margins") if isinstance(entry, dict) else None
        rows = isinstance(margins, list) and len(margins) == len(coverage) and all(
            isinstance(row, list) and len(row) in (1, steps) and all(
                type(v) in (int, float) and math.isfinite(v) for v in row)
            for row in margins)
        covered = entry.get("covered") if isinstance(entry, dict) else None
        shares = isinstance(covered, list) and len(covered) == len(coverage) and all(
            type(v) in (int, float) and 0 <= v <= 1 for v in covered)
        if not rows or not shares:
            raise ValueError(f"conformal entry of {quote(name)} must hold margins (one list of "
                             f"1 or {steps} finite numbers per coverage) and covered (one share "
                             "from 0 to 1 per coverage)")
    try:
        check_bands(spec, coverage)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return data
