"""Inputs known in advance (``Feature(future=True)``): read over the horizon, end to end.

The data is ETTh1 with one added column, a planned ``event`` (a seeded 0/1 schedule)
that raises the load it forecasts: only a model that reads the event over the
forecast steps can know when the load jumps.
"""

from __future__ import annotations

import copy
import json

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from lstmkit import ConfigError, DataError, Feature, LSTMModel, Spec, Split
from lstmkit.analysis import plots
from lstmkit.data import prepare
from lstmkit.data.groups import arrange
from lstmkit.deploy.batch import predict_chunks
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.storage.card import model_card
from tests.test_cli import lstmkit
from tests.test_export import assert_same_predictions
from tests.test_serve import running_server

LOOKBACK, HORIZON = 24, 6
SPLIT = Split(val_start=0.7, test_start=0.85)
SMALL = {"hidden": 16, "batch_size": 64, "progress": False, "split": SPLIT, "seed": 0}


@pytest.fixture(scope="module")
def planned(etth1) -> pd.DataFrame:
    """2,000 hours of ETTh1 with a planned event that adds 10 to the load:
    ``load = OT + 10 * event``."""
    frame = etth1.iloc[:2000][["date", "HUFL", "OT"]].reset_index(drop=True)
    event = (np.random.default_rng(7).random(len(frame)) < 0.15).astype(float)
    return frame.assign(event=event, load=frame["OT"] + 10 * event)


def spec(future: bool = True, **changes) -> Spec:
    return Spec(**{"inputs": ["HUFL", "load", Feature("event", future=future)],
                   "targets": ["load"], "lookback": LOOKBACK, "horizon": HORIZON,
                   "time": "date", **changes})


@pytest.fixture(scope="module")
def model(planned) -> LSTMModel:
    return LSTMModel(spec(), **{**SMALL, "hidden": 8, "max_epochs": 1}).fit(planned)


def forecast_table(planned: pd.DataFrame, end: int = 1500) -> pd.DataFrame:
    """The lookback before row ``end``, then the horizon's rows with only time and event."""
    table = planned.iloc[end - LOOKBACK : end + HORIZON].copy()
    table.loc[table.index[-HORIZON:], ["HUFL", "OT", "load"]] = np.nan
    return table


def test_the_spec_refuses_future_inputs_that_cannot_be_known():
    with pytest.raises(ConfigError, match="'load' is a target and a future input"):
        Spec(inputs=[Feature("load", future=True)], targets=["load"], lookback=4)
    with pytest.raises(ConfigError, match="for task 'forecast'"):
        Spec(inputs=[Feature("event", future=True)], targets=["label"], task="sequence",
             sequence="id")
    with pytest.raises(ConfigError, match="future of feature 'event' must be true or false"):
        Feature("event", future="yes")
    from_yaml = Spec.from_dict({"inputs": ["load", {"name": "event", "future": True}],
                                "targets": ["load"], "lookback": 4})
    assert from_yaml.future_names == ["event"] and from_yaml.span == 4 + 1
    assert Spec.from_dict(from_yaml.to_dict()) == from_yaml
    # Specs without future inputs serialise as before (saved models, checkpoint fingerprints).
    assert "future" not in spec(future=False).to_dict()["inputs"][-1]


def test_a_batch_carries_the_future_rows_of_the_known_columns(model, planned):
    groups = arrange(planned, model.spec_)
    encoded = prepare.encode(groups, model.spec_, model.encoding_, with_targets=True)
    windows = prepare.part_windows(encoded, model.spec_, None, "all")
    batch = windows.batch(torch.tensor([0, 5, 100]))
    assert batch["x"].shape == (3, LOOKBACK, 3) and batch["future"].shape == (3, HORIZON, 1)
    event = model.encoding_.input_scalers["event"].transform(planned["event"].to_numpy())
    for row, start in enumerate([0, 5, 100]):
        want = event[start + LOOKBACK : start + LOOKBACK + HORIZON]
        np.testing.assert_allclose(batch["future"][row, :, 0].numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("params", [{}, {"decoder": "direct", "channel_independent": False},
                                    {"decoder": "repeat"}, {"decoder": "autoregressive"}],
                         ids=["preset", "direct", "repeat", "autoregressive"])
def test_every_decoder_learns_what_only_the_future_rows_say(planned, params):
    def test_rmse(future: bool) -> float:
        params_ = {**SMALL, "max_epochs": 20, "lr": 3e-3, **params}
        fitted = LSTMModel(spec(future), **params_).fit(planned)
        return fitted.evaluate(planned, part="test").metric("load", "RMSE")

    # Blind, the events add their whole spread to the error (RMSE 3.8 for every decoder
    # here); read ahead, 0.51-0.55 of that was left when this test was last changed
    # (0.51-0.65 before the linear future effect after the instance norm).
    blind, informed = test_rmse(False), test_rmse(True)
    print(f"informed / blind test RMSE: {informed:.3f} / {blind:.3f} = {informed / blind:.2f}")
    assert informed < 0.65 * blind, (informed, blind)


def test_predict_reads_only_the_known_columns_of_the_forecast_rows(model, planned):
    table = forecast_table(planned)
    before = table.copy()
    predictions = model.predict(table)
    pd.testing.assert_frame_equal(table, before)            # the user's table is untouched
    assert len(predictions) == HORIZON
    assert (predictions["origin"] == table["date"].iloc[LOOKBACK - 1]).all()
    assert list(predictions["time"]) == list(pd.to_datetime(table["date"].iloc[LOOKBACK:]))
    # Whatever the other columns hold there, the forecast is the same...
    filled = table.copy()
    filled.loc[filled.index[-HORIZON:], ["HUFL", "load"]] = 1e6
    pd.testing.assert_frame_equal(model.predict(filled), predictions)
    # ...and it moves with the planned events.
    flipped = table.copy()
    flipped.loc[flipped.index[-HORIZON:], "event"] = 1 - flipped["event"].iloc[-HORIZON:]
    assert not np.allclose(model.predict(flipped)["load"], predictions["load"])


def test_a_table_without_the_forecast_rows_is_refused(model, planned):
    need = LOOKBACK + HORIZON
    with pytest.raises(DataError, match=f"fewer than lookback \\+ horizon .* = {need}"):
        model.predict(planned.iloc[:LOOKBACK])


def test_every_origin_forecasts_rows_that_the_table_has(model, planned):
    table = planned.iloc[:100]
    predictions = model.predict(table, origins="all")
    assert len(predictions) == (100 - LOOKBACK - HORIZON + 1) * HORIZON
    assert predictions["time"].max() == pd.Timestamp(table["date"].iloc[-1])


def test_saved_exported_and_chunked_predictions_agree(model, planned, tmp_path):
    table = planned.iloc[1000:1200]
    want = {origins: model.predict(table, origins) for origins in ("last", "all")}
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    assert onnx.metadata["inputs"]["numeric"]["shape"] == ["batch", LOOKBACK + HORIZON, 3]
    for origins, expected in want.items():
        pd.testing.assert_frame_equal(loaded.predict(table, origins), expected)
        assert_same_predictions(onnx.predict(table, origins), expected)
        pieces = [table.iloc[i : i + 17] for i in range(0, len(table), 17)]
        streamed = pd.concat(list(predict_chunks(model, pieces, origins)), ignore_index=True)
        pd.testing.assert_frame_equal(streamed, expected, rtol=1e-5)
    assert_same_predictions(onnx.predict(forecast_table(planned)),
                            model.predict(forecast_table(planned)))


def test_a_model_saved_before_the_direct_future_effect_loads_as_it_was(model, planned,
                                                                      tmp_path):
    # Files from before ``future_effect`` existed lack its weight (and the weights' sha256);
    # at zero the network computes what theirs did.
    path = model.save(tmp_path / "model")
    weights = load_file(path / "weights.safetensors")
    del weights["future_effect.weight"]
    save_file(weights, str(path / "weights.safetensors"))
    config = json.loads((path / "config.json").read_text())
    del config["weights_sha256"]
    (path / "config.json").write_text(json.dumps(config))
    old = LSTMModel.load(path)
    assert not old.network_.future_effect.weight.any()
    without = copy.deepcopy(model)
    with torch.no_grad():
        without.network_.future_effect.weight.zero_()
    table = planned.iloc[1000:1200]
    pd.testing.assert_frame_equal(old.predict(table, "all"), without.predict(table, "all"))
    assert not old.predict(table).equals(model.predict(table))   # the fit trained the effect


def test_backtests_and_forecast_plots_read_the_future_rows(model, planned, tmp_path):
    result = model.backtest(planned.iloc[:600], folds=2, refit=False)
    assert set(result.table["fold"]) == {0, 1}
    figure = plots.forecasts(model, planned.iloc[:300], save=tmp_path / "forecasts.png")
    drawn = [line for ax in figure.axes for line in ax.get_lines() if "forecast" in
             line.get_label()]
    assert len(drawn) == 3 and all(len(line.get_xdata()) == HORIZON + 1 for line in drawn)


def test_the_model_card_says_which_inputs_are_read_ahead(model):
    assert "known in advance (`event`)" in model_card(model, None)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_server_takes_forecast_rows_with_empty_columns(model, planned, tmp_path, backend):
    model_dir = model.save(tmp_path / "model")
    table = forecast_table(planned).assign(date=lambda t: t["date"].astype(str))
    rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    with running_server(model_dir, "--backend", backend) as url:
        answer = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=60)
    assert answer.status_code == 200, answer.text
    served = pd.DataFrame(answer.json()["predictions"])
    np.testing.assert_allclose(served["load"], model.predict(table)["load"], rtol=1e-5)


def test_the_command_line_fits_from_yaml_and_predicts_from_a_csv_with_gaps(planned, tmp_path):
    planned.to_csv(tmp_path / "planned.csv", index=False)
    config = {"data": {"path": "planned.csv"},
              "spec": {"time": "date", "inputs": ["HUFL", "load", {"name": "event",
                                                                  "future": True}],
                       "targets": ["load"], "lookback": LOOKBACK, "horizon": HORIZON},
              "model": {"hidden": 8}, "training": {"max_epochs": 1}}
    (tmp_path / "planned.yaml").write_text(yaml.safe_dump(config))
    fit = lstmkit("fit", "planned.yaml", "--run-dir", "run", "--no-progress", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    forecast_table(planned).to_csv(tmp_path / "ahead.csv", index=False)   # empty cells
    done = lstmkit("predict", "run", "ahead.csv", "-o", "forecast.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    served = pd.read_csv(tmp_path / "forecast.csv")
    model = LSTMModel.load(tmp_path / "run")
    np.testing.assert_allclose(served["load"], model.predict(forecast_table(planned))["load"],
                               rtol=1e-5)
    assert list(served["time"]) == list(forecast_table(planned)["date"].iloc[LOOKBACK:])
