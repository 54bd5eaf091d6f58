"""Task shapes (lstmkit.tasks): each shape's window rows, table and array layout and ONNX
shapes on small real tables; the one prediction table of LSTMModel and OnnxModel; and the
ONNX graph's input encoding against the numpy encoding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets
from lstmkit.data import prepare
from lstmkit.data.groups import arrange, fill_gaps
from lstmkit.deploy.export import InferenceGraph
from lstmkit.deploy.onnx_model import OnnxModel, signature
from lstmkit.kinds import Decoded
from lstmkit.tasks import (
    AlignedShape,
    ForecastShape,
    Seq2SeqShape,
    SequenceShape,
    prediction_frame,
    task_shape,
)
from tests.conftest import ETT_COLUMNS

TINY = {"hidden": 4, "max_epochs": 1, "batch_size": 32, "progress": False}


@pytest.fixture(scope="module")
def days(etth1) -> pd.DataFrame:
    """ETTh1's first 20 days as sequences of 20 to 24 hours (day ``d`` keeps 24 - d % 5)."""
    frame = etth1.iloc[: 20 * 24].assign(day=np.repeat(np.arange(20), 24))
    hour = np.tile(np.arange(24), 20)
    return frame[hour < 24 - frame["day"] % 5].reset_index(drop=True)


def sequence_spec(task: str, horizon: int | None = None) -> Spec:
    targets = ["OT"] if task == "sequence" else ["LUFL", "LULL"]
    return Spec(task=task, sequence="day", inputs=ETT_COLUMNS[:4], targets=targets,
                horizon=horizon)


def test_importing_task_shapes_imports_no_torch():
    code = "import sys, lstmkit.tasks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_each_task_is_one_shape_with_its_steps():
    forecast = Spec(inputs=["a"], targets=["a"], lookback=8, horizon=3)
    ahead = Spec(inputs=["a", Feature("b", future=True)], targets=["a"], lookback=8, horizon=3)
    cases = [(forecast, ForecastShape, 3, 8, 3, False),
             (ahead, ForecastShape, 3, 11, 3, False),
             (sequence_spec("sequence"), SequenceShape, 1, "steps", 1, True),
             (sequence_spec("seq2seq", 5), Seq2SeqShape, 5, "steps", 5, True),
             (sequence_spec("seq2seq"), AlignedShape, 1, "steps", "steps", True)]
    for spec, kind, out, onnx_in, onnx_out, lengths in cases:
        shape = spec.shape
        assert type(shape) is kind and task_shape(spec) == shape
        assert shape.name == {ForecastShape: "forecast", SequenceShape: "sequence",
                              Seq2SeqShape: "seq2seq", AlignedShape: "aligned"}[kind]
        assert (shape.output_steps, shape.onnx_steps, shape.onnx_out_steps,
                shape.onnx_lengths) == (out, onnx_in, onnx_out, lengths)
    assert [s.shape.continues for s, *_ in cases] == [True, True, False, True, False]
    assert forecast.shape.baseline_name == "last value (persistence)"
    assert sequence_spec("seq2seq", 5).shape.baseline_name.startswith("last input value")


def test_forecast_rows_are_the_windows_predict_reads(etth1):
    frame = etth1.iloc[:300].assign(series=np.repeat(["a", "b", "c"], 100))
    spec = Spec(series="series", inputs=ETT_COLUMNS, targets=["OT"], lookback=24, horizon=4)
    groups = arrange(frame, spec)
    last = spec.shape.window_rows(groups, "last")
    np.testing.assert_array_equal(last.origin, [99, 199, 299])
    np.testing.assert_array_equal(last.rows[1], np.arange(176, 200))
    every = spec.shape.window_rows(groups, "all")
    assert len(every.origin) == 3 * (100 - 24 + 1)
    np.testing.assert_array_equal(every.rows, every.origin[:, None] + np.arange(-23, 1))
    encoding = prepare.fit_encoding(groups, spec, prepare.assign_parts(groups, spec,
                                                                       Split(), 0))
    encoded = prepare.encode(groups, spec, encoding, with_targets=False)
    for origins, rows in (("last", last), ("all", every)):
        windows = prepare.predict_windows(encoded, spec, origins)
        np.testing.assert_array_equal(windows.starts.numpy(), rows.rows[:, 0])


def test_future_inputs_make_the_window_read_the_horizon_too(etth1):
    frame = etth1.iloc[:100].assign(hour=np.arange(100) % 24)
    spec = Spec(inputs=[*ETT_COLUMNS, Feature("hour", future=True)], targets=["OT"],
                lookback=24, horizon=4)
    rows = spec.shape.window_rows(arrange(frame, spec), "last")
    np.testing.assert_array_equal(rows.origin, [95])       # four rows give the future inputs
    assert rows.rows.shape == (1, 28) and rows.rows[0, -1] == 99


def test_sequence_rows_pad_with_the_last_row_and_carry_lengths(days):
    spec = sequence_spec("seq2seq")
    groups = arrange(days, spec)
    rows = spec.shape.window_rows(groups)
    np.testing.assert_array_equal(rows.lengths, 24 - np.arange(20) % 5)
    np.testing.assert_array_equal(rows.keys, np.arange(20))
    one = rows.rows[1]                                     # day 1 has 23 rows
    start = groups.offsets[1]
    np.testing.assert_array_equal(one, np.append(np.arange(start, start + 23), start + 22))


def test_aligned_table_drops_steps_past_each_end_and_arrays_hold_nan(days):
    spec = sequence_spec("seq2seq")
    rows = spec.shape.window_rows(arrange(days, spec))
    n, steps = len(rows.keys), 24
    values = np.arange(n * steps, dtype=np.float64).reshape(n, steps)
    decoded = {"LUFL": Decoded(values), "LULL": Decoded(-values)}
    frame = prediction_frame(spec, rows, decoded)
    assert list(frame.columns) == ["day", "step", "LUFL", "LULL"]
    assert len(frame) == rows.lengths.sum()
    assert frame.groupby("day")["step"].max().tolist() == rows.lengths.tolist()
    array = spec.shape.array_layout(decoded, rows.lengths)
    assert array.shape == (n, steps, 2)
    assert np.isnan(array[1, 23]).all() and not np.isnan(array[0]).any()


def test_sequence_table_has_one_row_per_sequence_and_arrays_no_step_axis(days):
    spec = Spec(task="sequence", sequence="day", inputs=ETT_COLUMNS[:4],
                targets=[Target("OT", kind="classification")])
    rows = spec.shape.window_rows(arrange(days, spec))
    labels = np.array([["low"], ["high"]] * 10, dtype=object)
    proba = np.stack([np.full((20, 1), 0.25), np.full((20, 1), 0.75)], axis=-1)
    decoded = {"OT": Decoded(labels, proba, ("high", "low"))}
    frame = prediction_frame(spec, rows, decoded)
    assert list(frame.columns) == ["day", "OT", "OT_proba_high", "OT_proba_low"]
    assert frame["day"].tolist() == list(range(20)) and len(frame) == 20
    assert spec.shape.array_layout(decoded, None).shape == (20,)


def test_the_onnx_signature_has_the_shapes_steps(days):
    for spec in (sequence_spec("seq2seq"), sequence_spec("seq2seq", 3)):
        groups = arrange(days, spec)
        parts = prepare.assign_parts(groups, spec, Split(), 0)
        inputs, outputs = signature(spec, prepare.fit_encoding(groups, spec, parts))
        assert inputs["numeric"]["shape"] == ["batch", spec.shape.onnx_steps, 4]
        assert inputs["lengths"] is not None
        assert [o["shape"] for o in outputs] == [["batch", spec.shape.onnx_out_steps]] * 2


@pytest.mark.parametrize("horizon", [None, 3])
def test_lstmmodel_and_onnxmodel_give_the_same_table(days, tmp_path, horizon):
    spec = sequence_spec("seq2seq", horizon)
    model = LSTMModel(spec, **TINY).fit(days)
    onnx_model = OnnxModel(model.export_onnx(tmp_path / "days.onnx"))
    rows = days[days.day >= 15] if horizon is None else days[days.day >= 15].groupby(
        "day").head(18)
    want, got = model.predict(rows), onnx_model.predict(rows)
    ids = ["day", "step"]
    pd.testing.assert_frame_equal(got[ids], want[ids])
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-4, atol=1e-3)


def test_the_graph_encodes_inputs_as_the_numpy_encoding(shared_data):
    """Beijing PM2.5: numeric inputs with gaps (mask, ffill), a categorical input with gaps
    (one-hot) and an embedded one: the graph's torch encoding equals Encoding's."""
    beijing = datasets.load("beijing_pm25", data_dir=shared_data).iloc[:2000]
    beijing = beijing.astype({"cbwd": object, "hour": str})
    beijing.loc[beijing.index % 97 == 5, "cbwd"] = None
    gappy = beijing.assign(Iws=beijing.Iws.where(beijing.index % 13 != 0))
    spec = Spec(time="date", lookback=12, horizon=2, targets=["TEMP"],
                inputs=["DEWP", "TEMP", Feature("pm2.5", missing="mask"),
                        Feature("Iws", missing="ffill"),
                        Feature("cbwd", kind="categorical", missing="mask"),
                        Feature("hour", kind="categorical", embed=2)])
    model = LSTMModel(spec, **TINY).fit(gappy)
    groups = fill_gaps(arrange(gappy, spec, model.time_step_), spec)
    encoding = model.encoding_
    want = encoding.encode_inputs(groups.frame, groups.rows)
    numeric, codes = encoding.read_inputs(groups.frame, groups.rows)
    raw = torch.from_numpy(np.stack(list(numeric), axis=-1).astype(np.float32))
    assert torch.isnan(raw).any()                               # pm2.5's gaps are left
    codes_in = [torch.from_numpy(np.where(np.isnan(c), -1, c).astype(np.int64))
                for c in codes.values()]
    assert (codes_in[0] == -1).any()
    with torch.no_grad():
        got = InferenceGraph(model).encode(raw, codes_in).numpy()
    assert got.shape == want.shape == (len(gappy), len(encoding.input_columns))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_targets_decoded_as_one_block_are_laid_out_as_that_block_without_a_stack():
    """Values that are the last axis of one array, in order, lay out as that array (no
    copy); anything else (another order, other arrays) is stacked."""
    from lstmkit.tasks import _block_of

    block = np.arange(24.0).reshape(2, 3, 4).copy()
    assert _block_of([block[..., k] for k in range(4)]) is block
    assert _block_of([block[..., k] for k in (1, 0, 2, 3)]) is None
    assert _block_of([block[..., k] for k in range(3)]) is None
    assert _block_of([np.zeros((2, 3))] * 4) is None
