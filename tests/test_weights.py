"""Weights: a weight per window (``Spec(weight=column)``) and per class
(``Target(class_weight=...)``), in training, validation and the metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import LSTMModel, Spec, Target
from lstmkit.cli.command import main
from lstmkit.errors import ArtifactError, ConfigError, DataError
from lstmkit.metrics import (
    confusion_matrix,
    probability_metrics,
    quantile_metrics,
    regression_metrics,
)

FAST = dict(hidden=8, max_epochs=4, batch_size=32, progress=False, calibrate=False)


def _series(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A learnable series: ``y`` at t + 1 is ``x`` at t, plus a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = np.concatenate([[0.0], x[:-1]]) + 0.05 * rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": y, "w": 1.0})


def _forecast_spec(**changes) -> Spec:
    return Spec(inputs=["x"], targets=[Target("y", scaler="none")], lookback=4,
                past_targets=False, **changes)


def test_windows_of_weight_zero_are_left_out_of_the_fit():
    clean = _series()
    corrupt = np.zeros(len(clean), bool)
    corrupt[100:200] = True                         # within the training part (rows < 420)
    broken = clean.assign(y=np.where(corrupt, 50.0, clean["y"]))
    # a window's weight is its origin's, the row before the (horizon 1) row it predicts
    weights = np.where(np.roll(corrupt, -1), 0.0, 1.0)
    spec, fast = _forecast_spec(weight="w"), {**FAST, "lr": 0.03}
    ignored = LSTMModel(spec, **fast).fit(broken.assign(w=weights))
    dropped = LSTMModel(spec, **fast).fit(clean.assign(w=weights))
    trusted = LSTMModel(_forecast_spec(), **fast).fit(broken)
    # the corrupted targets never reach the loss: the same fit as on the clean table
    np.testing.assert_allclose(ignored.predict(clean, origins="all")["y"],
                               dropped.predict(clean, origins="all")["y"], atol=1e-5)
    test_mae = [m.evaluate(clean, part="test").metric("y", "MAE")
                for m in (ignored, trusted)]
    assert test_mae[0] < 0.5 * test_mae[1]          # unweighted, the corruption costs


def _events(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """A rare binary event (about 10 %) that x announces a step ahead, weakly."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    event = np.concatenate([[0], (x[:-1] + 0.8 * rng.normal(size=n - 1) > 1.6)])
    return pd.DataFrame({"x": x, "event": np.where(event, "yes", "no")})


def _recall(model: LSTMModel, data: pd.DataFrame) -> float:
    confusion = model.evaluate(data, part="train").confusion["event"]
    return confusion.loc["yes", "yes"] / confusion.loc["yes"].sum()


def test_balanced_class_weights_raise_the_recall_of_the_rare_class():
    data = _events()
    spec = Spec(inputs=["x"], targets=[Target("event", kind="binary")], lookback=4,
                past_targets=False)
    weighted = Spec(inputs=["x"], targets=[Target("event", kind="binary",
                                                  class_weight="balanced")],
                    lookback=4, past_targets=False)
    fast = {**FAST, "lr": 0.03, "max_epochs": 5}
    plain = LSTMModel(spec, **fast).fit(data)
    balanced = LSTMModel(weighted, **fast).fit(data)
    train = data.iloc[: int(0.7 * len(data))]["event"]
    n, positives = len(train) - 4, (train.iloc[4:] == "yes").sum()   # the training windows'
    expected = [n / (2 * (n - positives)), n / (2 * positives)]      # labels, no then yes
    np.testing.assert_allclose(balanced.pipeline_.class_weights["event"], expected, rtol=1e-6)
    assert _recall(balanced, data) > _recall(plain, data) + 0.4   # measured: 0.80 against 0


def test_a_label_weight_given_by_hand_is_saved_and_loads(tmp_path):
    data = _events(600)
    spec = Spec(inputs=["x"], targets=[Target("event", kind="binary",
                                              class_weight={"yes": 4})],
                lookback=4, past_targets=False)
    model = LSTMModel(spec, **FAST).fit(data)
    assert model.pipeline_.class_weights == {"event": [1.0, 4.0]}     # "no" unlisted: 1
    loaded = LSTMModel.load(model.save(tmp_path / "m"))
    assert loaded.pipeline_.class_weights == {"event": [1.0, 4.0]}
    assert loaded.spec_ == model.spec_ and loaded.spec_.targets[0].class_weight == {"yes": 4.0}
    pd.testing.assert_frame_equal(loaded.predict(data, origins="all"),
                                  model.predict(data, origins="all"))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["class_weights"] = {"event": [1.0, -4.0]}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="class_weights of 'event'"):
        LSTMModel.load(tmp_path / "m")


def test_class_weights_work_for_every_task_shape():
    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(60), 6)
    labels = np.repeat(np.where(rng.uniform(size=60) < 0.2, "b", "a"), 6)
    table = pd.DataFrame({"id": ids, "x": rng.normal(size=len(ids)) + (labels == "b"),
                          "label": labels, "w": np.repeat(rng.uniform(0.5, 2, 60), 6)})
    for task, extra in (("sequence", {}), ("seq2seq", {"horizon": 2})):
        spec = Spec(inputs=["x"], targets=[Target("label", kind="classification",
                                                  class_weight="balanced")],
                    task=task, sequence="id", weight="w", **extra)
        model = LSTMModel(spec, **FAST).fit(table)
        weights = model.pipeline_.class_weights["label"]
        assert weights[1] > 1 > weights[0]                          # "b" is the rare one
        assert np.isfinite(model.evaluate(table, weighted=True).metric("label", "accuracy"))


def test_weighted_metrics_are_the_weighted_means_of_the_windows():
    data = _series(300).assign(w=np.random.default_rng(3).uniform(0, 3, 300))
    model = LSTMModel(_forecast_spec(weight="w"), **{**FAST, "max_epochs": 1}).fit(data)
    predicted = model.predict(data, origins="all")
    predicted = predicted[predicted["origin"] < len(data) - 1]        # those with a truth
    origin = predicted["origin"].to_numpy()
    error = predicted["y"].to_numpy() - data["y"].to_numpy()[origin + 1]
    w = data["w"].to_numpy()[origin]
    evaluation = model.evaluate(data, weighted=True)
    assert evaluation.metric("y", "MAE") == pytest.approx(np.sum(w * np.abs(error)) / w.sum())
    assert evaluation.metric("y", "RMSE") == pytest.approx(np.sqrt(np.sum(w * error**2) / w.sum()))
    assert model.evaluate(data).metric("y", "MAE") == pytest.approx(np.abs(error).mean())


def test_a_whole_number_weight_counts_as_that_many_copies():
    rng = np.random.default_rng(0)
    true, pred = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    w = rng.integers(0, 4, size=(40, 2))
    copies = np.repeat(np.arange(true.size), w.reshape(-1))
    assert regression_metrics(true, pred, w) == pytest.approx(
        regression_metrics(true.reshape(-1)[copies], pred.reshape(-1)[copies]))
    levels = (0.1, 0.5, 0.9)
    q = np.sort(rng.normal(size=(40, 2, 3)), axis=-1)
    assert quantile_metrics(true, q, levels, 1.0, w) == pytest.approx(
        quantile_metrics(true.reshape(-1)[copies], q.reshape(-1, 3)[copies], levels, 1.0))
    codes = rng.integers(0, 3, size=(40, 2)).astype(float)
    proba = rng.dirichlet(np.ones(3), size=(40, 2))
    np.testing.assert_array_equal(
        confusion_matrix(codes, proba.argmax(-1), 3, w),
        confusion_matrix(codes.reshape(-1)[copies], proba.argmax(-1).reshape(-1)[copies], 3))
    assert probability_metrics(codes, proba, w) == pytest.approx(
        probability_metrics(codes.reshape(-1)[copies], proba.reshape(-1, 3)[copies]))


def test_the_weight_column_is_no_input_and_prediction_needs_none():
    data = _series(300)
    model = LSTMModel(_forecast_spec(weight="w"), **{**FAST, "max_epochs": 1}).fit(data)
    assert model.spec_.input_names == ["x"] and "w" not in model.schema_
    assert len(model.predict(data.drop(columns="w"))) == 1
    with pytest.raises(DataError, match="weight column 'w' is missing"):
        model.evaluate(data.drop(columns="w"), weighted=True)
    plain = LSTMModel(_forecast_spec(), **{**FAST, "max_epochs": 1}).fit(data)
    with pytest.raises(ConfigError, match="spec has none"):
        plain.evaluate(data, weighted=True)


@pytest.mark.parametrize(("weights", "match"), [
    (lambda n: np.where(np.arange(n) == 7, -1.0, 1.0), r"weight column 'w' holds -1.0 at row 7"),
    (lambda n: np.where(np.arange(n) == 9, np.nan, 1.0), r"holds nan at row 9.*numbers >= 0"),
    (lambda n: np.where(np.arange(n) < 250, 0.0, 1.0),
     r"every window of the training part has weight 0 in weight column 'w'"),
    (lambda n: np.array(["heavy"] * n), r"'w'"),
])
def test_bad_weights_are_refused_naming_the_column(weights, match):
    data = _series(300)
    data["w"] = weights(len(data))
    with pytest.raises(DataError, match=match):
        LSTMModel(_forecast_spec(weight="w"), **FAST).fit(data)


def test_a_weight_that_changes_within_a_sequence_is_refused_naming_it():
    table = pd.DataFrame({"id": np.repeat([10, 11, 12, 13], 3), "x": np.arange(12.0),
                          "y": np.repeat([0.0, 1.0, 0.0, 1.0], 3),
                          "w": [1, 1, 1, 2, 2, 3, 1, 1, 1, 1, 1, 1]})
    spec = Spec(inputs=["x"], targets=["y"], task="sequence", sequence="id", weight="w")
    with pytest.raises(DataError, match=r"changes within sequence 11 .*same value"):
        LSTMModel(spec, **FAST).fit(table)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Target("y", class_weight="balanced"),
     r"class_weight applies to classification and binary targets, but 'y' is regression"),
    (lambda: Target("y", kind="binary", class_weight="even"), r"'balanced' or a mapping"),
    (lambda: Target("y", kind="binary", class_weight={"a": -1}),
     r"class_weight of label 'a' of target 'y' must be a number >= 0"),
    (lambda: Spec(inputs=["x"], targets=["y"], lookback=2, time="t", weight="t"),
     r"spec weight 't' is an id/time column"),
    (lambda: Spec(inputs=["x"], targets=["y"], lookback=2, weight=3), r"spec weight must be"),
])
def test_bad_declarations_are_config_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_a_class_weight_of_an_unknown_label_names_the_known_ones():
    spec = Spec(inputs=["x"], targets=[Target("event", kind="binary",
                                              class_weight={"maybe": 2})],
                lookback=4, past_targets=False)
    with pytest.raises(ConfigError, match=r"label 'maybe'.*training labels \['no', 'yes'\]"):
        LSTMModel(spec, **FAST).fit(_events(300))


def test_weights_round_trip_through_yaml_and_the_command_line(tmp_path, monkeypatch, capsys):
    data = _events(600).assign(w=np.random.default_rng(2).uniform(0.5, 2, 600))
    data.to_csv(tmp_path / "events.csv", index=False)
    spec = {"inputs": ["x"], "lookback": 4, "weight": "w",
            "targets": [{"name": "event", "kind": "binary",
                         "class_weight": {"yes": 3, "no": 1}}]}
    config = {"data": {"path": "events.csv"}, "spec": spec, "model": {"hidden": 8},
              "training": {"max_epochs": 1, "progress": False}, "run_dir": "run"}
    (tmp_path / "events.yaml").write_text(yaml.safe_dump(config))
    assert Spec.from_dict(spec).to_dict()["weight"] == "w"
    assert Spec.from_dict(Spec.from_dict(spec).to_dict()) == Spec.from_dict(spec)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "events.yaml"]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["class_weights"] == {"event": [1.0, 3.0]} and saved["spec"]["weight"] == "w"
    resolved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert resolved["spec"]["weight"] == "w"
    capsys.readouterr()
    assert main(["evaluate", "run", "events.csv", "--weighted", "--json", "m.json"]) == 0
    assert "weighted" in capsys.readouterr().out
    weighted = json.loads((tmp_path / "m.json").read_text())["targets"]["event"]["accuracy"]
    model = LSTMModel.load(tmp_path / "run")
    assert weighted["model"] == pytest.approx(
        model.evaluate(data, weighted=True).metric("event", "accuracy"))


def test_a_spec_without_weights_writes_the_dict_it_wrote_before():
    data = Spec(inputs=["x"], targets=["y", Target("c", kind="binary")], lookback=4).to_dict()
    assert "weight" not in data
    assert all("class_weight" not in target for target in data["targets"])
