"""What pruning saves: a study on examples/seattle_weather_tune.yaml with and without it.

Both studies run the same number of trials with the same sampler seed, one with
Optuna's ``MedianPruner`` (lstmkit's default: from the sixth trial on) and one with
none, in memory. Reported per study: epochs trained in all (deterministic on CPU),
trials pruned, the best validation loss and the wall time (median over repeats).
The two studies draw the same values until the first pruned trial; after it the
sampler has seen different histories, so they compare budgets, not trial by trial.

    python benchmarks/tune.py                       # 16 trials, 1 repeat
    python benchmarks/tune.py --trials 30 --repeats 3
    python benchmarks/tune.py --table            # from benchmarks/results/tune.jsonl

Every study's figures are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit.cli.config import RunConfig
from lstmkit.tuning import tune

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "seattle_weather_tune.yaml"


def run_study(config: RunConfig, trials: int, pruner: optuna.pruners.BasePruner,
              data: object) -> dict[str, float]:
    """One in-memory study; its wall time, epochs, pruned trials and best value."""
    study = tune.create_study(config, seed=0, pruner=pruner)
    start = time.perf_counter()
    tune.optimize(study, config, trials, data=data)
    seconds = time.perf_counter() - start
    frame = tune.trials_frame(study)
    return {"seconds": seconds, "epochs": int(frame["epochs"].sum()),
            "pruned": int((frame["state"] == "pruned").sum()),
            "best": float(frame["val_loss"].min())}


HEADER = ["| pruner | trials pruned | epochs trained | best val loss | wall time (s) |",
          "| --- | ---: | ---: | ---: | ---: |"]


def row(case: dict) -> str:
    """The table's row of one pruner: the first study's counts, the median wall time."""
    r, seconds = case["runs"][0], statistics.median(r["seconds"] for r in case["runs"])
    return (f"| {case['pruner']} | {r['pruned']} | {r['epochs']} | {r['best']:.4f} | "
            f"{seconds:.0f} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    return HEADER + [row(case) for case in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    record.add_options(parser, "tune")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    config = RunConfig.read(CONFIG)
    data = config.data.load()
    run = record.start(args, "tune", threads=torch.get_num_threads())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; {args.trials} trials, "
          f"{args.repeats} repeats")
    print("\n".join(HEADER))
    for name, make in (("MedianPruner", optuna.pruners.MedianPruner),
                       ("none", optuna.pruners.NopPruner)):
        runs = [run_study(config, args.trials, make(), data) for _ in range(args.repeats)]
        print(row(run.add({"pruner": name, "runs": runs})), flush=True)


if __name__ == "__main__":
    main()
