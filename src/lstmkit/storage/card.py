"""The model card: a README.md in every model directory, so the directory describes itself.

It says what goes in (columns, kinds, scalers, labels), what comes out, how the
model was built and trained (architecture, epochs, losses, a checksum of the
training table), how well it did if that is known, and how to use it.
"""

from __future__ import annotations

import platform
from typing import Any

import torch

from ..cli.tracking import epoch_number
from ..conformal import SPREAD
from ..kinds import interval_column, quantile_column
from ..metrics import PREDICTORS, compare, metric_label, mostly_naive, percent
from ..pipeline import Fitted, FittedPipeline, fitted
from ..version import __version__


def model_card(model: FittedPipeline | Fitted, metrics: dict[str, Any] | None = None) -> str:
    """Markdown describing a fitted ``model``.

    Args:
        model: a fitted pipeline, or a fitted ``LSTMModel`` (its ``pipeline_``).
        metrics: an ``Evaluation.to_dict()`` (optionally with ``scored_on``), or None.
            The validation check after ``fit`` (``validation``) is shown either way.

    Returns:
        The card's text.
    """
    pipeline = fitted(model)
    spec, encoding = pipeline.spec, pipeline.encoding
    targets = ", ".join(spec.target_names)
    lines = [f"# lstmkit model: {spec.task} of {targets}", "", _shape(pipeline), "",
             "## Inputs", "", "| column | kind | encoding |", "| --- | --- | --- |"]
    for f in spec.inputs:
        if f.kind == "numeric":
            s = encoding.input_scalers[f.name]
            lines.append(f"| {f.name} | numeric | {f.scaler} scaler: (x - {s.center:.6g}) / "
                         f"{s.scale:.6g} |")
        else:
            how = f"learned vectors of {f.embed}" if f.embed else "one-hot"
            lines.append(f"| {f.name} | categorical | {how} over "
                         f"{_labels(encoding.input_labels[f.name].classes)} |")
    ids = {"time": spec.time, "series": spec.series, "sequence": spec.sequence}
    named = [f"{role} column `{name}`" for role, name in ids.items() if name]
    if named:
        lines += ["", "Also read: " + ", ".join(named) + "."]
    if encoding.series is not None:
        lines += ["", f"Scaled per series (scale_by 'series'): each of the "
                      f"{len(encoding.series.keys)} series by its own training part "
                      "(`encoding.series_scalers` in config.json); the scalers shown are "
                      "those of all series together, the units outputs are decoded from."]
    lines += ["", "## Targets", "", "| target | kind | loss | weight | output |",
              "| --- | --- | --- | --- | --- |"]
    for t in spec.targets:
        output = (f"labels {_labels(encoding.target_labels[t.name].classes)} + probabilities"
                  if t.categorical else f"{t.scaler} scaler, predicted in original units")
        levels = t.target_kind.levels(t)
        if t.distribution:
            output += f"; a {t.distribution.replace('_', ' ')} distribution"
        if levels:
            centre = "mean" if t.distribution else "median"
            output += (f"; quantiles {', '.join(format(q, 'g') for q in levels)} "
                       f"(columns {', '.join(quantile_column(t.name, q) for q in levels)};"
                       f" `{t.name}` is the {centre})")
        lines.append(f"| {t.name} | {t.kind} | {t.loss} | {t.weight:g} | {output} |")
    if spec.units:
        lines += ["", "Units: " + ", ".join(f"`{k}` {v}" for k, v in spec.units.items()) + "."]
    architecture = ", ".join(f"{k}={v}" for k, v in pipeline.architecture.items())
    lines += ["", "## Training", "",
              f"- architecture: {architecture}",
              f"- training table sha256: `{pipeline.data_sha256 or 'unknown'}`",
              *_history(pipeline.history),
              f"- written by lstmkit {__version__}, torch {torch.__version__}, python "
              f"{platform.python_version()}",
              "", "## Validation check", "", *_validation(pipeline.validation, spec.units),
              *_neighbours(pipeline),
              *_calibration(pipeline.calibration), *_decisions(pipeline.decisions),
              *_intervals(pipeline.conformal),
              "", "## Metrics", "", *_metrics(metrics, spec.units), "", _usage(pipeline)]
    return "\n".join(lines) + "\n"


def _shape(pipeline: FittedPipeline) -> str:
    spec, shape = pipeline.spec, pipeline.spec.shape
    if shape.sliding:
        ahead = ""
        if spec.future_names:
            names = ", ".join(f"`{name}`" for name in spec.future_names)
            ahead = (f" The inputs known in advance ({names}) are read over the forecast "
                     "steps too: a prediction table ends each series with the rows of the "
                     "steps to forecast, which give them.")
        return (f"Reads the last **{spec.lookback}** rows of every input column and forecasts "
                f"the next **{spec.horizon}** step(s) of each target.{ahead}")
    if shape.per_sequence:
        return "Reads each whole sequence and predicts one value or label per target."
    if shape.per_step:
        return "Reads each sequence and predicts every target at every input step."
    return (f"Reads each input sequence and predicts the **{spec.horizon}** steps that follow "
            "it, for each target.")


def _labels(classes: tuple[Any, ...], shown: int = 12) -> str:
    more = f", ... ({len(classes)} in all)" if len(classes) > shown else ""
    return "[" + ", ".join(f"`{c}`" for c in classes[:shown]) + more + "]"


def _history(history: dict[str, Any]) -> list[str]:
    epochs = history.get("epochs") or []
    if not epochs:
        return ["- epochs: none recorded"]
    last = epochs[-1]
    lines = [f"- epochs trained: {len(epochs)}; last training loss "
             f"{last.get('train_loss', float('nan')):.6g}"]
    if history.get("best_epoch") is not None:
        lines.append(f"- best validation loss {history['best_val_loss']:.6g} in epoch "
                     f"{epoch_number(history['best_epoch'])} of {len(epochs)} (its weights are "
                     "the ones saved)")
    return lines


def _validation(verdict: dict[str, Any] | None, units: dict[str, str]) -> list[str]:
    """The check ``fit`` made on the validation part: each target against the naive one."""
    if verdict is None:
        return ["Not recorded: the model was fitted without a validation part (nothing held "
                "out to judge it on), or saved by lstmkit 0.2.0."]
    lines = [f"After training, each target on the validation part against the naive baseline "
             f"({verdict['baseline']}):", "",
             "| target | metric | model | naive | vs naive |", "| --- | --- | --- | --- | --- |"]
    for target, entry in verdict["targets"].items():
        metric, model, naive = entry["metric"], entry["model"], entry["naive"]
        lines.append(f"| {target} | {metric_label(metric, units.get(target))} | "
                     f"{_number(model)} | {_number(naive)} | "
                     f"{compare(metric, _nan(model), _nan(naive))} |")
    worse = [target for target, entry in verdict["targets"].items() if entry["worse"]]
    if worse:
        lines += ["", f"**Worse than the naive baseline: {', '.join(worse)}.** Use the "
                  "baseline's predictions for these targets instead, or see what to try in "
                  "the warning `fit` gave (lstmkit's README, \"Honest reports\")."]
    naive = [f"{t} ({entry['kept']:.0%} kept"
             + (f", with {entry['drift']:.0%} of its drift" if entry.get("drift") else "")
             + (", with momentum" if entry.get("momentum") else "") + ")"
             for t, entry in verdict["targets"].items() if mostly_naive(entry)]
    if naive:
        entries = verdict["targets"].values()
        drift = any("drift" in entry for entry in entries)
        momentum = any("momentum" in entry for entry in entries)
        lines += ["", f"**Mostly the naive forecast: {', '.join(naive)}.** The network's change "
                  "from the naive forecast did not help on the validation part, so its forecasts "
                  "keep only that share of it" + (" (the naive forecast with drift adds that "
                  "share of the window's mean step change per step ahead, as the training and "
                  "validation parts chose)" if drift else "") + (" (with momentum, it adds per "
                  "step a share of the window's last change, as the training and validation "
                  "parts chose)" if momentum else "") + " (README, \"Honest reports\")."]
    return lines


def _neighbours(pipeline: FittedPipeline) -> list[str]:
    """How the nearest neighbours answer: the blend with their vote (``neighbour_vote``),
    the nearest one's label (``neighbour_targets``, models saved before the vote), or
    neither where the network did worse than 1-NN on validation and the blend did not help."""
    verdict = pipeline.validation or {"targets": {}}
    lines = []
    if pipeline.neighbour_targets:
        lines += ["", f"**Answered by the nearest neighbour: "
                  f"{', '.join(pipeline.neighbour_targets)}.** The network did worse than 1-NN "
                  f"({verdict.get('neighbour')}) on the validation part, so the model gives the "
                  "label of its nearest training or validation sequence."]
    parts = getattr(pipeline.neighbours, "parts", None)
    which = "training, validation and test-part" if parts is not None and (parts == 2).any() \
        else "training and validation"
    for target, vote in pipeline.neighbour_vote.items():
        network = (f"the network's validation accuracy, {vote['network']:.4g} on "
                   f"{vote['validation']} sequences,")
        nearest = (f"1-NN's leave-one-out accuracy over {vote['sequences']} training and "
                   f"validation sequences, {vote['loo']:.4g}")
        why = (f"{network} is below {nearest}, so w = 1: 1-NN's label"
               if vote["weight"] == 1 else
               f"{network} is not below {nearest}, but too few to tell the two apart (its "
               f"95 % lower bound, over the epochs early stopping chose from, is not above "
               f"it), so w = {vote['weight']:.2g}")
        lines += ["", f"**Blended with the nearest neighbours' vote: {target} (weight "
                  f"{vote['weight']:.2g}).** Its class probabilities are (1 - w) times the "
                  f"network's plus w times a vote of the nearest {which} "
                  "sequences (Euclidean on z-normalised series; each class's share falls with "
                  f"the distance d to its nearest sequence, exp(-d / {vote['scale']:.4g})); "
                  f"{why}."]
    alone = [t for t, entry in verdict["targets"].items() if entry.get("worse_than_neighbour")
             and t not in pipeline.neighbour_vote and t not in pipeline.neighbour_targets]
    if alone:
        lines += ["", f"**Worse than the nearest neighbour: {', '.join(alone)}.** The network did "
                  f"worse than 1-NN ({verdict.get('neighbour')}) on the validation part, and "
                  "blending in the neighbours' vote did not help there, so the model keeps the "
                  "network's answers."]
    return lines


def _calibration(calibration: dict[str, Any] | None) -> list[str]:
    """What temperature scaling did to the class probabilities (nothing for a model without
    categorical targets or saved before it)."""
    if calibration is None:
        return []
    lines = ["", "## Calibration", ""]
    if not calibration["targets"]:
        return [*lines, f"Class probabilities not calibrated: {calibration['note']}."]
    lines += ["Class probabilities are temperature-scaled (logits / T, fitted on the validation "
              "part by its negative log-likelihood; labels unchanged). ECE: expected "
              "calibration error over 15 equal-width confidence bins.", "",
              "| target | T | validation NLL before | after | ECE before | after |",
              "| --- | --- | --- | --- | --- | --- |"]
    for target, entry in calibration["targets"].items():
        lines.append(f"| {target} | {entry['temperature']:.4g} | {entry['nll_before']:.4g} | "
                     f"{entry['nll_after']:.4g} | {entry['ece_before']:.4g} | "
                     f"{entry['ece_after']:.4g} |")
    notes = [f"- {target}: {entry['note']}." for target, entry in calibration["targets"].items()
             if "note" in entry]
    return [*lines, *(["", *notes] if notes else [])]


def _decisions(decisions: dict[str, dict[str, Any]]) -> list[str]:
    """The label offsets chosen for macro-F1 (``lstmkit.decision``; nothing without them)."""
    if not decisions:
        return []
    lines = ["", "## Labels chosen for macro-F1", "",
             "Labels maximise log p + offset (logit adjustment of strength tau, fitted on the "
             "validation part by its macro-F1; tau - : the most probable label kept). The "
             "probabilities are unchanged.", "",
             "| target | tau | validation macro-F1 before | after |", "| --- | --- | --- | --- |"]
    for target, entry in decisions.items():
        tau = "-" if entry["tau"] is None else f"{entry['tau']:.2f}"
        lines.append(f"| {target} | {tau} | {entry['macro_F1_before']:.4g} | "
                     f"{entry['macro_F1_after']:.4g} |")
    return lines


def _intervals(record: dict[str, Any] | None) -> list[str]:
    """The calibrated conformal intervals, their columns and the coverage reached on the
    windows they were calibrated on (nothing for a model without them)."""
    if record is None:
        return []
    part = {"val": "validation part", "test": "test part", "all": "held-out table"}
    lines = ["", "## Conformal intervals", "",
             f"Split-conformal intervals calibrated on {record['windows']} windows of the "
             f"{part[record['part']]} (margins per output step; `lstmkit.conformal`). Coverage "
             "there is at least nominal by construction; `evaluate` measures it on later data "
             "(`coverage_<p>_conformal`).", "",
             "| target | nominal | columns | calibration coverage | mean margin |",
             "| --- | --- | --- | --- | --- |"]
    for target, entry in record["targets"].items():
        unit = " × spread" if entry.get("unit") == SPREAD else ""
        for c, margins, covered in zip(record["coverage"], entry["margins"], entry["covered"],
                                       strict=True):
            lines.append(f"| {target} | {percent(c)} % | `{interval_column(target, 'lo', c)}`, "
                         f"`{interval_column(target, 'hi', c)}` | {100 * covered:.1f} % | "
                         f"{sum(margins) / len(margins):.4g}{unit} |")
    if any(entry.get("unit") == SPREAD for entry in record["targets"].values()):
        lines += ["", "A distribution target's interval is its fitted distribution's own "
                  "central interval widened (or narrowed) at each end by the margin times "
                  "the prediction's spread (a normal's or Student's t's scale, a count's "
                  "standard deviation); its quantile columns and samples stay the fitted "
                  "distribution's, uncalibrated."]
    return lines


def _metrics(metrics: dict[str, Any] | None, units: dict[str, str]) -> list[str]:
    if not metrics:
        return ["Not recorded with this directory: `lstmkit fit` scores the model and writes "
                "them here; or run `lstmkit evaluate THIS_DIRECTORY data.csv`."]
    neighbour = f"; neighbour = {metrics['neighbour']}" if metrics.get("neighbour") else ""
    lines = [f"Scored on {metrics.get('scored_on', 'the data given')}, in original units "
             f"(naive = {metrics.get('baseline', 'baseline')}; seasonal naive = "
             f"{metrics.get('seasonal') or 'none'}{neighbour}; skill = 1 - model's error / "
             "naive's).", ""]
    targets = metrics.get("targets", {})
    shown = [p for p in PREDICTORS if p in ("model", "naive", "seasonal") or any(
        scores.get(p) is not None for values in targets.values() for scores in values.values())]
    lines += ["| target | metric | " + " | ".join(shown) + " | skill | vs naive |",
              "| --- | --- | " + "--- | " * len(shown) + "--- | --- |"]
    for target, values in targets.items():
        for name, scores in values.items():
            cells = " | ".join(_number(scores.get(k)) for k in shown)
            lines.append(f"| {target} | {metric_label(name, units.get(target))} | {cells} | "
                         f"{_number(scores.get('skill'))} | "
                         f"{compare(name, _nan(scores.get('model')), _nan(scores.get('naive')))} |")
    return lines


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _usage(pipeline: FittedPipeline) -> str:
    data = "new.csv" if pipeline.spec.shape.sliding else "sequences.csv"
    return f"""## Use

```python
from lstmkit import LSTMModel

model = LSTMModel.load("THIS_DIRECTORY")
model.predict("{data}")           # a DataFrame in original units
```

```
lstmkit predict THIS_DIRECTORY {data} -o predictions.csv
lstmkit export THIS_DIRECTORY --onnx model.onnx   # run with onnxruntime only
```

Files: `config.json` (spec, scalers, labels, architecture, history) and
`weights.safetensors`; nothing in this directory is a pickle."""
