"""What ``fit`` says about its model: the validation part against the naive baselines.

``check_against_naive`` scores the validation windows (the network never trained on them)
beside the naive baselines and 1-NN, records the verdict that ``validation_``, the card and
``metrics.json`` show, and warns (``BaselineWarning``) for every target the model does worse
on, saying what to try, and, where it does better pooled over a panel's series, for the
series it does worse on (pooled errors in original units are the largest series' errors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .checks import quote
from .data.windows import Windows
from .errors import BaselineWarning, warn
from .fallback import drifts, kept, naive_lag
from .metrics import HEADLINE, Evaluation, compare, mostly_naive
from .pipeline import FittedPipeline, window_series
from .spec import Spec
from .training.config import global_rank


def check_against_naive(pipeline: FittedPipeline, windows: Windows | None,
                        offsets: torch.Tensor, device: torch.device,
                        vote: dict[str, dict[str, float]] | None = None,
                        keys: list[Any] | None = None) -> dict[str, Any] | None:
    """Score the validation windows and warn (``BaselineWarning``) for every target the
    model does worse on than the naive baseline, or than 1-NN (sequence classification:
    the warning says how ``vote``, what ``fitting.fit_vote`` chose, answers it); returns
    ``Evaluation.verdict()``.

    Without a validation part there is nothing the model did not train on to judge
    it by: None, and no warning. ``keys``: a panel's series ids, to score each series.
    """
    if windows is None:
        return None
    evaluation = pipeline.score_windows(windows, offsets, device, keys=keys)
    verdict = evaluation.verdict()
    which = window_series(windows, offsets)
    each = 0 if which is None else int(np.median(np.unique(which, return_counts=True)[1]))
    for target, share in kept(pipeline).items():
        verdict["targets"][target]["kept"] = share
    for target, share in drifts(pipeline).items():
        verdict["targets"][target]["drift"] = share
    for target, entry in verdict["targets"].items():
        if global_rank() != 0:     # one process warns
            continue
        if mostly_naive(entry):
            warn(_mostly_naive(target, entry, naive_lag(pipeline, target)), BaselineWarning)
        elif entry["worse"]:
            warn(_worse_than_naive(pipeline.spec, target, entry, verdict["baseline"]),
                 BaselineWarning)
        lost = None if entry["worse"] else _worse_series(evaluation, target,
                                                         verdict["baseline"], each)
        if lost:
            warn(lost, BaselineWarning)
        nearer = _worse_than_neighbour(target, entry, (vote or {}).get(target))
        if nearer:
            warn(nearer, BaselineWarning)
    return verdict


def _worse_than_naive(spec: Spec, target: str, entry: dict[str, Any], baseline: str) -> str:
    """The warning for a target the model does worse on than the naive baseline, with what
    to try."""
    longer = "train longer (max_epochs, patience)"
    if not spec.shape.sliding:
        hint = f"{longer}, or give inputs that tell more about it"
    elif target not in spec.input_names:
        hint = ("it is not an input, so the model never sees its past: add it to the inputs "
                "(or leave Spec past_targets at True, its default)")
    elif entry["metric"] == "accuracy":
        hint = (f"a label that seldom changes is hard to beat by more than the last one; else "
                f"{longer} or weigh it more (Target weight)")
    else:
        hint = (f"if it moves like a random walk, the last value may be the best forecast "
                f"there is; else {longer}, try another lookback, or instance_norm='anchored' "
                "(changes from the naive forecast)")
    return (f"target {quote(target)} does worse than the naive baseline ({baseline}) on the "
            f"validation part: {entry['metric']} {entry['model']:.4g} against "
            f"{entry['naive']:.4g}; {hint}")


def _worse_series(evaluation: Evaluation, target: str, baseline: str, each: int,
                  shown: int = 5) -> str | None:
    """The warning for the series of a panel that the model does worse on than the naive
    baseline, each in its own units, though pooled it does not (also where it fell back on
    a naive forecast: a seasonal one can lose to the last value on some series); None where
    none (or one series). ``each``: the validation windows a series has (the median),
    which the warning gives where they are few (a comparison of few forecasts is noisy)."""
    rows = evaluation.per_series
    rows = rows[(rows.target == target) & rows.metric.isin(HEADLINE)]
    if rows.series.nunique() < 2:
        return None
    worse = rows[[compare(r.metric, r.model, r.naive) == "worse" for r in rows.itertuples()]]
    if worse.empty:
        return None
    metric = worse.metric.iloc[0]
    ratio = (worse.model / worse.naive) if metric == "MAE" else (1 - worse.model) / (
        1 - worse.naive)
    worst = worse.assign(ratio=ratio).sort_values("ratio", ascending=False).head(shown)
    named = "; ".join(f"{quote(r.series)} {r.model:.4g} against {r.naive:.4g}"
                      for r in worst.itertuples())
    more = f"; and {len(worse) - shown} more" if len(worse) > shown else ""
    return (f"target {quote(target)} does no worse than the naive baseline ({baseline}) on "
            f"the validation part pooled over the series, whose errors in original units are "
            f"the largest series' errors, but worse on {len(worse)} of {rows.series.nunique()} "
            f"series ({metric}, each in its own units; worst first): {named}{more}"
            + (f" (from {each} validation window{'s' * (each > 1)} a series: few to tell by)"
               if each < 10 else "") + ". "
            "Evaluation.per_series scores every series; for such a series the last value may "
            "be the best forecast there is (a random walk), else weigh it more (Spec weight), "
            "train longer, or fit it apart")


def _mostly_naive(target: str, entry: dict[str, Any], lag: int) -> str:
    """The warning for a forecast target whose forecasts fell back mostly on the naive ones
    (with the share of drift, ``entry['drift']``, that naive forecast carries, if any)."""
    naive = "its last value" if lag == 1 else f"its value one season ({lag} steps) earlier"
    walk = "a random walk"
    if entry.get("drift"):
        naive += f" plus {entry['drift']:.0%} of the window's mean step change per step ahead"
        walk = "a random walk with drift"
    return (f"target {quote(target)}: on the validation part the network did not beat the "
            f"naive forecast ({naive}) by more than one standard error, so fit moved its "
            f"forecasts towards that (now MAE "
            f"{entry['model']:.4g} against {entry['naive']:.4g} for the last value): they keep "
            f"{entry['kept']:.0%} of the network's change and are mostly the naive forecast. "
            f"If the series moves like {walk}, that may be the best forecast there is; "
            "else train longer (max_epochs, patience), try another lookback, or give inputs "
            "that tell more about it")


def _worse_than_neighbour(target: str, entry: dict[str, Any], vote: dict[str, float]
                          ) -> str | None:
    """The warning for a categorical target of a sequence task that 1-NN predicts better
    on the validation part or by leave-one-out (``vote``: what ``fit_vote`` found), saying
    how the neighbours' vote answers it; None where neither."""
    lost = entry["worse_than_neighbour"]
    if vote is None or not (lost or vote["network"] < vote["loo"]):
        return None
    accuracies = (f"accuracy {vote['network']:.4g} on the validation part, 1-NN "
                  f"{_number(entry['neighbour'])} there and {vote['loo']:.4g} by leave-one-out "
                  f"over {vote['sequences']} training and validation sequences")
    if vote["network"] < vote["loo"]:
        what = "the network does worse than the nearest neighbour (1-NN on z-normalised series)"
        answer = ("the model answers it with the nearest neighbours' vote alone: 1-NN's label, "
                  "with class probabilities that fall with the distance (model.neighbour_vote_,"
                  " weight 1)")
    else:
        what = ("the network does worse than the nearest neighbour (1-NN on z-normalised "
                "series) on the validation part, though not by leave-one-out, a larger sample")
        answer = ("the model keeps the network's answers" if vote["weight"] == 0 else
                  f"the model blends the network's class probabilities with the nearest "
                  f"sequences' vote, weight {vote['weight']:.2g} (model.neighbour_vote_)")
    return (f"target {quote(target)}: {what}: {accuracies}; {answer}. With few sequences per "
            "class a network seldom beats 1-NN: more labelled sequences, or a longer training "
            "(max_epochs, patience), may let it")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
