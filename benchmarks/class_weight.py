"""Balanced class weights on imbalanced real targets: macro-F1 and each label's recall.

Each set is a real table, a class target on it whose labels are imbalanced, and a model;
for each seed the model is fitted as it is and with ``class_weight="balanced"`` on that
target, each with ``decision="macro_F1"`` (``lstmkit.decision``: label offsets chosen on
the validation part; training is the same with or without it), and each fit is scored on
the split's test part twice: with its labels the most probable ones (``argmax``, the
offsets dropped) and as the decision chooses them (``macro_F1``): accuracy, macro-F1 and
each label's recall (from the confusion matrix). The sets (``--sets``):

* ``seattle``: the quickstart (examples/seattle_weather.yaml: its spec, model and training
  settings) and its ``weather`` target (sun and rain make up most days, drizzle, snow and
  fog few).
* ``beijing_bands``: Beijing PM2.5 (hourly, 2010-2014), the band of pm2.5 in each of the
  next 6 hours (China's AQI breakpoints: ``fine`` up to 75 ug/m3, ``polluted`` 75-250,
  ``severe`` above 250, about 7 % of the hours) from the last 24 hours of the weather
  columns, the wind direction and pm2.5; trained on 2010-2012, validated on 2013, tested
  on 2014.
* ``beijing_heavy``: the same forecast of a binary label, ``heavy`` (pm2.5 above 150,
  about 20 % of the hours) or ``not_heavy``.

    OMP_NUM_THREADS=1 python benchmarks/class_weight.py [--seeds 0 1 2] [--sets seattle]
    python benchmarks/class_weight.py --table    # the tables of results/class_weight.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets
from lstmkit.cli.config import RunConfig
from lstmkit.decision import choose

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MODES = ("none", "balanced")
DECISIONS = ("argmax", "macro_F1")


@dataclass(frozen=True)
class Problem:
    """One imbalanced class target: the table, the model that forecasts it (its spec
    included) and the target's name."""

    data: pd.DataFrame
    model: LSTMModel
    target: str


def seattle() -> Problem:
    """The quickstart as examples/seattle_weather.yaml has it; its ``weather`` target."""
    config = RunConfig.read(ROOT / "examples" / "seattle_weather.yaml")
    return Problem(config.data.load(), config.build_model(), "weather")


def beijing(binary: bool) -> Problem:
    """Beijing PM2.5 and a label of pm2.5 (missing where pm2.5 is) forecast 6 hours ahead:
    the three bands, or with ``binary`` heavy (above 150) or not."""
    data = datasets.load("beijing_pm25", data_dir=SHARED)
    pm = data["pm2.5"]
    if binary:
        label = pd.Series(np.where(pm > 150, "heavy", "not_heavy"), index=data.index)
    else:
        label = pd.cut(pm, [-np.inf, 75, 250, np.inf],
                       labels=["fine", "polluted", "severe"]).astype(object)
    data["label"] = label.where(pm.notna())
    kind = "binary" if binary else "classification"
    spec = Spec(time="date", inputs=["DEWP", "TEMP", "PRES", Feature("cbwd", kind="categorical"),
                                     "Iws", "Is", "Ir", "pm2.5"],
                targets=[Target("label", kind=kind)], lookback=24, horizon=6, missing="ffill")
    model = LSTMModel(spec, hidden=32, lr=3e-3, batch_size=256, max_epochs=10, patience=3,
                      split=Split(val_start="2013-01-01", test_start="2014-01-01"))
    return Problem(data, model, "label")


SETS = {"seattle": seattle, "beijing_bands": partial(beijing, binary=False),
        "beijing_heavy": partial(beijing, binary=True)}


def case(problem: Problem, mode: str, seed: int) -> list[dict]:
    """One fit of ``problem`` (``mode``: its target's class_weight; decision ``macro_F1``)
    and its test scores, with the most probable labels and with the decision's."""
    spec = problem.model.spec.to_dict()
    for target in spec["targets"]:
        if target["name"] == problem.target:
            target["decision"] = "macro_F1"
            if mode != "none":
                target["class_weight"] = mode
    model = LSTMModel(**{**problem.model.get_params(), "spec": Spec.from_dict(spec),
                         "seed": seed, "progress": False})     # a fresh one: problem's stays
    began = time.perf_counter()
    model.fit(problem.data)
    seconds = time.perf_counter() - began
    chosen = model.pipeline_.decisions.get(problem.target, {})
    fitted = {"class_weight": mode, "seed": seed, "fit_seconds": round(seconds, 1),
              "epochs": len(model.history_["epochs"]),
              "class_weights": model.pipeline_.class_weights.get(problem.target),
              "tau": chosen.get("tau"), "val_macro_F1": [chosen.get("macro_F1_before"),
                                                        chosen.get("macro_F1_after")]}
    fitted["test_best_macro_F1"] = best_on_test(model, problem)
    decisions = model.pipeline_.decisions
    cases = []
    for decision in DECISIONS:
        model.pipeline_.decisions = decisions if decision == "macro_F1" else {}
        cases.append({**fitted, "decision": decision,
                      **scores(model, problem.data, problem.target)})
    return cases


def best_on_test(model: LSTMModel, problem: Problem) -> float:
    """The highest test macro-F1 any strength ``tau`` of the decision (or the argmax) gives:
    the search of ``lstmkit.decision`` run on the test part itself, a bound on what a
    choice made on validation can reach."""
    pipeline = model.pipeline_
    j = pipeline.spec.target_names.index(problem.target)
    target = pipeline.spec.targets[j]
    edges = np.cumsum([0] + [pipeline.encoding.n_classes(t) for t in pipeline.spec.targets])
    test, _ = pipeline.part_windows(problem.data, part="test")
    outputs, truth = pipeline.outputs(test, with_targets=True)
    known = np.isfinite(truth[..., j])
    proba = target.target_kind.probabilities(
        pipeline.tempered(outputs)[..., edges[j] : edges[j + 1]][known])
    train, _ = pipeline.part_windows(problem.data, part="train")
    seen = pipeline.truth(train)[..., j]
    k = proba.shape[-1]
    prior = np.maximum(np.bincount(seen[np.isfinite(seen)].astype(np.int64), minlength=k), 1)
    weights = np.asarray(pipeline.class_weights.get(problem.target, [1.0] * k))
    return choose(proba, truth[..., j][known].astype(np.int64), prior / prior.sum(),
                  weights)["macro_F1_after"]


def scores(model: LSTMModel, data: pd.DataFrame, target: str) -> dict:
    """The test part's accuracy, macro-F1, each label's recall and support and the
    confusion matrix of ``model``'s ``target``."""
    evaluation = model.evaluate(data, part="test")
    confusion = evaluation.confusion[target]
    recall = {label: float(confusion.loc[label, label] / confusion.loc[label].sum())
              if confusion.loc[label].sum() else None for label in confusion.index}
    return {"accuracy": evaluation.metric(target, "accuracy"),
            "macro_F1": evaluation.metric(target, "macro_F1"),
            "recall": recall, "support": confusion.sum(axis=1).astype(int).to_dict(),
            "confusion": {str(t): {str(p): int(n) for p, n in row.items()}
                          for t, row in confusion.iterrows()}}


HEADER = ("| class_weight | seed | accuracy | macro-F1 | recall per label (test support) |",
          "| --- | --- | --- | --- | --- |")
DECIDED = ("| class_weight | decision | seed | tau | accuracy | macro-F1 | best tau's on test "
           "| recall per label (test support) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |")


def line(r: dict) -> str:
    """One row of the table from a recorded case."""
    recall = ", ".join(f"{label} {'-' if v is None else f'{v:.2f}'} ({r['support'][label]})"
                       for label, v in r["recall"].items())
    if "decision" in r:
        tau = "-" if r["decision"] == "argmax" or r["tau"] is None else f"{r['tau']:.2f}"
        best = "-" if r["decision"] == "argmax" else f"{r['test_best_macro_F1']:.4f}"
        return (f"| {r['class_weight']} | {r['decision']} | {r['seed']} | {tau} "
                f"| {r['accuracy']:.4f} | {r['macro_F1']:.4f} | {best} | {recall} |")
    return (f"| {r['class_weight']} | {r['seed']} | {r['accuracy']:.4f} | {r['macro_F1']:.4f} "
            f"| {recall} |")


def mean_line(mode: str, rows: list[dict]) -> str:
    """A mode's row of means over its seeds: accuracy, macro-F1 and each label's recall."""
    recall = []
    for label in rows[0]["recall"]:
        known = [r["recall"][label] for r in rows if r["recall"][label] is not None]
        recall.append(f"{label} {statistics.mean(known):.2f}" if known else f"{label} -")
    return (f"| {mode} | mean | {statistics.mean(r['accuracy'] for r in rows):.4f} "
            f"| {statistics.mean(r['macro_F1'] for r in rows):.4f} | {', '.join(recall)} |")


def median_line(mode: str, decision: str, rows: list[dict]) -> str:
    """A class weight's and decision's row of medians over its seeds: tau, accuracy,
    macro-F1 and each label's recall."""
    recall = []
    for label in rows[0]["recall"]:
        known = [r["recall"][label] for r in rows if r["recall"][label] is not None]
        recall.append(f"{label} {statistics.median(known):.2f}" if known else f"{label} -")
    tau = best = "-"
    if decision == "macro_F1":
        taus = [r["tau"] for r in rows if r["tau"] is not None]
        tau = f"{statistics.median(taus):.2f}" if taus else "-"
        best = f"{statistics.median(r['test_best_macro_F1'] for r in rows):.4f}"
    return (f"| {mode} | {decision} | median | {tau} "
            f"| {statistics.median(r['accuracy'] for r in rows):.4f} "
            f"| {statistics.median(r['macro_F1'] for r in rows):.4f} | {best} "
            f"| {', '.join(recall)} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md tables of one recorded run, one per set (runs before ``--sets``
    measured the quickstart), with each mode's means over the seeds (runs with decisions:
    each class weight's and decision's medians)."""
    lines: list[str] = []
    for name in dict.fromkeys(r.get("set", "seattle") for r in cases):
        rows = [r for r in cases if r.get("set", "seattle") == name]
        if "decision" in rows[0]:
            medians = [median_line(mode, decision, mine) for mode in MODES
                       for decision in DECISIONS
                       if (mine := [r for r in rows if (r["class_weight"], r["decision"])
                                    == (mode, decision)])]
            lines += [*([""] if lines else []), *DECIDED, *(line(r) for r in rows), *medians]
            continue
        means = [mean_line(mode, [r for r in rows if r["class_weight"] == mode])
                 for mode in MODES if any(r["class_weight"] == mode for r in rows)]
        lines += [*([""] if lines else []), *HEADER, *(line(r) for r in rows), *means]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=["seattle"],
                        help="the imbalanced targets to measure (default: %(default)s)")
    record.add_options(parser, "class_weight")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    warnings.filterwarnings("ignore")
    run = record.start(args, "class_weight")
    for name in args.sets:
        problem = SETS[name]()
        print(name, *DECIDED, sep="\n")
        for seed in args.seeds:
            for mode in MODES:
                for each in case(problem, mode, seed):
                    print(line(run.add({"set": name, **each})), flush=True)


if __name__ == "__main__":
    main()
