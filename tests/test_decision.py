"""Labels chosen for macro-F1 (``Target(decision="macro_F1")``, ``lstmkit.decision``):
label offsets fitted on the validation part, applied alike by predict, evaluate, a saved
model and the ONNX file; models without them pick the most probable label as before.

The models are small forecasts of Seattle's daily weather type (a real table: sun and rain
most days, fog, drizzle and snow few) and of whether the next day is wet.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest

from lstmkit import ArtifactError, ConfigError, LSTMModel, Spec, Target
from lstmkit.decision import TAUS, choose, labels
from lstmkit.deploy.onnx_model import METADATA_KEY, OnnxModel
from lstmkit.deploy.serve import load_predictor

INPUTS = ["precipitation", "temp_max", "temp_min", "wind"]
SMALL = {"hidden": 16, "max_epochs": 6, "lr": 0.01, "progress": False}
LABELS = ["drizzle", "fog", "rain", "snow", "sun"]


def weather_spec(decision: str | None = "macro_F1", class_weight: str | None = "balanced"
                 ) -> Spec:
    return Spec(time="date", inputs=INPUTS, lookback=14,
                targets=[Target("weather", kind="classification", class_weight=class_weight,
                                decision=decision),
                         Target("wet", kind="binary", class_weight=class_weight,
                                decision=decision)])


@pytest.fixture(scope="module")
def weather(seattle) -> pd.DataFrame:
    return seattle.assign(wet=np.where(seattle.precipitation > 0, "wet", "dry"))


@pytest.fixture(scope="module")
def decided(weather) -> LSTMModel:
    return LSTMModel(weather_spec(), **SMALL).fit(weather)


def argmax_labels(table: pd.DataFrame, target: str, classes: list[str]) -> np.ndarray:
    proba = np.stack([table[f"{target}_proba_{c}"].to_numpy() for c in classes], axis=-1)
    return np.asarray(classes)[proba.argmax(-1)]


def test_the_offsets_chosen_on_validation_raise_its_macro_f1(decided, weather):
    chosen = decided.pipeline_.decisions["weather"]
    assert chosen["part"] == "validation" and chosen["tau"] in TAUS
    assert chosen["macro_F1_after"] > chosen["macro_F1_before"]       # else tau stays None
    with_offsets = decided.evaluate(weather, part="val")
    decisions, decided.pipeline_.decisions = decided.pipeline_.decisions, {}
    try:
        plain = decided.evaluate(weather, part="val")
    finally:
        decided.pipeline_.decisions = decisions
    # evaluate scores the labels the offsets choose: the validation figures of the search
    assert with_offsets.metric("weather", "macro_F1") == pytest.approx(chosen["macro_F1_after"])
    assert plain.metric("weather", "macro_F1") == pytest.approx(chosen["macro_F1_before"])
    # only the labels move: the probabilities' metrics stay
    for metric in ("Brier", "ECE"):
        assert with_offsets.metric("weather", metric) == plain.metric("weather", metric)


def test_predict_chooses_the_labels_the_offsets_choose(decided, weather):
    table = decided.predict(weather, origins="all")
    offsets = decided.pipeline_.decisions["weather"]["offsets"]
    proba = np.stack([table[f"weather_proba_{c}"].to_numpy() for c in LABELS], axis=-1)
    want = np.asarray(LABELS)[(np.log(proba) + offsets).argmax(-1)]
    assert (table.weather.to_numpy() == want).all()
    moved = table.weather.to_numpy() != argmax_labels(table, "weather", LABELS)
    assert moved.any()                                 # some labels are not the most probable
    array = decided.predict(weather, origins="all", output="array")
    assert (array[..., 0].reshape(-1) == want).all()         # (windows, steps, targets)


def test_the_onnx_file_and_a_saved_model_choose_the_same_labels(decided, weather, tmp_path):
    want = decided.predict(weather, origins="all")
    graph = OnnxModel(decided.export_onnx(tmp_path / "weather.onnx"))
    outputs = {o["target"]: o for o in graph.metadata["outputs"]}
    assert outputs["weather"]["label_offsets"] == decided.pipeline_.decisions["weather"]["offsets"]
    got = graph.predict(weather, origins="all")
    for column in ("weather", "wet"):
        assert (got[column].to_numpy() == want[column].to_numpy()).all()
    np.testing.assert_allclose(got.weather_proba_fog, want.weather_proba_fog, atol=1e-5)

    decided.save(tmp_path / "model")
    loaded = LSTMModel.load(tmp_path / "model")
    assert loaded.pipeline_.decisions == decided.pipeline_.decisions
    pd.testing.assert_frame_equal(loaded.predict(weather, origins="all"), want)
    assert "## Labels chosen for macro-F1" in (tmp_path / "model" / "README.md").read_text()
    for backend in ("torch", "onnx"):                          # what the server answers
        served = load_predictor(tmp_path / "model", backend).predict(weather, "all")
        assert (served.weather.to_numpy() == want.weather.to_numpy()).all()

    proto = onnx.load(str(tmp_path / "weather.onnx"))        # offsets of the wrong length
    entry = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
    metadata = json.loads(entry.value)
    next(o for o in metadata["outputs"] if o["target"] == "weather")["label_offsets"] = [0.0]
    entry.value = json.dumps(metadata)
    onnx.save(proto, str(tmp_path / "damaged.onnx"))
    with pytest.raises(ArtifactError, match="'offsets', one finite number per label"):
        OnnxModel(tmp_path / "damaged.onnx")


def test_a_model_saved_without_offsets_predicts_the_most_probable_label(decided, weather,
                                                                        tmp_path):
    decided.save(tmp_path / "model")
    config_path = tmp_path / "model" / "config.json"
    config = json.loads(config_path.read_text())
    del config["decisions"]                          # as files saved before decisions were
    config["spec"]["targets"] = [{k: v for k, v in t.items() if k != "decision"}
                                 for t in config["spec"]["targets"]]
    config_path.write_text(json.dumps(config))
    loaded = LSTMModel.load(tmp_path / "model")
    assert loaded.pipeline_.decisions == {}
    table = loaded.predict(weather, origins="all")
    assert (table.weather.to_numpy() == argmax_labels(table, "weather", LABELS)).all()
    assert (table.wet.to_numpy() == np.where(table.wet_proba_wet > 0.5, "wet", "dry")).all()


def test_a_spec_without_decision_writes_no_offsets(weather):
    model = LSTMModel(weather_spec(decision=None), hidden=4, max_epochs=1,
                      progress=False).fit(weather)
    assert model.pipeline_.decisions == {}
    assert "decisions" not in model.pipeline_.to_dict()
    assert all("decision" not in t for t in model.spec_.to_dict()["targets"])


def test_damaged_offsets_in_a_saved_file_are_named(decided, tmp_path):
    decided.save(tmp_path / "model")
    config_path = tmp_path / "model" / "config.json"
    config = json.loads(config_path.read_text())
    config["decisions"]["weather"]["offsets"] = [0.0, 1.0]
    config_path.write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"decisions of target 'weather' must hold 'offsets'"):
        LSTMModel.load(tmp_path / "model")


@pytest.mark.parametrize("make, match", [
    (lambda: Target("y", decision="macro_F1"),
     r"decision applies to classification and binary targets, but 'y' is regression"),
    (lambda: Target("y", kind="binary", decision="f1"),
     r"decision of target 'y' must be one of 'macro_F1', got 'f1'"),
])
def test_bad_decisions_are_config_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_the_search_keeps_the_argmax_unless_a_tau_does_better():
    proba = np.array([[0.7, 0.3], [0.6, 0.4]])
    # tau >= 0.3 makes the rare label's 0.4 win: both right, macro-F1 1 instead of 1/3
    found = choose(proba, np.array([0, 1]), np.array([0.8, 0.2]), np.ones(2))
    assert found["tau"] == 0.3 and found["macro_F1_after"] == 1.0
    assert found["macro_F1_before"] == pytest.approx(1 / 3)
    assert (labels(proba, found["offsets"]) == [0, 1]).all()
    kept = choose(proba, np.array([0, 0]), np.array([0.8, 0.2]), np.ones(2))
    assert kept["tau"] is None and kept["offsets"] == [0.0, 0.0]
    # balanced weights: tau 1 is the weighted network's own argmax, tau 0 undoes the weights
    weights = 1 / (2 * np.array([0.8, 0.2]))
    inflated = np.array([[0.45, 0.55], [0.6, 0.4]])       # the rare label's share inflated
    undone = choose(inflated, np.array([0, 0]), np.array([0.8, 0.2]), weights)
    assert undone["tau"] == 0.0 and undone["macro_F1_after"] == 1.0
    assert (labels(np.array([[0.3, 0.7]]), undone["offsets"]) == [0]).all()


@pytest.mark.parametrize("task, extra", [("sequence", {}), ("seq2seq", {"horizon": 2})])
def test_sequence_tasks_choose_and_apply_offsets_too(task, extra):
    """Sequence and seq2seq windows (padded steps left out): the record is fitted and
    predict's labels follow its offsets."""
    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(80), 6)
    rare = np.repeat(rng.uniform(size=80) < 0.2, 6)
    table = pd.DataFrame({"id": ids, "x": rng.normal(size=len(ids)) + 0.7 * rare,
                          "label": np.where(rare, "b", "a")})
    spec = Spec(inputs=["x"], task=task, sequence="id", **extra,
                targets=[Target("label", kind="classification", decision="macro_F1")])
    model = LSTMModel(spec, hidden=8, max_epochs=3, progress=False).fit(table)
    chosen = model.pipeline_.decisions["label"]
    assert chosen["windows"] > 0 and chosen["macro_F1_after"] >= chosen["macro_F1_before"]
    table_out = model.predict(table)
    offsets = chosen["offsets"]
    proba = np.stack([table_out[f"label_proba_{c}"].to_numpy() for c in "ab"], axis=-1)
    assert (table_out.label.to_numpy() == np.array(list("ab"))[
        (np.log(proba) + offsets).argmax(-1)]).all()
