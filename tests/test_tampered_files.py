"""Tampered or damaged model files are refused at load, with the file and the fault named.

A tiny model is fitted once on real data (Seattle weather) and saved; each case copies its
directory (or its ONNX export) into its own ``tmp_path``, changes one thing the way an edit,
a bad copy or a hostile file would, and asserts the ``ArtifactError`` that loading raises.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from lstmkit import ArtifactError, Feature, LSTMModel, Spec, Target
from lstmkit.cli.command import main
from lstmkit.deploy.onnx_model import METADATA_KEY, OnnxModel
from lstmkit.deploy.serve import model_info
from tests.fixtures.v0_2_0.make import prediction_input
from tests.test_export import assert_same_predictions

FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0" / "models"
SEASONS = {1: "winter", 2: "spring", 3: "summer", 4: "autumn"}


@pytest.fixture(scope="module")
def weather(seattle) -> pd.DataFrame:
    """400 days of Seattle weather with a second categorical column, the season."""
    days = seattle.iloc[:400].copy()
    days["season"] = pd.to_datetime(days.date).dt.quarter.map(SEASONS)
    return days


@pytest.fixture(scope="module")
def saved(weather, tmp_path_factory) -> Path:
    """A saved forecast model: numeric and categorical inputs, a regression and a
    classification target, instance norm (so index buffers too)."""
    spec = Spec(time="date", lookback=14, horizon=3,
                inputs=["precipitation", "temp_max", "wind", Feature("weather", kind="categorical"),
                        Feature("season", kind="categorical")],
                targets=[Target("temp_max"), Target("weather", kind="classification")])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(weather)
    return model.save(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def model_dir(saved, tmp_path) -> Path:
    """This test's own copy of the saved model."""
    return Path(shutil.copytree(saved, tmp_path / "model"))


def edit_config(model_dir: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    change(config)
    (model_dir / "config.json").write_text(json.dumps(config))


def edit_weights(model_dir: Path, change: Callable[[dict[str, torch.Tensor]], Any]) -> None:
    file = model_dir / "weights.safetensors"
    tensors = load_file(file)
    change(tensors)
    save_file(tensors, str(file), metadata={"format": "lstmkit.model"})


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def rename_input(config: dict[str, Any]) -> None:
    config["spec"]["inputs"][0]["name"] = "rainfall"
    scalers = config["encoding"]["input_scalers"]
    scalers["rainfall"] = scalers.pop("precipitation")


def resize(config: dict[str, Any], sizes: dict[str, int]) -> None:
    """Set ``sizes`` alike wherever config.json records them: the network, the params and
    (hidden) the architecture fit used."""
    config["network"].update(sizes)
    config["params"].update(sizes)
    architecture = config["fitted"]["architecture"]
    architecture.update({k: v for k, v in sizes.items() if k in architecture})


def swap(tensors: dict[str, torch.Tensor], a: str, b: str) -> None:
    tensors[a], tensors[b] = tensors[b], tensors[a]


# name: (change to config.json, fragments the message must hold)
CONFIG_CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], list[str]]] = {
    "negative scaler scale": (
        lambda c: c["encoding"]["input_scalers"]["wind"].update(scale=-1.0),
        ["encoding.input_scalers['wind'].scale is -1.0", "above 0"]),
    "NaN scaler center": (
        lambda c: c["encoding"]["target_scalers"]["temp_max"].update(center=float("nan")),
        ["encoding.target_scalers['temp_max'].center is nan", "finite"]),
    "scaler center beyond float range": (
        lambda c: c["encoding"]["input_scalers"]["wind"].update(center=10**400),
        ["encoding.input_scalers['wind'].center is 1000", "(401 characters)", "finite"]),
    "scaler of another shape": (
        lambda c: c["encoding"]["input_scalers"].update(wind=[0.0, 1.0]),
        ["encoding.input_scalers['wind'] is [0.0, 1.0]", "'center' and 'scale'"]),
    "classes listed twice": (
        lambda c: c["encoding"]["target_labels"]["weather"].append("rain"),
        ["encoding.target_labels['weather'] lists 'rain' twice"]),
    "a label that is an object": (
        lambda c: c["encoding"]["input_labels"]["season"].append({"x": 1}),
        ["encoding.input_labels['season'] holds {'x': 1}", "a label is a string"]),
    "one label left for a classification target": (
        lambda c: c["encoding"]["target_labels"].update(weather=["rain"]),
        ["encoding.target_labels['weather'] has 1 label(s)", "at least two"]),
    "a scaler for a column the spec does not read": (
        lambda c: c["encoding"]["input_scalers"].update(humidity={"center": 0, "scale": 1}),
        ["encoding.input_scalers has", "'humidity'", "numeric inputs are"]),
    "spec input renamed, encoding and schema not": (
        lambda c: c["spec"]["inputs"][0].update(name="rainfall"),
        ["encoding.input_scalers has", "'precipitation'", "'rainfall'"]),
    "spec and encoding renamed, schema not": (
        rename_input, ["schema['rainfall'] is None", "the spec makes it 'numeric'"]),
    "schema retypes a column": (
        lambda c: c["schema"].update(season="numeric"),
        ["schema['season'] is 'numeric'", "'categorical'"]),
    "schema names a column the spec does not use": (
        lambda c: c["schema"].update(humidity="numeric"),
        ["schema lists 'humidity'"]),
    "target_channels out of range": (
        lambda c: c["network"].update(target_channels=[99, -1]),
        ["network.target_channels holds 99", "[-1, 12)"]),
    "n_inputs disagreeing with the encoding's columns": (
        lambda c: c["network"].update(n_inputs=13,
                                      numeric_inputs=c["network"]["numeric_inputs"] + [False]),
        ["network.n_inputs is 13, but the spec, encoding and params give 12"]),
    "an output wider than its classes": (
        lambda c: c["network"]["outputs"][1].update(width=9),
        ["network.outputs[1].width is 9, but the spec, encoding and params give 5"]),
    "hidden size given as text": (
        lambda c: c["network"].update(hidden="64"),
        ["network.hidden is a string, not an integer"]),
    "a negative dropout": (
        lambda c: c["network"].update(dropout=-0.5), ["network.dropout is -0.5", "[0, 1)"]),
    "an unknown decoder": (
        lambda c: c["network"].update(decoder="magic"), ["network.decoder", "'magic'"]),
    "an unknown network key": (
        lambda c: c["network"].update(widget=1), ["unknown key 'widget' in network"]),
    "an unknown parameter": (
        lambda c: c["params"].update(turbo=True), ["unknown key 'turbo' in params"]),
    "a fitted architecture the network was not built with": (
        lambda c: c["fitted"]["architecture"].update(hidden=999),
        ["fitted.architecture.hidden is 999, but the network was built with 4"]),
    "a fitted architecture without lr": (
        lambda c: c["fitted"]["architecture"].pop("lr"),
        ["fitted.architecture has the keys", "it must have"]),
    "a fitted lr that is not a number": (
        lambda c: c["fitted"]["architecture"].update(lr="fast"),
        ["fitted.architecture.lr", "'fast'"]),
    "a negative fitted seed": (
        lambda c: c["fitted"].update(seed=-1), ["fitted.seed must be an integer >= 0, got -1"]),
    "a fitted split with an unknown key": (
        lambda c: c["fitted"]["split"].update(valstart=0.5),
        ["unknown key 'valstart' in split", "did you mean 'val_start'?"]),
    "a fitted entry of the wrong type": (
        lambda c: c.update(fitted=[]), ["fitted is an array, not an object"]),
    "spec time column of the wrong type": (
        lambda c: c["spec"].update(time=["date"]),
        ["spec time must be a column name (a string), got ['date']"]),
    "missing encoding": (lambda c: c.pop("encoding"), ["encoding is missing"]),
    "baseline of the wrong type": (
        lambda c: c.update(baseline="none"), ["baseline is a string, not an array"]),
    "baseline with a NaN": (
        lambda c: c.update(baseline=[float("nan"), None]), ["baseline is [nan, None]"]),
    "time step of the wrong type": (
        lambda c: c.update(time_step="1h"), ["time_step is a string, not an object or null"]),
    "version that is not a string": (
        lambda c: c["versions"].update(lstmkit=2), ["versions['lstmkit'] is an integer"]),
    "history epochs of the wrong type": (
        lambda c: c["history"].update(epochs="many"), ["history.epochs is a string"]),
    "deeply nested history": (
        lambda c: c["history"].update(extra=nested(40)), ["nested deeper than lstmkit reads"]),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_a_damaged_config_is_refused_naming_the_file_and_the_fault(model_dir, case):
    change, fragments = CONFIG_CASES[case]
    edit_config(model_dir, change)
    with pytest.raises(ArtifactError) as info:
        LSTMModel.load(model_dir)
    message = str(info.value)
    assert f"config.json of {str(model_dir)!r}" in message
    for fragment in fragments:
        assert fragment in message
    assert "re-save or re-train the model" in message and len(message) < 1000


CONFIG_TEXTS: dict[str, tuple[Callable[[str], str], str]] = {
    "a JSON array": (lambda text: f"[{text}]", "is not an lstmkit model config"),
    "an integer of 5000 digits": (lambda text: text.replace('"format_version": 1',
                                                            '"format_version": 1' + "0" * 5000),
                                  "not valid JSON"),
    "Infinity for a scaler": (lambda text: text.replace('"scale": ', '"scale": Infinity, "x": ',
                                                        1), "'center' and 'scale'"),
    "cut off half way": (lambda text: text[: len(text) // 2], "not valid JSON"),
    "a key given twice": (lambda text: text.replace("{", '{"baseline": [], ', 1),
                          "the key 'baseline' appears twice in one object"),
    "10,000 levels of nesting": (lambda text: text.replace(
        '"history": {', '"history": {"extra": ' + "[" * 10_000 + "]" * 10_000 + ", ", 1),
        "nested deeper than lstmkit reads"),
}


@pytest.mark.parametrize("case", list(CONFIG_TEXTS))
def test_config_text_that_is_not_a_model_config_is_refused(model_dir, case):
    change, fragment = CONFIG_TEXTS[case]
    file = model_dir / "config.json"
    file.write_text(change(file.read_text()))
    with pytest.raises(ArtifactError, match=r"config\.json") as info:
        LSTMModel.load(model_dir)
    assert fragment in str(info.value) and len(str(info.value)) < 1000


def test_a_config_of_200_mb_is_refused_before_it_is_read(model_dir):
    file = model_dir / "config.json"
    text = file.read_text()
    with open(file, "a") as handle:       # valid JSON: the config, then 200 MB of whitespace
        for _ in range(200):
            handle.write(" " * 2**20)
    assert json.loads(text)["format"] == "lstmkit.model"
    with pytest.raises(ArtifactError, match=r"config.json of .*: 200 MB, larger than the 64 MB"):
        LSTMModel.load(model_dir)
    file.unlink()


@pytest.mark.parametrize("target", ["a directory", "/dev/zero"])
def test_a_config_that_is_not_a_regular_file_is_refused(model_dir, tmp_path, target):
    (model_dir / "config.json").unlink()
    if target == "a directory":
        (model_dir / "config.json").mkdir()
    else:
        (model_dir / "config.json").symlink_to(target)
    with pytest.raises(ArtifactError, match=r"config.json of .*: not a regular file"):
        LSTMModel.load(model_dir)


# name: (change to the weights, fragments the message must hold)
WEIGHT_CASES: dict[str, tuple[Callable[[dict[str, torch.Tensor]], Any], list[str]]] = {
    "float64 weights": (
        lambda t: t.update({k: v.double() for k, v in t.items() if v.is_floating_point()}),
        ["'encoder.lstm.weight_ih_l0' is float64 of shape (16, 12)", "needs float32"]),
    "integer weights": (
        lambda t: t.update({"heads.layers.0.bias": t["heads.layers.0.bias"].long()}),
        ["'heads.layers.0.bias' is int64"]),
    "a NaN in a bias": (
        lambda t: t["encoder.lstm.bias_ih_l0"].__setitem__(3, float("nan")),
        ["'encoder.lstm.bias_ih_l0' holds NaN or infinite values"]),
    "an infinite scale": (
        lambda t: t["norm.scale"].fill_(float("inf")), ["'norm.scale' holds NaN or infinite"]),
    "an index buffer pointing elsewhere": (
        lambda t: t["norm.channels"].fill_(7),
        ["'norm.channels' holds [7], the network in config.json [1]"]),
    "swapped weights of equal shape": (
        lambda t: swap(t, "norm.scale", "norm.shift"),
        ["is not the file saved with its config.json", "sha256"]),
    "a weight removed": (
        lambda t: t.pop("heads.layers.1.bias"), ["missing ['heads.layers.1.bias']"]),
    "a weight of another shape": (
        lambda t: t.update({"heads.layers.0.bias": torch.zeros(4)}),
        ["'heads.layers.0.bias' is float32 of shape (4,)", "needs float32 of shape (3,)"]),
}


@pytest.mark.parametrize("case", list(WEIGHT_CASES))
def test_damaged_weights_are_refused_naming_the_file_and_the_fault(model_dir, case):
    change, fragments = WEIGHT_CASES[case]
    edit_weights(model_dir, change)
    with pytest.raises(ArtifactError) as info:
        LSTMModel.load(model_dir)
    message = str(info.value)
    assert "weights.safetensors" in message and str(model_dir) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("change, fragment", [
    ({"hidden": 10**7}, "'encoder.lstm.weight_ih_l0' is float32 of shape (16, 12), the network "
                        "in config.json needs float32 of shape (40000000, 12)"),
    ({"layers": 10**6}, "the network has 1000000 layers, the file holds {tensors} tensors"),
    ({"hidden": 10**30}, "the network it describes cannot be built"),
])
def test_absurd_sizes_are_refused_against_the_weights_before_allocating(model_dir, change,
                                                                         fragment):
    edit_config(model_dir, lambda c: resize(c, change))
    tensors = len(load_file(model_dir / "weights.safetensors"))
    with pytest.raises(ArtifactError) as info:   # not a RuntimeError from the allocator
        LSTMModel.load(model_dir)
    assert fragment.format(tensors=tensors) in str(info.value)


PEAK_MEMORY = """
import resource, sys
from lstmkit import LSTMModel
try:
    LSTMModel.load(sys.argv[1])
except Exception as exc:
    print(type(exc).__name__, file=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_a_large_size_in_the_config_allocates_nothing(model_dir, tmp_path):
    """hidden = 3000 would take 140 MB for the encoder alone if it were built before the
    weights were compared; the peak memory of loading stays that of the real model."""
    def peak(directory: Path) -> tuple[int, str]:
        result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(directory)],
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        return int(result.stdout.split()[-1]), result.stderr.strip()

    before, error = peak(model_dir)
    assert error == ""
    edit_config(model_dir, lambda c: (c["network"].update(hidden=3000),
                                      c["params"].update(hidden=3000)))
    after, error = peak(model_dir)
    assert error.endswith("ArtifactError")
    assert after - before < 60, f"loading took {after - before} MB more"


def test_weights_that_are_not_a_regular_file_are_refused(model_dir):
    (model_dir / "weights.safetensors").unlink()
    (model_dir / "weights.safetensors").symlink_to("/dev/zero")
    with pytest.raises(ArtifactError, match=r"weights.safetensors of .*: not a regular file"):
        LSTMModel.load(model_dir)


def test_weights_symlinked_from_outside_the_directory_load(model_dir, tmp_path, weather):
    """Content stores (DVC, git-annex, the Hugging Face cache) keep a model's files as links
    into a store outside the directory. What matters is the content, and that is checked
    (names, shapes, dtypes, finite, and the sha256 recorded in config.json)."""
    store = tmp_path / "store" / "blob"
    store.parent.mkdir()
    shutil.move(model_dir / "weights.safetensors", store)
    (model_dir / "weights.safetensors").symlink_to(store)
    original = LSTMModel.load(model_dir).predict(weather)
    edit_weights(model_dir, lambda t: t["norm.shift"].add_(1.0))   # writes through the link
    with pytest.raises(ArtifactError, match=r"is not the file saved with its config\.json"):
        LSTMModel.load(model_dir)
    assert len(original) == 3


def test_a_model_without_the_recorded_digest_loads_as_0_2_0_saved_it(model_dir, weather):
    """0.2.0 recorded no sha256 of the weights: such a model loads, checked by structure."""
    before = LSTMModel.load(model_dir).predict(weather)
    edit_config(model_dir, lambda c: c.pop("weights_sha256"))
    pd.testing.assert_frame_equal(LSTMModel.load(model_dir).predict(weather), before)


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "serve"])
def test_every_command_that_loads_refuses_a_damaged_model_in_one_line(model_dir, tmp_path,
                                                                      weather, command, capsys):
    data = tmp_path / "weather.csv"
    weather.to_csv(data, index=False)
    edit_config(model_dir, lambda c: c["encoding"]["input_scalers"]["wind"].update(scale=0))
    args = {"predict": [str(data), "-o", str(tmp_path / "out.csv")], "evaluate": [str(data)],
            "export": ["--onnx", str(tmp_path / "out.onnx")],
            "serve": ["--port", str(_free_port())]}[command]
    assert main([command, str(model_dir), *args]) == 4
    error = capsys.readouterr().err
    assert error.startswith("error: config.json of ") and error.count("\n") == 1
    assert "encoding.input_scalers['wind'].scale is 0" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "weather.csv"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_model_info_reports_the_spec_as_the_loader_read_it(model_dir):
    """A spec may name a regression target by its name alone; /model still lists its kind."""
    edit_config(model_dir, lambda c: c["spec"]["targets"].__setitem__(0, "temp_max"))
    LSTMModel.load(model_dir)
    info = model_info(model_dir, "torch")
    assert info["targets"] == [{"name": "temp_max", "kind": "regression"},
                               {"name": "weather", "kind": "classification"}]
    assert info["spec"]["targets"][0]["kind"] == "regression"


# -- ONNX exports ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(saved, tmp_path_factory) -> Path:
    return LSTMModel.load(saved).export_onnx(tmp_path_factory.mktemp("onnx") / "model.onnx")


def edit_metadata(source: Path, target: Path, change: Callable[[dict[str, Any]], Any]) -> Path:
    proto = onnx.load(str(source))
    entry = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
    metadata = json.loads(entry.value)
    change(metadata)
    entry.value = json.dumps(metadata) if isinstance(metadata, dict) else metadata
    onnx.save(proto, str(target))
    return target


def longer_lookback(metadata: dict[str, Any]) -> None:
    """The lookback changed everywhere in the metadata, consistently; the graph is unchanged."""
    for entry in [metadata["inputs"]["numeric"], *metadata["inputs"]["categorical"]]:
        entry["shape"][1] = 20
    metadata["spec"]["lookback"] = metadata["lookback"] = metadata["span"] = 20


def reorder_categorical(metadata: dict[str, Any]) -> None:
    """The two categorical inputs swapped in the spec and in the recorded inputs."""
    inputs = metadata["spec"]["inputs"]
    inputs[3], inputs[4] = inputs[4], inputs[3]
    entries = metadata["inputs"]["categorical"]
    entries[0], entries[1] = entries[1], entries[0]
    metadata["schema"] = dict(reversed(metadata["schema"].items()))


ONNX_CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], list[str]]] = {
    "lookback changed": (longer_lookback, [
        "inputs entry 'numeric' is float32 of shape ['batch', 20, 3], but the graph's is "
        "float32 of shape ['batch', 14, 3]"]),
    "lookback changed in one place": (
        lambda m: m.update(lookback=20), ["lookback is 20, but the spec gives 14"]),
    "inputs reordered against the graph": (reorder_categorical, [
        "inputs are ['numeric', 'season_code', 'weather_code'], but the graph's inputs are "
        "['numeric', 'weather_code', 'season_code']"]),
    "an input renamed": (
        lambda m: m["inputs"]["numeric"].update(name="values"),
        ["inputs.numeric.name is 'values', but the spec and the recorded labels give "
         "'numeric'"]),
    "categorical inputs recorded out of order": (
        lambda m: m["inputs"]["categorical"].reverse(),
        ["categorical inputs recorded are ['season', 'weather'], but the spec's are "
         "['weather', 'season']"]),
    "one numeric column fewer": (
        lambda m: m["inputs"]["numeric"]["shape"].__setitem__(2, 2),
        ["inputs.numeric.shape[2] is 2", "give 3"]),
    "a dtype changed": (
        lambda m: m["inputs"]["numeric"].update(dtype="float64"),
        ["inputs.numeric.dtype is 'float64'"]),
    "a scaler not finite": (
        lambda m: m["inputs"]["numeric"]["scalers"]["wind"].update(scale=float("inf")),
        ["inputs.numeric.scalers['wind'].scale is inf"]),
    "a scaler kind changed": (
        lambda m: m["inputs"]["numeric"]["scalers"]["wind"].update(kind="robust"),
        ["inputs.numeric.scalers.wind.kind is 'robust'"]),
    "a class dropped": (
        lambda m: m["outputs"][1]["classes"].pop(), ["outputs[1].shape[2] is 5", "give 4"]),
    "classes listed twice": (
        lambda m: m["outputs"][1]["classes"].__setitem__(0, "sun"),
        ["outputs[1].classes lists 'sun' twice"]),
    "a missing entry": (lambda m: m.pop("outputs"), ["outputs is missing"]),
    "a schema that renames an input": (
        lambda m: m["schema"].update(rain=m["schema"].pop("precipitation")),
        ["schema['precipitation'] is None"]),
    "deeply nested": (lambda m: m.update(extra=nested(100)), ["nested deeper than"]),
}


@pytest.mark.parametrize("case", list(ONNX_CASES))
def test_tampered_onnx_metadata_is_refused_naming_the_file_and_the_fault(exported, tmp_path,
                                                                         case):
    change, fragments = ONNX_CASES[case]
    path = edit_metadata(exported, tmp_path / "model.onnx", change)
    with pytest.raises(ArtifactError) as info:
        OnnxModel(path)
    message = str(info.value)
    assert f"the lstmkit metadata of {str(path)!r}" in message
    for fragment in fragments:
        assert fragment in message
    assert message.endswith("export the model again") and len(message) < 1000


def test_onnx_metadata_of_70_mb_is_refused(exported, tmp_path):
    path = edit_metadata(exported, tmp_path / "model.onnx",
                         lambda m: m.update(padding=" " * (70 * 2**20)))
    with pytest.raises(ArtifactError, match="more than the 64 MB of JSON lstmkit reads"):
        OnnxModel(path)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_the_onnx_export_of_every_0_2_0_model_passes_the_checks(name, tmp_path):
    model = LSTMModel.load(shutil.copytree(FIXTURES / name, tmp_path / name))
    onnx_model = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    data = prediction_input(name)
    assert_same_predictions(onnx_model.predict(data), model.predict(data))
