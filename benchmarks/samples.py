"""What sampling costs: ``predict(samples=N)`` beside ``predict`` for distribution targets.

One small model per case (hidden 16, lookback 96, horizon 24, 2 epochs: the network's size
barely matters, the draws and the table do), then ``predict(origins="all")`` over the last
2,000 rows with and without ``samples`` (``--samples``, 100 by default), ``--repeats``
times each, alternated; the median seconds and the rows returned. Cases:

* ``normal``: ETTh1's OT (a normal target) from HUFL and OT.
* ``negative_binomial``: Beijing PM2.5's pm2.5 (a count, in whole ug/m3) from the weather
  columns and pm2.5, the first 8,000 rows.

    OMP_NUM_THREADS=1 python benchmarks/samples.py [--samples 100] [--repeats 3]
    python benchmarks/samples.py --table       # the table of results/samples.jsonl
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

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = {
    "normal": ("etth1", "OT", ["HUFL", "OT"], None),
    "negative_binomial": ("beijing_pm25", "pm2.5", ["DEWP", "TEMP", "PRES", "Iws", "pm2.5"],
                          8000),
}


def measure(case: str, samples: int, repeats: int) -> dict:
    name, target, inputs, rows = CASES[case]
    frame = datasets.load(name, data_dir=SHARED).iloc[:rows]
    # pm2.5 has gaps: its windows read them masked (missing="mask")
    features = [Feature(c, missing="mask" if frame[c].isna().any() else None) for c in inputs]
    spec = Spec(time="date", inputs=features, targets=[Target(target, distribution=case)],
                lookback=96, horizon=24)
    model = LSTMModel(spec, hidden=16, max_epochs=2, progress=False, seed=0,
                      split=Split(val_start=0.8, test_start=None)).fit(frame)
    data = frame.iloc[-2000:]
    calls = {"plain": {}, "samples": {"samples": samples, "seed": 0}}
    seconds: dict[str, list[float]] = {label: [] for label in calls}
    size = {}
    for _ in range(repeats):
        for label, options in calls.items():
            started = time.perf_counter()
            size[label] = len(model.predict(data, origins="all", **options))
            seconds[label].append(time.perf_counter() - started)
    return {"case": case, "samples": samples, "plain_s": seconds["plain"],
            "samples_s": seconds["samples"], "plain_rows": size["plain"],
            "samples_rows": size["samples"]}


def table(about: dict, cases: list[dict]) -> list[str]:
    lines = ["| distribution | predict (s) | rows | samples | predict with samples (s) | rows "
             "| ratio |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in cases:
        plain, drawn = statistics.median(c["plain_s"]), statistics.median(c["samples_s"])
        lines.append(f"| {c['case']} | {plain:.3f} | {c['plain_rows']:,} | {c['samples']} | "
                     f"{drawn:.3f} | {c['samples_rows']:,} | {drawn / plain:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="*", choices=list(CASES), default=list(CASES))
    record.add_options(parser, "samples")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    warnings.simplefilter("ignore")
    run = record.start(args, "samples")
    for case in args.cases:
        run.add(measure(case, args.samples, args.repeats))
    record.print_tables(args.results, table)


if __name__ == "__main__":
    main()
