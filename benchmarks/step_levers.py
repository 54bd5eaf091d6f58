"""Two levers on the cost of a small LSTM's training step, each measured in one process.

* ``hooks``: lstmkit's epoch with its plain backward (``loss.backward()``) against
  the same fit with a callback that listens to Lightning's backward hooks, which
  makes every step go through Lightning's ``manual_backward`` as before.
* ``compile``: the eager loop of ``speed.py`` (same network, in-memory tensors) as
  written, with ``torch.compile`` of the network, and with ``torch.compile`` of the
  whole step (forward, loss, backward, Adam); compiling falls in the first epoch.
* ``precision``: lstmkit's epoch in float32 and with ``precision="bf16-mixed"``
  (bfloat16 autocast, float32 weights), and the eager loop both ways. On a CPU
  with AVX512-BF16 or AMX the bfloat16 matrix products run faster; without them
  autocast only adds conversions.

Each way runs one warm-up epoch, then ``--repeats`` epochs alternating between the
ways (median, min-max). Run with one thread for figures comparable to speed.py:

    OMP_NUM_THREADS=1 python benchmarks/step_levers.py
    OMP_NUM_THREADS=1 python benchmarks/step_levers.py --workloads W2 --repeats 3
    OMP_NUM_THREADS=1 python benchmarks/step_levers.py --levers precision --workloads W1 W2 W5
    python benchmarks/step_levers.py --table     # from benchmarks/results/step_levers.jsonl

Every epoch's seconds are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
from speed import eager_system, lstmkit_system
from workloads import WORKLOADS, Workload


def hook_ways(w: Workload, batch: int) -> dict[str, Callable[[], float]]:
    """speed.py's lstmkit fit, plain or with a callback listening to Lightning's backward
    hooks; each way returns its epoch's seconds."""
    import lightning.pytorch as pl

    class Listener(pl.Callback):
        def on_after_backward(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            pass

    return {"plain backward": _lstmkit_epoch(w, batch),
            "Lightning's backward hooks": _lstmkit_epoch(w, batch, callbacks=(Listener(),))}


def compile_ways(w: Workload, batch: int) -> dict[str, Callable[[], float]]:
    """speed.py's eager loop as written, with a compiled network, with a compiled step."""
    return {"eager": _eager_epoch(w, batch),
            "torch.compile(network)": _eager_epoch(w, batch, compiled="network"),
            "torch.compile(step)": _eager_epoch(w, batch, compiled="step")}


def precision_ways(w: Workload, batch: int) -> dict[str, Callable[[], float]]:
    """lstmkit's fit and the eager loop, each in float32 and in bfloat16 autocast."""
    return {"lstmkit 32-true": _lstmkit_epoch(w, batch),
            "lstmkit bf16-mixed": _lstmkit_epoch(w, batch, precision="bf16-mixed"),
            "eager float32": _eager_epoch(w, batch),
            "eager bf16 autocast": _eager_epoch(w, batch, bf16=True)}


LEVERS = {"hooks": hook_ways, "compile": compile_ways, "precision": precision_ways}


def _lstmkit_epoch(w: Workload, batch: int, **options) -> Callable[[], float]:
    """A function that fits one epoch with speed.py's lstmkit and returns the epoch's s."""
    system = lstmkit_system(w, batch, 1.0, **options)

    def epoch() -> float:
        system.train()
        return system.epoch_seconds[-1]
    return epoch


def _eager_epoch(w: Workload, batch: int, **options) -> Callable[[], float]:
    """A function that trains one epoch with speed.py's eager loop and returns its s."""
    system = eager_system(w, batch, 1.0, **options)

    def epoch() -> float:
        start = time.perf_counter()
        system.train()
        return time.perf_counter() - start
    return epoch


def measure(ways: dict[str, Callable[[], float]], repeats: int) -> dict[str, dict]:
    """Each way's first epoch's seconds and every timed epoch's, the timed epochs alternating."""
    first = {name: epoch() for name, epoch in ways.items()}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, epoch in ways.items():
            times[name].append(epoch())
    return {name: {"first_s": first[name], "seconds": times[name]} for name in ways}


HEADER = ["| workload | lever | way | first epoch s | epoch s (min-max) | time / first way |",
          "| --- | --- | --- | --- | --- | --- |"]


def row(case: dict, base: dict) -> str:
    """The table's row of one way; ``base`` is the first way of the same workload and lever."""
    t, median = case["seconds"], statistics.median(case["seconds"])
    return (f"| {case['workload']} | {case['lever']} | {case['way']} | {case['first_s']:.2f} | "
            f"{median:.3f} ({min(t):.3f}-{max(t):.3f}) | "
            f"{median / statistics.median(base['seconds']):.2f} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    lines, bases = list(HEADER), {}
    for case in cases:
        base = bases.setdefault((case["workload"], case["lever"]), case)
        lines.append(row(case, base))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", default=["W1", "W2"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--levers", nargs="*", choices=list(LEVERS), default=["hooks", "compile"])
    record.add_options(parser, "step_levers")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "step_levers", threads=torch.get_num_threads())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{args.repeats} repeats\n")
    print("\n".join(HEADER))
    for name in args.workloads:
        w = WORKLOADS[name]
        for lever in args.levers:
            cases = [run.add({"workload": name, "lever": lever, "way": way, **figures})
                     for way, figures in measure(LEVERS[lever](w, args.batch),
                                                 args.repeats).items()]
            for case in cases:
                print(row(case, cases[0]), flush=True)


if __name__ == "__main__":
    main()
