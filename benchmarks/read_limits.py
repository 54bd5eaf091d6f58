"""Peak memory of ``lstmkit serve``, ``fit`` and ``predict`` on hostile bodies and files.

Builds the inputs in a temporary directory: a Parquet file of 60 million rows in about
1 MB (two constant columns), a gzip bomb of one 400 MB line (zeros) and one of 100 million
short rows, a CSV with one 50 MB cell, a JSON body with a 401-digit integer, and a CSV
whose first row has 100,000 fields under a header of two. A small model (inputs ``a``,
``b``) is fitted on 500 random rows first.

Server: for each body a fresh ``lstmkit serve`` (default ``--max-rows`` 100,000, so
bodies up to 100 MB) on 127.0.0.1; its peak resident set size (``VmHWM`` of
``/proc/PID/status``) is read once it answers ``/health`` and again after the request,
with the status, the size of the answer, the seconds the request took and whether
``/health`` still answers.

CLI: ``lstmkit fit`` (a config whose inputs are ``a`` and ``b``) and ``lstmkit predict
--chunk-rows 65536`` on each file, each in a fresh process whose ``VmHWM`` is sampled
every 10 ms; a process past ``--cap-mb`` resident is killed and reported as such. The
Parquet file and the row bomb hold columns ``a`` and ``d``, so both commands stop with
"column 'b' is missing" once they have read: their peak is the read (fit: the whole
table; predict: the first chunk).

Every run appends its results, under ``--label``, to ``--results`` (JSON), from which
``--table`` prints the BENCHMARKS.md table. ``--src`` runs another checkout's lstmkit
(``PYTHONPATH``), e.g. the base of the bounded reads:

    git archive dab9a6a src | tar -x -C /tmp/base
    python benchmarks/read_limits.py --label before --src /tmp/base/src
    python benchmarks/read_limits.py --label after
    python benchmarks/read_limits.py --table
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "read_limits.json"
PARQUET_ROWS = 60_000_000
CAP_MB = 6000


def build_inputs(directory: Path) -> dict[str, Path]:
    """The hostile files, and the small table and config the model is fitted with."""
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)}).to_csv(
        directory / "small.csv", index=False)
    for name, data in (("model", "small.csv"), ("hostile", "HOSTILE")):
        (directory / f"{name}.yaml").write_text(
            f"data: {{path: {data}}}\nspec: {{inputs: [a, b], targets: [a], lookback: 8}}\n"
            "model: {hidden: 4}\ntraining: {max_epochs: 1}\nsplit: {val_start: 0.8, "
            "test_start: null}\n")
    block = pa.table({"a": np.zeros(1_000_000), "d": np.zeros(1_000_000)})
    with pq.ParquetWriter(directory / "rows60m.parquet", block.schema) as writer:
        for _ in range(PARQUET_ROWS // len(block)):
            writer.write_table(block)
    with gzip.open(directory / "zeros.csv.gz", "wb") as out:       # one 400 MB line
        out.write(b"a,b\n")
        for _ in range(400):
            out.write(b"0" * 1_000_000)
    with gzip.open(directory / "rows.csv.gz", "wb") as out:        # 100 M rows of 4 bytes
        out.write(b"a,d\n")
        for _ in range(100):
            out.write(b"0,0\n" * 1_000_000)
    with (directory / "line.csv").open("wb") as out:                # one 50 MB cell
        out.write(b"a,b\n1,2\n" + b"x" * 50_000_000 + b",3\n")
    (directory / "bigint.json").write_text(
        json.dumps({"rows": [{"a": 0.5, "b": 0.5}] * 20}).replace("0.5", "1" + "0" * 400, 1))
    (directory / "wide.csv").write_bytes(b"a,b\n" + b"," * 100_000 + b"\n")
    return {p.stem.split(".")[0]: p for p in directory.iterdir()}


BODIES = {  # name: (file, content type, content encoding)
    "Parquet, 60 M rows": ("rows60m", "application/vnd.apache.parquet", None),
    "gzip bomb, 100 M rows, Content-Encoding: gzip": ("rows", "text/csv", "gzip"),
    "CSV, one 50 MB cell": ("line", "text/csv", None),
    "JSON, a 401-digit integer": ("bigint", "application/json", None),
    "CSV, 100,000 fields in the first row": ("wide", "text/csv", None),
}
FILES = {  # name: file
    "Parquet, 60 M rows": "rows60m",
    "gzip bomb, one 400 MB line": "zeros",
    "gzip bomb, 100 M rows": "rows",
    "CSV, one 50 MB cell": "line",
}


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_one(model: Path, body: Path, content_type: str, encoding: str | None,
              env: dict[str, str]) -> dict:
    """A fresh server, one request: peaks before and after, status, answer size, health."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "lstmkit", "serve", str(model),
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"no server: {process.stderr.read()}") from None
                time.sleep(0.2)
        idle = peak_mb(process.pid)
        headers = {"content-type": content_type}
        if encoding:
            headers["content-encoding"] = encoding
        start = time.perf_counter()
        answer = httpx.post(f"{url}/predict", content=body.read_bytes(), headers=headers,
                            timeout=600)
        seconds = time.perf_counter() - start
        healthy = httpx.get(f"{url}/health", timeout=10).status_code == 200
        return {"idle_peak_mb": round(idle), "peak_mb": round(peak_mb(process.pid)),
                "status": answer.status_code, "answer_bytes": len(answer.content),
                "seconds": round(seconds, 2), "healthy_after": healthy,
                "answer": answer.text[:160]}
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_one(command: list[str], env: dict[str, str], cap_mb: float, stderr: Path) -> dict:
    """One CLI process: its peak RSS (sampled every 10 ms), exit code, stderr size, seconds."""
    start = time.perf_counter()
    with stderr.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        peak, killed = 0.0, False
        while process.poll() is None:
            try:
                peak = max(peak, peak_mb(process.pid))
            except (OSError, RuntimeError):     # it ended between poll() and the read
                break
            if peak > cap_mb:
                process.kill()
                killed = True
            time.sleep(0.01)
        process.wait()
    text = stderr.read_bytes()
    last = text.strip().splitlines()[-1][:160].decode(errors="replace") if text.strip() else ""
    return {"peak_mb": round(peak), "exit_code": process.returncode, "killed_at_cap": killed,
            "stderr_bytes": len(text), "seconds": round(time.perf_counter() - start, 2),
            "last_line": last}


def measure(label: str, src: Path, cap_mb: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    results: dict = {"label": label, "src": str(src), "machine": machine(), "serve": {},
                     "fit": {}, "predict": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = build_inputs(tmp)
        results["sizes_bytes"] = {name: files[name].stat().st_size for name in
                                  ("rows60m", "zeros", "rows", "line", "bigint", "wide")}
        subprocess.run([sys.executable, "-m", "lstmkit", "fit", str(files["model"]),
                        "--run-dir", str(tmp / "run"), "--no-progress"], env=env, check=True,
                       cwd=tmp, capture_output=True)
        for name, (stem, content_type, encoding) in BODIES.items():
            results["serve"][name] = serve_one(tmp / "run", files[stem], content_type,
                                               encoding, env)
            print(label, "serve", name, results["serve"][name], flush=True)
        for name, stem in FILES.items():
            config = tmp / f"fit-{stem}.yaml"
            config.write_text(files["hostile"].read_text().replace("HOSTILE", str(files[stem])))
            commands = {"fit": ["fit", str(config), "--run-dir", str(tmp / f"fit-{stem}"),
                                "--no-progress"],
                        "predict": ["predict", str(tmp / "run"), str(files[stem]), "-o",
                                    str(tmp / f"{stem}.csv"), "--chunk-rows", "65536",
                                    "--no-progress"]}
            for command, args in commands.items():
                results[command][name] = run_one([sys.executable, "-m", "lstmkit", *args], env,
                                                 cap_mb, tmp / "stderr.txt")
                print(label, command, name, results[command][name], flush=True)
    return results


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}, pandas {pd.__version__}, "
            f"pyarrow {pa.__version__}")


def table(runs: dict) -> str:
    """The BENCHMARKS.md tables: before beside after, per input."""
    before, after = runs["before"], runs["after"]
    lines = ["| `lstmkit serve`, body | bytes | before: status, peak RSS MB (idle), answer "
             "bytes, s | after: status, peak RSS MB (idle), answer bytes, s |",
             "| --- | --- | --- | --- |"]
    for name, (stem, _, _) in BODIES.items():
        cells = [f"{r['status']}, {r['peak_mb']} ({r['idle_peak_mb']}), {r['answer_bytes']:,}, "
                 f"{r['seconds']}" + ("" if r["healthy_after"] else ", **down**")
                 for r in (before["serve"][name], after["serve"][name])]
        lines.append(f"| {name} | {after['sizes_bytes'][stem]:,} | {cells[0]} | {cells[1]} |")
    lines += ["", "| command, file | bytes | before: exit, peak RSS MB, stderr bytes, s | "
              "after: exit, peak RSS MB, stderr bytes, s |", "| --- | --- | --- | --- |"]
    for command in ("fit", "predict"):
        for name, stem in FILES.items():
            cells = [(f"killed at {r['peak_mb']:,} MB" if r["killed_at_cap"] else
                      f"{r['exit_code']}, {r['peak_mb']:,}, {r['stderr_bytes']:,}, {r['seconds']}")
                     for r in (before[command][name], after[command][name])]
            lines.append(f"| `{command}`, {name} | {after['sizes_bytes'][stem]:,} | "
                         f"{cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", help="the name these results are stored under")
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the lstmkit to run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--cap-mb", type=float, default=CAP_MB,
                        help="kill a CLI process whose resident memory passes this")
    parser.add_argument("--table", action="store_true", help="print the tables and stop")
    args = parser.parse_args()
    runs = json.loads(args.results.read_text()) if args.results.exists() else {}
    if args.table:
        print(table(runs))
        return
    if not args.label:
        raise SystemExit("pass --label (or --table)")
    runs[args.label] = measure(args.label, args.src.resolve(), args.cap_mb)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
