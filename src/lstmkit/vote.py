"""The nearest neighbours' soft vote, and its blend with a sequence classifier's network.

The vote gives class ``k`` of a sequence the probability ``exp(-d_k / scale)``, normalised,
where ``d_k`` is the Euclidean distance (z-normalised series, ``lstmkit.baselines``) to the
nearest reference sequence of class ``k``: the most probable class is 1-NN's label, and
``scale`` says how fast the others fade. ``fit_scale`` picks it by the leave-one-out
likelihood of the references' own labels, each voted for by the others: a sample as large
as the reference set. ``choose_weight`` sets the blend ``(1 - w) * network + w * vote``
from the network's validation accuracy and 1-NN's leave-one-out accuracy: the validation
part of a small set (a few to a few dozen sequences) cannot rank two predictors whose
accuracies are near, and where it cannot, the blend weighs them equally. Early stopping
chose the network's epoch by that same part, so the bound its accuracy must clear holds
for every epoch scored there at once (``lower_bound``'s ``looks``).

Example:
    >>> scale = fit_scale(knn.distances(None, 0, classes), codes)
    >>> votes(knn.distances(sequences, 0, classes), scale)      # (n, classes)
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .kinds import Labelled

SCALES = 2.0 ** np.arange(-8, 4.25, 0.25)   # scale's grid, in medians of the nearest distance
FLOOR = 1e-12                                      # a probability no lower, to score it
LEVEL = 0.05                                       # lower_bound's chance of being wrong


def votes(distances: np.ndarray, scale: float) -> np.ndarray:
    """Class probabilities (n, K) from distances (n, K) to each class's nearest reference
    (inf: the class has none, probability 0)."""
    nearest = distances.min(axis=1, keepdims=True)
    finite = np.isfinite(distances)
    z = np.where(finite, -(distances - np.where(np.isfinite(nearest), nearest, 0)) / scale,
                 -np.inf)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    return np.divide(e, total, out=np.full_like(e, 1 / e.shape[1]), where=total > 0)


def log_likelihood(probabilities: np.ndarray, codes: np.ndarray) -> float:
    """The mean log-probability of class ``codes`` (n,), each probability at least FLOOR."""
    chosen = probabilities[np.arange(len(codes)), codes]
    return float(np.log(np.maximum(chosen, FLOOR)).mean())


def fit_scale(distances: np.ndarray, codes: np.ndarray) -> float:
    """The scale (of ``SCALES`` times the median nearest distance) whose votes give the
    references' own labels ``codes`` (n,) the highest leave-one-out likelihood, from each
    one's distances (n, K) to the others (the first of equals)."""
    nearest = distances.min(axis=1)
    unit = np.median(nearest[np.isfinite(nearest) & (nearest > 0)]) if \
        (np.isfinite(nearest) & (nearest > 0)).any() else 1.0
    scores = [log_likelihood(votes(distances, s * unit), codes) for s in SCALES]
    return float(SCALES[int(np.argmax(scores))] * unit)


def lower_bound(accuracy: float, n: int, looks: int = 1) -> float:
    """The Wilson score interval's lower end (95 %) of an ``accuracy`` measured on ``n``
    sequences: how low it may well be. ``looks``: of how many accuracies on the same
    sequences (one per epoch) the best was kept; the bound is then that of each at level
    ``LEVEL / looks`` (Bonferroni), so it holds for the one kept, however it was picked."""
    z = NormalDist().inv_cdf(1 - LEVEL / 2 / max(looks, 1))
    centre = accuracy + z * z / (2 * n)
    spread = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def choose_weight(network: float, n: int, nearest: float, looks: int = 1) -> float:
    """The vote's weight ``w`` in ``(1 - w) * network + w * vote``, from the network's
    accuracy on ``n`` validation sequences (the best of ``looks`` epochs scored there) and
    1-NN's leave-one-out accuracy ``nearest`` over the training and validation sequences
    (a larger sample): 1 (the vote alone) where the network's is below it, 0 (the network
    alone) where even the network's ``lower_bound`` is above it, else 0.5 (validation
    cannot tell the two apart)."""
    if network < nearest:
        return 1.0
    return 0.0 if lower_bound(network, n, looks) > nearest else 0.5


def blended_logits(kind: Labelled, logits: np.ndarray, distances: np.ndarray, weight: float,
                   scale: float) -> np.ndarray:
    """Outputs (n, width) whose probabilities are ``(1 - weight)`` times those of the
    (tempered) ``logits`` (n, width) plus ``weight`` times the vote of ``distances`` (n, K)."""
    blend = (1 - weight) * kind.probabilities(logits) + weight * votes(distances, scale)
    return kind.logits_of(blend)
