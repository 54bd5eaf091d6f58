"""Arrays as Keras users expect: arrays out, class probabilities, validation_data, one-hot y,
and hints for keyword arguments and array shapes that lstmkit spells differently."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

from lstmkit import (
    ConfigError,
    DataError,
    Feature,
    LSTMKitWarning,
    LSTMModel,
    Spec,
    Split,
    Target,
)
from lstmkit.data.sources import from_arrays
from lstmkit.deploy.onnx_model import OnnxModel

TINY = {"hidden": 4, "max_epochs": 1, "progress": False}


def _X(n: int = 40, steps: int = 6, features: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, steps, features)).astype(np.float32)


def _classes(X: np.ndarray, k: int = 3) -> np.ndarray:
    """Labels 0..k-1 that depend on the last step, every class present."""
    return np.digitize(X[:, -1, 0], np.quantile(X[:, -1, 0], np.linspace(0, 1, k + 1)[1:-1]))


def _table_route(model: LSTMModel, X) -> pd.DataFrame:
    """The long table ``predict(X)`` built before the array path, predicted as a table."""
    return model.predict(from_arrays(X, None, model.spec_)[0])


def _as_the_table(predicted: np.ndarray, table: np.ndarray) -> None:
    """The array path's numbers for a float32 ``X``: the long table's within float32
    rounding (the path scales float32 inputs in float32, the table in float64)."""
    np.testing.assert_allclose(predicted, table, rtol=1e-5, atol=1e-6)


# -- arrays out, shaped like y -----------------------------------------------------------
@pytest.mark.parametrize("targets", [1, 2])
def test_sequence_regression_comes_back_shaped_like_y(targets):
    X = _X()
    y = X[:, -1, :targets].sum(axis=1) if targets == 1 else X[:, -1, :targets]
    model = LSTMModel(**TINY).fit(X, y)
    predicted = model.predict(X[:7], output="array")
    assert predicted.shape == y[:7].shape and predicted.dtype == np.float64
    frame = _table_route(model, X[:7])                       # the long table, as before
    names = model.spec_.target_names
    _as_the_table(predicted.reshape(7, -1), frame[names].to_numpy())
    pd.testing.assert_frame_equal(model.predict(X[:7]), frame, rtol=1e-5, atol=1e-6)
    wide = X[:7].astype(np.float64)                  # float64 X: scaled in float64, bit for bit
    np.testing.assert_array_equal(model.predict(wide, output="array").reshape(7, -1),
                                  _table_route(model, wide)[names].to_numpy())


def test_a_y_of_one_column_gives_predictions_of_one_column(tmp_path):
    """y (samples, 1), as Keras' Dense(1) and a DataFrame's one column give it, comes back
    (samples, 1): (samples,) would broadcast against it, (pred - y) ** 2 to samples x
    samples. Saved models and ONNX exports keep it; a 1-D y stays 1-D."""
    X = _X()
    column = X[:, -1, :1].astype(np.float64)                                   # (40, 1)
    model = LSTMModel(**TINY).fit(X, column)
    predicted = model.predict(X, output="array")
    assert predicted.shape == (40, 1) and (predicted - column).shape == (40, 1)
    np.testing.assert_array_equal(predicted[:, 0], model.predict(X)["y0"].to_numpy())
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict(X, output="array"), predicted)
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx")).predict(X, output="array")
    np.testing.assert_allclose(onnx, predicted, rtol=1e-5, atol=1e-6)
    labels = pd.DataFrame({"kind": _classes(X)})                               # one column
    assert LSTMModel(**TINY).fit(X, labels).predict(X, output="array").shape == (40, 1)
    assert LSTMModel(**TINY).fit(X, column[:, 0]).predict(X, output="array").shape == (40,)


def test_sequence_classification_gives_labels_and_probabilities_that_agree():
    X = _X(60)
    words = np.array(["low", "mid", "high"], dtype=object)[_classes(X)]
    model = LSTMModel(**TINY).fit(X, words)
    labels = model.predict(X, output="array")
    proba = model.predict_proba(X)
    classes = model.encoding_.target_labels["y"].classes          # sorted: high, low, mid
    assert labels.shape == (60,) and proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert (np.asarray(classes, dtype=object)[proba.argmax(axis=1)] == labels).all()
    frame = model.predict(X)
    np.testing.assert_array_equal(frame[[f"y_proba_{c}" for c in classes]].to_numpy(), proba)
    assert (frame["y"].to_numpy() == labels).all()         # the array path skips the proba


def test_a_binary_target_has_two_probability_columns():
    X = _X(50)
    model = LSTMModel(Spec(["a", "b", "c"], [Target("up", kind="binary")], task="sequence"),
                      **TINY).fit(X, (X[:, -1, 0] > 0).astype(int))
    proba = model.predict_proba(X)
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), model.predict(X, output="array"))
    np.testing.assert_array_equal(proba[:, 1], model.predict(X)["up_proba_1"])
    np.testing.assert_array_equal(model.predict(X)["up"], model.predict(X, output="array"))


def test_several_categorical_targets_give_a_dict_and_mixed_targets_an_object_array():
    X = _X(60)
    y = np.column_stack([_classes(X), (X[:, 0, 1] > 0).astype(int), X[:, -1, 2]])
    spec = Spec(["a", "b", "c"], [Target("k", kind="classification"),
                                  Target("up", kind="binary"), "level"], task="sequence")
    model = LSTMModel(spec, **TINY).fit(X, y)
    proba = model.predict_proba(X)
    assert set(proba) == {"k", "up"} and proba["k"].shape == (60, 3)
    assert proba["up"].shape == (60, 2)
    predicted = model.predict(X, output="array")
    assert predicted.shape == (60, 3) and predicted.dtype == object
    np.testing.assert_array_equal(predicted[:, 0].astype(int), proba["k"].argmax(axis=1))
    np.testing.assert_array_equal(predicted[:, 2].astype(float), model.predict(X)["level"])


def test_classes_names_the_columns_of_predict_proba():
    """classes_ (scikit-learn's name) gives predict_proba's column order: the labels sorted,
    not a pandas Categorical's own order of categories, which fit does not keep."""
    X = _X(60)
    ordered = pd.Categorical(np.array(["lo", "mid", "hi"])[_classes(X)],
                             categories=["lo", "mid", "hi"], ordered=True)
    model = LSTMModel(**TINY).fit(X, ordered)
    assert model.classes_.tolist() == ["hi", "lo", "mid"]
    assert (model.classes_[model.predict_proba(X).argmax(axis=1)] ==
            model.predict(X, output="array")).all()
    y = np.column_stack([_classes(X), X[:, 0, 1] > 0, X[:, -1, 2]]).astype(object)
    spec = Spec(["a", "b", "c"], [Target("k", kind="classification"),
                                  Target("up", kind="binary"), "level"], task="sequence")
    several = LSTMModel(spec, **TINY).fit(X, y)
    assert {k: v.tolist() for k, v in several.classes_.items()} == \
        {"k": [0, 1, 2], "up": [False, True]}
    regression = LSTMModel(**TINY).fit(X, X[:, -1, 0])
    assert not hasattr(regression, "classes_") and not hasattr(LSTMModel(), "classes_")


def test_predict_proba_of_a_regression_model_says_to_use_predict():
    X = _X()
    model = LSTMModel(**TINY).fit(X, X[:, -1, 0])
    with pytest.raises(ConfigError, match=r"every target of this model is a regression.*predict"):
        model.predict_proba(X)


def test_seq2seq_with_a_horizon_comes_back_as_samples_steps_targets():
    X = _X(30, steps=8)
    y = X[:, -4:, :2] * 2.0                                         # (30, 4, 2): horizon 4
    model = LSTMModel(**TINY).fit(X, y)
    assert model.spec_.horizon == 4
    predicted = model.predict(X[:5], output="array")
    assert predicted.shape == (5, 4, 2)
    frame = _table_route(model, X[:5])
    _as_the_table(predicted.reshape(20, 2), frame[["y0", "y1"]].to_numpy())


def test_seq2seq_with_one_output_per_step_pads_shorter_sequences_with_nan():
    X = _X(30, steps=6)
    model = LSTMModel(**TINY).fit(X, X[:, :, :1] + X[:, :, 1:2])     # (30, 6, 1): aligned
    assert model.spec_.aligned
    assert model.predict(X[:4], output="array").shape == (4, 6, 1)
    short = [X[0], X[1, :4]]                                        # 6 and 4 steps
    predicted = model.predict(short, output="array")
    assert predicted.shape == (2, 6, 1)
    assert np.isfinite(predicted[1, :4]).all() and np.isnan(predicted[1, 4:]).all()
    np.testing.assert_allclose(predicted[1, :4, 0], model.predict(X[1:2, :4], output="array")
                               [0, :, 0], rtol=1e-6)


def test_per_step_labels_of_shorter_sequences_are_padded_with_none():
    X = _X(40, steps=5)
    y = (X[:, :, :1] > 0).astype(int)                               # a label per step
    model = LSTMModel(Spec(["a", "b", "c"], [Target("s", kind="classification")],
                           task="seq2seq"), **TINY).fit(X, y)
    predicted = model.predict([X[0], X[1, :3]], output="array")
    assert predicted.shape == (2, 5, 1) and predicted.dtype == object
    assert predicted[1, 3:, 0].tolist() == [None, None]
    proba = model.predict_proba([X[0], X[1, :3]])
    assert proba.shape == (2, 5, 2) and np.isnan(proba[1, 3:]).all()
    np.testing.assert_allclose(proba[0].sum(axis=-1), 1.0)


def test_a_forecast_from_2d_arrays_gives_windows_horizon_targets():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)).cumsum(axis=0)
    spec = Spec(["a", "b", "c"], ["a", "c"], lookback=12, horizon=3)
    model = LSTMModel(spec, **TINY).fit(X)
    assert model.predict(X, output="array").shape == (1, 3, 2)
    every = model.predict(X, origins="all", output="array")
    assert every.shape == (200 - 12 + 1, 3, 2)
    frame = model.predict(X, origins="all")
    np.testing.assert_array_equal(every.reshape(-1, 2), frame[["a", "c"]].to_numpy())


def test_output_must_be_frame_or_array():
    X = _X()
    model = LSTMModel(**TINY).fit(X, X[:, -1, 0])
    with pytest.raises(ConfigError, match=r"output must be one of 'frame', 'array'.*'array'"):
        model.predict(X, output="arrays")


def test_arrays_with_padding_gaps_or_integers_give_what_the_table_gives():
    """What the array path does not read (padding, NaN gaps under a missing policy) goes
    through the long table; integers are read as numbers either way."""
    X = _X(30)
    model = LSTMModel(**TINY).fit(X, X[:, -1, 0])
    padded = X.copy()
    padded[3, 4:] = np.nan
    np.testing.assert_array_equal(model.predict(padded, output="array"),
                                  _table_route(model, padded)["y"].to_numpy())
    counts = np.rint(X * 3).astype(np.int64)
    np.testing.assert_array_equal(model.predict(counts, output="array"),
                                  _table_route(model, counts)["y"].to_numpy())
    gap = X.copy()
    gap[2, 1, 0] = np.nan
    with pytest.raises(DataError, match=r"X\[2, 1, 0\] \(input 'x0'\) is NaN inside its "
                                        r"sequence.*Feature\('x0', missing='ffill' or 'mask'\)"):
        model.predict(gap, output="array")
    gap[2, 1, 0], gap[5, 3, 2] = np.inf, np.nan                    # the first, in X's order
    for each in (gap, list(gap)):
        with pytest.raises(DataError, match=r"X\[2, 1, 0\] \(input 'x0'\) is inf"):
            LSTMModel(**TINY).fit(each, X[:, -1, 0])
    gap[2, 1, 0] = 1.0
    spec = Spec(["a", "b", Feature("c", missing="ffill")], ["y"], task="sequence")
    LSTMModel(spec, **TINY).fit(gap, X[:, -1, 0])          # its policy fills X[5, 3, 2]
    with pytest.raises(DataError, match="X has 2 feature column"):
        model.predict(X[:, :, :2], output="array")



def test_a_list_of_nan_padded_arrays_is_read_as_the_padded_3d_array_is():
    """NaN padding at the end of a list's arrays (a padded batch split into a list) is
    padding there too: the same table, and predictions, as the 3-D array gives."""
    X = _X(30)
    padded = X.copy()
    padded[::3, 4:] = np.nan
    y = np.nan_to_num(padded[:, :, 0]).sum(axis=1)
    pd.testing.assert_frame_equal(from_arrays(list(padded), y, None)[0],   # a list: float64
                                  from_arrays(padded, y, None)[0], check_dtype=False)
    model = LSTMModel(**TINY).fit(list(padded), y)
    np.testing.assert_array_equal(model.predict(list(padded), output="array"),
                                  model.predict(padded, output="array"))
    padded[4] = np.nan
    for each in (padded, list(padded)):
        with pytest.raises(DataError, match="sample 4 of X is all NaN"):
            from_arrays(each, y, None)


def test_float64_x_is_read_not_changed_and_batches_join_as_the_table_gives():
    """The array path scales each batch on a copy: the caller's float64 X (which the path
    reads without a copy) keeps its values, over several inference batches."""
    X = _X(1100, steps=3, features=2).astype(np.float64) * 50 + 7
    model = LSTMModel(hidden=32, max_epochs=1, progress=False).fit(X[:40], X[:40, -1, 0])
    assert model.pipeline_._predict_batch_size(model.pipeline_._array_windows(X)) < len(X)
    before = X.copy()
    predicted = model.predict(X, output="array")
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(predicted, _table_route(model, X)["y"].to_numpy())


def test_small_lstms_predict_in_larger_batches_up_to_the_memory_bound():
    """Windows per inference batch on CPU: 512, or more where a step's gates (windows x 4 x
    hidden) stay within 2**17 values (W2's LSTM(32): 1024); never past the memory bound."""
    X = _X(8, steps=5)
    sizes = {}
    for hidden, bidirectional, steps in [(64, False, 5), (32, False, 5), (16, False, 5),
                                         (32, True, 5), (16, False, 2000)]:
        model = LSTMModel(hidden=hidden, bidirectional=bidirectional, max_epochs=1,
                          progress=False).fit(X, X[:, -1, 0])
        windows = model.pipeline_._array_windows(_X(8, steps=steps))
        sizes[hidden, bidirectional, steps] = model.pipeline_._predict_batch_size(windows)
    assert sizes == {(64, False, 5): 512, (32, False, 5): 1024, (16, False, 5): 2048,
                     (32, True, 5): 512, (16, False, 2000): 2**23 // (2000 * 64)}

# -- validation_data and training on every sample ------------------------------------------
def test_validation_data_validates_every_epoch_and_every_sample_of_x_trains():
    X, X_val = _X(40, seed=1), _X(20, seed=2)
    y, y_val = X[:, -1, 0], X_val[:, -1, 0]
    params = {"hidden": 4, "max_epochs": 3, "patience": 5, "progress": False}
    model = LSTMModel(**params).fit(X, y, validation_data=(X_val, y_val))
    epochs = model.history_["epochs"]
    assert len(epochs) == 3 and all(np.isfinite(e["val_loss"]) for e in epochs)
    # the scalers were fitted on every sample of X: nothing was held out of it
    assert model.encoding_.input_scalers["x0"].center == pytest.approx(X[..., 0].mean(), rel=1e-6)
    assert model.encoding_.target_scalers["y"].center == pytest.approx(y.mean(), rel=1e-6)
    # training does not depend on the validation set; the validation loss does
    other = LSTMModel(**params).fit(X, y, validation_data=(X_val, -3 * y_val))
    assert [e["train_loss"] for e in other.history_["epochs"]] == \
        [e["train_loss"] for e in epochs]
    assert other.history_["epochs"][0]["val_loss"] > epochs[0]["val_loss"]
    explicit = LSTMModel(split=Split.train_only(), **params).fit(X, y)
    assert explicit.encoding_.input_scalers["x0"] == model.encoding_.input_scalers["x0"]
    assert "val_loss" not in explicit.history_["epochs"][0]


def test_validation_data_beside_a_split_with_a_validation_part_is_refused():
    X = _X()
    model = LSTMModel(split=Split(val_start=0.8), **TINY)
    with pytest.raises(ConfigError, match=r"validation_data replaces.*Split\(val_start=None"):
        model.fit(X, X[:, -1, 0], validation_data=(X[:5], X[:5, -1, 0]))
    with pytest.raises(ConfigError, match="pair"):
        LSTMModel(**TINY).fit(X, X[:, -1, 0], validation_data=(X, X[:, -1, 0], None))
    with pytest.raises(ConfigError, match=r"validation_data is one array of shape "
                                          r"\(5, 6, 3\).*\(X_val, y_val\)"):
        LSTMModel(**TINY).fit(X, X[:, -1, 0], validation_data=X[:5])      # y_val forgotten


def test_validation_data_may_be_a_table_for_a_table_fit(etth1):
    table = etth1.iloc[:400]
    spec = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=24, horizon=2)
    model = LSTMModel(spec, **TINY).fit(table.iloc[:300], validation_data=table.iloc[300:])
    assert np.isfinite(model.history_["epochs"][0]["val_loss"])
    assert model.encoding_.input_scalers["OT"].center == \
        pytest.approx(table.OT.iloc[:300].mean())


# -- one-hot and multi-hot y ------------------------------------------------------------------
def test_a_one_hot_y_is_one_classification_target_labelled_by_column():
    X = _X(60)
    codes = _classes(X)
    one_hot = np.eye(3, dtype=np.float32)[codes]                    # keras to_categorical
    model = LSTMModel(**TINY).fit(X, one_hot)
    assert model.spec_.targets == (Target("y", kind="classification"),)
    assert model.encoding_.target_labels["y"].classes == (0, 1, 2)
    assert model.predict_proba(X).shape == (60, 3)
    named = pd.get_dummies(pd.Series(np.array(["fog", "rain", "sun"])[codes]))
    labelled = LSTMModel(**TINY).fit(X, named)
    assert labelled.encoding_.target_labels["y"].classes == ("fog", "rain", "sun")
    assert set(labelled.predict(X, output="array")) <= {"fog", "rain", "sun"}
    spec = Spec(["a", "b", "c"], [Target("kind", kind="classification")], task="sequence")
    declared = LSTMModel(spec, **TINY).fit(X, one_hot)
    assert declared.encoding_.target_labels["kind"].classes == (0, 1, 2)


def test_a_multi_hot_y_is_a_binary_target_per_column():
    X = _X(60)
    tags = np.column_stack([X[:, -1, 0] > 0, X[:, -1, 1] > 0, X[:, 0, 2] > 0]).astype(float)
    model = LSTMModel(**TINY).fit(X, tags)
    assert model.spec_.targets == tuple(Target(f"y{j}", kind="binary") for j in range(3))
    assert model.predict(X, output="array").shape == (60, 3)
    assert {k: v.shape for k, v in model.predict_proba(X).items()} == \
        {"y0": (60, 2), "y1": (60, 2), "y2": (60, 2)}
    named = LSTMModel(**TINY).fit(X, pd.DataFrame(tags, columns=["hot", "windy", "wet"]))
    assert named.spec_.target_names == ["hot", "windy", "wet"]


def test_a_per_step_one_hot_y_is_one_classification_target_per_step():
    X = _X(40, steps=5)
    one_hot = np.eye(2)[(X[:, :, 0] > 0).astype(int)]               # (40, 5, 2)
    model = LSTMModel(**TINY).fit(X, one_hot)
    assert model.spec_.task == "seq2seq" and model.spec_.aligned
    assert model.spec_.targets == (Target("y", kind="classification"),)
    assert model.predict(X, output="array").shape == (40, 5, 1)


def test_ambiguous_zero_one_columns_keep_their_meaning():
    X = _X(40)
    flag = (X[:, -1, 0] > 0).astype(np.float32)
    binary_hint = r"target 'y0?' of y holds only 0\.0 and 1\.0.*y\.astype\(int\).*kind='binary'"
    with pytest.warns(LSTMKitWarning, match=binary_hint):      # Keras' binary labels
        assert LSTMModel(**TINY).fit(X, flag).spec_.targets[0].kind == "regression"
    with pytest.warns(LSTMKitWarning, match=binary_hint):
        assert LSTMModel(**TINY).fit(X, flag[:, None]).spec_.targets[0].kind == "regression"
    with warnings.catch_warnings(record=True) as caught:             # labels: no such warning
        warnings.simplefilter("always")
        assert LSTMModel(**TINY).fit(X, flag.astype(int)).spec_.targets[0].kind == \
            "classification"
    assert not [w for w in caught if "0.0 and 1.0" in str(w.message)]
    two = np.column_stack([flag, X[:, -1, 1] > 0]).astype(int)
    spec = Spec(["a", "b", "c"], ["p", "q"], task="sequence")      # regression, as declared
    assert LSTMModel(spec, **TINY).fit(X, two).spec_.target_names == ["p", "q"]


def test_a_y_of_mixed_columns_gives_each_column_its_own_kind_and_name():
    """A DataFrame y of a label column and a number column (an object array as numpy holds
    it) is a classification and a regression target, named by its columns; Python floats
    with None for a missing value are a regression target, as a float array is."""
    X = _X(60)
    words = np.array(["low", "mid", "high"], dtype=object)[_classes(X)]
    y = pd.DataFrame({"level": words, "size": X[:, -1, 1].astype(np.float64)})
    model = LSTMModel(**TINY).fit(X, y)
    assert model.spec_.targets == (Target("level", kind="classification"), Target("size"))
    predicted = model.predict(X, output="array")
    assert predicted.shape == (60, 2) and set(predicted[:, 0]) <= {"low", "mid", "high"}
    unnamed = LSTMModel(**TINY).fit(X, y.to_numpy())                # dtype object
    assert [t.kind for t in unnamed.spec_.targets] == ["classification", "regression"]
    sizes = np.array([*X[:-1, -1, 1].tolist(), None], dtype=object)
    assert LSTMModel(**TINY).fit(X, sizes).spec_.targets[0].kind == "regression"


# -- hints ---------------------------------------------------------------------------------------
def test_an_unknown_parameter_names_the_closest_one():
    with pytest.raises(ConfigError, match=r"unknown parameter 'epochs' \(did you mean "
                                          r"'max_epochs'\?\)"):
        LSTMModel(epochs=10)
    with pytest.raises(ConfigError, match=r"'verbose' \(did you mean 'progress'\?\)"):
        LSTMModel(verbose=0)
    names = list(inspect.signature(LSTMModel.__init__).parameters)
    assert names == ["self", "spec", *LSTMModel.PARAMS]
    assert list(inspect.signature(LSTMModel).parameters) == ["spec", *LSTMModel.PARAMS]


def test_keras_arguments_of_fit_say_where_they_belong():
    X = _X()
    model = LSTMModel(**TINY)
    with pytest.raises(ConfigError, match=r"unknown fit\(\) argument 'epochs' \(did you mean "
                                          r"'max_epochs'\?\).*LSTMModel\("):
        model.fit(X, X[:, -1, 0], epochs=5)
    with pytest.raises(ConfigError, match=r"fit\(\) takes no 'batch_size'.*"
                                          r"LSTMModel\(\.\.\., batch_size=32\)"):
        model.fit(X, X[:, -1, 0], batch_size=32)
    labels = (X[:, -1, 0] > 0).astype(int)
    with pytest.raises(ConfigError, match=r"fit\(\) takes no 'class_weight'.*Target\('y', "
                                          r"kind='classification', class_weight=\{0: 1, 1: 5\}"):
        model.fit(X, labels, class_weight={0: 1, 1: 5})
    with pytest.raises(ConfigError, match=r"LSTMModel\(\) takes no 'class_weight'"):
        LSTMModel(class_weight="balanced")
    with pytest.raises(ConfigError, match=r"takes no 'sample_weight'.*Spec\(\.\.\., weight="):
        model.fit(X, labels, sample_weight=np.ones(len(X)))
    hint = r"LSTMModel\(split=Split\(val_start=0\.75, test_start=None, shuffle=False\)\)"
    with pytest.raises(ConfigError, match=r"fit\(\) takes no 'validation_split'.*" + hint):
        model.fit(X, labels, validation_split=0.25)
    last = LSTMModel(split=Split(val_start=0.75, test_start=None, shuffle=False), **TINY)
    last.fit(X, X[:, -1, 0])                        # where the hint says: the last 10 validate
    assert last.encoding_.input_scalers["x0"].center == pytest.approx(X[:30, :, 0].mean(),
                                                                      rel=1e-6)
    assert not hasattr(model, "network_")
    spec = Spec(["a", "b", "c"], [Target("y", kind="classification", class_weight={0: 1, 1: 5})],
                task="sequence")                                   # where the hint says
    assert LSTMModel(spec, **TINY).fit(X, labels).pipeline_.class_weights == {"y": [1.0, 5.0]}


class EarlyStopping:
    """What a Keras user passes as a callback: no Lightning hooks."""

    def __init__(self, patience: int) -> None:
        self.patience = patience


def test_callbacks_that_are_not_lightnings_say_what_is_built_in():
    X = _X()
    model = LSTMModel(**TINY)
    with pytest.raises(ConfigError, match=r"callbacks\[0\] is a .*EarlyStopping, not a Lightning "
                                          r"callback.*LSTMModel\(patience=\.\.\.\)"):
        model.fit(X, X[:, -1, 0], callbacks=[EarlyStopping(patience=3)])
    from lightning.pytorch.callbacks import Callback

    with pytest.raises(ConfigError, match=r"a list of Lightning callbacks, got a Callback; "
                                          r"pass callbacks=\[callback\]"):
        model.fit(X, X[:, -1, 0], callbacks=Callback())
    assert not hasattr(model, "pipeline_")


def test_a_2d_x_says_to_add_a_feature_axis():
    X = _X()[:, :, 0]                                               # (samples, steps)
    with pytest.raises(ConfigError,
                       match=r"np\.asarray\(X\)\[\.\.\., None\] gives \(samples, steps, 1\)"):
        LSTMModel(**TINY).fit(X, X[:, -1])
    spec = Spec(["a"], ["y"], task="sequence")
    with pytest.raises(ConfigError, match=r"np\.asarray\(X\)\[\.\.\., None\]"):
        LSTMModel(spec, **TINY).fit(X, X[:, -1])


def test_an_x_without_samples_steps_or_features_is_refused_naming_the_axis():
    X = _X()
    model = LSTMModel(**TINY).fit(X, _classes(X))
    for predict in (model.predict, model.predict_proba):       # the array path's input
        with pytest.raises(DataError, match=r"X has shape \(0, 6, 3\): no samples"):
            predict(X[:0])
    with pytest.raises(DataError, match=r"\(40, 0, 3\): no steps"):
        LSTMModel(**TINY).fit(X[:, :0], _classes(X))
    with pytest.raises(DataError, match=r"\(40, 6, 0\): no features"):
        LSTMModel(**TINY).fit(X[:, :, :0], _classes(X))
    with pytest.raises(DataError, match=r"sample 1 of X is all NaN \(or has no steps\)"):
        LSTMModel(**TINY).fit([X[0], X[1, :0]], np.array([1.0, 2.0]))


def test_a_tensor_to_predict_says_to_convert_it_to_numpy():
    torch = pytest.importorskip("torch")
    X = _X()
    model = LSTMModel(**TINY).fit(X, _classes(X))
    with pytest.raises(DataError, match=r"got Tensor; convert it to a numpy array first: "
                                        r"np\.asarray\(X\)"):
        model.predict(torch.from_numpy(X))


def test_arrays_without_a_task_say_which_task_to_set():
    with pytest.raises(ConfigError, match=r"lookback .*task='sequence'.*task='seq2seq'"):
        Spec(["a", "b", "c"], ["y"])
    X = _X()
    spec = Spec(["a", "b", "c"], ["y"], lookback=6)                 # task: forecast, the default
    with pytest.raises(ConfigError, match=r"X holds 40 sequences.*task='sequence'"):
        LSTMModel(spec, **TINY).fit(X, X[:, -1, 0])


def test_many_regression_targets_decode_at_once_as_the_table_decodes_each():
    """Plain regression targets are decoded in one vectorised step on the array path (W3's
    300): the numbers each target's own inverse scaling gives in the table, bit for bit
    (a float64 X, which both routes scale in float64)."""
    X = _X(50, steps=6, features=5).astype(np.float64)
    y = X[:, -3:, :] * np.array([1e-3, 1.0, 7.0, 1e3, -2.0]) + 5.0
    model = LSTMModel(**TINY).fit(X, y)                            # (50, 3, 5): a horizon
    predicted = model.predict(X, output="array")
    frame = _table_route(model, X)
    names = model.spec_.target_names
    assert predicted.shape == y.shape and len(names) == 5
    np.testing.assert_array_equal(predicted.reshape(-1, 5), frame[names].to_numpy())


def test_an_x_of_text_or_ragged_steps_is_refused_naming_the_item():
    X = _X()
    model = LSTMModel(**TINY).fit(X, _classes(X))
    for bad, where, fragment in (
            ([X[0], np.full(X[1].shape, "a")], "item 1 of X", "could not convert string"),
            ([X[0], [[1.0, 2.0, 3.0], [1.0, 2.0]]], "item 1 of X", "inhomogeneous"),
            (np.full(X.shape, "a"), "X", "could not convert string"),
            ((X, _classes(X)), None, "item 0 has shape (40, 6, 3)")):    # (X, y) as X
        with pytest.raises(DataError) as refused:
            model.predict(bad)
        message = str(refused.value)
        assert fragment in message and (where is None or message.startswith(
            f"{where} cannot be read as numbers")), message
