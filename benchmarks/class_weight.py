"""Balanced class weights on an imbalanced real target: the quickstart's ``weather``.

The quickstart (examples/seattle_weather.yaml: its spec, model and training settings)
fitted as it is and with ``class_weight="balanced"`` on its ``weather`` target (sun and
rain make up most days, drizzle, snow and fog few), for each seed; each fit is scored on
the split's test part: accuracy, macro-F1 and each label's recall (from the confusion
matrix).

    OMP_NUM_THREADS=1 python benchmarks/class_weight.py [--seeds 0 1 2]
    python benchmarks/class_weight.py --table    # the table of results/class_weight.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit import Spec
from lstmkit.cli.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
TARGET = "weather"
MODES = ("none", "balanced")


def case(config: RunConfig, data, mode: str, seed: int) -> dict:
    """One fit of the quickstart (``mode``: its weather target's class_weight) and its test
    scores."""
    spec = config.spec.to_dict()
    for target in spec["targets"]:
        if target["name"] == TARGET and mode != "none":
            target["class_weight"] = mode
    model = config.build_model().set_params(spec=Spec.from_dict(spec), seed=seed,
                                            progress=False)
    began = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - began
    evaluation = model.evaluate(data, part="test")
    confusion = evaluation.confusion[TARGET]
    recall = {label: float(confusion.loc[label, label] / confusion.loc[label].sum())
              if confusion.loc[label].sum() else None for label in confusion.index}
    return {"class_weight": mode, "seed": seed, "fit_seconds": round(seconds, 1),
            "accuracy": evaluation.metric(TARGET, "accuracy"),
            "macro_F1": evaluation.metric(TARGET, "macro_F1"),
            "recall": recall, "support": confusion.sum(axis=1).astype(int).to_dict(),
            "class_weights": model.pipeline_.class_weights.get(TARGET)}


HEADER = ("| class_weight | seed | accuracy | macro-F1 | recall per label (test support) |",
          "| --- | --- | --- | --- | --- |")


def line(r: dict) -> str:
    """One row of the table from a recorded case."""
    recall = ", ".join(f"{label} {'-' if v is None else f'{v:.2f}'} ({r['support'][label]})"
                       for label, v in r["recall"].items())
    return (f"| {r['class_weight']} | {r['seed']} | {r['accuracy']:.4f} | {r['macro_F1']:.4f} "
            f"| {recall} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one recorded run, with each mode's mean over seeds."""
    means = []
    for mode in MODES:
        rows = [r for r in cases if r["class_weight"] == mode]
        if rows:
            means.append(f"| {mode} | mean | {statistics.mean(r['accuracy'] for r in rows):.4f} "
                         f"| {statistics.mean(r['macro_F1'] for r in rows):.4f} | |")
    return [*HEADER, *(line(r) for r in cases), *means]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    record.add_options(parser, "class_weight")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    warnings.filterwarnings("ignore")
    config = RunConfig.read(ROOT / "examples" / "seattle_weather.yaml")
    data = config.data.load()
    run = record.start(args, "class_weight")
    print("\n".join(HEADER))
    for seed in args.seeds:
        for mode in MODES:
            print(line(run.add(case(config, data, mode, seed))), flush=True)


if __name__ == "__main__":
    main()
