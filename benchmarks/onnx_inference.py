"""Inference latency: the exported ONNX graph in onnxruntime beside LSTMModel.predict.

Three models, trained for one epoch (timing does not depend on what was learned):

* ``forecast``: ETTh1, 7 columns, lookback 96, horizon 24, the default forecast model
  (channel-independent segment LSTM(256), parallel decoder, RevIN);
* ``general``: the same data with ``channel_independent=False`` (LSTM(64), direct, RevIN);
* ``classify``: BasicMotions (100 steps x 6), the classification preset
  (bidirectional LSTM(128) + convolutional branch).

For each, and a batch of 1 and of 256 windows, in one process and alternating:

* ``predict``: ``LSTMModel.predict`` on the raw rows of the windows, everything included
  (validation, scaling, windows, network, tidy DataFrame in original units);
* ``onnx.predict``: ``OnnxModel.predict`` on the same rows (the torch-free path, same
  DataFrame out);
* ``onnx.run``: the session alone on ready float32 windows (scaling still inside).

Both runtimes use one thread (torch.set_num_threads(1), onnxruntime intra-op 1).

    python benchmarks/onnx_inference.py                 # 20 repeats
    python benchmarks/onnx_inference.py --repeats 5
    python benchmarks/onnx_inference.py --table   # from benchmarks/results/onnx_inference.jsonl

Every repeat's seconds are appended to ``--results`` (``record.py``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
from workloads import ETT_COLUMNS, SHARED, etth1_frame

from lstmkit import LSTMModel, Spec, datasets
from lstmkit.deploy.onnx_model import OnnxModel

BATCHES = (1, 256)


def forecast_case(channel_independent: bool | None) -> tuple:
    frame = etth1_frame().iloc[:3000].reset_index(drop=True)
    spec = Spec(inputs=ETT_COLUMNS, targets=ETT_COLUMNS, lookback=96, horizon=24, time="date")
    model = LSTMModel(spec, channel_independent=channel_independent, max_epochs=1,
                      progress=False).fit(frame.iloc[:2000])

    def rows(batch: int):         # batch windows: the last 96 + batch - 1 rows, origins="all"
        return frame.iloc[-(96 + batch - 1):].reset_index(drop=True)

    def arrays(batch: int):
        values = frame[ETT_COLUMNS].to_numpy(np.float32)[-(96 + batch - 1):]
        windows = np.lib.stride_tricks.sliding_window_view(values, 96, axis=0)
        return {"numeric": np.ascontiguousarray(windows.transpose(0, 2, 1))}

    return model, rows, arrays, {"origins": "all"}


def classify_case() -> tuple:
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=SHARED)
    model = LSTMModel(max_epochs=1, batch_size=8, progress=False).fit(X, y)
    X_all = np.concatenate([X] * 7)

    def rows(batch: int):
        return X_all[:batch]

    def arrays(batch: int):
        return {"numeric": X_all[:batch].astype(np.float32),
                "lengths": np.full(batch, X.shape[1], dtype=np.int64)}

    return model, rows, arrays, {}


def time_batch(model: LSTMModel, onnx_model: OnnxModel, data, feeds: dict, predict_args: dict,
               repeats: int) -> dict[str, list[float]]:
    """Every repeat's seconds of each system on one batch, the systems alternating."""
    systems = {
        "predict": lambda: model.predict(data, **predict_args),
        "onnx.predict": lambda: onnx_model.predict(data, **predict_args),
        "onnx.run": lambda: onnx_model.session.run(None, feeds),
    }
    times: dict[str, list[float]] = {k: [] for k in systems}
    for run in systems.values():
        run()                                                   # warm-up
    for _ in range(repeats):
        for key, run in systems.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return times


HEADER = ["| model | batch | predict ms | onnx.predict ms | onnx.run ms | predict / onnx.predict "
          "| predict / onnx.run |", "| --- | --- | --- | --- | --- | --- | --- |"]


def row(case: dict) -> str:
    """The table's row of one model and batch: median milliseconds and their ratios."""
    median = {k: statistics.median(v) for k, v in case["seconds"].items()}
    p, op, r = median["predict"], median["onnx.predict"], median["onnx.run"]
    cells = [f"{p * 1e3:.2f}", f"{op * 1e3:.2f}", f"{r * 1e3:.2f}", f"{p / op:.1f}x",
             f"{p / r:.1f}x"]
    return f"| {case['model']} | {case['batch']} | " + " | ".join(cells) + " |"


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    return HEADER + [row(case) for case in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    record.add_options(parser, "onnx_inference")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    torch.set_num_threads(1)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    cases = {"forecast": lambda: forecast_case(None),
             "general": lambda: forecast_case(False),
             "classify": classify_case}
    run = record.start(args, "onnx_inference")
    print(f"python {platform.python_version()}, torch {torch.__version__}, onnxruntime "
          f"{onnxruntime.__version__}, {platform.machine()}, {args.repeats} repeats, medians\n")
    print("\n".join(HEADER))
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in cases.items():
            model, rows, arrays, predict_args = build()
            path = model.export_onnx(Path(tmp) / f"{name}.onnx")
            onnx_model = OnnxModel(path)
            onnx_model.session = onnxruntime.InferenceSession(str(path), options)
            for batch in BATCHES:
                seconds = time_batch(model, onnx_model, rows(batch), arrays(batch),
                                     predict_args, args.repeats)
                print(row(run.add({"model": name, "batch": batch, "seconds": seconds})),
                      flush=True)


if __name__ == "__main__":
    main()
