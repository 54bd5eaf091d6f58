"""The label a classification or binary target predicts, chosen on validation for macro-F1.

By default a target's label is its most probable one. ``Target(decision="macro_F1")``
instead adds one offset per label to the log of its (calibrated) probabilities and takes
the largest sum: logit adjustment (Menon et al., "Long-tail learning via logit
adjustment", ICLR 2021), with its strength ``tau`` chosen after fitting, on the validation
part, to maximise that part's macro-F1:

    offset_k = -log(w_k) - tau * log(prior_k)

``prior_k`` is label k's share of the training windows' known labels and ``w_k`` its class
weight (``Target.class_weight``; 1 without). The ``-log(w_k)`` undoes what the weights did
to the network's probabilities (a weighted loss is fitted by p(k | x) * w_k, up to a
constant), so ``tau`` means the same with or without weights: 0 picks the most probable
label under the training shares, 1 picks as if every label were equally common (what
``class_weight="balanced"`` aims at), and values between trade the two. ``tau`` runs over
``TAUS``; the plain argmax is the first candidate, so that the search keeps it unless some
``tau`` does better on validation (ties go to the earlier candidate).

Only the label changes: the probabilities (``<target>_proba_<label>``, ``predict_proba``,
the ONNX graph's outputs, Brier and ECE) stay those of the network and temperature. The
labels change wherever they are read: ``predict``, ``evaluate`` (accuracy, macro-F1, the
confusion matrix), the ONNX model and the server. ``fit`` records the choice as
``FittedPipeline.decisions``:

    {target: {"part": "validation", "tau": 0.45, "offsets": [one per label],
              "macro_F1_before": ..., "macro_F1_after": ..., "windows": ...}}

with ``tau`` None where the plain argmax was kept (offsets all 0). A model saved without it
(or fitted without a validation part) picks the most probable label.

Example:
    >>> spec = Spec(..., targets=[Target("weather", kind="classification",
    ...                                  class_weight="balanced", decision="macro_F1")])
    >>> LSTMModel(spec).fit(df).pipeline_.decisions["weather"]["tau"]
    0.6
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import quote
from .metrics import classification_metrics, confusion_matrix

if TYPE_CHECKING:
    from .data.windows import Windows
    from .pipeline import FittedPipeline

DECISIONS = ("macro_F1",)                      # what Target(decision=...) may maximise
TAUS = tuple(round(0.05 * i, 2) for i in range(21))   # the strengths tried: 0, 0.05, ..., 1


def fit_decisions(pipeline: FittedPipeline, windows: Windows | None, training: Windows,
                  device: Any = None) -> dict[str, dict[str, Any]]:
    """Each ``decision`` target's offsets, chosen on ``windows`` (the validation part; None:
    none, so every target keeps the argmax) from the label shares of ``training``."""
    targets = [(j, t) for j, t in enumerate(pipeline.spec.targets) if t.decision]
    if not targets or windows is None:
        return {}
    outputs, truth = pipeline.outputs(windows, with_targets=True, device=device)
    outputs = pipeline.answered(pipeline.tempered(outputs), windows)
    shares = pipeline.truth(training)
    edges = np.cumsum([0] + [pipeline.encoding.n_classes(t) for t in pipeline.spec.targets])
    fitted = {}
    for j, t in targets:
        known = np.isfinite(truth[..., j])
        if not known.any():
            continue
        k = len(pipeline.encoding.target_labels[t.name])
        proba = t.target_kind.probabilities(outputs[..., edges[j] : edges[j + 1]][known])
        seen = shares[..., j][np.isfinite(shares[..., j])].astype(np.int64)
        prior = np.maximum(np.bincount(seen, minlength=k), 1) / max(len(seen), 1)
        weights = np.asarray(pipeline.class_weights.get(t.name, [1.0] * k), np.float64)
        fitted[t.name] = choose(proba, truth[..., j][known].astype(np.int64), prior, weights)
    return fitted


def choose(proba: np.ndarray, codes: np.ndarray, prior: np.ndarray, weights: np.ndarray
           ) -> dict[str, Any]:
    """The offsets (of ``TAUS`` or none) whose labels give probabilities ``proba`` (N, K)
    the highest macro-F1 against class ``codes`` (N,): a target's entry of the record.

    Example:
        >>> choose(np.array([[0.7, 0.3], [0.6, 0.4]]), np.array([0, 1]),
        ...        np.array([0.8, 0.2]), np.ones(2))["tau"]
        0.3
    """
    k = proba.shape[-1]
    base = -np.log(np.where(weights > 0, weights, 1.0))        # a weight of 0: left alone

    def macro_f1(offsets: np.ndarray) -> float:
        predicted = labels(proba, offsets)
        return classification_metrics(confusion_matrix(codes, predicted, k))["macro_F1"]
    best_tau, best_offsets, best = None, np.zeros(k), macro_f1(np.zeros(k))
    before = best
    for tau in TAUS:
        offsets = base - tau * np.log(prior)
        score = macro_f1(offsets)
        if score > best + 1e-12:
            best_tau, best_offsets, best = tau, offsets, score
    return {"part": "validation", "tau": best_tau,
            "offsets": [round(float(b), 8) for b in best_offsets - best_offsets.max()],
            "macro_F1_before": before, "macro_F1_after": best, "windows": len(codes)}


def labels(proba: np.ndarray, offsets: np.ndarray | list[float] | None) -> np.ndarray:
    """Class codes (...) of probabilities (..., K): the largest ``log p + offset`` (None:
    the most probable class). A probability of 0 is never chosen over a positive one."""
    if offsets is None:
        return np.asarray(proba).argmax(-1)
    with np.errstate(divide="ignore"):
        return (np.log(np.asarray(proba, np.float64)) + np.asarray(offsets)).argmax(-1)


def offsets_of(decisions: dict[str, dict[str, Any]] | None, name: str) -> list[float] | None:
    """Target ``name``'s offsets in a ``decisions`` record, or None (its argmax)."""
    entry = (decisions or {}).get(name)
    return None if entry is None or entry["tau"] is None else entry["offsets"]


def check_decisions(data: Any, classes: dict[str, int]) -> dict[str, dict[str, Any]]:
    """``data`` if shaped like ``fit_decisions``' record for the categorical targets
    ``classes`` (name -> number of labels), as read back from a file, else ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"decisions must be a mapping of targets to entries, got {quote(data)}")
    for name, entry in data.items():
        if name not in classes:
            raise ValueError(f"decisions names target {quote(name)}, which is not a "
                             f"categorical target of the spec ({quote(list(classes))})")
        entry = entry if isinstance(entry, dict) else {}
        check_offsets(name, entry.get("offsets"), classes[name])
        tau = entry.get("tau")
        scores = [entry.get(key) for key in ("macro_F1_before", "macro_F1_after")]
        if not (tau is None or (_number(tau) and 0 <= tau <= 1)) or \
                not all(_number(v) for v in scores):
            raise ValueError(f"decisions of target {quote(name)} must hold 'tau' (null or a "
                             "number in [0, 1]) and the numbers 'macro_F1_before' and "
                             "'macro_F1_after'")
    return data


def check_offsets(name: str, offsets: Any, labels: int) -> list[float]:
    """``offsets`` if they are ``labels`` finite numbers (target ``name``'s), else
    ValueError."""
    if not isinstance(offsets, list) or len(offsets) != labels or \
            not all(_number(b) for b in offsets):
        raise ValueError(f"decisions of target {quote(name)} must hold 'offsets', one finite "
                         f"number per label ({labels}), got {quote(offsets)}")
    return offsets


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)
