"""Continued training (``fit(warm_start=True)``) on real tables: transfer, and warm backtests.

* ``transfer``: a model trained on ETTh1 (its first 16 months, the default 70/15/15 split) is
  fine-tuned on a short stretch of ETTh2 (its first ``--stretch`` rows, the last quarter of
  them validating), against a new model trained on that stretch alone (same parameters),
  for each ``--seeds``; both are scored on ETTh2's standard test months (rows 11520-14400).
  The ETTh1 model without fine-tuning ("zero-shot") and persistence are shown beside them.
* ``currencies`` (``--currencies``, in place of ``transfer``): leave one currency out of the
  exchange-rate table as eight daily series in long format. For each held-out currency a
  model is trained on the other seven over the days before the test fifth (the last 20 %
  of days; the last 15 % of each series' days validating), then fine-tuned (``lr`` lowered
  to ``--fine-tune-lr``) on the held-out currency's last ``--days`` days before the test
  fifth (the last quarter validating), against a new model trained on those days alone;
  each is scored on the held-out currency's test fifth, beside persistence and the seven-
  currency model as is ("zero-shot"). Nothing trained on lies in the test days.
* ``backtest``: ``backtest(refit=True)`` against ``refit="warm"`` on ETTh1's first
  ``--backtest-rows`` rows, ``--folds`` folds a month (720 rows) apart: wall time, epochs
  per fold and each fold's MAE.

The network is small so that it runs on a CPU: a 32-unit LSTM over all seven columns
(``channel_independent=False``) with instance normalisation, lookback 48, horizon 24, target
OT, ``max_epochs=30``, ``patience=5``. The currencies' network is a 32-unit LSTM with instance
normalisation over one series at a time, lookback 30 days, horizon 5, ``max_epochs=40``,
``patience=6``, lr 1e-3 (the fine-tuning: ``--fine-tune-lr``), batches of 128.

    OMP_NUM_THREADS=1 python benchmarks/warm_start.py
    OMP_NUM_THREADS=1 python benchmarks/warm_start.py --currencies 0 1 2 3 4 5 6 OT --skip backtest
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
RATES = ETT.parent / "exchange_rate" / "exchange_rate.csv"
RATE_SPEC = Spec(time="date", series="currency", inputs=["rate"], targets=["rate"],
                 lookback=30, horizon=5, scale_by="global")   # as recorded: before panels
                                                              # scaled per series by default
RATE_PARAMS = {"hidden": 32, "instance_norm": True, "max_epochs": 40, "patience": 6,
               "lr": 1e-3, "batch_size": 128, "progress": False}
TEST_SHARE = 0.8             # the exchange-rate table's test fifth starts here (Autoformer's)


def mae(model: LSTMModel, data: pd.DataFrame, target: str = "OT") -> tuple[float, float]:
    """The model's and persistence's MAE of ``target`` on ``data`` (every window)."""
    table = model.evaluate(data).table
    row = table[(table.target == target) & (table.metric == "MAE")].iloc[0]
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


def currencies(run: record.Run, held_out: list[str], days: list[int], seeds: list[int],
               fine_tune_lr: float) -> None:
    wide = pd.read_csv(RATES)
    # (days, 8) -> (8 * days, 3): one row per currency and day
    wide["date"] = pd.to_datetime(wide["date"], format="%Y/%m/%d %H:%M")
    rates = wide.melt(id_vars="date", var_name="currency", value_name="rate")
    before = rates[rates.date < wide.date.iloc[int(TEST_SHARE * len(wide))]]
    for currency in held_out:
        own = before[before.currency == currency]
        test = rates[rates.currency == currency].iloc[len(own) - RATE_SPEC.lookback:]
        started = time.perf_counter()
        source = LSTMModel(RATE_SPEC, **RATE_PARAMS, split=Split(val_start=0.85, test_start=None))
        source.fit(before[before.currency != currency])
        seconds = time.perf_counter() - started
        zero_shot, naive = mae(source, test, "rate")
        print("currencies", currency, "source", seconds, flush=True)
        run.add({"experiment": "currencies", "target": currency, "how": "zero-shot",
                 "seconds": seconds, "epochs": len(source.history_["epochs"]),
                 "test_mae": zero_shot, "naive": naive})
        split = Split(val_start=0.75, test_start=None)
        for n in days:
            stretch = own.iloc[-n:]
            for seed in seeds:
                for how in ("scratch", "fine-tuned"):
                    started = time.perf_counter()
                    if how == "scratch":
                        model = LSTMModel(RATE_SPEC, **{**RATE_PARAMS, "seed": seed},
                                          split=split).fit(stretch)
                    else:
                        model = copy.deepcopy(source).set_params(seed=seed, split=split,
                                                                 lr=fine_tune_lr)
                        model.fit(stretch, warm_start=True)
                    seconds = time.perf_counter() - started
                    print("currencies", currency, how, n, seed, flush=True)
                    run.add({"experiment": "currencies", "target": currency, "how": how,
                             "days": n, "seed": seed, "seconds": seconds,
                             "epochs": len(model.history_["epochs"]),
                             "test_mae": mae(model, test, "rate")[0], "naive": naive})


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
    """The tables of a run's experiments, one after another: the ETT transfer (MAE on
    ETTh2's test months), the held-out currencies (MAE relative to persistence) and the
    backtests."""
    parts = [part for part in (transfer_table(cases), currency_tables(cases),
                               backtest_table(cases)) if part]
    return [line for part in parts for line in ["", *part]][1:]


def transfer_table(cases: list[dict]) -> list[str]:
    """The ETT transfer: median and range over seeds."""
    transfer = [c for c in cases if c["experiment"] == "transfer"]
    if not transfer:
        return []
    lines = ["| ETTh2 rows trained on | from scratch | fine-tuned from ETTh1 | "
             "epochs (scratch / fine-tuned) |", "| --- | --- | --- | --- |"]
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
    return lines


def currency_tables(cases: list[dict]) -> list[str]:
    """Per held-out currency and stretch, the test MAE over persistence's (median and range
    over seeds); then per stretch, the mean over currencies and how often fine-tuning won."""
    held = [c for c in cases if c["experiment"] == "currencies"]
    if not held:
        return []
    def ratio(c: dict) -> float:
        return c["test_mae"] / c["naive"]
    days = sorted({c["days"] for c in held if "days" in c})
    lines = ["| held-out currency | days trained on | from scratch | fine-tuned from the other "
             "seven | epochs (scratch / fine-tuned) |", "| --- | --- | --- | --- | --- |"]
    for currency in dict.fromkeys(c["target"] for c in held):
        own = [c for c in held if c["target"] == currency]
        for n in days:
            of = {how: [c for c in own if c.get("days") == n and c["how"] == how]
                  for how in ("scratch", "fine-tuned")}
            cells = [record.spread([ratio(c) for c in of[h]], 3) for h in of]
            epochs = " / ".join(str(statistics.median(c["epochs"] for c in of[h])) for h in of)
            lines.append(f"| {currency} | {n} | {cells[0]} | {cells[1]} | {epochs} |")
        source = next(c for c in own if c["how"] == "zero-shot")
        lines.append(f"| {currency} | none (the seven's model as is) | | {ratio(source):.3f} | "
                     f"{source['epochs']} on the seven; persistence MAE {source['naive']:.4g} |")
    lines += ["", "| days trained on | from scratch | fine-tuned | fine-tuned better "
              "(currency and seed) | seconds (scratch / fine-tuned) |",
              "| --- | --- | --- | --- | --- |"]
    for n in days:
        pairs = {how: {(c["target"], c["seed"]): c for c in held
                       if c.get("days") == n and c["how"] == how}
                 for how in ("scratch", "fine-tuned")}
        means = [statistics.mean(ratio(c) for c in pairs[h].values()) for h in pairs]
        wins = sum(ratio(c) < ratio(pairs["scratch"][key])
                   for key, c in pairs["fine-tuned"].items())
        seconds = " / ".join(f"{statistics.median(c['seconds'] for c in pairs[h].values()):.1f}"
                             for h in pairs)
        lines.append(f"| {n} | {means[0]:.3f} | {means[1]:.3f} | {wins} of "
                     f"{len(pairs['fine-tuned'])} | {seconds} |")
    sources = [c for c in held if c["how"] == "zero-shot"]
    lines.append(f"| none (the seven's model as is) | | "
                 f"{statistics.mean(ratio(c) for c in sources):.3f} | | |")
    return lines


def backtest_table(cases: list[dict]) -> list[str]:
    """``backtest(refit=True)`` beside ``refit="warm"``."""
    runs = [c for c in cases if c["experiment"] == "backtest"]
    if not runs:
        return []
    lines = ["| backtest refit | seconds | epochs per fold | MAE per fold | mean MAE | "
             "persistence |", "| --- | --- | --- | --- | --- | --- |"]
    for c in runs:
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
    parser.add_argument("--currencies", nargs="+", metavar="COLUMN",
                        help="exchange-rate columns to hold out one at a time, in place of "
                        "the ETT transfer (the table's columns: 0-6, OT)")
    parser.add_argument("--days", type=int, nargs="+", default=[60, 120, 250],
                        help="days of the held-out currency to fine-tune or train on")
    parser.add_argument("--fine-tune-lr", type=float, default=3e-4,
                        help="the learning rate of fine-tuning the seven-currency model")
    record.add_options(parser, "warm_start")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "warm_start")
    with warnings.catch_warnings():        # the tables compare every model with persistence
        warnings.simplefilter("ignore")
        if args.currencies:
            currencies(run, args.currencies, args.days, args.seeds, args.fine_tune_lr)
        elif args.skip != "transfer":
            transfer(run, args.stretch, args.seeds)
        if args.skip != "backtest":
            backtests(run, args.backtest_rows, args.folds)
    record.print_tables(args.results, table)


if __name__ == "__main__":
    main()
