"""A panel scaled per series predicts a series it was not fitted on (a cold start), scaled by
that series' own rows in the data given, on two real panels.

* The exchange-rate table in long format: eight currencies over their last 300 days, levels
  0.009 to 1.4; the models are fitted on seven and meet the smallest, ``5``, only later.
* vega_datasets' monthly stock prices: fitted on four symbols, predicting AAPL (7 to 223).
"""

from __future__ import annotations

import importlib.resources
import warnings

import httpx
import numpy as np
import pandas as pd
import pytest

from lstmkit import LSTMModel, Spec
from lstmkit.data import prepare
from lstmkit.data.groups import arrange
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.errors import DataError, LSTMKitWarning
from tests.test_serve import running_server

LOOKBACK, HORIZON = 14, 3
NEW = "5"                        # the currency at about 0.009, over 100x below the largest
COLD_START = r"series \['5'\] was not among the 7 series the model was fitted on"


@pytest.fixture(scope="module")
def rates(shared_data) -> pd.DataFrame:
    wide = pd.read_csv(shared_data / "forecasting" / "exchange_rate" / "exchange_rate.csv")
    wide = wide.iloc[-300:].assign(date=lambda t: pd.to_datetime(t.date))
    return wide.melt(id_vars="date", var_name="currency", value_name="rate")


def spec(scale_by: str | None = None) -> Spec:
    return Spec(time="date", series="currency", inputs=["rate"], targets=["rate"],
                lookback=LOOKBACK, horizon=HORIZON, scale_by=scale_by)


def fitted_on_seven(rates: pd.DataFrame, scale_by: str | None = None, **params) -> LSTMModel:
    return LSTMModel(spec(scale_by), hidden=8, max_epochs=3, progress=False, seed=0,
                     **params).fit(rates[rates.currency != NEW])


@pytest.fixture(scope="module")
def model(rates) -> LSTMModel:
    return fitted_on_seven(rates)


def test_the_fitted_statistics_hold_only_the_seven(model):
    assert model.spec_.scale_by == "series" and NEW not in model.pipeline_.encoding.series.keys


@pytest.mark.parametrize("scale_by", [None, "series"])
def test_an_unseen_series_is_predicted_in_its_own_units_with_one_warning_naming_it(
        rates, model, scale_by):
    fitted = model if scale_by is None else fitted_on_seven(rates, scale_by)
    with pytest.warns(LSTMKitWarning, match=COLD_START) as caught:
        predicted = fitted.predict(rates, origins="all")
    assert sum(issubclass(w.category, LSTMKitWarning) for w in caught) == 1
    assert "statistics fitted on its own rows in the data given" in str(caught[0].message)
    mine = predicted[predicted.currency == NEW]
    assert len(mine) and mine.rate.between(0.005, 0.015).all()     # its level, not the panel's
    assert fitted.pipeline_.encoding.series.keys == model.pipeline_.encoding.series.keys


def test_its_statistics_are_its_rows_mean_and_std_and_invert_its_forecasts(model, rates):
    pipeline = model.pipeline_
    groups = arrange(rates, pipeline.spec)
    with pytest.warns(LSTMKitWarning):
        encoded = prepare.encode(groups, pipeline.spec, pipeline.encoding, False)
    y = rates[rates.currency == NEW].rate.to_numpy()
    center, scale = encoded.scalers.targets["rate"]
    assert encoded.scalers.keys[-1] == NEW and encoded.scalers.keys[:-1] == (
        pipeline.encoding.series.keys)
    assert center[-1] == pytest.approx(y.mean(), rel=1e-12)
    assert scale[-1] == pytest.approx(y.std(), rel=1e-12)
    windows = prepare.predict_windows(encoded, pipeline.spec, "last")
    outputs, _ = pipeline.outputs(windows, network_units=True)              # (8, H, 1)
    codes = [encoded.scalers.keys.index(str(k)) for k in groups.keys]
    by_hand = outputs[..., 0] * scale[codes, None] + center[codes, None]
    with pytest.warns(LSTMKitWarning):
        predicted = model.predict(rates).rate.to_numpy().reshape(len(groups), HORIZON)
    np.testing.assert_allclose(predicted, by_hand, rtol=1e-12)


def test_the_seen_series_predict_as_without_the_unseen_one(model, rates):
    seven = rates[rates.currency != NEW]
    with pytest.warns(LSTMKitWarning):
        everything = model.predict(rates, origins="all")
    pd.testing.assert_frame_equal(
        everything[everything.currency != NEW].reset_index(drop=True),
        model.predict(seven, origins="all"))


def test_evaluate_scores_the_unseen_series_near_persistence_in_its_units(model, rates):
    with pytest.warns(LSTMKitWarning, match=COLD_START):
        table = model.evaluate(rates, part="all").per_series
    mae = table[table.metric == "MAE"].set_index("series").loc[NEW]
    y = rates[rates.currency == NEW].rate.to_numpy()
    origins = np.arange(LOOKBACK - 1, len(y) - HORIZON)
    naive = np.mean([abs(y[o + k] - y[o]) for o in origins for k in range(1, HORIZON + 1)])
    assert mae["naive"] == pytest.approx(naive, rel=1e-6)
    assert mae["model"] < 1.25 * naive


def test_its_own_scale_beats_a_seen_series_scale_by_far(rates):
    """Without instance normalisation the network reads the scaled level itself: scaled as
    the currency at about 1 (relabelled ``0``), the small one's forecasts are far off."""
    fitted = fitted_on_seven(rates, instance_norm=False)

    def mae(data: pd.DataFrame, key: str) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LSTMKitWarning)
            table = fitted.evaluate(data, part="all").per_series
        return float(table.query("metric == 'MAE' and series == @key").model.iloc[0])
    own = mae(rates, NEW)
    relabelled = rates[rates.currency != "0"].assign(currency=lambda t: t.currency.replace(
        NEW, "0"))
    assert own < mae(relabelled, "0") / 100


def test_a_column_constant_in_the_unseen_series_takes_the_global_statistics(model, rates):
    data = rates.assign(rate=rates.rate.where(rates.currency != NEW, 0.5))
    pipeline = model.pipeline_
    with pytest.warns(LSTMKitWarning, match=COLD_START):
        encoded = prepare.encode(arrange(data, pipeline.spec), pipeline.spec,
                                 pipeline.encoding, False)
    center, scale = encoded.scalers.targets["rate"]
    assert (center[-1], scale[-1]) == (pipeline.encoding.target_scalers["rate"].center,
                                       pipeline.encoding.target_scalers["rate"].scale)
    with pytest.warns(LSTMKitWarning):
        assert np.isfinite(model.predict(data).rate).all()


def test_a_globally_scaled_panel_predicts_an_unseen_series_without_a_warning(rates):
    fitted = fitted_on_seven(rates, "global")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LSTMKitWarning)
        assert fitted.predict(rates).currency.eq(NEW).any()


def test_onnx_refuses_the_unseen_series_naming_it_and_the_fix(model, rates, tmp_path):
    onnx = OnnxModel(model.export_onnx(tmp_path / "rates.onnx"))
    with pytest.raises(DataError, match=r"series '5' was not among the 7 series the model was "
                                        r"exported with.*LSTMModel.predict"):
        onnx.predict(rates)


def test_the_server_predicts_the_unseen_series_and_its_onnx_backend_refuses_it(
        model, rates, tmp_path):
    saved = model.save(tmp_path / "model")
    recent = rates.groupby("currency").tail(LOOKBACK).reset_index(drop=True)
    body = {"rows": recent.assign(date=recent.date.astype(str)).to_dict("records")}
    with running_server(saved) as url:
        answer = httpx.post(f"{url}/predict", json=body, timeout=30)
    with running_server(saved, "--backend", "onnx") as url:
        refused = httpx.post(f"{url}/predict", json=body, timeout=30)
    assert answer.status_code == 200
    with pytest.warns(LSTMKitWarning):
        expected = model.predict(recent)
    np.testing.assert_allclose(pd.DataFrame(answer.json()["predictions"]).rate, expected.rate,
                               rtol=1e-6)
    assert refused.status_code == 422 and "'5'" in refused.json()["detail"]


def test_a_stock_fitted_on_four_others_is_forecast_in_its_own_units():
    stocks = pd.read_csv(importlib.resources.files("vega_datasets") / "_data" / "stocks.csv")
    stocks = stocks.assign(date=pd.to_datetime(stocks.date, format="%b %d %Y"))
    fitted = LSTMModel(Spec(time="date", series="symbol", inputs=["price"], targets=["price"],
                            lookback=12, horizon=3), hidden=8, max_epochs=5, progress=False,
                       seed=0).fit(stocks[stocks.symbol != "AAPL"])
    with pytest.warns(LSTMKitWarning, match=r"series \['AAPL'\] was not among the 4 series"):
        predicted = fitted.predict(stocks)
    last = stocks[stocks.symbol == "AAPL"].price.iloc[-1]                   # 223.02
    assert np.abs(predicted[predicted.symbol == "AAPL"].price / last - 1).max() < 0.2
    with pytest.warns(LSTMKitWarning):
        table = fitted.evaluate(stocks, part="all").per_series
    mae = table.query("metric == 'MAE' and series == 'AAPL'").iloc[0]
    assert mae.model < 1.25 * mae.naive


def test_a_target_the_data_lack_is_mapped_back_globally_and_the_warning_says_so(rates):
    """A target that is no input need not be given to predict; for a new series its
    statistics then have no rows, so its forecasts use the global scaler, as warned."""
    data = rates.assign(level=rates.rate)
    fitted = LSTMModel(Spec(time="date", series="currency", inputs=["rate"],
                            targets=["level"], lookback=LOOKBACK, horizon=HORIZON,
                            past_targets=False), hidden=8, max_epochs=3, progress=False,
                       seed=0).fit(data[data.currency != NEW])
    with pytest.warns(LSTMKitWarning, match=COLD_START) as given:
        predicted = fitted.predict(data)
    assert "lack target" not in str(given[0].message)
    assert predicted[predicted.currency == NEW].level.between(0.005, 0.015).all()
    with pytest.warns(LSTMKitWarning, match=r"The data lack target \['level'\], so those "
                                            r"series' forecasts of it are mapped back by the "
                                            r"global scaler"):
        assert np.isfinite(fitted.predict(rates).level).all()
