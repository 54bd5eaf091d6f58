"""The default forecast model's training step at long horizons, three ways in one process.

The channel-independent preset (segment LSTM, parallel decoder, dropout before the
heads) at weather's shape: 21 channels, batch 256, lookback 96, horizons 96 to 720.
Its parallel decoder runs one LSTM step for every (window x channel, output
segment) pair, so at H=720 the decoder's tensors are (5376, 30, 256) and their
elementwise work, not the encoder's products, decides the step's time. Ways:

* ``plain``: the decoder's first layer by autograd over the plain formula
  (``plain_lstm_step``) and torch's ``nn.Dropout``: lstmkit before this benchmark.
* ``broadcast step``: ``broadcast_lstm_step`` (blocks, hand-written backward) and
  torch's ``nn.Dropout``.
* ``default``: ``broadcast_lstm_step`` and lstmkit's 16-bit-mask ``Dropout``.

Each way times a whole training step (forward, MSE, backward, Adam) on random inputs:
one warm-up step, then ``--repeats`` steps alternating between the ways (median,
min-max). "saved MB" is what autograd keeps for the backward pass (distinct
storages). Run with one thread for figures comparable to speed.py:

    OMP_NUM_THREADS=1 python benchmarks/long_horizon.py
    OMP_NUM_THREADS=1 python benchmarks/long_horizon.py --horizons 720 --allocator tuned
    python benchmarks/long_horizon.py --table    # from benchmarks/results/long_horizon.jsonl

Every repeat's seconds and the saved MB are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit import Spec, presets
from lstmkit.allocator import keep_freed_memory
from lstmkit.nn import LSTMNetwork, NetworkConfig, Output, decoders
from lstmkit.nn.broadcast_step import broadcast_lstm_step, plain_lstm_step
from lstmkit.nn.dropout import Dropout

CHANNELS, BATCH, LOOKBACK = 21, 256, 96
WAYS = {  # name -> (decoder step, dropout module class)
    "plain": (plain_lstm_step, nn.Dropout),
    "broadcast step": (broadcast_lstm_step, nn.Dropout),
    "default": (broadcast_lstm_step, Dropout),
}


def default_network(horizon: int) -> LSTMNetwork:
    """The network LSTMModel builds for a forecast of every channel from every channel."""
    names = [f"c{i}" for i in range(CHANNELS)]
    spec = Spec(inputs=names, targets=names, lookback=LOOKBACK, horizon=horizon)
    a = presets.resolve(spec, {})
    config = NetworkConfig(
        n_inputs=CHANNELS, outputs=tuple(Output(n, "regression", 1) for n in names),
        steps=horizon, hidden=a["hidden"], dropout=a["dropout"], decoder=a["decoder"],
        instance_norm=a["instance_norm"], numeric_inputs=(True,) * CHANNELS,
        target_channels=tuple(range(CHANNELS)), checkpoint_steps=a["checkpoint_steps"],
        segment=a["segment"], channel_independent=a["channel_independent"])
    torch.manual_seed(0)
    return LSTMNetwork(config)


def training_step(horizon: int, way: str) -> tuple[Callable[[], float], Callable[[], float]]:
    """(seconds of one training step, MB autograd saves for one backward) for ``way``."""
    net = default_network(horizon).train()
    step_fn, dropout = WAYS[way]
    net.decoder.dropout = dropout(net.config.dropout)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)
    x, y = torch.randn(BATCH, LOOKBACK, CHANNELS), torch.randn(BATCH, horizon, CHANNELS)

    def loss() -> torch.Tensor:
        original = decoders.broadcast_lstm_step
        decoders.broadcast_lstm_step = step_fn
        try:
            return nn.functional.mse_loss(net(x), y)
        finally:
            decoders.broadcast_lstm_step = original

    def seconds() -> float:
        start = time.perf_counter()
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
        return time.perf_counter() - start

    def saved_mb() -> float:
        storages: dict[int, int] = {}

        def keep(t: torch.Tensor) -> torch.Tensor:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            out = loss()
        del out
        return sum(storages.values()) / 2**20

    return seconds, saved_mb


HEADER = ["| horizon | way | step s | saved MB | speed-up over plain |",
          "| --- | --- | --- | --- | --- |"]


def row(case: dict, plain: dict) -> str:
    """The table's row of one horizon and way; ``plain`` is the same horizon's plain case."""
    t, median = case["seconds"], statistics.median(case["seconds"])
    return (f"| {case['horizon']} | {case['way']} | {median:.3f} ({min(t):.3f}-{max(t):.3f}) | "
            f"{case['saved_mb']:,.0f} | {statistics.median(plain['seconds']) / median:.2f} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    plain = {case["horizon"]: case for case in cases if case["way"] == "plain"}
    return HEADER + [row(case, plain[case["horizon"]]) for case in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", nargs="*", type=int, default=[96, 192, 336, 720])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--allocator", choices=["default", "tuned"], default="default",
                        help="tuned: lstmkit.allocator.keep_freed_memory(), as the CLI sets")
    record.add_options(parser, "long_horizon")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    if args.allocator == "tuned" and not keep_freed_memory():
        raise SystemExit("keep_freed_memory() did not apply here")
    assert decoders.Dropout is Dropout, "the decoders' dropout is not the one timed as default"
    run = record.start(args, "long_horizon", threads=torch.get_num_threads())
    print(f"threads {torch.get_num_threads()}, allocator {args.allocator}, "
          f"{args.repeats} repeats; batch {BATCH} x {CHANNELS} channels, lookback {LOOKBACK}\n")
    print("\n".join(HEADER))
    for horizon in args.horizons:
        ways = {way: training_step(horizon, way) for way in WAYS}
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        for seconds, _ in ways.values():
            seconds()                                         # warm-up
        for _ in range(args.repeats):
            for way, (seconds, _) in ways.items():
                times[way].append(seconds())
        cases = {way: run.add({"horizon": horizon, "way": way, "seconds": times[way],
                               "saved_mb": saved_mb()})
                 for way, (_, saved_mb) in ways.items()}
        for case in cases.values():
            print(row(case, cases["plain"]), flush=True)


if __name__ == "__main__":
    main()
