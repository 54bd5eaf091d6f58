"""Defaults that hold on real tables nobody tuned them for (issue 28): anchored outputs."""

from __future__ import annotations

import importlib.resources
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit import ArtifactError, LSTMModel, Spec
from lstmkit.onnx_predict import OnnxModel
from tests.conftest import SHARED_DATA

TINY = {"hidden": 8, "max_epochs": 1, "progress": False, "instance_norm": "anchored"}


def seattle_temps() -> pd.DataFrame:
    """Hourly temperatures with a strong daily season, on an hourly grid (one gap filled)."""
    path = importlib.resources.files("vega_datasets") / "_data" / "seattle-temps.csv"
    table = pd.read_csv(path)
    table["date"] = pd.to_datetime(table.date)
    return table.set_index("date").asfreq("h").ffill().reset_index()


def exchange() -> pd.DataFrame:
    """Daily exchange rates: random walks, where no season beats the last value."""
    return pd.read_csv(SHARED_DATA / "forecasting" / "exchange_rate" / "exchange_rate.csv")


def test_each_target_is_anchored_on_the_naive_forecast_that_the_training_part_favours():
    temps = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48,
                           horizon=24), **TINY).fit(seattle_temps().iloc[:2000])
    assert temps.network_.config.anchor_lags == (24,)              # yesterday, same hour
    rates = LSTMModel(Spec(time="date", inputs=["0", "OT"], targets=["0", "OT"], lookback=14,
                           horizon=7), **TINY).fit(exchange().iloc[:1500])
    assert rates.network_.config.anchor_lags == (1, 1)             # the last value
    short = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=12,
                           horizon=6), **TINY).fit(seattle_temps().iloc[:1000])
    assert short.network_.config.anchor_lags == (1,)               # a day is past the lookback


def test_an_anchored_model_saves_loads_and_exports_what_it_predicts(tmp_path):
    table = seattle_temps().iloc[:1500]
    model = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48,
                           horizon=24), **TINY).fit(table)
    expected = model.predict(table.tail(48))
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.predict(table.tail(48)), expected)
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx")).predict(table.tail(48))
    np.testing.assert_allclose(onnx.temp, expected.temp, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("lags", [[0], [1, 1], [49]])
def test_saved_anchor_lags_that_the_spec_cannot_have_are_refused(tmp_path, lags):
    table = seattle_temps().iloc[:1500]
    model = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48,
                           horizon=24), **TINY).fit(table)
    path = model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["network"]["anchor_lags"] = lags
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"anchor_lags|anchor lags"):
        LSTMModel.load(path)


def test_trust_keeps_only_the_change_that_helped_on_validation_data():
    table = exchange().iloc[:2500]                                    # random walks
    spec = Spec(time="date", inputs=["0", "3", "OT"], targets=["0", "3", "OT"], lookback=14,
                horizon=7)
    model = LSTMModel(spec, **{**TINY, "max_epochs": 2}).fit(table)
    trust = model.network_.norm.trust                                # (steps, targets)
    assert trust.shape == (7, 3) and ((trust >= 0) & (trust <= 1)).all()
    assert (trust < 1).any()                                          # some change was cut
    val = model.evaluate(table, part="val")
    for target in spec.target_names:       # least squares per step: never above the naive
        assert val.metric(target, "RMSE") <= val.metric(target, "RMSE", of="naive") * (1 + 1e-6)
