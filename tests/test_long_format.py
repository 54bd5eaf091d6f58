"""NeuralForecast's long format (``unique_id``, ``ds``, ``y`` and exogenous columns) read
with one call, on the exchange-rate table melted into eight series."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from lstmkit import Feature, LSTMModel, Spec
from lstmkit.errors import ConfigError

DAYS = 200   # the last days of each currency: 8 x 200 rows


@pytest.fixture(scope="module")
def panel(shared_data) -> pd.DataFrame:
    """Eight exchange rates (levels from about 0.01 to 1.6) in long format, with the day of
    the week as a known-ahead exogenous input, as a NeuralForecast user has them."""
    wide = pd.read_csv(shared_data / "forecasting" / "exchange_rate" / "exchange_rate.csv")
    wide = wide.tail(DAYS).rename(columns={"OT": "7"})
    long = wide.melt(id_vars="date", var_name="unique_id", value_name="y")
    long["unique_id"] = "rate_" + long["unique_id"]
    long["ds"] = pd.to_datetime(long.pop("date"), format="%Y/%m/%d %H:%M")
    return long.assign(weekday=long["ds"].dt.dayofweek.astype(float))


def test_one_call_gives_the_spec_of_the_table_unchanged(panel):
    spec = Spec.from_long(panel, lookback=14, horizon=3, future=["weekday"])
    assert (spec.series, spec.time, spec.target_names) == ("unique_id", "ds", ["y"])
    assert spec.inputs == (Feature("weekday", missing="error", future=True),
                           Feature("y", missing="ffill"))
    assert Spec.from_long(list(panel.columns), 14, 3, future="weekday") == spec
    assert Spec.from_long(pl.from_pandas(panel), 14, 3, future=["weekday"]) == spec
    assert Spec.from_long(panel, 14, inputs=[], freq="D").input_names == ["y"]


def test_fit_and_predict_keep_the_series_ids(panel):
    spec = Spec.from_long(panel, lookback=14, horizon=3)
    model = LSTMModel(spec, hidden=8, max_epochs=2, seed=0).fit(panel)
    predicted = model.predict(panel)
    last = panel.groupby("unique_id")["ds"].max()
    assert sorted(predicted["unique_id"].unique()) == sorted(panel["unique_id"].unique())
    assert len(predicted) == 8 * 3
    first = predicted[predicted["step"] == 1].set_index("unique_id")
    assert (first["origin"] == last).all()
    assert (first["time"] == last + pd.Timedelta(days=1)).all()
    levels = panel.groupby("unique_id")["y"].last()
    assert (first["y"] - levels).abs().max() < 0.5 * levels.max()   # each in its own units


def test_future_exogenous_inputs_are_read_over_the_horizon(panel):
    spec = Spec.from_long(panel, lookback=14, horizon=3, future=["weekday"])
    model = LSTMModel(spec, hidden=8, max_epochs=1, seed=0).fit(panel)
    predicted = model.predict(panel)          # each series' last 3 rows: the days ahead
    ahead = panel.groupby("unique_id").tail(3).set_index(["unique_id", "ds"])
    keys = pd.MultiIndex.from_frame(predicted[["unique_id", "time"]])
    assert keys.isin(ahead.index).all()


def test_bad_declarations_name_the_fix(panel):
    with pytest.raises(ConfigError, match=r"no column 'unique_id'.*id_col"):
        Spec.from_long(panel.rename(columns={"unique_id": "currency"}), lookback=14)
    assert Spec.from_long(panel.rename(columns={"unique_id": "currency"}), lookback=14,
                          id_col="currency").series == "currency"
    with pytest.raises(ConfigError, match="future input 'price' is not an input"):
        Spec.from_long(panel, lookback=14, future=["price"])
    with pytest.raises(ConfigError, match=r"sets .*'series'.* itself"):
        Spec.from_long(panel, lookback=14, series="unique_id")
