"""Sequence classification on UEA data: arrays, long tables, and sequences of different lengths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import ConfigError, LSTMModel, Spec, Split, Target, datasets


@pytest.fixture(scope="module")
def basic_motions(shared_data):
    train = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    test = datasets.load_uea("BasicMotions", "test", data_dir=shared_data)
    return train, test


def test_basic_motions_from_arrays_beats_the_majority_class(basic_motions):
    (X, y), (X_test, y_test) = basic_motions
    model = LSTMModel(hidden=32, lr=3e-3, batch_size=16, max_epochs=100, patience=100,
                      split=Split(0.8, None), progress=False).fit(X, y)
    assert model.spec_.task == "sequence" and model.spec_.targets[0].kind == "classification"
    evaluation = model.evaluate(X_test, y_test)
    assert evaluation.metric("y", "accuracy") >= 0.7
    assert evaluation.metric("y", "accuracy", of="naive") == pytest.approx(0.25)
    assert evaluation.metric("y", "macro_F1") > evaluation.metric("y", "macro_F1", of="naive")
    confusion = evaluation.confusion["y"]
    assert confusion.to_numpy().sum() == len(y_test)
    assert sorted(confusion.index) == sorted(set(y))
    predicted = model.predict(X_test)
    assert set(predicted.y) <= set(y)                        # the user's own labels back
    probabilities = predicted.filter(like="y_proba_")
    assert probabilities.shape[1] == 4
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_variable_length_sequences_are_packed_not_truncated(shared_data):
    X, y = datasets.load_uea("JapaneseVowels", "train", data_dir=shared_data)
    X_test, y_test = datasets.load_uea("JapaneseVowels", "test", data_dir=shared_data)
    lengths = (~np.isnan(X).all(axis=2)).sum(axis=1)
    assert lengths.min() < lengths.max()                       # 7..26 steps in TRAIN
    model = LSTMModel(hidden=32, lr=3e-3, batch_size=32, max_epochs=15, progress=False).fit(X, y)
    assert model.evaluate(X_test, y_test).metric("y", "accuracy") >= 0.85
    # Padding is not data: a sequence predicts the same alone and in a padded batch.
    one = [X_test[0][: int((~np.isnan(X_test[0]).all(axis=1)).sum())]]
    alone = model.predict(one).filter(like="y_proba_").to_numpy()
    batched = model.predict(X_test[:50]).filter(like="y_proba_").to_numpy()[:1]
    assert np.allclose(alone, batched, atol=1e-5)


def test_long_format_table_with_string_labels(basic_motions):
    (X, y), _ = basic_motions
    n, steps, channels = X.shape
    columns = [f"c{i}" for i in range(channels)]
    frame = pd.DataFrame(X.reshape(n * steps, channels), columns=columns)
    frame.insert(0, "recording", np.repeat([f"r{i:02d}" for i in range(n)], steps))
    frame["activity"] = np.repeat(y, steps)
    spec = Spec(task="sequence", sequence="recording", inputs=columns,
                targets=[Target("activity", kind="classification")])
    model = LSTMModel(spec, hidden=16, lr=3e-3, batch_size=8, max_epochs=3,
                      progress=False).fit(frame)
    predicted = model.predict(frame[frame.recording.isin(["r00", "r05"])])
    assert predicted.recording.tolist() == ["r00", "r05"]
    assert set(predicted.activity) <= set(y)


def test_predictions_keep_the_type_of_ids_and_labels():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8, 2)).astype(np.float32)
    y = rng.integers(3, 6, 60)                                  # integer labels 3, 4, 5
    model = LSTMModel(hidden=8, max_epochs=1, progress=False).fit(X, y)
    predicted = model.predict(X)
    assert predicted["sample"].dtype == np.int64 and predicted["y"].dtype == np.int64
    assert set(predicted.y) <= {3, 4, 5}
    words = np.array(["low", "mid", "high"])[y - 3]            # strings stay strings
    predicted = LSTMModel(hidden=8, max_epochs=1, progress=False).fit(X, words).predict(X)
    assert set(map(type, predicted.y)) == {str}


def test_sequence_regression_target(basic_motions):
    (X, _), _ = basic_motions
    energy = np.nanmean(np.abs(X), axis=(1, 2))             # a per-sequence number
    model = LSTMModel(hidden=16, lr=3e-3, batch_size=8, max_epochs=30, patience=30,
                      progress=False).fit(X, energy)
    assert model.spec_.targets[0].kind == "regression"
    evaluation = model.evaluate(X, energy, part="test")
    assert evaluation.metric("y", "RMSE") < evaluation.metric("y", "RMSE", of="naive")


def test_stratified_split_keeps_every_class_share_in_every_part():
    from lstmkit.data.split import sequence_parts

    labels = np.array(["a"] * 30 + ["b"] * 10 + [None] * 5, dtype=object)   # None: a class too
    classes = ["a", "b", None]
    for seed in range(5):
        plain = sequence_parts(45, Split(0.6, 0.8), seed, labels)
        parts = sequence_parts(45, Split(0.6, 0.8, stratify=True), seed, labels)
        assert sorted(np.bincount(parts)) == sorted(np.bincount(plain))    # same part sizes
        for c in classes:
            mine = parts[np.array([v == c for v in labels])]
            share = np.bincount(mine, minlength=3) / len(mine)
            assert np.all(np.abs(share - [0.6, 0.2, 0.2]) <= 1 / len(mine) + 1e-9)
    seeds = {tuple(sequence_parts(45, Split(0.6, 0.8, stratify=True), s, labels)) for s in (0, 1)}
    assert len(seeds) == 2                                   # still a seeded shuffle


def test_stratify_trains_and_asks_for_a_class_target(basic_motions):
    (X, y), _ = basic_motions
    model = LSTMModel(hidden=8, max_epochs=1, progress=False,
                      split=Split(0.75, None, stratify=True)).fit(X, y)
    assert model.history_["epochs"] and model.split.stratify
    energy = np.nanmean(np.abs(X), axis=(1, 2))
    with pytest.raises(ConfigError, match="stratify=True needs a sequence task with a class"):
        LSTMModel(hidden=8, max_epochs=1, progress=False,
                  split=Split(0.75, None, stratify=True)).fit(X, energy)
    assert Split.from_dict({"val_start": 0.8, "stratify": True}).stratify
