"""The command line end to end, in a temporary directory, as a user runs it."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lstmkit import __version__
from lstmkit.cli.command import main
from tests.conftest import ETTH1

REPO = Path(__file__).resolve().parents[1]


def lstmkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def _etth1_config(tmp_path: Path, **changes) -> Path:
    config = {
        "data": {"path": str(ETTH1)},
        "spec": {"time": "date", "inputs": ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
                 "targets": ["OT", {"name": "HUFL", "scaler": "minmax"}],
                 "lookback": 48, "horizon": 12},
        "model": {"hidden": 16},
        "training": {"max_epochs": 1, "batch_size": 256},
        "split": {"val_start": 8640, "test_start": 11520, "end": 14400},
    }
    for section, value in changes.items():
        config[section] = value if not isinstance(value, dict) else {**config.get(section, {}),
                                                                      **value}
    path = tmp_path / "etth1.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_quickstart_config_trains_reports_and_saves(tmp_path):
    result = lstmkit("fit", REPO / "examples" / "seattle_weather.yaml", "--run-dir",
                     tmp_path / "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Epoch" in result.stdout                                  # the progress bar
    assert "temp_max" in result.stdout and "naive" in result.stdout   # the metrics table
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} == {"config.json", "weights.safetensors",
                                               "metrics.json", "config.yaml",
                                               "metrics.csv", "environment.json", "README.md",
                                               "learning_curves.png", "forecasts.png",
                                               "confusion.png", "reliability.png"}
    assert "| temp_max | RMSE |" in (run / "README.md").read_text()   # the card has metrics
    metrics = json.loads((run / "metrics.json").read_text())
    temp = metrics["targets"]["temp_max"]["RMSE"]
    assert temp["model"] < temp["naive"]
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["training"]["lr"] == 0.003 and resolved["model"]["hidden"] == 64


def test_fit_predict_evaluate_round_trip(tmp_path):
    config = _etth1_config(tmp_path)
    fit = lstmkit("fit", config, "--run-dir", "runs/etth1", "--no-progress", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    data = tmp_path / "recent.csv"
    pd.read_csv(ETTH1).iloc[:3000].to_csv(data, index=False)
    for output in ("forecast.csv", "forecast.parquet"):
        done = lstmkit("predict", "runs/etth1", data, "-o", output, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        table = (pd.read_parquet if output.endswith("parquet") else pd.read_csv)(tmp_path / output)
        assert list(table.columns) == ["origin", "step", "time", "OT", "HUFL"]
        assert len(table) == 12
    scored = lstmkit("evaluate", "runs/etth1", ETTH1, "--part", "test", "--json", "m.json",
                     cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "OT" in scored.stdout and "RMSE" in scored.stdout
    assert json.loads((tmp_path / "m.json").read_text())["targets"]["HUFL"]["MAE"]["model"] > 0


def test_classification_run_from_a_named_uea_set(tmp_path, shared_data):
    config = {
        "data": {"dataset": "BasicMotions", "part": "train", "data_dir": str(shared_data)},
        "test": {"dataset": "BasicMotions", "part": "test", "data_dir": str(shared_data)},
        "spec": {"task": "sequence", "inputs": [f"c{i}" for i in range(6)],
                 "targets": [{"name": "activity", "kind": "classification"}]},
        "training": {"max_epochs": 2},
        "split": {"val_start": 0.8, "test_start": None},
    }
    path = tmp_path / "bm.yaml"
    path.write_text(yaml.safe_dump(config))
    result = lstmkit("fit", path, "--run-dir", "bm", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "bm" / "metrics.json").read_text())
    assert metrics["scored_on"] == "dataset BasicMotions (test)"
    assert sum(map(sum, metrics["confusion"]["activity"]["counts"])) == 40


@pytest.mark.parametrize(("setup", "args", "code", "fragment"), [
    (None, ["fit", "missing.yaml"], 2, "config file 'missing.yaml' does not exist"),
    ("model: [1, 2", ["fit", "bad.yaml"], 2, "is not valid YAML"),
    ({"model": {"hiden": 8}}, ["fit", "etth1.yaml"], 2, "did you mean 'hidden'"),
    ({"training": {"max_epochs": "ten"}}, ["fit", "etth1.yaml"], 2,
     "max_epochs must be a positive"),
    ({"data": {"path": "nowhere.csv"}}, ["fit", "etth1.yaml"], 3, "does not exist"),
    ({"spec": {"inputs": ["HUFL", "nope"]}}, ["fit", "etth1.yaml"], 3, "'nope' is missing"),
    (None, ["predict", "no_model", "x.csv", "-o", "o.csv"], 4, "no model directory"),
])
def test_errors_are_one_line_with_an_exit_code(tmp_path, monkeypatch, capsys, setup, args,
                                              code, fragment):
    if isinstance(setup, str):
        (tmp_path / "bad.yaml").write_text(setup)
    elif isinstance(setup, dict):
        _etth1_config(tmp_path, **setup)
    monkeypatch.chdir(tmp_path)
    assert main(args) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_a_failing_process_prints_no_traceback(tmp_path):
    _etth1_config(tmp_path, spec={"lookback": 0})
    result = lstmkit("fit", "etth1.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == ("error: lookback (forecast) must be a positive integer, "
                                     "got 0")


def test_the_version_has_one_source(tmp_path):
    # pyproject reads it from lstmkit.__version__, which saved models record.
    result = lstmkit("--version", cwd=tmp_path)
    assert result.stdout.strip() == f"lstmkit {__version__}"
    assert importlib.metadata.version("lstmkit") == __version__


def test_an_existing_run_is_never_overwritten_by_accident(tmp_path):
    config = _etth1_config(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    result = lstmkit("fit", config, "--run-dir", run, cwd=tmp_path)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (run / "precious.txt").read_text() == "keep me"


def test_overwrite_and_resume_together_are_a_usage_error(tmp_path, capsys):
    config = _etth1_config(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["fit", str(config), "--overwrite", "--resume"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "fragment"), [
    (["predict", "m", "d.csv", "-o", "o.csv", "--adapt", "abc"],
     "argument --adapt: invalid float value: 'abc'"),
    (["predict", "m", "d.csv", "-o", "o.csv", "--origins", "first"],
     "argument --origins: invalid choice: 'first'"),
    (["serve", "m", "--port", "abc"], "argument --port: invalid int value: 'abc'"),
    (["predict", "m"], "the following arguments are required: data, -o/--output"),
    (["nosuchcommand"], "argument command: invalid choice: 'nosuchcommand'"),
])
def test_a_usage_error_is_one_line_too(capsys, args, fragment):
    """argparse's usage block would bury the line that says what is wrong."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert "--help" in lines[0]


def test_a_folder_or_a_table_where_a_file_or_config_belongs_is_one_clear_line(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    (tmp_path / "folder.csv").mkdir()
    pd.read_csv(ETTH1, nrows=400).to_csv(tmp_path / "table.csv", index=False)
    _etth1_config(tmp_path, data={"path": "folder.csv"})
    for args, code, fragment in (
            (["fit", "folder.yaml"], 2, "config file 'folder.yaml' is a directory, not a file"),
            (["fit", "etth1.yaml"], 3, "folder.csv' is a directory, not a file"),
            (["fit", "table.csv"], 2, "names it, data: {path: table.csv}"),
            (["fit", "empty.yaml"], 2, "config file 'empty.yaml' holds no settings")):
        assert main(args) == code
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0] and len(lines[0]) < 400, lines
