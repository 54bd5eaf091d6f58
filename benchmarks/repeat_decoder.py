"""RepeatDecoder: nn.LSTM over the repeated vector beside the input computed once per sample.

The repeat decoder's input is the same at every output step. ``RepeatDecoder``
computes the first layer's input-to-gate product once per sample and runs the
recurrence by hand on CPU for single-layer decoders of at least
``ONCE_MIN_HIDDEN`` units; this benchmark times both ways on a grid of sizes so
that threshold can be checked on any machine (median of ``--repeats``, after
warm-up; forward + backward, and forward under ``torch.inference_mode``).

    OMP_NUM_THREADS=1 python benchmarks/repeat_decoder.py
    python benchmarks/repeat_decoder.py --table   # from benchmarks/results/repeat_decoder.jsonl

Every call's milliseconds are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit.nn import Output
from lstmkit.nn.decoders import ONCE_MIN_HIDDEN, DecoderParts, RepeatDecoder

SIZES = ((64, 32, 12), (64, 64, 24), (64, 64, 96), (64, 128, 96), (64, 256, 12), (256, 256, 12))


def _times_ms(fn, repeats: int) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def measure(batch: int, hidden: int, steps: int, repeats: int) -> dict[str, list[float]]:
    """Milliseconds per call of both ways, training (forward + backward) and inference."""
    torch.manual_seed(0)
    decoder = RepeatDecoder(DecoderParts(hidden, (Output("y", "regression", 1),), hidden=hidden))
    context = torch.randn(batch, hidden, requires_grad=True)

    def repeated() -> torch.Tensor:                    # what nn.LSTM computes
        return decoder.lstm(context[:, None].expand(-1, steps, -1))[0]

    def once() -> torch.Tensor:
        return decoder._input_once(context, steps)

    result = {}
    for name, fn in (("repeated", repeated), ("once", once)):
        result[f"{name} train"] = _times_ms(lambda f=fn: f().sum().backward(), repeats)
        with torch.inference_mode():
            result[f"{name} infer"] = _times_ms(fn, repeats)
    return result


HEADER = ["| batch | units | steps | nn.LSTM train | once train | ratio | nn.LSTM infer | "
          "once infer | ratio |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]


def row(case: dict) -> str:
    """The table's row of one size: median milliseconds of each way and their ratios."""
    m = {way: statistics.median(ms) for way, ms in case["ms"].items()}
    return (f"| {case['batch']} | {case['units']} | {case['steps']} | {m['repeated train']:.2f} | "
            f"{m['once train']:.2f} | {m['repeated train'] / m['once train']:.2f} | "
            f"{m['repeated infer']:.2f} | {m['once infer']:.2f} | "
            f"{m['repeated infer'] / m['once infer']:.2f} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    return HEADER + [row(case) for case in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    record.add_options(parser, "repeat_decoder")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "repeat_decoder", threads=torch.get_num_threads(),
                       once_min_hidden=ONCE_MIN_HIDDEN)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ONCE_MIN_HIDDEN "
          f"{ONCE_MIN_HIDDEN}; ms per call, median of {args.repeats}")
    print("\n".join(HEADER))
    for batch, hidden, steps in SIZES:
        case = run.add({"batch": batch, "units": hidden, "steps": steps,
                        "ms": measure(batch, hidden, steps, args.repeats)})
        print(row(case), flush=True)


if __name__ == "__main__":
    main()
