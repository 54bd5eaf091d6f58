"""Peak memory of lstmkit versus the lookback: windows are indices, never copies.

Each measurement runs in a fresh subprocess on ETTm1 (all 7 columns in and out,
horizon 96, the standard 12/4/4-month split) and reports the process's peak
resident set size (ru_maxrss):

* ``data``: read, validate, split, scale, index the windows and gather every
  training batch of one epoch (batch 256): the data path alone.
* ``fit``: the same plus training one epoch (LSTM(32)) and evaluating on the test
  part. Backpropagation through time keeps each step's activations for one
  batch, so this part grows with batch x lookback whatever the data path does.
* ``fit, checkpoint_steps=96``: the same with the encoder trained in chunks of 96
  steps whose activations are recomputed in the backward pass.

The size that materialising every training window (windows x lookback x
features, float32) would need is printed beside them for contrast.

``--w5`` measures the speed benchmark's W5 instead: ETTh1 (all 7 columns, horizon
96, the standard split) with lstmkit's default forecast model, one epoch of
training and then a prediction from every origin of the 14400 rows, at
lookback 96, 336 and 720.

    python benchmarks/memory.py            # lookback 96 and 720, 3 repeats each
    python benchmarks/memory.py --quick    # a smoke run on 20% of the rows
    python benchmarks/memory.py --w5       # W5, lookback 96 / 336 / 720
    python benchmarks/memory.py --table    # the tables again, from benchmarks/results/memory.jsonl

Every repeat's peak RSS and seconds are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import record

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
STAGES = ("data", "fit", "chunked")


def run_w5(lookback: int) -> dict:
    """W5: the default model on ETTh1, one epoch, then predictions from every origin."""
    from lstmkit import LSTMModel, Spec, Split, datasets

    frame = datasets.load("etth1", data_dir=SHARED).iloc[:14400]
    spec = Spec(time="date", inputs=COLUMNS, targets=COLUMNS, lookback=lookback, horizon=96)
    start = time.perf_counter()
    model = LSTMModel(spec, batch_size=256, max_epochs=1, split=Split(8640, 11520, 14400),
                      progress=False).fit(frame)
    forecast = model.predict(frame, origins="all")
    return {"lookback": lookback, "segment": model.architecture_["segment"],
            "forecast_rows": len(forecast), "seconds": time.perf_counter() - start,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_one(lookback: int, fraction: float, stage: str) -> dict:
    """Run one stage (data, fit or chunked); returns its seconds and this process's peak RSS."""
    import torch

    from lstmkit import LSTMModel, Spec, Split, datasets
    from lstmkit.data import prepare
    from lstmkit.data.groups import arrange
    from lstmkit.data.windows import Batches

    frame = datasets.load("ettm1", data_dir=SHARED).iloc[: int(57600 * fraction)]
    n = len(frame)
    spec = Spec(time="date", inputs=COLUMNS, targets=COLUMNS, lookback=lookback, horizon=96)
    split = Split(val_start=int(n * 0.6), test_start=int(n * 0.8))   # 34560, 46080 at x1
    start = time.perf_counter()
    if stage == "data":
        groups = arrange(frame, spec)
        parts = prepare.assign_parts(groups, spec, split, seed=0)
        encoding = prepare.fit_encoding(groups, spec, parts)
        data = prepare.encode(groups, spec, encoding, with_targets=True)
        windows = prepare.part_windows(data, spec, parts, "train")
        total = sum(float(b["x"][:, -1].sum()) for b in Batches(windows, 256, shuffle=True))
        assert torch.isfinite(torch.tensor(total))
    else:
        chunk = 96 if stage == "chunked" else None
        model = LSTMModel(spec, hidden=32, channel_independent=False, decoder="direct",
                          batch_size=256, max_epochs=1, split=split, checkpoint_steps=chunk,
                          progress=False)
        model.fit(frame).evaluate(frame, part="test")
    windows = int(n * 0.6) - lookback - 96 + 1
    return {
        "lookback": lookback, "rows": n, "train_windows": windows,
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "materialised_train_windows_mb": windows * lookback * len(COLUMNS) * 4 / 2**20,
    }


W5_HEADER = ["| lookback | segment | forecast rows | peak RSS MB | s |",
             "| --- | --- | --- | --- | --- |"]
HEADER = ["| lookback | train windows | materialised windows MB | data path | fit + evaluate | "
          "fit + evaluate, checkpoint_steps=96 | s (plain / chunked) |",
          "| --- | --- | --- | --- | --- | --- | --- |"]


def w5_row(case: dict) -> str:
    """The W5 table's row of one lookback: peak RSS median (min-max), median seconds."""
    return (f"| {case['lookback']} | {case['segment']} | {case['forecast_rows']} | "
            f"{record.spread(case['peak_rss_mb'])} | "
            f"{statistics.median(case['seconds']):.1f} |")


def lookback_row(cases: list[dict]) -> str:
    """The table's row of one lookback from its stages' cases (data, fit, chunked); ``-``
    for a stage a stopped run did not reach."""
    by_stage = {case["stage"]: case for case in cases}
    first = next(iter(by_stage.values()))

    def cell(stage: str, figure) -> str:
        return figure(by_stage[stage]) if stage in by_stage else "-"

    peaks = [cell(stage, lambda c: record.spread(c["peak_rss_mb"])) for stage in STAGES]
    seconds = [cell(stage, lambda c: f"{statistics.median(c['seconds']):.1f}")
               for stage in STAGES[1:]]
    return (f"| {first['lookback']} | {first['train_windows']} | "
            f"{first['materialised_train_windows_mb']:.0f} | {' | '.join(peaks)} | "
            f"{seconds[0]} / {seconds[1]} |")


def ratio_lines(cases: list[dict]) -> list[str]:
    """Each stage's peak RSS ratio, the longest lookback's median over the shortest's (the
    stages measured at both)."""
    peak = {(c["lookback"], c["stage"]): statistics.median(c["peak_rss_mb"]) for c in cases}
    lookbacks = sorted({case["lookback"] for case in cases})
    low, high = lookbacks[0], lookbacks[-1]
    return [f"{stage}: peak RSS ratio lookback {high} / {low} = "
            f"{peak[high, stage] / peak[low, stage]:.3f}" for stage in STAGES
            if low != high and (low, stage) in peak and (high, stage) in peak]


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run's cases (W5's, or the ETTm1 stages')."""
    if about["options"]["w5"]:
        return W5_HEADER + [w5_row(case) for case in cases]
    lookbacks = sorted({case["lookback"] for case in cases})
    rows = [lookback_row([c for c in cases if c["lookback"] == lookback])
            for lookback in lookbacks]
    return HEADER + rows + ratio_lines(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20%% of the rows, one repeat")
    parser.add_argument("--w5", action="store_true", help="W5 (ETTh1, default model), "
                        "lookback 96 / 336 / 720")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stage", default="fit", help=argparse.SUPPRESS)
    parser.add_argument("--fraction", type=float, default=1.0, help=argparse.SUPPRESS)
    record.add_options(parser, "memory")
    args = parser.parse_args()
    record.quick_path(args, parser)
    if args.child is not None:
        result = run_w5(args.child) if args.stage == "w5" else \
            run_one(args.child, args.fraction, args.stage)
        print(json.dumps(result))
        return
    if args.table:
        record.print_tables(args.results, table)
        return
    if args.quick:
        args.fraction, args.repeats = 0.2, 1
    run = record.start(args, "memory")
    if args.w5:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores; W5, {args.repeats} "
              "repeat(s); peak RSS in MB, median (min-max)")
        print("\n".join(W5_HEADER))
        for lookback in (96, 336, 720):
            runs = [_child(lookback, 1.0, "w5") for _ in range(args.repeats)]
            case = run.add({**_first(runs, "segment", "forecast_rows"), "lookback": lookback,
                            **_repeats(runs)})
            print(w5_row(case), flush=True)
        return
    lookbacks = (96, 336) if args.quick else (96, 720)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; ETTm1 rows x{args.fraction}, {args.repeats} repeat(s); "
          "peak RSS in MB, median (min-max)")
    print("\n".join(HEADER))
    cases = []
    for lookback in lookbacks:
        stages = []
        for stage in STAGES:
            runs = [_child(lookback, args.fraction, stage) for _ in range(args.repeats)]
            stages.append(run.add({**_first(runs, "rows", "train_windows",
                                            "materialised_train_windows_mb"),
                                   "lookback": lookback, "stage": stage, **_repeats(runs)}))
        print(lookback_row(stages), flush=True)
        cases += stages
    print("\n".join(ratio_lines(cases)))


def _first(runs: list[dict], *keys: str) -> dict:
    """The figures that every repeat shares (sizes, counts), from the first."""
    return {key: runs[0][key] for key in keys}


def _repeats(runs: list[dict]) -> dict:
    """Every repeat's peak RSS (MB) and seconds, in order."""
    return {"peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in runs],
            "seconds": [round(r["seconds"], 2) for r in runs]}


def _child(lookback: int, fraction: float, stage: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(lookback), "--stage", stage,
                          "--fraction", str(fraction)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
