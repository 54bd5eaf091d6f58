"""Ids with leading zeros in a CSV file keep them, through the command line and the API.

ETTm2's sensors as a long table whose series are "007", "07" and the zip code "02139",
with a categorical site code "0400" / "400": read as numbers, "007" and "07" would be one
series, 7. lstmkit's CSV reader reads a spec's series (or sequence) column and its
categorical inputs as text; numeric columns stay numbers, and a saved model matches labels
it holds as numbers by their text, so models fitted on either read both.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import DataError, LSTMModel, Spec
from lstmkit.cli.command import main
from lstmkit.data.scaling import Labels
from lstmkit.data.sources import read_table, text_columns
from tests.conftest import SHARED_DATA
from tests.test_serve import post, running_server

ETTM2 = SHARED_DATA / "forecasting" / "ETT-small" / "ETTm2.csv.gz"
IDS = {"OT": "007", "HUFL": "07", "LUFL": "02139"}
SITES = {"007": "0400", "07": "400", "02139": "0400"}
SMALL = {"hidden": 4, "max_epochs": 1, "progress": False}


def sensors() -> pd.DataFrame:
    """ETTm2's first 400 rows, three columns as three series with zero-padded ids."""
    wide = pd.read_csv(ETTM2, nrows=400)
    long = wide.melt(id_vars="date", value_vars=list(IDS), var_name="sensor")
    long["sensor"] = long.sensor.map(IDS)
    long["site"] = long.sensor.map(SITES)
    return long


def panel_spec() -> dict:
    return {"time": "date", "series": "sensor", "lookback": 16, "horizon": 2,
            "inputs": ["value", {"name": "site", "kind": "categorical"}], "targets": ["value"]}


def test_the_cli_keeps_zero_padded_series_ids_and_site_codes_of_a_csv_file(tmp_path, capsys):
    path = tmp_path / "sensors.csv"
    sensors().to_csv(path, index=False)
    assert pd.read_csv(path).sensor.nunique() == 2       # pandas alone: 7, 7 and 2139
    spec = Spec.from_dict(panel_spec())
    assert text_columns(spec) == ["sensor", "site"]
    table = read_table(path, spec=spec)
    assert set(table.sensor) == set(IDS.values()) and set(table.site) == {"0400", "400"}
    assert table.value.dtype == np.float64                # numbers stay numbers
    config = {"data": {"path": str(path)}, "spec": panel_spec(), "model": {"hidden": 4},
              "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(run),
                 "--no-progress"]) == 0, capsys.readouterr().err
    saved = json.loads((run / "config.json").read_text())
    assert saved["spec"]["scale_by"] == "series"
    model = LSTMModel.load(run)
    assert sorted(model.pipeline_.encoding.series.keys) == sorted(IDS.values())
    assert model.pipeline_.encoding.input_labels["site"].classes == ("0400", "400")
    out = tmp_path / "forecast.csv"
    assert main(["predict", str(run), str(path), "-o", str(out), "--chunk-rows", "250",
                 "--no-progress"]) == 0, capsys.readouterr().err
    forecast = pd.read_csv(out, dtype={"sensor": str})
    assert sorted(forecast.sensor.unique()) == sorted(IDS.values())
    assert len(forecast) == 3 * 2 and forecast.value.dtype == np.float64
    assert main(["evaluate", str(run), str(path)]) == 0, capsys.readouterr().err
    assert "value" in capsys.readouterr().out
    with running_server(run) as url:                     # a CSV body is read so too
        response = post(url, pd.read_csv(path, dtype=str), "csv")
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    assert sorted(served.sensor.unique()) == sorted(IDS.values())
    np.testing.assert_allclose(served.value, forecast.value, rtol=1e-5)


def hourly_codes() -> pd.DataFrame:
    """ETTm2's first 600 rows with the hour of day as a column (0..23, no zeros)."""
    table = pd.read_csv(ETTM2, nrows=600)[["date", "HUFL", "OT"]]
    return table.assign(hour=pd.to_datetime(table.date).dt.hour)


def test_models_fitted_on_numeric_codes_or_on_their_text_read_both(tmp_path, capsys):
    table = hourly_codes()
    path = tmp_path / "hours.csv"
    table.to_csv(path, index=False)
    spec = {"time": "date", "inputs": ["HUFL", {"name": "hour", "kind": "categorical"}],
            "targets": ["OT"], "lookback": 16, "horizon": 2}
    # A model fitted on the numbers (as every model was before): its labels are 0 .. 23, and
    # the CSV file's text "0" .. "23" reads as them.
    on_numbers = LSTMModel(Spec.from_dict(spec), **SMALL).fit(table)
    assert on_numbers.pipeline_.encoding.input_labels["hour"].classes == tuple(range(24))
    on_numbers.save(tmp_path / "numbers")
    out = tmp_path / "numbers.csv"
    assert main(["predict", str(tmp_path / "numbers"), str(path), "-o", str(out),
                 "--no-progress"]) == 0, capsys.readouterr().err
    np.testing.assert_allclose(pd.read_csv(out).OT, on_numbers.predict(table).OT, rtol=1e-6)
    # A model fitted through the command line reads the codes as text, and a table of
    # numbers (pandas' read_csv) as them.
    config = {"data": {"path": str(path)}, "spec": spec, "model": {"hidden": 4},
              "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "run"),
                 "--no-progress"]) == 0, capsys.readouterr().err
    on_text = LSTMModel.load(tmp_path / "run")
    classes = on_text.pipeline_.encoding.input_labels["hour"].classes
    assert sorted(classes) == sorted(str(h) for h in range(24))
    out = tmp_path / "text.csv"
    assert main(["predict", str(tmp_path / "run"), str(path), "-o", str(out),
                 "--no-progress"]) == 0, capsys.readouterr().err
    np.testing.assert_allclose(on_text.predict(pd.read_csv(path)).OT, pd.read_csv(out).OT,
                               rtol=1e-6)


def test_labels_match_across_text_and_numbers_but_not_across_lost_zeros():
    assert Labels((1, 2, 10)).codes(["10", "1"], "hour").tolist() == [2.0, 0.0]
    assert Labels(("1", "2", "10")).codes(np.array([10, 2]), "hour").tolist() == [2.0, 1.0]
    assert Labels((False, True)).codes(["True"], "flag").tolist() == [1.0]
    with pytest.raises(DataError, match=r"column 'site' has label 400 at row 3, which was not "
                                        r"seen.*'0400'"):
        Labels(("0400", "0500")).codes([400], "site", np.array([3]))
