"""Conformal intervals (issue 30 point 3): split-conformal margins per target and step,
calibrated on windows the network did not train on, everywhere a prediction goes (the
table, saved models, ONNX, the server, the CLI, plots, the card, backtests), scored
beside the naive baseline's intervals."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_serve import post, running_server

from lstmkit import ConfigError, LSTMModel, Spec, Split, Target
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from lstmkit.conformal import fit_conformal
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.kinds import Decoded
from lstmkit.storage.card import model_card

STANDARD = Split(val_start=8640, test_start=11520)       # ETTh1's 12 / 4 / 4 months
INTERVALS = ["HUFL_lo_80", "HUFL_hi_80", "HUFL_lo_95", "HUFL_hi_95"]


@pytest.fixture(scope="module")
def hufl(etth1) -> LSTMModel:
    """HUFL four hours ahead, calibrated at fit time on the standard validation months."""
    spec = Spec(time="date", inputs=["HUFL", "HULL", "OT"], targets=["HUFL"], lookback=24,
                horizon=4)
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=2, progress=False, split=STANDARD,
                     instance_norm="revin", coverage=[0.8, 0.95]).fit(etth1)


@pytest.fixture(scope="module")
def small(etth1) -> pd.DataFrame:
    return etth1.iloc[:1600]


@pytest.fixture(scope="module")
def quantile_model(small) -> LSTMModel:
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=24, horizon=3,
                targets=[Target("OT", quantiles=[0.1, 0.5, 0.9])])
    return LSTMModel(spec, hidden=4, lr=1e-2, max_epochs=1, progress=False,
                     split=Split(val_start=0.6, test_start=0.8)).fit(small)


def test_coverage_on_the_next_months_is_near_nominal(hufl, etth1):
    evaluation = hufl.evaluate(etth1, part="test")               # 2880 windows not seen
    assert hufl.conformal_["part"] == "val" and hufl.conformal_["windows"] > 2000
    for share in (80, 95):
        covered = evaluation.metric("HUFL", f"coverage_{share}_conformal")
        assert abs(covered - share) <= 5, (share, covered)
        assert math.isfinite(evaluation.metric("HUFL", f"coverage_{share}_conformal", "naive"))
    assert evaluation.metric("HUFL", "MSIS_80_conformal") < \
        evaluation.metric("HUFL", "MSIS_80_conformal", "naive")      # narrower, as covered
    steps = evaluation.per_step[evaluation.per_step.metric == "width_80_conformal"]
    assert steps.step.tolist() == [1, 2, 3, 4] and steps.model.is_monotonic_increasing


def test_intervals_widen_with_the_level_and_surround_the_prediction(hufl, etth1):
    table = hufl.predict(etth1.iloc[-200:], origins="all")
    assert list(table.columns) == ["origin", "step", "time", "HUFL", *INTERVALS]
    assert (table.HUFL_lo_95 < table.HUFL_lo_80).all() and (table.HUFL_lo_80 < table.HUFL).all()
    assert (table.HUFL_hi_80 > table.HUFL).all() and (table.HUFL_hi_80 < table.HUFL_hi_95).all()
    # symmetric about the prediction, one margin per step: the calibrated one
    margins = np.array(hufl.conformal_["targets"]["HUFL"]["margins"])          # (2, 4)
    half = (table.HUFL_hi_80 - table.HUFL).to_numpy().reshape(-1, 4)
    np.testing.assert_allclose(half, np.broadcast_to(margins[0], half.shape), atol=1e-9)
    np.testing.assert_allclose(table.HUFL - table.HUFL_lo_80, table.HUFL_hi_80 - table.HUFL)
    only = hufl.predict(etth1.iloc[-200:], coverage=0.95)
    assert list(only.columns[-2:]) == ["HUFL_lo_95", "HUFL_hi_95"] and len(only.columns) == 6
    assert list(hufl.predict(etth1.iloc[-200:], coverage=[]).columns)[-1] == "HUFL"


def test_the_margin_is_the_finite_sample_corrected_quantile_of_the_scores():
    spec = Spec(inputs=["y"], targets=["y"], lookback=2, horizon=1)
    truth = np.arange(1.0, 11.0)[:, None]                       # residuals 1 .. 10 of zeros
    record = fit_conformal(spec, {"y": Decoded(np.zeros((10, 1)))}, {"y": truth}, (0.8,),
                           "all", pooled=False)
    # ceil((10 + 1) * 0.8) = 9: the 9th smallest of 1 .. 10
    assert record["targets"]["y"] == {"margins": [[9.0]], "covered": [0.9]}
    with pytest.raises(Exception, match=r"a 95 % interval of target 'y' needs at least 19 "
                                        r"windows .* has 10 at step 1"):
        fit_conformal(spec, {"y": Decoded(np.zeros((10, 1)))}, {"y": truth}, (0.95,), "all",
                      pooled=False)


def test_a_quantile_target_is_conformalised_at_its_own_quantiles(quantile_model, small):
    quantile_model.calibrate_intervals(small, part="val", coverage=0.8)
    table = quantile_model.predict(small, origins="all")
    margins = np.array(quantile_model.conformal_["targets"]["OT"]["margins"][0])    # (3,)
    steps = table.step.to_numpy() - 1
    np.testing.assert_allclose(table.OT_lo_80, table.OT_q10 - margins[steps], atol=1e-9)
    np.testing.assert_allclose(table.OT_hi_80, table.OT_q90 + margins[steps], atol=1e-9)
    evaluation = quantile_model.evaluate(small, part="test")
    assert {"coverage_80", "coverage_80_conformal"} <= set(evaluation.table.metric)
    with pytest.raises(ConfigError, match=r"a 95 % conformal interval of quantile target 'OT' "
                                          r"calibrates its quantiles at 0.025 and 0.975"):
        quantile_model.calibrate_intervals(small, coverage=[0.8, 0.95])
    assert quantile_model.conformal_["coverage"] == [0.8]        # the refusal changed nothing


def test_saved_and_loaded_the_intervals_come_back_and_older_files_have_none(hufl, etth1,
                                                                             tmp_path):
    recent = etth1.iloc[-100:]
    directory = hufl.save(tmp_path / "model")
    config = json.loads((directory / "config.json").read_text())
    assert config["conformal"]["coverage"] == [0.8, 0.95]
    assert set(config["naive_spread"]) == {"HUFL"}               # the naive baseline's intervals
    pd.testing.assert_frame_equal(LSTMModel.load(directory).predict(recent), hufl.predict(recent))
    assert "| HUFL | 80 % | `HUFL_lo_80`, `HUFL_hi_80` |" in model_card(hufl)
    del config["conformal"], config["naive_spread"]              # as saved before intervals
    (directory / "config.json").write_text(json.dumps(config))
    older = LSTMModel.load(directory)
    assert older.conformal_ is None and list(older.predict(recent).columns)[-1] == "HUFL"
    with pytest.raises(ConfigError, match="no calibrated 80 % interval: it has none"):
        older.predict(recent, coverage=0.8)


def test_a_saved_record_that_does_not_fit_is_refused(hufl, tmp_path):
    directory = hufl.save(tmp_path / "model")
    config = json.loads((directory / "config.json").read_text())
    config["conformal"]["targets"]["HUFL"]["margins"] = [[1.0, 2.0]]
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="conformal entry of 'HUFL' must hold margins"):
        LSTMModel.load(directory)


def test_onnx_gives_the_intervals_predict_gives(hufl, etth1, tmp_path):
    onnx = OnnxModel(hufl.export_onnx(tmp_path / "model.onnx"))
    assert onnx.metadata["outputs"][-1]["name"] == "HUFL_intervals"
    data = etth1.iloc[-300:]
    exported, predicted = onnx.predict(data, origins="all"), hufl.predict(data, origins="all")
    assert list(exported.columns) == list(predicted.columns)
    np.testing.assert_allclose(exported[["HUFL", *INTERVALS]], predicted[["HUFL", *INTERVALS]],
                               rtol=1e-5, atol=1e-5)
    assert list(onnx.predict(data, coverage=[0.8]).columns[-2:]) == INTERVALS[:2]


def test_the_server_returns_the_intervals(hufl, etth1, tmp_path):
    directory = hufl.save(tmp_path / "model")
    recent = etth1.iloc[-40:].reset_index(drop=True)
    with running_server(directory) as url:
        response = post(url, recent, "json")
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    pd.testing.assert_frame_equal(served[INTERVALS], hufl.predict(recent)[INTERVALS], rtol=1e-6)


def test_the_cli_calibrates_a_saved_model_and_predicts_its_intervals(quantile_model, small,
                                                                      tmp_path, capsys):
    small.to_csv(tmp_path / "ett.csv", index=False)
    quantile_model.save(tmp_path / "model")
    calibrate = ["calibrate", str(tmp_path / "model"), str(tmp_path / "ett.csv"),
                 "--coverage", "0.8", "--out", str(tmp_path / "calibrated")]
    assert main(calibrate) == 0
    assert "OT: coverage on the" in capsys.readouterr().out
    assert main(calibrate) == 2                                   # never over it unasked
    assert "--overwrite" in capsys.readouterr().err
    assert main([*calibrate, "--overwrite"]) == 0
    predict = ["predict", str(tmp_path / "calibrated"), str(tmp_path / "ett.csv"), "-o",
               str(tmp_path / "out.csv")]
    assert main([*predict, "--coverage", "0.8"]) == 0
    assert list(pd.read_csv(tmp_path / "out.csv").columns)[-2:] == ["OT_lo_80", "OT_hi_80"]
    capsys.readouterr()
    assert main([*predict, "--coverage", "0.9", "--overwrite"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no calibrated 90 % interval: it has 80 %" in error


@pytest.mark.parametrize("value", [0, 1, 1.5, "x", -0.2, True])
def test_bad_coverage_values_are_config_errors_naming_the_value(value, quantile_model, small):
    with pytest.raises(ConfigError, match=f"coverage {value!r} is not a share strictly "
                                          "between 0 and 1"):
        LSTMModel(quantile_model.spec_, coverage=[0.8, value], max_epochs=1).fit(small)
    with pytest.raises(ConfigError, match=f"coverage {value!r} is not a share"):
        quantile_model.calibrate_intervals(small, coverage=value)


def test_the_cli_names_a_bad_coverage_in_one_line(quantile_model, small, tmp_path, capsys):
    quantile_model.save(tmp_path / "model")
    small.to_csv(tmp_path / "ett.csv", index=False)
    assert main(["calibrate", str(tmp_path / "model"), str(tmp_path / "ett.csv"), "--coverage",
                 "0.8", "x", "--out", str(tmp_path / "out")]) == 2
    assert "coverage 'x' is not a share" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_categorical_targets_take_none_and_the_others_theirs(seattle):
    data = seattle.iloc[:600]
    labels = Spec(time="date", inputs=["temp_max"], targets=[Target("weather",
                  kind="classification")], lookback=7, horizon=1)
    with pytest.raises(ConfigError, match="conformal intervals are for number .* targets "
                                          r"\['weather'\] are all categorical"):
        LSTMModel(labels, coverage=0.8, max_epochs=1).fit(data)
    mixed = Spec(time="date", inputs=["temp_max"], lookback=7, horizon=1,
                 targets=["temp_max", Target("weather", kind="classification")])
    model = LSTMModel(mixed, hidden=4, max_epochs=1, progress=False, coverage=0.8).fit(data)
    assert list(model.conformal_["targets"]) == ["temp_max"]
    assert "weather_lo_80" not in model.predict(data).columns


def test_calibrating_needs_windows_the_network_did_not_train_on(quantile_model, small):
    with pytest.raises(ConfigError, match="calibrate part 'train' would read the residuals"):
        quantile_model.calibrate_intervals(small, part="train", coverage=0.8)
    with pytest.raises(ConfigError, match="this fit has none"):
        LSTMModel(quantile_model.spec_, coverage=0.8, split=Split.train_only()).fit(small)


def test_a_held_out_table_calibrates_as_the_same_windows_of_the_split_do(quantile_model, small):
    by_part = dict(quantile_model.calibrate_intervals(small, part="test", coverage=0.8)
                   .conformal_)
    # The test windows of the 60/20/20 split: their targets lie in the last 20 % of the
    # rows, their inputs reach back the lookback (24 rows) before.
    held_out = small.iloc[1280 - 24:]
    quantile_model.calibrate_intervals(held_out, part="all", coverage=0.8)
    assert quantile_model.conformal_ == {**by_part, "part": "all"}
    assert by_part["windows"] == 1600 - 1280 - 3 + 1


def test_the_forecast_plot_shades_each_interval(hufl, etth1):
    from matplotlib.collections import PolyCollection

    figure = plots.forecasts(hufl, etth1.iloc[-300:], origins=1)
    bands = [c for c in figure.axes[0].collections if isinstance(c, PolyCollection)]
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert len(bands) == 2 and {"80 % conformal interval", "95 % conformal interval"} <= set(labels)


def test_a_backtest_calibrates_each_fold_and_reports_its_coverage(small, tmp_path):
    spec = Spec(time="date", inputs=["OT"], targets=["OT"], lookback=12, horizon=3)
    result = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).backtest(
        small, folds=2, step=40, coverage=0.8)
    assert all(m.conformal_["part"] == "val" for m in result.models)
    rows = result.table[(result.table.metric == "coverage_80_conformal")
                        & (result.table.step == "all")]
    assert rows.fold.tolist() == [0, 1] and rows.model.between(0, 100).all()
    figure = result.plot(tmp_path / "backtest.png")
    assert figure.axes[1].get_title() == "OT: conformal interval coverage"


def test_seq2seq_of_any_length_pools_its_steps_into_one_margin(etth1, tmp_path):
    frame = etth1.iloc[:1500].assign(id=np.repeat(np.arange(60), 25))
    frame = frame[frame.groupby("id").cumcount() < 15 + frame.id % 11]     # 15 to 25 steps
    spec = Spec(task="seq2seq", sequence="id", inputs=["HUFL", "HULL"], targets=["OT"])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, coverage=0.8,
                      split=Split(val_start=0.5, test_start=0.8)).fit(frame)
    [[margin]] = model.conformal_["targets"]["OT"]["margins"]
    table = model.predict(frame)
    np.testing.assert_allclose(table.OT_hi_80 - table.OT, margin, atol=1e-9)
    exported = OnnxModel(model.export_onnx(tmp_path / "model.onnx")).predict(frame)
    np.testing.assert_allclose(exported[["OT_lo_80", "OT_hi_80"]],
                               table[["OT_lo_80", "OT_hi_80"]], rtol=1e-5, atol=1e-5)


def test_a_distribution_target_widens_its_own_quantiles(small, tmp_path):
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=24, horizon=3,
                targets=[Target("OT", distribution="normal")])
    model = LSTMModel(spec, hidden=4, lr=1e-2, max_epochs=1, progress=False,
                      split=Split(val_start=0.6, test_start=0.8), coverage=[0.8, 0.9]).fit(small)
    table = model.predict(small, origins="all")
    margins = np.array(model.conformal_["targets"]["OT"]["margins"])             # (2, 3)
    steps = table.step.to_numpy() - 1
    # CQR on the fitted normal's 10 % and 90 % quantiles (the OT_q10 / OT_q90 columns), the
    # margins in units of its scale (the 10-90 % width over 2 z_0.9)
    scale = (table.OT_q90 - table.OT_q10) / (2 * stats.norm.ppf(0.9))
    assert model.conformal_["targets"]["OT"]["unit"] == "spread"
    np.testing.assert_allclose(table.OT_lo_80, table.OT_q10 - margins[0][steps] * scale,
                               atol=1e-6)
    np.testing.assert_allclose(table.OT_hi_80, table.OT_q90 + margins[0][steps] * scale,
                               atol=1e-6)
    assert (table.OT_hi_90 - table.OT_lo_90 > 0).all()
    evaluation = model.evaluate(small, part="test")
    for metric in ("NLL", "coverage_80", "coverage_80_conformal", "MSIS_90_conformal"):
        assert math.isfinite(evaluation.metric("OT", metric)), metric
    assert math.isfinite(evaluation.metric("OT", "coverage_90_conformal", "naive"))
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.predict(small), model.predict(small))
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))       # loc + z scale in the graph
    names = ["OT_lo_80", "OT_hi_80", "OT_lo_90", "OT_hi_90"]
    np.testing.assert_allclose(onnx.predict(small, origins="all")[names], table[names],
                               rtol=1e-4, atol=1e-4)


def test_count_targets_take_intervals_onnx_model_computes_from_the_parameters(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(400)
    counts = pd.DataFrame({"t": t, "cycle": np.sin(2 * np.pi * t / 7)})
    counts["n"] = rng.poisson(np.exp(1 + counts.cycle))
    spec = Spec(time="t", inputs=["cycle"], lookback=14, horizon=2,
                targets=[Target("n", distribution="poisson")])
    model = LSTMModel(spec, hidden=4, lr=1e-2, max_epochs=1, progress=False,
                      split=Split(val_start=0.6, test_start=0.8)).fit(counts)
    assert model.conformal_["coverage"] == [0.8]          # by default: its levels' 80 %
    model.calibrate_intervals(counts, part="val", coverage=[0.8, 0.95])
    table = model.predict(counts, origins="all")
    margins = np.array(model.conformal_["targets"]["n"]["margins"])                # (2, 2)
    spread = np.sqrt(table.n)                         # margins in units of its sd, sqrt(mean)
    low = table.n_lo_80 + margins[0][table.step.to_numpy() - 1] * spread   # its 10 % quantile
    np.testing.assert_allclose(low[table.n_lo_80 > 0], np.round(low[table.n_lo_80 > 0]),
                               atol=1e-6)
    assert (table.n_lo_80 >= 0).all() and (table.n_hi_80 > table.n_lo_80).all()
    # the graph has no quantiles of a poisson: it gives the mean, OnnxModel the intervals
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    assert [o["name"] for o in onnx.metadata["outputs"]] == ["n_params"]
    assert onnx.metadata["conformal"]["targets"] == []
    assert onnx.metadata["conformal"]["from_parameters"]["targets"]["n"]["margins"] == \
        model.conformal_["targets"]["n"]["margins"]
    exported = onnx.predict(counts, origins="all")
    assert list(exported.columns) == list(table.columns)
    names = ["n", "n_q10", "n_q90", "n_lo_80", "n_hi_80", "n_lo_95", "n_hi_95"]
    np.testing.assert_allclose(exported[names], table[names], rtol=1e-5, atol=1e-4)
    assert list(onnx.predict(counts, coverage=[]).columns) == \
        list(model.predict(counts, coverage=[]).columns)
