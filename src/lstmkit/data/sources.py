"""Where data comes from: DataFrames, CSV and Parquet files (or bodies), and numpy arrays.

Everything becomes one pandas DataFrame in long format (a row per time step),
so the rest of the pipeline has a single path; a polars DataFrame is converted here
(``pandas_frame``), so it works wherever a pandas one does. Files and request bodies are read
within ``Limits``: the longest CSV line, what a gzip input may decompress to and,
where the caller sets one, the rows (a Parquet input's from its metadata, before
any column is decoded); past one, the reader stops with a ``LimitError``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import gzip
import io
import logging
import os
import re
import sys
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pandas as pd

from ..checks import no_file, quote
from ..errors import ConfigError, DataError, LimitError, LSTMKitError, warn
from ..spec import Spec, Target
from .ts_format import TS_SUFFIX
from .validate import DECIMAL_COMMA, THOUSANDS_COMMA

if TYPE_CHECKING:
    import polars as pl

    Source = pd.DataFrame | pl.DataFrame | str | os.PathLike
else:
    Source = pd.DataFrame | str | os.PathLike    # polars stays unimported unless the user has it
Input = str | os.PathLike | bytes           # a file, or a body already in memory
SAMPLE = "sample"
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
MAX_LINE_BYTES = 1 << 24       # 16 MiB: a CSV line of about a million numbers
INFLATION = 100                # a gzip input may decompress to this many times its size,
INFLATED_FLOOR = 1 << 26       # or to 64 MiB where that is more
READ_BLOCK = 1 << 18           # bytes a reader asks for at once
REASON_CHARS = 200             # about the most characters of a parser's message that ours quote
JUDGED_ROWS = 20               # rows after the header that the decimal mark is judged from
NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
# Tables pandas reads that lstmkit does not: the reader that converts them (JSON records,
# as vega's data sets are, and spreadsheets).
CONVERTIBLE = {".json": "read_json", ".xlsx": "read_excel", ".xls": "read_excel"}
QUOTED_NUMBER = re.compile(r'"([-+]?[\d.,]*\d)"')    # "1,234.5" in a comma-separated line
DECIMAL_POINT = re.compile(r"\s*[-+]?\d*\.\d+(?:[eE][-+]?\d+)?\s*")
logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Limits:
    """How much a reader takes in before it stops with a ``LimitError``.

    Attributes:
        rows: the most rows, or None for any.
        line_bytes: the longest line of a CSV input, in bytes.
        inflated_bytes: the most bytes a gzip input may decompress to; None:
            ``INFLATION`` times its compressed size, and at least ``INFLATED_FLOOR``.
        advice: how to get past the rows or decompressed-size limit; ends the message.

    Example:
        >>> read_table("big.csv.gz", Limits(line_bytes=1 << 20))
    """

    rows: int | None = None
    line_bytes: int = MAX_LINE_BYTES
    inflated_bytes: int | None = None
    advice: str = ("if it is genuinely that large, decompress it (gunzip) and pass the "
                   "uncompressed file")

    def inflation_limit(self, compressed: int) -> int:
        """The most bytes an input of ``compressed`` gzip bytes may decompress to."""
        if self.inflated_bytes is not None:
            return self.inflated_bytes
        return max(INFLATED_FLOOR, INFLATION * compressed)

    def check_rows(self, rows: int, name: str, counted: bool = True) -> None:
        """Raise ``LimitError`` if ``rows`` are over the limit (``counted``: all of the input's
        rows; else as many as were parsed, ``rows + 1`` at most)."""
        if self.rows is not None and rows > self.rows:
            count = f"{rows:,} rows, more than" if counted else "more rows than"
            raise LimitError(f"{name} has {count} the limit of {self.rows:,}; {self.advice}")


def read_table(source: Source, limits: Limits = Limits(), spec: Spec | None = None
               ) -> pd.DataFrame:
    """A DataFrame as is (a polars one converted: ``pandas_frame``), or a CSV / Parquet file
    read into one.

    Args:
        source: a pandas or polars DataFrame, or the path of a CSV file (``.csv``,
            ``.tsv``, ``.txt``, each optionally ``.gz``; UTF-8 or UTF-16 with a byte-order
            mark; the delimiter is judged from the header) or of a Parquet file
            (``.parquet``, ``.pq``; nested columns, which no input can use, are not read).
        limits: what a file may hold before it is refused (``Limits``).
        spec: the task the table is read for: a CSV file's id columns are read as text
            (``text_columns``).

    Returns:
        The table; its column names must be distinct.

    Example:
        >>> read_table("data/ETTm1.csv.gz").shape
        (69680, 8)
    """
    frame = pandas_frame(source)
    if frame is not None:
        check_unique_columns(frame.columns, "the DataFrame")
        return frame
    path = table_path(source)
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        return read_parquet(path, limits)
    text = text_columns(spec)
    labels = [name for name in label_columns(spec) if name not in text]
    frame = read_csv(path, limits, text=text + labels)
    for name in labels:
        if name in frame.columns:
            frame[name] = as_labels(frame[name])
    return frame


def label_columns(spec: Spec | None) -> list[str]:
    """The categorical targets of ``spec``: ``read_table`` reads their CSV text as pandas
    does only where that keeps their labels apart (``as_labels``)."""
    return [] if spec is None else [t.name for t in spec.targets if t.categorical]


def as_labels(text: pd.Series) -> pd.Series:
    """A label column read as text, as pandas would read it (numbers, or True and False)
    where that keeps every label apart, else as written: ``007`` and ``7``, two labels,
    are one number, 7, and the classes would merge silently.

    Example:
        >>> as_labels(pd.Series(["007", "7", "08"])).tolist()
        ['007', '7', '08']
        >>> as_labels(pd.Series(["3", "7", None])).tolist()
        [3.0, 7.0, nan]
    """
    given = text.dropna()
    numbers = pd.to_numeric(given, errors="coerce")
    if numbers.notna().all():
        return pd.to_numeric(text) if numbers.nunique() == given.nunique() else text
    words = text.str.lower().map({"true": True, "false": False})
    if words[given.index].notna().all():
        return words.astype(bool) if len(given) == len(text) else words
    return text


def text_columns(spec: Spec | None) -> list[str]:
    """The columns of ``spec`` that a CSV file's values are read into as text, as written:
    the series or sequence id and the categorical inputs that are not targets. Ids such as
    ``007`` and ``07``, or zip codes such as ``02139``, keep their zeros (read as numbers,
    ``007`` and ``07`` would be one series, 7); a saved model matches labels it holds as
    numbers by their text (``Labels.codes``). Targets' labels are read as pandas reads them.

    Example:
        >>> text_columns(Spec(series="store", inputs=["sales"], targets=["sales"], lookback=8))
        ['store']
    """
    if spec is None:
        return []
    ids = [spec.group] if spec.group is not None else []
    categorical = [f.name for f in spec.inputs
                   if f.kind == "categorical" and f.name not in spec.target_names]
    return list(dict.fromkeys(ids + categorical))


def pandas_frame(source: Any) -> pd.DataFrame | None:
    """``source`` as a pandas DataFrame if it is a DataFrame, else None.

    A pandas DataFrame is returned as is; a polars ``DataFrame`` is converted
    (``to_pandas``, through pyarrow: datetimes stay datetimes, ``Categorical``
    becomes ``category``). polars is not imported for this: a source can only be a
    polars DataFrame where the caller has imported polars.

    Example:
        >>> pandas_frame(pl.DataFrame({"x": [1.0]})).dtypes["x"]
        dtype('float64')
    """
    if isinstance(source, pd.DataFrame):
        return source
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(source, polars.DataFrame):
        return source.to_pandas()
    return None


def table_path(source: Any) -> Path:
    """``source`` as the path of an existing CSV or Parquet file, or a ``DataError`` saying why
    it is not one."""
    if not isinstance(source, str | os.PathLike):
        hint = ""
        if type(source).__name__ == "LazyFrame":
            hint = "; call .collect() on a polars LazyFrame first"
        elif hasattr(source, "__array__"):        # a torch or TensorFlow tensor, an xarray
            hint = "; convert it to a numpy array first: np.asarray(X) (a GPU tensor: X.cpu())"
        raise DataError(f"data must be a pandas or polars DataFrame, a CSV/Parquet path or "
                        f"numpy arrays, got {type(source).__name__}{hint}")
    path = Path(source)
    if not path.is_file():
        raise DataError(no_file("data file", path))
    if path.name.lower().endswith(TS_SUFFIX):
        raise DataError(f"data file {str(path)!r} is a .ts file (UEA / sktime), which holds "
                        "sequences, not a table: read it as arrays, X, y = lstmkit.data."
                        "ts_format.read_ts_arrays(path), and fit(X, y) (in a config, and for "
                        "lstmkit predict and evaluate, a .ts path is read so)")
    if not path.name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        reader = CONVERTIBLE.get(path.suffix.lower())
        convert = (f": write it as one, pd.{reader}({str(path)!r}).to_csv("
                   f"{str(path.with_suffix('.csv'))!r}, index=False)") if reader else ""
        raise DataError(f"data file {str(path)!r} has an unknown type; use .csv, .tsv, "
                        f".csv.gz or .parquet{convert}")
    return path


def check_unique_columns(columns: Sequence[Any], name: str) -> None:
    """Raise ``DataError`` naming the first column name that ``columns`` holds twice."""
    index = pd.Index(columns)
    twice = np.flatnonzero(index.duplicated())
    if twice.size:
        label = index[twice[0]]
        first = int(np.flatnonzero(index == label)[0])
        raise DataError(f"{name} has two columns named {quote(label)} (columns {first + 1} and "
                        f"{twice[0] + 1}); give every column its own name, or drop one of them")


def read_csv(source: Input, limits: Limits = Limits(), name: str | None = None,
             text: Collection[str] = ()) -> pd.DataFrame:
    """A whole CSV input (file or bytes, gzip-compressed or not) as a DataFrame.

    Args:
        source: a path, or the bytes of a body.
        limits: see ``Limits``; with ``rows``, no more than ``rows + 1`` rows are parsed.
        name: how messages call the input (default: the quoted path).
        text: columns read as text, as written (``text_columns``); those the input lacks
            are left to the checks that need them.

    Returns:
        The table.
    """
    name = name or repr(str(source))
    with _reading(name, "CSV (UTF-8)"):
        options = _csv_format(source, limits, name, text)
        if limits.rows is not None:
            options["nrows"] = limits.rows + 1
        with _open(source, limits, name) as stream:
            frame = pd.read_csv(stream, **options)
    limits.check_rows(len(frame), name, counted=False)
    return frame


def csv_chunks(source: Input, rows: int, limits: Limits = Limits(), name: str | None = None,
               text: Collection[str] = ()) -> Iterator[pd.DataFrame]:
    """A CSV input as DataFrames of ``rows`` rows each, read as they are asked for.

    Args: as for ``read_csv``; ``limits.rows`` is not applied.
    """
    name = name or repr(str(source))
    with _reading(name, "CSV (UTF-8)"):
        options = _csv_format(source, limits, name, text)
        with _open(source, limits, name) as stream:
            yield from pd.read_csv(stream, chunksize=rows, **options)


def read_parquet(source: Input, limits: Limits = Limits(), columns: Collection[str] | None = None,
                 name: str | None = None) -> pd.DataFrame:
    """A whole Parquet input (file or bytes) as a DataFrame.

    The row count and the schema are checked from the metadata before any column
    is decoded; nested columns (struct, list, map), which no input can use, are not read.

    Args:
        source, limits, name: as for ``read_csv``.
        columns: read only these columns (those the input has); None: all.
    """
    name = name or repr(str(source))
    wanted = _parquet_columns(source, limits, columns, name)[1]
    with _reading(name, "Parquet"):
        return pd.read_parquet(io.BytesIO(source) if isinstance(source, bytes) else source,
                               columns=wanted)


def parquet_chunks(source: Input, rows: int, limits: Limits = Limits(), name: str | None = None
                   ) -> tuple[Iterator[pd.DataFrame], int]:
    """A Parquet input as DataFrames of about ``rows`` rows each, and its total rows.

    Args: as for ``read_csv``; ``limits.rows`` applies to the whole input.
    """
    name = name or repr(str(source))
    file, wanted = _parquet_columns(source, limits, None, name)
    batches = file.iter_batches(batch_size=rows, columns=wanted)
    return _guarded((batch.to_pandas() for batch in batches), name, "Parquet"), \
        file.metadata.num_rows


def inflate(data: bytes, limits: Limits, name: str) -> bytes:
    """gzip-compressed ``data`` decompressed, or a ``LimitError`` past what ``limits`` allow."""
    with _reading(name, "gzip"):
        stream = _Bounded(gzip.GzipFile(fileobj=io.BytesIO(data)), name, None,
                          limits.inflation_limit(len(data)), limits.advice)
        return io.BufferedReader(stream, READ_BLOCK).read()


class _Bounded(io.RawIOBase):
    """A binary stream that stops with a ``LimitError`` at a line longer than ``line_bytes``,
    or once it has given more than ``total_bytes`` (None: no such limit; ``advice`` says how
    to get past it)."""

    def __init__(self, stream: BinaryIO, name: str, line_bytes: int | None,
                 total_bytes: int | None = None, advice: str = "") -> None:
        super().__init__()
        self._stream, self._name, self._advice = stream, name, advice
        self._line_bytes, self._total_bytes = line_bytes, total_bytes
        self._read = self._lines = self._open_line = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._stream.readinto(buffer)
        self._read += n
        if self._total_bytes is not None and self._read > self._total_bytes:
            raise LimitError(f"{self._name} decompresses to more than {self._total_bytes:,} "
                             f"bytes, the most lstmkit reads from it; {self._advice}")
        if self._line_bytes is not None and n:
            self._count_lines(np.frombuffer(buffer, np.uint8, count=n))
        return n

    def _count_lines(self, data: np.ndarray) -> None:
        ends = np.flatnonzero(data == ord("\n"))
        lengths = np.diff(ends, prepend=-1) - 1          # each line ended in this block
        if ends.size:
            lengths[0] += self._open_line
        tail = len(data) - 1 - ends[-1] if ends.size else self._open_line + len(data)
        long = np.flatnonzero(lengths > self._line_bytes)
        if long.size or tail > self._line_bytes:
            line = self._lines + 1 + (int(long[0]) if long.size else ends.size)
            raise LimitError(f"{self._name} has a line longer than {self._line_bytes:,} bytes "
                             f"(line {line}); check that it is a table with one row per line, "
                             "or convert it to Parquet, which has no line limit")
        self._lines += ends.size
        self._open_line = tail


@contextlib.contextmanager
def _open(source: Input, limits: Limits, name: str) -> Iterator[io.BufferedReader]:
    """The input's bytes, decompressed if they are gzip, within ``limits``."""
    raw = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    with raw:
        size = len(source) if isinstance(source, bytes) else os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        total = limits.inflation_limit(size) if compressed else None
        yield io.BufferedReader(_Bounded(stream, name, limits.line_bytes, total, limits.advice),
                                READ_BLOCK)


def _csv_format(source: Input, limits: Limits, name: str, strings: Collection[str] = ()
                ) -> dict[str, Any]:
    """``read_csv`` options for the input, judged from its first lines: encoding (UTF-8,
    or UTF-16 with a byte-order mark), delimiter and decimal mark (``_decimal_options``),
    and the columns of ``strings`` it has, read as text. Its column names must be distinct, and
    its first row no more than one field longer than the header (``_check_first_row``)."""
    with _open(source, limits, name) as stream:
        start = stream.peek(4)[:4]
        encoding = "utf-16" if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            else "utf-8-sig"
        text = io.TextIOWrapper(stream, encoding, errors="replace", newline="")
        header, first = text.readline(), text.readline()
        rows = [first] + [text.readline() for _ in range(JUDGED_ROWS - 1)]
    if not header:
        raise DataError(f"{name} is empty; a CSV table needs a header line of column names, "
                        "then one line per row: write the table to it again")
    sep = _delimiter(header)
    names = next(csv.reader([header], delimiter=sep), [])
    _check_header(names, name)
    check_unique_columns([n for n in names if n != ""], name)   # pandas names blanks itself
    _check_first_row(first, sep, len(names), name)
    options = {"sep": sep, "encoding": encoding, **_decimal_options(rows, sep)}
    as_text = [column for column in strings if column in names]
    return {**options, "dtype": dict.fromkeys(as_text, str)} if as_text else options


def _decimal_options(lines: list[str], sep: str) -> dict[str, str]:
    """``read_csv``'s number options for a file whose first ``lines`` show how it writes
    numbers, else nothing (pandas' decimal point).

    ``decimal=','`` where fields are not separated by commas and the numbers have a decimal
    comma (35,27) but none a decimal point, as spreadsheets in much of Europe write them.
    ``thousands=','`` where fields are separated by commas and some number, quoted, has
    commas between thousands and a decimal point or two commas (1,234.5, 1,234,567), as
    English spreadsheets show them, and none a decimal comma. Dots between thousands are not
    read (pandas' ``thousands='.'`` would read 24.06.2018 as a number): such a value is
    refused with the fix (``validate.number_text_hint``)."""
    if sep == ",":             # such a number is quoted: found without parsing the lines
        quoted = [f for line in lines for f in QUOTED_NUMBER.findall(line)]
        grouped = [f for f in quoted if THOUSANDS_COMMA.fullmatch(f)]
        comma = [f for f in quoted if DECIMAL_COMMA.fullmatch(f)]
        if not any("." in f or f.count(",") > 1 for f in grouped) or len(comma) > len(grouped):
            return {}
        logger.info("the numbers are written with commas between thousands (%r): read with "
                    "thousands=','", grouped[0])
        return {"thousands": ","}
    fields = [f for row in csv.reader([line for line in lines if line], delimiter=sep)
              for f in row]
    comma = [f for f in fields if DECIMAL_COMMA.fullmatch(f)]
    if not comma or any(DECIMAL_POINT.fullmatch(f) for f in fields):
        return {}
    logger.info("the numbers are written with a decimal comma (%r): read with decimal=','",
                comma[0])
    return {"decimal": ","}


def _check_header(names: list[str], name: str) -> None:
    """Refuse a header line of numbers, one at least with a fraction (0.7855): a file
    without a header, whose first row would be taken for the column names and lost. A header
    of integers (sensors 1, 2, 3) may be names, and is read as such."""
    if not names or not all(NUMBER.fullmatch(n) for n in names) or \
            all(n.strip().lstrip("+-").isdigit() for n in names):
        return
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    raise DataError(f"{name} has no header line: its first line holds numbers ({shown}), which "
                    "would be taken for column names and that row lost; add a first line of "
                    "column names (pandas: df = pd.read_csv(path, header=None); df.columns = "
                    "[...]; df.to_csv(path, index=False))")


def _check_first_row(line: str, sep: str, width: int, name: str) -> None:
    """Refuse a first row more than one field longer than the ``width`` names of the header.

    pandas reads the surplus fields of a first row as row names (one, for files written
    with R's row names); thousands of them make an index that takes minutes to build.
    """
    if line.count(sep) <= width:                  # at most width + 1 fields, quoted or not
        return
    fields = len(next(csv.reader([line], delimiter=sep), []))
    if fields > width + 1:
        raise DataError(f"{name} has {fields:,} fields in its first row but {width:,} column "
                        "names in its header; every field needs a column name: check the "
                        "delimiter, and correct the header or the row")


def _delimiter(header: str) -> str:
    """The likeliest delimiter of a CSV header line."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _parquet_columns(source: Input, limits: Limits, columns: Collection[str] | None, name: str
                     ) -> tuple[Any, list[str] | None]:
    """The opened Parquet file and the columns to read (None: all), checked from its metadata:
    the row count within ``limits``, distinct names, none of ``columns`` nested; other nested
    columns left out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (len(source) if isinstance(source, bytes) else os.path.getsize(source)) == 0:
        raise DataError(f"{name} is empty (0 bytes); a Parquet table holds at least its "
                        "schema: write the table to it again")
    with _reading(name, "Parquet"):
        file = pq.ParquetFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    limits.check_rows(file.metadata.num_rows, name)
    schema = file.schema_arrow
    check_unique_columns(schema.names, name)
    flat = [f.name for f in schema if not pa.types.is_nested(f.type)]
    needed = set(flat if columns is None else columns)
    nested = next((f for f in schema if f.name in needed and f.name not in flat), None)
    if nested is not None:
        raise DataError(f"{name}'s column {quote(nested.name)} is nested ({nested.type}), and "
                        "the model reads one number or label per row in it: give it that")
    wanted = [n for n in flat if n in needed]
    return file, None if wanted == schema.names else wanted


@contextlib.contextmanager
def _reading(name: str, kind: str) -> Iterator[None]:
    """Errors of the parsers (pandas, pyarrow, gzip, codecs each raise their own types) as
    ``DataError``s naming the input, quoting at most ``REASON_CHARS`` of their message."""
    try:
        yield
    except LSTMKitError:
        raise
    except Exception as exc:
        reason = quote(" ".join(str(exc)[: 2 * REASON_CHARS].split()), REASON_CHARS)
        raise DataError(f"cannot read {name} ({type(exc).__name__}: {reason}); check that it is "
                        f"a complete, valid {kind} file (a truncated or damaged one must be "
                        "written again)") from None


def _guarded(chunks: Iterable[pd.DataFrame], name: str, kind: str) -> Iterator[pd.DataFrame]:
    """``chunks``, with errors while reading them as ``DataError``s (``_reading``)."""
    with _reading(name, kind):
        yield from chunks


def from_arrays(X: Any, y: Any, spec: Spec | None) -> tuple[pd.DataFrame, Spec]:
    """Long-format table and a resolved spec for the classic array forms.

    * ``X`` (samples, steps, features) or a list of (steps, features) arrays, with
      ``y`` (samples,) / (samples, targets): a sequence task. Trailing all-NaN steps
      count as padding, so variable lengths may be NaN-padded.
    * ``y`` (samples, out_steps, targets): seq2seq; ``out_steps`` equal to the
      longest input means one output per step unless the spec sets a horizon; any
      other ``out_steps`` is the horizon of an encoder-decoder.
    * ``X`` (rows, features) with ``y`` (rows,) / (rows, targets): a forecast table,
      ``y`` holding the targets that are not input columns.

    A ``y`` whose last axis holds 0/1 indicators (``to_categorical``, ``get_dummies``)
    is read by ``indicator_targets``: one-hot as one classification target, multi-hot
    as a binary target per column.
    """
    steps = _sequence_steps(X)
    y_arr, implied = (None, None) if y is None else indicator_targets(y, spec)
    names = [str(c) for c in y.columns] if isinstance(y, pd.DataFrame) else None
    if steps is None:
        return _forecast_table(np.asarray(X), y_arr, spec)
    values, lengths = steps
    n_features = values.shape[1]
    if y_arr is not None and len(y_arr) != len(lengths):
        raise DataError(f"X has {len(lengths)} samples but y has {len(y_arr)}; they must match")
    if spec is None:
        spec = _default_spec(n_features, y_arr, int(lengths.max()), implied, names)
    if spec.shape.sliding:
        raise ConfigError(f"X holds {len(lengths)} sequences, one per sample, but the spec's "
                          "task is 'forecast' "
                          "(the default, which reads a 2-D table of rows x features); set "
                          "Spec(..., task='sequence') for one output per sample, or "
                          "task='seq2seq' for an output sequence")
    _check_width(spec.input_names, n_features, "X", "inputs")
    _check_finite(values, lengths, spec)
    if spec.sequence is None:
        spec = dataclasses.replace(spec, sequence=SAMPLE)
    frame = pd.DataFrame(values, columns=spec.input_names, copy=False)   # X is only read
    frame.insert(0, spec.sequence, np.repeat(np.arange(len(lengths)), lengths))
    if y_arr is None:
        return frame, spec
    if spec.shape.per_sequence:
        targets = y_arr.reshape(len(y_arr), -1)
        _check_width(spec.target_names, targets.shape[1], "y", "targets")
        for j, name in enumerate(spec.target_names):
            frame[name] = np.repeat(targets[:, j], lengths)
        return frame, spec
    return _seq2seq_table(frame, lengths, y_arr, spec), spec


def indicator_targets(y: Any, spec: Spec | None) -> tuple[np.ndarray, tuple[Target, ...] | None]:
    """``y`` as an array, with 0/1 indicator columns (its last axis, 2 or more wide) read.

    * one-hot (exactly one 1 per row, as ``keras.utils.to_categorical`` makes): the
      column index becomes the label (a DataFrame's column name, as
      ``pd.get_dummies`` makes), one classification target ``y``;
    * multi-hot (any other 0/1 rows, e.g. several labels per sample): a binary
      target per column, named ``y0``, ``y1``, ... (or the DataFrame's column names).

    With a spec, only a one-hot ``y`` for a spec of one categorical target is turned
    into labels; anything else (a single 0/1 column among them) keeps its usual meaning.

    Returns:
        ``y`` (labels in place of a one-hot axis; seq2seq keeps a last axis of 1) and
        the targets it implies, or None where ``y`` implies nothing new.

    Example:
        >>> indicator_targets(np.eye(3)[[2, 0, 1]], None)[0]
        array([2, 0, 1])
    """
    names = list(y.columns) if isinstance(y, pd.DataFrame) else None
    arr = np.asarray(y)
    if arr.ndim < 2 or arr.shape[-1] < 2 or not _zero_one(arr):
        return arr, None
    one_hot = bool((arr.sum(axis=-1) == 1).all())
    if spec is not None:
        target = spec.targets[0]
        if not (one_hot and len(spec.targets) == 1 and target.categorical):
            return arr, None
        return _labels(arr, names), None
    if one_hot:
        labels = _labels(arr, names)
        logger.info("y is one-hot over %d columns: one classification target 'y' whose labels "
                    "are the %s", arr.shape[-1], "column names" if names else "column indices")
        return labels, (Target("y", kind="classification"),)
    names = [str(c) for c in names] if names else [f"y{j}" for j in range(arr.shape[-1])]
    logger.info("y is multi-hot over %d columns: a binary target per column (%s)",
                len(names), ", ".join(names))
    return arr.astype(np.int64), tuple(Target(n, kind="binary") for n in names)


def _zero_one(arr: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (numbers or booleans); the first row is tried first."""
    if arr.dtype.kind not in "biuf":
        return False
    rows = arr.reshape(-1, arr.shape[-1])
    return all(bool(((part == 0) | (part == 1)).all()) for part in (rows[:1], rows))


def _labels(indicators: np.ndarray, names: list[Any] | None) -> np.ndarray:
    """Each row's hot column as its label: the column's index or name; seq2seq keeps (.., 1)."""
    codes = indicators.argmax(axis=-1)
    labels = codes if names is None else np.asarray(names, dtype=object)[codes]
    return labels[..., None] if indicators.ndim == 3 else labels


def raw_sequences(X: Any, spec: Spec) -> np.ndarray | None:
    """``X`` itself (samples, steps, features), where predicting from it needs no table.

    That is a 3-D array of finite numbers (no NaN padding, no gaps) for a sequence task
    without a time column whose inputs are all numeric without a missing policy: its
    rows are exactly the steps the model reads, and scaling is all their encoding. For
    anything else (lists, padding, categorical inputs, ...) None: the long table.
    """
    if not (isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype.kind in "biuf"):
        return None
    if spec.shape.sliding or spec.time is not None or any(
            f.kind != "numeric" or f.missing != "error" for f in spec.inputs):
        return None
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    # A finite sum means finite values (NaN and inf carry through a sum), without a mask
    # of X; an overflowing sum is checked value by value.
    if 0 in X.shape or not (np.isfinite(X.sum()) or np.isfinite(X).all()):
        return None
    _check_width(spec.input_names, X.shape[2], "X", "inputs")
    return X


def _sequence_steps(X: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Every sample's steps back to back (rows, F) and the samples' lengths, or None for 2-D X.

    A 3-D array, and each array of a list, loses its trailing all-NaN (padding) steps; a
    3-D array without padding is reshaped, not copied.
    """
    if isinstance(X, list | tuple):
        if not X:
            raise DataError("X is an empty list; pass at least one (steps, features) array")
        arrays = []
        for i, x in enumerate(X):
            arrays.append(_numbers(x, f"item {i} of X"))
            if arrays[i].ndim != 2:
                raise DataError(f"a list X must hold 2-D arrays of shape (steps, features), but "
                                f"item {i} has shape {arrays[i].shape}; reshape it (a "
                                "univariate sequence: x.reshape(-1, 1))")
        if len({a.shape[1] for a in arrays}) != 1:
            raise DataError("every sequence in X must have the same number of features")
        lengths = np.array([_unpadded_length(np.isnan(a).all(axis=1)) for a in arrays])
        _check_lengths(lengths)
        return np.concatenate([a[:n] for a, n in zip(arrays, lengths, strict=True)]), lengths
    X = np.asarray(X)
    if X.ndim == 2:
        return None
    if X.ndim != 3:
        raise DataError(f"X must have shape (samples, steps, features) or (rows, features), got "
                        f"{X.ndim} dimension(s) {X.shape}")
    empty = [axis for axis, size in zip(("samples", "steps", "features"), X.shape, strict=True)
             if not size]
    if empty:
        raise DataError(f"X has shape {X.shape}: no {empty[0]}; X needs at least one sample, "
                        "step and feature: (samples, steps, features)")
    if X.dtype.kind != "f":
        X = _numbers(X, "X")
    n, steps, f = X.shape
    if not np.isnan(X[:, -1]).all(axis=1).any():    # no sample ends in padding
        return X.reshape(n * steps, f), np.full(n, steps)
    lengths = _unpadded_length(np.isnan(X).all(axis=2))
    _check_lengths(lengths)
    keep = np.arange(steps)[None, :] < lengths[:, None]      # (samples, steps)
    return X[keep], lengths


def _check_finite(values: np.ndarray, lengths: np.ndarray, spec: Spec) -> None:
    """Raise ``DataError`` naming ``X[sample, step, feature]`` for the first inf, or NaN
    (padding gone, so inside a sequence) in an input without a missing policy: the long
    table's checks would name a row of a table the user never built."""
    if np.isfinite(values.sum()):          # finite values, without a mask of X (see above)
        return
    bad = np.isinf(values)
    strict = [j for j, f in enumerate(spec.inputs) if f.missing == "error"]
    bad[:, strict] |= np.isnan(values[:, strict])
    if not bad.any():
        return
    row, j = divmod(int(np.argmax(bad)), values.shape[1])
    sample = int(np.searchsorted(np.cumsum(lengths), row, side="right"))
    step = row - int(lengths[:sample].sum())
    name, where = spec.input_names[j], f"X[{sample}, {step}, {j}]"
    if np.isinf(values[row, j]):
        raise DataError(f"{where} (input {quote(name)}) is {values[row, j]}; infinite values are "
                        "not allowed: replace them, e.g. np.nan_to_num(X, posinf=..., "
                        "neginf=...), or drop the sample")
    raise DataError(f"{where} (input {quote(name)}) is NaN inside its sequence (only all-NaN "
                    "steps at the end are padding); fill it, or give the input a missing "
                    f"policy: Spec(inputs=[..., Feature({quote(name)}, missing='ffill' or "
                    "'mask'), ...], ...)")


def _unpadded_length(padded: np.ndarray) -> np.ndarray:
    """The steps before the trailing padding, given which steps are padding (all NaN):
    (steps,) -> a number, (samples, steps) -> one per sample."""
    steps = padded.shape[-1]
    if not steps:
        return np.zeros(padded.shape[:-1], dtype=np.int64)
    lengths = steps - np.argmin(padded[..., ::-1], axis=-1)
    return np.where(padded.all(axis=-1), 0, lengths)


def _check_lengths(lengths: np.ndarray) -> None:
    """Raise ``DataError`` for the first sample without a step that is not padding."""
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise DataError(f"sample {int(empty[0])} of X is all NaN (or has no steps); drop it")


def _numbers(x: Any, what: str) -> np.ndarray:
    """``x`` as float64, or a ``DataError`` naming ``what`` where it holds text or ragged rows."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what} cannot be read as numbers ({quote(str(exc), 120)}); pass arrays "
                        "of numbers (labels and text as a table, whose columns say their kind)"
                        ) from None


def _default_spec(n_features: int, y: np.ndarray | None, steps: int,
                  implied: tuple[Target, ...] | None = None, names: list[str] | None = None
                  ) -> Spec:
    """The spec arrays imply: inputs ``x0``..., targets ``y`` or ``y0``... (``names``: a
    DataFrame y's column names; or ``implied``), a sequence task for y (samples,) /
    (samples, targets), seq2seq for a 3-D y. Each target's kind is its column's (``_kind``)."""
    inputs = [f"x{i}" for i in range(n_features)]
    if y is None:
        raise ConfigError("predicting from arrays needs the spec of a fitted model")
    if y.ndim == 3:
        names = names or [f"y{j}" for j in range(y.shape[2])]
        targets = implied or [Target(names[j], kind=_kind(y[..., j], names[j]))
                              for j in range(y.shape[2])]
        horizon = None if y.shape[1] == steps else y.shape[1]
        return Spec(inputs, targets, task="seq2seq", horizon=horizon)
    if implied:
        return Spec(inputs, implied, task="sequence")
    width = 1 if y.ndim == 1 else y.shape[1]
    names = names or (["y"] if y.ndim == 1 else [f"y{j}" for j in range(width)])
    columns = [y] if y.ndim == 1 else [y[:, j] for j in range(width)]
    return Spec(inputs, [Target(n, kind=_kind(c, n)) for n, c in zip(names, columns, strict=True)],
                task="sequence")


def _kind(values: np.ndarray, name: str) -> str:
    """``regression`` for floats, ``classification`` for labels (integers, booleans, text).

    An object column (a DataFrame y of mixed columns, Python numbers with None for missing
    values) is judged by what it holds, missing values aside: floats make a regression
    target there too, as in a float array. Floats that are all 0.0 or 1.0 (Keras' binary
    labels) stay a regression target, with a warning that says how to get a classifier.
    """
    values = np.asarray(values)
    if values.dtype.kind == "O":
        held = pd.api.types.infer_dtype(values.reshape(-1), skipna=True)
        if held not in ("floating", "mixed-integer-float", "decimal"):
            return "classification"
        values = values.astype(np.float64)
    if values.dtype.kind != "f":
        return "classification"
    known = values[~np.isnan(values)]
    if known.size and ((known == 0) | (known == 1)).all():
        warn(f"target {name!r} of y holds only 0.0 and 1.0, floats, so it is read as a regression "
             "target (its predictions are numbers between, not labels); for a classifier "
             "pass integer labels, y.astype(int) (predict_proba then gives P(0) and P(1)), "
             f"or declare Spec(..., targets=[Target({name!r}, kind='binary')])")
    return "regression"


def _seq2seq_table(frame: pd.DataFrame, lengths: np.ndarray, y: np.ndarray, spec: Spec
                   ) -> pd.DataFrame:
    if y.ndim != 3:
        raise DataError(f"seq2seq y must have shape (samples, out_steps, targets), got {y.shape}")
    _check_width(spec.target_names, y.shape[2], "y", "targets")
    if spec.shape.per_step:
        if not (lengths == y.shape[1]).all():
            raise DataError(f"y has {y.shape[1]} steps per sample but X has {lengths.max()}; one "
                            "output per input step needs equal lengths (or set spec horizon)")
        for j, name in enumerate(spec.target_names):
            frame[name] = y[:, :, j].reshape(-1)
        return frame
    if y.shape[1] != spec.horizon:
        raise DataError(f"y has {y.shape[1]} output steps but spec horizon is {spec.horizon}")
    # Long format: each sample's input steps, then its output steps (NaN where absent); a
    # target that is also an input is one column, holding X on input rows, y on output rows.
    n, horizon = len(lengths), spec.horizon
    names = spec.input_names + [t for t in spec.target_names if t not in spec.input_names]
    width = len(spec.input_names)
    inputs = frame[spec.input_names].to_numpy()
    dtype = np.result_type(inputs.dtype, y.dtype, np.float32)   # NaN needs a float type
    # Column-major, so that the DataFrame below wraps the array without copying it.
    table = np.full((int(lengths.sum()) + n * horizon, len(names)), np.nan, dtype=dtype,
                    order="F")
    targets = [names.index(name) for name in spec.target_names]
    if (lengths == lengths[0]).all():                     # equal lengths: strided copies
        steps = int(lengths[0])
        cube = table.T.reshape(len(names), n, steps + horizon)       # (C, n, L + S) view
        cube[:width, :, :steps] = inputs.reshape(n, steps, width).transpose(2, 0, 1)
        cube[targets, :, steps:] = y.transpose(2, 0, 1)
    else:
        is_input = np.repeat(np.tile([True, False], n),
                             np.column_stack([lengths, np.full(n, horizon)]).ravel())
        table[is_input, :width] = inputs
        out_rows = np.flatnonzero(~is_input)
        for j, column in enumerate(targets):
            table[out_rows, column] = y[:, :, j].reshape(-1)
    sequence = pd.DataFrame({spec.sequence: np.repeat(np.arange(n), lengths + horizon)})
    return pd.concat([sequence, pd.DataFrame(table, columns=names, copy=False)], axis=1)


def _forecast_table(X: np.ndarray, y: np.ndarray | None, spec: Spec | None) -> tuple[
        pd.DataFrame, Spec]:
    if spec is None or not spec.shape.sliding:
        raise ConfigError(f"X has shape {X.shape}, 2 dimensions, but an LSTM reads a sequence "
                          "per sample: (samples, steps, features). One feature per step: "
                          "np.asarray(X)[..., None] gives (samples, steps, 1). A 2-D X is "
                          "otherwise a forecast table of rows x features, which needs "
                          "Spec(inputs=..., "
                          "targets=..., lookback=..., horizon=...)")
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (rows, features), got shape {X.shape}")
    names = spec.input_names
    if y is not None and set(names[X.shape[1]:]) <= set(spec.target_names):
        names = names[: X.shape[1]]    # the targets' past values (Spec.past_targets) are in y
    read = [n for n in names if n in spec.target_names]
    _check_width(names, X.shape[1], "X", "inputs", "" if not read else (
        f"; a forecast reads its targets' past values ({read}) as inputs too: give them as "
        "columns of X, or set Spec(past_targets=False)"))
    frame = pd.DataFrame(X, columns=names, copy=False)                   # X is only read
    missing = [n for n in spec.target_names if n not in frame.columns]
    if not missing or y is None:   # predicting needs no targets; fitting checks for them
        return frame, spec
    y2 = y.reshape(len(y), -1)
    if len(y2) != len(X):
        raise DataError(f"X has {len(X)} rows but y has {len(y2)}; they must match")
    _check_width(missing, y2.shape[1], "y", "targets that are not inputs")
    for j, name in enumerate(missing):
        frame[name] = y2[:, j]
    return frame, spec


def _check_width(names: list[str], width: int, array: str, role: str, fix: str = "") -> None:
    if len(names) != width:
        raise DataError(f"{array} has {width} feature column(s) but the spec lists {len(names)} "
                        f"{role} ({quote(names)}); make them match{fix}")
