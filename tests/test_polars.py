"""polars DataFrames work wherever pandas ones do: fit, predict, evaluate, importance,
backtest, batch prediction and ONNX; the results equal those of the same table in pandas
(and are pandas)."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from lstmkit import Feature, LSTMModel, Spec, Target
from lstmkit.data.sources import pandas_frame, read_table
from lstmkit.deploy.batch import predict_chunks, read_chunks
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.errors import DataError


@pytest.fixture(scope="module")
def weather(seattle) -> pd.DataFrame:
    """Seattle's weather, two years, with the date as a date (a polars ``Date`` below)."""
    return seattle.iloc[:730].assign(date=pd.to_datetime(seattle["date"].iloc[:730]))


@pytest.fixture(scope="module")
def weather_pl(weather) -> pl.DataFrame:
    frame = pl.from_pandas(weather).with_columns(pl.col("date").cast(pl.Date),
                                                 pl.col("weather").cast(pl.Categorical))
    assert frame.schema["date"] == pl.Date and frame.schema["weather"] == pl.Categorical
    return frame


@pytest.fixture(scope="module")
def model(weather_pl) -> LSTMModel:
    spec = Spec(["temp_max", "wind", Feature("weather", kind="categorical")],
                [Target("temp_max"), Target("weather", kind="classification")],
                lookback=14, horizon=2, time="date")
    return LSTMModel(spec, hidden=8, max_epochs=2, seed=0).fit(weather_pl)


def test_a_model_fitted_on_polars_predicts_polars_as_pandas(model, weather, weather_pl):
    assert model.history_["epochs"]                    # it trained on the polars table
    predicted = model.predict(weather_pl, origins="all")
    assert isinstance(predicted, pd.DataFrame)
    expected = model.predict(weather, origins="all")
    pd.testing.assert_frame_equal(predicted, expected, check_dtype=False)
    assert predicted["time"].iloc[0] == weather["date"].iloc[13] + pd.Timedelta(days=1)
    assert set(predicted["weather"]) <= set(weather["weather"])


def test_evaluate_importance_and_backtest_read_polars(model, weather, weather_pl):
    pd.testing.assert_frame_equal(model.evaluate(weather_pl, part="test").table,
                                  model.evaluate(weather, part="test").table)
    pd.testing.assert_frame_equal(model.importance(weather_pl, repeats=2),
                                  model.importance(weather, repeats=2))
    template = LSTMModel(model.spec, hidden=8, max_epochs=1, seed=0)
    from_polars = template.backtest(weather_pl, folds=2, refit=False)
    from_pandas = template.backtest(weather, folds=2, refit=False)
    pd.testing.assert_frame_equal(from_polars.table, from_pandas.table)


def test_batch_prediction_and_onnx_read_polars(model, weather, weather_pl, tmp_path):
    chunks, total = read_chunks(weather_pl)
    assert total == len(weather_pl)
    batched = pd.concat(list(predict_chunks(model, chunks, origins="all")), ignore_index=True)
    pd.testing.assert_frame_equal(batched, model.predict(weather, origins="all"),
                                  check_dtype=False)
    onnx = OnnxModel(model.export_onnx(tmp_path / "weather.onnx"))
    pd.testing.assert_frame_equal(onnx.predict(weather_pl), onnx.predict(weather),
                                  check_dtype=False)


def test_conversion_keeps_types_and_refuses_a_lazy_frame(weather_pl):
    frame = pandas_frame(weather_pl)
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert isinstance(frame["weather"].dtype, pd.CategoricalDtype)
    assert pandas_frame(frame) is frame and pandas_frame("table.csv") is None
    with pytest.raises(DataError, match=r"call \.collect\(\) on a polars LazyFrame"):
        read_table(weather_pl.lazy())
