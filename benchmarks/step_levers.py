"""Two levers on the cost of a small LSTM's training step, each measured in one process.

* ``hooks``: lstmkit's epoch with its plain backward (``loss.backward()``) against
  the same fit with a callback that listens to Lightning's backward hooks, which
  makes every step go through Lightning's ``manual_backward`` as before.
* ``compile``: the eager loop of ``speed.py`` (same network, in-memory tensors) as
  written, with ``torch.compile`` of the network, and with ``torch.compile`` of the
  whole step (forward, loss, backward, Adam); compile time reported apart.

Each way runs one warm-up epoch, then ``--repeats`` epochs alternating between the
ways (median, min-max). Run with one thread for figures comparable to speed.py:

    OMP_NUM_THREADS=1 python benchmarks/step_levers.py
    OMP_NUM_THREADS=1 python benchmarks/step_levers.py --workloads W2 --repeats 3
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
from speed import _eager_setup
from workloads import WORKLOADS, Workload


def hook_ways(w: Workload, batch: int) -> dict[str, Callable[[], float]]:
    """One-epoch lstmkit fits, plain backward or through Lightning's hooks; each returns
    the epoch's seconds."""
    import lightning.pytorch as pl

    from lstmkit import LSTMModel, Split

    X, y = w.arrays(1.0)
    options = {"hidden": w.hidden, "layers": w.layers, "bidirectional": False, "conv": False,
               "dropout": 0.0, "instance_norm": False, "batch_size": batch, "max_epochs": 1,
               "split": Split(val_start=None, test_start=None), "progress": False}

    class EpochTimer(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.seconds = time.perf_counter() - self.start

    class Listener(pl.Callback):
        def on_after_backward(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            pass

    def way(listen: bool) -> Callable[[], float]:
        def epoch() -> float:
            timer = EpochTimer()
            LSTMModel(**options).fit(X, y, callbacks=[timer, *([Listener()] if listen else [])])
            return timer.seconds
        return epoch

    return {"plain backward": way(False), "Lightning's backward hooks": way(True)}


def compile_ways(w: Workload, batch: int) -> dict[str, Callable[[], float]]:
    """The eager loop's epoch as written, with a compiled network, with a compiled step."""

    def way(mode: str) -> Callable[[], float]:
        X, y, network = _eager_setup(w, 1.0)
        if w.kind == "classify":
            y, loss_fn = y.long(), torch.nn.CrossEntropyLoss()
        else:
            loss_fn = torch.nn.MSELoss()
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
        model = torch.compile(network) if mode == "network" else network

        def step(xb: torch.Tensor, yb: torch.Tensor) -> None:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()

        run = torch.compile(step) if mode == "step" else step

        def epoch() -> float:
            start = time.perf_counter()
            order = torch.randperm(len(X))
            for i in range(0, len(X) - batch + 1, batch):   # full batches: one compiled shape
                index = order[i : i + batch]
                run(X[index], y[index])
            return time.perf_counter() - start
        return epoch

    return {"eager": way("eager"), "torch.compile(network)": way("network"),
            "torch.compile(step)": way("step")}


def measure(ways: dict[str, Callable[[], float]], repeats: int) -> dict[str, tuple]:
    """(first epoch s, median, min, max) per way, the timed epochs alternating."""
    first = {name: epoch() for name, epoch in ways.items()}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, epoch in ways.items():
            times[name].append(epoch())
    return {name: (first[name], statistics.median(t), min(t), max(t))
            for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", default=["W1", "W2"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{args.repeats} repeats\n")
    print("| workload | lever | way | first epoch s | epoch s (min-max) | time / first way |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.workloads:
        w = WORKLOADS[name]
        for lever, ways in (("hooks", hook_ways), ("compile", compile_ways)):
            results = measure(ways(w, args.batch), args.repeats)
            base = next(iter(results.values()))[1]
            for way, (first, median, lo, hi) in results.items():
                print(f"| {name} | {lever} | {way} | {first:.2f} | {median:.3f} "
                      f"({lo:.3f}-{hi:.3f}) | {median / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
