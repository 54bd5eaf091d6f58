"""Chunked batch prediction: the same output as predicting the whole table in memory."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lstmkit import LSTMModel, Spec, Split, datasets
from lstmkit.cli.command import main
from lstmkit.data.sources import from_arrays
from lstmkit.deploy.batch import predict_chunks, read_chunks, write_predictions
from lstmkit.errors import ConfigError, DataError
from tests.conftest import ETT_COLUMNS

LOOKBACK = 24


def stations(etth1: pd.DataFrame) -> pd.DataFrame:
    """ETTh1 as four series of different lengths (one shorter than two lookbacks)."""
    bounds = [(0, 300), (300, 700), (700, 740), (740, 1200)]
    return pd.concat([etth1.iloc[a:b].assign(station=f"s{i}") for i, (a, b) in enumerate(bounds)],
                     ignore_index=True)


@pytest.fixture(scope="module")
def data(etth1) -> pd.DataFrame:
    return stations(etth1)


@pytest.fixture(scope="module", params=["date", None], ids=["time", "row-numbers"])
def model(request, data) -> LSTMModel:
    spec = Spec(inputs=ETT_COLUMNS, targets=["OT", "HUFL"], lookback=LOOKBACK, horizon=3,
                time=request.param, series="station")
    model = LSTMModel(spec, hidden=8, max_epochs=1, batch_size=256, progress=False,
                      split=Split(val_start=0.8, test_start=None))
    return model.fit(data if request.param else data.drop(columns="date"))


def pieces(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + rows] for i in range(0, len(frame), rows)]


@pytest.mark.parametrize("origins", ["last", "all"])
@pytest.mark.parametrize("rows", [7, LOOKBACK - 1, LOOKBACK, 100])
def test_chunks_give_the_in_memory_predictions(model, data, origins, rows):
    table = data if model.spec_.time else data.drop(columns="date")
    streamed = pd.concat(list(predict_chunks(model, pieces(table, rows), origins)),
                         ignore_index=True)
    pd.testing.assert_frame_equal(streamed, model.predict(table, origins), rtol=1e-5)


def test_one_series_without_an_id_column_spans_every_chunk(etth1):
    spec = Spec(inputs=ETT_COLUMNS, targets=["OT"], lookback=LOOKBACK)
    model = LSTMModel(spec, hidden=4, max_epochs=1, batch_size=256, progress=False,
                      split=Split(val_start=0.8, test_start=None)).fit(etth1.iloc[:1000])
    table = etth1.iloc[:600].drop(columns="date")
    for origins in ("last", "all"):
        streamed = pd.concat(list(predict_chunks(model, pieces(table, 50), origins)),
                             ignore_index=True)
        pd.testing.assert_frame_equal(streamed, model.predict(table, origins), rtol=1e-5)


def test_sequences_spanning_chunks_are_predicted_whole(shared_data):
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    model = LSTMModel(hidden=4, max_epochs=1, progress=False).fit(X, y)
    table = from_arrays(X, None, model.spec_)[0]
    streamed = pd.concat(list(predict_chunks(model, pieces(table, 37), "last")),
                         ignore_index=True)
    pd.testing.assert_frame_equal(streamed, model.predict(X), rtol=1e-5)


def test_gaps_forward_filled_across_chunk_boundaries(data):
    spec = Spec(inputs=ETT_COLUMNS, targets=["OT"], lookback=LOOKBACK, time="date",
                series="station", missing="ffill")
    model = LSTMModel(spec, hidden=4, max_epochs=1, batch_size=256, progress=False,
                      split=Split(val_start=0.8, test_start=None)).fit(data)
    gappy = data.copy()
    gappy.loc[320:380, "OT"] = float("nan")            # longer than a lookback, across chunks
    for origins in ("last", "all"):
        streamed = pd.concat(list(predict_chunks(model, pieces(gappy, 30), origins)),
                             ignore_index=True)
        pd.testing.assert_frame_equal(streamed, model.predict(gappy, origins), rtol=1e-5)


def test_bad_rows_that_only_feed_the_carried_tail_are_still_refused(model, data):
    table = data if model.spec_.time else data.drop(columns="date")
    bad = table.copy()
    bad.loc[310, "HULL"] = float("nan")              # in series s1, long before its last window
    with pytest.raises(DataError, match="'HULL' has a missing value"):
        model.predict(bad)
    with pytest.raises(DataError, match="'HULL' has a missing value"):
        list(predict_chunks(model, pieces(bad, 100), "last"))


def test_a_series_split_across_the_file_is_refused_with_the_fix(model, data):
    table = data if model.spec_.time else data.drop(columns="date")
    shuffled = pd.concat([table.iloc[:150], table.iloc[800:], table.iloc[150:800]])
    with pytest.raises(DataError, match=r"series 's0' appears again.*sort the file by 'station'"):
        list(predict_chunks(model, pieces(shuffled, 100), "last"))


def test_cli_streams_a_parquet_file_in_row_groups(tmp_path, data, capsys):
    spec = Spec(inputs=ETT_COLUMNS, targets=["OT"], lookback=LOOKBACK, time="date",
                series="station")
    model = LSTMModel(spec, hidden=4, max_epochs=1, batch_size=256, progress=False,
                      split=Split(val_start=0.8, test_start=None)).fit(data)
    model_dir = model.save(tmp_path / "model")
    source = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pandas(data, preserve_index=False), source, row_group_size=37)
    assert pq.ParquetFile(source).metadata.num_row_groups > 30
    chunks, total = read_chunks(source, rows=37)
    assert total == len(data) and len(next(chunks)) == 37
    expected = model.predict(data, origins="all")
    for output in ("out.parquet", "out.csv"):
        assert main(["predict", str(model_dir), str(source), "-o", str(tmp_path / output),
                     "--origins", "all", "--chunk-rows", "37"]) == 0
        assert f"wrote {len(expected)} rows" in capsys.readouterr().out
        got = (pd.read_parquet(tmp_path / output) if output.endswith("parquet")
               else pd.read_csv(tmp_path / output, parse_dates=["origin", "time"]))
        pd.testing.assert_frame_equal(got, expected, rtol=1e-5, check_dtype=False)
    (tmp_path / "keep.csv").write_bytes((tmp_path / "out.csv").read_bytes())   # predictions
    before = (tmp_path / "keep.csv").read_text()
    shuffled = tmp_path / "shuffled.parquet"
    pd.concat([data.iloc[:150], data.iloc[800:], data.iloc[150:800]]).to_parquet(shuffled)
    assert main(["predict", str(model_dir), str(shuffled), "-o", str(tmp_path / "keep.csv"),
                 "--chunk-rows", "100", "--overwrite"]) == 3
    assert "appears again" in capsys.readouterr().err
    assert (tmp_path / "keep.csv").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "big.parquet", "keep.csv", "model", "out.csv", "out.parquet", "shuffled.parquet"]


def test_csv_files_are_read_in_chunks_and_empty_input_is_refused(tmp_path, model, data):
    table = data if model.spec_.time else data.drop(columns="date")
    source = tmp_path / "table.csv"
    table.to_csv(source, index=False)
    chunks, total = read_chunks(source, rows=100)
    assert total is None
    streamed = pd.concat(list(predict_chunks(model, chunks, "all")), ignore_index=True)
    pd.testing.assert_frame_equal(streamed, model.predict(pd.read_csv(source), "all"), rtol=1e-5)
    with pytest.raises(DataError, match="no rows"):
        list(predict_chunks(model, [table.iloc[:0]], "last"))


def test_write_predictions_refuses_unknown_suffixes(tmp_path):
    with pytest.raises(ConfigError, match=r"must end in \.csv or \.parquet"):
        write_predictions(iter([]), tmp_path / "out.xlsx")
