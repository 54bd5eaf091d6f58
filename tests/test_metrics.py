"""Metric functions agree with scikit-learn's reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from lstmkit.metrics import classification_metrics, confusion_matrix, regression_metrics


def test_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.normal(5, 2, 500), rng.normal(5, 2, 500)
    ours = regression_metrics(y, p)
    assert ours["MAE"] == pytest.approx(sk.mean_absolute_error(y, p))
    assert ours["RMSE"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, p)))
    assert ours["R2"] == pytest.approx(sk.r2_score(y, p))
    smape = 100 * np.mean(2 * np.abs(p - y) / (np.abs(y) + np.abs(p)))
    assert ours["sMAPE"] == pytest.approx(smape)


def test_missing_truth_is_left_out():
    y = np.array([1.0, np.nan, 3.0])
    p = np.array([2.0, 100.0, 3.0])
    assert regression_metrics(y, p)["MAE"] == pytest.approx(0.5)
    assert regression_metrics(np.array([0.0]), np.array([0.0]))["sMAPE"] == 0.0


def test_classification_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 4, 300), rng.integers(0, 3, 300)   # class 3 is never predicted
    confusion = confusion_matrix(y.astype(float), p.astype(float), 4)
    assert np.array_equal(confusion, sk.confusion_matrix(y, p, labels=range(4)))
    ours = classification_metrics(confusion)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y, p))
    assert ours["macro_F1"] == pytest.approx(sk.f1_score(y, p, average="macro"))
