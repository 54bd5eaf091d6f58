"""Sequence-to-sequence: different input/output lengths and features, and X(t) -> Y(t)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import ConfigError, LSTMModel, Spec, Split
from tests.conftest import ETT_COLUMNS


@pytest.fixture(scope="module")
def trajectories(etth1):
    """48 hourly steps of all seven columns -> the next 12 steps of HUFL and MUFL."""
    values = etth1[ETT_COLUMNS].to_numpy()
    starts = np.arange(0, len(values) - 60, 12)
    X = np.stack([values[s : s + 48] for s in starts])
    Y = np.stack([values[s + 48 : s + 60][:, [0, 2]] for s in starts])
    return X, Y


@pytest.mark.parametrize("decoder", ["repeat", "autoregressive"])
def test_encoder_decoder_maps_48_steps_of_7_features_to_12_steps_of_2(trajectories, decoder):
    X, Y = trajectories
    spec = Spec(inputs=ETT_COLUMNS, targets=["HUFL", "MUFL"], task="seq2seq", horizon=12)
    model = LSTMModel(spec, decoder=decoder, hidden=32, max_epochs=4, batch_size=64,
                      split=Split(0.7, 0.85, shuffle=False), progress=False).fit(X, Y)
    evaluation = model.evaluate(X, Y, part="test")
    assert evaluation.baseline.startswith("last input value")
    for target in ("HUFL", "MUFL"):
        assert evaluation.metric(target, "RMSE") < evaluation.metric(target, "RMSE", of="naive")
    predicted = model.predict(X[:5])
    assert predicted.columns.tolist() == ["sample", "step", "HUFL", "MUFL"]
    assert predicted.step.tolist() == list(range(1, 13)) * 5


def test_same_time_step_outputs_from_other_columns(trajectories):
    X, _ = trajectories
    inputs, outputs = X[:, :, :4], X[:, :, 4:6]              # HUFL..MULL(t) -> LUFL, LULL(t)
    spec = Spec(inputs=ETT_COLUMNS[:4], targets=ETT_COLUMNS[4:6], task="seq2seq")
    model = LSTMModel(spec, hidden=32, bidirectional=True, max_epochs=4, batch_size=64,
                      split=Split(0.7, 0.85, shuffle=False), progress=False).fit(inputs, outputs)
    assert model.network_.config.decoder == "aligned"
    evaluation = model.evaluate(inputs, outputs, part="test")
    for target in ETT_COLUMNS[4:6]:
        assert evaluation.metric(target, "RMSE") < evaluation.metric(target, "RMSE", of="naive")
    predicted = model.predict(inputs[:2])
    assert len(predicted) == 2 * 48 and predicted.step.max() == 48


def test_arrays_alone_say_which_seq2seq_shape_they_are(trajectories):
    X, Y = trajectories
    options = {"hidden": 8, "max_epochs": 1, "progress": False}
    encoder_decoder = LSTMModel(**options).fit(X[:200], Y[:200])       # 48 steps -> 12
    assert (encoder_decoder.spec_.horizon, encoder_decoder.architecture_["decoder"]) == \
        (12, "repeat")
    assert encoder_decoder.predict(X[:3]).step.max() == 12
    same_steps = LSTMModel(**options).fit(X[:200, :, :4], X[:200, :, 4:6])   # 48 -> 48
    assert same_steps.spec_.horizon is None and same_steps.spec_.aligned


def test_seq2seq_from_a_long_table_with_output_rows_after_input_rows(trajectories):
    X, Y = trajectories
    X, Y = X[:300], Y[:300]
    rows = []
    for i in range(len(X)):
        rows.append(pd.DataFrame(X[i], columns=[f"in{j}" for j in range(7)]).assign(trip=i))
        rows.append(pd.DataFrame(Y[i], columns=["HUFL", "MUFL"]).assign(trip=i))
    frame = pd.concat(rows, ignore_index=True)
    spec = Spec(inputs=[f"in{j}" for j in range(7)], targets=["HUFL", "MUFL"], task="seq2seq",
                sequence="trip", horizon=12)
    model = LSTMModel(spec, hidden=16, max_epochs=2, progress=False).fit(frame)
    from_table = model.evaluate(frame).metric("MUFL", "RMSE")
    from_arrays = model.evaluate(X, Y).metric("MUFL", "RMSE")
    assert from_table == pytest.approx(from_arrays)


def test_a_decoder_that_cannot_apply_is_refused():
    spec = Spec(inputs=["a"], targets=["b"], task="seq2seq")
    X, Y = np.zeros((10, 5, 1)), np.zeros((10, 5, 1))
    with pytest.raises(ConfigError, match="does not apply to seq2seq with one output per"):
        LSTMModel(spec, decoder="repeat", progress=False).fit(X, Y)
