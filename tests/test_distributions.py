"""Distribution targets (issue 30 point 2): a head giving a distribution's parameters,
trained by negative log-likelihood; the mean, quantiles and samples in the table; exact
CRPS and NLL beside the naive probabilistic baseline; saved, exported, served, plotted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr
import torch
import yaml
from scipy import stats
from test_serve import post, running_server

from lstmkit import ConfigError, DataError, Feature, LSTMModel, Spec, Split, Target
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.distributions import DISTRIBUTIONS
from lstmkit.nn.decoders import DECODERS
from lstmkit.storage.card import model_card

COLUMNS = ["y", "y_q10", "y_q50", "y_q90"]
Z90 = stats.norm.ppf(0.9)


def _normal_data(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """y ~ Normal(2x, 0.1 + 0.8 softplus(1.5 x)), x known in advance: the mean and the
    spread both move with it (the default decoder reads x linearly: a monotone spread)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"t": np.arange(n), "x": x, "mu": 2 * x,
                          "sigma": 0.1 + 0.8 * np.logaddexp(0, 1.5 * x)})
    return frame.assign(y=rng.normal(frame.mu, frame.sigma))


@pytest.fixture(scope="module")
def normal_data() -> pd.DataFrame:
    return _normal_data()


@pytest.fixture(scope="module")
def normal_model(normal_data) -> LSTMModel:
    spec = Spec(time="t", inputs=[Feature("x", future=True)], past_targets=False, lookback=4,
                horizon=1, targets=[Target("y", distribution="normal")])
    return LSTMModel(spec, hidden=16, lr=1e-2, max_epochs=12, batch_size=64, progress=False,
                     split=Split(val_start=0.8, test_start=None)).fit(normal_data)


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    """Daily counts with a known rate exp(1 + cycle), the cycle an input."""
    rng = np.random.default_rng(1)
    t = np.arange(700)
    cycle = np.sin(2 * np.pi * t / 7)
    return pd.DataFrame({"t": t, "cycle": cycle, "rate": np.exp(1 + cycle),
                         "n": rng.poisson(np.exp(1 + cycle))})


@pytest.fixture(scope="module")
def poisson_model(counts) -> LSTMModel:
    spec = Spec(time="t", inputs=["cycle"], lookback=14, horizon=2,
                targets=[Target("n", distribution="poisson")])
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=8, batch_size=32, progress=False,
                     split=Split(val_start=0.8, test_start=None)).fit(counts)


@pytest.fixture(scope="module")
def ett(etth1) -> pd.DataFrame:
    return etth1.iloc[:800]


@pytest.fixture(scope="module")
def ett_model(ett) -> LSTMModel:
    """A Student's t target that is also an input: the instance norm maps it."""
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=24, horizon=3,
                targets=[Target("OT", distribution="student_t")])
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=2, batch_size=64,
                     progress=False).fit(ett)


def test_a_target_given_a_distribution_is_that_kind_and_round_trips():
    target = Target("y", distribution="normal")
    assert target.kind == "normal" and target.loss == "nll" and target.quantiles is None
    assert target.target_kind.width(0, target) == 2
    assert Target.from_dict(json.loads(json.dumps(target.to_dict()))) == target
    assert Target.from_dict({"name": "y", "kind": "normal"}) == target
    assert "distribution" not in Target("y").to_dict()            # earlier dicts stay
    count = Target("n", distribution="negative_binomial", quantiles=[0.05, 0.95])
    assert count.scaler == "mean" and count.quantiles == (0.05, 0.95)
    assert Target("n", distribution="poisson", scaler="none").scaler == "none"


@pytest.mark.parametrize(("arguments", "message"), [
    ({"distribution": "gauss"}, "distribution of target 'y' must be one of 'normal', "
                                "'student_t', 'poisson', 'negative_binomial', got 'gauss'"),
    ({"distribution": "normal", "kind": "classification"},
     "distribution applies to numeric targets, but 'y' is classification"),
    ({"distribution": "poisson", "scaler": "robust"},
     "'y' is a poisson count, scaled without centring: its scaler must be 'mean'"),
    ({"distribution": "normal", "loss": "mse"}, "loss of normal target 'y' must be one of 'nll'"),
])
def test_bad_distribution_settings_are_config_errors_that_say_the_fix(arguments, message):
    with pytest.raises(ConfigError, match=message):
        Target("y", **arguments)


def test_a_normal_target_recovers_the_known_mean_and_spread(normal_model, normal_data):
    table = normal_model.predict(normal_data, origins="all")
    # and by default its 80 % interval, conformalised on the validation part
    assert list(table.columns) == ["origin", "step", "time", *COLUMNS, "y_lo_80", "y_hi_80"]
    truth = normal_data.set_index("t").loc[table.time]
    np.testing.assert_allclose(table.y, truth.mu, atol=0.35)
    assert np.corrcoef(table.y, truth.mu)[0, 1] > 0.99
    sigma = (table.y_q90 - table.y_q10) / (2 * Z90)             # a normal's spread
    assert np.corrcoef(sigma, truth.sigma)[0, 1] > 0.9
    assert 0.85 < sigma.mean() / truth.sigma.mean() < 1.15
    assert (table.y_q10 < table.y_q50).all() and (table.y_q50 < table.y_q90).all()
    np.testing.assert_allclose(table.y, table.y_q50, atol=1e-6)  # symmetric: mean = median


def test_the_nll_falls_in_training_and_beats_the_naive_baseline(normal_model, normal_data):
    epochs = normal_model.pipeline_.history["epochs"]
    assert epochs[-1]["val_loss"] < 0.8 * epochs[0]["val_loss"]
    evaluation = normal_model.evaluate(normal_data, part="val")
    metric = evaluation.metric
    assert metric("y", "CRPS") < 0.6 * metric("y", "CRPS", of="naive")
    assert np.isfinite(metric("y", "NLL")) and np.isnan(metric("y", "NLL", of="naive"))
    for share in (80, 95):
        assert abs(metric("y", f"coverage_{share}") - share) < 6
        assert np.isfinite(metric("y", f"MSIS_{share}", of="naive"))
    assert {"pinball_q10", "pinball_q50", "pinball_q90"} <= set(evaluation.table.metric)
    assert "pinball_q2.5" not in set(evaluation.table.metric)    # only the reported levels


def test_samples_come_one_row_each_with_the_predicted_mean_and_spread(normal_model,
                                                                      normal_data):
    window = normal_data.iloc[-5:]
    table = normal_model.predict(window)
    drawn = normal_model.predict(window, samples=4000, seed=0)
    assert list(drawn.columns) == ["origin", "step", "time", "sample", "y"]
    assert len(drawn) == 4000 and drawn["sample"].tolist() == list(range(4000))
    sigma = (table.y_q90 - table.y_q10).iloc[0] / (2 * Z90)
    assert drawn.y.mean() == pytest.approx(table.y.iloc[0], abs=4 * sigma / np.sqrt(4000))
    assert drawn.y.std() == pytest.approx(sigma, rel=0.05)
    again = normal_model.predict(window, samples=4000, seed=0)
    pd.testing.assert_frame_equal(drawn, again)
    with pytest.raises(ConfigError, match="samples= gives a frame"):
        normal_model.predict(window, samples=3, output="array")


def test_a_poisson_target_recovers_the_known_rate(poisson_model, counts):
    table = poisson_model.predict(counts, origins="all")
    assert list(table.columns) == ["origin", "step", "time", "n", "n_q10", "n_q50", "n_q90",
                                   "n_lo_80", "n_hi_80"]
    rate = np.exp(1 + np.sin(2 * np.pi * table.time / 7))       # also past the data's end
    assert np.abs(table.n - rate).mean() < 0.4
    for q in ("n_q10", "n_q50", "n_q90"):                          # quantiles are counts
        assert (table[q] == table[q].round()).all() and (table[q] >= 0).all()
    drawn = poisson_model.predict(counts, samples=500, seed=1)
    assert (drawn.n == drawn.n.round()).all()
    assert drawn.groupby("step").n.mean().to_numpy() == pytest.approx(
        poisson_model.predict(counts).n.to_numpy(), rel=0.15)
    evaluation = poisson_model.evaluate(counts, part="val")
    assert evaluation.metric("n", "CRPS") < evaluation.metric("n", "CRPS", of="naive")
    assert np.isfinite(evaluation.metric("n", "NLL"))


def test_bad_count_data_is_a_data_error_naming_the_column_the_value_and_the_row(counts):
    spec = Spec(time="t", inputs=["cycle"], lookback=14, horizon=2,
                targets=[Target("n", distribution="negative_binomial")])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False)
    for bad, shown in ((2.5, "2.5"), (-1, "-1")):
        frame = counts.astype({"n": float})
        frame.loc[30, "n"] = bad
        with pytest.raises(DataError, match=f"target 'n' is a negative_binomial count and needs "
                                            f"non-negative integers, but holds {shown} at row 30"):
            model.fit(frame)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_the_exact_crps_and_nll_agree_with_scoringrules_and_scipy(name):
    rng = np.random.default_rng(0)
    kind = DISTRIBUTIONS[name]
    n = 300
    params = {"normal": [rng.normal(0, 3, n), rng.uniform(0.2, 3, n)],
              "student_t": [rng.normal(0, 3, n), rng.uniform(0.2, 3, n), rng.uniform(2.1, 9, n)],
              "poisson": [rng.uniform(0.1, 40, n)],
              "negative_binomial": [rng.uniform(0.1, 40, n), rng.uniform(0.01, 2, n)]}[name]
    params = np.stack(params, axis=-1)
    y = kind.sample(params, 1, rng)[:, 0]
    ours = kind.crps(y, params)
    if name == "normal":
        exact = sr.crps_normal(y, params[:, 0], params[:, 1])
    elif name == "student_t":
        exact = sr.crps_t(y, params[:, 2], params[:, 0], params[:, 1])
    elif name == "poisson":
        exact = sr.crps_poisson(y, params[:, 0])
    else:
        exact = sr.crps_negbinom(y, 1 / params[:, 1], mu=params[:, 0])
    np.testing.assert_allclose(ours, exact, rtol=1e-5, atol=1e-6)
    # the training loss (torch, scaled units = original here) is the NLL metric
    loss = kind.target_loss(Target("y", distribution=name))(
        torch.from_numpy(params), torch.from_numpy(y), reduction="none")
    np.testing.assert_allclose(loss.numpy(), kind.nll(y, params), rtol=1e-6, atol=1e-8)


def test_a_count_loss_is_the_likelihood_in_counts_whatever_the_scale():
    kind, target = DISTRIBUTIONS["negative_binomial"], Target("n", distribution="negative_binomial")
    counts = torch.tensor([[0.0, 3.0, 12.0]], dtype=torch.float64)
    params = torch.tensor([[[2.0, 0.5], [4.0, 0.5], [9.0, 0.5]]], dtype=torch.float64)
    scaler = type("Scaler", (), {"scale": 4.0, "center": 0.0})()   # the mean scaler's 4
    scaled = params.clone()
    scaled[..., 0] /= 4
    in_counts = kind.target_loss(target)(params, counts, reduction="none")
    in_units = kind.target_loss(target, scaler)(scaled, counts / 4, reduction="none")
    np.testing.assert_allclose(in_units.numpy(), in_counts.numpy(), rtol=1e-12)


def test_parameters_stay_valid_from_an_untrained_network_fed_extreme_inputs():
    raw = torch.from_numpy(np.random.default_rng(0).normal(0, 50, (1000, 3)))
    params = DISTRIBUTIONS["student_t"].constrain(raw)
    assert (params[:, 1] > 0).all() and (params[:, 2] > 2).all()
    assert (DISTRIBUTIONS["negative_binomial"].constrain(raw[:, :2]) > 0).all()


def test_the_instance_norm_maps_the_location_and_only_scales_the_spread(ett_model, ett):
    norm = ett_model.pipeline_.network.norm
    assert norm.columns.tolist() == [0, 1]                 # loc and scale; df is left alone
    window = ett.iloc[-24:]
    table = ett_model.predict(window)
    shifted = ett_model.predict(window.assign(OT=window.OT + 100))
    widths = ["OT_q90", "OT_q10"]
    np.testing.assert_allclose(shifted.OT - table.OT, 100, atol=1e-3)
    np.testing.assert_allclose(np.diff(shifted[widths], axis=1), np.diff(table[widths], axis=1),
                               rtol=1e-4)
    # a window 3 times as spread out (about its mean) gives a spread 3 times as wide
    mean = window.OT.mean()
    stretched = ett_model.predict(window.assign(OT=mean + 3 * (window.OT - mean)))
    ratio = np.diff(stretched[widths], axis=1) / np.diff(table[widths], axis=1)
    assert 2 < ratio.mean() < 4


@pytest.mark.parametrize("decoder", [name for name, d in DECODERS.items() if not d.aligned])
def test_every_forecast_decoder_gives_valid_distributions(decoder, ett):
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=12, horizon=3,
                targets=["HUFL", Target("OT", distribution="normal")])
    model = LSTMModel(spec, hidden=4, max_epochs=1, decoder=decoder, progress=False)
    table = model.fit(ett.iloc[:300]).predict(ett.iloc[:300], origins="all")
    quantiles = table[["OT_q10", "OT_q50", "OT_q90"]].to_numpy()
    assert np.isfinite(quantiles).all() and (np.diff(quantiles, axis=1) > 0).all()


def test_inputs_known_in_advance_move_the_location_only(ett, tmp_path):
    frame = ett.iloc[:300].assign(hour=np.arange(300) % 24)
    spec = Spec(time="date", inputs=["OT", Feature("hour", future=True)], lookback=12,
                horizon=3, targets=[Target("OT", distribution="normal")])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(frame)
    before = model.predict(frame, origins="all")
    with torch.no_grad():
        model.pipeline_.network.future_effect.weight.normal_(0, 100)    # a strong effect
    after = model.predict(frame, origins="all")
    assert (after.OT - before.OT).abs().max() > 10
    np.testing.assert_allclose(after.OT_q90 - after.OT_q10, before.OT_q90 - before.OT_q10,
                               rtol=1e-4)
    exported = OnnxModel(model.export_onnx(tmp_path / "future.onnx")).predict(frame,
                                                                              origins="all")
    names = ["OT", "OT_q10", "OT_q50", "OT_q90"]
    np.testing.assert_allclose(exported[names], after[names], rtol=1e-5, atol=1e-4)


def test_a_distribution_target_mixes_with_a_classification_target(seattle):
    spec = Spec(time="date", inputs=["temp_max", "wind", Feature("weather", kind="categorical")],
                targets=[Target("temp_max", distribution="student_t"),
                         Target("weather", kind="classification")], lookback=14, horizon=2)
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(seattle.iloc[:500])
    table = model.predict(seattle.iloc[:500])
    assert list(table.columns[3:7]) == ["temp_max", "temp_max_q10", "temp_max_q50",
                                        "temp_max_q90"]
    assert list(table.columns[7:10]) == ["temp_max_lo_80", "temp_max_hi_80", "weather"]
    metrics = model.evaluate(seattle.iloc[:500]).table
    assert {"NLL", "CRPS", "coverage_95"} <= set(metrics[metrics.target == "temp_max"].metric)
    assert "accuracy" in set(metrics[metrics.target == "weather"].metric)
    drawn = model.predict(seattle.iloc[:500], samples=3, seed=0)
    assert drawn.weather.nunique() == table.weather.nunique()      # its labels, repeated


def test_saved_and_loaded_it_predicts_identically(poisson_model, counts, tmp_path):
    poisson_model.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["spec"]["targets"][0]["distribution"] == "poisson"
    assert config["encoding"]["target_scalers"]["n"]["center"] == 0
    loaded = LSTMModel.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.predict(counts, origins="all"),
                                  poisson_model.predict(counts, origins="all"))
    assert loaded.evaluate(counts).table.equals(poisson_model.evaluate(counts).table)
    assert "a poisson distribution; quantiles 0.1, 0.5, 0.9 (columns n_q10, n_q50, n_q90; " \
           "`n` is the mean)" in model_card(loaded)


def test_onnx_gives_the_parameters_and_the_columns_predict_gives(ett_model, ett, tmp_path):
    onnx = OnnxModel(ett_model.export_onnx(tmp_path / "model.onnx"))
    [output] = onnx.metadata["outputs"]
    assert output["name"] == "OT_params" and output["shape"][-1] == 3
    assert output["distribution"] == "student_t"
    assert output["parameters"] == ["loc", "scale", "df"]
    exported, predicted = onnx.predict(ett, origins="all"), ett_model.predict(ett, origins="all")
    assert list(exported.columns) == list(predicted.columns)
    names = ["OT", "OT_q10", "OT_q50", "OT_q90"]
    np.testing.assert_allclose(exported[names], predicted[names], rtol=1e-5, atol=1e-5)


def test_the_server_returns_the_mean_and_quantile_columns(poisson_model, counts, tmp_path):
    directory = poisson_model.save(tmp_path / "model")
    recent = counts.iloc[-30:].reset_index(drop=True)
    with running_server(directory) as url:
        response = post(url, recent, "json")
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    names = ["n", "n_q10", "n_q50", "n_q90"]
    pd.testing.assert_frame_equal(served[names], poisson_model.predict(recent)[names],
                                  check_dtype=False, rtol=1e-6)


def test_a_yaml_config_declares_a_distribution_and_the_cli_predicts_it(ett, tmp_path):
    ett.iloc[:300].to_csv(tmp_path / "ett.csv", index=False)
    config = {"data": {"path": "ett.csv"},
              "spec": {"time": "date", "inputs": ["HUFL", "OT"], "lookback": 12, "horizon": 2,
                       "targets": [{"name": "OT", "distribution": "normal",
                                    "quantiles": [0.05, 0.95]}]},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"NLL", "CRPS", "pinball_q5", "coverage_90", "coverage_80"} <= set(
        metrics["targets"]["OT"])
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "ett.csv"), "-o",
                 str(tmp_path / "out.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["origin", "step", "time", "OT",
                                                              "OT_q5", "OT_q95", "OT_lo_90",
                                                              "OT_hi_90"]


def test_the_forecast_plot_shades_the_calibrated_interval(ett_model, ett):
    from matplotlib.collections import PolyCollection

    figure = plots.forecasts(ett_model, ett, origins=2)
    bands = [c for c in figure.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2                                           # one per origin
    assert "80 % conformal interval" in figure.axes[0].get_legend_handles_labels()[1]


def test_channel_independence_refuses_a_distribution_target(ett):
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=12, horizon=3,
                targets=[Target("OT", distribution="normal")])
    with pytest.raises(ConfigError, match=r"target 'OT' is not a numeric regression input "
                                          r"\(it is normal\)"):
        LSTMModel(spec, hidden=4, max_epochs=1, channel_independent=True,
                  progress=False).fit(ett.iloc[:300])


def test_samples_need_a_distribution_target(ett):
    spec = Spec(time="date", inputs=["OT"], lookback=12, targets=["OT"])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(ett.iloc[:300])
    with pytest.raises(ConfigError, match="this model has none"):
        model.predict(ett.iloc[:300], samples=10)
