"""Target kinds as objects: a kind written and registered here, in this file alone, fits,
predicts, evaluates, saves, loads and exports like the built-in ones.

The ``count`` kind below is the check that adding a kind touches one place: a count has a
log-rate output (one channel), the Poisson loss, and ``exp`` as its output activation, in
numpy (``decode``) and in the exported graph (``graph_output``) alike.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from lstmkit import ArtifactError, ConfigError, LSTMModel, Spec, Target
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.kinds import KINDS, Decoded, Regression, TargetKind, register_kind
from lstmkit.spec import TARGET_KINDS
from lstmkit.training.losses import MultiTargetLoss


class Count(Regression):
    """A count: the head gives the log of its rate, the loss is Poisson's."""

    name, losses = "count", ("poisson",)
    value_channel = shares_head = False

    def activate(self, logits):
        return logits.exp()

    def loss_function(self, loss):
        def poisson(outputs, truth, reduction="mean"):
            return F.poisson_nll_loss(outputs, truth, log_input=True, reduction=reduction)
        return poisson

    def graph_output(self, outputs, scaler):
        return outputs[..., 0].exp() * scaler.scale + scaler.center

    def decode(self, target, encoding, outputs):
        return super().decode(target, encoding, np.exp(outputs.astype(np.float64)))

    def scored(self, target, encoding, truth, outputs, baselines):
        return super().scored(target, encoding, truth, np.exp(outputs.astype(np.float64)),
                              baselines)


COUNT = register_kind(Count())


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    """Daily counts whose rate follows a weekly cycle, with the cycle as an input."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    cycle = np.sin(2 * np.pi * t / 7)
    return pd.DataFrame({"t": t, "cycle": cycle, "n": rng.poisson(np.exp(1 + cycle))})


@pytest.fixture(scope="module")
def count_model(counts) -> LSTMModel:
    spec = Spec(time="t", inputs=["cycle"], targets=[Target("n", kind="count", scaler="none")],
                lookback=14, horizon=2)
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=15, batch_size=32,
                     progress=False).fit(counts)


def test_a_registered_kind_is_a_target_kind_with_its_own_default_loss():
    target = Target("n", kind="count")
    assert target.loss == "poisson" and target.target_kind is COUNT
    assert "count" in TARGET_KINDS and not target.categorical
    assert Target.from_dict(json.loads(json.dumps({"name": "n", "kind": "count"}))) == target
    with pytest.raises(ConfigError, match="loss of count target 'n' must be one of 'poisson'"):
        Target("n", kind="count", loss="mse")


def test_the_kind_gives_the_loss_the_head_width_and_the_output_activation(count_model):
    outputs, truth = torch.randn(4, 2, 1), torch.tensor([[[0.0], [3.0]]] * 4)
    loss = MultiTargetLoss(list(count_model.spec_.targets), [slice(0, 1)])
    assert torch.allclose(loss(outputs, truth), F.poisson_nll_loss(outputs, truth))
    assert count_model.network_.config.outputs[0].width == 1
    recent = _recent_counts()
    predicted = count_model.predict(recent, output="array")          # (windows, horizon, 1)
    raw = _network_outputs(count_model, recent)
    np.testing.assert_allclose(predicted[..., 0], np.exp(raw[..., 0]), rtol=1e-6)
    assert (predicted > 0).all()      # a rate, never negative as a linear output may be


def test_a_count_model_learns_and_is_scored_beside_the_naive_forecast(counts, count_model):
    evaluation = count_model.evaluate(counts, part="test")
    assert set(evaluation.table.metric) == {"MAE", "RMSE", "sMAPE", "R2", "MASE", "RMSSE"}
    # the cycle is an input: the rate it gives beats repeating yesterday's count
    assert evaluation.metric("n", "MAE") < evaluation.metric("n", "MAE", of="naive")
    assert count_model.score(counts) == count_model.evaluate(counts).metric("n", "R2")   # its
    # score_metric, as scikit-learn's scoring reads it


def test_a_count_model_saves_loads_and_exports_with_the_same_predictions(counts, count_model,
                                                                         tmp_path):
    predicted = count_model.predict(counts, origins="all")
    count_model.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["spec"]["targets"][0]["kind"] == "count"
    loaded = LSTMModel.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.predict(counts, origins="all"), predicted)
    onnx = OnnxModel(count_model.export_onnx(tmp_path / "count.onnx"))
    assert [o["kind"] for o in onnx.metadata["outputs"]] == ["count"]
    exported = onnx.predict(counts, origins="all")
    assert list(exported.columns) == list(predicted.columns)
    np.testing.assert_allclose(exported.n, predicted.n, rtol=1e-5)


def test_a_saved_model_of_a_kind_not_registered_says_to_register_it(count_model, tmp_path):
    count_model.save(tmp_path / "model")
    config = tmp_path / "model" / "config.json"
    config.write_text(config.read_text().replace('"count"', '"rate"'))
    with pytest.raises(ArtifactError, match=r"got 'rate'.*register_kind"):
        LSTMModel.load(tmp_path / "model")


def test_register_kind_refuses_what_would_break_the_registry():
    with pytest.raises(ConfigError, match="registered already"):
        register_kind(Count())                  # another object under a taken name
    assert register_kind(COUNT) is COUNT        # the same object again: nothing changes

    class Nameless(TargetKind):
        losses = ("mse",)
    with pytest.raises(ConfigError, match="needs a name"):
        register_kind(Nameless())

    class Lossless(TargetKind):
        name, score_metric = "lossless", "R2"
    with pytest.raises(ConfigError, match="lists no losses"):
        register_kind(Lossless())

    class Unscored(TargetKind):
        name, losses = "unscored", ("mse",)
    with pytest.raises(ConfigError, match="no score_metric"):
        register_kind(Unscored())
    with pytest.raises(ConfigError, match="TargetKind instance"):
        register_kind("count")
    assert "lossless" not in KINDS and "unscored" not in KINDS


def test_an_unknown_kind_is_refused_with_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'count'"):
        Target("n", kind="cont")


def test_the_loss_of_every_built_in_kind_pickles_as_ddp_spawn_needs():
    targets = [Target("a"), Target("k", kind="classification"), Target("b", kind="binary")]
    loss = MultiTargetLoss(targets, [slice(0, 1), slice(1, 4), slice(4, 5)])
    outputs, truth = torch.randn(2, 3, 5), torch.tensor([[[0.5, 2.0, 1.0]] * 3] * 2)
    assert torch.equal(pickle.loads(pickle.dumps(loss))(outputs, truth), loss(outputs, truth))


def test_built_in_kinds_decode_to_the_table_columns_predict_shows():
    proba = np.array([[[0.2, 0.8]], [[0.9, 0.1]]])
    decoded = Decoded(np.array([["b"], ["a"]], dtype=object), proba, ("a", "b"))
    assert list(KINDS["binary"].columns("y", decoded)) == ["y", "y_proba_b"]
    columns = KINDS["classification"].columns("y", decoded)
    assert list(columns) == ["y", "y_proba_a", "y_proba_b"]
    np.testing.assert_array_equal(columns["y_proba_a"], [0.2, 0.9])
    assert [KINDS[k].width(5) for k in ("regression", "classification", "binary")] == [1, 5, 1]


def _recent_counts() -> pd.DataFrame:
    """Counts of 40 other days, drawn as ``counts`` draws them."""
    rng = np.random.default_rng(1)
    t = np.arange(40)
    cycle = np.sin(2 * np.pi * t / 7)
    return pd.DataFrame({"t": t, "cycle": cycle, "n": rng.poisson(np.exp(1 + cycle))})


def _network_outputs(model: LSTMModel, data: pd.DataFrame) -> np.ndarray:
    """The network's raw outputs (windows, steps, 1) for the last window of ``data``."""
    from lstmkit.data import prepare

    pipeline = model.pipeline_
    groups = pipeline._groups(data, None, need_targets=False)
    encoded = prepare.encode(groups, pipeline.spec, pipeline.encoding, with_targets=False)
    outputs, _ = pipeline.outputs(prepare.predict_windows(encoded, pipeline.spec, "last"))
    return outputs
