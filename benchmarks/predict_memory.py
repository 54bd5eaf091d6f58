"""Peak memory of ``lstmkit predict`` as the input grows 10x: it reads in chunks, so it stays flat.

Builds Parquet inputs from real data (ETTh1, 17,420 hourly rows x 7 columns) by
repeating the series under new ids (``station``), ``--series`` copies for 1x and
ten times as many for 10x, written in row groups of 65,536 rows. A small model
(LSTM(16), lookback 96, horizon 24, trained one epoch on one copy) then predicts
each file with ``lstmkit predict`` in a fresh process, and the process's peak
resident set size (GNU time's %M) is reported beside the input's size,
with the peak of merely reading the whole file into pandas for contrast. Medians
of ``--repeats`` fresh processes.

    python benchmarks/predict_memory.py                 # 10 and 100 series, origins=last
    python benchmarks/predict_memory.py --series 2 --origins all
    python benchmarks/predict_memory.py --table   # from benchmarks/results/predict_memory.jsonl

Every repeat's figures are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import record

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ETTH1 = SHARED / "forecasting" / "ETT-small" / "ETTh1.csv"
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def write_input(path: Path, series: int) -> int:
    """``series`` copies of ETTh1 under new station ids, one row group batch at a time."""
    base = pd.read_csv(ETTH1, parse_dates=["date"])
    writer = None
    for i in range(series):
        table = pa.Table.from_pandas(base.assign(station=f"station-{i:05d}"),
                                     preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=65_536)
    writer.close()
    return series * len(base)


def train(directory: Path) -> Path:
    from lstmkit import LSTMModel, Spec, Split

    frame = pd.read_csv(ETTH1).assign(station="station-00000")
    spec = Spec(time="date", series="station", inputs=COLUMNS, targets=["OT", "HUFL"],
                lookback=96, horizon=24)
    model = LSTMModel(spec, hidden=16, max_epochs=1, batch_size=256, progress=False,
                      split=Split(val_start=0.8, test_start=None))
    return model.fit(frame).save(directory / "model")


def peak_mb(command: list[str]) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one child process, measured by GNU time.

    A child forked from this (large) process would inherit its peak in ru_maxrss,
    so the small ``/usr/bin/time`` process starts the command instead.
    """
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    return int(done.stderr.strip().splitlines()[-1]) / 1024, time.perf_counter() - start


HEADER = ["| input | rows | Parquet MB | `lstmkit predict` peak RSS MB | seconds | "
          "`pd.read_parquet` alone, peak RSS MB |", "| --- | --- | --- | --- | --- | --- |"]


def row(case: dict) -> str:
    """The table's row of one input size: medians over the repeats."""
    return (f"| {case['factor']}x ({case['series']} series) | {case['rows']:,} | "
            f"{case['parquet_mb']:.0f} | {statistics.median(case['predict_peak_rss_mb']):.0f} | "
            f"{statistics.median(case['predict_seconds']):.1f} | "
            f"{statistics.median(case['read_parquet_peak_rss_mb']):.0f} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    return HEADER + [row(case) for case in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10, help="copies of ETTh1 in the 1x input")
    parser.add_argument("--origins", choices=("last", "all"), default="last")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per size")
    record.add_options(parser, "predict_memory")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "predict_memory")
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print("\n".join(HEADER))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = train(tmp)
        for factor in (1, 10):
            source = tmp / f"input-{factor}x.parquet"
            rows = write_input(source, args.series * factor)
            output = tmp / f"forecast-{factor}x.parquet"
            runs = [peak_mb([sys.executable, "-m", "lstmkit", "predict", str(model), str(source),
                             "-o", str(output), "--origins", args.origins, "--no-progress",
                             "--overwrite"])      # the previous repeat's forecast
                    for _ in range(args.repeats)]
            whole = [peak_mb([sys.executable, "-c", "import sys, pandas; "
                              "pandas.read_parquet(sys.argv[1])", str(source)])[0]
                     for _ in range(args.repeats)]
            forecasts = pq.ParquetFile(output).metadata.num_rows
            if args.origins == "last" and forecasts != args.series * factor * 24:
                raise SystemExit(f"expected 24 forecast rows per series, got {forecasts}")
            case = run.add({"factor": factor, "series": args.series * factor, "rows": rows,
                            "parquet_mb": round(source.stat().st_size / 2**20, 2),
                            "forecast_rows": forecasts,
                            "predict_peak_rss_mb": [round(r[0], 1) for r in runs],
                            "predict_seconds": [round(r[1], 2) for r in runs],
                            "read_parquet_peak_rss_mb": [round(mb, 1) for mb in whole]})
            print(row(case), flush=True)
            source.unlink()
            output.unlink()


if __name__ == "__main__":
    main()
