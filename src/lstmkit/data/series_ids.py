"""A series id as lstmkit keeps it in a saved model's statistics and scales: text, which
JSON keeps faithfully.

The text is a label's as a CSV file writes it (``label_text``), so one id read as the
number 7, as 7.0 (pandas reads an integer column that holds a gap as floats) or as the
text "7" (lstmkit reads a CSV file's ids as text) is one series. Models saved before kept
``str(id)``, "7.0" for 7.0; ``position`` and ``positions`` find their ids too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .scaling import label_text


def id_text(key: Any) -> str | None:
    """A series id as text; None, the one series of a table without a series column,
    stays None."""
    return None if key is None else label_text(key)


def position(known: Mapping[str | None, int], key: Any, default: int = -1) -> int:
    """``key``'s entry in ``known`` (ids as ``id_text`` or, saved before, ``str`` made
    them), else ``default``."""
    found = known.get(id_text(key))
    return known.get(None if key is None else str(key), default) if found is None else found


def positions(ids: Sequence[str | None], keys: Iterable[Any], default: int = -1) -> np.ndarray:
    """Each of ``keys``' position (int64) in ``ids``, the ids a model keeps (``position``),
    else ``default``."""
    known = {key: i for i, key in enumerate(ids)}
    return np.array([position(known, key, default) for key in keys], dtype=np.int64)
