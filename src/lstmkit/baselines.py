"""The nearest-neighbour baseline of sequence classification: 1-NN, Euclidean, z-normalised.

The time-series archives' classic baseline (UCR / UEA "1NN-ED"): each sequence is
z-normalised per channel over its own steps (a constant channel becomes zeros), sequences
of another length are linearly resampled to the reference set's longest length, and a
sequence takes the labels of the reference sequence nearest to it in Euclidean distance
(the first of equals). The reference set is every labelled sequence ``fit`` was given,
each with its part of the split (``fitting.nearest_neighbour``): at most ``MAX_REFERENCES``
sequences (a seeded sample beyond that, said in the description), and distances are
computed in blocks of at most ``BLOCK_ELEMENTS`` numbers, so memory stays bounded however
many sequences are scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_REFERENCES = 20_000       # reference sequences kept; time is O(queries x references)
BLOCK_ELEMENTS = 1 << 22      # numbers in one block of queries or references, or distances


def z_normalised(sequences: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Sequences (steps, channels) as one float32 array (n, length, channels): each channel
    z-normalised over the sequence's own steps, then linearly resampled to ``length`` steps.

    Example:
        >>> z_normalised([np.array([[1.0], [2.0], [3.0]])], 3)[0, :, 0]
        array([-1.2247449,  0.       ,  1.2247449], dtype=float32)
    """
    channels = sequences[0].shape[1] if len(sequences) else 0
    out = np.empty((len(sequences), length, channels), np.float32)
    lengths = np.array([len(s) for s in sequences])
    for steps in np.unique(lengths):
        which = np.flatnonzero(lengths == steps)
        block = np.stack([sequences[i] for i in which]).astype(np.float64)   # (k, steps, C)
        mean, std = block.mean(axis=1, keepdims=True), block.std(axis=1, keepdims=True)
        block = np.divide(block - mean, std, out=np.zeros_like(block), where=std > 0)
        out[which] = _resampled(block, length)
    return out


def _resampled(block: np.ndarray, length: int) -> np.ndarray:
    """(k, steps, C) linearly interpolated to (k, length, C), first and last steps kept."""
    steps = block.shape[1]
    if steps == length:
        return block
    position = np.linspace(0, steps - 1, length)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, steps - 1)
    weight = (position - low)[None, :, None]
    return block[:, low] * (1 - weight) + block[:, high] * weight


def nearest(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """For each query (n, D), the index of its nearest reference (m, D) in Euclidean
    distance (the first of equals), computed block by block in float64."""
    m, width = references.shape
    rows = max(1, BLOCK_ELEMENTS // max(width, m, 1))
    cols = max(1, BLOCK_ELEMENTS // max(width, rows))
    found = []
    for lo in range(0, len(queries), rows):
        q = queries[lo : lo + rows].astype(np.float64)
        best, best_distance = np.zeros(len(q), np.int64), np.full(len(q), np.inf)
        for start in range(0, m, cols):
            r = references[start : start + cols].astype(np.float64)
            distance = (q * q).sum(1)[:, None] + (r * r).sum(1)[None, :] - 2 * q @ r.T
            j = distance.argmin(axis=1)
            nearest_here = distance[np.arange(len(q)), j]
            closer = nearest_here < best_distance          # strictly: the first of equals
            best[closer], best_distance[closer] = start + j[closer], nearest_here[closer]
        found.append(best)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def class_distances(queries: np.ndarray, references: np.ndarray, codes: np.ndarray,
                    classes: int, skip: np.ndarray | None = None) -> np.ndarray:
    """For each query (n, D), the Euclidean distance (n, classes) to the nearest reference
    (m, D) of each class (reference ``codes`` (m,), NaN: no class), inf where a class has
    none; ``skip`` (n,): per query, a reference to leave out (leave-one-out: the query
    itself), -1 for none. Computed block by block in float64, as ``nearest``."""
    m, width = references.shape
    rows = max(1, BLOCK_ELEMENTS // max(width, m, 1))
    cols = max(1, BLOCK_ELEMENTS // max(width, rows))
    codes = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    out = np.full((len(queries), classes), np.inf)
    for lo in range(0, len(queries), rows):
        q = queries[lo : lo + rows].astype(np.float64)
        best = out[lo : lo + rows]
        for start in range(0, m, cols):
            r = references[start : start + cols].astype(np.float64)
            distance = (q * q).sum(1)[:, None] + (r * r).sum(1)[None, :] - 2 * q @ r.T
            if skip is not None:
                own = skip[lo : lo + rows] - start
                mine = (own >= 0) & (own < len(r))
                distance[np.flatnonzero(mine), own[mine]] = np.inf
            here = codes[start : start + cols]
            for k in np.unique(here[here >= 0]):
                np.minimum(best[:, k], distance[:, here == k].min(axis=1), out=best[:, k])
    return np.sqrt(np.maximum(out, 0.0))


@dataclass(frozen=True)
class NearestNeighbour:
    """1-NN over a reference set of z-normalised sequences.

    Attributes:
        references: (m, length, channels) float32, z-normalised and resampled.
        targets: (m, T) each reference sequence's targets (encoded: class codes).
        total: training sequences there were (more than ``m`` where a sample was taken).
        parts: (m,) the part of the fit's split each reference came from (0 training, 1
            validation, 2 test: ``data.split.sequence_parts``' codes), so that scoring a part
            can leave its own sequences out (``without``); None where not known (models saved
            before it, which keep training and validation sequences only).

    Example:
        >>> knn = NearestNeighbour.fit(train_sequences, train_codes)
        >>> knn.predict(test_sequences)            # (n, T): the nearest one's codes
    """

    references: np.ndarray
    targets: np.ndarray
    total: int
    parts: np.ndarray | None = None

    @classmethod
    def fit(cls, sequences: Sequence[np.ndarray], targets: np.ndarray, seed: int = 0,
            parts: np.ndarray | None = None, length: int | None = None) -> NearestNeighbour:
        """The reference set of ``sequences`` (steps, channels) with ``targets`` (n, T) and
        their split ``parts`` (n,), resampled to ``length`` steps (default: the longest
        sequence's); over ``MAX_REFERENCES`` sequences, a seeded sample of that many."""
        keep = np.arange(len(sequences))
        if len(keep) > MAX_REFERENCES:
            keep = np.sort(np.random.default_rng(seed).choice(keep, MAX_REFERENCES, False))
        length = length or max(len(sequences[i]) for i in keep)
        return cls(z_normalised([sequences[i] for i in keep], length),
                   np.asarray(targets)[keep], len(sequences),
                   None if parts is None else np.asarray(parts, np.int64)[keep])

    def without(self, part: int) -> NearestNeighbour:
        """The reference set less the sequences of the split's ``part`` (itself where their
        parts are not known or none is of that part): scoring that part, no sequence is
        then its own neighbour."""
        if self.parts is None or not (self.parts == part).any():
            return self
        keep = self.parts != part
        return NearestNeighbour(self.references[keep], self.targets[keep],
                                self.total - int((~keep).sum()), self.parts[keep])

    @property
    def description(self) -> str:
        """What the baseline is, for reports."""
        sample = "" if self.total == len(self.targets) else \
            f", a sample of {len(self.targets):,} of the {self.total:,} labelled sequences"
        return f"1-nearest-neighbour, Euclidean on z-normalised series{sample}"

    def flat(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """``sequences`` z-normalised and resampled as the references are, one row each."""
        _, length, channels = self.references.shape
        return z_normalised(sequences, length).reshape(len(sequences), length * channels)

    def distances(self, sequences: Sequence[np.ndarray] | None, target: int, classes: int
                  ) -> np.ndarray:
        """Per sequence, the distance (n, classes) to the nearest reference of each class
        of target ``target`` (``class_distances``); ``sequences`` None: of each reference
        to the others (leave-one-out)."""
        flat = self.references.reshape(len(self.references), -1)
        codes = self.targets[:, target]
        if sequences is None:
            return class_distances(flat, flat, codes, classes, np.arange(len(flat)))
        _, length, channels = self.references.shape
        chunk = max(1, BLOCK_ELEMENTS // (length * channels))
        return np.concatenate([np.zeros((0, classes))] + [
            class_distances(self.flat(sequences[lo : lo + chunk]), flat, codes, classes)
            for lo in range(0, len(sequences), chunk)])

    def predict(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """The targets (n, T) of each sequence's nearest reference sequence."""
        if not len(sequences):
            return self.targets[:0]
        _, length, channels = self.references.shape
        chunk = max(1, BLOCK_ELEMENTS // (length * channels))
        found = [nearest(z_normalised(sequences[lo : lo + chunk], length).reshape(
                     -1, length * channels), self.references.reshape(len(self.references), -1))
                 for lo in range(0, len(sequences), chunk)]
        return self.targets[np.concatenate(found)]
