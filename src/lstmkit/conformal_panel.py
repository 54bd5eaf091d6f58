"""Conformal margins of a panel: each window's series, and its series' margins.

Where the calibration windows come from more than one series, ``conformal.fit_conformal``
divides each window's score by its series' naive scale (``WindowSeries``) and keeps, beside
the pooled margins, the normalised ones and per series its scale (and its own margins where
it has enough windows). Here: which series each window is of, the margins a window gets
from such a record (``window_margins``, ``margin_table`` for the ONNX graph), and the check
of those fields as read back from a file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import quote
from .data.series_ids import positions


@dataclass(frozen=True)
class WindowSeries:
    """Which series each calibration window belongs to, and the series' scales its
    scores are divided by (scale-aware calibration of a panel).

    Attributes:
        keys: the series' ids as text.
        which: (N,) each window's position in ``keys``.
        scales: per number target, one scale per series (NaN where none is usable).
    """

    keys: tuple[str, ...]
    which: np.ndarray
    scales: dict[str, np.ndarray]

    def of(self, name: str) -> np.ndarray | None:
        """Target ``name``'s usable scales (G,) (NaN: none), or None where the windows are
        not of several series or no series has a usable scale."""
        scales = self.scales.get(name)
        if len(self.keys) < 2 or scales is None:
            return None
        usable = np.isfinite(scales) & (scales > 0)
        return np.where(usable, scales, np.nan) if usable.any() else None


def window_margins(record: dict[str, Any], name: str, k: int, keys: Sequence[Any] | None
                   ) -> np.ndarray:
    """Target ``name``'s margins at the ``k``-th coverage: the pooled ones (S,) (or (1,)),
    or, scale-aware with the windows' series ``keys``, each window's (N, S)."""
    entry = record["targets"][name]
    if "scaled_margins" not in entry or keys is None:
        return np.asarray(entry["margins"][k], dtype=np.float64)
    return margin_table(record, name, k)[series_codes(record, keys)]


def margin_table(record: dict[str, Any], name: str, k: int) -> np.ndarray:
    """Target ``name``'s margins (G + 1, S) at the ``k``-th coverage per series of the
    record's ``series`` (its normalised margins times its scale, the pooled ones where it
    has none), and last the pooled ones, for series the record does not hold."""
    entry = record["targets"][name]
    pooled = np.asarray(entry["margins"][k], dtype=np.float64)
    if "scaled_margins" not in entry:
        return pooled[None, :]
    scales = np.array([math.nan if v is None else v for v in entry["scales"]], np.float64)
    scaled = entry["scaled_margins"][k]
    own = entry.get("series_margins", [[None] * len(scales)] * (k + 1))[k]
    normalised = np.array([scaled if m is None else m for m in own], dtype=np.float64)
    rows = np.where(np.isfinite(scales)[:, None], scales[:, None] * normalised, pooled[None, :])
    return np.vstack([rows, pooled[None, :]])


def series_codes(record: dict[str, Any], keys: Sequence[Any]) -> np.ndarray:
    """Each of ``keys``' position (int64) in the record's ``series``; its length (the
    pooled margins' row of ``margin_table``) for a series it does not hold."""
    series = record.get("series", [])
    return positions(series, keys, len(series))


def check_scaled(entry: dict[str, Any], name: str, margins: list[list[float]],
                  series: Any) -> None:
    """ValueError unless target ``name``'s optional scale-aware fields (``scaled_margins``
    shaped like ``margins``, ``scales``: one per ``series`` id, ``series_margins``) are
    sound."""
    def finite(v: Any, positive: bool = False) -> bool:
        return type(v) in (int, float) and math.isfinite(v) and (v > 0 or not positive)
    if "scaled_margins" not in entry and "scales" not in entry:
        return
    keys = isinstance(series, list) and bool(series) and all(
        isinstance(k, str) for k in series) and len(set(series)) == len(series)
    scaled, scales = entry.get("scaled_margins"), entry.get("scales")
    shaped = isinstance(scaled, list) and len(scaled) == len(margins) and all(
        isinstance(row, list) and len(row) == len(own) and all(finite(v) for v in row)
        for row, own in zip(scaled, margins, strict=False))
    per_series = keys and isinstance(scales, list) and len(scales) == len(series) and all(
        v is None or finite(v, positive=True) for v in scales)
    own = entry.get("series_margins", [[None] * len(scales or [])] * len(margins))
    owned = per_series and isinstance(own, list) and len(own) == len(margins) and all(
        isinstance(each, list) and len(each) == len(series) and all(
            m is None or (isinstance(m, list) and len(m) == len(row) and all(map(finite, m)))
            for m in each) for each, row in zip(own, margins, strict=False))
    if not shaped or not per_series or not owned:
        raise ValueError(f"conformal entry of {quote(name)} must hold scaled_margins (shaped "
                         "like margins), scales (one number above 0, or null, per id of the "
                         "record's series: distinct ids as text) and series_margins (per "
                         "coverage, per series null or a list shaped like its margins)")
