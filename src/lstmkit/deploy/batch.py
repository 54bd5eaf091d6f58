"""Batch prediction at scale: read a large table in chunks, predict, write as it goes.

Memory stays bounded by the chunk size, not the input: a series (or sequence)
may span chunks, so the rows it still needs (its last ``span`` rows: the lookback,
plus the horizon with future inputs; ``span - 1`` with ``origins='all'``; a whole
open sequence; a whole open series with ``adapt``, whose intervals learn from all its
rows) are carried into the next chunk. Each series' rows must be contiguous (sorted by series,
then time); the output equals ``LSTMModel.predict`` on the whole table.

Example:
    >>> chunks, total = read_chunks("big.parquet")
    >>> write_predictions(predict_chunks(model, chunks), "forecast.parquet")
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..checks import quote
from ..conformal import chosen
from ..conformal_online import adapt_rate
from ..data.sources import (
    PARQUET_SUFFIXES,
    csv_chunks,
    pandas_frame,
    parquet_chunks,
    read_table,
    table_path,
    text_columns,
)
from ..errors import DataError
from ..pipeline import Fitted, FittedPipeline, fitted
from ..spec import Spec
from ..storage import files

CHUNK_ROWS = 65_536

PREDICTION_FILES = (".csv", ".parquet")     # the formats predictions are written in


def read_chunks(source: Any, rows: int = CHUNK_ROWS, spec: Spec | None = None
                ) -> tuple[Iterator[pd.DataFrame], int | None]:
    """A table as DataFrames of about ``rows`` rows each, and its total rows if known.

    Parquet files are read batch by batch, CSV files ``rows`` lines at a time (both
    as ``lstmkit.data.sources`` reads them, within its ``Limits``); a DataFrame is
    one chunk.

    Args:
        source: a pandas or polars DataFrame, or a CSV / Parquet path.
        rows: rows per chunk.
        spec: the model's task: a CSV file's id columns are read as text (``text_columns``).

    Returns:
        ``(chunks, total_rows)``; ``total_rows`` is None for CSV files.
    """
    frame = pandas_frame(source)
    if frame is not None:
        return iter([read_table(frame)]), len(frame)
    path = table_path(source)
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        return parquet_chunks(path, rows)
    return csv_chunks(path, rows, text=text_columns(spec)), None


def predict_chunks(model: FittedPipeline | Fitted, chunks: Iterable[pd.DataFrame],
                   origins: str = "last", coverage: float | list[float] | None = None,
                   adapt: bool | float = False) -> Iterator[pd.DataFrame]:
    """``model.predict`` over a table given in chunks, one result frame per chunk.

    Args:
        model: a fitted pipeline, or a fitted ``LSTMModel`` (its ``pipeline_``).
        chunks: consecutive pieces of one table whose series (sequences) are contiguous.
        origins, coverage, adapt: as for ``LSTMModel.predict`` (with ``adapt`` each
            series is held whole: memory is bounded by the longest series).

    Returns:
        An iterator of prediction frames; concatenated they equal
        ``model.predict(whole_table, origins)``.
    """
    pipeline = fitted(model)
    chosen(pipeline.conformal, coverage, pipeline.spec)    # one not calibrated: before reading
    if adapt_rate(adapt) is not None:
        pipeline.check_adapt()                     # nothing to adapt: before reading too
    group = pipeline.spec.group
    carry = _Carry()
    finished: set[Any] = set()
    for chunk, last in _lookahead(chunks):
        if len(chunk) == 0:
            raise DataError("the data has no rows; pass a table with at least one full window")
        if group is not None and group not in chunk.columns:
            pipeline.check_inputs(chunk)                # raises the missing-column error
        if carry.done and group is not None and chunk[group].iloc[0] != carry.key:
            carry = _Carry()                            # its series ended with the last chunk
        frame = pd.concat([carry.rows, chunk], ignore_index=True) if len(carry.rows) else chunk
        keys = frame[group] if group is not None else None
        _check_unseen(keys, finished, group)
        if last:
            ready, previous = frame, carry
        else:
            start = _open_start(keys)
            if keys is not None and keys.iloc[-1] in set(keys.iloc[:start]):
                _not_contiguous(keys.iloc[-1], group)
            ready, previous = frame.iloc[:start], carry
            carry = _carry_over(pipeline, frame.iloc[start:], origins,
                                key=keys.iloc[-1] if keys is not None else None,
                                skipped=carry.skipped if start == 0 else 0,
                                whole=bool(adapt))
            if carry.done:
                ready = frame
            if keys is not None:
                finished.update(keys.iloc[:start].unique().tolist())
        if len(ready):
            yield _shift_origins(pipeline.predict(ready, origins, coverage=coverage,
                                                  adapt=adapt), pipeline, previous)


def write_predictions(frames: Iterable[pd.DataFrame], output: str | Path, overwrite: bool = False,
                      reading: Iterable[str | Path] = ()) -> int:
    """Write prediction frames to a ``.csv`` or ``.parquet`` file as they come.

    The rows go to a temporary file beside ``output``, renamed to ``output`` only
    when all are written: a failed run leaves any existing file untouched.

    Args:
        frames: prediction frames, e.g. from ``predict_chunks``.
        output: the file to write.
        overwrite: replace an existing file, if it holds predictions with the same columns.
        reading: the files being read, which are never written over.

    Returns:
        The number of rows written.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    reading = [Path(p) for p in reading]
    files.check_output_file(output, overwrite, reading, kind="predictions file",
                            suffixes=PREDICTION_FILES)
    import pyarrow as pa
    import pyarrow.parquet as pq

    written, writer, columns = 0, None, None
    with files.atomic_file(output) as tmp:
        try:
            for frame in frames:
                if columns is None:
                    columns = list(frame)
                    _check_replaces(output, overwrite, reading, columns)
                if suffix == ".parquet":
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table.cast(writer.schema))
                else:
                    frame.to_csv(tmp, mode="a", header=written == 0, index=False)
                written += len(frame)
        finally:
            if writer is not None:
                writer.close()
        if columns is None:                             # no frames: an empty table
            _check_replaces(output, overwrite, reading, [])
            if suffix == ".parquet":
                pq.write_table(pa.table({}), tmp)
            else:
                pd.DataFrame().to_csv(tmp, index=False)
    return written


def _check_replaces(output: Path, overwrite: bool, reading: list[Path], columns: list[str]
                    ) -> None:
    """An existing ``output`` is replaced only by predictions with its very columns."""
    files.check_output_file(output, overwrite, reading,
                            kind=f"predictions file with columns {quote(columns)}",
                            is_own=lambda path: _columns(path) == columns)


def _columns(path: Path) -> list[str] | None:
    """The column names of a CSV or Parquet file; None if it is not a readable table."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return list(next(iter(csv_chunks(path, rows=1))).columns)
    except Exception:  # pyarrow and pandas raise many types; unreadable is not a table
        return None


@dataclass(frozen=True)
class _Carry:
    """Rows of the open series carried into the next chunk.

    ``done``: they were already predicted from and serve only as context;
    ``skipped``: rows of that series before ``rows`` (forecast origins count them).
    """

    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    key: Any = None
    done: bool = False
    skipped: int = 0


def _carry_over(pipeline: FittedPipeline, open_rows: pd.DataFrame, origins: str, key: Any,
                skipped: int, whole: bool = False) -> _Carry:
    """What the open series (the chunk's last) carries into the next chunk (``whole``:
    all its rows, to be predicted with the rest of it)."""
    spec = pipeline.spec
    if not spec.shape.sliding or whole:
        return _Carry(open_rows, key, skipped=skipped)  # predicted whole
    filled = [f.name for f in spec.inputs if f.missing == "ffill" and f.name in open_rows]
    if filled:   # the carried rows' gaps may have been filled from rows not carried
        open_rows = open_rows.assign(**{name: open_rows[name].ffill() for name in filled})
    if origins == "all" and len(open_rows) >= spec.span:
        rows = open_rows.iloc[len(open_rows) - spec.span + 1:]
        return _Carry(rows, key, done=True, skipped=skipped + len(open_rows) - len(rows))
    if origins == "last":
        pipeline.check_inputs(open_rows)                # rows dropped here are checked too
        rows = open_rows.iloc[max(0, len(open_rows) - spec.span):]
        return _Carry(rows, key, skipped=skipped + len(open_rows) - len(rows))
    return _Carry(open_rows, key, skipped=skipped)


def _shift_origins(predictions: pd.DataFrame, pipeline: FittedPipeline, carry: _Carry
                   ) -> pd.DataFrame:
    """Count row-number origins of the carried series from its first row, not the chunk's."""
    spec = pipeline.spec
    if carry.skipped == 0 or not spec.shape.sliding or spec.time is not None:
        return predictions
    rows = (predictions[spec.series] == carry.key if spec.series is not None
            else slice(None))
    predictions.loc[rows, "origin"] += carry.skipped
    return predictions


def _open_start(keys: pd.Series | None) -> int:
    """Where the chunk's last series begins (0 without a series column)."""
    if keys is None:
        return 0
    values = keys.to_numpy()
    change = np.flatnonzero(values[1:] != values[:-1])
    return int(change[-1] + 1) if change.size else 0


def _check_unseen(keys: pd.Series | None, finished: set[Any], group: str | None) -> None:
    if keys is None or not finished:
        return
    again = keys[keys.isin(finished)]
    if len(again):
        _not_contiguous(again.iloc[0], group)


def _not_contiguous(key: Any, group: str | None) -> None:
    raise DataError(f"series {quote(key)} appears again after other series; predicting a large "
                    f"file in chunks needs each series' rows together: sort the file by "
                    f"{group!r} (then time)")


def _lookahead(chunks: Iterable[pd.DataFrame]) -> Iterator[tuple[pd.DataFrame, bool]]:
    """Each non-empty chunk with whether it is the last one; one empty chunk if all are empty."""
    iterator = (chunk for chunk in chunks if len(chunk))
    previous = next(iterator, None)
    if previous is None:
        yield pd.DataFrame(), True
        return
    for chunk in iterator:
        yield previous, False
        previous = chunk
    yield previous, True

