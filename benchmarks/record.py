"""Raw results of the benchmarks: one JSON line per measured case, read back for the tables.

Every benchmark script appends each case it measures (every repeat, not only the median)
to a JSON-lines file under ``benchmarks/results/`` (``--results`` changes it), each line
tagged with its run: the date, the commit, the command line, the options and the machine.
``--table`` prints the BENCHMARKS.md table of every run in the file from these lines
alone, so each figure there can be recomputed without measuring again:

    run = record.start(args, "memory")            # in a script's main, once per run
    run.add({"lookback": 96, "peak_rss_mb": [701.2, 705.0, 708.3]})
    for about, cases in record.runs(path):        # the file read back, run by run
        ...
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PACKAGES = ("torch", "lightning", "pandas", "numpy", "pyarrow", "onnxruntime", "optuna", "fastapi",
            "uvicorn", "tensorflow", "keras", "darts", "neuralforecast")
NOT_OPTIONS = ("results", "table", "child")


def add_options(parser: argparse.ArgumentParser, name: str) -> None:
    """``--results PATH`` (default ``results/NAME.jsonl``) and ``--table`` for a script."""
    parser.add_argument("--results", type=Path, default=RESULTS / f"{name}.jsonl",
                        help="JSON lines every measured case is appended to (default: "
                        "%(default)s; quick runs: NAME-quick.jsonl, not committed)")
    parser.add_argument("--table", action="store_true",
                        help="print the table of every run in --results and stop (no measuring)")


def quick_path(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Send a quick (smoke) run's lines to ``NAME-quick.jsonl`` unless --results was given."""
    default = parser.get_default("results")
    if getattr(args, "quick", False) and args.results == default:
        args.results = default.with_name(f"{default.stem}-quick.jsonl")


@dataclass
class Run:
    """One invocation of a benchmark: ``add`` appends a case's line to ``path``."""

    path: Path
    about: dict

    def add(self, case: dict) -> dict:
        """Append ``case`` (JSON-serialisable raw figures) under this run; returns ``case``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps({"run": self.about, **case}) + "\n")
        return case


def start(args: argparse.Namespace, benchmark: str, **setup: object) -> Run:
    """A run writing to ``args.results``, described by the date, commit, command line,
    the script's options (``args``), the machine and ``setup`` (figures measured once)."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
               if k not in NOT_OPTIONS}
    about = {"benchmark": benchmark,
             "date": datetime.now(UTC).isoformat(timespec="seconds"),
             "commit": commit(), "command": command_line(), "options": options,
             "machine": machine(), **setup}
    return Run(args.results, about)


def runs(path: Path) -> list[tuple[dict, list[dict]]]:
    """The file's cases grouped by run, in the order the runs began: (about, cases)."""
    grouped: dict[str, tuple[dict, list[dict]]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
            about = case.pop("run")
        except (json.JSONDecodeError, KeyError, AttributeError) as error:
            raise SystemExit(f"{path}, line {number}: not a benchmark record ({error}); "
                             "each line must be a JSON object with a 'run' key") from None
        grouped.setdefault(json.dumps(about, sort_keys=True), (about, []))[1].append(case)
    return list(grouped.values())


def heading(about: dict) -> str:
    """One line naming a run: its date, commit, command and machine."""
    m = about["machine"]
    return (f"run {about['date']}, commit {about['commit']}: {about['command']}\n"
            f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
            f"Python {m['python']}, OMP_NUM_THREADS={m['omp_num_threads']}, "
            f"load average {m['load_average']}")


def print_tables(path: Path, table) -> None:
    """Print ``table(about, cases)`` (a list of lines) for every run in ``path``."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run the benchmark first, or pass "
                         "--results with the file it wrote")
    for about, cases in runs(path):
        print(heading(about))
        print("\n".join(table(about, cases)), end="\n\n", flush=True)


def commit() -> str:
    """The short commit of this checkout, ``+dirty`` when its code (src, benchmarks' Python)
    differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(HERE), *args], capture_output=True, text=True,
                              check=False).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "../src", "*.py")
    return head + ("+dirty" if changed else "")


def command_line() -> str:
    """The command that started this process, as it could be typed again."""
    return shlex.join(["python", *sys.argv])


def machine() -> dict:
    """The machine and the software versions the figures depend on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = f"{names[0]} ({platform.machine()})" if names else cpu
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2**30, 1),
            "python": platform.python_version(), "packages": versions,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def spread(values: list[float], digits: int = 0) -> str:
    """``median (min-max)`` of ``values`` with thousands separators."""
    return (f"{statistics.median(values):,.{digits}f} "
            f"({min(values):,.{digits}f}-{max(values):,.{digits}f})")
