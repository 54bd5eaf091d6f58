"""What scaling float32 inputs in float32 changes: the array path beside the long table.

Since issue 28.4 the array path of ``predict`` (a 3-D float32 ``X``) scales each batch in
float32, ``(x - center) / scale`` with the fitted scalers' float64 center and scale rounded
to float32; the long table (``predict`` of the table ``from_arrays`` builds) scales in
float64 as the scalers do, as the array path did before. On real tables this script fits
a small model (seed 0, one epoch) and compares the two routes over the same windows:

* ``uci_har``: the UCI HAR subset (``shared/data``), 9 channels x 128 steps, 6 activities;
  fitted on its 2,400 TRAIN windows, compared on its 950 TEST windows (class
  probabilities and labels).
* ``etth1``: ETTh1's first 2,000 rows, 96-step windows of all 7 columns (float32), the next
  row's OT (degrees C) as a sequence regression target (value in original units).

Per table: the share of scaled input values that differ (float32 against float64
arithmetic), their largest difference (in scaled units, beside the largest scaled value),
the largest difference of the predictions (probabilities; degrees C, beside the largest
prediction) and the labels that changed.

    OMP_NUM_THREADS=1 python benchmarks/array_scaling.py
    python benchmarks/array_scaling.py --table     # from benchmarks/results/array_scaling.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
from workloads import ETT_COLUMNS, etth1_frame

DATA = Path(os.environ.get("LSTMKIT_DATA_DIR", "/work/shared/data"))


def tables() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each real table as (X to fit on, y, X to compare on), float32 X."""
    har = np.load(DATA / "classification/UCI_HAR_subset/uci_har_subset_inertial.npz")
    values = etth1_frame()[ETT_COLUMNS].to_numpy(np.float32)[:2000]
    windows = np.lib.stride_tricks.sliding_window_view(values[:-1], 96, axis=0)
    X = np.ascontiguousarray(windows.transpose(0, 2, 1))                 # (1904, 96, 7)
    return {"uci_har": (har["X_train"], har["y_train"], har["X_test"]),
            "etth1": (X, values[96:, -1].astype(np.float64), X)}


def measure(name: str, X: np.ndarray, y: np.ndarray, X_compare: np.ndarray) -> dict:
    """The two routes' scaled inputs and predictions on ``X_compare``, compared."""
    import torch

    from lstmkit import LSTMModel
    from lstmkit.data.sources import from_arrays

    model = LSTMModel(hidden=32, max_epochs=1, progress=False, seed=0).fit(X, y)
    windows = model.pipeline_._array_windows(X_compare)
    center, scale = windows.scaling
    in_float32 = windows.batch(slice(0, len(windows)))["x"].double()
    in_float64 = ((torch.from_numpy(X_compare).double() - center) / scale).float().double()
    inputs = (in_float32 - in_float64).abs()
    frame = model.predict(from_arrays(X_compare, None, model.spec_)[0])     # the long table
    target = model.spec_.target_names[0]
    if model.spec_.targets[0].categorical:
        columns = [c for c in frame.columns if c.startswith(f"{target}_proba_")]
        array, table = model.predict_proba(X_compare), frame[columns].to_numpy()
        changed = int((model.predict(X_compare, output="array") != frame[target].to_numpy()).sum())
    else:
        array, table = model.predict(X_compare, output="array"), frame[target].to_numpy()
        changed = None
    return {"table": name, "windows": len(X_compare), "shape": list(X_compare.shape[1:]),
            "input_max_abs": float(inputs.max()), "input_scale": float(in_float64.abs().max()),
            "inputs_differing": float((inputs > 0).double().mean()),
            "prediction_max_abs": float(np.abs(array - table).max()),
            "prediction_scale": float(np.abs(table).max()), "labels_changed": changed}


HEADER = ["| table | windows (steps x columns) | scaled inputs differing | their max abs diff "
          "(largest scaled input) | predictions' max abs diff (largest prediction) | "
          "labels changed |",
          "| --- | --- | --- | --- | --- | --- |"]


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md table of one run."""
    lines = [f"commit {about['commit']}", *HEADER]
    for c in cases:
        changed = "-" if c["labels_changed"] is None else f"{c['labels_changed']} of {c['windows']}"
        lines.append(f"| {c['table']} | {c['windows']:,} ({c['shape'][0]} x {c['shape'][1]}) | "
                     f"{c['inputs_differing']:.1%} | {c['input_max_abs']:.2e} "
                     f"({c['input_scale']:.3g}) | {c['prediction_max_abs']:.2e} "
                     f"({c['prediction_scale']:.3g}) | {changed} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    record.add_options(parser, "array_scaling")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "array_scaling")
    print("\n".join(table(run.about, [])))
    for name, arrays in tables().items():
        print(table(run.about, [run.add(measure(name, *arrays))])[-1], flush=True)


if __name__ == "__main__":
    main()
