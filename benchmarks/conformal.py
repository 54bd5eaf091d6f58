"""Conformal intervals on real data: test-part coverage of 80 % and 95 % intervals vs nominal.

One fit per data set with ``coverage=[0.8, 0.95]``: split-conformal margins calibrated on
the validation part at the end of fit, then ``evaluate`` on the test part (later months)
reports, for the model and the naive baseline's intervals (persistence plus its training
errors' quantiles), coverage, mean width and MSIS. Training is reduced (``--epochs``,
default 5) to keep the run short: the figures are about the intervals, not the accuracy.

* ``etth1``: ETTh1 ``OT`` from all seven columns, the literature split (train rows
  [0, 8640), validation [8640, 11520), test [11520, 14400)), lookback 96, horizon 24.
* ``beijing``: Beijing PM2.5 ``pm2.5`` (gaps masked) from the weather columns and wind
  direction, chronological 70 / 10 / 20, lookback 48, horizon 6.

    OMP_NUM_THREADS=1 python benchmarks/conformal.py [--sets etth1 beijing] [--epochs 5]
    python benchmarks/conformal.py --table    # the table of results/conformal.jsonl
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit import Feature, LSTMModel, Spec, Split, datasets

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SETS = ("etth1", "beijing")
COVERAGE = (0.8, 0.95)


def etth1() -> tuple[str, object, Spec, Split]:
    data = datasets.load("ETTh1", data_dir=SHARED).iloc[:14400]
    columns = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    spec = Spec(time="date", inputs=columns, targets=["OT"], lookback=96, horizon=24)
    return "OT", data, spec, Split(val_start=8640, test_start=11520)


def beijing() -> tuple[str, object, Spec, Split]:
    data = datasets.load("beijing_pm25", data_dir=SHARED)
    spec = Spec(time="date", targets=["pm2.5"], lookback=48, horizon=6,
                inputs=[Feature("pm2.5", missing="mask"), "DEWP", "TEMP", "PRES", "Iws",
                        Feature("cbwd", kind="categorical")])
    return "pm2.5", data, spec, Split(val_start=0.7, test_start=0.8)


def measure(name: str, epochs: int) -> list[dict]:
    target, data, spec, split = {"etth1": etth1, "beijing": beijing}[name]()
    started = time.perf_counter()
    model = LSTMModel(spec, max_epochs=epochs, split=split, coverage=list(COVERAGE),
                      progress=False, seed=0).fit(data)
    fit_s = time.perf_counter() - started
    evaluation = model.evaluate(data, part="test")
    record_ = model.conformal_
    cases = []
    for k, c in enumerate(COVERAGE):
        p = format(c * 100, "g")
        case = {"set": name, "target": target, "horizon": spec.horizon, "epochs": epochs,
                "epochs_run": len(model.history_["epochs"]), "fit_s": round(fit_s, 1),
                "coverage": c, "calibration_windows": record_["windows"],
                "calibration_coverage": record_["targets"][target]["covered"][k],
                "margin_step_1": record_["targets"][target]["margins"][k][0],
                "margin_last_step": record_["targets"][target]["margins"][k][-1]}
        for metric in ("coverage", "width", "MSIS"):
            for of in ("model", "naive"):
                case[f"{metric}_{of}"] = evaluation.metric(target, f"{metric}_{p}_conformal", of)
        steps = evaluation.per_step[evaluation.per_step.metric == f"coverage_{p}_conformal"]
        case["coverage_per_step"] = [round(v, 2) for v in steps.model]
        cases.append(case)
    return cases


HEADER = ("| set | target | nominal | test coverage | naive's | mean width | naive's | MSIS "
          "| naive's | coverage per step (first, last) | epochs |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def line(r: dict) -> str:
    """One row of the table from a recorded case."""
    steps = r["coverage_per_step"] or [r["coverage_model"]]
    return (f"| {r['set']} | {r['target']} | {100 * r['coverage']:g} % | "
            f"{r['coverage_model']:.1f} % | {r['coverage_naive']:.1f} % | "
            f"{r['width_model']:.3g} | {r['width_naive']:.3g} | {r['MSIS_model']:.3g} | "
            f"{r['MSIS_naive']:.3g} | {steps[0]:.1f} %, {steps[-1]:.1f} % | "
            f"{r['epochs_run']} of {r['epochs']} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one recorded run."""
    return [*HEADER, *(line(r) for r in cases)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--epochs", type=int, default=5, help="max_epochs (default: 5)")
    record.add_options(parser, "conformal")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    warnings.filterwarnings("ignore")
    run = record.start(args, "conformal")
    print("\n".join(HEADER))
    for name in args.sets:
        for r in measure(name, args.epochs):
            print(line(run.add(r)), flush=True)


if __name__ == "__main__":
    main()
