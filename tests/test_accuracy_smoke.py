"""The accuracy benchmark's quick mode, run as a user would: brief training with the
default architecture on ETTh1 (H=96) and UEA BasicMotions must land far better than
the naive baselines (the published goals are for the full benchmark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy" / "run.py"


def test_quick_benchmark_beats_the_naive_baselines_by_far(tmp_path):
    results = tmp_path / "results.jsonl"
    command = [sys.executable, str(HARNESS), "--quick", "--results", str(results)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    runs = {r["name"]: r for r in map(json.loads, results.read_text().splitlines())}

    etth1 = runs["etth1"]
    assert etth1["params"]["channel_independent"] and etth1["params"]["segment"] == 24
    assert etth1["naive_mse"] > 1.2     # repeating the last value: about 1.3 in the literature
    assert etth1["mse"] < 0.55          # z-scored MSE, standard protocol (published LSTM: ~1.0)
    motions = runs["BasicMotions"]
    assert motions["params"]["conv"] and motions["params"]["bidirectional"]
    assert motions["accuracy"] >= 0.8   # four balanced classes: chance is 0.25
    assert motions["holdout_accuracy"] >= 0.8   # the early-stopped model, before the refit
    assert etth1["commit"] and etth1["commit"] == motions["commit"]   # the code that ran
    assert "| etth1 | MSE | H=96" in first.stdout and "| BasicMotions | accuracy |" in first.stdout

    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert len(results.read_text().splitlines()) == 2   # finished runs are not repeated


def test_loss_study_trains_each_loss_and_reports_validation_and_test(tmp_path):
    results = tmp_path / "loss.jsonl"
    command = [sys.executable, str(HARNESS), "--study", "loss", "--only", "etth1", "--seeds", "0",
               "--horizons", "96", "--epochs", "1", "--results", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    runs = {r["variant"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert set(runs) == {"loss=mse", "loss=mae"}
    assert runs["loss=mse"]["mse"] != runs["loss=mae"]["mse"]        # different training
    for run in runs.values():
        assert run["val_mse"] > 0 and 0 < run["mse"] < run["naive_mse"]
    assert "| etth1 | 96 | mse |" in done.stdout and "| etth1 | 96 | mae |" in done.stdout


def test_dropout_study_scores_each_uea_variant_on_validation_and_test(tmp_path):
    results = tmp_path / "dropout.jsonl"
    command = [sys.executable, str(HARNESS), "--study", "dropout", "--only", "BasicMotions",
               "--seeds", "0", "--epochs", "2", "--results", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    runs = {r["variant"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert set(runs) == {"dropout=0.0", "dropout=0.3", "dropout=0.6"}
    for variant, run in runs.items():
        assert run["params"]["dropout"] == float(variant.split("=")[1])
        assert run["val_loss"] > 0 and 0 <= run["val_accuracy"] <= 1
        assert 0 <= run["accuracy"] <= 1 and run["horizon"] is None
    assert "| BasicMotions | 0.3 |" in done.stdout and "val accuracy" in done.stdout


def test_checkpointed_run_killed_mid_training_continues_to_the_same_result(tmp_path):
    plain, resumed, states = (tmp_path / n for n in ("plain.jsonl", "resumed.jsonl", "states"))
    base = [sys.executable, str(HARNESS), "--only", "etth1", "--seeds", "0", "--horizons", "96",
            "--epochs", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}     # as the benchmark runs: bit for bit
    uninterrupted = subprocess.Popen([*base, "--results", str(plain)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    command = [*base, "--results", str(resumed), "--checkpoints", str(states)]
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    saved = states / "etth1-h96-seed0-" / "checkpoint.safetensors"
    deadline = time.monotonic() + 600
    while not saved.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    victim.kill()                                  # as a session ending: no clean shutdown
    _, err = victim.communicate(timeout=60)
    assert saved.exists(), err                     # killed after epoch 1 began, not before
    assert not resumed.exists()                    # nothing recorded for the killed run

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.stderr.read()
    [expected] = map(json.loads, plain.read_text().splitlines())
    [run] = map(json.loads, resumed.read_text().splitlines())
    assert run["processes"] == 2 and run["epochs"] == expected["epochs"] == 2
    assert run["mse"] == expected["mse"] and run["val_mse"] == expected["val_mse"]
    assert run["fit_s"] > 0 and list(states.iterdir()) == []   # recorded, then cleared
