"""Models and an unfinished run saved by lstmkit 0.2.0 load, predict and resume unchanged.

The fixtures were written by 0.2.0 itself (``tests/fixtures/v0_2_0/make.py``, which also
rebuilds each model's input); they are copied to a temporary folder first, so no test
can change them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from lstmkit import LSTMModel
from lstmkit.cli.command import main
from lstmkit.errors import ConfigError
from lstmkit.training import checkpoint
from tests.fixtures.v0_2_0.make import panel, prediction_input, unfinished_data

FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0"
MODELS = sorted(p.name for p in (FIXTURES / "models").iterdir())


def test_every_task_shape_has_a_fixture():
    assert {"forecast_default", "forecast_mixed", "forecast_panel", "sequence_classification",
            "seq2seq_horizon", "seq2seq_aligned"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_a_model_saved_by_0_2_0_predicts_what_0_2_0_predicted(name, tmp_path):
    copy = shutil.copytree(FIXTURES / "models" / name, tmp_path / name)
    model = LSTMModel.load(copy)
    predicted = model.predict(prediction_input(name))
    expected = pd.read_parquet(FIXTURES / "predictions" / f"{name}.parquet")
    pd.testing.assert_frame_equal(predicted, expected, check_exact=False, rtol=1e-6, atol=1e-6)


def test_a_run_interrupted_under_0_2_0_resumes_to_the_end(tmp_path, monkeypatch, capsys):
    folder = shutil.copytree(FIXTURES / "unfinished", tmp_path / "unfinished")
    unfinished_data().to_csv(folder / "data.csv", index=False)
    before = checkpoint.read(folder / "run" / "checkpoints")
    assert before.meta["next_epoch"] == 1 and not before.meta.get("finished")
    monkeypatch.chdir(folder)
    code = main(["fit", "config.yaml", "--run-dir", "run", "--resume", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert "resuming" in capsys.readouterr().out
    model = LSTMModel.load(folder / "run")
    assert [row["epoch"] for row in model.history_["epochs"]] == [0, 1, 2]


def test_predicting_from_a_run_0_2_0_left_unfinished_says_to_resume_it(tmp_path, capsys):
    run = shutil.copytree(FIXTURES / "unfinished" / "run", tmp_path / "run")
    data = tmp_path / "data.csv"
    unfinished_data().to_csv(data, index=False)
    assert main(["predict", str(run), str(data), "-o", str(tmp_path / "out.csv")]) == 4
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "holds the checkpoint of an unfinished run" in lines[0], lines
    assert "--resume" in lines[0] and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name", ["sequence_classification", "seq2seq_aligned"])
def test_intervals_asked_of_a_0_2_0_model_that_cannot_have_them_say_to_drop_the_ask(name,
                                                                                   tmp_path):
    """Every target categorical, or no forecast windows: calibrating would not help."""
    model = LSTMModel.load(shutil.copytree(FIXTURES / "models" / name, tmp_path / name))
    for asked, fragment in (({"coverage": 0.8}, "are all categorical"),
                            ({"adapt": True}, "each sequence is a sample of its own")):
        with pytest.raises(ConfigError) as refused:
            model.predict(prediction_input(name), **asked)
        message = str(refused.value)
        assert fragment in message and f"drop {next(iter(asked))}" in message, message
        assert "calibrate it first" not in message and "calibrate them first" not in message


def test_the_cli_says_a_0_2_0_model_of_labels_has_no_intervals_to_write(tmp_path, capsys):
    model = shutil.copytree(FIXTURES / "models" / "seq2seq_aligned", tmp_path / "model")
    data = tmp_path / "steps.csv"
    prediction_input("seq2seq_aligned").to_csv(data, index=False)
    out = tmp_path / "predicted.csv"
    code = main(["predict", str(model), str(data), "-o", str(out), "--coverage", "0.8"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "['up'] are all categorical" in lines[0], lines
    assert lines[0].endswith("; drop coverage") and not out.exists()


@pytest.mark.parametrize("name", MODELS)
def test_a_0_2_0_model_exported_to_onnx_predicts_what_0_2_0_predicted(name, tmp_path):
    from lstmkit.deploy.onnx_model import OnnxModel

    model = LSTMModel.load(shutil.copytree(FIXTURES / "models" / name, tmp_path / name))
    exported = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    expected = pd.read_parquet(FIXTURES / "predictions" / f"{name}.parquet")
    pd.testing.assert_frame_equal(exported.predict(prediction_input(name)), expected,
                                  check_exact=False, rtol=1e-4, atol=1e-4)


def test_the_cli_predicts_evaluates_and_calibrates_a_0_2_0_model(tmp_path, capsys):
    model = shutil.copytree(FIXTURES / "models" / "forecast_panel", tmp_path / "model")
    table, recent = tmp_path / "panel.csv", tmp_path / "recent.csv"
    panel().to_csv(table, index=False)
    prediction_input("forecast_panel").to_csv(recent, index=False)
    out = tmp_path / "predicted.parquet"
    assert main(["predict", str(model), str(recent), "-o", str(out), "--no-progress"]) == 0
    expected = pd.read_parquet(FIXTURES / "predictions" / "forecast_panel.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=False,
                                  rtol=1e-6, atol=1e-6)
    assert main(["evaluate", str(model), str(table), "--json", str(tmp_path / "m.json")]) == 0
    calibrated = tmp_path / "calibrated"
    assert main(["calibrate", str(model), str(table), "--coverage", "0.8", "--out",
                 str(calibrated)]) == 0
    adapted = tmp_path / "adapted.csv"
    assert main(["predict", str(calibrated), str(table), "-o", str(adapted), "--adapt",
                 "--no-progress"]) == 0
    assert {"OT_lo_80", "OT_hi_80"} <= set(pd.read_csv(adapted).columns)
    assert capsys.readouterr().err == ""
