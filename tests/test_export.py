"""ONNX export of the whole inference pipeline, run in onnxruntime against LSTMModel.predict.

Every comparison is on real data (ETTh1, Seattle weather, UEA sets) with tiny
models trained for one epoch: the export must reproduce whatever the network
learned, so a barely trained network is as good a witness as a well trained one.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest

from lstmkit import (
    ArtifactError,
    ConfigError,
    DataError,
    Feature,
    LSTMModel,
    NotFittedError,
    Spec,
    Split,
    Target,
    datasets,
)
from lstmkit.cli.command import main
from lstmkit.deploy import neighbours
from lstmkit.deploy.onnx_model import METADATA_KEY, OnnxModel
from tests.conftest import ETT_COLUMNS, ETTH1

# The graph computes in float32 where predict decodes in float64. Values are matched to 1e-5
# relative; a value near zero is matched to 1e-5 of its column's largest magnitude instead,
# since inverse scaling (z * scale + center) leaves float32 rounding of the column's own scale
# in it, and probabilities near 0 carry the float32 rounding of the softmax sum (1e-6 at
# least: a column of exact zeros, a naive forecast of 0 kept whole, has no scale of its own).
RTOL = 1e-5
TINY = {"hidden": 8, "max_epochs": 1, "batch_size": 64, "progress": False}


def assert_same_predictions(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) > 0
    for column in want.columns:
        expected, actual = want[column].to_numpy(), got[column].to_numpy()
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(actual, expected, rtol=RTOL, err_msg=column,
                                       atol=max(RTOL * np.abs(expected).max(), 1e-6))
        else:   # ids, origins, times and labels are exact
            assert (actual == expected).all(), column


def sliding_windows(frame: pd.DataFrame, columns: list[str], lookback: int) -> np.ndarray:
    """Every full window of ``columns``: (n_windows, lookback, n_columns) float32."""
    values = frame[columns].to_numpy(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(values, lookback, axis=0)
    return np.ascontiguousarray(windows.transpose(0, 2, 1))


@pytest.fixture(scope="module")
def ett(etth1):
    return etth1.iloc[:1200].reset_index(drop=True)


@pytest.fixture(scope="module")
def trajectories(etth1):
    """48 hourly steps of all seven columns -> the next 12 steps of HUFL and MUFL."""
    values = etth1[ETT_COLUMNS].to_numpy()[:2400]
    starts = np.arange(0, len(values) - 60, 24)
    X = np.stack([values[s : s + 48] for s in starts])
    Y = np.stack([values[s + 48 : s + 60][:, [0, 2]] for s in starts])
    return X, Y


FORECASTS = {
    "many_to_one": ({"horizon": 1}, {"channel_independent": False}),
    "direct": ({}, {"decoder": "direct", "channel_independent": False}),
    "repeat_separate_heads": ({}, {"decoder": "repeat", "heads": "separate"}),
    "autoregressive_two_layers": ({}, {"decoder": "autoregressive", "layers": 2}),
    "parallel_segments": ({}, {"decoder": "parallel", "channel_independent": False,
                               "segment": 8, "instance_norm": False}),
    "channel_independent_preset": ({"lookback": 48}, {}),
    "last_value_norm": ({}, {"instance_norm": "last"}),
}


@pytest.mark.parametrize("case", list(FORECASTS))
def test_forecast_graph_matches_predict_for_every_decoder(ett, tmp_path, case):
    spec_changes, params = FORECASTS[case]
    spec = Spec(**{"inputs": ETT_COLUMNS, "targets": ["OT", "HUFL"], "lookback": 24,
                   "horizon": 6, "time": "date", **spec_changes})
    model = LSTMModel(spec, **{**TINY, **params}).fit(ett)
    if case == "channel_independent_preset":
        assert model.architecture_["channel_independent"] and model.architecture_["segment"]
    path = model.export_onnx(tmp_path / "model.onnx")
    recent = ett.iloc[-60:]

    # The whole table through the torch-free path equals predict, column by column.
    assert_same_predictions(OnnxModel(path).predict(recent), model.predict(recent))
    assert_same_predictions(OnnxModel(path).predict(recent, origins="all"),
                            model.predict(recent, origins="all"))

    # The raw graph: every window of the table, batch sizes 1 and many.
    want = model.predict(recent, origins="all")
    windows = sliding_windows(recent, ETT_COLUMNS, spec.lookback)
    session = onnxruntime.InferenceSession(str(path))
    for batch in (1, 7, len(windows)):
        outputs = session.run(["OT", "HUFL"], {"numeric": windows[:batch]})
        for name, values in zip(["OT", "HUFL"], outputs, strict=True):
            expected = want[name].to_numpy().reshape(len(windows), spec.horizon)[:batch]
            assert values.shape == (batch, spec.horizon)
            np.testing.assert_allclose(values, expected, rtol=RTOL,
                                       atol=RTOL * np.abs(expected).max())


def test_mixed_targets_and_a_categorical_input(seattle, tmp_path):
    weather = seattle.assign(wet=np.where(seattle.precipitation > 0, "wet", "dry"))
    spec = Spec(time="date", lookback=14, horizon=2,
                inputs=["precipitation", "temp_max", "temp_min", "wind",
                        Feature("weather", kind="categorical")],
                targets=[Target("temp_max"), Target("precipitation", scaler="robust"),
                         Target("weather", kind="classification"), Target("wet", kind="binary")])
    model = LSTMModel(spec, **TINY).fit(weather)
    path = model.export_onnx(tmp_path / "weather.onnx")
    onnx_model = OnnxModel(path)
    assert_same_predictions(onnx_model.predict(weather), model.predict(weather))

    # Several series in one batch: each its own window, in its own units.
    two = pd.concat([weather.iloc[:300].assign(site="a"), weather.iloc[300:700].assign(site="b")])
    with_series = Spec(**{**spec.to_dict(), "series": "site"})
    model = LSTMModel(with_series, **TINY).fit(two)
    path = model.export_onnx(tmp_path / "sites.onnx")
    got, want = OnnxModel(path).predict(two), model.predict(two)
    assert got.site.tolist() == ["a", "a", "b", "b"]
    assert_same_predictions(got, want)
    assert_same_predictions(OnnxModel(path).predict(two, origins="all"),
                            model.predict(two, origins="all"))

    metadata = onnx_model.metadata
    code = metadata["inputs"]["categorical"][0]
    assert (code["name"], code["column"], code["dtype"]) == ("weather_code", "weather", "int64")
    assert code["classes"] == sorted(weather.weather.unique())
    outputs = {o["name"]: o for o in metadata["outputs"]}
    assert outputs["wet_proba"]["classes"] == ["dry", "wet"]
    assert outputs["weather_proba"]["shape"] == ["batch", 2, len(code["classes"])]
    assert outputs["temp_max"]["shape"] == ["batch", 2]


def test_missing_value_policies_are_inside_the_graph(shared_data, tmp_path):
    """Beijing PM2.5 has gaps: masked (with an indicator) and forward-filled inputs export."""
    beijing = datasets.load("beijing_pm25", data_dir=shared_data).iloc[:3000]
    beijing = beijing.astype({"cbwd": object})
    beijing.loc[beijing.index % 97 == 5, "cbwd"] = None
    spec = Spec(time="date", lookback=24, horizon=2, targets=["TEMP"],
                inputs=["DEWP", "TEMP", Feature("pm2.5", missing="mask"),
                        Feature("Iws", missing="ffill"),
                        Feature("cbwd", kind="categorical", missing="mask")])
    gappy = beijing.assign(Iws=beijing.Iws.where(beijing.index % 13 != 0))
    model = LSTMModel(spec, **TINY).fit(gappy)
    onnx_model = OnnxModel(model.export_onnx(tmp_path / "gaps.onnx"))
    for end in (30, 1000, 2003):                  # windows with and without gaps
        rows = gappy.iloc[:end]
        assert_same_predictions(onnx_model.predict(rows), model.predict(rows))


def test_sequence_classification_preset_on_fixed_length_sequences(shared_data, tmp_path):
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    X_test, _ = datasets.load_uea("BasicMotions", "test", data_dir=shared_data)
    # 6 validation sequences cannot rank the network against 1-NN: the model blends the two,
    # and the graph holds the nearest neighbours' vote (lstmkit.deploy.neighbours).
    model = LSTMModel(seed=0, **{**TINY, "batch_size": 8}).fit(X, y)
    assert model.architecture_["bidirectional"] and model.architecture_["conv"]
    assert model.neighbour_vote_["y"]["weight"] == 0.5
    path = model.export_onnx(tmp_path / "motions.onnx")
    for batch in (1, 5, len(X_test)):
        assert_same_predictions(OnnxModel(path).predict(X_test[:batch]),
                                model.predict(X_test[:batch]))
    network = LSTMModel(split=Split.train_only(), seed=0,    # no validation part: the network
                        **{**TINY, "batch_size": 8}).fit(X, y)
    assert network.neighbour_vote_ == {}
    assert_same_predictions(OnnxModel(network.export_onnx(tmp_path / "alone.onnx")).predict(
        X_test), network.predict(X_test))


def truncated(X: np.ndarray, low: int, seed: int) -> np.ndarray:
    """Each sequence of ``X`` cut to a seeded length from ``low`` to all its steps, NaN after."""
    lengths = np.random.default_rng(seed).integers(low, X.shape[1] + 1, len(X))
    return np.where(np.arange(X.shape[1])[None, :, None] < lengths[:, None, None], X, np.nan)


def test_the_neighbours_vote_of_sequences_of_varying_lengths_is_inside_the_graph(shared_data,
                                                                                 tmp_path,
                                                                                 monkeypatch):
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    X_test, _ = datasets.load_uea("BasicMotions", "test", data_dir=shared_data)
    X, X_test = truncated(X, 50, 0), truncated(X_test, 30, 1)   # resampled to 100 steps or fewer
    model = LSTMModel(seed=0, **{**TINY, "batch_size": 8}).fit(X, y)
    assert model.neighbour_vote_["y"]["weight"] == 0.5
    lengths = (~np.isnan(X_test).all(axis=2)).sum(axis=1)      # some below, some at the length
    assert lengths.min() < model.neighbours_.references.shape[1] <= lengths.max()
    onnx_model = OnnxModel(model.export_onnx(tmp_path / "varying.onnx"))
    got, want = onnx_model.predict(X_test), model.predict(X_test)
    assert_same_predictions(got, want)
    proba = want.filter(like="y_proba_").to_numpy()
    top = np.sort(proba, axis=1)[:, -2:]
    assert (top[:, 1] - top[:, 0]).min() > 1e-4           # no near-tie the labels could flip on
    # onnxruntime on the padded batch itself: the vote reads only each sequence's own steps
    padded = np.nan_to_num(X_test, nan=1e6).astype(np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "varying.onnx"))
    ran = session.run(["y_proba"], {"numeric": padded, "lengths": lengths})[0]
    np.testing.assert_allclose(ran[:, 0], proba, rtol=RTOL, atol=1e-6)
    monkeypatch.setattr(neighbours, "MAX_BYTES", model.neighbours_.references.nbytes - 1)
    with pytest.raises(ConfigError, match=r"its \d+ nearest-neighbour sequences of \d+ steps x 6"):
        model.export_onnx(tmp_path / "large.onnx")
    assert not (tmp_path / "large.onnx").exists()


def test_variable_length_sequences_as_a_padded_batch_with_lengths(shared_data, tmp_path):
    X, y = datasets.load_uea("JapaneseVowels", "train", data_dir=shared_data)
    X_test, _ = datasets.load_uea("JapaneseVowels", "test", data_dir=shared_data)
    model = LSTMModel(**{**TINY, "batch_size": 32}).fit(X[:120], y[:120])
    path = model.export_onnx(tmp_path / "vowels.onnx")
    onnx_model = OnnxModel(path)
    assert_same_predictions(onnx_model.predict(X_test[:40]), model.predict(X_test[:40]))

    # The graph itself: what follows a sequence's length does not matter, NaN included.
    lengths = (~np.isnan(X_test[:6]).all(axis=2)).sum(axis=1)
    assert len(set(lengths)) > 1
    padded = X_test[:6, : lengths.max()].astype(np.float32)                    # NaN-padded
    proba = onnx_model.run({"numeric": padded, "lengths": lengths})["y_proba"]   # (6, 1, 9)
    other = onnx_model.run({"numeric": np.nan_to_num(padded, nan=1e6), "lengths": lengths})
    alone = onnx_model.run({"numeric": padded[:1, : lengths[0]], "lengths": lengths[:1]})
    for same in (other["y_proba"], np.concatenate([alone["y_proba"], proba[1:]])):
        np.testing.assert_allclose(same, proba, rtol=RTOL, atol=1e-6)
    want = model.predict(X_test[:6]).filter(like="y_proba_").to_numpy()
    np.testing.assert_allclose(proba[:, 0], want, rtol=RTOL, atol=1e-6)

    # The arrays LSTMModel gives, as a Keras user reads them: labels, and probabilities in
    # the order of classes_.
    labels = onnx_model.predict(X_test[:40], output="array")
    assert labels.shape == (40,)
    assert (labels == model.predict(X_test[:40], output="array")).all()
    got = onnx_model.predict_proba(X_test[:40])
    np.testing.assert_allclose(got, model.predict_proba(X_test[:40]), rtol=RTOL, atol=1e-6)
    assert (model.classes_[got.argmax(axis=1)] == labels).all()
    with pytest.raises(ConfigError, match="output must be one of"):
        onnx_model.predict(X_test[:4], output="arrays")


@pytest.mark.parametrize(("decoder", "norm"), [("repeat", None), ("autoregressive", None),
                                             ("repeat", "last")])
def test_seq2seq_encoder_decoder_on_inputs_of_different_lengths(trajectories, tmp_path,
                                                                decoder, norm):
    X, Y = trajectories
    inputs = [x[(i % 4) * 8 :] for i, x in enumerate(X)]         # 48, 40, 32 or 24 steps
    spec = Spec(inputs=ETT_COLUMNS, targets=["HUFL", "MUFL"], task="seq2seq", horizon=12)
    model = LSTMModel(spec, decoder=decoder, instance_norm=norm, **TINY).fit(inputs, Y)
    assert model.architecture_["instance_norm"]   # per-sequence statistics (last true step)
    path = model.export_onnx(tmp_path / "seq2seq.onnx")
    assert_same_predictions(OnnxModel(path).predict(inputs[:9]), model.predict(inputs[:9]))


def test_seq2seq_one_output_per_step_of_unequal_sequences(trajectories, tmp_path):
    X, _ = trajectories
    frames = [pd.DataFrame(x[: 48 - (i % 5) * 7], columns=ETT_COLUMNS).assign(trip=i)
              for i, x in enumerate(X)]
    table = pd.concat(frames, ignore_index=True)
    spec = Spec(inputs=ETT_COLUMNS[:4], targets=ETT_COLUMNS[4:6], task="seq2seq",
                sequence="trip")
    model = LSTMModel(spec, bidirectional=True, **TINY).fit(table)
    path = model.export_onnx(tmp_path / "aligned.onnx")
    some = table[table.trip < 6]
    got = OnnxModel(path).predict(some)
    assert len(got) == len(some)                   # padded steps are not predictions
    assert_same_predictions(got, model.predict(some))
    array = OnnxModel(path).predict(some, output="array")     # (6, 48, 2), NaN past the ends
    assert array.shape == (6, 48, 2) and np.isnan(array[1, -7:]).all()
    np.testing.assert_allclose(array, model.predict(some, output="array"), rtol=RTOL, atol=1e-4)
    with pytest.raises(ConfigError, match=r"every target of this model is a regression"):
        OnnxModel(path).predict_proba(some)


@pytest.fixture(scope="module")
def small_model(ett):
    spec = Spec(inputs=ETT_COLUMNS, targets=["OT"], lookback=24, horizon=3, time="date")
    return LSTMModel(spec, channel_independent=False, **TINY).fit(ett)


def test_metadata_records_the_input_schema(small_model, tmp_path):
    path = small_model.export_onnx(tmp_path / "ett.onnx")
    proto = onnx.load(str(path))
    metadata = json.loads({p.key: p.value for p in proto.metadata_props}[METADATA_KEY])
    numeric = metadata["inputs"]["numeric"]
    assert numeric["columns"] == ETT_COLUMNS and numeric["shape"] == ["batch", 24, 7]
    scaler = small_model.encoding_.input_scalers["OT"]
    assert numeric["scalers"]["OT"] == {"kind": "standard", "center": scaler.center,
                                        "scale": scaler.scale}
    assert metadata["inputs"]["lengths"] is None and metadata["inputs"]["categorical"] == []
    assert Spec.from_dict(metadata["spec"]) == small_model.spec_
    assert set(metadata["versions"]) == {"lstmkit", "torch", "python"}
    graph_input = proto.graph.input[0]
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert (graph_input.name, dims) == ("numeric", ["batch", 24, 7])
    assert [o.name for o in proto.graph.output] == ["OT"]


def test_an_existing_file_is_kept_unless_overwrite(small_model, tmp_path):
    path = tmp_path / "ett.onnx"
    path.write_bytes(b"the user's file")
    with pytest.raises(ArtifactError, match="already exists"):
        small_model.export_onnx(path)
    with pytest.raises(ArtifactError, match="not an lstmkit ONNX export, so it is kept"):
        small_model.export_onnx(path, overwrite=True)
    assert path.read_bytes() == b"the user's file"
    path.unlink()
    small_model.export_onnx(path)
    small_model.export_onnx(path, overwrite=True)             # its own export: replaced
    assert OnnxModel(path).metadata["task"] == "forecast"
    assert [p.name for p in tmp_path.iterdir()] == ["ett.onnx"]     # no temporary file left
    with pytest.raises(NotFittedError):
        LSTMModel(small_model.spec_).export_onnx(tmp_path / "unfitted.onnx")


def test_cli_export_and_its_errors(small_model, tmp_path, capsys):
    model_dir = small_model.save(tmp_path / "run")
    out = tmp_path / "out" / "model.onnx"
    assert main(["export", str(model_dir), "--onnx", str(out)]) == 0
    assert OnnxModel(out).metadata["outputs"][0]["name"] == "OT"

    assert main(["export", str(model_dir), "--onnx", str(out)]) == 4
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "already exists" in error and "--overwrite" in error
    assert error.count("\n") == 1
    assert main(["export", str(model_dir), "--onnx", str(out), "--overwrite"]) == 0

    missing = subprocess.run([sys.executable, "-m", "lstmkit", "export", str(tmp_path / "nope"),
                              "--onnx", str(tmp_path / "x.onnx")], capture_output=True, text=True,
                             timeout=300)
    assert missing.returncode == 4
    assert missing.stderr.startswith("error: no model directory") and "Traceback" not in \
        missing.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_inference_path_runs_without_torch(small_model, ett, tmp_path):
    path = small_model.export_onnx(tmp_path / "ett.onnx")
    data = tmp_path / "recent.csv"
    ett.iloc[-50:].to_csv(data, index=False)
    script = (
        "import sys\n"
        "sys.modules['torch'] = None  # any import of torch now fails\n"
        "from lstmkit.deploy.onnx_model import OnnxModel\n"
        f"frame = OnnxModel({str(path)!r}).predict({str(data)!r})\n"
        "assert not [m for m in sys.modules if m.startswith(('torch.', 'lightning'))]\n"
        "print(frame.to_json(orient='records'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    got = pd.DataFrame(json.loads(result.stdout))
    want = small_model.predict(pd.read_csv(data))
    np.testing.assert_allclose(got.OT, want.OT, rtol=RTOL)
    assert got.step.tolist() == [1, 2, 3]


def test_wrong_inputs_to_the_graph_are_named(small_model, tmp_path):
    onnx_model = OnnxModel(small_model.export_onnx(tmp_path / "ett.onnx"))
    with pytest.raises(DataError, match=r"takes inputs \['numeric'\], got \['x'\]"):
        onnx_model.run({"x": np.zeros((1, 24, 7), np.float32)})
    with pytest.raises(DataError, match="onnxruntime rejected the inputs"):
        onnx_model.run({"numeric": np.zeros((1, 23, 7), np.float32)})    # lookback is 24
    with pytest.raises(DataError, match="fewer than lookback = 24"):
        onnx_model.predict(pd.read_csv(ETTH1).iloc[:10])


def test_onnx_model_refuses_foreign_and_missing_files(small_model, tmp_path):
    with pytest.raises(ArtifactError, match="no ONNX file"):
        OnnxModel(tmp_path / "missing.onnx")
    saved, exported = small_model.save(tmp_path / "run"), tmp_path / "run.onnx"
    with pytest.raises(ArtifactError, match=r"no ONNX file at .*\(a directory: a saved model "
                                            r"is LSTMModel\.load\(path\)"):
        OnnxModel(saved)                                           # the two swapped
    with pytest.raises(ArtifactError, match=r"no model directory at .*\(an ONNX file, which "
                                            r"OnnxModel\(path\) runs\)"):
        LSTMModel.load(small_model.export_onnx(exported))
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ArtifactError, match="not a valid ONNX model"):
        OnnxModel(tmp_path / "junk.onnx")


def test_segment_models_of_sequences_are_refused_with_the_fix(shared_data, tmp_path):
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    # No validation part: one epoch loses to 1-NN there, and 1-NN answering refuses export too.
    model = LSTMModel(segment=10, split=Split.train_only(), **{**TINY, "batch_size": 8}).fit(X, y)
    with pytest.raises(ConfigError, match="forecasts only") as info:
        model.export_onnx(tmp_path / "seg.onnx")
    assert "refit without segment" in str(info.value)
    assert not list(tmp_path.iterdir())
