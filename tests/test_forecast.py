"""Forecasting on real data (ETTh1): beats persistence, many series, decoders, heads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import DataError, LSTMModel, Spec, Split
from tests.conftest import ETT_COLUMNS, SHARED_DATA

ETT_SPLIT = Split(val_start=8640, test_start=11520, end=14400)


@pytest.fixture(scope="module")
def etth1_model(etth1):
    spec = Spec(time="date", inputs=ETT_COLUMNS, targets=["OT", "HUFL"], lookback=96, horizon=24)
    model = LSTMModel(spec, hidden=64, lr=1e-3, max_epochs=4, batch_size=128, split=ETT_SPLIT,
                      progress=False)
    return model.fit(etth1)


def test_two_targets_from_seven_inputs_beat_persistence_on_the_test_months(etth1, etth1_model):
    evaluation = etth1_model.evaluate(etth1, part="test")
    for target in ("OT", "HUFL"):
        assert evaluation.metric(target, "RMSE") < evaluation.metric(target, "RMSE", of="naive")
        assert evaluation.metric(target, "MAE") < evaluation.metric(target, "MAE", of="naive")
    # Metrics are in original units: HUFL's MAE is of the order of its own spread.
    assert 0.5 < evaluation.metric("HUFL", "MAE") < etth1.HUFL.std()
    steps = evaluation.per_step.query("target == 'OT' and metric == 'MAE'")
    assert steps.step.tolist() == list(range(1, 25))
    assert steps.model.iloc[0] < steps.model.iloc[-1]       # the near future is easier


def test_predict_gives_a_tidy_frame_in_original_units(etth1, etth1_model):
    forecast = etth1_model.predict(etth1.iloc[:2000])
    assert list(forecast.columns) == ["origin", "step", "time", "OT", "HUFL"]
    assert len(forecast) == 24 and forecast.step.tolist() == list(range(1, 25))
    last = pd.Timestamp(etth1.date.iloc[1999])
    assert (forecast.origin == last).all()
    assert forecast.time.iloc[0] == last + pd.Timedelta(hours=1)
    assert abs(forecast.OT.mean() - etth1.OT.iloc[1900:2000].mean()) < 5 * etth1.OT.std()
    every = etth1_model.predict(etth1.iloc[:200], origins="all")
    assert len(every) == (200 - 96 + 1) * 24


def test_windows_are_validation_selected_and_best_weights_restored(etth1_model):
    history = etth1_model.history_
    losses = [e["val_loss"] for e in history["epochs"]]
    assert history["best_val_loss"] == pytest.approx(min(losses), rel=1e-5)
    assert history["epochs"][history["best_epoch"]]["val_loss"] == pytest.approx(min(losses))


def test_many_series_in_one_table_never_mix(etth1):
    etth2 = pd.read_csv(SHARED_DATA / "forecasting" / "ETT-small" / "ETTh2.csv").iloc[:3000]
    both = pd.concat([etth1.iloc[:3000].assign(station="h1"), etth2.assign(station="h2")])
    spec = Spec(time="date", series="station", inputs=ETT_COLUMNS, targets=["OT"], lookback=48,
                horizon=12)
    model = LSTMModel(spec, hidden=16, max_epochs=2, batch_size=128, progress=False).fit(both)
    forecast = model.predict(both)
    assert forecast.station.tolist() == ["h1"] * 12 + ["h2"] * 12
    # Each series is forecast from its own rows only: as it is alone, not as the other.
    for station, rows in both.groupby("station"):
        alone = model.predict(rows)
        pd.testing.assert_frame_equal(forecast[forecast.station == station]
                                      .reset_index(drop=True), alone)
        other = model.predict(both[both.station != station].assign(station=station))
        assert not np.allclose(alone.OT, other.OT)
    # Interleaved rows are grouped per series first: the same model, the same forecast.
    shuffled = both.sort_values("date", kind="stable")
    pd.testing.assert_frame_equal(model.predict(shuffled), forecast)


@pytest.mark.parametrize("decoder", ["repeat", "autoregressive"])
def test_encoder_decoder_forecasts_beat_persistence(etth1, decoder):
    spec = Spec(time="date", inputs=ETT_COLUMNS, targets=["HUFL", "MUFL"], lookback=48,
                horizon=12)
    model = LSTMModel(spec, hidden=32, decoder=decoder, max_epochs=2, batch_size=128,
                      split=ETT_SPLIT, progress=False).fit(etth1)
    assert model.network_.config.decoder == decoder
    evaluation = model.evaluate(etth1, part="test")
    for target in ("HUFL", "MUFL"):
        assert evaluation.metric(target, "RMSE") < evaluation.metric(target, "RMSE", of="naive")


def test_shared_and_separate_heads(etth1):
    spec = Spec(time="date", inputs=ETT_COLUMNS, targets=["HUFL", "MUFL", "OT"], lookback=24,
                horizon=4)
    frame = etth1.iloc[:1500]
    layers = {}
    for heads in ("shared", "separate"):
        model = LSTMModel(spec, hidden=8, heads=heads, channel_independent=False, max_epochs=1,
                          progress=False).fit(frame)
        layers[heads] = [tuple(layer.weight.shape) for layer in model.network_.decoder.heads.layers]
        assert model.predict(frame).shape == (4, 3 + 3)   # origin, step, time + targets
    assert layers["shared"] == [(4 * 3, 8)]
    assert layers["separate"] == [(4, 8)] * 3


def test_forecast_from_a_2d_array_with_named_columns(etth1):
    spec = Spec(inputs=ETT_COLUMNS[:6], targets=["OT"], lookback=24, horizon=6)
    X, y = etth1[ETT_COLUMNS[:6]].to_numpy()[:2000], etth1.OT.to_numpy()[:2000]
    model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(X, y)
    assert model.spec_.input_names == ETT_COLUMNS       # OT's past is read too
    with pytest.raises(DataError, match=r"targets' past values \(\['OT'\]\).*past_targets=False"):
        model.predict(X[-100:])
    forecast = model.predict(np.column_stack([X, y])[-100:])
    assert forecast.columns.tolist() == ["origin", "step", "OT"] and len(forecast) == 6
    assert (forecast.origin == 99).all()
    assert np.isfinite(forecast.OT).all()
    inputs_only = Spec(inputs=ETT_COLUMNS[:6], targets=["OT"], lookback=24, horizon=6,
                       past_targets=False)
    model = LSTMModel(inputs_only, hidden=8, max_epochs=1, progress=False).fit(X, y)
    assert model.predict(X[-100:]).OT.notna().all()
