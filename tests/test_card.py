"""The model card (README.md) and the training data checksum in every model directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstmkit import Feature, LSTMModel, Spec, Target
from lstmkit.data.checksum import table_sha256
from lstmkit.storage.artifact import write_model_files


@pytest.fixture(scope="module")
def weather_model(seattle):
    spec = Spec(time="date", lookback=14, horizon=2,
                inputs=["temp_max", Feature("wind", scaler="robust"),
                        Feature("weather", kind="categorical")],
                targets=[Target("temp_max"), Target("weather", kind="classification")])
    return LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(seattle)


def test_the_checksum_names_the_training_table(seattle, weather_model):
    assert weather_model.data_sha256_ == table_sha256(seattle.copy())
    changed = seattle.copy()
    changed.loc[100, "wind"] += 0.1
    assert table_sha256(changed) != table_sha256(seattle)
    assert table_sha256(seattle.iloc[::-1]) != table_sha256(seattle)      # order counts
    assert table_sha256(seattle.rename(columns={"wind": "w"})) != table_sha256(seattle)


def test_the_checksum_reads_values_not_memory_layout_and_covers_every_kind_of_column(seattle):
    values = np.random.default_rng(0).normal(size=(50, 3))
    rows, columns = pd.DataFrame(values), pd.DataFrame(np.asfortranarray(values))
    assert table_sha256(rows) == table_sha256(columns)
    assert table_sha256(rows.astype(np.float32)) != table_sha256(rows)    # dtypes count
    changed = seattle.copy()
    changed.loc[7, "weather"] = "hail"                                     # a text column
    assert table_sha256(changed) != table_sha256(seattle)
    timed = seattle.assign(date=pd.to_datetime(seattle["date"]))          # a time column
    later = timed.assign(date=timed["date"] + pd.Timedelta(hours=1))
    assert table_sha256(later) != table_sha256(timed) != table_sha256(seattle)


def test_saved_directory_describes_itself(seattle, weather_model, tmp_path):
    path = weather_model.save(tmp_path / "model")
    card = (path / "README.md").read_text()
    config = json.loads((path / "config.json").read_text())
    assert config["data_sha256"] == weather_model.data_sha256_ and \
        weather_model.data_sha256_ in card
    wind = weather_model.encoding_.input_scalers["wind"]
    assert f"| wind | numeric | robust scaler: (x - {wind.center:.6g}) / {wind.scale:.6g} |" \
        in card
    assert "| weather | categorical | one-hot over [`drizzle`, `fog`, `rain`, `snow`, `sun`]" \
        in card
    assert "| weather | classification | cross_entropy | 1 |" in card
    assert "last **14** rows" in card and "next **2** step(s)" in card
    epochs = len(weather_model.history_["epochs"])
    assert f"epochs trained: {epochs}" in card and "best validation loss" in card
    assert "torch" in card and 'LSTMModel.load("THIS_DIRECTORY")' in card
    assert "Not recorded" in card                      # save() was given no metrics
    assert LSTMModel.load(path).data_sha256_ == weather_model.data_sha256_


def test_card_shows_metrics_when_given(seattle, weather_model, tmp_path):
    evaluation = weather_model.evaluate(seattle, part="test")
    write_model_files(weather_model, tmp_path, {"scored_on": "the test part",
                                                **evaluation.to_dict()})
    card = (tmp_path / "README.md").read_text()
    rmse = evaluation.metric("temp_max", "RMSE")
    assert "Scored on the test part" in card
    assert f"| temp_max | RMSE | {rmse:.4g} |" in card
    assert np.isfinite(rmse)


def test_a_directory_without_a_checksum_still_loads(weather_model, tmp_path):
    path = weather_model.save(tmp_path / "old")
    config = json.loads((path / "config.json").read_text())
    del config["data_sha256"]                          # as written before the key existed
    (path / "config.json").write_text(json.dumps(config))
    assert LSTMModel.load(path).data_sha256_ is None
