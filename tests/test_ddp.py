"""Data-parallel training (DDP, 2 CPU processes, gloo) matches one process on real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from lstmkit.data.windows import Batches, ForecastWindows

TRAINING = {"batch_size": 64, "max_epochs": 2, "seed": 1, "accelerator": "cpu"}


@pytest.mark.parametrize(("n", "batch", "world"), [(1000, 64, 2), (1001, 64, 2), (129, 64, 3),
                                                   (130, 64, 2), (7, 4, 2)])
def test_every_window_once_per_epoch_and_equal_steps(n, batch, world):
    windows = ForecastWindows(torch.arange(n + 3.0)[:, None], None, torch.arange(n), 3, 1)
    shards = [Batches(windows, batch, shuffle=True, seed=4, rank=r, world=world)
              for r in range(world)]
    seen = [int(v) for shard in shards for b in shard for v in b["x"][:, 0, 0]]
    assert sorted(seen) == list(range(n))                            # all, and none twice
    assert len({len(list(shard)) for shard in shards}) == 1          # same number of steps
    assert all(len(b["x"]) > 0 for shard in shards for b in shard)   # nobody idles
    order = shards[0].sampler.indices()
    bounds = shards[0].bounds
    for i, parts in enumerate(zip(*shards, strict=True)):          # one global batch each step
        together = torch.cat([p["x"] for p in parts])[:, 0, 0]
        assert sorted(together.tolist()) == sorted(order[bounds[i] : bounds[i + 1]].tolist())
    assert max(np.diff(bounds)) < batch + world                       # at most a tail merged in


def _run(tmp_path: Path, shared_data: Path, name: str, **training) -> Path:
    config = {
        "data": {"dataset": "etth1", "data_dir": str(shared_data)},
        "spec": {"time": "date", "inputs": ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"],
                 "targets": ["OT"], "lookback": 24, "horizon": 4},
        "model": {"hidden": 16, "dropout": 0.0},
        "training": {**TRAINING, **training},
        "split": {"val_start": 2400, "test_start": 3200, "end": 4000},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "lstmkit", "fit", str(path), "--run-dir",
                             str(tmp_path / name), "--no-progress"], cwd=tmp_path,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("saved the model") == 1                   # only process 0 saves
    return tmp_path / name


def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path, shared_data):
    ddp = _run(tmp_path, shared_data, "ddp", devices=2, strategy="ddp")
    one = _run(tmp_path, shared_data, "one")
    histories = [json.loads((d / "config.json").read_text())["history"]["epochs"]
                 for d in (ddp, one)]
    for a, b in zip(*histories, strict=True):
        # Same global batches: the losses agree to float rounding of the gradient average...
        assert np.isclose(a["train_loss"], b["train_loss"], rtol=1e-4)
        assert np.isclose(a["val_loss"], b["val_loss"], rtol=1e-2)
    # ...which Adam's normalised steps amplify a little in the weights.
    wa, wb = (load_file(str(d / "weights.safetensors")) for d in (ddp, one))
    assert all(torch.allclose(wa[k], wb[k], atol=2e-2) for k in wa)
    resolved = yaml.safe_load((ddp / "config.yaml").read_text())
    assert resolved["training"]["devices"] == 2 and resolved["training"]["strategy"] == "ddp"
