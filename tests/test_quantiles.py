"""Quantile targets (issue 30 point 1): one output per level, non-crossing by construction,
trained with the pinball loss, everywhere a point prediction goes (the table, saved models,
YAML, ONNX, the server, the plot, the card), scored in original units beside the naive
probabilistic baseline."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr
import torch
import yaml
from scipy.stats import norm
from test_serve import post, running_server

from lstmkit import ArtifactError, ConfigError, Feature, LSTMModel, Spec, Split, Target
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from lstmkit.cli.config import RunConfig
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.kinds import KINDS
from lstmkit.metrics import crps_from_quantiles, quantile_metrics
from lstmkit.nn.decoders import DECODERS
from lstmkit.storage.card import model_card

LEVELS = (0.1, 0.5, 0.9)
COLUMNS = ["OT", "OT_q10", "OT_q50", "OT_q90"]


@pytest.fixture(scope="module")
def ett(etth1) -> pd.DataFrame:
    return etth1.iloc[:1600]


@pytest.fixture(scope="module")
def ett_model(ett) -> LSTMModel:
    spec = Spec(time="date", inputs=["HUFL", "OT"], targets=[Target("OT", quantiles=LEVELS)],
                lookback=24, horizon=4)
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=4, batch_size=64, progress=False,
                     split=Split(val_start=0.7, test_start=None)).fit(ett)


@pytest.fixture(scope="module")
def mixed(seattle) -> LSTMModel:
    """A quantile target beside regression, classification and binary targets, in one model."""
    spec = Spec(time="date", inputs=["temp_max", "wind", Feature("weather", kind="categorical")],
                targets=[Target("temp_max", quantiles=[0.05, 0.5, 0.95]), "temp_min",
                         Target("weather", kind="classification"), Target("rain", kind="binary")],
                lookback=14, horizon=2)
    return LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(_rainy(seattle))


def _rainy(seattle: pd.DataFrame) -> pd.DataFrame:
    return seattle.iloc[:500].assign(rain=seattle.precipitation.iloc[:500] > 0)


def test_a_target_given_quantiles_is_a_quantile_target_that_round_trips():
    target = Target("OT", quantiles=[0.1, 0.5, 0.9])
    assert target.kind == "quantile" and target.quantiles == LEVELS and target.loss == "pinball"
    assert target.target_kind.width(0, target) == 3
    assert Target.from_dict(json.loads(json.dumps(target.to_dict()))) == target
    assert "quantiles" not in Target("OT").to_dict()       # earlier dicts stay the same
    spec = Spec(inputs=["OT"], targets=[target], lookback=4)
    assert Spec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec


@pytest.mark.parametrize(("arguments", "message"), [
    ({"quantiles": [0.9, 0.1]}, r"sorted and unique, got \[0.9, 0.1\]; write them as \[0.1, 0.9\]"),
    ({"quantiles": [0.1, 0.1]}, "sorted and unique"),
    ({"quantiles": [0.0, 0.5]}, r"quantile 0.0 of target 'OT' must be a number between 0 and 1"),
    ({"quantiles": [0.5, 1.2]}, "quantile 1.2 of target 'OT'"),
    ({"quantiles": ["0.5"]}, "quantile '0.5' of target 'OT'"),
    ({"quantiles": []}, "non-empty list of numbers in \\(0, 1\\)"),
    ({"quantiles": 0.5}, "non-empty list"),
    ({"quantiles": [0.5], "kind": "classification"},
     "quantiles apply to numeric targets, but 'OT' is classification; drop quantiles"),
    ({"quantiles": [0.5], "kind": "binary"}, "'OT' is binary"),
    ({"kind": "quantile"}, "needs quantiles, such as quantiles=\\[0.1, 0.5, 0.9\\]"),
    ({"quantiles": [0.5], "loss": "mse"}, "loss of quantile target 'OT' must be one of 'pinball'"),
])
def test_bad_quantiles_are_config_errors_that_say_the_fix(arguments, message):
    with pytest.raises(ConfigError, match=message):
        Target("OT", **arguments)


def test_quantiles_never_cross_even_from_an_untrained_network_fed_extreme_inputs(ett_model, ett):
    rng = np.random.default_rng(0)
    raw = torch.from_numpy(rng.normal(0, 50, (1000, 4, 5)))
    assert (KINDS["quantile"].constrain(raw).diff(dim=-1) >= 0).all()
    network = ett_model.pipeline_.network                 # with the instance norm mapping OT
    untrained = type(network)(network.config)
    with torch.no_grad():
        for parameter in untrained.parameters():
            parameter.normal_(0, 5)
        x = torch.from_numpy(rng.normal(0, 1e4, (64, 24, 2)).astype(np.float32))
        quantiles = untrained(x)                                             # (64, 4, 3)
    assert torch.isfinite(quantiles).all() and (quantiles.diff(dim=-1) >= 0).all()
    table = ett_model.predict(ett, origins="all")
    assert (table.OT_q10 <= table.OT_q50).all() and (table.OT_q50 <= table.OT_q90).all()


def test_the_table_gives_the_median_and_one_column_per_quantile(ett_model, ett):
    table = ett_model.predict(ett)
    assert list(table.columns) == ["origin", "step", "time", *COLUMNS, "OT_lo_80",
                                   "OT_hi_80"] and len(table) == 4    # CQR, by default
    np.testing.assert_array_equal(table.OT, table.OT_q50)          # 0.5 asked for: the median
    array = ett_model.predict(ett, output="array")
    assert array.shape == (1, 4, 1)                                # the point values, as today
    np.testing.assert_allclose(array[0, :, 0], table.OT, rtol=1e-6)


def test_without_the_median_the_point_is_interpolated_between_the_levels_around_it():
    decoded = KINDS["quantile"].decode_graph(Target("y", quantiles=[0.025, 0.25, 0.75]), None,
                                             np.array([[[0.0, 1.0, 3.0]]]))
    assert decoded.values[0, 0] == pytest.approx(2.0)              # midway from 0.25 to 0.75
    columns = KINDS["quantile"].columns("y", decoded)
    assert list(columns) == ["y", "y_q2.5", "y_q25", "y_q75"]


def test_quantiles_learn_on_real_data_as_well_as_the_naive_probabilistic_baseline(ett_model, ett):
    evaluation = ett_model.evaluate(ett, part="val")
    metric = evaluation.metric
    # After 4 epochs of a tiny network, no worse than persistence with the training part's
    # error quantiles (its pinball and CRPS within 1.2 times), and the 80 % interval near 80 %.
    assert metric("OT", "CRPS") <= 1.2 * metric("OT", "CRPS", of="naive")
    for level in ("q10", "q50", "q90"):
        assert metric("OT", f"pinball_{level}") <= 1.2 * metric("OT", f"pinball_{level}",
                                                                  of="naive")
    assert 60 <= metric("OT", "coverage_80") <= 95
    assert 60 <= metric("OT", "coverage_80", of="naive") <= 95
    steps = evaluation.per_step[evaluation.per_step.metric == "coverage_80"]
    assert steps.step.tolist() == [1, 2, 3, 4] and steps.naive.notna().all()
    assert np.isnan(evaluation.metric("OT", "coverage_80", of="skill"))   # no better direction
    # the table's quantiles of the validation rows, scored here, agree
    table = ett_model.predict(ett.iloc[1120 - 24:], origins="all")
    truth = pd.Series(ett.OT.to_numpy(), index=pd.to_datetime(ett.date))
    known = table.time.isin(truth.index)
    own = quantile_metrics(truth[table.time[known]].to_numpy(),
                           table.loc[known, ["OT_q10", "OT_q50", "OT_q90"]].to_numpy(), LEVELS, 1)
    assert known.sum() > 1000
    assert own["coverage_80"] == pytest.approx(metric("OT", "coverage_80"), abs=5)


def test_a_quantile_target_mixes_with_the_other_kinds(mixed, seattle):
    table = mixed.predict(_rainy(seattle))
    # calibrated by default at the 90 % its quantiles hold: every number target's interval
    assert mixed.conformal_["coverage"] == [0.9]
    assert list(table.columns[3:]) == [
        "temp_max", "temp_max_q5", "temp_max_q50", "temp_max_q95", "temp_max_lo_90",
        "temp_max_hi_90", "temp_min", "temp_min_lo_90", "temp_min_hi_90", "weather",
        *[f"weather_proba_{c}" for c in sorted(seattle.weather.iloc[:500].unique())],
        "rain", "rain_proba_True"]
    metrics = mixed.evaluate(_rainy(seattle)).table
    assert {"CRPS", "coverage_90", "MSIS_90"} <= set(metrics[metrics.target == "temp_max"].metric)
    assert set(metrics[metrics.target == "temp_min"].metric) == {
        "MAE", "RMSE", "sMAPE", "R2", "MASE", "RMSSE", "coverage_90_conformal",
        "width_90_conformal", "MSIS_90_conformal"}
    assert set(metrics[metrics.target == "rain"].metric) == {"accuracy", "macro_F1", "ECE", "Brier"}


def test_a_seq2seq_target_per_step_gives_quantiles_and_is_scored_per_step():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.repeat(np.arange(60), 8), "x": rng.normal(size=480)})
    frame["y"] = frame.x.cumsum() * 0.1 + rng.normal(size=480) * 0.1
    spec = Spec(task="seq2seq", sequence="id", inputs=["x"],
                targets=[Target("y", quantiles=LEVELS)])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, coverage=[]).fit(frame)
    table = model.predict(frame)
    assert list(table.columns) == ["id", "step", "y", "y_q10", "y_q50", "y_q90"]
    assert (np.diff(table[["y_q10", "y_q50", "y_q90"]].to_numpy(), axis=1) >= 0).all()
    evaluation = model.evaluate(frame)
    assert np.isfinite(evaluation.metric("y", "CRPS", of="naive"))
    assert set(evaluation.per_step.step) == set(range(1, 9))


@pytest.mark.parametrize("decoder", [name for name, d in DECODERS.items() if not d.aligned])
def test_every_forecast_decoder_gives_quantiles_that_never_cross(decoder, ett):
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=12, horizon=3,
                targets=["HUFL", Target("OT", quantiles=LEVELS)])
    model = LSTMModel(spec, hidden=4, max_epochs=1, decoder=decoder, progress=False)
    table = model.fit(ett.iloc[:400]).predict(ett.iloc[:400], origins="all")
    assert (np.diff(table[["OT_q10", "OT_q50", "OT_q90"]].to_numpy(), axis=1) >= 0).all()


def test_a_sequence_task_scores_against_the_training_distributions_quantiles():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.repeat(np.arange(120), 6), "x": rng.normal(size=720)})
    frame["y"] = frame.groupby("id").x.transform("sum") + np.repeat(rng.normal(size=120), 6)
    spec = Spec(task="sequence", sequence="id", inputs=["x"],
                targets=[Target("y", quantiles=[0.25, 0.75])])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(frame)
    naive = model.evaluate(frame, part="train")
    assert naive.metric("y", "coverage_50", of="naive") == pytest.approx(50, abs=3)


def test_saved_and_loaded_it_predicts_identically(ett_model, ett, tmp_path):
    ett_model.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["spec"]["targets"][0] == {"name": "OT", "kind": "quantile", "scaler": "standard",
                                            "loss": "pinball", "weight": 1.0,
                                            "quantiles": list(LEVELS)}
    assert np.array(config["naive_spread"]["OT"]).shape == (4, 3)
    loaded = LSTMModel.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.predict(ett, origins="all"),
                                  ett_model.predict(ett, origins="all"))
    assert loaded.evaluate(ett).table.equals(ett_model.evaluate(ett).table)
    card = model_card(loaded)
    assert "quantiles 0.1, 0.5, 0.9 (columns OT_q10, OT_q50, OT_q90; `OT` is the median)" in card


def test_onnx_gives_the_quantiles_predict_gives(ett_model, ett, tmp_path):
    onnx = OnnxModel(ett_model.export_onnx(tmp_path / "model.onnx"))
    [output, intervals] = onnx.metadata["outputs"]         # CQR's 80 % interval, by default
    assert output["name"] == "OT_quantiles" and output["shape"][-1] == 3
    assert intervals["name"] == "OT_intervals" and intervals["coverage"] == [0.8]
    assert output["quantiles"] == list(LEVELS)
    exported, predicted = onnx.predict(ett, origins="all"), ett_model.predict(ett, origins="all")
    assert list(exported.columns) == list(predicted.columns)
    np.testing.assert_allclose(exported[COLUMNS], predicted[COLUMNS], rtol=1e-5, atol=1e-5)


def test_a_yaml_config_declares_quantiles_and_the_cli_predicts_them(ett, tmp_path):
    ett.iloc[:400].to_csv(tmp_path / "ett.csv", index=False)
    config = {"data": {"path": "ett.csv"},
              "spec": {"time": "date", "inputs": ["HUFL", "OT"], "lookback": 12, "horizon": 2,
                       "targets": [{"name": "OT", "quantiles": [0.1, 0.5, 0.9]}]},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert RunConfig.read(tmp_path / "run.yaml").spec.targets[0].quantiles == LEVELS
    assert main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"CRPS", "coverage_80", "MSIS_80"} <= set(metrics["targets"]["OT"])
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "ett.csv"), "-o",
                 str(tmp_path / "out.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["origin", "step", "time", *COLUMNS,
                                                              "OT_lo_80", "OT_hi_80"]


def test_the_server_returns_the_quantile_columns(ett_model, ett, tmp_path):
    directory = ett_model.save(tmp_path / "model")
    recent = ett.iloc[-40:].reset_index(drop=True)
    with running_server(directory) as url:
        response = post(url, recent, "json")
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    expected = ett_model.predict(recent)
    pd.testing.assert_frame_equal(served[COLUMNS], expected[COLUMNS], rtol=1e-6)


def test_the_forecast_plot_shades_the_band_between_the_outermost_quantiles(ett_model, ett):
    from matplotlib.collections import PolyCollection

    uncalibrated = copy.deepcopy(ett_model)
    uncalibrated.pipeline_.conformal = None            # calibrated, the conformal one is shaded
    figure = plots.forecasts(uncalibrated, ett, origins=2)
    bands = [c for c in figure.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    assert "80 % band" in figure.axes[0].get_legend_handles_labels()[1]


def test_crps_from_many_quantiles_matches_the_closed_form_of_a_normal():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(0, 1, 500), rng.uniform(0.5, 2, 500)
    y = rng.normal(mu, sigma)
    levels = np.arange(1, 200) / 200
    quantiles = mu[:, None] + sigma[:, None] * norm.ppf(levels)[None]
    ours = crps_from_quantiles(y, quantiles, tuple(levels))
    exact = sr.crps_normal(y, mu, sigma)
    np.testing.assert_allclose(ours, exact, atol=0.01 * exact.mean())
    assert ours.mean() == pytest.approx(exact.mean(), rel=1e-3)
    assert ours.mean() == pytest.approx(sr.crps_quantile(y, quantiles, levels).mean(), rel=1e-2)
    metrics = quantile_metrics(y, quantiles, tuple(levels), 1.0)
    assert metrics["CRPS"] == pytest.approx(ours.mean())
    assert metrics["coverage_98"] == pytest.approx(98, abs=2)        # 0.01 .. 0.99


def test_the_pinball_training_loss_is_the_pinball_metric_in_scaled_units():
    target = Target("y", quantiles=LEVELS)
    outputs, truth = torch.randn(8, 3, 3, dtype=torch.float64), torch.randn(8, 3,
                                                                         dtype=torch.float64)
    loss = target.target_kind.target_loss(target)(outputs, truth)
    quantiles = outputs.numpy()
    metrics = quantile_metrics(truth.numpy(), quantiles, LEVELS, 1.0)
    assert loss.item() == pytest.approx(np.mean([metrics[f"pinball_q{p}"] for p in (10, 50, 90)]))


def test_the_instance_norm_maps_every_quantile_back_with_its_targets_statistics(ett_model, ett):
    norm = ett_model.pipeline_.network.norm              # the default: revin with a fallback
    assert norm is not None and norm.columns.tolist() == [0, 1, 2]
    assert norm.trust.eq(1).all()                        # quantiles never move towards naive
    # The window's OT level comes back through the norm: the same window 100 higher
    # gives quantiles 100 higher, all of them.
    window = ett.iloc[-24:]
    shifted = ett_model.predict(window.assign(OT=window.OT + 100))
    np.testing.assert_allclose(shifted[COLUMNS] - ett_model.predict(window)[COLUMNS], 100,
                               atol=1e-3)


def test_inputs_known_in_advance_act_on_all_quantiles_alike(ett, tmp_path):
    frame = ett.iloc[:400].assign(hour=np.arange(400) % 24)
    spec = Spec(time="date", inputs=["OT", Feature("hour", future=True)], lookback=12,
                horizon=3, targets=[Target("OT", quantiles=LEVELS)])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(frame)
    with torch.no_grad():
        model.pipeline_.network.future_effect.weight.normal_(0, 100)    # a strong effect
    table = model.predict(frame, origins="all")
    assert (np.diff(table[["OT_q10", "OT_q50", "OT_q90"]].to_numpy(), axis=1) >= 0).all()
    exported = OnnxModel(model.export_onnx(tmp_path / "future.onnx")).predict(frame, origins="all")
    np.testing.assert_allclose(exported[COLUMNS], table[COLUMNS], rtol=1e-5, atol=1e-4)


def test_a_saved_naive_spread_that_does_not_fit_the_spec_is_refused(ett_model, tmp_path):
    ett_model.save(tmp_path / "model")
    config = tmp_path / "model" / "config.json"
    data = json.loads(config.read_text())
    data["naive_spread"] = {"HUFL": data["naive_spread"]["OT"]}
    config.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="naive_spread names 'HUFL', which is not a quantile "
                                            "target"):
        LSTMModel.load(tmp_path / "model")
    data["naive_spread"] = {"OT": [[0.1, 0.2]]}
    config.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="rows of 3 numbers"):
        LSTMModel.load(tmp_path / "model")


def test_channel_independence_refuses_a_quantile_target_and_says_why(ett):
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=12, horizon=3,
                targets=[Target("OT", quantiles=LEVELS)])
    with pytest.raises(ConfigError, match="target 'OT' is not a numeric regression input "
                                          r"\(it is quantile\)"):
        LSTMModel(spec, hidden=4, max_epochs=1, channel_independent=True,
                  progress=False).fit(ett.iloc[:400])


def test_a_backtest_scores_the_quantiles_per_fold(ett):
    from lstmkit.analysis.backtest import backtest

    spec = Spec(time="date", inputs=["OT"], lookback=12, horizon=3,
                targets=[Target("OT", quantiles=LEVELS)])
    result = backtest(LSTMModel(spec, hidden=4, max_epochs=1, progress=False), ett.iloc[:500],
                      folds=2)
    coverage = result.table[(result.table.metric == "coverage_80") & (result.table.step == "all")]
    assert coverage.fold.nunique() == 2 and coverage.naive.notna().all()


def test_quantiles_are_conformalised_by_default_where_the_fit_has_a_validation_part(ett):
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=24, horizon=2,
                targets=[Target("OT", quantiles=[0.025, 0.1, 0.5, 0.9, 0.975])])
    data = ett.iloc[:600]
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(data)
    assert model.conformal_["coverage"] == [0.8, 0.95] and model.conformal_["part"] == "val"
    table = model.predict(data, origins="all")
    margins = np.array(model.conformal_["targets"]["OT"]["margins"])        # (2, 2)
    steps = table.step.to_numpy() - 1
    np.testing.assert_allclose(table.OT_hi_95, table["OT_q97.5"] + margins[1][steps], atol=1e-9)
    none = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, coverage=[]).fit(data)
    alone = LSTMModel(spec, hidden=4, max_epochs=1, progress=False,
                      split=Split.train_only()).fit(data)             # no validation part
    assert none.conformal_ is None and alone.conformal_ is None
    points = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=24, horizon=2)
    assert LSTMModel(points, hidden=4, max_epochs=1, progress=False).fit(data).conformal_ is None
