"""A run killed with SIGKILL mid-epoch resumes to the very weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from lstmkit import ArtifactError, ConfigError, LSTMModel, Spec
from lstmkit.training import checkpoint

LOADS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]


def _config(tmp_path: Path, shared_data: Path) -> Path:
    config = {
        "data": {"dataset": "etth1", "data_dir": str(shared_data)},
        "spec": {"time": "date", "inputs": LOADS, "targets": ["OT"], "lookback": 48,
                 "horizon": 12},
        "model": {"hidden": 32, "dropout": 0.2},
        "training": {"batch_size": 32, "max_epochs": 4, "seed": 5},
    }
    path = tmp_path / "etth1.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _lstmkit(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lstmkit", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _next_epoch(run_dir: Path) -> int:
    try:
        state = checkpoint.read(run_dir / "checkpoints")
    except Exception:   # the file may be mid-replace; look again
        return 0
    return 0 if state is None else state.meta.get("next_epoch", 0)


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, shared_data):
    config = _config(tmp_path, shared_data)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    uninterrupted = _lstmkit("fit", str(config), "--run-dir", str(whole), "--no-progress")
    victim = _lstmkit("fit", str(config), "--run-dir", str(killed), "--no-progress")
    deadline = time.monotonic() + 300
    while _next_epoch(killed) < 2 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)                 # epoch 2 has just begun
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (killed / "weights.safetensors").exists()

    again = _lstmkit("fit", str(config), "--run-dir", str(killed), "--no-progress")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 2 and "holds an unfinished run; pass --resume" in err

    resumed = _lstmkit("fit", str(config), "--run-dir", str(killed), "--no-progress", "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resuming" in out
    assert uninterrupted.wait(timeout=300) == 0

    a, b = (load_file(str(d / "weights.safetensors")) for d in (whole, killed))
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    history = [json.loads((d / "config.json").read_text())["history"] for d in (whole, killed)]
    assert history[0] == history[1] and len(history[0]["epochs"]) == 4
    assert not (killed / "checkpoints").exists()       # the finished run replaced them


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(time="date", inputs=LOADS, targets=["OT"], lookback=24, horizon=6)


def test_python_resume_rules(tmp_path, etth1, spec):
    data = etth1.iloc[:2000]
    params = {"hidden": 8, "max_epochs": 2, "progress": False}
    directory = tmp_path / "ckpt"
    first = LSTMModel(spec, **params).fit(data, checkpoint_dir=directory)
    assert checkpoint.read(directory).meta["finished"]
    with pytest.raises(ConfigError, match="already holds a training checkpoint; pass resume=True"):
        LSTMModel(spec, **params).fit(data, checkpoint_dir=directory)
    again = LSTMModel(spec, **params).fit(data, checkpoint_dir=directory, resume=True)
    sa, sb = first.network_.state_dict(), again.network_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert again.history_ == first.history_
    with pytest.raises(ConfigError, match="other data or parameters"):
        LSTMModel(spec, **{**params, "hidden": 9}).fit(data, checkpoint_dir=directory,
                                                       resume=True)
    with pytest.raises(ConfigError, match="other data or parameters"):
        LSTMModel(spec, **params).fit(data.iloc[:1900], checkpoint_dir=directory, resume=True)
    with pytest.raises(ConfigError, match="resume=True needs checkpoint_dir"):
        LSTMModel(spec, **params).fit(data, resume=True)
    fresh = LSTMModel(spec, **params).fit(data, checkpoint_dir=tmp_path / "new", resume=True)
    assert fresh.history_ == first.history_            # nothing to resume: a normal run


def test_a_damaged_checkpoint_is_refused_not_unpickled(tmp_path, etth1, spec):
    directory = tmp_path / "ckpt"
    directory.mkdir()
    torch.save({"weights": torch.zeros(3)}, directory / checkpoint.FILE)
    with pytest.raises(ArtifactError, match=r"is unreadable.*delete it"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(
            etth1.iloc[:500], checkpoint_dir=directory, resume=True)
