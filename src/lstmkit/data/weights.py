"""Weights of the loss: per window (``Spec.weight``) and per class (``Target.class_weight``).

A window's weight is the weight column's value at its origin (forecasts: the last input
row) or its sequence's value (sequence tasks: the column must be constant within each
sequence). A class weight multiplies the loss of every step whose true label is that
class. The training and validation losses are then weighted means: each target's
``sum(w * loss) / sum(w)`` over its known values, ``w`` the window's weight times the
class weight of the truth (``lstmkit.training.losses``), so that a window of weight 0 counts
as if it were left out and scaling all weights changes nothing.

Example:
    >>> Spec(inputs=["x"], targets=["y"], lookback=24, weight="volume")
    >>> Target("weather", kind="classification", class_weight="balanced")
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..checks import quote
from ..errors import ConfigError, DataError
from ..spec import Spec
from . import validate
from .encoding import Encoding
from .groups import Groups
from .windows import Batches, Windows


def read_weights(groups: Groups, spec: Spec) -> np.ndarray:
    """The weight column of an arranged table, float32: one weight per row (forecasts, read
    at each window's origin) or per sequence (sequence tasks).

    Raises:
        DataError: the column is missing, not numeric, holds a missing (NaN) or negative
            value, or changes within a sequence; each naming the column, row or sequence.
    """
    name = spec.weight
    validate.require_columns(groups.frame, [name], "weight")
    values = validate.numeric(groups.frame, name, groups.rows, allow_nan=True)
    bad = np.flatnonzero(~(values >= 0))           # NaN or negative
    if bad.size:
        i = int(bad[0])
        raise DataError(f"weight column {name!r} holds {float(values[i])!r} at row "
                        f"{groups.rows[i]}; weights must be numbers >= 0 (0 leaves a window "
                        "out of the loss): fill or drop that row, or clip the column at 0")
    if spec.shape.sliding:
        return values.astype(np.float32)
    first = values[groups.offsets[:-1]]
    changed = np.flatnonzero(values != np.repeat(first, groups.lengths))
    if changed.size:
        i = int(changed[0])
        g = int(np.searchsorted(groups.offsets, i, side="right") - 1)
        raise DataError(f"weight column {name!r} changes within sequence {groups.keys[g]!r} "
                        f"(row {groups.rows[i]} has {float(values[i])!r}, its first row "
                        f"{float(first[g])!r}); a sequence has one weight: give all its rows "
                        "the same value")
    return first.astype(np.float32)


def require_weight(weights: Any, part: str, spec: Spec) -> None:
    """Raise a DataError when every window of ``part`` weighs 0 (``weights``: theirs, a
    tensor or array; None: unweighted): nothing would count."""
    if weights is not None and len(weights) and not bool((weights > 0).any()):
        raise DataError(f"every window of the {part} part has weight 0 in weight column "
                        f"{spec.weight!r}; give some of them a positive weight, or move the "
                        "split boundaries")


def class_weights(spec: Spec, encoding: Encoding, windows: Windows) -> dict[str, list[float]]:
    """Each class-weighted target's weight per label code (in the labels' order); for
    ``"balanced"`` n / (K x count) over the known labels of the training ``windows`` (n of
    them, K labels; a label absent from them counts once).

    Raises:
        ConfigError: a ``{label: weight}`` names a label the training part does not have.
    """
    weights: dict[str, list[float]] = {}
    if not any(t.class_weight for t in spec.targets):
        return weights
    truth = torch.cat([batch["y"].reshape(-1, len(spec.targets))     # (windows x steps, T)
                       for batch in Batches(windows, 4096)]).numpy()
    for j, target in enumerate(spec.targets):
        given = target.class_weight
        if given is None:
            continue
        labels = encoding.target_labels[target.name].classes
        if given == "balanced":
            codes = truth[:, j][np.isfinite(truth[:, j])].astype(np.int64)
            counts = np.maximum(np.bincount(codes, minlength=len(labels)), 1)
            weights[target.name] = (len(codes) / (len(labels) * counts)).round(8).tolist()
            continue
        by_text = {str(label): k for k, label in enumerate(labels)}
        table = [1.0] * len(labels)
        for label, weight in given.items():
            k = labels.index(label) if label in labels else by_text.get(str(label))
            if k is None:
                raise ConfigError(f"class_weight of target {target.name!r} names label "
                                  f"{quote(label)}, which is not among its training labels "
                                  f"{quote(list(labels))}; use those labels")
            table[k] = weight
        if not any(table):
            raise ConfigError(f"class_weight of target {target.name!r} gives every label weight "
                              "0; give some label a positive weight")
        weights[target.name] = table
    return weights

