"""The nearest neighbours' soft vote (``lstmkit.vote``) and the distances it reads
(``baselines.class_distances``), on a real set, against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit import baselines, datasets
from lstmkit.kinds import KINDS
from lstmkit.vote import (
    blended_logits,
    choose_weight,
    fit_scale,
    log_likelihood,
    lower_bound,
    votes,
)


@pytest.fixture(scope="module")
def basic_motions(shared_data):
    """40 training sequences of 100 steps x 6 channels, 4 classes; 40 test sequences."""
    (X, y), (X_test, y_test) = (datasets.load_uea("BasicMotions", part, data_dir=shared_data)
                                for part in ("train", "test"))
    classes, codes = np.unique(y, return_inverse=True)
    return X, codes, X_test, np.searchsorted(classes, y_test)


def hand_distances(queries: np.ndarray, references: np.ndarray, codes: np.ndarray,
                   classes: int, skip_self: bool = False) -> np.ndarray:
    """(n, classes): the Euclidean distance to each class's nearest reference, pair by pair."""
    out = np.full((len(queries), classes), np.inf)
    for i, q in enumerate(queries):
        for m, r in enumerate(references):
            if not (skip_self and i == m):
                out[i, codes[m]] = min(out[i, codes[m]], float(np.sqrt(((q - r) ** 2).sum())))
    return out


def test_class_distances_are_a_pairwise_hand_computation_in_any_block_size(basic_motions,
                                                                            monkeypatch):
    X, codes, X_test, _ = basic_motions
    knn = baselines.NearestNeighbour.fit(list(X), codes[:, None].astype(float))
    flat = knn.references.reshape(len(X), -1).astype(np.float64)
    queries = knn.flat(list(X_test))
    expected = hand_distances(queries, flat, codes, 4)
    assert np.allclose(knn.distances(list(X_test), 0, 4), expected, rtol=1e-6)
    monkeypatch.setattr(baselines, "BLOCK_ELEMENTS", 700)      # a few sequences per block
    assert np.allclose(knn.distances(list(X_test), 0, 4), expected, rtol=1e-6)
    loo = knn.distances(None, 0, 4)                            # each training one by the others
    assert np.allclose(loo, hand_distances(flat, flat, codes, 4, skip_self=True), rtol=1e-6)
    assert np.array_equal(knn.distances(list(X_test), 0, 4).argmin(axis=1),
                          knn.predict(list(X_test))[:, 0])     # the nearest class is 1-NN's


def test_a_class_without_references_gets_no_vote():
    distances = np.array([[1.0, np.inf, 2.0], [np.inf, np.inf, np.inf]])
    vote = votes(distances, 0.5)
    assert vote[0, 1] == 0 and vote[0, 0] == pytest.approx(1 / (1 + np.exp(-2)))
    assert np.allclose(vote[1], 1 / 3)                          # nothing known: uniform


def test_the_scale_maximises_the_leave_one_out_likelihood(basic_motions):
    X, codes, _, _ = basic_motions
    loo = baselines.NearestNeighbour.fit(list(X), codes[:, None].astype(float)).distances(
        None, 0, 4)
    scale = fit_scale(loo, codes)
    best = log_likelihood(votes(loo, scale), codes)
    for other in (scale / 2, scale * 2, scale * 16):
        assert log_likelihood(votes(loo, other), codes) <= best


def test_the_weight_follows_the_accuracies_and_how_many_sequences_measured_them():
    assert choose_weight(0.70, 30, 0.75) == 1.0          # below 1-NN: the vote alone
    assert choose_weight(0.80, 30, 0.75) == 0.5          # above, but 30 cannot tell
    assert choose_weight(0.98, 300, 0.60) == 0.0         # far above, on many: the network
    assert choose_weight(1.00, 29, 0.94) == 0.5          # 29 of 29 may well be 0.88
    assert lower_bound(1.0, 29) == pytest.approx(0.8830, abs=1e-4)   # Wilson, 95 %
    assert lower_bound(0.5, 100) == pytest.approx(0.4038, abs=1e-4)


def test_the_best_of_many_epochs_must_clear_a_lower_bound():
    # 20 looks: each bound at level 0.05 / 20, z = 3.0233 (normal tables), by hand:
    z, n, p = 3.0233, 22, 13 / 22
    hand = (p + z * z / (2 * n) - z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / \
        (1 + z * z / n)
    assert lower_bound(p, n, looks=20) == pytest.approx(hand, abs=1e-4)
    assert lower_bound(p, n, looks=1) == lower_bound(p, n) > hand
    # 13 of 22 validation sequences right, the best of 38 epochs: not shown above a 1-NN
    # of 0.30 (one epoch's 13 of 22 would be), so the two blend
    assert choose_weight(p, n, 0.30) == 0.0 and choose_weight(p, n, 0.30, looks=38) == 0.5
    # a chance bound: over many draws of 40 epochs' accuracies on 20 sequences of a
    # network whose true accuracy is 0.5, the best epoch's bound is above 0.5 in fewer
    # than 5 % of them (each epoch's own bound fails far more often)
    rng = np.random.default_rng(0)
    best = rng.binomial(20, 0.5, size=(2000, 40)).max(axis=1) / 20
    assert np.mean([lower_bound(b, 20, looks=40) > 0.5 for b in best]) < 0.05
    assert np.mean([lower_bound(b, 20) > 0.5 for b in best]) > 0.2


def test_a_part_left_out_of_the_references(basic_motions):
    X, codes, X_test, _ = basic_motions
    parts = np.arange(len(X)) % 3
    knn = baselines.NearestNeighbour.fit(list(X), codes[:, None].astype(float), 0, parts)
    without = knn.without(2)
    assert np.array_equal(without.references, knn.references[parts != 2])
    assert np.array_equal(without.parts, parts[parts != 2]) and without.total == len(X) - 13
    flat = knn.references.reshape(len(X), -1).astype(np.float64)
    expected = hand_distances(knn.flat(list(X_test)), flat[parts != 2], codes[parts != 2], 4)
    assert np.allclose(without.distances(list(X_test), 0, 4), expected, rtol=1e-6)
    no_parts = baselines.NearestNeighbour.fit(list(X), codes[:, None].astype(float))
    assert no_parts.without(2) is no_parts and knn.without(5) is knn
    shorter = baselines.NearestNeighbour.fit(list(X), codes[:, None].astype(float), length=50)
    assert np.allclose(shorter.references, baselines.z_normalised(list(X), 50))


@pytest.mark.parametrize("kind", ["classification", "binary"])
def test_blended_logits_give_the_blended_probabilities(kind):
    labelled = KINDS[kind]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 3 if kind == "classification" else 1))
    classes = 3 if kind == "classification" else 2
    distances = rng.uniform(1, 3, size=(5, classes))
    blend = 0.3 * labelled.probabilities(logits) + 0.7 * votes(distances, 0.8)
    assert np.allclose(labelled.probabilities(
        blended_logits(labelled, logits, distances, 0.7, 0.8)), blend, atol=1e-12)
