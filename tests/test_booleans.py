"""True and False in numeric columns, on Seattle's daily weather (vega_datasets).

A column of booleans alone ("it rained") is 1 and 0 to a numeric input, and labels to a
binary target; a regression target of booleans is fitted as numbers with a warning that
names the binary kind. A column mixing booleans and numbers is a data error, named with a
row of each, from a DataFrame and from a CSV file through the command line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import DataError, LSTMModel, Spec, Target
from lstmkit.cli.command import main
from lstmkit.errors import LSTMKitWarning

SMALL = {"hidden": 4, "max_epochs": 1, "progress": False, "seed": 0}


def wet(seattle: pd.DataFrame) -> pd.DataFrame:
    """Seattle's weather with ``wet``: whether it rained that day (a bool column)."""
    return seattle.assign(wet=seattle.precipitation > 0)


def test_a_boolean_input_is_read_as_1_and_0(seattle):
    table = wet(seattle)
    spec = Spec(time="date", inputs=["temp_max", "wet"], targets=["temp_max"], lookback=14)
    as_bools = LSTMModel(spec, **SMALL).fit(table)
    as_ints = LSTMModel(spec, **SMALL).fit(table.assign(wet=table.wet.astype(int)))
    pd.testing.assert_frame_equal(as_bools.predict(table, origins="all"),
                                  as_ints.predict(table, origins="all"))


def test_a_boolean_binary_target_predicts_its_labels_and_a_regression_one_warns(seattle):
    table = wet(seattle)
    binary = Spec(time="date", inputs=["temp_max", "wind"], lookback=14,
                  targets=[Target("wet", kind="binary")])
    forecast = LSTMModel(binary, **SMALL).fit(table).predict(table)
    assert forecast.wet.dtype == bool
    regression = Spec(time="date", inputs=["temp_max", "wind"], targets=["wet"], lookback=14)
    with pytest.warns(LSTMKitWarning, match=r"target 'wet' holds only True and False.*"
                                            r"Target\('wet', kind='binary'\)"):
        model = LSTMModel(regression, **SMALL).fit(table)
    assert model.predict(table).wet.dtype == np.float64


def test_booleans_among_numbers_are_refused_naming_a_row_of_each(seattle):
    table = seattle.assign(precipitation=seattle.precipitation.astype(object))
    table.loc[40, "precipitation"] = True                 # a flag in a measurement
    spec = Spec(time="date", inputs=["temp_max", "precipitation"], targets=["temp_max"],
                lookback=14)
    with pytest.raises(DataError, match=r"column 'precipitation' mixes booleans and numbers "
                                        r"\(True at row 40, 0.0 at row 0\)"):
        LSTMModel(spec, **SMALL).fit(table)
    target = Spec(time="date", inputs=["temp_max"], targets=["precipitation"], lookback=14)
    with pytest.raises(DataError, match=r"column 'precipitation' mixes booleans and numbers"):
        LSTMModel(target, **SMALL).fit(table)


def test_the_cli_refuses_true_among_numbers_in_a_csv_file(seattle, tmp_path, capsys):
    table = seattle.astype({"precipitation": object})
    table.loc[40, "precipitation"] = "True"
    table.to_csv(tmp_path / "weather.csv", index=False)
    config = {"data": {"path": str(tmp_path / "weather.csv")},
              "spec": {"time": "date", "inputs": ["temp_max", "precipitation"],
                       "targets": ["temp_max"], "lookback": 14},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    code = main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "run"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == DataError.exit_code, err
    assert "column 'precipitation' mixes booleans and numbers ('True' at row 40" in err
