"""Conformal intervals that keep learning from the truth as it arrives (``predict(adapt=...)``).

Split conformal intervals (``lstmkit.conformal``) hold their coverage where new windows are
exchangeable with the calibration windows. A series that shifts after its validation part
(a calmer or a stormier season) breaks that: the calibrated intervals then cover more or
less than they say, for as long as the shift lasts. Given a table whose targets are known up
to each window's origin, ``predict(adapt=True)`` corrects each calibrated interval online:
per target, series, output step and coverage it tracks a factor ``f`` (1 at the first
window: the calibrated interval) by which the interval is scaled about its midpoint, and
after each earlier window whose truth at that step has become known (``s`` rows after its
origin, for step ``s``) it moves ``f`` by ``rate * (miss - alpha)`` (``miss``: 1 where that
truth fell outside that window's interval; ``alpha = 1 - coverage``). A miss widens the
interval by ``rate * (1 - alpha)`` of its calibrated width, a hit narrows it by
``rate * alpha``: the quantile tracker of online conformal prediction (Angelopoulos, Candès
and Tibshirani 2023, "Conformal PID control for time series prediction"), on the score
``|y - midpoint| / half-width``, with the feedback delayed by each step's lead. Whatever the
data do, the share of misses over ``T`` windows approaches ``alpha``: with scores at most
``B`` it is within about ``(B + rate) / (rate * T)`` of it (their Proposition 1, without the
delay, which adds the misses of the ``lead`` windows still unknown), where the fixed
calibrated interval can stay off for good. The intervals of several coverages are kept
nested (a 95 % interval holds the 80 % one), which only widens them.

A window's interval uses only truths known at its origin (none of its own, nor later
windows'), so ``predict(data, origins="all", adapt=True)`` over a held-out table scores
as the intervals would have been given then, one origin after another.

Example:
    >>> model.predict(history, adapt=True)       # the last origin, after the history's
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .checks import quote
from .conformal import conformal_targets
from .errors import ConfigError, DataError
from .kinds import Decoded

if TYPE_CHECKING:
    from .spec import Spec

RATE = 0.01   # adapt=True: f moves by 1 % of the calibrated width per window, scaled by the miss


@dataclass(frozen=True)
class Feedback:
    """What the windows' intervals learn from: their truth, and which truths each knows.

    Attributes:
        truth: per target, the truth (N, S) of each window, original units (NaN: unknown,
            or beyond the table).
        known: (N, S) per window and step, the end (exclusive) of the run of earlier
            windows whose truth at that step is known at the window's origin.
        first: (N,) the first window of each window's series (its run's start).
        rate: how far one window moves the factor (``adapt_rate``).
    """

    truth: dict[str, np.ndarray]
    known: np.ndarray
    first: np.ndarray
    rate: float


def adapt_rate(adapt: bool | float) -> float | None:
    """The tracker's rate for ``predict``'s ``adapt``: None (``False``: the calibrated
    intervals as they are), ``RATE`` (``True``) or the rate given, above 0 and at most 1.

    Raises:
        ConfigError: for anything else, naming the value.

    Example:
        >>> adapt_rate(True)
        0.01
    """
    if adapt is None or isinstance(adapt, bool | np.bool_):
        return RATE if adapt else None
    if isinstance(adapt, int | float | np.floating) and 0 < adapt <= 1:
        return float(adapt)
    raise ConfigError(f"adapt {quote(adapt)} is not True, False or a rate in (0, 1]; give "
                      f"adapt=True (rate {RATE}) to adapt the calibrated intervals to the "
                      "truth of the earlier windows, or a rate such as adapt=0.02")


def check_adaptable(record: dict | None, spec: Spec, output: str = "frame",
                    samples: int | None = None) -> None:
    """Raise a ConfigError where a model's calibrated intervals (``record``) cannot adapt:
    its task has no forecast windows to learn from, its targets take none, it has none, or
    the prediction asked for (``output``, ``samples``) is not the table that holds them."""
    if not spec.shape.sliding:
        raise ConfigError("adapt= learns from the truth of earlier forecast windows of a "
                          "series, and this model's task has none (each sequence is a "
                          "sample of its own); drop adapt")
    if not record:
        conformal_targets(spec, "adapt")
        raise ConfigError("adapt= adapts calibrated intervals, and this model has none; "
                          "calibrate them first: model.calibrate_intervals(data, "
                          "coverage=[0.8, 0.95]) (CLI: lstmkit calibrate; export it again "
                          "for ONNX)")
    if output != "frame" or samples is not None:
        raise ConfigError("adapt= adapts the intervals of the prediction table, which "
                          "output='array' and samples= do not give; use output='frame' "
                          "without samples")


def adapt_windows(decoded: dict[str, Decoded], frame: pd.DataFrame, offsets: np.ndarray,
                  starts: np.ndarray, which: np.ndarray, spec: Spec, rate: float,
                  floors: dict[str, float], last: bool
                  ) -> tuple[dict[str, Decoded], np.ndarray | None]:
    """``decoded`` (of every window of ``frame``, starting at rows ``starts``; ``which``:
    each window's series, ``offsets`` the series' first rows) with its intervals adapted
    (``adapted``, on the targets' truth in ``frame``; ``floors`` as there), and where
    ``last`` only each series' last window, whose positions come second (else None)."""
    names = [name for name, d in decoded.items() if d.intervals]
    if names:
        truth = window_truth(frame, offsets, starts, which, spec.lookback, spec.horizon, names)
        decoded = adapted(decoded, feedback(starts, which, truth, rate), floors)
    if not last:
        return decoded, None
    keep = last_windows(which)
    return {name: d.take(keep) for name, d in decoded.items()}, keep


def window_truth(frame: pd.DataFrame, offsets: np.ndarray, starts: np.ndarray,
                 which: np.ndarray, lookback: int, horizon: int, names: Sequence[str]
                 ) -> dict[str, np.ndarray]:
    """Target ``names``' truth (N, S) of forecast windows starting at rows ``starts`` (N,)
    of ``frame`` (the arranged table, series after series, each starting at ``offsets``;
    ``which``: (N,) each window's series): step ``s`` (1-based) lies ``lookback + s - 1``
    rows after a window's start; NaN past its series' rows."""
    rows = starts[:, None] + lookback + np.arange(horizon)                   # (N, S)
    inside = rows < np.asarray(offsets)[1:][which][:, None]
    rows = np.minimum(rows, len(frame) - 1)
    return {name: np.where(inside, _column(frame, name)[rows], np.nan) for name in names}


def feedback(starts: np.ndarray, which: np.ndarray, truth: dict[str, np.ndarray], rate: float
             ) -> Feedback:
    """The ``Feedback`` of forecast windows starting at rows ``starts`` (N,), in time order
    within each series (``which``: (N,) each window's series, series after series), with
    their ``truth`` (per target, (N, S)): a window's truth at step ``s`` (1-based) is known
    ``s`` rows after its origin."""
    steps = next(iter(truth.values())).shape[1]
    first = np.searchsorted(which, which, side="left")                       # (N,)
    # window i's truth at step s is known at window t's origin where start_i + s <=
    # start_t; rows run series after series, so within t's series those are the windows
    # from its first up to the first start above start_t - s
    lead = np.arange(1, steps + 1)
    known = np.searchsorted(starts, starts[:, None] - lead[None, :], side="right")  # (N, S)
    return Feedback(truth, np.maximum(known, first[:, None]), first, rate)


def last_windows(which: np.ndarray) -> np.ndarray:
    """The positions of each series' last window, of windows series after series
    (``which``: (N,) each window's series): what ``origins="last"`` keeps after adapting."""
    return np.flatnonzero(np.append(which[1:] != which[:-1], True))


def track(middle: np.ndarray, half: np.ndarray, truth: np.ndarray, coverage: Sequence[float],
          known: np.ndarray, first: np.ndarray, rate: float, floor: float | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Intervals (lower, upper), each (N, S, K), around ``middle`` (N, S, K) whose
    calibrated half-widths ``half`` (N, S, K) are scaled by the tracked factor of each
    coverage (K,, increasing), each widened to hold those of lower coverages where its
    factor shrank more; ``floor``: the lowest value a lower end may take."""
    alpha = 1 - np.asarray(coverage, np.float64)                          # (K,)
    n, steps, _ = middle.shape
    half = np.maximum(half, 0.0)
    lower, upper = np.empty_like(middle), np.empty_like(middle)
    # running sums of (miss - alpha) over windows, per step and coverage: (N + 1, S, K)
    sums = np.zeros((n + 1, steps, len(alpha)))
    columns = np.arange(steps)
    for t in range(n):
        drift = sums[known[t], columns] - sums[first[t]]                   # (S, K)
        factor = np.maximum(1.0 + rate * drift, 0.0)
        # nested: an interval of a higher coverage holds those of the lower ones
        lo = np.minimum.accumulate(middle[t] - factor * half[t], axis=-1)
        hi = np.maximum.accumulate(middle[t] + factor * half[t], axis=-1)
        if floor is not None:
            lo = np.maximum(lo, floor)
        lower[t], upper[t] = lo, hi
        y = truth[t][:, None]                                              # (S, 1)
        miss = ((y < lo) | (y > hi)).astype(np.float64)
        sums[t + 1] = sums[t] + np.where(np.isnan(y), 0.0, miss - alpha)
    return lower, upper


def adapted(decoded: dict[str, Decoded], feedback: Feedback, floors: dict[str, float]
            ) -> dict[str, Decoded]:
    """``decoded`` with each target's calibrated intervals (``Decoded.intervals``) adapted
    to the misses of the earlier windows (``track``), their lower ends kept at ``floors``
    (per target, where its values cannot go lower)."""
    out = dict(decoded)
    for name, truth in feedback.truth.items():
        intervals = decoded[name].intervals
        if not intervals:
            continue
        coverage = [c for c, _, _ in intervals]
        lower = np.stack([lo for _, lo, _ in intervals], axis=-1)            # (N, S, K)
        upper = np.stack([hi for _, _, hi in intervals], axis=-1)
        lower, upper = track((lower + upper) / 2, (upper - lower) / 2, truth, coverage,
                             feedback.known, feedback.first, feedback.rate, floors.get(name))
        out[name] = replace(decoded[name], intervals=tuple(
            (c, lower[..., k], upper[..., k]) for k, c in enumerate(coverage)))
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Target ``name``'s values in ``frame`` as float64 (NaN: unknown).

    Raises:
        DataError: where the table has no such column, or text in it.
    """
    if name not in frame.columns:
        raise DataError(f"adapt learns from target {name!r}'s values up to each origin, and "
                        f"the table has no column {name!r}; give the table with its targets' "
                        "columns (NaN where a value is unknown), or drop adapt")
    values = pd.to_numeric(frame[name], errors="coerce")
    text = values.isna() & frame[name].notna()
    if text.any():
        raise DataError(f"target {name!r} holds {frame[name][text].iloc[0]!r}, which is not "
                        "a number; adapt reads its values as numbers: give them so, NaN "
                        "where unknown")
    return values.to_numpy(np.float64)
