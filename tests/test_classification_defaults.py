"""Sequence classification: the 1-NN baseline beside the model, the defaults that follow the
data, and the blend with the nearest neighbours' vote that validation chooses (models saved
before it: the nearest neighbour answering where validation said the network was worse)."""

from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import pytest

from lstmkit import LSTMModel, Split, baselines, datasets
from lstmkit import vote as vote_module
from lstmkit.data.split import sequence_parts
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.errors import ArtifactError, BaselineWarning

TINY = {"hidden": 4, "max_epochs": 1, "progress": False}


@pytest.fixture(scope="module")
def articulary_words(shared_data):
    """25 classes, 11 training sequences each: 1-NN gets 0.97, a network of one epoch not."""
    return (datasets.load_uea("ArticularyWordRecognition", "train", data_dir=shared_data),
            datasets.load_uea("ArticularyWordRecognition", "test", data_dir=shared_data))


@pytest.fixture(scope="module")
def basic_motions(shared_data):
    return (datasets.load_uea("BasicMotions", "train", data_dir=shared_data),
            datasets.load_uea("BasicMotions", "test", data_dir=shared_data))


def z_normalised(sequence: np.ndarray) -> np.ndarray:
    """One (steps, channels) sequence, each channel to mean 0 and standard deviation 1."""
    mean, std = sequence.mean(axis=0), sequence.std(axis=0)
    return np.where(std > 0, (sequence - mean) / np.where(std > 0, std, 1), 0.0)


def hand_nearest(train: list[np.ndarray], test: list[np.ndarray]) -> np.ndarray:
    """Index of each test sequence's nearest training sequence: z-normalised, resampled
    linearly (np.interp) to the longest training length, squared distances summed."""
    length = max(len(s) for s in train)

    def features(sequence: np.ndarray) -> np.ndarray:
        z = z_normalised(sequence)
        grid = np.linspace(0, len(z) - 1, length)
        return np.stack([np.interp(grid, np.arange(len(z)), z[:, c])
                         for c in range(z.shape[1])], axis=1).ravel()

    reference = np.stack([features(s) for s in train])
    queries = np.stack([features(s) for s in test])
    distances = ((queries[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1)


def unpadded(X: np.ndarray) -> list[np.ndarray]:
    """A NaN-padded (n, steps, channels) array as its sequences without the padding."""
    return [x[~np.isnan(x).all(axis=1)] for x in X]


@pytest.mark.parametrize("name", ["BasicMotions", "JapaneseVowels"])   # equal, variable lengths
def test_evaluate_reports_1nn_as_a_hand_computation_does(shared_data, name):
    X, y = datasets.load_uea(name, "train", data_dir=shared_data)
    X_test, y_test = datasets.load_uea(name, "test", data_dir=shared_data)
    model = LSTMModel(split=Split.train_only(), **TINY).fit(X, y)       # all of TRAIN: reference
    evaluation = model.evaluate(X_test, y_test)
    nearest = y[hand_nearest(unpadded(X), unpadded(X_test))]
    assert evaluation.metric("y", "accuracy", of="neighbour") == pytest.approx(
        np.mean(nearest == y_test), abs=1e-12)
    assert "1-nearest-neighbour" in evaluation.neighbour
    assert evaluation.to_dict()["targets"]["y"]["accuracy"]["neighbour"] == pytest.approx(
        np.mean(nearest == y_test), abs=1e-12)


def test_1nn_in_small_blocks_finds_the_same_neighbours(basic_motions, monkeypatch):
    (X, y), (X_test, _) = basic_motions
    codes = np.unique(y, return_inverse=True)[1][:, None]
    whole = baselines.NearestNeighbour.fit(list(X), codes).predict(list(X_test))
    monkeypatch.setattr(baselines, "BLOCK_ELEMENTS", 700)     # a few sequences per block
    assert np.array_equal(baselines.NearestNeighbour.fit(list(X), codes).predict(list(X_test)),
                          whole)


def test_forecasts_have_no_neighbour_column_values(etth1):
    from lstmkit import Spec

    spec = Spec(time="date", inputs=["OT"], targets=["OT"], lookback=24, horizon=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BaselineWarning)       # one epoch loses to persistence
        model = LSTMModel(spec, **TINY).fit(etth1.iloc[:2000])
    evaluation = model.evaluate(etth1.iloc[:2000])
    assert evaluation.table.neighbour.isna().all() and evaluation.neighbour == ""


def test_the_default_model_beats_1nn_and_the_majority_class_on_a_small_real_set(basic_motions):
    (X, y), (X_test, y_test) = basic_motions                   # 40 sequences, 4 classes
    with warnings.catch_warnings():
        warnings.simplefilter("error", BaselineWarning)        # no warning: it wins on validation
        model = LSTMModel(progress=False).fit(X, y)
    evaluation = model.evaluate(X_test, y_test)
    accuracy = evaluation.metric("y", "accuracy")
    assert accuracy > evaluation.metric("y", "accuracy", of="neighbour")
    assert accuracy > evaluation.metric("y", "accuracy", of="naive")
    assert model.neighbour_targets_ == ()
    # 6 validation sequences, all right, cannot show the network ahead of 1-NN's
    # leave-one-out accuracy: the answers are the equal blend with the neighbours' vote.
    vote = model.neighbour_vote_["y"]
    assert vote["weight"] == 0.5 and vote["validation"] == 6
    assert vote["network"] >= vote["loo"] > vote_module.lower_bound(vote["network"], 6)
    proba, labels = model.predict_proba(X_test), model.predict(X_test, output="array")
    classes = np.asarray(model.encoding_.target_labels["y"].classes)
    assert np.array_equal(classes[proba.argmax(axis=1)], labels.ravel())


def test_a_network_that_loses_to_1nn_on_validation_warns_and_the_vote_answers(
        articulary_words, tmp_path):
    (X, y), (X_test, y_test) = articulary_words
    with pytest.warns(BaselineWarning, match=r"target 'y': the network does worse than the "
                      r"nearest neighbour .*: accuracy .* on the validation part, 1-NN .* there "
                      r"and .* by leave-one-out over 275 training and validation sequences; the "
                      r"model answers it with the nearest neighbours' vote alone"):
        model = LSTMModel(split=Split(0.5, None), seed=0, **TINY).fit(X, y)
    entry = model.validation_["targets"]["y"]
    assert entry["worse_than_neighbour"] and entry["model"] < entry["neighbour"]
    vote = model.neighbour_vote_["y"]
    assert vote["weight"] == 1.0 and vote["accuracy"] == entry["neighbour"]  # one epoch: 1-NN
    assert vote["network"] == entry["model"] < vote["loo"] and vote["sequences"] == 275
    assert model.neighbour_targets_ == ()
    evaluation = model.evaluate(X_test, y_test)
    assert evaluation.metric("y", "accuracy") == evaluation.metric("y", "accuracy", "neighbour")
    proba, labels = model.predict_proba(X_test), model.predict(X_test, output="array")
    classes = model.encoding_.target_labels["y"].classes
    assert np.allclose(proba.sum(axis=1), 1.0) and proba.max(axis=1).min() < 0.99  # soft
    assert np.array_equal(np.asarray(classes)[proba.argmax(axis=1)], labels.ravel())
    path = model.save(tmp_path / "model")
    again = LSTMModel.load(path)
    assert again.neighbour_vote_ == model.neighbour_vote_
    assert np.array_equal(again.predict(X_test, output="array"), labels)
    assert np.array_equal(again.predict_proba(X_test), proba)
    assert json.loads((path / "config.json").read_text())["neighbour_vote"]["y"] == vote
    onnx_model = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))   # the vote inside
    exported = onnx_model.predict(X_test)
    assert np.array_equal(exported["y"].to_numpy(), labels.ravel())
    np.testing.assert_allclose(exported.filter(like="y_proba_").to_numpy(), proba, atol=1e-5)


def test_a_model_saved_before_the_vote_still_answers_with_the_nearest_label(articulary_words,
                                                                            tmp_path):
    (X, y), (X_test, _) = articulary_words
    with pytest.warns(BaselineWarning):
        model = LSTMModel(split=Split(0.5, None), seed=0, **TINY).fit(X, y)
    path = model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())     # as the version before wrote it
    del config["neighbour_vote"]
    config["neighbour_targets"] = ["y"]
    (path / "config.json").write_text(json.dumps(config))
    old = LSTMModel.load(path)
    assert old.neighbour_targets_ == ("y",) and old.neighbour_vote_ == {}
    nearest = np.asarray(old.encoding_.target_labels["y"].classes)[
        old.neighbours_.predict(unpadded(X_test))[:, 0].astype(int)]
    assert np.array_equal(old.predict(X_test, output="array").ravel(), nearest)
    assert np.allclose(old.predict_proba(X_test).max(axis=1), 1.0)
    exported = OnnxModel(old.export_onnx(tmp_path / "model.onnx")).predict(X_test)
    assert np.array_equal(exported["y"].to_numpy(), nearest)
    np.testing.assert_allclose(exported.filter(like="y_proba_").to_numpy(),
                               old.predict_proba(X_test), atol=1e-5)


def test_a_tampered_neighbours_file_is_refused(articulary_words, tmp_path):
    (X, y), _ = articulary_words
    with pytest.warns(BaselineWarning):
        model = LSTMModel(split=Split(0.5, None), seed=0, **TINY).fit(X, y)
    path = model.save(tmp_path / "model")
    (path / "neighbours.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ArtifactError, match=r"neighbours\.safetensors"):
        LSTMModel.load(path)


def test_a_model_that_keeps_no_sequences_says_why_it_has_no_1nn(basic_motions, tmp_path):
    (X, y), (X_test, y_test) = basic_motions
    model = LSTMModel(split=Split.train_only(), **TINY).fit(X, y)
    again = LSTMModel.load(model.save(tmp_path / "model"))
    evaluation = again.evaluate(X_test, y_test)
    assert np.isnan(evaluation.metric("y", "accuracy", of="neighbour"))
    assert evaluation.neighbour.startswith("not available")
    assert not (tmp_path / "model" / "neighbours.safetensors").exists()


def test_the_default_split_keeps_each_class_share_in_every_part(basic_motions):
    (X, y), _ = basic_motions                                  # 4 classes of 10 sequences
    model = LSTMModel(seed=3, **TINY).fit(X, y)
    for part in ("val", "test"):                               # 6 sequences each
        counts = model.evaluate(X, y, part=part).confusion["y"].sum(axis=1)
        assert counts.max() - counts.min() <= 1, (part, counts.tolist())


def test_the_card_says_which_targets_blend_in_the_neighbours_vote(articulary_words, tmp_path):
    (X, y), _ = articulary_words
    with pytest.warns(BaselineWarning):
        model = LSTMModel(split=Split(0.5, None), seed=0, **TINY).fit(X, y)
    card = (model.save(tmp_path / "model") / "README.md").read_text()
    assert "**Blended with the nearest neighbours' vote: y (weight 1).**" in card


def test_the_vote_references_every_sequence_and_scores_a_part_without_its_own(
        articulary_words, tmp_path):
    (X, y), (X_test, _) = articulary_words                     # 275 sequences, 70/15/15
    with pytest.warns(BaselineWarning):                          # one epoch: the vote alone
        model = LSTMModel(seed=0, **TINY).fit(X, y)
    assert model.neighbour_vote_["y"]["weight"] == 1.0
    parts = sequence_parts(len(y), Split(stratify=True), 0, y)
    assert np.array_equal(np.bincount(model.neighbours_.parts), np.bincount(parts))
    assert model.neighbour_vote_["y"]["sequences"] == (parts < 2).sum()  # chosen without test
    test, kept = parts == 2, parts < 2
    # Every test sequence is a reference now, so predict finds it itself ...
    assert np.array_equal(model.predict(X[test], output="array").ravel(), y[test])
    # ... and evaluate(part="test") scores it against the training and validation ones only.
    hand = np.mean(y[kept][hand_nearest(unpadded(X[kept]), unpadded(X[test]))] == y[test])
    assert hand < 1.0                                           # so leaving out shows
    evaluation = model.evaluate(X, y, part="test")
    assert evaluation.metric("y", "accuracy") == pytest.approx(hand, abs=1e-12)
    assert evaluation.metric("y", "accuracy", of="neighbour") == pytest.approx(hand, abs=1e-12)
    again = LSTMModel.load(model.save(tmp_path / "model"))
    assert np.array_equal(again.neighbours_.parts, model.neighbours_.parts)
    assert again.evaluate(X, y, part="test").metric("y", "accuracy") == pytest.approx(hand)
    labels = model.predict(X_test, output="array").ravel()
    assert np.array_equal(again.predict(X_test, output="array").ravel(), labels)
    exported = OnnxModel(again.export_onnx(tmp_path / "model.onnx")).predict(X_test)
    assert np.array_equal(exported["y"].to_numpy(), labels)


def test_a_neighbours_file_saved_without_parts_loads_and_predicts_the_same(articulary_words,
                                                                           tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    (X, y), (X_test, _) = articulary_words
    with pytest.warns(BaselineWarning):
        model = LSTMModel(seed=0, **TINY).fit(X, y)
    path = model.save(tmp_path / "model")
    file = path / "neighbours.safetensors"
    tensors = load_file(str(file))
    with safe_open(str(file), "pt") as handle:
        metadata = handle.metadata()
    del tensors["parts"]                                       # as the version before saved it
    save_file(tensors, str(file), metadata=metadata)
    config = json.loads((path / "config.json").read_text())
    config["neighbours_sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    (path / "config.json").write_text(json.dumps(config))
    old = LSTMModel.load(path)
    assert old.neighbours_.parts is None
    assert np.array_equal(old.predict_proba(X_test), model.predict_proba(X_test))
    # parts not known: nothing to leave out, so the test part finds itself, as before
    assert old.evaluate(X, y, part="test").metric("y", "accuracy") == 1.0
