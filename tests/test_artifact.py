"""Model directories: plain JSON + safetensors, bit-identical after loading, strict on input."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

import lstmkit
from lstmkit import ArtifactError, Feature, LSTMModel, SchemaError, Spec, Target, datasets


@pytest.fixture(scope="module")
def weather_model(seattle):
    spec = Spec(time="date", lookback=14, horizon=3,
                inputs=["precipitation", "temp_max", "wind",
                        Feature("weather", kind="categorical")],
                targets=[Target("temp_max"), Target("weather", kind="classification")])
    return LSTMModel(spec, hidden=16, max_epochs=2, progress=False).fit(seattle)


def test_save_writes_only_json_and_safetensors(tmp_path, weather_model):
    path = weather_model.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json",
                                                      "weights.safetensors"]
    config = json.loads((path / "config.json").read_text())
    assert config["format"] == "lstmkit.model" and config["format_version"] == 1
    assert config["versions"]["torch"] == torch.__version__
    assert config["schema"]["weather"] == "categorical"
    assert config["encoding"]["target_labels"]["weather"] == sorted(
        ["drizzle", "fog", "rain", "snow", "sun"])
    scaler = config["encoding"]["target_scalers"]["temp_max"]
    assert set(scaler) == {"center", "scale"} and isinstance(scaler["center"], float)
    tensors = load_file(str(path / "weights.safetensors"))
    assert set(tensors) == set(weather_model.network_.state_dict())


def test_loaded_model_predicts_bit_identically(tmp_path, seattle, weather_model):
    path = weather_model.save(tmp_path / "model")
    loaded = LSTMModel.load(path)
    for origins in ("last", "all"):
        before = weather_model.predict(seattle.iloc[-200:], origins=origins)
        after = loaded.predict(seattle.iloc[-200:], origins=origins)
        pd.testing.assert_frame_equal(before, after, check_exact=True)
    a, b = weather_model.evaluate(seattle, part="test"), loaded.evaluate(seattle, part="test")
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)


def test_a_model_trained_for_a_gpu_predicts_on_a_machine_without_one(tmp_path, seattle,
                                                                      weather_model):
    path = weather_model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["params"]["accelerator"] = "gpu"                  # as saved after training on a GPU
    (path / "config.json").write_text(json.dumps(config))
    loaded = LSTMModel.load(path)
    assert loaded.accelerator == "gpu" and not torch.cuda.is_available()
    before = weather_model.predict(seattle.iloc[-200:], origins="all")
    pd.testing.assert_frame_equal(before, loaded.predict(seattle.iloc[-200:], origins="all"),
                                  check_exact=True)
    assert next(loaded.network_.parameters()).device.type == "cpu"


def test_sequence_model_round_trip(tmp_path, shared_data):
    X, y = datasets.load_uea("JapaneseVowels", "train", data_dir=shared_data)
    model = LSTMModel(hidden=8, max_epochs=1, progress=False).fit(X[:100], y[:100])
    loaded = LSTMModel.load(model.save(tmp_path / "jv"))
    assert np.array_equal(model.predict(X[100:150]).filter(like="proba").to_numpy(),
                          loaded.predict(X[100:150]).filter(like="proba").to_numpy())


def test_loaded_model_refuses_missing_or_retyped_columns(tmp_path, seattle, weather_model):
    loaded = LSTMModel.load(weather_model.save(tmp_path / "model"))
    with pytest.raises(SchemaError, match="column 'wind' is missing"):
        loaded.predict(seattle.drop(columns="wind"))
    retyped = seattle.assign(temp_max=seattle.temp_max.astype(str) + "C")
    with pytest.raises(SchemaError, match=r"column 'temp_max' was numeric .* holds '12\.8C'"):
        loaded.predict(retyped)
    with pytest.raises(SchemaError, match="'weather' is missing"):
        loaded.evaluate(seattle.drop(columns="weather"))


def test_existing_directories_are_not_overwritten_unless_asked(tmp_path, weather_model):
    path = weather_model.save(tmp_path / "model")
    marker = (path / "config.json").read_text()
    with pytest.raises(ArtifactError, match="already exists"):
        weather_model.save(path)
    assert (path / "config.json").read_text() == marker
    weather_model.save(path, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp dirs left


def test_loading_refuses_pickles_and_broken_directories(tmp_path, weather_model):
    path = weather_model.save(tmp_path / "model")
    flag = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (flag.touch, ())

    (path / "weights.safetensors").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ArtifactError, match="not a valid safetensors file"):
        LSTMModel.load(path)
    assert not flag.exists()
    with pytest.raises(ArtifactError, match="no model directory"):
        LSTMModel.load(tmp_path / "nothing")
    (path / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        LSTMModel.load(path)


def test_a_planted_torch_save_file_is_refused_without_unpickling(tmp_path, weather_model):
    path = weather_model.save(tmp_path / "model")
    flag = tmp_path / "executed"

    class Exploit:
        def __reduce__(self):
            return (flag.touch, ())

    torch.save({"state": Exploit(), "w": torch.zeros(2)}, path / "weights.safetensors")
    with pytest.raises(ArtifactError, match="loads weights only from safetensors"):
        LSTMModel.load(path)
    assert not flag.exists()


def test_a_model_saved_before_the_missing_value_policy_still_loads(tmp_path, seattle,
                                                                   weather_model):
    path = weather_model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    del config["spec"]["missing"], config["spec"]["regular"]       # keys added later
    for feature in config["spec"]["inputs"]:
        del feature["missing"]
    (path / "config.json").write_text(json.dumps(config))
    old = LSTMModel.load(path)
    pd.testing.assert_frame_equal(old.predict(seattle), weather_model.predict(seattle))


def test_a_newer_format_version_is_refused_with_the_reason(tmp_path, weather_model):
    path = weather_model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="format version 99"):
        LSTMModel.load(path)


def test_weights_that_do_not_fit_the_network_are_refused_with_the_likely_cause(tmp_path,
                                                                               weather_model):
    path = weather_model.save(tmp_path / "model")
    weights = load_file(path / "weights.safetensors")
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, str(path / "weights.safetensors"), metadata={"format": "lstmkit.model"})
    config = json.loads((path / "config.json").read_text())
    config["versions"]["lstmkit"] = "0.0.9"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=rf"missing \['{dropped}'\].*saved by lstmkit "
                                            r"'0\.0\.9' .*load it with that version, or re-train"):
        LSTMModel.load(path)
    config["versions"]["lstmkit"] = lstmkit.__version__
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"this lstmkit version saved it, so "
                                            r"weights.safetensors was replaced or damaged"):
        LSTMModel.load(path)


def test_same_seed_same_weights(seattle):
    spec = Spec(time="date", inputs=["temp_max", "wind"], targets=["temp_max"], lookback=7)
    a = LSTMModel(spec, hidden=8, max_epochs=2, seed=3, progress=False).fit(seattle)
    b = LSTMModel(spec, hidden=8, max_epochs=2, seed=3, progress=False).fit(seattle)
    c = LSTMModel(spec, hidden=8, max_epochs=2, seed=4, progress=False).fit(seattle)
    sa, sb, sc = (m.network_.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


SAVE_FOREVER = """
import sys
from lstmkit import LSTMModel
model = LSTMModel.load(sys.argv[1])
print("ready", flush=True)
while True:
    model.save(sys.argv[1], overwrite=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.4, 1.1])
def test_sigkill_during_repeated_saves_leaves_a_loadable_model(tmp_path, seattle, weather_model,
                                                               delay):
    path = weather_model.save(tmp_path / "model")
    saver = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)],
                             stdout=subprocess.PIPE, text=True)
    assert saver.stdout.readline().strip() == "ready"
    time.sleep(delay)
    saver.send_signal(signal.SIGKILL)
    saver.wait(timeout=60)
    loaded = LSTMModel.load(path)
    pd.testing.assert_frame_equal(loaded.predict(seattle), weather_model.predict(seattle))


def test_a_save_killed_between_its_renames_is_recovered(tmp_path, seattle, weather_model):
    path = weather_model.save(tmp_path / "model")
    path.rename(tmp_path / ".model.old-0badcafe")       # the state between the two renames
    loaded = LSTMModel.load(path)
    pd.testing.assert_frame_equal(loaded.predict(seattle), weather_model.predict(seattle))


def test_a_failed_save_keeps_the_previous_model(tmp_path, weather_model, monkeypatch):
    path = weather_model.save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lstmkit.storage.artifact.save_file", disk_full)
    with pytest.raises(ArtifactError, match=r"could not write .*No space left.*nothing there "
                                            "was changed"):
        weather_model.save(path, overwrite=True)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]      # no temporary left behind
