"""Calibrated class probabilities (issue 30 point 4): temperature scaling fitted on the
validation part, ECE and the Brier score in ``evaluate``, the reliability diagram.

The models are tiny forecasts of Seattle's daily weather type (a real table); the
over-confident one trains long on few rows, so its validation probabilities are too sure.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from lstmkit import ArtifactError, LSTMModel, Spec, Split, Target, datasets
from lstmkit.calibration import fit_temperature
from lstmkit.cli.command import main
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.kinds import KINDS
from lstmkit.metrics import calibration_error, probability_metrics

INPUTS = ["precipitation", "temp_max", "temp_min", "wind"]
TINY = {"hidden": 4, "max_epochs": 2, "progress": False}


def weather_spec(kind: str = "classification", weight: float = 1.0) -> Spec:
    target = Target("weather", kind=kind) if kind == "classification" else Target("wet", kind=kind)
    return Spec(time="date", inputs=INPUTS, targets=[target, Target("temp_max", weight=weight)],
                lookback=7)


@pytest.fixture(scope="module")
def few(seattle) -> pd.DataFrame:
    """Few rows: ~200 training windows, learned by heart by a model that trains long."""
    return seattle.iloc[:320].assign(wet=np.where(seattle.precipitation.iloc[:320] > 0,
                                                  "wet", "dry"))


@pytest.fixture(scope="module")
def confident(few) -> tuple[LSTMModel, LSTMModel]:
    """The same over-confident network, calibrated and not (same seed and data): a high
    learning rate, and early stopping led by a heavy regression target, so that the epoch
    kept is one where the weather type is already learned by heart."""
    params = {"hidden": 32, "max_epochs": 60, "patience": 60, "lr": 0.03, "progress": False}
    return tuple(LSTMModel(weather_spec(weight=50), calibrate=calibrate, **params).fit(few)
                 for calibrate in (True, False))


def validation_nll(model: LSTMModel, data: pd.DataFrame) -> float:
    """The mean negative log-probability ``predict`` gives the true weather of the days the
    split holds out for validation (the rows from 70 % to 85 % of the table)."""
    table = model.predict(data, origins="all")
    dates = pd.to_datetime(data.date)
    truth = pd.Series(data.weather.to_numpy(), index=dates)
    day = pd.to_datetime(table.origin) + pd.Timedelta(days=1)
    val = (day >= dates.iloc[int(0.7 * len(data))]) & (day < dates.iloc[int(0.85 * len(data))])
    labels = truth[day[val]].to_numpy()
    proba = np.array([table.loc[val.to_numpy(), f"weather_proba_{label}"].to_numpy()[i]
                      for i, label in enumerate(labels)])
    return float(-np.log(proba).mean())


def test_scaling_lowers_an_over_confident_models_validation_nll(confident, few):
    calibrated, raw = confident
    entry = calibrated.calibration_["targets"]["weather"]
    assert entry["temperature"] > 1                       # over-confident: softened
    assert entry["nll_after"] < entry["nll_before"]
    assert validation_nll(calibrated, few) < validation_nll(raw, few)
    got, want = calibrated.predict(few, origins="all"), raw.predict(few, origins="all")
    assert got.weather.equals(want.weather)                # labels stay
    assert not np.allclose(got.filter(like="proba"), want.filter(like="proba"))


def test_calibrate_false_gives_the_networks_own_probabilities(confident, few):
    raw = confident[1]
    assert raw.calibration_["part"] is None and raw.calibration_["targets"] == {}
    assert "calibrate=False" in raw.calibration_["note"]
    outputs, _ = raw.pipeline_.outputs(_windows(raw, few))
    logits = outputs[..., : len(raw.encoding_.target_labels["weather"])]
    z = np.exp(logits.astype(np.float64) - logits.max(-1, keepdims=True))
    proba = raw.predict_proba(few, origins="all")
    np.testing.assert_array_equal(proba, (z / z.sum(-1, keepdims=True)).reshape(proba.shape))


def test_the_temperature_is_saved_and_loaded(confident, few, tmp_path):
    model = confident[0]
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    assert loaded.calibration_ == model.calibration_
    assert loaded.pipeline_.temperatures[0] == model.calibration_["targets"]["weather"][
        "temperature"] > 0
    assert loaded.predict(few, origins="all").equals(model.predict(few, origins="all"))
    card = (tmp_path / "model" / "README.md").read_text()
    assert "## Calibration" in card and "ECE before" in card


def test_a_model_saved_before_calibration_loads_with_temperature_1(confident, few, tmp_path):
    calibrated, raw = confident
    path = calibrated.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    del config["calibration"]
    (path / "config.json").write_text(json.dumps(config))
    loaded = LSTMModel.load(path)
    assert loaded.calibration_ is None and loaded.pipeline_.temperatures == [1.0, 1.0]
    assert loaded.predict(few, origins="all").equals(raw.predict(few, origins="all"))


def test_a_temperature_that_is_not_positive_is_refused_on_load(confident, tmp_path):
    path = confident[0].save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["calibration"]["targets"]["weather"]["temperature"] = -1.0
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="temperature above 0"):
        LSTMModel.load(path)


def test_onnx_probabilities_equal_predicts_after_scaling(confident, few, tmp_path):
    model = confident[0]
    assert model.pipeline_.temperatures[0] != 1
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    got, want = onnx.predict(few, origins="all"), model.predict(few, origins="all")
    assert got.weather.equals(want.weather)
    for column in want.filter(like="proba").columns:
        np.testing.assert_allclose(got[column], want[column], rtol=1e-5, atol=1e-5)


def test_without_a_validation_part_there_is_no_scaling_and_the_record_says_so(few):
    model = LSTMModel(weather_spec(), split=Split.train_only(), **TINY).fit(few)
    assert model.calibration_["targets"] == {} and model.pipeline_.temperatures == [1.0, 1.0]
    assert "no validation part" in model.calibration_["note"]


def test_binary_targets_are_scaled_and_their_labels_stay(few):
    calibrated = LSTMModel(weather_spec("binary"), **TINY).fit(few)
    raw = LSTMModel(weather_spec("binary"), calibrate=False, **TINY).fit(few)
    assert calibrated.calibration_["targets"]["wet"]["temperature"] > 0
    got, want = calibrated.predict(few, origins="all"), raw.predict(few, origins="all")
    assert got.wet.equals(want.wet)
    assert ((got.wet_proba_wet > 0.5) == (want.wet_proba_wet > 0.5)).all()


def test_ece_and_brier_equal_a_hand_computation():
    truth = np.array([0, 1, 2, 2])
    proba = np.array([[0.9, 0.05, 0.05],     # bin 14 (0.9): right
                      [0.5, 0.3, 0.2],       # bin 7 (0.5): wrong
                      [0.1, 0.2, 0.7],       # bin 10 (0.7): right
                      [0.2, 0.25, 0.55]])    # bin 8 (0.55): right
    # |1 - 0.9| + |0 - 0.5| + |1 - 0.7| + |1 - 0.55| over 4 predictions
    assert calibration_error(truth, proba) == pytest.approx((0.1 + 0.5 + 0.3 + 0.45) / 4)
    brier = ((0.01 + 0.0025 + 0.0025) + (0.25 + 0.49 + 0.04) + (0.01 + 0.04 + 0.09)
             + (0.04 + 0.0625 + 0.2025)) / 4
    assert probability_metrics(truth, proba)["Brier"] == pytest.approx(brier)
    assert probability_metrics(truth, proba)["Brier"] == pytest.approx(
        brier_score_loss(truth, proba, labels=[0, 1, 2]))


def test_binary_brier_is_scikit_learns():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    positive = rng.uniform(size=200)
    proba = np.stack([1 - positive, positive], axis=-1)
    assert probability_metrics(truth, proba)["Brier"] == pytest.approx(
        brier_score_loss(truth, positive))


def test_evaluate_reports_ece_and_brier_for_the_model_and_the_naive_baseline(confident, few):
    evaluation = confident[0].evaluate(few, part="test")
    for metric in ("ECE", "Brier"):
        for of in ("model", "naive"):
            assert np.isfinite(evaluation.metric("weather", metric, of=of))
    assert 0 <= evaluation.metric("weather", "ECE") <= 1
    assert set(evaluation.to_dict()["targets"]["weather"]) >= {"ECE", "Brier"}
    bins = evaluation.reliability["weather"]
    assert bins["count"].sum() == evaluation.confusion["weather"].to_numpy().sum()


def test_lstmkit_fit_writes_the_reliability_plot(few, tmp_path):
    few.to_csv(tmp_path / "weather.csv", index=False)
    config = {"data": {"path": "weather.csv"},
              "spec": {"time": "date", "inputs": INPUTS, "lookback": 7,
                       "targets": [{"name": "weather", "kind": "classification"}]},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}, "run_dir": "run"}
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    assert main(["fit", str(tmp_path / "config.yaml"), "--no-progress"]) == 0
    plot = tmp_path / "run" / "reliability.png"
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "run" / "confusion.png").is_file()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"ECE", "Brier"} <= set(metrics["targets"]["weather"])


def _windows(model: LSTMModel, data: pd.DataFrame):
    from lstmkit.data import prepare

    pipeline = model.pipeline_
    groups = pipeline._groups(data, None, need_targets=False)
    encoded = prepare.encode(groups, pipeline.spec, pipeline.encoding, with_targets=False)
    return prepare.predict_windows(encoded, pipeline.spec, "all")


def test_a_temperature_the_validation_labels_do_not_determine_stays_1():
    """Every label right with a wide margin: the NLL falls all the way to T -> 0."""
    logits = np.array([[6.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 7.0]])
    entry = fit_temperature(KINDS["classification"], logits, np.array([0, 1, 2]))
    assert entry["temperature"] == 1.0 and "do not determine T" in entry["note"]
    assert entry["nll_after"] == entry["nll_before"]


def test_a_network_worse_than_uniform_probabilities_gets_the_largest_temperature():
    logits = np.array([[3.0, 0.0], [0.0, 3.0], [3.0, 0.0], [0.0, 3.0]])
    entry = fit_temperature(KINDS["classification"], logits, np.array([1, 0, 0, 1]))
    assert entry["temperature"] == pytest.approx(20, rel=1e-2) and "uniform" in entry["note"]
    assert entry["nll_after"] < entry["nll_before"]


def test_a_confidently_wrong_binary_target_is_softened():
    logits = np.array([[4.0], [-4.0], [3.0], [-3.5]])
    entry = fit_temperature(KINDS["binary"], logits, np.array([1, 0, 0, 0]))
    assert entry["temperature"] > 1 and entry["nll_after"] < entry["nll_before"]
    assert "note" not in entry


def test_the_naive_baseline_gives_the_training_class_frequencies(shared_data, tmp_path):
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    X_test, y_test = datasets.load_uea("BasicMotions", "test", data_dir=shared_data)
    model = LSTMModel(hidden=4, max_epochs=1, progress=False).fit(X, y)
    shares = model.pipeline_.class_frequencies[model.spec_.target_names[0]]
    classes = list(model.encoding_.target_labels[model.spec_.target_names[0]].classes)
    assert sum(shares) == pytest.approx(1) and len(shares) == len(classes) == 4
    codes = np.array([classes.index(label) for label in y_test])
    want = probability_metrics(codes, np.tile(shares, (len(codes), 1)))
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    for fitted in (model, loaded):
        evaluation = fitted.evaluate(X_test, y_test)
        target = fitted.spec_.target_names[0]
        for metric in ("ECE", "Brier"):
            assert evaluation.metric(target, metric, of="naive") == pytest.approx(want[metric])
