"""Continued training (``fit(warm_start=True)``) on real tables: transfer, and warm backtests.

* ``transfer``: a model trained on ETTh1 (its first 16 months, the default 70/15/15 split) is
  fine-tuned on a short stretch of ETTh2 (its first ``--stretch`` rows, the last quarter of
  them validating), against a new model trained on that stretch alone (same parameters),
  for each ``--seeds``; both are scored on ETTh2's standard test months (rows 11520-14400).
  The ETTh1 model without fine-tuning ("zero-shot") and persistence are shown beside them.
* ``backtest``: ``backtest(refit=True)`` against ``refit="warm"`` on ETTh1's first
  ``--backtest-rows`` rows, ``--folds`` folds a month (720 rows) apart: wall time, epochs
  per fold and each fold's MAE.

The network is small so that it runs on a CPU: a 32-unit LSTM over all seven columns
(``channel_independent=False``) with instance normalisation, lookback 48, horizon 24, target
OT, ``max_epochs=30``, ``patience=5``.

    OMP_NUM_THREADS=1 python benchmarks/warm_start.py
    python benchmarks/warm_start.py --table    # the tables of results/warm_start.jsonl
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd
import record

from lstmkit import LSTMModel, Spec, Split

ETT = Path(__file__).resolve().parents[2] / "shared" / "data" / "forecasting" / "ETT-small"
INPUTS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
SPEC = Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=48, horizon=24)
PARAMS = {"hidden": 32, "channel_independent": False, "instance_norm": True, "max_epochs": 30,
          "patience": 5, "lr": 1e-3, "batch_size": 64, "progress": False}
TEST = (11520, 14400)        # ETTh2's standard test months


def mae(model: LSTMModel, data: pd.DataFrame) -> tuple[float, float]:
    """The model's and persistence's MAE of OT on ``data`` (every window)."""
    table = model.evaluate(data).table
    row = table[(table.target == "OT") & (table.metric == "MAE")].iloc[0]
    return float(row.model), float(row.naive)


def transfer(run: record.Run, stretches: list[int], seeds: list[int]) -> None:
    etth1 = pd.read_csv(ETT / "ETTh1.csv").iloc[:14400]
    etth2 = pd.read_csv(ETT / "ETTh2.csv")
    test = etth2.iloc[TEST[0] - SPEC.lookback : TEST[1]]
    started = time.perf_counter()
    source = LSTMModel(SPEC, **PARAMS).fit(etth1.iloc[:8640 + 2880])
    seconds = time.perf_counter() - started
    zero_shot, naive = mae(source, test)
    run.add({"experiment": "transfer", "how": "zero-shot", "seconds": seconds,
             "epochs": len(source.history_["epochs"]), "test_mae": zero_shot, "naive": naive})
    split = Split(val_start=0.75, test_start=None)
    for rows in stretches:
        stretch = etth2.iloc[:rows]
        for seed in seeds:
            for how in ("scratch", "fine-tuned"):
                started = time.perf_counter()
                if how == "scratch":
                    model = LSTMModel(SPEC, **{**PARAMS, "seed": seed}, split=split).fit(stretch)
                else:
                    model = copy.deepcopy(source).set_params(seed=seed, split=split)
                    model.fit(stretch, warm_start=True)
                seconds = time.perf_counter() - started
                print(how, rows, seed, flush=True)
                run.add({"experiment": "transfer", "how": how, "rows": rows, "seed": seed,
                         "seconds": seconds, "epochs": len(model.history_["epochs"]),
                         "test_mae": mae(model, test)[0], "naive": naive})


def backtests(run: record.Run, rows: int, folds: int) -> None:
    table = pd.read_csv(ETT / "ETTh1.csv").iloc[:rows]
    for refit in (True, "warm"):
        started = time.perf_counter()
        result = LSTMModel(SPEC, **PARAMS).backtest(table, folds=folds, step=720, refit=refit)
        seconds = time.perf_counter() - started
        scores = result.table[(result.table.step == "all") & (result.table.metric == "MAE")]
        print("backtest", refit, seconds, flush=True)
        run.add({"experiment": "backtest", "refit": refit, "seconds": seconds,
                 "epochs": [len(m.history_["epochs"]) for m in result.models],
                 "mae": scores.model.tolist(), "naive": scores.naive.tolist()})


def table(about: dict, cases: list[dict]) -> list[str]:
    """The transfer table (MAE on ETTh2's test months: median and range over seeds) and the
    backtest table."""
    lines = ["| ETTh2 rows trained on | from scratch | fine-tuned from ETTh1 | "
             "epochs (scratch / fine-tuned) |", "| --- | --- | --- | --- |"]
    transfer = [c for c in cases if c["experiment"] == "transfer"]
    for rows in sorted({c["rows"] for c in transfer if "rows" in c}):
        of = {how: [c for c in transfer if c.get("rows") == rows and c["how"] == how]
              for how in ("scratch", "fine-tuned")}
        cells = [record.spread([c["test_mae"] for c in of[h]], 3) for h in of]
        epochs = " / ".join(str(statistics.median(c["epochs"] for c in of[h])) for h in of)
        lines.append(f"| {rows} | {cells[0]} | {cells[1]} | {epochs} |")
    for c in transfer:
        if c["how"] == "zero-shot":
            lines.append(f"| none (ETTh1 model as is) | | {c['test_mae']:.3f} | "
                         f"{c['epochs']} on ETTh1 |")
            lines.append(f"| persistence | {c['naive']:.3f} | | |")
    lines += ["", "| backtest refit | seconds | epochs per fold | MAE per fold | mean MAE | "
              "persistence |", "| --- | --- | --- | --- | --- | --- |"]
    for c in cases:
        if c["experiment"] == "backtest":
            per_fold = ", ".join(f"{m:.3f}" for m in c["mae"])
            lines.append(f"| {c['refit']} | {c['seconds']:.0f} | "
                         f"{', '.join(map(str, c['epochs']))} | {per_fold} | "
                         f"{statistics.mean(c['mae']):.3f} | {statistics.mean(c['naive']):.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stretch", type=int, nargs="+", default=[720, 1440],
                        help="rows of ETTh2 to fine-tune or train on")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backtest-rows", type=int, default=6000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--skip", choices=("transfer", "backtest"), help="leave one out")
    record.add_options(parser, "warm_start")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "warm_start")
    with warnings.catch_warnings():        # the tables compare every model with persistence
        warnings.simplefilter("ignore")
        if args.skip != "transfer":
            transfer(run, args.stretch, args.seeds)
        if args.skip != "backtest":
            backtests(run, args.backtest_rows, args.folds)
    record.print_tables(args.results, table)


if __name__ == "__main__":
    main()
