"""Columns with one value per group: the static inputs of a series or sequence, and the
targets of a sequence task (one value per sequence).

``check_static`` runs wherever a table is encoded for the network (``prepare.encode``, the
ONNX model's reading), so fitting, predicting and exporting refuse the same tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..spec import Spec
from .groups import Groups


def first_change(groups: Groups, frame: pd.DataFrame, column: str) -> tuple[int, int] | None:
    """The first arranged row whose value of ``column`` differs from its group's first row
    (a missing value differs from a present one), with its group; None if every group's
    column is constant."""
    values = pd.Series(frame[column].to_numpy())
    first = np.repeat(groups.offsets[:-1], groups.lengths)
    heads = values.iloc[first].to_numpy()
    same = (values.to_numpy() == heads) | (values.isna().to_numpy() & pd.isna(heads))
    if same.all():
        return None
    i = int(np.flatnonzero(~same)[0])
    return i, int(np.searchsorted(groups.offsets, i, side="right") - 1)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``7.0``, not ``np.float64(7.0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def check_static(groups: Groups, spec: Spec) -> None:
    """Raise DataError naming the series (or sequence), both values and their rows where a
    static input (``Feature.static``) is not constant within it."""
    kind = "series" if spec.shape.sliding else "sequence"
    for name in spec.static_names:
        if name not in groups.frame.columns:
            continue                          # the schema check names a missing column
        change = first_change(groups, groups.frame, name)
        if change is None:
            continue
        i, g = change
        head = groups.offsets[g]
        values = groups.frame[name]
        which = f"{kind} {groups.keys[g]!r}" if groups.keys != [None] else "the table"
        raise DataError(f"static input {name!r} changes within {which}: row {groups.rows[i]} "
                        f"has {plain(values.iloc[i])!r}, its first row {groups.rows[head]} "
                        f"{plain(values.iloc[head])!r}; a static input has one value per "
                        f"{kind}: give every row of the {kind} that value, or drop static=True")
