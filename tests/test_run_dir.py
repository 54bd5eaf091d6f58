"""A run directory written from Python (lstmkit.write_run) is the one `lstmkit fit` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import lstmkit
from lstmkit.cli.command import main
from lstmkit.cli.config import RunConfig, fit_arguments
from lstmkit.errors import ConfigError
from tests.conftest import ETTH1

JSON_FILES = ("config.json", "metrics.json", "environment.json")


def _config(folder: Path) -> Path:
    """A tiny forecast run on the first 500 rows of ETTh1, with a test part."""
    config = {
        "data": {"path": str(ETTH1)},
        "spec": {"time": "date", "inputs": ["HUFL", "OT"], "targets": ["OT"],
                 "lookback": 24, "horizon": 4},
        "model": {"hidden": 4},
        "training": {"max_epochs": 1, "batch_size": 64},
        "split": {"val_start": 300, "test_start": 400, "end": 500},
    }
    path = folder / "etth1.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _fitted(config_file: Path) -> tuple[RunConfig, lstmkit.LSTMModel, pd.DataFrame]:
    """What a Python user does: the config's model, fitted on the config's data."""
    config = RunConfig.read(config_file)
    model = config.build_model()
    model.progress = False
    data, _ = fit_arguments(config.data.load())
    return config, model.fit(data), data


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[RunConfig, lstmkit.LSTMModel, pd.DataFrame]:
    return _fitted(_config(tmp_path_factory.mktemp("config")))


def _contents(run: Path) -> dict[str, object]:
    """Every file of a run directory: JSON and YAML parsed (config.yaml without its own
    path), the rest as bytes."""
    contents: dict[str, object] = {}
    for path in sorted(run.iterdir()):
        if path.name in JSON_FILES:
            contents[path.name] = json.loads(path.read_text())
        elif path.name == "config.yaml":
            resolved = yaml.safe_load(path.read_text())
            assert resolved.pop("run_dir") == str(run.resolve())
            contents[path.name] = resolved
        else:
            contents[path.name] = path.read_bytes()
    return contents


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_python_writes_the_run_directory_lstmkit_fit_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config_file = _config(tmp_path)
    assert main(["fit", str(config_file), "--run-dir", "by_cli", "--no-progress"]) == 0, \
        capsys.readouterr().err
    config, model, data = _fitted(config_file)
    run = lstmkit.write_run(model, "by_python", data, config=config)
    assert run.scored_on == "the test part" and run.path == Path("by_python")
    by_cli, by_python = _contents(tmp_path / "by_cli"), _contents(tmp_path / "by_python")
    assert set(by_python) == set(by_cli) == {
        "config.json", "weights.safetensors", "README.md", "metrics.json", "config.yaml",
        "metrics.csv", "environment.json", "learning_curves.png", "forecasts.png",
        "horizon_errors.png"}
    for name in by_cli:
        assert by_python[name] == by_cli[name], f"{name} differs"
    assert by_python["metrics.json"]["scored_on"] == "the test part"


def test_a_run_written_from_python_loads_and_is_listed_by_lstmkit_runs(fitted, tmp_path,
                                                                       capsys):
    _, model, data = fitted
    lstmkit.write_run(model, tmp_path / "runs" / "from_python", data)
    reloaded = lstmkit.LSTMModel.load(tmp_path / "runs" / "from_python")
    pd.testing.assert_frame_equal(reloaded.predict(data), model.predict(data))
    capsys.readouterr()
    assert main(["runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "from_python" in out and "OT MAE" in out and "the test part" in out


def test_without_a_config_the_run_records_a_config_that_rebuilds_the_model(fitted, tmp_path):
    config, model, data = fitted
    test = data.iloc[350:500]
    run = lstmkit.write_run(model, tmp_path / "run", data, test=test)
    assert run.scored_on == "the given test data"
    assert run.evaluation.to_dict() == model.evaluate(test).to_dict()
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert set(recorded) == {"spec", "model", "training", "split", "run_dir"}
    rebuilt = RunConfig.from_dict({**recorded, "data": {"path": str(ETTH1)}})
    assert rebuilt.spec == config.spec
    assert rebuilt.build_model().get_params() == model.get_params()


def test_a_folder_lstmkit_did_not_write_is_refused_even_with_overwrite(fitted, tmp_path):
    _, model, data = fitted
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.md").write_text("my notes")
    before = _snapshot(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"lstmkit did not write it \(it holds .notes.md.\)"):
            lstmkit.write_run(model, folder, data, overwrite=overwrite)
    assert _snapshot(tmp_path) == before


def test_an_existing_run_is_replaced_with_overwrite_only(fitted, tmp_path):
    _, model, data = fitted
    lstmkit.write_run(model, tmp_path / "run", data)
    first = _snapshot(tmp_path)
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        lstmkit.write_run(model, tmp_path / "run", data)
    assert _snapshot(tmp_path) == first
    lstmkit.write_run(model, tmp_path / "run", data, overwrite=True)
    assert set(_snapshot(tmp_path)) == set(first)      # replaced: no file more or less
    (tmp_path / "run" / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match=r"holds 'notes\.md', which lstmkit did not write"):
        lstmkit.write_run(model, tmp_path / "run", data, overwrite=True)
    assert (tmp_path / "run" / "notes.md").read_text() == "mine"


def test_the_data_being_read_is_never_inside_the_run(fitted, tmp_path):
    _, model, data = fitted
    table = tmp_path / "data" / "table.csv"
    table.parent.mkdir()
    data.to_csv(table, index=False)
    with pytest.raises(ConfigError, match="holds the input"):
        lstmkit.write_run(model, tmp_path / "data", data, reading=[table], overwrite=True)
    assert [p.name for p in table.parent.iterdir()] == ["table.csv"]
