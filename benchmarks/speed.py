"""Training and inference throughput: lstmkit beside a hand-written eager PyTorch loop.

For each workload of ``workloads.py`` and batch size, in one run and side by side:

* ``eager``: the ceiling to beat. The same network as plain ``torch.nn`` modules,
  tensors already in memory (W5: windows materialised up front), a shuffled
  index per epoch, ``zero_grad / loss / backward / step`` with Adam; inference
  under ``torch.inference_mode`` in batches of 1024.
* ``lstmkit``: the public API with everything it does included: ``LSTMModel.fit``
  (validation, scaling, window indexing, Lightning, gradient clipping) for one
  epoch on all samples (no validation part), and ``predict`` in original units:
  for array workloads (W1-W4) ``predict(X, output="array")``, the array path (the
  samples scaled batch by batch, arrays out), and in a second row the long table
  (``predict`` of the table ``from_arrays`` builds, a DataFrame out: what
  ``predict(X)`` did before the array path); for W5 the tidy DataFrame of a table.

Each (workload, batch) runs in a fresh subprocess that builds both systems, warms
each up (one epoch, one prediction), then times ``--repeats`` epochs and then
``--repeats`` predictions of each, alternating between the systems so that the
machine's drift hits both alike (median, min-max). "epoch alone" is lstmkit's
throughput over the epoch inside each timed fit (from a Lightning callback): its
optimiser steps without the fit's one-off work (scalers, window index, Trainer
setup), the rate a many-epoch fit approaches. With ``--rss`` each system's
peak resident memory is taken from one more fresh process per system. GFLOP/s
count the LSTM and dense multiply-adds (2 FLOPs each; training = 3 x forward)
and are compared with the machine's float32 matmul peak measured in the same run.
Peers (Keras, Darts, NeuralForecast) run from their own environment:
``benchmarks/peers/``.

    python benchmarks/speed.py                      # W1-W5, batch 64 and 256, 5 repeats
    python benchmarks/speed.py --quick              # a smoke run: W1 and W5 at 5 %
    python benchmarks/speed.py --workloads W1 W2 --batches 64 --repeats 3
    python benchmarks/speed.py --workloads W4 --allocator tuned   # as the lstmkit command runs
    python benchmarks/speed.py --device cuda        # on a GPU: cuDNN eager loop, lstmkit on "gpu"
    python benchmarks/speed.py --table              # the tables again, from results/speed.jsonl

On ``--device cuda`` both systems run on the GPU: the eager loop's tensors and
network live there (cuDNN's fused LSTM), lstmkit fits with ``accelerator="gpu"``,
every timed call ends with ``torch.cuda.synchronize()``, the peak is float32
matmul on the GPU, and ``--rss`` adds each fresh process's peak GPU memory.

Every case's raw figures (every repeat, samples/s) are appended to ``--results``
(``benchmarks/results/speed.jsonl``; ``--quick``: ``speed-quick.jsonl``, not committed),
from which ``--table`` prints the tables again (``record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
from workloads import ETT_COLUMNS, WORKLOADS, Workload, etth1_frame

INFER_BATCH = 1024


# -- the two systems ---------------------------------------------------------------------
@dataclass
class System:
    """``train`` runs one epoch's worth of training, ``predict`` predicts every sample once.

    For lstmkit, ``epoch_seconds`` collects the time of each fit's epoch alone (its
    steps, without the fit's one-off work), ``fitted`` holds the last model, and
    ``predict_table`` (array workloads) predicts the same samples through the long table.
    """

    train: Callable[[], None]
    predict: Callable[[], None]
    samples: int
    infer_samples: int
    epoch_seconds: list[float] = field(default_factory=list)
    fitted: Any = None
    predict_table: Callable[[], None] | None = None


def lstmkit_system(w: Workload, batch: int, fraction: float, callbacks: tuple = (),
                   precision: str = "32-true", device: str = "cpu", epochs: int = 1) -> System:
    """lstmkit's fit (``epochs`` epochs, a fresh model each call) and predict, public API
    only; ``callbacks`` go to every fit beside the epoch timer, ``precision`` to its
    training, ``device`` (``cpu`` or ``cuda``) picks Lightning's accelerator."""
    import lightning.pytorch as pl

    from lstmkit import LSTMModel, Spec, Split
    from lstmkit.data.sources import from_arrays

    common = {"batch_size": batch, "max_epochs": epochs, "split": Split.train_only(),
              "progress": False,
              "precision": precision, "accelerator": "gpu" if device == "cuda" else "cpu"}
    if w.kind == "etth1":
        frame = etth1_frame()
        frame = frame.iloc[: int(len(frame) * fraction)]
        spec = Spec(time="date", inputs=ETT_COLUMNS, targets=ETT_COLUMNS, lookback=96,
                    horizon=96)
        make = lambda seed: LSTMModel(spec, seed=seed, **common)  # noqa: E731
        fit_args, predict_args = (frame,), {"data": frame, "origins": "all"}
        samples, infer_samples = len(frame) - 96 - 96 + 1, len(frame) - 96 + 1
    else:
        X, y = w.arrays(fraction)
        options = {"hidden": w.hidden, "layers": w.layers, "bidirectional": False, "conv": False,
                   "dropout": 0.0, "instance_norm": False}
        spec = None
        if w.kind == "seq2seq":      # W4 maps 96 steps to 96: an encoder-decoder, not X(t)->Y(t)
            options["decoder"] = w.decoder
            spec = Spec([f"x{i}" for i in range(w.features)], [f"y{j}" for j in range(w.targets)],
                        task="seq2seq", horizon=w.out_steps)
        make = lambda seed: LSTMModel(spec, seed=seed, **options, **common)  # noqa: E731
        fit_args, predict_args = (X, y), {"data": X, "output": "array"}
        samples = infer_samples = len(X)
    seeds = iter(range(10**6))

    class EpochTimer(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            _synchronize(device)
            system.epoch_seconds.append(time.perf_counter() - self.start)

    def train() -> None:
        system.fitted = make(next(seeds)).fit(*fit_args, callbacks=[EpochTimer(), *callbacks])
        _synchronize(device)

    def predict() -> None:
        system.fitted.predict(**predict_args)

    def predict_table() -> None:
        system.fitted.predict(from_arrays(X, None, system.fitted.spec_)[0])

    system = System(train, predict, samples, infer_samples,
                    predict_table=None if w.kind == "etth1" else predict_table)
    return system


def eager_system(w: Workload, batch: int, fraction: float, compiled: str | None = None,
                 bf16: bool = False, device: str = "cpu") -> System:
    """A hand-written loop over in-memory tensors with the same network; ``compiled``
    (``network`` or ``step``) applies ``torch.compile`` to the network or to the whole
    training step (forward, loss, backward, Adam); ``bf16`` computes the training
    forward and loss under bfloat16 autocast, as Lightning's ``bf16-mixed`` does;
    ``device`` holds the tensors and the network (on ``cuda``, cuDNN's LSTM)."""
    import torch

    X, y, network = _eager_setup(w, fraction)
    X, y, network = X.to(device), y.to(device), network.to(device)
    loss_fn = torch.nn.CrossEntropyLoss() if w.kind == "classify" else torch.nn.MSELoss()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    model = torch.compile(network) if compiled == "network" else network

    def forward_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return loss_fn(model(xb), yb)

    if bf16:                    # as Lightning's bf16-mixed: forward and loss under autocast
        forward_loss = torch.autocast(X.device.type, dtype=torch.bfloat16)(forward_loss)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss = forward_loss(xb, yb)
        loss.backward()
        optimizer.step()

    run = torch.compile(step) if compiled == "step" else step

    def train() -> None:
        network.train()
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch):
            index = order[i : i + batch]
            run(X[index], y[index])
        _synchronize(device)

    def predict() -> None:
        network.eval()
        with torch.inference_mode():
            for i in range(0, len(X), INFER_BATCH):
                network(X[i : i + INFER_BATCH])
        _synchronize(device)

    return System(train, predict, len(X), len(X))


def _eager_setup(w: Workload, fraction: float):
    """Inputs, targets and the workload's network as plain torch modules."""
    import torch
    from torch import nn

    if w.kind == "etth1":
        return _eager_etth1(fraction)
    X, y = w.arrays(fraction)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(w.features, w.hidden, w.layers, batch_first=True)
            if w.decoder == "repeat":
                self.decoder = nn.LSTM(w.hidden, w.hidden, batch_first=True)
                self.head = nn.Linear(w.hidden, w.targets)
            else:
                self.head = nn.Linear(w.hidden, w.out_steps * w.targets)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            summary = self.encoder(x)[0][:, -1]                        # (B, H)
            if w.decoder == "repeat":
                repeated = summary[:, None].expand(-1, w.out_steps, -1)  # (B, S, H)
                return self.head(self.decoder(repeated)[0])            # (B, S, T)
            out = self.head(summary)                                   # (B, S*T)
            return out if w.kind in ("forecast", "classify") else out.view(len(x), w.out_steps,
                                                                           w.targets)

    torch.manual_seed(0)
    return torch.from_numpy(X), torch.from_numpy(y), Net()


def _eager_etth1(fraction: float):
    """ETTh1 windows materialised, z-scored with train statistics, lstmkit's default network."""
    import torch

    from lstmkit import LSTMModel, Spec, Split

    frame = etth1_frame()
    frame = frame.iloc[: int(len(frame) * fraction)]
    values = frame[ETT_COLUMNS].to_numpy(np.float32)
    values = (values - values.mean(0)) / values.std(0)
    windows = np.lib.stride_tricks.sliding_window_view(values, 192, axis=0)  # (N, C, 192)
    windows = np.ascontiguousarray(windows.transpose(0, 2, 1))              # (N, 192, C)
    spec = Spec(time="date", inputs=ETT_COLUMNS, targets=ETT_COLUMNS, lookback=96,
                horizon=96)
    tiny = LSTMModel(spec, max_epochs=1, split=Split(None, None), progress=False)
    network = tiny.fit(frame.iloc[:400]).network_                # the default architecture
    from lstmkit.nn import LSTMNetwork

    torch.manual_seed(0)
    network = LSTMNetwork(network.config)
    X, y = torch.from_numpy(windows[:, :96]), torch.from_numpy(windows[:, 96:])

    class Forecast(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.network(x)

    return X, y, Forecast()


def _synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so that a timed call includes it."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- FLOPs and the machine's peak -----------------------------------------------------------
def _lstm_flops(inputs: int, hidden: int, steps: int) -> float:
    """Forward FLOPs of one LSTM layer over ``steps`` for one sample (2 per multiply-add)."""
    return 2.0 * 4 * hidden * (inputs + hidden) * steps


def _flops(network, w: Workload, device: str = "cpu") -> float:
    """Forward FLOPs per sample of lstmkit's network (encoder, decoder, heads) on ``device``."""
    import torch

    config = network.config
    h = config.hidden
    if config.channel_independent:                      # W5 default: per channel, segments
        segments, width = w.steps // config.segment, config.segment
        out_segments = -(-w.out_steps // config.segment)
        # The parallel decoder's first layer multiplies the state once per sample.
        per_channel = (2.0 * width * h * segments + _lstm_flops(h, h, segments)
                       + 2.0 * 4 * h * h + 2.0 * h * config.segment * out_segments)
        return per_channel * w.features
    total = sum(_lstm_flops(w.features if i == 0 else h, h, w.steps) for i in range(w.layers))
    if w.decoder == "repeat":
        # The repeated input's gate product, once per sample where RepeatDecoder does so.
        input_steps = 1 if network.decoder.input_once(torch.device(device)) else w.out_steps
        total += (2.0 * 4 * h * (h * input_steps + h * w.out_steps)
                  + 2.0 * h * w.targets * w.out_steps)
    else:
        total += 2.0 * h * w.targets * w.out_steps
    return total


def matmul_peak(device: str = "cpu", repeats: int = 5) -> float:
    """Float32 GFLOP/s of a square matmul on ``device`` (2048 on CPU, 8192 on a GPU),
    median of ``repeats``."""
    import torch

    n = 2048 if device == "cpu" else 8192
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)

    def product() -> None:
        a @ b
        _synchronize(device)

    product()
    times = [_seconds(product) for _ in range(repeats)]
    return 2 * n**3 / statistics.median(times) / 1e9


# -- driver -----------------------------------------------------------------------------------
SYSTEMS = {"eager": eager_system, "lstmkit": lstmkit_system}


def child(workload: str, batch: int, fraction: float, repeats: int) -> dict:
    """Both systems on one workload, timed alternately so drift hits both alike."""
    _set_allocator()
    w, device = WORKLOADS[workload], _device()
    systems = {name: make(w, batch, fraction, device=device) for name, make in SYSTEMS.items()}
    result = {name: {"train": [], "infer": []} for name in systems}
    for system in systems.values():
        system.train()                                        # warm-up
        system.predict()
    kit = systems["lstmkit"]
    kit.epoch_seconds.clear()
    for _ in range(repeats):
        for name, system in systems.items():
            result[name]["train"].append(system.samples / _seconds(system.train))
    predictions = [(system.predict, system.infer_samples, result[name]["infer"])
                   for name, system in systems.items()]
    if kit.predict_table is not None:
        kit.predict_table()                                   # warm-up
        result["lstmkit"]["table"] = []
        predictions.append((kit.predict_table, kit.infer_samples, result["lstmkit"]["table"]))
    for _ in range(repeats):
        for predict, samples, rates in predictions:
            rates.append(samples / _seconds(predict))
    result["lstmkit"]["epoch"] = [kit.samples / s for s in kit.epoch_seconds]
    result["lstmkit"]["flops"] = _flops(kit.fitted.network_, w, device)
    result["lstmkit"]["params"] = dict(kit.fitted.architecture_)
    return result


def peak_memory(system: str, workload: str, batch: int, fraction: float) -> str:
    """Peak RSS (MB) of a fresh process that trains one epoch and predicts once, and on
    a GPU its peak allocated GPU memory (MB) after the RSS."""
    _set_allocator()
    device = _device()
    measured = SYSTEMS[system](WORKLOADS[workload], batch, fraction, device=device)
    measured.train()
    measured.predict()
    rss = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
    if device == "cpu":
        return rss
    import torch

    return f"{rss}, GPU {torch.cuda.max_memory_allocated() / 2**20:.0f}"


def _device() -> str:
    """The device chosen with --device, for this child process (both systems)."""
    return os.environ.get("SPEED_DEVICE", "cpu")


def _set_allocator() -> None:
    """The allocator chosen with --allocator, for this child process (both systems)."""
    if os.environ.get("SPEED_ALLOCATOR") == "tuned":
        from lstmkit.allocator import keep_freed_memory

        if not keep_freed_memory():
            raise RuntimeError("--allocator tuned needs glibc (Linux)")


def run_child(*args: str) -> dict | float:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def setup_line(about: dict) -> str:
    """The run's measured peak and options, as the table's first line."""
    o = about["options"]
    return (f"{o['device']} float32 matmul peak {about['matmul_peak_gflops']:.1f} GFLOP/s; "
            f"fraction {o['fraction']}, {o['repeats']} repeats; allocator {o['allocator']}")


def header(device: str) -> list[str]:
    """The table's header; on a GPU the memory column holds RSS and GPU memory."""
    return ["| workload | batch | eager train/s | lstmkit train/s | ratio | eager infer/s | "
            "lstmkit infer/s | ratio | lstmkit epoch alone/s | ratio | lstmkit GFLOP/s (of peak) "
            f"| peak {'RSS, GPU' if device == 'cuda' else 'RSS'} MB eager / lstmkit |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]


def rows(case: dict, peak: float) -> list[str]:
    """The table's row of one workload and batch (medians of the repeats, min-max, ratios of
    medians), and the long table's row where lstmkit predicted through it too."""
    eager, kit = case["eager"], case["lstmkit"]
    median = statistics.median
    train_ratio = median(kit["train"]) / median(eager["train"])
    infer_ratio = median(kit["infer"]) / median(eager["infer"])
    epoch_ratio = median(kit["epoch"]) / median(eager["train"])
    gflops = 3 * kit["flops"] * median(kit["train"]) / 1e9
    rss = " / ".join(case["rss"]) if case["rss"] else "-"
    lines = [f"| {case['workload']} | {case['batch']} | {record.spread(eager['train'])} | "
             f"{record.spread(kit['train'])} | {train_ratio:.2f} | "
             f"{record.spread(eager['infer'])} | {record.spread(kit['infer'])} | "
             f"{infer_ratio:.2f} | {record.spread(kit['epoch'])} | {epoch_ratio:.2f} | "
             f"{gflops:.1f} ({gflops / peak:.0%}) | {rss} |"]
    if "table" in kit:         # the same predictions through the long table
        ratio = median(kit["table"]) / median(eager["infer"])
        lines.append(f"| {case['workload']}, long table | {case['batch']} | - | - | - | "
                     f"{record.spread(eager['infer'])} | {record.spread(kit['table'])} | "
                     f"{ratio:.2f} | - | - | - | - |")
    return lines


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    lines = [setup_line(about), *header(about["options"]["device"])]
    for case in cases:
        lines += rows(case, about["matmul_peak_gflops"])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="W1 and W5 at 5%%, batch 64, "
                        "2 repeats")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--batches", nargs="*", type=int, default=[64, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=1.0, help="of each workload's samples")
    parser.add_argument("--rss", action="store_true", help="also peak RSS per system (one "
                        "more fresh process each)")
    parser.add_argument("--allocator", choices=("default", "tuned"), default="default",
                        help="tuned: glibc keeps freed memory, as the lstmkit command sets it "
                        "(lstmkit.allocator); applies to both systems")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where both systems train and predict")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    record.add_options(parser, "speed")
    args = parser.parse_args()
    record.quick_path(args, parser)
    if args.child:
        if args.child[0] == "rss":
            system, workload, batch, fraction = args.child[1:]
            print(json.dumps(peak_memory(system, workload, int(batch), float(fraction))))
        else:
            workload, batch, fraction, repeats = args.child
            print(json.dumps(child(workload, int(batch), float(fraction), int(repeats))))
        return
    if args.table:
        record.print_tables(args.results, table)
        return
    if args.quick:
        args.workloads, args.batches, args.repeats, args.fraction = ["W1", "W5"], [64], 2, 0.05
    os.environ["SPEED_ALLOCATOR"] = args.allocator      # read by the child processes
    os.environ["SPEED_DEVICE"] = args.device
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else None
    run = record.start(args, "speed", matmul_peak_gflops=matmul_peak(args.device), gpu=gpu,
                       threads=torch.get_num_threads())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
          f"{f', {gpu}' if gpu else ''}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {setup_line(run.about)}")
    print("\n".join(header(args.device)))
    for workload in args.workloads:
        for batch in args.batches:
            both = run_child(workload, str(batch), str(args.fraction), str(args.repeats))
            rss = [run_child("rss", s, workload, str(batch), str(args.fraction))
                   for s in SYSTEMS] if args.rss else None
            case = run.add({"workload": workload, "batch": batch, **both, "rss": rss})
            print("\n".join(rows(case, run.about["matmul_peak_gflops"])), flush=True)


if __name__ == "__main__":
    main()
