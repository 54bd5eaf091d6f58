"""Adapted intervals on real data: the calibrated intervals against ``predict(adapt=rate)``.

The models are the uncertainty benchmark's (``uncertainty.py``: ETTh1, ETTm1, weather and
Beijing PM2.5 at the literature's splits, lookback 96, horizon 24, the default architecture,
at most ``--epochs`` epochs), each conformalised on its validation part as ``predict``
gives it by default (the point model: ``calibrate_intervals(part="val")`` at the ten
central coverages of the 21 levels). Every test window is predicted once with the
calibrated intervals as they are and once per rate with ``adapt=rate``: each window's
intervals then learn from the misses of the test windows before it whose truth is known
at its origin (``lstmkit.conformal_online``). Scores are those of the uncertainty
benchmark (coverage and width of the 80 % and 95 % intervals, CRPS from the 21 levels'
ends), computed by the same code on the same windows.

Fitting is the slow part: ``--models DIR`` keeps each fitted model there and later runs
load it instead of fitting again (a run that stopped resumes where it stopped).

    OMP_NUM_THREADS=1 python benchmarks/adaptive_intervals.py --sets etth1 --models /tmp/m
    python benchmarks/adaptive_intervals.py --table
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
from uncertainty import LSTMKIT_SYSTEMS, systems_of, test_quantiles, test_table
from uncertainty import run_lstmkit as fitted_scores
from uncertainty_data import DATASETS, Dataset, score

RATES = (0.005, 0.01, 0.02, 0.05)


def fitted(data: Dataset, system: str, seed: int, epochs: int, models: Path):
    """The fitted, calibrated model of a case: loaded from ``models`` where a run saved
    it, else fitted as the uncertainty benchmark fits it and saved there."""
    from lstmkit import LSTMModel

    path = models / f"{data.name}_{system}_seed{seed}_epochs{epochs}"
    if not (path / "config.json").exists():
        fitted_scores(data, system, seed, epochs, keep=path)
    return LSTMModel.load(path)


def run_case(data: Dataset, system: str, seed: int, epochs: int, models: Path,
             rates: list[float]) -> dict:
    """A model's scores with its calibrated intervals and with them adapted at each rate."""
    model = fitted(data, system, seed, epochs, models)
    frame, truth = data.frame(), data.truth(data.frame())
    scores = {}
    for rate in [False, *rates]:
        started = time.perf_counter()
        table = test_table(model, data, frame, adapt=rate)
        seconds = time.perf_counter() - started          # predict, and sorting its table
        scores[str(rate) if rate else "calibrated"] = {
            **score(truth, test_quantiles(table, data, system, calibrated=True)),
            "seconds": round(seconds, 3)}
    return scores


def file_table(path: Path) -> list[str]:
    """One table of every case in ``path`` (runs of several sets or systems, resumed ones):
    per data set and system, coverage of the 80 % and 95 % intervals and CRPS, calibrated
    and adapted at each rate the runs share; a later case of a (set, system, seed) replaces
    an earlier one."""
    runs = record.runs(path)
    rates = [str(r) for r in sorted(set.intersection(*(set(about["options"]["rates"])
                                                       for about, _ in runs)))]
    epochs = sorted({about["options"]["epochs"] for about, _ in runs})
    cases = {(c["dataset"], c["system"], c["seed"]): c for _, cases in runs for c in cases}
    head = " | ".join(f"rate {r}: coverage 80 % | coverage 95 % | CRPS" for r in rates)
    timed = all("seconds" in c["calibrated"] for c in cases.values())
    lines = [f"epochs at most {', '.join(map(str, epochs))}; seed(s) "
             f"{sorted({seed for _, _, seed in cases})}", "",
             f"| data set | system | calibrated: coverage 80 % | coverage 95 % | CRPS | {head} |"
             + (" predict s: calibrated | adapted (median over the rates) |" if timed else ""),
             "| --- | --- |" + " --- | --- | --- |" * (1 + len(rates)) + " --- | --- |" * timed]
    for c in cases.values():
        cells = " | ".join(f"{c[k]['coverage_80']:.3f} | {c[k]['coverage_95']:.3f} | "
                           f"{c[k]['crps']:.4g}" for k in ["calibrated", *rates])
        seconds = (f" {c['calibrated']['seconds']:.2f} | "
                   f"{statistics.median(c[r]['seconds'] for r in rates):.2f} |" if timed else "")
        lines.append(f"| {c['dataset']} | {c['system']} | {cells} |{seconds}")
    return lines


def print_file(path: Path) -> None:
    """The runs in ``path`` (date, commit, command, machine), then their table."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run the benchmark first, or pass --results")
    print("\n".join(record.heading(about) for about, _ in record.runs(path)))
    print("\n".join(file_table(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--systems", nargs="*", choices=LSTMKIT_SYSTEMS,
                        default=list(LSTMKIT_SYSTEMS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=30, help="at most, every system")
    parser.add_argument("--rates", nargs="*", type=float, default=list(RATES))
    parser.add_argument("--models", type=Path,
                        help="folder the fitted models are kept in (outside the repository)")
    record.add_options(parser, "adaptive_intervals")
    args = parser.parse_args()
    if args.table:
        print_file(args.results)
        return
    if args.models is None:
        parser.error("--models DIR is needed to measure: where the fitted models are kept")
    run = record.start(args, "adaptive_intervals")
    for name in args.sets:
        data = DATASETS[name]
        for seed in args.seeds:
            for system in systems_of(data, args.systems):
                case = run.add({"dataset": name, "system": system, "seed": seed,
                                **run_case(data, system, seed, args.epochs, args.models,
                                           args.rates)})
                print(json.dumps(case), flush=True)
    print_file(args.results)


if __name__ == "__main__":
    main()
