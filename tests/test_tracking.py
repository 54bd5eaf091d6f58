"""Run directories record everything; TensorBoard and MLflow (file store) log for real."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from lstmkit.cli.command import main
from lstmkit.cli.runs import list_runs
from lstmkit.cli.tracking import Tracking
from lstmkit.errors import ConfigError
from tests.conftest import ETTH1


def _config(tmp_path, name: str, hidden: int, **extra) -> str:
    config = {
        "data": {"path": str(ETTH1)},
        "spec": {"time": "date", "inputs": ["HUFL", "MUFL", "OT"], "targets": ["OT"],
                 "lookback": 24, "horizon": 2},
        "model": {"hidden": hidden},
        "training": {"max_epochs": 2, "batch_size": 128},
        "split": {"val_start": 1400, "test_start": 1700, "end": 2000},
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_a_run_records_config_epochs_metrics_environment_and_loggers(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.chdir(tmp_path)
    tracked = _config(tmp_path, "tracked", 8, tracking={"tensorboard": True, "mlflow": True})
    assert main(["fit", tracked, "--run-dir", "runs/a", "--no-progress"]) == 0
    run = tmp_path / "runs" / "a"
    epochs = pd.read_csv(run / "metrics.csv")
    assert list(epochs.epoch) == [1, 2] and {"train_loss", "val_loss", "lr"} <= set(epochs)
    environment = json.loads((run / "environment.json").read_text())
    assert environment["packages"]["torch"] and environment["cpus"] >= 1
    assert environment["python"].startswith("3.")
    assert yaml.safe_load((run / "config.yaml").read_text())["tracking"]["mlflow"] is True
    events = list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert events, "TensorBoard wrote no event file"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert len(accumulator.Scalars("val_loss")) == 2
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    found = mlflow.search_runs(experiment_names=["tracked"])
    assert len(found) == 1 and found["params.hidden"].iloc[0] == "8"
    assert found["metrics.val_loss"].iloc[0] == pytest.approx(epochs.val_loss.iloc[-1], rel=1e-5)


def test_runs_lists_and_compares_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, hidden in (("small", 4), ("wide", 12)):
        assert main(["fit", _config(tmp_path, name, hidden), "--run-dir", f"runs/{name}",
                     "--no-progress"]) == 0
    (tmp_path / "runs" / "junk").mkdir()                       # not a run: ignored
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "small" in out and "wide" in out and "OT MAE" in out and "junk" not in out
    runs = list_runs(tmp_path / "runs").set_index("run")
    metrics = json.loads((tmp_path / "runs" / "wide" / "metrics.json").read_text())
    assert runs.loc["wide", "OT MASE"] == metrics["targets"]["OT"]["MASE"]["model"]
    assert main(["runs", "nowhere"]) == 2


def test_tracking_section_is_checked():
    with pytest.raises(ConfigError, match="did you mean 'tensorboard'"):
        Tracking.from_dict({"tensorbord": True})
    with pytest.raises(ConfigError, match="tracking mlflow must be true, false or a mapping"):
        Tracking.from_dict({"mlflow": "yes"})
