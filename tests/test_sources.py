"""Tables from DataFrames, CSV (any common delimiter, BOM, UTF-16) and Parquet give the same
model."""

from __future__ import annotations

import pandas as pd
import pytest

from lstmkit import DataError, LSTMModel, Spec
from lstmkit.cli.command import main
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
                         [(";", "utf-8"), ("\t", "utf-8"), (",", "utf-8-sig"),
                          ("\t", "utf-16")])
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


@pytest.mark.parametrize("padded", [False, True])
def test_seq2seq_arrays_become_input_rows_then_output_rows(padded):
    import numpy as np

    from lstmkit.data.sources import from_arrays

    X = np.arange(3 * 4 * 2, dtype=np.float64).reshape(3, 4, 2)
    if padded:
        X[1, 3:] = np.nan                                     # sample 1 has 3 steps
    y = -np.arange(3 * 2 * 2, dtype=np.float64).reshape(3, 2, 2)
    spec = Spec(["a", "b"], ["b", "c"], task="seq2seq", horizon=2)
    table, _ = from_arrays(X, y, spec)
    expected = []
    for i in range(3):
        steps = 3 if padded and i == 1 else 4
        inputs = pd.DataFrame(X[i, :steps], columns=["a", "b"]).assign(c=np.nan)
        outputs = pd.DataFrame({"a": np.nan, "b": y[i, :, 0], "c": y[i, :, 1]})
        expected += [inputs.assign(sample=i), outputs.assign(sample=i)]
    expected = pd.concat(expected, ignore_index=True)[["sample", "a", "b", "c"]]
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_arrays_are_read_and_never_written():
    """The table wraps the user's arrays without copying them, so nothing may write to them:
    read-only arrays with gaps that ``ffill`` fills must train and predict, and stay as given."""
    import numpy as np

    from lstmkit import Feature

    rng = np.random.default_rng(0)
    X3 = rng.normal(size=(48, 10, 2)).astype(np.float32)
    X3[3, 4, 0] = X3[7, 0:2, 0] = np.nan                     # gaps, not trailing padding
    y3 = (np.nanmean(X3[:, :, 1], axis=1) > 0).astype(np.int64)
    X2 = rng.normal(size=(300, 2))
    X2[50:53, 1] = np.nan
    y2 = rng.normal(size=300)
    sequence = Spec([Feature("a", missing="ffill"), "b"], ["label"], task="sequence")
    forecast = Spec(["a", Feature("b", missing="ffill")], ["c"], lookback=12, horizon=3,
                    past_targets=False)                   # predict(X) has no past of c
    for spec, X, y in ((sequence, X3, y3), (forecast, X2, y2)):
        given = X.copy(), y.copy()
        X.flags.writeable = y.flags.writeable = False
        model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(X, y)
        assert np.isfinite(model.predict(X).iloc[:, -1]).all()
        np.testing.assert_array_equal(X, given[0])
        np.testing.assert_array_equal(y, given[1])
