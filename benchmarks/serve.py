"""Latency and throughput of ``lstmkit serve`` under a bounded local load.

Starts the server on 127.0.0.1 in a subprocess (the quickstart model, trained
first unless ``--model`` names one), then for each backend and request shape
runs ``clients`` concurrent threads, each with its own keep-alive HTTP
connection, sending ``requests`` POST /predict requests back to back. Reported
per run: requests/s, p50 and p99 latency (client side, whole request), failed
requests (anything but 200). Medians over ``--repeats`` runs.

Shapes: ``single`` is one window (the last 28 days, origins=last); ``batch`` is
1,000 windows in one request (1,027 days, origins=all). Both are JSON rows.

    python benchmarks/serve.py              # torch, and onnx when onnxruntime is installed
    python benchmarks/serve.py --model runs/seattle_weather --repeats 5
    python benchmarks/serve.py --quick      # a smoke run (results: serve-quick.jsonl)
    python benchmarks/serve.py --table      # the table again, from benchmarks/results/serve.jsonl

Every repeat's requests/s, p50, p99 and failures are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import record

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "seattle_weather.yaml"
LOOKBACK = 28
SHAPES = {  # name: (rows sent, origins, clients, requests per client)
    "single": (LOOKBACK, "last", 4, 250),
    "batch": (LOOKBACK + 999, "all", 2, 10),
}


def train_quickstart(directory: Path) -> Path:
    run = directory / "seattle_weather"
    subprocess.run([sys.executable, "-m", "lstmkit", "fit", str(QUICKSTART), "--run-dir",
                    str(run), "--no-progress"], check=True, capture_output=True)
    return run


def start_server(model: Path, backend: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "lstmkit", "serve", str(model), "--port",
                                str(port), "--backend", backend, "--max-rows", "5000"])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {backend} server exited at start-up")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not answer /health within 120 s")


def payload(rows: int) -> dict:
    from lstmkit import datasets

    frame = datasets.load("seattle_weather").tail(rows)
    return {"rows": frame.assign(date=frame.date.dt.strftime("%Y-%m-%d")).to_dict("records")}


def load(url: str, body: dict, origins: str, clients: int, requests: int) -> dict:
    """``clients`` threads x ``requests`` requests; latencies in ms, failures, requests/s."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)

    def client() -> None:
        mine, failed = [], 0
        with httpx.Client(base_url=url, timeout=60) as http:
            http.post("/predict", params={"origins": origins}, json=body)     # connect, warm
            start_line.wait()
            for _ in range(requests):
                t = time.perf_counter()
                try:
                    ok = http.post("/predict", params={"origins": origins},
                                   json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append((time.perf_counter() - t) * 1e3)
                failed += not ok
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {"rps": len(latencies) / elapsed, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "failed": failures[0],
            "requests": len(latencies)}


HEADER = ["| backend | request | clients | requests/s | p50 ms | p99 ms | failed |",
          "| --- | --- | --- | --- | --- | --- | --- |"]


def row(case: dict) -> str:
    """The table's row of one backend, shape and concurrency: medians over the repeats,
    failures summed."""
    runs = case["runs"]
    median = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
    failed = sum(r["failed"] for r in runs)
    total = sum(r["requests"] for r in runs)
    return (f"| {case['backend']} | {case['shape']} ({case['rows']} rows) | {case['clients']} | "
            f"{median['rps']:.0f} | {median['p50']:.2f} | {median['p99']:.2f} | "
            f"{failed} of {total} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    return HEADER + [row(case) for case in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model directory (default: train quickstart)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=None, help="torch and/or onnx")
    parser.add_argument("--quick", action="store_true", help="a smoke run: torch only, "
                        "a tenth of the requests, one repeat")
    record.add_options(parser, "serve")
    args = parser.parse_args()
    record.quick_path(args, parser)
    if args.table:
        record.print_tables(args.results, table)
        return
    if args.quick:
        args.backends, args.repeats = args.backends or ["torch"], 1
    backends = args.backends or ["torch"] + (
        ["onnx"] if importlib.util.find_spec("onnxruntime") else [])
    run = record.start(args, "serve")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or train_quickstart(Path(tmp))
        print(f"model {model}; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}")
        print("\n".join(HEADER))
        for backend in backends:
            process, url = start_server(model, backend)
            try:
                for shape, (rows, origins, clients, requests) in SHAPES.items():
                    body = payload(rows)
                    requests = max(1, requests // 10) if args.quick else requests
                    for concurrency in sorted({1, clients}):
                        runs = [load(url, body, origins, concurrency, requests)
                                for _ in range(args.repeats)]
                        case = run.add({"backend": backend, "shape": shape, "rows": rows,
                                        "origins": origins, "clients": concurrency,
                                        "requests_per_client": requests, "runs": runs})
                        print(row(case), flush=True)
            finally:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
