"""Issue 28's study of how a sequence classifier should use its nearest neighbours.

On the development sets only (TRAIN split 70/30 as ``classify.py --development`` does; TEST
never read), the default model is fitted once per set and seed on the 70 %, and every rule
is scored on the 30 % from the same fit: the network's (tempered) probabilities on its
validation part and on the 30 %, and the distances of those sequences to the nearest
training (+ validation) sequence of each class (kept in ``--arrays``, so that rules can be
scored again without refitting: ``--rescore``). Rules:

* ``network``: the network alone; ``neighbour``: 1-NN over training + validation;
* ``validation``: 1-NN where the network's validation accuracy is below 1-NN's on the
  validation part (0.3's rule);
* ``loo``: 1-NN where the network's validation accuracy is below 1-NN's leave-one-out
  accuracy over training + validation;
* ``blend``: ``(1 - w) * network + w * vote`` (``lstmkit.vote``), w of 0, 0.1, ..., 1 chosen
  by the validation part's likelihood (ties: the larger); ``half``: w = 0.5;
* ``chosen`` (what ``fit`` did at label ``vote``, ``vote.choose_weight`` with one look): the
  vote alone where the network's validation accuracy is below 1-NN's leave-one-out
  accuracy, the network alone where even its 95 % lower bound is above it, else w = 0.5.
  ``fit`` now takes the bound over the epochs scored on validation (``looks``), which
  these rows do not record; on them it changes nothing: no fit here kept the network alone.

    python benchmarks/zoo/neighbour_rules.py      # rows in results-classify-rules.jsonl
    python benchmarks/zoo/neighbour_rules.py --report
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import classify  # the zoo's loader and split

RESULTS = classify.HERE / "results-classify-rules.jsonl"
RULES = ("network", "neighbour", "validation", "loo", "blend", "half", "chosen")
WEIGHTS = np.round(np.arange(0, 1.05, 0.1), 1)            # the blend rule's grid of w


def study(name: str, seed: int, wheels: Path, folder: Path | None = None) -> dict:
    """Every rule's accuracy on the held 30 % of one fit, and what each rule read."""
    from lstmkit import LSTMModel, Split
    from lstmkit.baselines import NearestNeighbour
    from lstmkit.data import prepare
    from lstmkit.data.split import sequence_parts
    from lstmkit.pipeline import numeric_sequences

    sequences, labels = classify.load(name, "TRAIN", wheels)
    split = Split(val_start=1 - classify.VALIDATION, test_start=None, stratify=True)
    parts = sequence_parts(len(labels), split, 1000 + seed, labels)
    fit, held = (np.flatnonzero(parts == code) for code in (0, 1))
    X = classify.padded([sequences[i] for i in fit])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LSTMModel(seed=seed, progress=False).fit(X, labels[fit])
    pipeline = model.pipeline_
    spec, encoding = pipeline.spec, pipeline.encoding
    kind = spec.targets[0].target_kind
    classes = len(encoding.target_labels[spec.targets[0].name])

    def windows_of(X: np.ndarray, y: np.ndarray, part: str):
        groups = pipeline._groups(X, y, need_targets=True)
        own = None if part == "all" else prepare.assign_parts(groups, spec, pipeline.split,
                                                               pipeline.seed)
        encoded = prepare.encode(groups, spec, encoding, with_targets=True)
        return prepare.part_windows(encoded, spec, own, part)

    train, val = windows_of(X, labels[fit], "train"), windows_of(X, labels[fit], "val")
    test = windows_of(classify.padded([sequences[i] for i in held]), labels[held], "all")

    def network(windows) -> tuple[np.ndarray, np.ndarray]:
        outputs, truth = pipeline.outputs(windows, with_targets=True)
        return kind.probabilities(pipeline.tempered(outputs))[:, 0], truth[:, 0, 0].astype(int)

    p_val, y_val = network(val)
    p_test, y_test = network(test)
    tr, va, te = (numeric_sequences(w, encoding) for w in (train, val, test))
    y_train = train.targets[train.index][:, 0, 0].numpy().astype(int)
    only_train = NearestNeighbour.fit(tr, y_train[:, None].astype(float))
    both = NearestNeighbour.fit(tr + va, np.concatenate([y_train, y_val])[:, None].astype(float))
    loo = both.distances(None, 0, classes)                        # (n_train + n_val, K)
    codes = np.concatenate([y_train, y_val])
    arrays = {"p_val": p_val, "y_val": y_val, "p_test": p_test, "y_test": y_test,
              "d_val": only_train.distances(va, 0, classes),   # validation by training
              "d_test": both.distances(te, 0, classes), "loo": loo, "codes": codes}
    if folder is not None:     # what the rules read, to score others without refitting
        np.savez(folder / f"{name}-{seed}.npz", **arrays)
    return {**scores(arrays), "train": len(tr), "val": len(va), "held": len(te),
            "classes": classes}


def scores(a: dict[str, np.ndarray]) -> dict:
    """Each rule's accuracy on the held part, from one fit's probabilities and distances."""
    from lstmkit.vote import choose_weight, fit_scale, log_likelihood, votes

    scale = fit_scale(a["loo"], a["codes"])
    vote_val, vote_test = votes(a["d_val"], scale), votes(a["d_test"], scale)
    p_val, p_test, y_val = a["p_val"], a["p_test"], a["y_val"]
    accuracy = {"net_val": float(np.mean(p_val.argmax(1) == y_val)),
                "nn_val": float(np.mean(a["d_val"].argmin(1) == y_val)),
                "nn_loo": float(np.mean(a["loo"].argmin(1) == a["codes"]))}
    likelihoods = [log_likelihood((1 - w) * p_val + w * vote_val, y_val) for w in WEIGHTS]
    best = float(WEIGHTS[np.flatnonzero(np.isclose(likelihoods, max(likelihoods), rtol=0,
                                                   atol=1e-12))[-1]])
    chosen = choose_weight(accuracy["net_val"], len(y_val), accuracy["nn_loo"])
    weights = {"network": 0.0, "neighbour": 1.0,
               "validation": float(accuracy["net_val"] < accuracy["nn_val"]),
               "loo": float(accuracy["net_val"] < accuracy["nn_loo"]), "blend": best,
               "half": 0.5, "chosen": chosen}
    return {**{rule: float(np.mean(((1 - w) * p_test + w * vote_test).argmax(1)
                                   == a["y_test"])) for rule, w in weights.items()},
            **accuracy, "weight_blend": best, "weight_chosen": chosen, "scale": scale}


def report(rows: list[dict]) -> str:
    """Medians over seeds of each rule's accuracy on the held 30 %."""
    lines = [f"| set | {' | '.join(RULES)} | seeds |", "| --- | " + "--- | " * len(RULES) + "--- |"]
    for name in classify.DEVELOPMENT:
        runs = [r for r in rows if r["name"] == name]
        if runs:
            cells = [f"{statistics.median(r[rule] for r in runs):.3f}" for rule in RULES]
            lines.append(f"| {name} | {' | '.join(cells)} | {len(runs)} |")
    cells = [f"{statistics.mean(r[rule] for r in rows):.3f}" for rule in RULES]
    lines.append(f"| mean of every fit | {' | '.join(cells)} | {len(rows)} fits |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=classify.DEVELOPMENT)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--wheels", type=Path, default=Path.home() / ".cache" / "lstmkit-zoo")
    parser.add_argument("--report", action="store_true", help="print the table and exit")
    parser.add_argument("--arrays", type=Path, help="a folder to keep each fit's "
                        "probabilities and distances in (.npz)")
    parser.add_argument("--rescore", action="store_true", help="score every row's rules again "
                        "from the --arrays its fit kept, without refitting")
    args = parser.parse_args()
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line] \
        if RESULTS.exists() else []
    if args.rescore:
        kept = ("name", "seed", "train", "val", "held", "classes", "commit")
        rows = [{**{k: r[k] for k in kept}, **scores(dict(np.load(
            args.arrays / f"{r['name']}-{r['seed']}.npz")))} for r in rows]
        RESULTS.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif not args.report:
        for name in args.only or classify.DEVELOPMENT:
            for seed in args.seeds:
                if any((r["name"], r["seed"]) == (name, seed) for r in rows):
                    continue
                row = {"name": name, "seed": seed, **study(name, seed, args.wheels, args.arrays),
                       "commit": classify.code_version()}
                rows.append(row)
                with RESULTS.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    print(report(rows))


if __name__ == "__main__":
    main()
