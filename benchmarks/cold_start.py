"""A series the model was not fitted on (a cold start), per-series against global scaling.

Leave one series out of a real panel (``benchmarks/scale_by.py``'s ``stocks`` and
``exchange``), fit the default model (every parameter the preset's, ``--epochs`` the budget)
on the others, and score the left-out series on its test part (the last 15 % of its rows)
with ``evaluate``. Scaled per series (``scale_by="series"``, a panel's default) the model
scales the new series by statistics fitted on its own rows in the table given (a warning
says so); scaled globally (the default before), by the global scalers. Beside them: the
same series' score from the same model fitted on every series (``seen``), and
persistence's.

    OMP_NUM_THREADS=1 python benchmarks/cold_start.py
    python benchmarks/cold_start.py --table    # the table of results/cold_start.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd
import record
from scale_by import PANELS, panel

from lstmkit import LSTMModel, Spec

SCALINGS = ("global", "series")


def series_mase(model: LSTMModel, table: pd.DataFrame, key: str) -> tuple[float, float]:
    """The test MASE of series ``key``: the model's and persistence's."""
    scores = model.evaluate(table, part="test").per_series
    row = scores[(scores.metric == "MASE") & (scores.series == key)].iloc[0]
    return float(row.model), float(row.naive)


def measure(run: record.Run, name: str, table: pd.DataFrame, seed: int, epochs: int) -> None:
    keys = sorted(table.unique_id.unique())
    for scale_by in SCALINGS:
        spec = Spec.from_long(table, inputs=[], scale_by=scale_by, **PANELS[name])
        every = LSTMModel(spec, seed=seed, max_epochs=epochs, progress=False).fit(table)
        for key in keys:
            start = time.perf_counter()
            model = LSTMModel(spec, seed=seed, max_epochs=epochs, progress=False).fit(
                table[table.unique_id != key])
            seconds = time.perf_counter() - start
            cold, naive = series_mase(model, table, key)
            seen, _ = series_mase(every, table, key)
            print(run.add({"panel": name, "scale_by": scale_by, "seed": seed, "series": key,
                           "cold_MASE": cold, "seen_MASE": seen, "naive_MASE": naive,
                           "fit_seconds": round(seconds, 1)}), flush=True)


def table(about: dict, cases: list[dict]) -> list[str]:
    """Per panel and scaling: the mean over left-out series of their test MASE, cold and
    seen, persistence's beside them, and the series where cold beat persistence."""
    lines = ["| panel | scale_by | series left out | MASE cold (mean) | MASE seen (mean) | "
             "persistence MASE (mean) | cold below persistence | worst cold / persistence |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in PANELS:
        for scale_by in SCALINGS:
            mine = [c for c in cases if c["panel"] == name and c["scale_by"] == scale_by]
            if not mine:
                continue
            means = [statistics.mean(c[m] for c in mine)
                     for m in ("cold_MASE", "seen_MASE", "naive_MASE")]
            below = sum(c["cold_MASE"] < c["naive_MASE"] for c in mine)
            worst = max(mine, key=lambda c: c["cold_MASE"] / c["naive_MASE"])
            lines.append(f"| {name} | {scale_by} | {len(mine)} | "
                         + " | ".join(f"{m:.3f}" for m in means)
                         + f" | {below} of {len(mine)} | {worst['series']}: "
                         f"{worst['cold_MASE'] / worst['naive_MASE']:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", nargs="+", choices=["stocks", "exchange"],
                        default=["stocks", "exchange"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--days", type=int, default=500,
                        help="the exchange-rate table's last days")
    record.add_options(parser, "cold_start")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "cold_start")
    with warnings.catch_warnings():        # the cold-start warning, on every left-out series
        warnings.simplefilter("ignore")
        for name in args.panels:
            measure(run, name, panel(name, args.days, 0), args.seed, args.epochs)
    record.print_tables(args.results, table)


if __name__ == "__main__":
    main()
