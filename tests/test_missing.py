"""Gaps on real data: missing targets are masked, missing inputs follow the chosen policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import DataError, Feature, LSTMModel, Spec, datasets
from lstmkit.data.groups import arrange
from lstmkit.data.prepare import fill_gaps

WEATHER = ["DEWP", "TEMP", "PRES", "Iws"]


@pytest.fixture(scope="module")
def beijing(shared_data) -> pd.DataFrame:
    """Beijing PM2.5, the first 3000 hours: pm2.5 has gaps (the first day is one)."""
    frame = datasets.load("beijing_pm25", data_dir=shared_data).iloc[:3000]
    assert frame["pm2.5"].isna().sum() > 100
    return frame.reset_index(drop=True)


def _fit(frame: pd.DataFrame, spec: Spec) -> LSTMModel:
    return LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(frame)


def test_gaps_in_the_target_are_masked_not_dropped(beijing):
    spec = Spec(time="date", inputs=WEATHER, targets=["pm2.5"], lookback=24, horizon=3)
    model = _fit(beijing, spec)
    assert all(np.isfinite(e["train_loss"]) and np.isfinite(e["val_loss"])
               for e in model.history_["epochs"])
    # Every window is scored, on its known steps only: recompute the MAE by hand.
    forecast = model.predict(beijing, origins="all")
    forecast = forecast[forecast["origin"] <= beijing["date"].iloc[-1 - spec.horizon]]
    truth = beijing.set_index("date")["pm2.5"]
    forecast["true"] = truth.reindex(forecast["time"]).to_numpy()
    scored = forecast.dropna(subset=["true"])
    assert 0 < len(scored) < len(forecast)
    mae = (scored["pm2.5"] - scored["true"]).abs().mean()
    table = model.evaluate(beijing).table.set_index(["target", "metric"])
    assert np.isclose(table.loc[("pm2.5", "MAE"), "model"], mae, rtol=1e-6)


def test_an_input_gap_is_an_error_by_default_naming_the_row(beijing):
    spec = Spec(time="date", inputs=[*WEATHER, "pm2.5"], targets=["TEMP"], lookback=24)
    with pytest.raises(DataError, match=r"'pm2.5' has a missing value \(NaN\) at row 0.*"
                                        r"missing='ffill' or 'mask'"):
        _fit(beijing, spec)


def test_ffill_equals_filling_by_hand(beijing):
    spec = Spec(time="date", inputs=[*WEATHER, Feature("pm2.5", missing="ffill")],
                targets=["TEMP"], lookback=24, horizon=2)
    model = _fit(beijing, spec)
    by_hand = beijing.assign(**{"pm2.5": beijing["pm2.5"].ffill()})
    pd.testing.assert_frame_equal(model.predict(beijing, origins="all"),
                                  model.predict(by_hand, origins="all"))
    scaler = model.encoding_.input_scalers["pm2.5"]
    train = by_hand["pm2.5"].iloc[: int(0.7 * len(beijing))]
    assert np.isclose(scaler.center, train.mean(), rtol=1e-9)   # NaN-free training rows only


def test_ffill_stays_inside_each_series(beijing):
    gaps = beijing["pm2.5"].isna().to_numpy()
    cut = int(np.flatnonzero(gaps[1:] & ~gaps[:-1])[1]) + 1     # a gap right after a value
    two = pd.concat([beijing.iloc[:cut].assign(site="a"),
                     beijing.iloc[cut : cut + 30].assign(site="b")])
    spec = Spec(time="date", series="site", inputs=[Feature("pm2.5", missing="ffill")],
                targets=["TEMP"], lookback=5)
    filled = fill_gaps(arrange(two, spec), spec).frame
    assert np.isnan(filled["pm2.5"].iloc[cut])        # not carried over from series 'a'
    assert not filled["pm2.5"].iloc[:cut].iloc[30:].isna().any()


def test_mask_adds_an_indicator_channel(beijing):
    spec = Spec(time="date", inputs=[*WEATHER, "pm2.5"], targets=["TEMP"], lookback=24,
                missing="mask")
    model = _fit(beijing, spec)
    columns = model.encoding_.input_columns
    assert columns == [c for name in [*WEATHER, "pm2.5"] for c in (name, f"{name}:missing")]
    assert model.network_.config.n_inputs == 10       # the spec's policy reaches every input
    encoded = model.encoding_.encode_inputs(beijing, np.arange(len(beijing)))
    gaps = beijing["pm2.5"].isna().to_numpy()
    assert np.array_equal(encoded[:, -1], gaps.astype(np.float32))
    assert np.all(encoded[gaps, -2] == 0)
    scaler = model.encoding_.input_scalers["pm2.5"]
    expected = scaler.transform(beijing["pm2.5"].to_numpy()[~gaps]).astype(np.float32)
    assert np.allclose(encoded[~gaps, -2], expected)
    assert np.isfinite(model.predict(beijing)["TEMP"]).all()


def test_categorical_gaps_become_no_category(beijing):
    frame = beijing.astype({"cbwd": object})
    frame.loc[[30, 31, 2500], "cbwd"] = None
    spec = Spec(time="date", inputs=["TEMP", Feature("cbwd", kind="categorical", missing="mask")],
                targets=["TEMP"], lookback=12)
    model = _fit(frame, spec)
    encoded = model.encoding_.encode_inputs(frame, np.arange(len(frame)))
    assert encoded[[30, 31, 2500], 1:].sum() == 0 and np.all(encoded[29, 1:].sum() == 1)
    with pytest.raises(DataError, match="categorical input column 'cbwd' has a missing value "
                                        "at row 30"):
        _fit(frame, Spec(time="date", inputs=["TEMP", Feature("cbwd", kind="categorical")],
                         targets=["TEMP"], lookback=12))


def test_a_sentinel_string_is_named_as_a_missing_value_marker(beijing):
    frame = beijing.assign(DEWP=beijing["DEWP"].astype(object))
    frame.loc[40, "DEWP"] = "?"
    spec = Spec(time="date", inputs=WEATHER, targets=["TEMP"], lookback=12)
    with pytest.raises(DataError, match=r"'DEWP' holds '\?' at row 40, which looks like a "
                                        r"missing-value marker.*na_values"):
        _fit(frame, spec)
