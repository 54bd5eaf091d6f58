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

A distribution target's scores are divided by each prediction's spread (``TargetKind.spread``:
a normal's or Student's t's scale, a count's standard deviation), so its interval is
``[lower - q_s * spread, upper + q_s * spread]``: normalised nonconformity scores, which keep
the distribution's own heteroscedasticity (a prediction it is unsure of keeps a wider
interval). The spread carries a panel's series' scales already, so such a target takes no
series scales. Its record says ``"unit": "spread"``; records without it (saved before, or
other kinds) have margins in original units.

Panels are calibrated scale-aware: where the calibration windows come from more than one
series and the model keeps each series' naive scale (``lstmkit.scale_free``: the in-sample
mean absolute error of the seasonal naive forecast on the series' training part, what MASE
divides by), a window's score is divided by its series' scale, the margin ``q_s`` is the
quantile of those normalised scores, and a series' interval is ``[lower - q_s * scale,
upper + q_s * scale]`` (normalised nonconformity scores: a series of small changes gets
narrow intervals, a series of large ones wide ones, instead of one width for all). A series
with ``OWN_WINDOWS`` calibration windows or more takes the quantile of its own normalised
scores instead (Mondrian conformal prediction: coverage per series, not only over the
panel, where the model fits some series better than others). A series without a usable
scale (none kept, a new series, a constant training part) takes the pooled margin,
calibrated on every window as for a single series; a single series is calibrated as
before (dividing by one constant scale would change nothing). Which series a window is
of, the margins a window gets and the check of those fields: ``lstmkit.conformal_panel``.

Targets whose known values in the training windows are all 0 or more (counts, prices,
concentrations) keep the interval's lower end at 0 or above (``floor``): a conformal
interval is symmetric and would otherwise reach below zero; clipping it there drops no
value the target can take, so the coverage stays.

Classification and binary targets take none (``TargetKind.conformal`` is False: their
class probabilities are calibrated by temperature scaling, ``lstmkit.calibration``).

The record (``FittedPipeline.conformal``, plain numbers in ``config.json``)::

    {"part": "val", "coverage": [0.8, 0.95], "windows": 2880,
     "targets": {name: {"margins": [[q per step], ...one list per coverage],
                        "covered": [share of the calibration truth inside, per coverage]}}}

with, scale-aware (a panel), ``"series": [each series' id as text]`` and per target
``"scaled_margins"`` (the normalised margins, shaped like ``margins``), ``"series_margins"``
(per coverage, each series' own normalised margins, null: too few windows, the scaled
margins apply) and ``"scales"`` (one per series, null: none usable, the pooled ``margins``
apply); with a floor, ``"floor": 0.0``; with margins in units of the spread, ``"unit":
"spread"``.
Records without them (saved before) give the intervals they gave.

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
from .conformal_panel import WindowSeries, check_scaled, window_margins
from .errors import ConfigError, DataError
from .kinds import Decoded, Quantile
from .metrics import interval_metrics, percent

if TYPE_CHECKING:
    from .spec import Spec, Target

PARTS = ("val", "test", "all")   # not "train": the network fitted those windows' residuals
OWN_WINDOWS = 100   # a panel's series with this many calibration windows get margins of their own
SUFFIX = "_conformal"            # the evaluation's metrics of the intervals: coverage_80_conformal
SPREAD = "spread"                # a record's margins in units of each prediction's spread


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


def fit_coverage(coverage: Any, spec: Spec, validation: bool) -> tuple[float, ...]:
    """The coverages a fit calibrates on its validation part: ``coverage``'s, checked; none
    for ``[]``; for None (the default), where the fit has a ``validation`` part, the
    central intervals every quantile target's levels hold (conformalised quantile
    regression: on ETTh1 and Beijing PM2.5 it brought the quantiles' 80 % intervals from
    3-7 points under nominal to within 3, BENCHMARKS.md), or without quantile targets those
    every distribution target's reported levels hold (``Target.quantiles``, else 0.1, 0.5,
    0.9: 80 %; the fitted distribution's own interval widened or narrowed as CQR does),
    none without either.

    Example:
        >>> fit_coverage(None, Spec(targets=[Target("y", quantiles=[0.1, 0.5, 0.9])]), True)
        (0.8,)
        >>> fit_coverage(None, Spec(targets=[Target("y", distribution="student_t")]), True)
        (0.8,)
    """
    if isinstance(coverage, list | tuple) and not coverage:
        return ()
    if coverage is not None:
        return check_coverage(coverage)
    fitted = [t for t in spec.targets if isinstance(t.target_kind, Quantile)]
    binding = [t for t in fitted if t.kind == "quantile"] or fitted   # quantiles' levels bind
    levels = [set(t.target_kind.levels(t)) for t in binding]
    if not validation or not levels:
        return ()
    common = set.intersection(*levels)
    return tuple(sorted({round(1 - 2 * q, 12) for q in common
                         if q < 0.5 and any(math.isclose(1 - q, r) for r in common)}))


def conformal_targets(spec: Spec, asked: str | None = None) -> list[tuple[int, Target]]:
    """The targets (index, target) that take conformal intervals.

    Raises:
        ConfigError: where no target does (every one is categorical); ``asked``: the
            argument that asked for intervals, which the message says to drop.
    """
    targets = [(j, t) for j, t in enumerate(spec.targets) if t.target_kind.conformal]
    if not targets:
        raise ConfigError(f"conformal intervals are for number (regression, quantile and "
                          f"distribution) "
                          f"targets, and this model's targets {quote(spec.target_names)} are "
                          "all categorical, whose class probabilities temperature scaling "
                          "calibrates (LSTMModel(calibrate=True))"
                          + (f"; drop {asked}" if asked else ""))
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
                  coverage: Sequence[float], part: str, pooled: bool,
                  series: WindowSeries | None = None, floors: dict[str, float] | None = None
                  ) -> dict[str, Any]:
    """The record of margins calibrated on a part's windows.

    Args:
        spec: the model's task.
        decoded: each target's predictions on the calibration windows, in original units.
        truth: each conformal target's truth (N, S) there, original units (NaN: unknown).
        coverage: the nominal coverages, increasing.
        part: which windows (``val``, ``test``, ``all``: a table given for it).
        pooled: one margin for all steps (seq2seq with one output per input step).
        series: the windows' series and scales, for scale-aware margins (a panel).
        floors: per target, the lowest value its intervals' lower ends may take.

    Raises:
        DataError: where a step has too few known values for a coverage (``minimum_windows``).
    """
    targets, windows, scaled_any = {}, 0, False
    for _, t in conformal_targets(spec):
        y = truth[t.name]
        windows = len(y)
        unit = t.target_kind.spread(decoded[t.name].graph_values)   # (N, S), None: 1
        scales = None if series is None or unit is not None else series.of(t.name)
        own = None if scales is None else scales[series.which]             # (N,), NaN: none
        entry: dict[str, Any] = {"margins": [], "covered": []}
        for c in coverage:
            lower, upper = t.target_kind.band(t, decoded[t.name].graph_values, c)
            scores = np.maximum(lower - y, y - upper)                  # (N, S), NaN: unknown
            if unit is not None:                        # in units of each one's spread
                scores = scores / unit
            margin = _margins(scores.reshape(-1, 1) if pooled else scores, c, t.name, part)
            entry["margins"].append(margin)
            wide = np.broadcast_to(np.asarray(margin), scores.shape)
            if unit is not None:
                wide = wide * unit
            if own is not None:
                has = np.isfinite(own)
                normalised = scores / own[:, None]                     # NaN: no scale
                scaled = _margins(normalised[has], c, t.name, part)
                mine = _series_margins(normalised, series.which, len(series.keys), c)
                entry.setdefault("scaled_margins", []).append(scaled)
                entry.setdefault("series_margins", []).append(mine)
                each = np.array([scaled if m is None else m for m in mine])[series.which]
                wide = np.where(has[:, None], each * own[:, None], wide)
            low = lower - wide
            if floors and t.name in floors:
                low = np.maximum(low, floors[t.name])
            inside = (low <= y) & (y <= upper + wide)
            entry["covered"].append(round(float(inside[np.isfinite(y)].mean()), 6))
        if scales is not None:
            entry["scales"] = [None if math.isnan(v) else float(v) for v in scales]
            scaled_any = True
        if unit is not None:
            entry["unit"] = SPREAD
        if floors and t.name in floors:
            entry["floor"] = float(floors[t.name])
        targets[t.name] = entry
    record: dict[str, Any] = {"part": part, "coverage": list(coverage), "windows": windows}
    if scaled_any:
        record["series"] = list(series.keys)
    return {**record, "targets": targets}


def _series_margins(normalised: np.ndarray, which: np.ndarray, groups: int, coverage: float
                    ) -> list[list[float] | None]:
    """Each of ``groups`` series' own margins: the ``ceil((n + 1) coverage)``-th smallest of
    its windows' ``normalised`` scores (N, S) per step, where it has ``OWN_WINDOWS`` (and
    ``minimum_windows``) or more known at every step; None (the pooled normalised margins)
    where it has fewer."""
    least = max(OWN_WINDOWS, minimum_windows(coverage))
    margins: list[list[float] | None] = []
    for g in range(groups):
        mine = normalised[which == g]
        enough = len(mine) and np.isfinite(mine).sum(axis=0).min() >= least
        margins.append(_margins(mine, coverage, "", "") if enough else None)
    return margins


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


def chosen(record: dict[str, Any] | None, coverage: Any, spec: Spec) -> tuple[float, ...]:
    """The calibrated coverages to give: all of ``record``'s (``coverage`` None), none
    (``[]``), or those asked for, each of which must be calibrated (the model of ``spec``).

    Raises:
        ConfigError: for a coverage that is not a share, or not calibrated (naming those that
            are, or that none can be).
    """
    calibrated = tuple((record or {}).get("coverage", ()))
    if coverage is None:
        return calibrated
    if isinstance(coverage, list | tuple) and not coverage:
        return ()
    asked = check_coverage(coverage)
    missing = [c for c in asked if not any(math.isclose(c, d) for d in calibrated)]
    if missing:
        conformal_targets(spec, "coverage")         # intervals this model cannot have
        have = (f"it has {', '.join(percent(c) + ' %' for c in calibrated)}" if calibrated
                else "it has none")
        raise ConfigError(f"no calibrated {percent(missing[0])} % interval: {have}; calibrate "
                          f"it first: model.calibrate_intervals(data, "
                          f"coverage={quote(list(asked))}) (CLI: lstmkit calibrate MODEL DATA "
                          f"--coverage {' '.join(format(c, 'g') for c in asked)} --out DIR)")
    return tuple(d for d in calibrated if any(math.isclose(c, d) for c in asked))


def with_intervals(spec: Spec, decoded: dict[str, Decoded], record: dict[str, Any] | None,
                   coverage: Sequence[float], keys: Sequence[Any] | None = None
                   ) -> dict[str, Decoded]:
    """``decoded`` with the calibrated intervals at ``coverage`` (``chosen``) added to each
    calibrated target's predictions (``Decoded.intervals``); ``keys``: each window's series
    (scale-aware records give each series its own margins; None: the pooled ones)."""
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
            margin = window_margins(record, t.name, k, keys)   # (S,), (1,) or (N, S)
            if entry.get("unit") == SPREAD:
                margin = margin * t.target_kind.spread(decoded[t.name].graph_values)
            low = lower - margin
            if "floor" in entry:
                low = np.maximum(low, entry["floor"])
            intervals.append((c, low, upper + margin))
        out[t.name] = dataclasses.replace(decoded[t.name], intervals=tuple(intervals))
    return out


def floors(record: dict[str, Any] | None) -> dict[str, float]:
    """Per target of ``record``, the lowest value its intervals' lower ends may take (where
    it has one: its values in the training windows were never below it)."""
    return {name: entry["floor"] for name, entry in (record or {}).get("targets", {}).items()
            if "floor" in entry}


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
    targets = {t.name: t for _, t in conformal_targets(spec)}
    steps = spec.shape.output_steps
    for name, entry in data["targets"].items():
        if name not in targets:
            raise ValueError(f"conformal names target {quote(name)}, which is not a number "
                             f"target of the spec ({quote(list(targets))})")
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
        _check_unit(entry, targets[name])
        check_scaled(entry, name, margins, data.get("series"))
    try:
        check_bands(spec, coverage)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return data


def _check_unit(entry: dict[str, Any], target: Target) -> None:
    """ValueError unless ``target``'s optional ``floor`` and ``unit`` are sound: a unit of
    ``SPREAD``, without series scales, on a kind that has a spread."""
    name, kind = target.name, target.target_kind
    floor = entry.get("floor", 0.0)
    if not (type(floor) in (int, float) and math.isfinite(floor)):
        raise ValueError(f"conformal floor of {quote(name)} must be a finite number")
    if "unit" not in entry:
        return
    if entry["unit"] != SPREAD or "scales" in entry:
        raise ValueError(f"conformal unit of {quote(name)} must be {SPREAD!r} (margins in "
                         "units of each prediction's spread), without scales")
    if kind.spread(np.ones((1, 1, kind.width(0, target)))) is None:
        raise ValueError(f"conformal entry of {quote(name)} has unit {SPREAD!r}, but a "
                         f"{kind.name} target has no spread to measure margins in")
