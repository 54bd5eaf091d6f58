"""Start-up cost of the prediction path: importing lstmkit, loading a saved model, predicting.

Every run is a fresh process (nothing cached in memory but the OS's file cache). The Python
path runs ``from lstmkit import LSTMModel``, ``LSTMModel.load(MODEL)`` and one ``predict``
and times each phase inside the process (``import``, ``load``, ``predict``); the process's
wall time from the outside is ``process``. The CLI's wall times are ``cli_help``
(``lstmkit --help``) and ``cli_predict`` (``lstmkit predict`` writing a CSV). Each run also
records whether Lightning was imported. The model is the forecast one saved by 0.2.0
(tests/fixtures/v0_2_0/models/forecast_default), the input the first 100 rows of ETTh1.

Several lstmkit sources can be compared in one session, their runs interleaved so that a
busy machine slows them alike; each run is one line of ``--results`` (JSON lines:
label, commit, phase, run, seconds, lightning), and the table is the median per phase:

    git worktree add /tmp/before 5b316a1
    python benchmarks/import_time.py --source before=/tmp/before/src --source after=src --runs 9
    python benchmarks/import_time.py --table          # the table of the results file only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "tests" / "fixtures" / "v0_2_0" / "models" / "forecast_default"
ETTH1 = HERE.parents[1] / "shared" / "data" / "forecasting" / "ETT-small" / "ETTh1.csv"
RESULTS = HERE / "results" / "import_time.jsonl"
PHASES = ("import", "load", "predict", "process", "cli_help", "cli_predict")
CHILD = """
import json, sys, time
start = time.perf_counter()
from lstmkit import LSTMModel
imported = time.perf_counter()
model = LSTMModel.load(sys.argv[1])
loaded = time.perf_counter()
model.predict(sys.argv[2])
done = time.perf_counter()
print(json.dumps({"import": imported - start, "load": loaded - imported,
                  "predict": done - loaded,
                  "lightning": any(m.split(".")[0] == "lightning" for m in sys.modules)}))
"""


def run(args: list[str], source: Path) -> tuple[float, str]:
    """Wall seconds and stdout of ``python ARGS`` with ``source`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(source), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                            check=True)
    return time.perf_counter() - start, result.stdout


def one_run(source: Path, data: Path, work: Path) -> dict[str, float | bool]:
    """Every phase's seconds for one fresh process per path, and whether Lightning loaded."""
    model = work / "model"           # a copy: loading may recover a model directory in place
    seconds, printed = run(["-c", CHILD, str(model), str(data)], source)
    phases = json.loads(printed.strip().splitlines()[-1])
    phases["process"] = seconds
    phases["cli_help"] = run(["-m", "lstmkit", "--help"], source)[0]
    phases["cli_predict"] = run(["-m", "lstmkit", "predict", str(model), str(data), "--output",
                                 str(work / "predicted.csv"), "--overwrite", "--no-progress"],
                                source)[0]
    return phases


def commit_of(source: Path) -> str:
    """The short commit of the checkout holding ``source`` (``+`` if it has changes)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(source), *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain") else "")


def measure(sources: dict[str, Path], runs: int, results: Path) -> None:
    """``runs`` interleaved runs of every source, appended to ``results`` line by line."""
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    commits = {label: commit_of(path) for label, path in sources.items()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pd.read_csv(ETTH1).iloc[:100].to_csv(work / "etth1.csv", index=False)
        shutil.copytree(MODEL, work / "model")
        results.parent.mkdir(parents=True, exist_ok=True)
        for i in range(runs):
            for label, source in sources.items():
                phases = one_run(source.resolve(), work / "etth1.csv", work)
                with results.open("a") as out:
                    for phase in PHASES:
                        out.write(json.dumps({"label": label, "commit": commits[label],
                                              "phase": phase, "run": i,
                                              "seconds": round(phases[phase], 4),
                                              "lightning": phases["lightning"],
                                              "machine": machine}) + "\n")
                print(f"run {i + 1}/{runs} {label}: process {phases['process']:.2f} s",
                      file=sys.stderr)


def table(results: Path) -> str:
    """Median seconds per phase (rows) for each label and commit (columns), the number of
    runs and whether Lightning was imported."""
    frame = pd.read_json(results, lines=True, dtype={"commit": str})
    frame["source"] = frame.label + " (" + frame.commit + ")"
    medians = frame.pivot_table(index="phase", columns="source", values="seconds",
                                aggfunc="median").reindex(list(PHASES))
    shown = medians.map(lambda v: f"{v:.3f}")
    shown.loc["runs"] = frame.groupby("source").run.nunique().astype(str)
    shown.loc["lightning imported"] = frame.groupby("source").lightning.any().map(
        {True: "yes", False: "no"})
    return shown.to_string()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", action="append", default=[], metavar="LABEL=SRC",
                        help="an lstmkit source folder (holding lstmkit/) to measure")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per source")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON lines to append to")
    parser.add_argument("--table", action="store_true", help="only print the results' table")
    args = parser.parse_args()
    if not args.table:
        sources = dict(pair.split("=", 1) for pair in args.source) or {"this": "src"}
        measure({label: Path(path) for label, path in sources.items()}, args.runs,
                args.results)
    print(table(args.results))


if __name__ == "__main__":
    main()
