"""Tables from DataFrames, CSV (any common delimiter, BOM) and Parquet give the same model."""

from __future__ import annotations

import pandas as pd
import pytest

from lstmkit import DataError, LSTMModel, Spec
from lstmkit.cli import main
from lstmkit.data.sources import read_table
from tests.conftest import ETT_COLUMNS


@pytest.fixture(scope="module")
def small(etth1):
    return etth1.iloc[:1200]


def test_csv_and_parquet_paths_train_the_same_model_as_the_dataframe(tmp_path, small):
    csv, parquet = tmp_path / "t.csv", tmp_path / "t.parquet"
    small.to_csv(csv, index=False)
    small.to_parquet(parquet, index=False)
    spec = Spec(time="date", inputs=ETT_COLUMNS, targets=["OT"], lookback=24, horizon=4)
    forecasts = []
    for source in (small, str(csv), parquet):
        model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(source)
        forecasts.append(model.predict(source))
    pd.testing.assert_frame_equal(forecasts[0], forecasts[1])
    pd.testing.assert_frame_equal(forecasts[0], forecasts[2])


@pytest.mark.parametrize(("sep", "encoding"),
                         [(";", "utf-8"), ("\t", "utf-8"), (",", "utf-8-sig")])
def test_csv_delimiter_and_byte_order_mark_are_handled(tmp_path, small, sep, encoding):
    path = tmp_path / "t.csv"
    small.to_csv(path, index=False, sep=sep, encoding=encoding)
    table = read_table(path)
    assert list(table.columns) == list(small.columns)
    assert table.OT.iloc[5] == pytest.approx(small.OT.iloc[5])


def test_unreadable_files_name_the_file(tmp_path, small):
    broken = tmp_path / "broken.parquet"
    small.to_parquet(broken)
    broken.write_bytes(broken.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cannot read .*broken\.parquet"):
        read_table(broken)
    with pytest.raises(DataError, match=r"unknown type; use \.csv"):
        (tmp_path / "t.xlsx").write_text("x")
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "absent.csv")


def test_datasets_command_lists_the_named_sets(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "etth1" in out and "BasicMotions" in out and "seattle_weather" in out
