"""Where the array path's time goes: ``predict(X, output="array")`` in parts, beside the eager loop.

``speed.py`` times the whole call against a hand-written eager loop; this script splits
lstmkit's call into what it does and times each part in one process, alternating with the
eager loop's prediction (``speed.py``'s: tensors in memory, batches of 1024, no scaling):

* ``check``: reading ``X`` (``raw_sequences``: a 3-D array of finite numbers, its width).
* ``batches``: the inference batches without the network: the samples sliced and scaled
  (float32 inputs in float32 since issue 28.4, float64 before), each into the previous
  one's buffers as ``predict`` makes them (``Batches(reuse=True)``).
* ``unscaled``: the same batches of inputs already scaled (float32, sliced and copied into
  one buffer): the difference to ``batches`` is the scaling.
* ``network``: lstmkit's network over the already-scaled inputs in its own batch size, the
  outputs joined as numpy (what the eager loop does, apart from the join).
* ``decode``: the outputs to labels or values in original units, shaped like ``y``.

The model is fitted for one epoch on the workload's first 2,000 samples (the weights' values
do not change the time) and predicts all of them. Times are milliseconds, median of
``--repeats`` (min-max) after a warm-up; the share is of the eager loop's median.

    OMP_NUM_THREADS=1 python benchmarks/predict_parts.py            # W1 and W2, 15 repeats
    python benchmarks/predict_parts.py --table     # from benchmarks/results/predict_parts.jsonl

Every call's milliseconds are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
import speed
from workloads import WORKLOADS

PARTS = ("check", "batches", "unscaled", "network", "decode")


def _ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def _each(batches) -> None:
    """Make every batch, one after another, as ``predict`` does (each into the last's
    buffers)."""
    for _ in batches:
        pass


def measure(name: str, repeats: int) -> dict:
    """Milliseconds of the eager prediction, lstmkit's and its parts, alternated."""
    from lstmkit import LSTMModel, Split
    from lstmkit.data.sources import raw_sequences
    from lstmkit.data.windows import Batches
    from lstmkit.pipeline import _decode

    w = WORKLOADS[name]
    X, y = w.arrays()
    model = LSTMModel(hidden=w.hidden, layers=w.layers, bidirectional=False, conv=False,
                      dropout=0.0, instance_norm=False, batch_size=64, max_epochs=1,
                      split=Split.train_only(), progress=False, seed=0).fit(X[:2000], y[:2000])
    pipeline, spec = model.pipeline_, model.spec_
    eager = speed.eager_system(w, 64, 1.0)
    windows = pipeline._array_windows(X)
    size = pipeline._predict_batch_size(windows)
    scaled = windows.batch(slice(0, len(windows)))["x"].numpy()    # as predict scales X
    plain = pipeline._array_windows(scaled)
    plain.scaling = None
    inputs = [b["x"] for b in Batches(plain, size)]
    network = pipeline.network.eval()

    def run_network() -> np.ndarray:
        with torch.inference_mode():
            return torch.cat([network(x) for x in inputs]).numpy()

    outputs = run_network()

    def decode() -> np.ndarray:
        decoded = _decode(spec, pipeline.encoding, pipeline.tempered(outputs), values_only=True)
        return spec.shape.array_layout(decoded, None)

    np.testing.assert_array_equal(decode(), model.predict(X, output="array"))
    calls = {"eager": eager.predict, "lstmkit": lambda: model.predict(X, output="array"),
             "check": lambda: raw_sequences(X, spec),
             "batches": lambda: _each(Batches(pipeline._array_windows(X), size, reuse=True)),
             "unscaled": lambda: _each(Batches(plain, size, reuse=True)),
             "network": run_network, "decode": decode}
    for call in calls.values():
        call()
    ms: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            ms[key].append(_ms(call))
    return {"workload": name, "samples": len(X), "eager_batch": speed.INFER_BATCH,
            "lstmkit_batch": size, "ms": ms}


HEADER = ["| workload | windows per batch, eager / lstmkit | eager ms | lstmkit ms | ratio | "
          + " | ".join(PARTS) + " |", "| --- " * (5 + len(PARTS)) + "|"]


def row(case: dict) -> str:
    """One workload: medians (min-max) in ms, each part's share of the eager loop's time,
    and the throughput ratio lstmkit / eager."""
    ms = case["ms"]
    eager = statistics.median(ms["eager"])

    def cell(key: str) -> str:
        return (f"{record.spread(ms[key], 1)} ({statistics.median(ms[key]) / eager:.0%})")

    ratio = eager / statistics.median(ms["lstmkit"])
    return (f"| {case['workload']} | {case['eager_batch']} / {case['lstmkit_batch']} | "
            f"{record.spread(ms['eager'], 1)} | {cell('lstmkit')} | {ratio:.2f} | "
            + " | ".join(cell(p) for p in PARTS) + " |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    return [f"{about['options']['repeats']} repeats, {about['threads']} thread(s)", *HEADER,
            *(row(case) for case in cases)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", default=["W1", "W2"])
    parser.add_argument("--repeats", type=int, default=15)
    record.add_options(parser, "predict_parts")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "predict_parts", threads=torch.get_num_threads())
    print("\n".join(table(run.about, [])))
    for name in args.workloads:
        print(row(run.add(measure(name, args.repeats))), flush=True)


if __name__ == "__main__":
    main()
