"""Bad input raises an lstmkit error naming the column, row or value, and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import (
    ConfigError,
    DataError,
    Feature,
    LSTMKitError,
    LSTMModel,
    NotFittedError,
    SchemaError,
    Spec,
    Target,
)

SPEC = Spec(time="t", series="s", inputs=["x", "z"], targets=["y"], lookback=5, horizon=2)


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"s": key, "t": pd.date_range("2020-01-01", periods=n, freq="h"),
                            "x": rng.normal(size=n), "z": rng.normal(size=n),
                            "y": rng.normal(size=n)}) for key in ("A", "B")]
    return pd.concat(frames, ignore_index=True)


def _fit(frame: pd.DataFrame, spec: Spec = SPEC) -> LSTMModel:
    return LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(frame)


def _with(column: str, row: int, value) -> pd.DataFrame:
    frame = _table()
    if isinstance(value, str):
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


CASES = {
    "missing input column": (lambda: _table().drop(columns="z"), DataError,
                             ["input column 'z' is missing"]),
    "renamed column suggests the name": (lambda: _table().rename(columns={"x": "X"}), DataError,
                                         ["'x' is missing", "did you mean 'X'"]),
    "missing target column": (lambda: _table().drop(columns="y"), DataError,
                              ["target column 'y' is missing"]),
    "string in a numeric column": (lambda: _with("x", 17, "1,5"), DataError,
                                   ["column 'x' must be numeric", "'1,5'", "row 17"]),
    "string in a numeric target": (lambda: _with("y", 17, "1,5"), DataError,
                                   ["target 'y' must be numeric", "'1,5'", "row 17"]),
    "labels in a regression target": (
        lambda: _table().assign(y=lambda f: np.where(f.x > 0, "up", "down")), DataError,
        ["target 'y' is a regression target", "2 distinct values",
         "Target('y', kind='binary')"]),
    "NaN in an input": (lambda: _with("z", 23, np.nan), DataError,
                        ["'z' has a missing value", "row 23", "fill the gap"]),
    "inf in an input": (lambda: _with("x", 31, np.inf), DataError,
                        ["column 'x' holds inf at row 31"]),
    "inf in a target": (lambda: _with("y", 8, -np.inf), DataError,
                        ["column 'y' holds -inf at row 8"]),
    "duplicate timestamp": (lambda: _with("t", 70, pd.Timestamp("2020-01-01 09:00")), DataError,
                            ["duplicate timestamp", "row 70", "series 'B'", "sort the table"]),
    "unsorted timestamps": (lambda: _table().iloc[[1, 0, *range(2, 120)]], DataError,
                            ["out-of-order timestamp", "row 1", "series 'A'"]),
    "series shorter than lookback + horizon": (
        lambda: pd.concat([_table(), _table(4).query("s == 'A'").assign(s="C")],
                          ignore_index=True), DataError,
        ["series 'C' has 4 rows", "lookback + horizon = 7"]),
    "missing series id": (lambda: _with("s", 5, None), DataError,
                          ["'s' has a missing id at row 5"]),
    "empty table": (lambda: _table().iloc[:0], DataError, ["no rows"]),
    "unreadable time": (lambda: _with("t", 3, "yesterday"), DataError,
                        ["time column 't' cannot be read as dates"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_tables_at_fit(case):
    make, error, fragments = CASES[case]
    with pytest.raises(error) as info:
        _fit(make())
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.fixture(scope="module")
def fitted():
    spec = Spec(time="t", series="s", inputs=["x", "z", Feature("c", kind="categorical")],
                targets=["y", Target("k", kind="classification")], lookback=5, horizon=2)
    frame = _table().assign(c=lambda f: np.where(f.x > 0, "up", "down"),
                            k=lambda f: np.where(f.z > 0, "hi", "lo"))
    return _fit(frame, spec), frame


def test_unseen_category_at_predict_names_the_value_and_row(fitted):
    model, frame = fitted
    frame = frame.copy()
    frame.loc[100, "c"] = "sideways"
    with pytest.raises(DataError, match=r"'c' has label 'sideways' at row 100.*not seen"):
        model.predict(frame)


def test_unseen_target_label_at_evaluate(fitted):
    model, frame = fitted
    frame = frame.copy()
    frame.loc[90, "k"] = "medium"
    with pytest.raises(DataError, match=r"'k' has label 'medium' at row 90"):
        model.evaluate(frame)


def test_a_class_seen_only_after_training_rows_is_refused():
    spec = Spec(time="t", series="s", inputs=["x"], targets=[Target("k", kind="classification")],
                lookback=5, horizon=1)
    frame = _table().assign(k=lambda f: np.where(f.x > 0, "a", "b"))
    frame.loc[58, "k"] = "c"                          # in series A's test rows only
    with pytest.raises(DataError, match=r"'k' has label 'c' at row 58.*not seen in the training"):
        _fit(frame, spec)


def test_predict_reads_the_targets_past_and_evaluate_needs_them(fitted):
    model, frame = fitted
    with pytest.raises(SchemaError, match="column 'y' is missing"):
        model.predict(frame.drop(columns=["y", "k"]))       # their past is read
    with pytest.raises(SchemaError, match="column 'y' is missing"):
        model.evaluate(frame.drop(columns="y"))
    inputs_only = Spec(time="t", series="s", inputs=["x", "z"], targets=["y"], lookback=5,
                       horizon=2, past_targets=False)
    assert len(_fit(frame, inputs_only).predict(frame.drop(columns=["y", "k"]))) == 2 * 2


def test_a_series_too_short_to_predict_from(fitted):
    model, frame = fitted
    with pytest.raises(DataError, match="series 'A' has 3 rows, fewer than lookback = 5"):
        model.predict(frame.groupby("s").head(3))


def test_array_errors():
    with pytest.raises(DataError, match=r"X must have shape .* got 4 dimension"):
        LSTMModel(progress=False).fit(np.zeros((3, 4, 5, 6)), np.zeros(3))
    with pytest.raises(DataError, match="X has 3 samples but y has 2"):
        LSTMModel(progress=False).fit(np.zeros((3, 4, 5)), np.zeros(2))
    spec = Spec(inputs=["a", "b"], targets=["y"], task="sequence")
    with pytest.raises(DataError, match=r"X has 5 feature column.* spec lists 2 inputs"):
        LSTMModel(spec, progress=False).fit(np.zeros((3, 4, 5)), np.zeros(3))


@pytest.mark.parametrize(("params", "fragment"), [
    ({"hidden": 0}, "hidden must be a positive integer"),
    ({"layers": -1}, "layers must be an integer from 1 to 1000, got -1"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"dropout": 1.5}, "dropout must be a number in [0, 1)"),
    ({"lr": -1}, "lr must be a positive number"),
    ({"decoder": "attention"}, "decoder must be one of"),
    ({"heads": "shard"}, "did you mean 'shared'"),
    ({"optimizer": "sgd"}, "optimizer must be one of"),
    ({"instance_norm": "mean"}, "instance_norm must be true (the same as 'revin'), 'last'"),
])
def test_invalid_hyperparameters(params, fragment):
    with pytest.raises(ConfigError) as info:
        LSTMModel(SPEC, progress=False, **params).fit(_table())
    assert fragment in str(info.value)


def test_every_error_is_an_lstmkit_error_and_unfitted_use_is_explained():
    with pytest.raises(NotFittedError, match="call fit"):
        LSTMModel(SPEC).predict(_table())
    assert issubclass(SchemaError, LSTMKitError) and issubclass(ConfigError, LSTMKitError)
