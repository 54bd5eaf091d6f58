"""Distribution targets' intervals conformalised by default (issue 30): a fit with a
validation part widens (or narrows) the fitted distribution's own central interval by
margins calibrated there, as quantile targets' are (``conformal.fit_coverage``), so that a
Poisson or Student's t target's intervals hold their coverage on later data of a real
table; the mean, the quantile columns and the samples stay the fitted distribution's; the
ONNX model gives what predict gives; models saved without the record predict as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets
from lstmkit.conformal import check_conformal
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.storage.card import model_card

LEVELS = [0.025, 0.1, 0.5, 0.9, 0.975]             # their central intervals: 80 % and 95 %
ETT_SPLIT = Split(val_start=8640, test_start=11520)   # ETTh1's 12 / 4 / 4 months
PM25_SPLIT = Split(val_start=30676, test_start=35060)  # 70 / 10 / 20 % of five years


@pytest.fixture(scope="module")
def pm25(shared_data) -> pd.DataFrame:
    return datasets.load("beijing_pm25", data_dir=shared_data).iloc[:43824]


@pytest.fixture(scope="module")
def poisson(pm25) -> LSTMModel:
    """PM2.5 counts (µg/m³, integers, gaps masked) as a Poisson target: its variance (the
    mean) is far too small for pollution, so its own intervals are far too narrow."""
    spec = Spec(time="date", lookback=24, horizon=6,
                inputs=[Feature("pm2.5", missing="mask"), "DEWP", "TEMP", "Iws"],
                targets=[Target("pm2.5", distribution="poisson", quantiles=LEVELS)])
    return LSTMModel(spec, hidden=8, max_epochs=2, progress=False, seed=0,
                     split=PM25_SPLIT).fit(pm25)


@pytest.fixture(scope="module")
def student_t(etth1) -> LSTMModel:
    """ETTh1's OT four hours ahead as a Student's t target, trained on the first year."""
    spec = Spec(time="date", inputs=["HUFL", "HULL", "OT"], lookback=24, horizon=4,
                targets=[Target("OT", distribution="student_t")])
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=2, progress=False, seed=0,
                     split=ETT_SPLIT).fit(etth1)


def test_a_poisson_targets_calibrated_intervals_cover_the_last_year_near_nominal(poisson, pm25):
    assert poisson.conformal_["coverage"] == [0.8, 0.95]          # by default: its levels'
    assert poisson.conformal_["part"] == "val"
    evaluation = poisson.evaluate(pm25, part="test")                   # the last year
    own = evaluation.metric("pm2.5", "coverage_80")
    calibrated = [evaluation.metric("pm2.5", f"coverage_{p}_conformal") for p in (80, 95)]
    assert own < 40, own                                  # the Poisson's own: far too narrow
    assert abs(calibrated[0] - 80) <= 5 and abs(calibrated[1] - 95) <= 4, calibrated


def test_a_student_t_targets_calibrated_intervals_cover_later_months_near_nominal(student_t,
                                                                                  etth1):
    assert student_t.conformal_["coverage"] == [0.8]       # the default levels 0.1 / 0.9
    covered = student_t.evaluate(etth1, part="test").metric("OT", "coverage_80_conformal")
    assert abs(covered - 80) <= 5, covered


def test_the_mean_and_quantiles_stay_the_fitted_distributions(poisson, pm25):
    table = poisson.predict(pm25, origins="all")
    plain = poisson.predict(pm25, origins="all", coverage=[])
    assert {"pm2.5_lo_80", "pm2.5_hi_95"} <= set(table.columns)
    assert not {"pm2.5_lo_80", "pm2.5_hi_95"} & set(plain.columns)
    pd.testing.assert_frame_equal(table[list(plain.columns)], plain)
    margins = np.array(poisson.conformal_["targets"]["pm2.5"]["margins"])     # (2, 6)
    steps = table.step.to_numpy() - 1
    spread = np.sqrt(table["pm2.5"])                  # a Poisson's standard deviation
    np.testing.assert_allclose(table["pm2.5_hi_80"],
                               table["pm2.5_q90"] + margins[0][steps] * spread, rtol=1e-9)
    assert poisson.conformal_["targets"]["pm2.5"]["unit"] == "spread"
    assert (margins > 0).all()                           # widened at every step
    samples = poisson.predict(pm25.iloc[-200:], samples=50, seed=0)     # the fitted Poisson's
    assert "sample" in samples.columns and not any("_lo_" in c for c in samples.columns)


def test_onnx_gives_the_intervals_predict_gives(student_t, etth1, poisson, pm25, tmp_path):
    for model, data, name in ((student_t, etth1.iloc[-400:], "OT"),
                              (poisson, pm25.iloc[-400:], "pm2.5")):
        onnx = OnnxModel(model.export_onnx(tmp_path / f"{name}.onnx"))
        assert onnx.metadata["conformal"]["targets"] == []      # computed from the parameters
        exported, predicted = onnx.predict(data, origins="all"), model.predict(data,
                                                                                origins="all")
        assert list(exported.columns) == list(predicted.columns)
        assert f"{name}_lo_80" in exported.columns
        numbers = [c for c in predicted.columns if c.startswith(name)]
        np.testing.assert_allclose(exported[numbers], predicted[numbers], rtol=1e-5,
                                   atol=1e-4)


def test_the_card_lists_the_intervals_and_a_model_saved_without_them_predicts_as_before(
        student_t, etth1, tmp_path):
    recent = etth1.iloc[-100:]
    assert "| OT | 80 % | `OT_lo_80`, `OT_hi_80` |" in model_card(student_t)
    directory = student_t.save(tmp_path / "model")
    pd.testing.assert_frame_equal(LSTMModel.load(directory).predict(recent),
                                  student_t.predict(recent))
    config = json.loads((directory / "config.json").read_text())
    config["conformal"] = None                     # as saved before distributions took one
    (directory / "config.json").write_text(json.dumps(config))
    older = LSTMModel.load(directory)
    assert older.conformal_ is None
    pd.testing.assert_frame_equal(older.predict(recent), student_t.predict(recent, coverage=[]))
    assert "OT_lo_80" not in model_card(older)


def test_a_saved_record_whose_unit_does_not_fit_is_refused(student_t, hufl_record, tmp_path):
    directory = student_t.save(tmp_path / "model")
    config = json.loads((directory / "config.json").read_text())
    config["conformal"]["targets"]["OT"]["unit"] = "metres"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="conformal unit of 'OT' must be 'spread'"):
        LSTMModel.load(directory)
    spec, record = hufl_record            # a regression target has no spread to scale by
    record["targets"]["HUFL"]["unit"] = "spread"
    with pytest.raises(ValueError, match="a regression target has no spread"):
        check_conformal(record, spec)


@pytest.fixture
def hufl_record() -> tuple[Spec, dict]:
    spec = Spec(time="date", inputs=["HUFL"], targets=["HUFL"], lookback=4, horizon=2)
    return spec, {"part": "val", "coverage": [0.8], "windows": 10,
                  "targets": {"HUFL": {"margins": [[1.0, 2.0]], "covered": [0.8]}}}


def test_onnx_mixes_intervals_from_the_graph_and_from_the_parameters(etth1, tmp_path):
    data = etth1.iloc[:800]
    spec = Spec(time="date", inputs=["HUFL", "OT"], lookback=24, horizon=2,
                targets=[Target("OT", distribution="normal"),
                         Target("HUFL", distribution="student_t")])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, seed=0).fit(data)
    onnx = OnnxModel(model.export_onnx(tmp_path / "both.onnx"))
    conformal = onnx.metadata["conformal"]
    assert conformal["targets"] == ["OT"] and list(
        conformal["from_parameters"]["targets"]) == ["HUFL"]
    assert onnx.metadata["outputs"][-1]["name"] == "OT_intervals"   # the normal's, in the graph
    exported, predicted = onnx.predict(data, origins="all"), model.predict(data, origins="all")
    assert list(exported.columns) == list(predicted.columns)
    ends = ["OT_lo_80", "OT_hi_80", "HUFL_lo_80", "HUFL_hi_80"]
    np.testing.assert_allclose(exported[ends], predicted[ends], rtol=1e-5, atol=1e-4)
