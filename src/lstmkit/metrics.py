"""Metrics per target in original units, each beside a naive baseline.

Regression: MAE, RMSE, sMAPE (%) and R2. Classification and binary: accuracy,
macro-F1 and the confusion matrix. Missing true values (NaN) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

REGRESSION_METRICS = ("MAE", "RMSE", "sMAPE", "R2")
CLASSIFICATION_METRICS = ("accuracy", "macro_F1")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, sMAPE (in %, 0/0 counted as 0) and R2 over the known values."""
    y_true, y_pred = np.ravel(y_true).astype(np.float64), np.ravel(y_pred).astype(np.float64)
    known = np.isfinite(y_true) & np.isfinite(y_pred)
    y_true, y_pred = y_true[known], y_pred[known]
    if y_true.size == 0:
        return dict.fromkeys(REGRESSION_METRICS, float("nan"))
    error = y_pred - y_true
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(2 * np.abs(error), denominator, out=np.zeros_like(error),
                      where=denominator > 0)
    total = np.sum((y_true - y_true.mean()) ** 2)
    r2 = 1 - np.sum(error**2) / total if total > 0 else float("nan")
    return {"MAE": float(np.mean(np.abs(error))), "RMSE": float(np.sqrt(np.mean(error**2))),
            "sMAPE": float(100 * ratio.mean()), "R2": float(r2)}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): rows are true classes, columns predicted; NaN left out."""
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    known = np.isfinite(y_true) & np.isfinite(y_pred)
    t, p = y_true[known].astype(np.int64), y_pred[known].astype(np.int64)
    return np.bincount(t * n_classes + p, minlength=n_classes**2).reshape(n_classes, n_classes)


def classification_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 (over the classes that occur as truth or prediction)."""
    total = confusion.sum()
    if total == 0:
        return dict.fromkeys(CLASSIFICATION_METRICS, float("nan"))
    tp = np.diag(confusion).astype(np.float64)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    occurs = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=occurs)
    return {"accuracy": float(tp.sum() / total), "macro_F1": float(f1[occurs].mean())}


@dataclass
class Evaluation:
    """Metrics of a model beside a naive baseline, per target (and per output step).

    Attributes:
        table: one row per (target, metric) with columns ``model`` and ``naive``.
        per_step: the same per output step (forecast and seq2seq), with a ``step`` column.
        confusion: per categorical target, the confusion matrix as a labelled DataFrame.
        baseline: what the naive baseline is (e.g. "last value").
    """

    table: pd.DataFrame
    per_step: pd.DataFrame
    confusion: dict[str, pd.DataFrame] = field(default_factory=dict)
    baseline: str = ""

    def metric(self, target: str, name: str, of: str = "model") -> float:
        """One number: ``of`` is ``model`` or ``naive``."""
        rows = self.table[(self.table.target == target) & (self.table.metric == name)]
        if rows.empty:
            raise KeyError(f"no metric {name!r} for target {target!r}")
        return float(rows[of].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe numbers: {target: {metric: {model, naive}}, ...}."""
        out: dict[str, Any] = {"baseline": self.baseline, "targets": {}}
        for row in self.table.itertuples():
            out["targets"].setdefault(row.target, {})[row.metric] = {
                "model": _json(row.model), "naive": _json(row.naive)}
        out["confusion"] = {k: {"labels": [str(c) for c in v.columns],
                                "counts": v.to_numpy().tolist()}
                            for k, v in self.confusion.items()}
        return out

    def __str__(self) -> str:
        table = self.table.copy()
        better = np.where(table.metric.isin(["MAE", "RMSE", "sMAPE"]),
                          table.model < table.naive, table.model > table.naive)
        table["better"] = np.where(table.naive.isna(), "", np.where(better, "yes", "no"))
        return (f"metrics in original units; naive baseline: {self.baseline}\n"
                + table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _json(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)
