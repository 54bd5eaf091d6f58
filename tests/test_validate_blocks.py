"""Numeric columns read a block at a time equal the column-by-column reading, errors included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import DataError
from lstmkit.data import validate


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.standard_normal(40), "b": np.arange(40, dtype=np.int16),
                         "c": rng.standard_normal(40).astype(np.float32),
                         "d": np.arange(40) % 2 == 0})


def _columns(frame: pd.DataFrame, names: list[str], allow_nan: list[bool]) -> list[np.ndarray]:
    rows = np.arange(len(frame))
    return list(validate.numeric_columns(frame, names, rows, allow_nan=allow_nan))


@pytest.mark.parametrize("block_bytes", [8, 1 << 25])     # one column per block, or all
def test_blocks_equal_one_column_at_a_time(monkeypatch, block_bytes):
    monkeypatch.setattr(validate, "BLOCK_BYTES", block_bytes)
    frame = _frame()
    names = ["d", "a", "c", "b"]
    got = _columns(frame, names, [False] * 4)
    want = [validate.numeric(frame, n, np.arange(40), allow_nan=False) for n in names]
    assert len(got) == 4
    for g, w in zip(got, want, strict=True):
        assert g.dtype.kind == "f" and np.array_equal(g, w)


def test_a_block_of_float32_columns_is_not_copied_to_float64():
    frame = _frame()
    frame["e"] = frame["c"] * 2
    got = _columns(frame, ["c", "e"], [False, False])
    assert [g.dtype for g in got] == [np.float32, np.float32]
    assert np.array_equal(got[1], frame["e"].to_numpy())


def test_a_bad_value_in_a_block_is_named_by_its_column_and_row():
    frame = _frame()
    frame.loc[7, "c"] = np.inf
    with pytest.raises(DataError, match=r"column 'c' holds inf at row 7"):
        _columns(frame, ["a", "c"], [True, True])
    frame.loc[7, "c"] = np.nan
    assert np.isnan(_columns(frame, ["a", "c"], [True, True])[1][7])
    with pytest.raises(DataError, match=r"input column 'c' has a missing value \(NaN\) at row 7"):
        _columns(frame, ["a", "c"], [True, False])


def test_a_gap_beside_a_boolean_column_is_still_found():
    frame = _frame()                      # floats with booleans: the block holds objects
    frame.loc[3, "a"] = np.nan
    with pytest.raises(DataError, match=r"input column 'a' has a missing value \(NaN\) at row 3"):
        _columns(frame, ["a", "d"], [False, False])


def test_nullable_and_text_columns_take_the_checked_path():
    frame = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"), "s": ["1", "2", "x"]})
    assert np.isnan(_columns(frame, ["n"], [True])[0][1])
    with pytest.raises(DataError, match=r"column 's' must be numeric but holds 'x' at row 2"):
        _columns(frame, ["n", "s"], [True, True])
