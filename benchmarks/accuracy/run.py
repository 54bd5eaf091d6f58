"""Accuracy on public benchmarks, by the literature's protocols, with lstmkit's defaults.

Long-horizon forecasting (ETTh1, ETTm1, weather): all channels in and out,
lookback 96, horizons 96/192/336/720, the standard chronological splits
(validation and test windows start lookback rows earlier), z-scores from the
training rows, MSE and MAE on the z-scored data over every test window.

UEA classification (JapaneseVowels, BasicMotions, NATOPS, Epilepsy): the
official TRAIN/TEST files; early stopping on a validation part carved from TRAIN
(20 %, stratified by class) picks the epoch count, then a fresh model trains that
many epochs on all of TRAIN (the ablation keeps the early-stopped model); accuracy
on TEST.

Every run appends one JSON line to the results file, and runs already there are
skipped, so a long benchmark can be stopped and resumed. Like the ``lstmkit``
command, the harness asks glibc to keep freed memory (``lstmkit.allocator``).
With ``--checkpoints DIR`` each forecast run also keeps its training state there
(every epoch), so a run killed part-way continues from its last epoch when the
command is run again.

    python benchmarks/accuracy/run.py                 # everything, 3 seeds
    python benchmarks/accuracy/run.py --quick         # minutes: ETTh1 H=96 + BasicMotions
    python benchmarks/accuracy/run.py --only etth1 NATOPS --seeds 0 --horizons 96
    python benchmarks/accuracy/run.py --ablation      # what each ingredient contributes
    python benchmarks/accuracy/run.py --study loss --only etth1 --seeds 0   # MSE vs MAE loss
    python benchmarks/accuracy/run.py --study norm --only etth1 --seeds 0   # RevIN vs last value
    python benchmarks/accuracy/run.py --study norm --variants norm=last ...  # one variant only
    python benchmarks/accuracy/run.py --study setting --only etth1   # both of them, combined
    python benchmarks/accuracy/run.py --study dropout --only JapaneseVowels   # UEA: dropout
    python benchmarks/accuracy/run.py --study precision --only etth1 --horizons 96  # bf16
    python benchmarks/accuracy/run.py --study calendar --only etth1 --horizons 96  # read ahead
    python benchmarks/accuracy/run.py --only weather --checkpoints ~/.cache/lstmkit-runs
    python benchmarks/accuracy/run.py --report        # the tables from the results file
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
HORIZONS = (96, 192, 336, 720)
LOOKBACK = 96

# Published figures at lookback 96 (MSE; for UEA, accuracy), and the goals of the issue.
FORECAST_ANCHORS = {
    "etth1": ("SegRNN 0.368 / 0.417, TimeMixer 0.375 / 0.447, iTransformer 0.386 / 0.454",
              0.370, 0.415),
    "ettm1": ("SegRNN 0.330 / 0.388, TimeMixer 0.320 / 0.381", 0.325, 0.385),
    "weather": ("SegRNN 0.165 / 0.251, TimeMixer 0.163 / 0.240", 0.165, 0.245),
}
UEA_ANCHORS = {
    "JapaneseVowels": ("TS2Vec 0.984, TapNet 0.965", 0.985),
    "BasicMotions": ("TapNet 1.000", 1.000),
    "NATOPS": ("TapNet 0.939, TS2Vec 0.928", 0.940),
    "Epilepsy": ("TapNet 0.971", 0.970),
}

# Training budgets (not model settings: the model is LSTMModel's defaults).
FORECAST_TRAINING = {"batch_size": 256, "max_epochs": 30, "patience": 5}
UEA_TRAINING = {"batch_size": 16, "max_epochs": 400, "patience": 40}
QUICK_EPOCHS = {"forecast": 3, "uea": 30}

# The ablation ladders: ingredients added one at a time, ending at the defaults.
ABLATION_FORECAST = [
    ("plain LSTM", {"instance_norm": False, "channel_independent": False}),
    ("+ RevIN", {"instance_norm": True, "channel_independent": False}),
    ("+ segments of 24", {"channel_independent": False, "segment": 24}),
    ("+ channel independence", {"decoder": "direct"}),
    ("+ parallel decoder (default)", {}),
]
ABLATION_UEA = [
    ("plain LSTM", {"conv": False, "bidirectional": False, "hidden": 64, "dropout": 0.0}),
    ("+ bidirectional", {"conv": False, "dropout": 0.0}),
    ("+ conv branch", {"dropout": 0.0}),
    ("+ dropout 0.6 (default)", {}),
]
# The calendar study's inputs: the hour of day (numeric) and the weekday (categorical) of
# every row, known in advance (Feature(future=True)), as the Informer family's time features.
CALENDAR = "calendar"
# The studies: one choice of the model varied, each variant scored on validation and test
# data. A variant is (model overrides, training loss of every target); forecast studies
# run the forecast data sets, UEA studies the UEA sets (their loss is the classifier's).
STUDIES: dict[str, dict[str, tuple[dict, str]]] = {
    "loss": {"loss=mse": ({}, "mse"), "loss=mae": ({}, "mae")},
    "norm": {"norm=revin": ({"instance_norm": "revin"}, "mse"),
             "norm=last": ({"instance_norm": "last"}, "mse"),
             "norm=anchored": ({"instance_norm": "anchored"}, "mse")},
    "setting": {f"norm={norm},loss={loss}": ({"instance_norm": norm}, loss)
                for norm in ("revin", "last") for loss in ("mse", "mae")},
    "dropout": {f"dropout={p}": ({"dropout": p}, "") for p in (0.0, 0.3, 0.6)},
    "precision": {f"precision={p}": ({"precision": p}, "mse")
                  for p in ("32-true", "bf16-mixed")},
    "calendar": {"calendar=none": ({}, "mse"), "calendar=hour,weekday": ({CALENDAR: True}, "mse")},
}
# The setting study's rule, fixed before its runs: per data set and horizon, the variant
# with the lowest median validation MSE over the seeds is the one validation selects.
DEFAULT_SETTING = "norm=revin,loss=mse"
UEA_STUDIES = ("dropout",)


def forecast_split(name: str, n: int):
    """The standard split of each data set (Informer/Autoformer protocols)."""
    from lstmkit import Split

    if name.startswith("etth"):
        return Split(8640, 11520, 14400)
    if name.startswith("ettm"):
        return Split(34560, 46080, 57600)
    return Split(int(0.7 * n), n - int(0.2 * n), n)   # Autoformer's Dataset_Custom


def run_forecast(name: str, horizon: int, seed: int, epochs: int | None,
                 overrides: dict | None = None, loss: str = "mse",
                 checkpoints: Path | None = None) -> dict:
    """Train and score one forecast; with ``checkpoints`` (this run's own directory) the
    training state is saved every epoch and an earlier, killed run there is continued."""
    from lstmkit import Feature, LSTMModel, Spec, Target, datasets

    frame = datasets.load(name, data_dir=SHARED)
    columns = [c for c in frame.columns if c != "date"]
    overrides, calendar = dict(overrides or {}), []
    if overrides.pop(CALENDAR, False):
        dates = pd.to_datetime(frame["date"])
        frame = frame.assign(hour=dates.dt.hour, weekday=dates.dt.day_of_week)
        calendar = [Feature("hour", future=True),
                    Feature("weekday", kind="categorical", future=True)]
    # The literature windows these files by row position. weather.csv repeats one timestamp
    # (2020-05-12 06:00, rows 19043-19044), which lstmkit refuses as a time column, so
    # weather is read without one: rows in file order, as the protocol has them.
    time_column = None if name == "weather" else "date"
    spec = Spec(time=time_column, inputs=[*columns, *calendar],
                targets=[Target(c, loss=loss) for c in columns], lookback=LOOKBACK,
                horizon=horizon)
    training = {**FORECAST_TRAINING, **({"max_epochs": epochs} if epochs else {})}
    model = LSTMModel(spec, split=forecast_split(name, len(frame)), seed=seed, progress=False,
                      **training, **overrides)
    clock = RunClock(checkpoints)
    model.fit(frame, checkpoint_dir=checkpoints, resume=checkpoints is not None,
              callbacks=clock.callbacks())
    fitted = clock.seconds()
    test, val = model.evaluate(frame, part="test"), model.evaluate(frame, part="val")
    scale = {c: model.encoding_.target_scalers[c].scale for c in columns}   # train std

    def zscored(metric: str, of: str = "model", evaluation=test) -> float:
        power = 2 if metric == "RMSE" else 1
        return float(np.mean([(evaluation.metric(c, metric, of=of) / scale[c]) ** power
                              for c in columns]))

    return {"mse": zscored("RMSE"), "mae": zscored("MAE"), "naive_mse": zscored("RMSE", "naive"),
            "val_mse": zscored("RMSE", evaluation=val), "fit_s": fitted,
            "epochs": len(model.history_["epochs"]), "best_epoch": model.history_["best_epoch"],
            "params": _params(model), **clock.resumed()}


class RunClock:
    """A fit's wall time, over every process that worked on it.

    Without a checkpoint directory it times this process. With one, the seconds
    spent so far are written beside the checkpoint whenever the checkpoint is (at
    each epoch start), so a run continued after a kill adds this process's time to
    the time of the epochs it continues from (each process's one-off set-up counts).
    """

    def __init__(self, directory: Path | None) -> None:
        self.path = None if directory is None else directory / "elapsed.json"
        earlier = {}
        if self.path is not None and self.path.exists():
            earlier = json.loads(self.path.read_text())
        self.before, self.commits = earlier.get("seconds", 0.0), earlier.get("commits", [])
        self.commits = [*self.commits, code_version()]
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.start

    def resumed(self) -> dict:
        """What to record about earlier processes: nothing if there were none."""
        if len(self.commits) == 1:
            return {}
        return {"processes": len(self.commits), "commits": self.commits}

    def callbacks(self) -> list:
        if self.path is None:
            return []
        import lightning.pytorch as pl

        clock = self

        class WriteElapsed(pl.Callback):
            def on_train_epoch_start(self, trainer: pl.Trainer, module) -> None:
                clock.path.parent.mkdir(parents=True, exist_ok=True)
                clock.path.write_text(json.dumps({"seconds": clock.seconds(),
                                                  "commits": clock.commits}))

        return [WriteElapsed()]


def run_uea(name: str, seed: int, epochs: int | None, overrides: dict | None = None,
            refit: bool = True) -> dict:
    """Early stopping on a validation part of TRAIN picks the epoch count; with ``refit``
    a fresh model (same seed) then trains that many epochs on all of TRAIN, as the
    literature's models use all of TRAIN. Both models' TEST accuracy is recorded."""
    from lstmkit import LSTMModel, Split, datasets

    X, y = datasets.load_uea(name, "train", data_dir=SHARED)
    X_test, y_test = datasets.load_uea(name, "test", data_dir=SHARED)
    training = {**UEA_TRAINING, **({"max_epochs": epochs} if epochs else {})}
    # The validation part: 20 % of TRAIN, each class in its share (BasicMotions' is 8 of 40).
    model = LSTMModel(split=Split(val_start=0.8, test_start=None, stratify=True), seed=seed,
                      progress=False, **training, **(overrides or {}))
    start = time.perf_counter()
    model.fit(X, y)
    scored = model.evaluate(X_test, y_test)
    held_out = scored.metric("y", "accuracy")
    record = {"accuracy": held_out, "neighbour": scored.metric("y", "accuracy", "neighbour"),
              "majority": scored.metric("y", "accuracy", "naive"),
              "epochs": len(model.history_["epochs"]),
              "best_epoch": model.history_["best_epoch"],
              "val_loss": model.history_["best_val_loss"],
              "val_accuracy": model.evaluate(X, y, part="val").metric("y", "accuracy"),
              "params": _params(model)}
    if refit:
        chosen = {**training, "max_epochs": record["best_epoch"] + 1}
        model = LSTMModel(split=Split(val_start=None, test_start=None), seed=seed,
                          progress=False, **chosen, **(overrides or {})).fit(X, y)
        scored = model.evaluate(X_test, y_test)     # 1-NN's reference: all of TRAIN
        record.update(accuracy=scored.metric("y", "accuracy"), holdout_accuracy=held_out,
                      neighbour=scored.metric("y", "accuracy", "neighbour"),
                      majority=scored.metric("y", "accuracy", "naive"))
    return {**record, "fit_s": time.perf_counter() - start}


def code_version() -> str | None:
    """The commit of the checkout this script runs from, ``+dirty`` if its code differs
    from it; None outside a git checkout. Recorded with every run: rows of different
    commits can differ by float rounding alone."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        dirty = git("status", "--porcelain", "--", "../../src", "run.py")
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def device_name() -> str:
    """Where LSTMModel's ``accelerator="auto"`` trains: the GPU's name, or ``cpu``."""
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def _params(model) -> dict:
    return {**model.architecture_, "layers": model.layers, "lr_decay": model.lr_decay}


Run = tuple[str, int | None, int, str]   # (data set, horizon or None for UEA, seed, variant)


def plan(only: list[str] | None, seeds: list[int], horizons: list[int], quick: bool,
         ablation: bool, study: str | None = None) -> list[Run]:
    if quick:
        return [("etth1", 96, 0, ""), ("BasicMotions", None, 0, "")]
    if study in UEA_STUDIES:
        runs = [(name, None, s, variant) for name in UEA_ANCHORS for s in seeds
                for variant in STUDIES[study]]
    elif study:
        runs = [(name, h, s, variant) for name in FORECAST_ANCHORS for h in horizons
                for s in seeds for variant in STUDIES[study]]
    elif ablation:
        runs = [("etth1", 96, s, label) for label, _ in ABLATION_FORECAST for s in seeds]
        runs += [(name, None, s, label) for name in UEA_ANCHORS for label, _ in ABLATION_UEA
                 for s in seeds]
    else:
        runs = [(name, h, s, "") for name in FORECAST_ANCHORS for h in horizons for s in seeds]
        runs += [(name, None, s, "") for name in UEA_ANCHORS for s in seeds]
    return [r for r in runs if not only or r[0] in only]


def ablation_report(results: list[dict]) -> str:
    """One row per ingredient ladder step: medians over the seeds run."""
    lines = ["| data set | variant | metric | median | seeds |", "| --- | --- | --- | --- | --- |"]
    for name in ("etth1", *UEA_ANCHORS):
        ladder = ABLATION_FORECAST if name == "etth1" else ABLATION_UEA
        metric = "mse" if name == "etth1" else "accuracy"
        for label, _ in ladder:
            values = [r[metric] for r in results if (r["name"], r["variant"]) == (name, label)]
            if values:
                lines.append(f"| {name} | {label} | {metric} | "
                             f"{statistics.median(values):.4f} | {len(values)} |")
    return "\n".join(lines)


def study_report(results: list[dict], study: str) -> str:
    """Validation and test MSE per data set, horizon and variant (medians over seeds)."""
    if study in UEA_STUDIES:
        return uea_study_report(results, study)
    lines = [f"| data set | horizon | {study} | val MSE | test MSE | seeds |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in FORECAST_ANCHORS:
        for h in HORIZONS:
            for variant, (val, test, seeds) in _forecast_medians(results, name, h,
                                                                 study).items():
                lines.append(f"| {name} | {h} | {_label(variant)} | {val:.4f} | "
                             f"{test:.4f} | {seeds} |")
    return "\n".join(lines + (selection_report(results) if study == "setting" else []))


def selection_report(results: list[dict]) -> list[str]:
    """Per data set and horizon, the setting validation selects beside the default; then
    the four-horizon averages of both (test MSE, medians over seeds)."""
    lines = ["", "| data set | horizon | selected on validation | val MSE | test MSE | "
             "default's test MSE |", "| --- | --- | --- | --- | --- | --- |"]
    for name in FORECAST_ANCHORS:
        chosen, default = [], []
        for h in HORIZONS:
            medians = _forecast_medians(results, name, h, "setting")
            if len(medians) < len(STUDIES["setting"]):
                continue
            best = min(medians, key=lambda v: medians[v][0])
            chosen.append(medians[best][1])
            default.append(medians[DEFAULT_SETTING][1])
            lines.append(f"| {name} | {h} | {best} | {medians[best][0]:.4f} | "
                         f"{medians[best][1]:.4f} | {medians[DEFAULT_SETTING][1]:.4f} |")
        if len(chosen) == len(HORIZONS):
            lines.append(f"| {name} | avg | | | {np.mean(chosen):.4f} | {np.mean(default):.4f} |")
    return lines


def _forecast_medians(results: list[dict], name: str, horizon: int, study: str
                      ) -> dict[str, tuple[float, float, int]]:
    """Each variant of ``study`` run on ``name`` at ``horizon``: (median validation MSE,
    median test MSE, seeds), in the study's order."""
    medians = {}
    for variant in STUDIES[study]:
        runs = [r for r in results
                if (r["name"], r["horizon"], r["variant"]) == (name, horizon, variant)]
        if runs:
            medians[variant] = (statistics.median(r["val_mse"] for r in runs),
                                statistics.median(r["mse"] for r in runs), len(runs))
    return medians


def _label(variant: str) -> str:
    """A variant as a table cell: its value when it sets one choice ('last' for norm=last)."""
    return variant.split("=")[1] if variant.count("=") == 1 else variant


def uea_study_report(results: list[dict], study: str) -> str:
    """Validation loss and accuracy (the early-stopped model's, on the part of TRAIN held
    out) beside TEST accuracy (refitted and early-stopped), medians over seeds."""
    lines = [f"| data set | {study} | val loss | val accuracy | accuracy | early-stopped model "
             "| seeds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in UEA_ANCHORS:
        for variant in STUDIES[study]:
            runs = [r for r in results if (r["name"], r["variant"]) == (name, variant)]
            if runs:
                cells = [_fmt(statistics.median(r[key] for r in runs))
                         for key in ("val_loss", "val_accuracy", "accuracy", "holdout_accuracy")]
                lines.append(f"| {name} | {_label(variant)} | {' | '.join(cells)} | "
                             f"{len(runs)} |")
    return "\n".join(lines)


def report(results: list[dict]) -> str:
    """Markdown tables: medians over seeds beside the published anchors and the goals."""
    lines = ["| data set | metric | lstmkit (median of seeds) | seeds | published anchors | goal | "
             "met |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, (anchors, goal96, goal_avg) in FORECAST_ANCHORS.items():
        by_h = {h: [r["mse"] for r in results if r["name"] == name and r["horizon"] == h]
                for h in HORIZONS}
        if not by_h[96]:
            continue
        m96 = statistics.median(by_h[96])
        cells = [f"H=96 {m96:.3f} ({len(by_h[96])})"]
        met = "yes" if m96 <= goal96 else "no"
        seeds = len(by_h[96])
        if all(by_h[h] for h in HORIZONS):
            avg = float(np.mean([statistics.median(by_h[h]) for h in HORIZONS]))
            seeds, most = min(len(by_h[h]) for h in HORIZONS), max(len(by_h[h]) for h in HORIZONS)
            cells.append(f"avg {avg:.3f} ({seeds if seeds == most else f'{seeds}-{most}'})")
            met = "yes" if m96 <= goal96 and avg <= goal_avg else "no"
        else:
            met = f"H=96 {met}; avg not measured"
        if seeds < 3:                     # the goals are medians over 3 seeds at every horizon
            met += f" ({seeds} of 3 seeds at some horizon)"
        lines.append(f"| {name} | MSE | {' / '.join(cells)} | {seeds} | {anchors} | "
                     f"<= {goal96} / <= {goal_avg} | {met} |")
    for name, (anchors, goal) in UEA_ANCHORS.items():
        accs = [r["accuracy"] for r in results if r["name"] == name]
        if accs:
            m = statistics.median(accs)
            lines.append(f"| {name} | accuracy | {m:.3f} | {len(accs)} | {anchors} | >= {goal} | "
                         f"{'yes' if m >= goal else 'no'} |")
    detail = ["", *horizon_report(results), "",
              "| data set | horizon | seed | MSE | MAE | accuracy | early-stopped model | "
              "epochs (best) | fit s |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        detail.append(
            f"| {r['name']} | {r['horizon'] or ''} | {r['seed']} | {_fmt(r.get('mse'))} | "
            f"{_fmt(r.get('mae'))} | {_fmt(r.get('accuracy'))} | "
            f"{_fmt(r.get('holdout_accuracy'))} | {r['epochs']} "
            f"({r['best_epoch']}) | {r['fit_s']:.0f} |")
    return "\n".join(lines + detail)


def horizon_report(results: list[dict]) -> list[str]:
    """Each forecast horizon's test MSE seed by seed, its median and the naive forecast's."""
    lines = ["| data set | horizon | MSE by seed | median | naive MSE |",
             "| --- | --- | --- | --- | --- |"]
    for name in FORECAST_ANCHORS:
        for h in HORIZONS:
            runs = sorted((r for r in results if r["name"] == name and r["horizon"] == h),
                          key=lambda r: r["seed"])
            if runs:
                seeds = ", ".join(f"{r['seed']}: {r['mse']:.4f}" for r in runs)
                naive = statistics.median(r["naive_mse"] for r in runs)
                lines.append(f"| {name} | {h} | {seeds} | "
                             f"{statistics.median(r['mse'] for r in runs):.4f} | {naive:.4f} |")
    return lines


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ETTh1 H=96 (3 epochs) and "
                        "BasicMotions (30 epochs), one seed")
    parser.add_argument("--only", nargs="*", help="data set names to run")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--horizons", nargs="*", type=int, default=list(HORIZONS))
    parser.add_argument("--epochs", type=int, help="override max_epochs (smoke runs)")
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--ablation", action="store_true", help="the ingredient ladders on "
                        "ETTh1 H=96 and the UEA sets")
    parser.add_argument("--study", choices=list(STUDIES), help="every variant of one choice "
                        "(loss: forecasts trained on MSE and on MAE; norm: RevIN and last-value "
                        "normalisation; setting: both of them, combined; dropout: UEA "
                        "classifiers with dropout 0, 0.3, 0.6 before the heads; precision: "
                        "forecasts trained in float32 and in bf16-mixed; calendar: without and "
                        "with the hour and weekday read ahead), scored on validation and test "
                        "data")
    parser.add_argument("--variants", nargs="*", help="only these variants of the study "
                        "(e.g. norm=last), to share a study among processes")
    parser.add_argument("--checkpoints", type=Path, help="keep each forecast run's training "
                        "state in a directory under this one (every epoch), so that a run "
                        "killed part-way continues when the command is run again")
    parser.add_argument("--report", action="store_true", help="print the tables and exit")
    args = parser.parse_args()
    kind = "quick" if args.quick else "ablation" if args.ablation else args.study
    if args.results == parser.get_default("results") and kind:
        args.results = args.results.with_name(f"results-{kind}.jsonl")
    done = []
    if args.results.exists():
        done = [json.loads(line) for line in args.results.read_text().splitlines() if line]
    if not args.report:
        from lstmkit.allocator import keep_freed_memory

        allocator = "tuned" if keep_freed_memory() else "default"   # as the lstmkit command
        device = device_name()
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {device}, allocator "
              f"{allocator}; results -> {args.results}")
        runs = plan(args.only, args.seeds, args.horizons, args.quick, args.ablation,
                    args.study)
        runs = [r for r in runs if not args.variants or r[3] in args.variants]
        commit = code_version()
        for name, horizon, seed, variant in runs:
            key = (name, horizon, seed, variant)
            if any((r["name"], r["horizon"], r["seed"], r["variant"]) == key for r in done):
                continue
            kind = "forecast" if horizon else "uea"
            epochs = args.epochs or (QUICK_EPOCHS[kind] if args.quick else None)
            ladder = dict(ABLATION_FORECAST if horizon else ABLATION_UEA)
            overrides, loss = STUDIES[args.study][variant] if args.study else \
                (ladder.get(variant), "mse")
            state = None
            if args.checkpoints and horizon:
                state = args.checkpoints / re.sub(r"[^\w=.,-]+", "_",
                                                  f"{name}-h{horizon}-seed{seed}-{variant}")
            result = (run_forecast(name, horizon, seed, epochs, overrides, loss, state)
                      if horizon else run_uea(name, seed, epochs, overrides,
                                              refit=not args.ablation))
            record = {"name": name, "horizon": horizon, "seed": seed, "variant": variant,
                      **result, "commit": commit, "allocator": allocator, "device": device}
            done.append(record)
            with args.results.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            if state is not None:
                shutil.rmtree(state)          # recorded: a rerun must train afresh
            print(json.dumps({k: v for k, v in record.items() if k != "params"}), flush=True)
    print(ablation_report(done) if args.ablation else study_report(done, args.study)
          if args.study else report(done))


if __name__ == "__main__":
    main()
