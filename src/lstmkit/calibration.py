"""Temperature scaling of class probabilities, fitted on windows the network did not train on.

For each classification or binary target, one temperature T > 0 divides its logits before
the activation (``TargetKind.tempered``): T > 1 softens over-confident probabilities, T < 1
sharpens under-confident ones, and the labels (the argmax; binary: p > 0.5) stay the same.
T minimises the negative log-likelihood of the validation part's labels, by a
golden-section search over log T in [log 0.05, log 20] (deterministic). Where the optimum
lies at the lower edge, the validation labels do not determine T (every one right with a
wide margin drives T to 0) and T stays 1; at the upper edge the network does worse than
uniform probabilities and T is 20; the target's ``note`` says either. ``fit`` records the
result as ``FittedPipeline.calibration``:

    {"part": "validation", "note": "...",
     "targets": {name: {"temperature", "nll_before", "nll_after", "ece_before",
                        "ece_after", "windows", and "note" at an edge of the search}}}

with ``part`` None and empty ``targets`` where nothing was fitted (no validation part, or
``calibrate=False``), the note saying why.

Example:
    >>> model = LSTMModel(spec).fit(df)
    >>> model.calibration_["targets"]["weather"]["temperature"]
    1.37
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import quote
from .metrics import probability_metrics

if TYPE_CHECKING:
    from .data.windows import Windows
    from .kinds import Labelled
    from .pipeline import FittedPipeline

BOUNDS = (math.log(0.05), math.log(20.0))   # the search's range of log T
STEPS = 60                                  # golden-section steps: the bracket shrinks 0.618**60
EDGE = 1e-3                                 # an optimum this close to a bound (log T): at it
FIELDS = ("temperature", "nll_before", "nll_after", "ece_before", "ece_after")


def fit_calibration(pipeline: FittedPipeline, windows: Windows | None, calibrate: bool = True,
                    device: Any = None) -> dict[str, Any] | None:
    """Each categorical target's temperature fitted on ``windows`` (the validation part),
    with the validation NLL and ECE before and after; None for a model without
    categorical targets.

    Args:
        pipeline: the fitted pipeline (its network's outputs are scaled, not retrained).
        windows: the validation windows, or None where the fit had none.
        calibrate: False keeps every temperature at 1 (``LSTMModel(calibrate=False)``).
        device: where the network runs.
    """
    targets = [(j, t) for j, t in enumerate(pipeline.spec.targets) if t.categorical]
    if not targets:
        return None
    if not calibrate:
        return _none("calibrate=False: probabilities are the network's, not scaled")
    if windows is None:
        return _none("no validation part (such as Split.train_only()): nothing held out to "
                     "fit a temperature on, so probabilities are the network's, not scaled")
    outputs, truth = pipeline.outputs(windows, with_targets=True, device=device)
    edges = np.cumsum([0] + [pipeline.encoding.n_classes(t) for t in pipeline.spec.targets])
    fitted = {}
    for j, t in targets:
        known = np.isfinite(truth[..., j])
        logits = outputs[..., edges[j] : edges[j + 1]][known]          # (M, width)
        codes = truth[..., j][known].astype(np.int64)
        if len(codes):
            fitted[t.name] = fit_temperature(t.target_kind, logits, codes)
    return {"part": "validation", "note": "temperature scaling fitted on the validation part",
            "targets": fitted}


def fit_temperature(kind: Labelled, logits: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
    """One target's temperature fitted to outputs (N, width) and class ``codes`` (N,), with
    the NLL and ECE before and after: a target's entry of the calibration record.

    Example:
        >>> fit_temperature(KINDS["binary"], np.array([[4.0], [-4.0], [3.0]]),
        ...                 np.array([1, 0, 0]))["temperature"] > 1
        True
    """
    def nll(log_t: float) -> float:
        return -kind.log_likelihood(logits, codes, math.exp(log_t))
    log_t = golden_section(nll, *BOUNDS)
    at_low, at_high = (abs(log_t - bound) < EDGE for bound in BOUNDS)
    temperature = math.exp(log_t) if nll(log_t) < nll(0.0) and not at_low else 1.0
    before = probability_metrics(codes, kind.probabilities(logits))
    after = probability_metrics(codes, kind.probabilities(logits, temperature))
    entry = {"temperature": temperature, "nll_before": nll(0.0),
             "nll_after": nll(math.log(temperature)), "ece_before": before["ECE"],
             "ece_after": after["ECE"], "windows": len(codes)}
    if at_low:
        entry["note"] = ("the validation NLL keeps falling toward T = 0 (every validation "
                         "label right with a wide margin): the labels do not determine T, so "
                         "it stays 1 rather than making every probability certain")
    elif at_high and temperature > 1:
        entry["note"] = (f"the validation NLL keeps falling as T grows (the network's "
                         f"probabilities do worse than uniform ones): T is the search's upper "
                         f"bound, {temperature:.3g}, so probabilities are nearly uniform")
    return entry


def golden_section(f: Callable[[float], float], low: float, high: float,
                   steps: int = STEPS) -> float:
    """The minimiser of a unimodal ``f`` on [low, high] (golden-section search).

    Example:
        >>> round(golden_section(lambda x: (x - 1) ** 2, -3, 3), 6)
        1.0
    """
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def _none(note: str) -> dict[str, Any]:
    return {"part": None, "note": note, "targets": {}}


def check_calibration(data: Any, categorical: list[str]) -> dict[str, Any] | None:
    """``data`` if it is None or shaped like ``fit_calibration``'s record for the
    ``categorical`` target names (as read back from a file), else ValueError."""
    if data is None:
        return None
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, dict) or not isinstance(data.get("note"), str) or \
            data.get("part") not in ("validation", None):
        raise ValueError("calibration must be null or {'part': 'validation' or null, "
                         "'note': text, 'targets': {...}}")
    for name, entry in targets.items():
        if name not in categorical:
            raise ValueError(f"calibration names target {quote(name)}, which is not a "
                             f"categorical target of the spec ({quote(categorical)})")
        numbers = isinstance(entry, dict) and all(
            type(entry.get(k)) in (int, float) and math.isfinite(entry[k]) for k in FIELDS)
        if not numbers or not entry["temperature"] > 0 or \
                not isinstance(entry.get("note", ""), str):
            raise ValueError(f"calibration of target {quote(name)} must hold finite numbers "
                             f"{', '.join(FIELDS)}, the temperature above 0, and may hold "
                             "a note (text)")
    return data
