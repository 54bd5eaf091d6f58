"""Peer side of the speed benchmark: the workloads of ``benchmarks/workloads.py``
trained with Keras 3 (TensorFlow backend), Darts ``BlockRNNModel`` and
NeuralForecast ``LSTM``, each beside lstmkit measured in the same run.

Run it with the peers' own environment (``benchmarks/peers/setup.sh`` creates it)::

    OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \\
    benchmarks/peers/.venv/bin/python benchmarks/peers/run_peers.py \\
        --systems lstmkit keras darts neuralforecast --workloads W1 W2 W4 W5 \\
        --batches 64 256 --repeats 5 [--fraction 1.0] [--epochs 1] [--quick]

Every (system, workload, batch) runs in a fresh child process (so ``peak_rss_mb``,
from ``getrusage``, is that case's own, libraries included) and prints one JSON
line: ``train_samples_per_s`` and ``infer_samples_per_s`` as [median, min, max]
over ``repeats`` timed calls, after one untimed warm-up call of each. A training
call is one ``fit`` of ``--epochs`` epochs (1 by default) over all samples, timed
around the library's public call, so its per-call set-up is included.
Combinations a system cannot express print ``"unsupported": reason`` instead.
The cases run workload by workload and batch by batch, every system's case right
after the others', so that the machine's drift hits them alike; a last table gives
lstmkit's throughput over each peer's, case by case.
Every line (with every repeat's samples/s in ``train_repeats`` and ``infer_repeats``)
is appended to ``--results`` (``benchmarks/results/peers.jsonl``; ``--quick``:
``peers-quick.jsonl``, not committed), from which ``--table`` prints the BENCHMARKS.md
table again without measuring (``benchmarks/record.py``).

lstmkit runs from its own environment (``--lstmkit-python``, by default the
repository's ``.venv``) through ``speed.py``'s ``lstmkit_system``: a fresh model
per ``fit``, its public API with everything it does (see ``speed.py``).

Mappings (``samples`` is N, the workload's sample count at ``--fraction``):

* keras: the classic examples' code. ``Sequential`` of ``LSTM`` layers (tanh),
  then ``Dense`` (W1), ``Dense(softmax)`` (W2), ``RepeatVector`` + ``LSTM`` +
  ``TimeDistributed(Dense)`` (W3) or ``Dense(out*targets)`` + ``Reshape`` (W4, W5);
  Adam, ``fit(shuffle=True)``, ``predict``. W5 is ETTh1's 7 z-scored columns cut
  into 96 -> 96 windows with numpy: LSTM(256) -> Dense(96*7), not lstmkit's model.
* darts: the workload's windows laid end to end as ONE long series of length
  N + steps + out_steps - 1, so Darts' training set (every window of it, stride
  1) holds N samples; the count reported is the length of the dataset Darts
  trains on. W1: target = the 2 target components, past covariates = the 3
  inputs (the LSTM also sees the target's own history: 5 input features). W4: a
  7-component series forecast 96 -> 96 (the workload's inputs as the series; the
  targets are its future, not the workload's mix). W5: ETTh1's 7 columns, 96 ->
  96. Darts' BlockRNN applies its linear head to each of the last out_steps
  LSTM outputs (not Dense(out*targets) on the last state). Inference is
  ``historical_forecasts(retrain=False, stride=1)`` over every window.
  W2 (classification) and W3 (encoder-decoder) have no faithful Darts form.
* neuralforecast: univariate per series. Each target component becomes its own
  series (W1: 2 series with the 3 inputs as historical exogenous columns; W4, W5:
  7 series), built from the same long series as Darts. A training step samples
  ``windows_batch_size`` = series * batch windows from all series
  (``batch_size`` = every series), and one "epoch" is ceil(N / batch) steps:
  the same optimiser steps and data per step as Keras' epoch. Only fully
  observed windows are trained (``training_data_availability_threshold=1``),
  no scaler, MSE loss, one linear decoder layer. Inference is
  ``predict_insample(step_size=1)``, the library's prediction over every window
  of the fitted series. W2 and W3 are unsupported (as for Darts).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import record
from workloads import WORKLOADS, Workload, etth1_frame

SYSTEMS = ("lstmkit", "keras", "darts", "neuralforecast")
REPO = Path(__file__).resolve().parents[2]
Result = dict[str, Any]


# ----------------------------------------------------------------- measurement


def spread(values: list[float]) -> list[float]:
    """[median, min, max] of ``values``, rounded."""
    return [round(float(np.median(values)), 2), round(min(values), 2), round(max(values), 2)]


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn`` (no warm-up here)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def rates(samples: int, seconds: list[float]) -> list[float]:
    """Samples per second for each duration, rounded."""
    return [round(samples / s, 2) for s in seconds]


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (``ru_maxrss`` is KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ----------------------------------------------------------------------- data


def sample_count(wl: Workload, fraction: float) -> int:
    """N: the workload's samples at ``fraction`` (as ``Workload.arrays`` counts)."""
    return max(1, int(wl.samples * fraction))


def etth1_values(wl: Workload, fraction: float) -> np.ndarray:
    """ETTh1's 7 columns z-scored on the training rows, cut to N windows' rows."""
    values = etth1_frame().iloc[:, 1:].to_numpy(np.float32)
    values = (values - values.mean(axis=0)) / values.std(axis=0)
    rows = sample_count(wl, fraction) + wl.steps + wl.out_steps - 1
    return np.ascontiguousarray(values[:rows])


def windows(values: np.ndarray, steps: int, out_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (steps -> out_steps) window of a (time, columns) table, materialised."""
    view = np.lib.stride_tricks.sliding_window_view(values, steps + out_steps, axis=0)
    view = view.transpose(0, 2, 1)   # (n, steps + out_steps, columns)
    return np.ascontiguousarray(view[:, :steps]), np.ascontiguousarray(view[:, steps:])


def keras_arrays(wl: Workload, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The workload's (X, y); W5's windows of ETTh1."""
    if wl.kind == "etth1":
        return windows(etth1_values(wl, fraction), wl.steps, wl.out_steps)
    return wl.arrays(fraction, seed=0)


def long_series(wl: Workload, fraction: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The workload as one long series: (targets (L, T), past covariates (L, F) or None).

    L = N + steps + out_steps - 1, so a stride-1 window count over it is N.
    W1: covariates are the inputs laid end to end (window i's last step at time
    i + steps - 1) and the target at time i + steps is y[i], so each window maps
    to the workload's (X[i][-1] -> y[i]) exactly. W4: the inputs end to end, then
    the last window's targets. W5: ETTh1.
    """
    if wl.kind == "etth1":
        return etth1_values(wl, fraction), None
    X, y = wl.arrays(fraction, seed=0)
    inputs = np.concatenate([X[0], X[1:, -1]])               # (N + steps - 1, F)
    if wl.kind == "forecast":
        covariates = np.concatenate([inputs, np.zeros_like(inputs[:1])])
        targets = np.concatenate([np.zeros((wl.steps, wl.targets), np.float32), y])
        return targets, covariates
    return np.concatenate([inputs, y[-1]]), None


def unsupported_reason(system: str, wl: Workload) -> str | None:
    """Why ``system`` cannot express ``wl`` faithfully, or None when it can."""
    if system in ("lstmkit", "keras"):
        return None
    if wl.kind == "classify":
        return f"{system} is a forecasting library: no classification head or loss"
    if wl.decoder == "repeat":
        return (f"{system} has no encoder-decoder LSTM (repeat the code, decode with a "
                "second LSTM); its models end in a linear head")
    return None


# -------------------------------------------------------------------- lstmkit


def run_lstmkit(wl: Workload, batch: int, args: argparse.Namespace) -> Result:
    """Time lstmkit ``fit`` (a fresh model each call) and ``predict`` as speed.py does."""
    import torch
    from speed import lstmkit_system

    import lstmkit

    system = lstmkit_system(wl, batch, args.fraction, epochs=args.epochs)
    system.train()
    train = timed(system.train, args.repeats)
    system.predict()
    infer = timed(system.predict, args.repeats)
    note = (f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, torch threads "
            f"{torch_threads()}; a fresh LSTMModel per fit, predict to the tidy frame")
    return {"samples": system.samples, "train": rates(system.samples * args.epochs, train),
            "infer": rates(system.infer_samples, infer), "note": note}


# ---------------------------------------------------------------------- keras


def keras_model(wl: Workload) -> Any:
    """The classic Keras Sequential network for ``wl``, compiled with Adam."""
    from keras import Input, Sequential, layers

    stack: list[Any] = [Input((wl.steps, wl.features))]
    for i in range(wl.layers):
        stack.append(layers.LSTM(wl.hidden, return_sequences=i < wl.layers - 1))
    if wl.decoder == "repeat":
        stack += [layers.RepeatVector(wl.out_steps),
                  layers.LSTM(wl.hidden, return_sequences=True),
                  layers.TimeDistributed(layers.Dense(wl.targets))]
    elif wl.kind == "classify":
        stack.append(layers.Dense(wl.targets, activation="softmax"))
    elif wl.kind == "forecast":
        stack.append(layers.Dense(wl.targets))
    else:
        stack += [layers.Dense(wl.out_steps * wl.targets),
                  layers.Reshape((wl.out_steps, wl.targets))]
    model = Sequential(stack)
    loss = "sparse_categorical_crossentropy" if wl.kind == "classify" else "mse"
    model.compile(optimizer="adam", loss=loss)
    return model


def tf_threads(tf: Any) -> str:
    """Apply TF_NUM_INTRAOP/INTEROP_THREADS explicitly; describe the setting."""
    intra = os.environ.get("TF_NUM_INTRAOP_THREADS")
    inter = os.environ.get("TF_NUM_INTEROP_THREADS")
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra))
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    return f"intra-op threads {intra or 'default'}, inter-op {inter or 'default'}"


def run_keras(wl: Workload, batch: int, args: argparse.Namespace) -> Result:
    """Time Keras ``fit`` epochs and ``predict`` calls over all samples."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras
    import tensorflow as tf

    threads = tf_threads(tf)
    keras.utils.set_random_seed(0)
    X, y = keras_arrays(wl, args.fraction)
    model = keras_model(wl)

    def fit() -> None:
        model.fit(X, y, batch_size=batch, epochs=args.epochs, verbose=0, shuffle=True)

    def predict() -> None:
        model.predict(X, batch_size=batch, verbose=0)

    fit()
    train = timed(fit, args.repeats)
    predict()
    infer = timed(predict, args.repeats)
    note = (f"keras {keras.__version__}, tensorflow {tf.__version__}, {threads}; "
            f"fit(epochs={args.epochs}) and predict timed per call")
    if wl.kind == "etth1":
        note += "; ETTh1 windows via numpy, LSTM(256)->Dense(96*7): not lstmkit's exact model"
    return {"samples": len(X), "train": rates(len(X) * args.epochs, train),
            "infer": rates(len(X), infer), "note": note}


# ---------------------------------------------------------- lightning helpers


def quiet_lightning() -> None:
    """Silence Lightning's and the libraries' per-fit info and warnings."""
    warnings.filterwarnings("ignore")
    prefixes = ("pytorch_lightning", "lightning", "lightning_fabric", "darts", "neuralforecast")
    for name in [*prefixes, *logging.root.manager.loggerDict]:
        if name.startswith(prefixes):
            logging.getLogger(name).setLevel(logging.ERROR)


def step_counter() -> Any:
    """A Lightning callback that counts training steps and the dataset's length."""
    import pytorch_lightning as pl

    class StepCounter(pl.Callback):
        """Counts optimiser steps; remembers the train dataloader's dataset length."""

        def __init__(self) -> None:
            self.steps = 0
            self.dataset_len = 0

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.dataset_len = len(trainer.train_dataloader.dataset)

        def on_train_batch_end(self, *args: Any) -> None:
            self.steps += 1

    return StepCounter()


def trainer_kwargs(callback: Any) -> dict[str, Any]:
    """CPU, no progress bar, no logger, no checkpoints, our counting callback."""
    return {"accelerator": "cpu", "enable_progress_bar": False, "logger": False,
            "enable_checkpointing": False, "enable_model_summary": False,
            "callbacks": [callback]}


def torch_threads() -> int:
    """torch's intra-op thread count."""
    import torch

    return torch.get_num_threads()


# ---------------------------------------------------------------------- darts


def run_darts(wl: Workload, batch: int, args: argparse.Namespace) -> Result:
    """Time Darts BlockRNNModel(LSTM) ``fit`` epochs and historical forecasts."""
    import darts
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    quiet_lightning()

    targets, covariates = long_series(wl, args.fraction)
    series = TimeSeries.from_values(targets.astype(np.float32))
    past = None if covariates is None else TimeSeries.from_values(covariates.astype(np.float32))
    counter = step_counter()
    model = BlockRNNModel(
        model="LSTM", input_chunk_length=wl.steps, output_chunk_length=wl.out_steps,
        hidden_dim=wl.hidden, n_rnn_layers=wl.layers, batch_size=batch,
        n_epochs=args.epochs, random_state=0, pl_trainer_kwargs=trainer_kwargs(counter))

    def fit() -> None:
        model.fit(series, past_covariates=past, epochs=args.epochs, verbose=False)

    forecasts: list[Any] = []

    def predict() -> None:
        forecasts[:] = model.historical_forecasts(
            series, past_covariates=past, forecast_horizon=wl.out_steps, stride=1,
            retrain=False, last_points_only=False, verbose=False, show_warnings=False,
            predict_kwargs={"batch_size": batch, "verbose": False})

    fit()
    samples = counter.dataset_len
    counter.steps = 0
    train = timed(fit, args.repeats)
    steps_per_fit = counter.steps // args.repeats
    predict()
    infer = timed(predict, args.repeats)
    mapping = {"forecast": f"1 series: target {wl.targets} comps, past covariates "
                           f"{wl.features} inputs",
               "seq2seq": f"1 series of {wl.targets} comps, {wl.steps}->{wl.out_steps}",
               "etth1": "1 series of ETTh1's 7 z-scored columns, 96->96"}[wl.kind]
    note = (f"darts {darts.__version__}, torch threads {torch_threads()}; {mapping}; "
            f"train dataset {samples} windows, {steps_per_fit} steps per fit; "
            f"{len(forecasts)} historical forecasts per predict; "
            "linear head per output step")
    return {"samples": samples, "train": rates(samples * args.epochs, train),
            "infer": rates(len(forecasts), infer), "note": note}


# ------------------------------------------------------------- neuralforecast


def nf_frame(wl: Workload, fraction: float) -> tuple[Any, list[str]]:
    """Long-format (unique_id, ds, y[, x*]) frame, one series per target component."""
    import pandas as pd

    targets, covariates = long_series(wl, fraction)
    length, n_series = targets.shape
    exog = [] if covariates is None else [f"x{j}" for j in range(covariates.shape[1])]
    columns: dict[str, Any] = {
        "unique_id": np.repeat([f"s{k}" for k in range(n_series)], length),
        "ds": np.tile(np.arange(length), n_series),
        "y": targets.T.reshape(-1),
    }
    for j, name in enumerate(exog):
        columns[name] = np.tile(covariates[:, j], n_series)
    return pd.DataFrame(columns), exog


def run_neuralforecast(wl: Workload, batch: int, args: argparse.Namespace) -> Result:
    """Time NeuralForecast LSTM ``fit`` epochs (as steps) and in-sample prediction."""
    import neuralforecast
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    quiet_lightning()

    df, exog = nf_frame(wl, args.fraction)
    n_series = df["unique_id"].nunique()
    samples = sample_count(wl, args.fraction)
    steps = math.ceil(samples / batch) * args.epochs
    counter = step_counter()
    model = LSTM(
        h=wl.out_steps, input_size=wl.steps, encoder_hidden_size=wl.hidden,
        encoder_n_layers=wl.layers, decoder_layers=1, hist_exog_list=exog or None,
        loss=MSE(), scaler_type="identity", batch_size=n_series,
        windows_batch_size=n_series * batch, inference_windows_batch_size=n_series * batch,
        training_data_availability_threshold=1.0, max_steps=steps, val_check_steps=steps,
        random_seed=0, **trainer_kwargs(counter))
    nf = NeuralForecast(models=[model], freq=1)
    predicted = [0]

    def fit() -> None:
        nf.fit(df)

    def predict() -> None:
        predicted[0] = len(nf.predict_insample(step_size=1))

    fit()
    counter = nf.models[0].trainer_kwargs["callbacks"][0]   # NeuralForecast copies models
    counter.steps = 0
    train = timed(fit, args.repeats)
    steps_per_fit = counter.steps // args.repeats
    predict()
    infer = timed(predict, args.repeats)
    windows_predicted = predicted[0] // (n_series * wl.out_steps)
    note = (f"neuralforecast {neuralforecast.__version__}, torch threads {torch_threads()}; "
            f"{n_series} univariate series" + (f" with hist exog {exog}" if exog else "")
            + f"; fit = {steps_per_fit} steps x {n_series * batch} windows "
            f"(batch_size={n_series} series); predict_insample predicts {windows_predicted} "
            "windows per series (start-padded ones included), rate counts N")
    return {"samples": samples, "train": rates(samples * args.epochs, train),
            "infer": rates(samples, infer), "note": note}


RUNNERS: dict[str, Callable[[Workload, int, argparse.Namespace], Result]] = {
    "lstmkit": run_lstmkit, "keras": run_keras, "darts": run_darts,
    "neuralforecast": run_neuralforecast,
}


# ---------------------------------------------------------------------- driver


def line(system: str, wl: str, batch: int, repeats: int, **fields: Any) -> str:
    """One JSON result line (``note``, if any, last)."""
    note = {"note": fields.pop("note")} if "note" in fields else {}
    return json.dumps({"system": system, "workload": wl, "batch": batch, **fields,
                       "repeats": repeats, **note})


def run_child(args: argparse.Namespace) -> None:
    """Run one (system, workload, batch) case in this process and print its line."""
    wl = WORKLOADS[args.workloads[0]]
    system, batch = args.systems[0], args.batches[0]
    result = RUNNERS[system](wl, batch, args)
    print(line(system, wl.name, batch, args.repeats, samples=result["samples"],
               train_samples_per_s=spread(result["train"]),
               infer_samples_per_s=spread(result["infer"]), peak_rss_mb=peak_rss_mb(),
               train_repeats=result["train"], infer_repeats=result["infer"],
               note=result["note"]), flush=True)


def child_command(args: argparse.Namespace, system: str, wl: str, batch: int) -> list[str]:
    """The command line that runs one case in a fresh interpreter (lstmkit's own
    environment for lstmkit, this one for the peers)."""
    python = args.lstmkit_python if system == "lstmkit" else sys.executable
    return [python, str(Path(__file__).resolve()), "--child",
            "--systems", system, "--workloads", wl, "--batches", str(batch),
            "--repeats", str(args.repeats), "--fraction", str(args.fraction),
            "--epochs", str(args.epochs)]


def run_case(args: argparse.Namespace, system: str, wl: str, batch: int) -> str:
    """Spawn the child for one case; its JSON line, or an error line if it failed."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(child_command(args, system, wl, batch), env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    lines = [s for s in proc.stdout.splitlines() if s.startswith("{")]
    if proc.returncode == 0 and lines:
        return lines[-1]
    return line(system, wl, batch, args.repeats,
                error=f"child exited {proc.returncode}; see stderr")


def run_all(args: argparse.Namespace) -> None:
    """Every requested case, systems back to back per (workload, batch): unsupported
    ones answered here, the rest in children; then lstmkit's ratios to the peers."""
    results = []
    run = record.start(args, "peers")
    for name in args.workloads:
        for batch in args.batches:
            for system in args.systems:
                reason = unsupported_reason(system, WORKLOADS[name])
                text = (line(system, name, batch, args.repeats, unsupported=reason) if reason
                        else run_case(args, system, name, batch))
                print(text, flush=True)
                results.append(run.add(json.loads(text)))
    if "lstmkit" in args.systems:
        print(ratio_table(results))


def ratio_table(results: list[Result]) -> str:
    """Markdown: lstmkit's median throughput over each peer's, same (workload, batch)."""
    measured = [r for r in results if "train_samples_per_s" in r]
    kit = {(r["workload"], r["batch"]): r for r in measured if r["system"] == "lstmkit"}
    rows = ["| system | workload | batch | lstmkit / system, train | lstmkit / system, infer |",
            "| --- | --- | --- | --- | --- |"]
    for r in measured:
        own = kit.get((r["workload"], r["batch"]))
        if r["system"] == "lstmkit" or own is None:
            continue
        train, infer = (own[k][0] / r[k][0]
                        for k in ("train_samples_per_s", "infer_samples_per_s"))
        rows.append(f"| {r['system']} | {r['workload']} | {r['batch']} | {train:.2f} | "
                    f"{infer:.2f} |")
    return "\n".join(rows)


def table(about: dict, results: list[Result]) -> list[str]:
    """The BENCHMARKS.md table of one run: every measured case (median (min-max) of the
    repeats) and lstmkit's median over the system's, same (workload, batch)."""
    measured = [r for r in results if "train_repeats" in r]
    kit = {(r["workload"], r["batch"]): r for r in measured if r["system"] == "lstmkit"}
    rows = ["| system | workload | batch | samples | train/s | infer/s | lstmkit / system, train "
            "| lstmkit / system, infer | peak RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in measured:
        own = kit.get((r["workload"], r["batch"]))
        ratios = ["-", "-"] if r["system"] == "lstmkit" or own is None else [
            f"{statistics.median(own[k]) / statistics.median(r[k]):.2f}"
            for k in ("train_repeats", "infer_repeats")]
        rows.append(f"| {r['system']} | {r['workload']} | {r['batch']} | {r['samples']} | "
                    f"{record.spread(r['train_repeats'])} | {record.spread(r['infer_repeats'])} "
                    f"| {' | '.join(ratios)} | {r['peak_rss_mb']:.0f} |")
    return rows


def default_lstmkit_python() -> Path:
    """The repository's ``.venv`` interpreter if there is one, else this interpreter."""
    venv = REPO / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides workloads, fraction, repeats, batches."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    p.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS),
                   default=["W1", "W2", "W4", "W5"])
    p.add_argument("--batches", nargs="+", type=int, default=[64, 256])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--fraction", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=1, help="epochs per timed fit call")
    p.add_argument("--quick", action="store_true",
                   help="W1 only, fraction 0.1, repeats 2, batch 64")
    p.add_argument("--lstmkit-python", default=str(default_lstmkit_python()),
                   help="the interpreter with lstmkit installed (default: the repository's "
                   ".venv, else this one)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    record.add_options(p, "peers")
    args = p.parse_args(argv)
    record.quick_path(args, p)
    if args.quick:
        args.workloads, args.fraction, args.repeats, args.batches = ["W1"], 0.1, 2, [64]
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point: a child runs one case, the parent runs them all."""
    args = parse_args(argv)
    if args.table:
        record.print_tables(args.results, table)
    elif args.child:
        run_child(args)
    else:
        run_all(args)


if __name__ == "__main__":
    main()
