"""Static covariates (``Feature(static=True)``) on a real panel: ETTh1 and ETTh2 as fourteen series.

Each of the seven ETT columns of each of the two transformers is a series of its own, in long
format (``series``, ``date``, ``value``): fourteen hourly series whose levels differ (the
loads around 0-40, the oil temperatures of the two transformers apart). One global model
forecasts ``value`` from its own past, with or without two static categorical inputs: the
transformer (``ETTh1`` / ``ETTh2``) and the column (``HUFL``, ..., ``OT``, embedded in 4
numbers), which the network reads once per window (its initial state).

The split is the standard ETTh one within every series (train rows 0-8640, validation
8640-11520, test 11520-14400); scored on the test part: MAE in original units over all
windows of all series, and MASE (the mean over series of the model's MAE over the seasonal
naive forecast's on the series' training part). The network is the preset's for this spec
(one channel), 32 units, lookback ``--lookback``, horizon ``--horizon``, batches of 256,
``--max-epochs`` with patience 3, for each ``--seeds``, with the instance normalisation of
the preset (each window measured against itself, which hides a series' level from the
network) and without it (``--instance-norm``).

    OMP_NUM_THREADS=1 python benchmarks/static_covariates.py
    python benchmarks/static_covariates.py --table    # the table of results/static_covariates.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd
import record

from lstmkit import Feature, LSTMModel, Spec, Split

ETT = Path(__file__).resolve().parents[2] / "shared" / "data" / "forecasting" / "ETT-small"
SPLIT = Split(val_start=8640, test_start=11520, end=14400)
STATIC = [Feature("transformer", kind="categorical", static=True),
          Feature("column", kind="categorical", static=True, embed=4)]


def panel() -> pd.DataFrame:
    """ETTh1 and ETTh2's first 14400 rows as fourteen series in long format."""
    parts = []
    for transformer in ("ETTh1", "ETTh2"):
        wide = pd.read_csv(ETT / f"{transformer}.csv").iloc[:14400]
        # (14400, 8) -> (7 * 14400, 3): one row per column and hour
        long = wide.melt(id_vars="date", var_name="column", value_name="value")
        parts.append(long.assign(transformer=transformer))
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(series=frame.transformer + "/" + frame.column)


def spec(static: bool, lookback: int, horizon: int) -> Spec:
    # one scaler per column, as recorded (before panels scaled per series by default)
    return Spec(inputs=["value", *(STATIC if static else [])], targets=["value"],
                series="series", time="date", lookback=lookback, horizon=horizon,
                scale_by="global")


def measure(run: record.Run, seeds: list[int], norms: list[str], lookback: int, horizon: int,
            max_epochs: int) -> None:
    data = panel()
    for norm, seed, static in itertools.product(norms, seeds, (False, True)):
        model = LSTMModel(spec(static, lookback, horizon), hidden=32, batch_size=256,
                          instance_norm=norm == "revin", max_epochs=max_epochs, patience=3,
                          split=SPLIT, seed=seed, progress=False)
        started = time.perf_counter()
        model.fit(data)
        seconds = time.perf_counter() - started
        evaluation = model.evaluate(data, part="test")
        per_series = evaluation.per_series
        mase = per_series[per_series.metric == "MASE"]
        print(norm, seed, "static" if static else "without", f"{seconds:.0f} s", flush=True)
        run.add({"instance_norm": norm, "static": static, "seed": seed, "seconds": seconds,
                 "epochs": len(model.history_["epochs"]),
                 "test_mae": evaluation.metric("value", "MAE"),
                 "test_mase": evaluation.metric("value", "MASE"),
                 "naive_mae": evaluation.metric("value", "MAE", of="naive"),
                 "series_mase": dict(zip(mase.series, mase.model, strict=True))})


def table(about: dict, cases: list[dict]) -> list[str]:
    """Test MAE and MASE with and without the static inputs, per instance normalisation:
    median (min-max) over seeds; then per series the MASE (median over seeds)."""
    groups = {(c["instance_norm"], c["static"]): [] for c in cases}
    for c in cases:
        groups[(c["instance_norm"], c["static"])].append(c)
    lines = ["| instance norm | static inputs | test MAE | test MASE (mean over series) | "
             "epochs | seconds |", "| --- | --- | --- | --- | --- | --- |"]
    for (norm, static), own in groups.items():
        lines.append(f"| {norm} | {'transformer, column' if static else 'none'} | "
                     f"{record.spread([c['test_mae'] for c in own], 3)} | "
                     f"{record.spread([c['test_mase'] for c in own], 3)} | "
                     f"{statistics.median(c['epochs'] for c in own)} | "
                     f"{statistics.median(c['seconds'] for c in own):.0f} |")
    lines.append(f"| persistence | | {cases[0]['naive_mae']:.3f} | | | |")
    names = [f"{norm}, {'with' if static else 'without'}" for norm, static in groups]
    lines += ["", f"| series (MASE) | {' | '.join(names)} |",
              "| --- |" + " --- |" * len(groups)]
    for series in cases[0]["series_mase"]:
        cells = [statistics.median(c["series_mase"][series] for c in own)
                 for own in groups.values()]
        lines.append(f"| {series} | {' | '.join(f'{x:.3f}' for x in cells)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lookback", type=int, default=48)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--instance-norm", nargs="+", choices=("revin", "off"),
                        default=["revin", "off"])
    record.add_options(parser, "static_covariates")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "static_covariates")
    with warnings.catch_warnings():        # the table compares every model with persistence
        warnings.simplefilter("ignore")
        measure(run, args.seeds, args.instance_norm, args.lookback, args.horizon,
                args.max_epochs)
    record.print_tables(args.results, table)


if __name__ == "__main__":
    main()
