"""Temperature scaling on real data: validation and test ECE and Brier before and after.

One fit per data set; "before" is the same fitted pipeline with its calibration taken away
(every temperature 1: the network's own probabilities, what ``calibrate=False`` gives),
"after" the fitted one. Data sets:

* ``seattle``: the quickstart (examples/seattle_weather.yaml: its spec, model and training
  settings), the ``weather`` target; validation and test are the split's parts.
* ``BasicMotions``, ``JapaneseVowels`` (UEA, from ../shared/data): a small model
  (hidden=32, 100 epochs, patience 10) fitted on the UEA train set, whose split holds out
  15 % for validation (calibration); test is the UEA test set.

    OMP_NUM_THREADS=1 python benchmarks/calibration.py [--sets seattle ...]
    python benchmarks/calibration.py --table    # the table of results/calibration.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit import LSTMModel, datasets
from lstmkit.cli.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
UEA = ("BasicMotions", "JapaneseVowels")


def seattle() -> list[dict]:
    config = RunConfig.read(ROOT / "examples" / "seattle_weather.yaml")
    data = config.data.load()
    model = config.build_model().set_params(progress=False).fit(data)
    return rows("seattle", "weather", model,
                {part: (lambda p, part=part: p.evaluate(data, part=part))
                 for part in ("val", "test")})


def uea(name: str) -> list[dict]:
    X, y = datasets.load_uea(name, "train", data_dir=SHARED)
    X_test, y_test = datasets.load_uea(name, "test", data_dir=SHARED)
    model = LSTMModel(hidden=32, max_epochs=100, patience=10, progress=False).fit(X, y)
    target = model.spec_.target_names[0]
    return rows(name, target, model,
                {"val": lambda p: p.evaluate(X, y, part="val"),
                 "test": lambda p: p.evaluate(X_test, y_test)})


def rows(name: str, target: str, model: LSTMModel, parts: dict) -> list[dict]:
    after = model.pipeline_
    before = dataclasses.replace(after, calibration=None)
    entry = (after.calibration or {}).get("targets", {}).get(target, {})
    out = []
    for part, evaluate in parts.items():
        row = {"set": name, "target": target, "part": part,
               "T": entry.get("temperature", 1.0),
               "answered_by_1nn": target in after.neighbour_targets}
        for label, pipeline in (("before", before), ("after", after)):
            evaluation = evaluate(pipeline)
            for metric in ("accuracy", "ECE", "Brier"):
                row[f"{metric}_{label}"] = evaluation.metric(target, metric)
        out.append(row)
    return out


HEADER = ("| set | target | part | T | accuracy | ECE before | ECE after | Brier before "
          "| Brier after |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def line(r: dict) -> str:
    """One row of the table from a recorded case."""
    return (f"| {r['set']} | {r['target']} | {r['part']} | {r['T']:.3f} | "
            f"{r['accuracy_after']:.4f} | {r['ECE_before']:.4f} | {r['ECE_after']:.4f} "
            f"| {r['Brier_before']:.4f} | {r['Brier_after']:.4f} |"
            + (" (1-NN answers)" if r["answered_by_1nn"] else ""))


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one recorded run."""
    return [*HEADER, *(line(r) for r in cases)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["seattle", *UEA])
    record.add_options(parser, "calibration")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    warnings.filterwarnings("ignore")
    run = record.start(args, "calibration")
    print("\n".join(HEADER))
    for name in args.sets:
        for r in seattle() if name == "seattle" else uea(name):
            print(line(run.add(r)), flush=True)


if __name__ == "__main__":
    main()
