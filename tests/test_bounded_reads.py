"""Reading files is bounded and every bad file is an lstmkit error naming the file and the fix.

Real files under tmp_path, read by the Python API (``read_table``, ``LSTMModel``), by the
chunked reader (``lstmkit.deploy.batch.read_chunks``) and by the CLI (``fit``, ``predict``,
``evaluate``): a line or a decompressed size past the limit stops the read with a short
message; empty files, duplicate column names and other damage are ``DataError``s; columns a
model does not read (nested Parquet columns, dictionary columns) change nothing.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from lstmkit import DataError, LimitError, LSTMModel, Spec
from lstmkit.cli.command import main
from lstmkit.data.sources import INFLATED_FLOOR, INFLATION, MAX_LINE_BYTES, Limits, read_table
from lstmkit.deploy.batch import read_chunks
from tests.conftest import ETTH1

INPUTS = ["HUFL", "HULL", "MUFL", "OT"]
SPEC = Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=24, horizon=4)
SHORT = 400          # characters: every message here stays below this, whatever the input


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A directory with ETTh1's first 300 rows as CSV and a small model fitted on them."""
    home = tmp_path_factory.mktemp("reads")
    table = pd.read_csv(ETTH1).iloc[:300]
    table.to_csv(home / "etth1.csv", index=False)
    LSTMModel(SPEC, hidden=4, max_epochs=1, progress=False).fit(table).save(home / "model")
    return home


@pytest.fixture(scope="module")
def model(home) -> LSTMModel:
    return LSTMModel.load(home / "model")


def table(home: Path) -> pd.DataFrame:
    return pd.read_csv(home / "etth1.csv")


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """The exit code and the one line the CLI printed to stderr."""
    code = main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert len(lines[0]) < SHORT, lines[0][:1000]
    return code, lines[0]


def every_reader(path: Path, home: Path, capsys) -> list[str]:
    """The message of each way lstmkit reads ``path``: API, chunks, fit, predict, evaluate.

    Each must fail with a ``DataError`` (CLI: one short line, exit code 3)."""
    messages = []
    with pytest.raises(DataError) as info:
        read_table(path)
    messages.append(str(info.value))
    with pytest.raises(DataError) as info:
        chunks, _ = read_chunks(path, rows=50)
        list(chunks)
    messages.append(str(info.value))
    config = {"data": {"path": str(path)}, "model": {"hidden": 4}, "training": {"max_epochs": 1},
              "spec": {"time": "date", "inputs": INPUTS, "targets": ["OT"], "lookback": 24,
                       "horizon": 4}}
    (home / "bad.yaml").write_text(yaml.safe_dump(config))
    for args in (["fit", str(home / "bad.yaml"), "--run-dir", str(home / "never")],
                 ["predict", str(home / "model"), str(path), "-o", str(home / "never.csv")],
                 ["evaluate", str(home / "model"), str(path)]):
        code, line = run_cli(args, capsys)
        assert code == 3, line
        messages.append(line)
    assert not (home / "never").exists() and not (home / "never.csv").exists()
    return messages


def test_a_line_past_the_limit_stops_the_read_with_a_short_message(home, capsys):
    path = home / "one_huge_line.csv"
    with path.open("wb") as out:                      # a 50 MB cell in the first data row
        out.write(b"date,HUFL,HULL,MUFL,OT\n2016-07-01 00:00:00,")
        out.write(b"7" * 50_000_000)
        out.write(b",1,2,3\n")
    for message in every_reader(path, home, capsys):
        assert "one_huge_line.csv" in message and f"longer than {MAX_LINE_BYTES:,} bytes" in message
        assert "(line 2)" in message and "convert it to Parquet" in message
        assert len(message) < SHORT


def test_lines_are_counted_across_read_blocks(tmp_path):
    """Lines of 300,000 bytes straddle the 256 KiB blocks the reader asks for."""
    lines = [b"a,b\n"] + [b"1," + b"2" * (299_997 - 2) + b"\n"] * 5
    path = tmp_path / "wide.csv"
    path.write_bytes(b"".join(lines))
    assert len(read_table(path, Limits(line_bytes=300_000))) == 5
    lines[4] = b"1," + b"2" * 299_999 + b"\n"         # line 5 (1-based) is 300,001 bytes long
    path.write_bytes(b"".join(lines))
    with pytest.raises(LimitError, match=r"longer than 300,000 bytes \(line 5\)"):
        read_table(path, Limits(line_bytes=300_000))


def test_a_gzip_bomb_is_refused_before_it_fills_memory(home, capsys):
    """65 lines of 1 MiB in a 66 KB gzip file: decompressing stops at the floor of the limit
    (64 MiB), however much more the file would give."""
    path = home / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"date,HUFL,HULL,MUFL,OT\n")
        for _ in range(INFLATED_FLOOR // (1 << 20) + 1):
            out.write(b"x" * ((1 << 20) - 1) + b"\n")
    assert path.stat().st_size * INFLATION < INFLATED_FLOOR
    for message in every_reader(path, home, capsys):
        assert "bomb.csv.gz" in message and f"more than {INFLATED_FLOOR:,} bytes" in message
        assert "decompress it (gunzip)" in message


def test_real_gzip_files_read_whole_and_limits_are_settable(shared_data, tmp_path):
    ettm1 = shared_data / "forecasting" / "ETT-small" / "ETTm1.csv.gz"     # 10 MB unpacked
    pd.testing.assert_frame_equal(read_table(ettm1), pd.read_csv(ettm1))
    assert Limits().inflation_limit(10**9) == INFLATION * 10**9          # the ratio, above
    assert Limits().inflation_limit(1000) == INFLATED_FLOOR              # the floor
    with pytest.raises(LimitError, match=r"ETTm1.csv.gz' decompresses to more than 1,000,000"):
        read_table(ettm1, Limits(inflated_bytes=1_000_000))
    streamed = pd.concat(list(read_chunks(ettm1, rows=10_000)[0]), ignore_index=True)
    pd.testing.assert_frame_equal(streamed, pd.read_csv(ettm1))


@pytest.mark.parametrize("name", ["empty.csv", "empty.csv.gz", "empty.parquet"])
def test_empty_files_are_refused_by_every_reader(home, capsys, name):
    path = home / name
    path.write_bytes(b"")
    for message in every_reader(path, home, capsys):
        assert name in message and "is empty" in message and "write the table" in message


def duplicated_csv(home: Path) -> Path:
    path = home / "twice.csv"
    text = table(home).assign(copy=1.0).to_csv(index=False)
    path.write_text(text.replace("copy", "HULL", 1))
    return path


def duplicated_parquet(home: Path) -> Path:
    frame = pa.Table.from_pandas(table(home), preserve_index=False)
    frame = pa.Table.from_arrays([*frame.columns, frame.column("HULL")],
                                 names=[*frame.column_names, "HULL"])
    pq.write_table(frame, home / "twice.parquet")
    return home / "twice.parquet"


@pytest.mark.parametrize("make", [duplicated_csv, duplicated_parquet], ids=["csv", "parquet"])
def test_duplicate_column_names_in_files_are_refused(home, capsys, make):
    path = make(home)
    for message in every_reader(path, home, capsys):
        assert f"{path.name}' has two columns named 'HULL' (columns 3 and 9)" in message
        assert "give every column its own name" in message


def test_duplicate_column_names_in_a_dataframe_are_refused(home, model):
    twice = pd.concat([table(home), table(home)[["OT"]]], axis=1)
    for run in (lambda: LSTMModel(SPEC, hidden=4, max_epochs=1, progress=False).fit(twice),
                lambda: model.predict(twice), lambda: model.evaluate(twice),
                lambda: list(read_chunks(twice)[0])):
        with pytest.raises(DataError, match=r"the DataFrame has two columns named 'OT' "
                                            r"\(columns 8 and 9\)"):
            run()


def test_columns_a_model_does_not_read_change_nothing(home, model):
    """Unused struct, list and map columns, and a dictionary-encoded column, in Parquet."""
    frame = table(home)
    plain = pa.Table.from_pandas(frame, preserve_index=False)
    n = len(frame)
    extras = {"meta": pa.array([{"id": i, "tag": "x"} for i in range(n)]),
              "samples": pa.array([[i, i + 1] for i in range(n)]),
              "labels": pa.array([[("k", i)] for i in range(n)],
                                 type=pa.map_(pa.string(), pa.int64())),
              "site": pa.array(["north"] * n).dictionary_encode()}
    path = home / "extras.parquet"
    pq.write_table(pa.Table.from_arrays([*plain.columns, *extras.values()],
                                        names=[*plain.column_names, *extras]), path)
    assert set(read_table(path).columns) == {*frame.columns, "site"}
    fitted = [LSTMModel(SPEC, hidden=4, max_epochs=1, progress=False).fit(source)
              for source in (frame, str(path))]
    pd.testing.assert_frame_equal(fitted[0].predict(frame), fitted[1].predict(path))
    pd.testing.assert_frame_equal(model.predict(path, origins="all"),
                                  model.predict(frame, origins="all"))
    chunks, total = read_chunks(path, rows=64)
    assert total == n and [set(c.columns) for c in chunks] == [{*frame.columns, "site"}] * 5


def test_other_damage_on_the_reading_path_is_a_data_error(home, model, capsys):
    frame = table(home)
    header_only = home / "header_only.csv"
    frame.iloc[:0].to_csv(header_only, index=False)
    no_header = home / "no_header.csv"
    frame.to_csv(no_header, index=False, header=False)
    not_gzip = home / "plain.csv.gz"                  # named .gz, but plain text: read as such
    frame.to_csv(not_gzip, index=False, compression=None)
    latin = home / "latin.csv"
    latin.write_bytes(frame.assign(HUFL="caf\xe9").to_csv(index=False).encode("latin-1"))
    cut = home / "cut.csv.gz"
    cut.write_bytes(gzip.compress(frame.to_csv(index=False).encode())[:2000])
    for path, fragments in ((header_only, ["no rows"]),
                            (no_header, ["required column 'date' is missing"]),
                            (latin, ["latin.csv", "UnicodeDecodeError"]),
                            (cut, ["cut.csv.gz", "EOFError", "truncated"])):
        code, line = run_cli(["predict", str(home / "model"), str(path), "-o",
                              str(home / "never.csv")], capsys)
        assert code == 3 and all(f in line for f in fragments), line
    pd.testing.assert_frame_equal(model.predict(not_gzip), model.predict(frame))
    utf16 = home / "utf16.csv"
    frame.to_csv(utf16, index=False, encoding="utf-16")
    pd.testing.assert_frame_equal(read_table(utf16), frame)


def test_a_ragged_file_is_a_data_error_naming_it(home, capsys):
    """A first row of a million fields under a header of five (pandas would spend minutes
    making them row names), and a later row of 100,001 fields."""
    wide_first = home / "wide_first.csv"
    wide_first.write_bytes(b"date,HUFL,HULL,MUFL,OT\n" + b"," * 1_000_000 + b"\n")
    for message in every_reader(wide_first, home, capsys):
        assert "wide_first.csv' has 1,000,001 fields in its first row but 5 column names" \
            in message
    ragged = home / "ragged.csv"
    ragged.write_text("date,HUFL,HULL,MUFL,OT\n1,2,3,4,5\n" + "3," * 100_000 + "\n")
    for message in every_reader(ragged, home, capsys):
        assert "ragged.csv" in message and "ParserError" in message and len(message) < SHORT
    row_names = home / "row_names.csv"               # R's write.csv: one field more, read as
    row_names.write_text("a,b\nr1,1,2\nr2,3,4\n")   # the index, as pandas does
    assert read_table(row_names).to_dict() == {"a": {"r1": 1, "r2": 3}, "b": {"r1": 2, "r2": 4}}


def test_numbers_of_the_table_survive_a_round_trip(home):
    """The bounded reader parses exactly as pandas does: same values, same dtypes."""
    path = home / "etth1.csv"
    pd.testing.assert_frame_equal(read_table(path), pd.read_csv(path))
    assert np.isfinite(read_table(path)[INPUTS].to_numpy()).all()
