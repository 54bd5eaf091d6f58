"""Resolve a ``Split`` into row boundaries per series, or a part per sequence.

Parts are coded 0 = train, 1 = validation, 2 = test, -1 = unused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..spec import Boundary, Split
from .groups import Groups

PART_CODES = {"train": 0, "val": 1, "test": 2}


def series_bounds(groups: Groups, split: Split) -> np.ndarray:
    """Row positions ``[0, val_start, test_start, end]`` within each series, shape (G, 4).

    Series ``g`` trains on its rows ``[0, b1)``, validates on ``[b1, b2)`` and tests on
    ``[b2, b3)``; a part left out by the split is empty. A timestamp without a UTC
    offset is a wall-clock time in the time column's zone, where it has one.
    """
    lengths = groups.lengths
    zone = groups.timeline.zone if groups.timeline is not None else None
    bounds = np.zeros((len(groups), 4), dtype=np.int64)
    for g, n in enumerate(lengths):
        lo, hi = groups.offsets[g], groups.offsets[g + 1]
        time = groups.time[lo:hi] if groups.time is not None else None
        bounds[g] = (0, *_boundaries(split, n, time, "rows", zone))
    return bounds


def sequence_parts(n: int, split: Split, seed: int, labels: np.ndarray | None = None
                   ) -> np.ndarray:
    """Part code of each of ``n`` sequences: positions count sequences, shuffled if asked.

    ``labels`` (one class per sequence, given where the split is stratified: ``stratify``
    true, or unset for sequence classification) are spread so that every part holds each
    class in the proportion of the whole.
    """
    for name in ("val_start", "test_start", "end"):
        if isinstance(getattr(split, name), str):
            raise ConfigError(f"split {name}={getattr(split, name)!r}: sequence tasks split by "
                              "sequence count or fraction, not by timestamp")
    val, test, end = _boundaries(split, n, None, "sequences")
    order = np.random.default_rng(seed).permutation(n) if split.shuffle else np.arange(n)
    if labels is not None:
        order = _proportional(order, labels)
    parts = np.full(n, -1, dtype=np.int64)
    parts[order[:val]] = 0
    parts[order[val:test]] = 1
    parts[order[test:end]] = 2
    return parts


def _proportional(order: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``order`` rearranged so that every prefix holds each class in proportion.

    A sequence's place is its rank within its class (as ``order`` has them) over
    the class's size, so the k-th of 10 and the 2k-th of 20 sit side by side.
    """
    classes = pd.factorize(labels[order], use_na_sentinel=False)[0]   # a gap: its own class
    counts = np.bincount(classes)
    by_class = np.argsort(classes, kind="stable")
    rank = np.empty(len(order))
    rank[by_class] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    return order[np.argsort((rank + 0.5) / counts[classes], kind="stable")]


def _boundaries(split: Split, n: int, time: np.ndarray | None, unit: str,
                zone: str | None = None) -> tuple[int, int, int]:
    """``(val_start, test_start, end)`` as positions among ``n`` rows or sequences (``zone``:
    the time column's, for timestamps)."""
    end = _position(split.end, n, time, "end", n, zone)
    test = _position(split.test_start, n, time, "test_start", end, zone)
    val = _position(split.val_start, n, time, "val_start", test, zone)
    if not val <= test <= end:
        raise ConfigError(f"split boundaries must be ordered val_start <= test_start <= end, got "
                          f"{unit} {val}, {test}, {end} ({split})")
    return val, test, end


def _position(value: Boundary, n: int, time: np.ndarray | None, name: str, default: int,
              zone: str | None = None) -> int:
    if value is None:
        return default
    if isinstance(value, float):
        return int(value * n)
    if isinstance(value, int):
        return min(value, n)
    if time is None:
        raise ConfigError(f"split {name}={value!r} is a timestamp, which needs a 'time' column "
                          "in the spec; give a fraction or a row number instead")
    try:
        stamp = _instant(value, zone) if time.dtype.kind == "M" else float(value)
    except ValueError:
        raise ConfigError(f"split {name}={value!r} cannot be read as a time") from None
    return int(np.searchsorted(time, stamp, side="left"))


def _instant(value: str, zone: str | None) -> np.datetime64:
    """A timestamp boundary as time columns are held (naive; UTC for zone-aware times): text
    without a UTC offset is a wall-clock time in ``zone`` where the column has one."""
    stamp = pd.Timestamp(value)
    if zone is not None and stamp.tz is None:
        stamp = stamp.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_datetime64()
