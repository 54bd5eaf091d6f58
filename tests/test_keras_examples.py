"""The three classic Keras snippets, ported in examples/keras_*.py, run and learn something.

Each script runs in a subprocess with fewer epochs (or samples) than its defaults; it
must print arrays of the snippet's shapes and beat the trivial baseline on held-out
samples (the training mean, or the majority class).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def scores(out: str, metric: str) -> tuple[float, float]:
    found = re.search(rf"test {metric}: model ([\d.]+), [a-z ]+ ([\d.]+)", out)
    assert found, out
    return float(found[1]), float(found[2])


def test_the_regression_snippet_predicts_two_outputs_better_than_the_mean():
    out = run("keras_regression.py", "--data-dir", str(SHARED_DATA), "--epochs", "8",
              "--samples", "1200")
    assert "X (720, 30, 3) y (720, 2) -> predict (240, 2)" in out
    model, mean = scores(out, "RMSE")
    assert model < 0.7 * mean


def test_the_classifier_snippet_reads_one_hot_labels_and_beats_the_majority_class():
    out = run("keras_classifier.py", "--data-dir", str(SHARED_DATA), "--epochs", "15")
    assert "Target(name='y', kind='classification'" in out
    assert "X (1800, 20, 5) y (1800, 3) -> predict_proba (600, 3), predict (600,)" in out
    model, majority = scores(out, "accuracy")
    assert model > majority


def test_the_seq2seq_snippet_continues_300_sensors_for_12_steps():
    out = run("keras_seq2seq.py", "--samples", "1000", "--epochs", "8", "--hidden", "64")
    assert "X (600, 10, 300) y (600, 12, 300) -> predict (200, 12, 300)" in out
    model, mean = scores(out, "RMSE")
    assert model < 0.95 * mean
