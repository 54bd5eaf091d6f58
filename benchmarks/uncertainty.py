"""Intervals on real data: coverage and CRPS of lstmkit's uncertainty beside the peers'.

On ETTh1, ETTm1, weather and Beijing PM2.5 (``uncertainty_data.py``: the literature's
splits, one target from all numeric inputs, lookback 96, horizon 24), every system predicts
the target's quantiles at 21 levels on every test window; the scores are the test part's
coverage and width of the 80 % and 95 % central intervals and CRPS (from the quantiles),
all in original units and computed by the same code. Systems:

* ``quantile``: ``Target(t, quantiles=LEVELS)``, pinball loss.
* ``normal``, ``student_t`` (every set) and ``poisson``, ``negative_binomial`` (count
  targets: Beijing PM2.5): ``Target(t, distribution=...)``, negative log-likelihood; the
  quantiles are the fitted distribution's.
* ``conformal``: the point model (``Target(t)``, MSE) calibrated on the validation part
  (``model.calibrate_intervals(data, part="val", coverage=...)``) at the ten central
  coverages whose ends are ``LEVELS``.

Each system is scored on what ``predict`` gives by default: the quantile and distribution
targets are conformalised on the validation part at fit (``LSTMModel(coverage=None)``: the
ten central intervals their 21 levels hold), so their scores are those of the calibrated
intervals ``<t>_lo_<p>`` / ``<t>_hi_<p>`` with the median (``<t>``, a distribution's
``<t>_q50``) between them; ``own`` holds the same fit's scores of its own quantiles
(``<t>_q<pct>``), before calibration. Runs before that default (their setup has no
``scores``) scored the own quantiles only (a distribution's median then its mean); they
make tables of their own (``--table``), and a later run's case replaces none of theirs.
* ``neuralforecast``, ``darts``: ``peers/uncertainty_peers.py`` in the peers' environment
  (``peers/setup.sh``), in the same run on the same windows.

lstmkit runs its default architecture, as the accuracy harness does (batches of 256, at most
``--epochs`` epochs, patience 5). Every case is appended to ``results/uncertainty.jsonl``;
cases already there are skipped, so a stopped run resumes where it stopped.

    OMP_NUM_THREADS=1 python benchmarks/uncertainty.py --sets etth1 --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/uncertainty.py --quick          # 1 epoch, ETTh1
    python benchmarks/uncertainty.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
from uncertainty_data import (
    COVERAGES,
    DATASETS,
    HORIZON,
    LEVELS,
    LOOKBACK,
    Dataset,
    score,
)

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
LSTMKIT_SYSTEMS = ("quantile", "normal", "student_t", "poisson", "negative_binomial",
                   "conformal")
PEER_SYSTEMS = ("neuralforecast", "darts")
COUNT_ONLY = ("poisson", "negative_binomial")
TRAINING = {"batch_size": 256, "patience": 5}
# The central coverages whose interval ends are LEVELS (0.1 -> 0.45 and 0.55, ...).
CENTRAL = tuple(sorted({round(1 - 2 * level, 2) for level in LEVELS if level < 0.5}))
SCORES = "calibrated"   # runs' setup label: each system scored on predict's default intervals
OWN = "own"             # runs before it (no label): the own quantiles only


def target(data: Dataset, system: str):
    """The lstmkit Target of ``system``."""
    from lstmkit import Target

    if system == "quantile":
        return Target(data.target, quantiles=list(LEVELS))
    if system == "conformal":
        return Target(data.target)
    return Target(data.target, distribution=system, quantiles=list(LEVELS))


def run_lstmkit(data: Dataset, system: str, seed: int, epochs: int, keep: Path | None = None
                ) -> dict:
    """Fit one lstmkit model and score its quantiles on the test windows (``keep``: save the
    fitted model there too)."""
    from lstmkit import Feature, LSTMModel, Spec, Split

    frame = data.frame()
    # inputs with gaps (Beijing PM2.5, weather's -9999) are read masked
    inputs = [Feature(c, missing="mask" if frame[c].isna().any() else None)
              for c in data.inputs]
    spec = Spec(inputs=inputs, targets=[target(data, system)], lookback=LOOKBACK,
                horizon=HORIZON)
    model = LSTMModel(spec, split=Split(*data.bounds), seed=seed, progress=False,
                      max_epochs=epochs, **TRAINING)
    started = time.perf_counter()
    model.fit(frame)
    if system == "conformal":
        model.calibrate_intervals(frame, part="val", coverage=list(CENTRAL))
    seconds = time.perf_counter() - started
    if keep is not None:
        model.save(keep)
    truth, calibrated = data.truth(frame), model.conformal_ is not None
    table = test_table(model, data, frame)
    own = {} if system == "conformal" else {
        "own": score(truth, test_quantiles(table, data, system, calibrated=False))}
    return {"seconds": round(seconds, 1), "epochs": len(model.history_["epochs"]),
            "calibrated": calibrated,
            **score(truth, test_quantiles(table, data, system, calibrated)), **own}


def test_table(model, data: Dataset, frame: pd.DataFrame, adapt: bool | float = False
               ) -> pd.DataFrame:
    """``predict``'s table of every test window, by origin and step (``adapt``: as for
    ``predict``: each window learns from the test part's truth before its origin)."""
    origins = data.origins()
    first = origins[0] - LOOKBACK + 1
    table = model.predict(frame.iloc[first: origins[-1] + 1], origins="all", adapt=adapt)
    table = table.sort_values(["origin", "step"])
    if table.origin.nunique() != len(origins):
        raise SystemExit(f"{table.origin.nunique()} windows predicted, {len(origins)} "
                         "expected")
    return table


def test_quantiles(table: pd.DataFrame, data: Dataset, system: str, calibrated: bool
                   ) -> np.ndarray:
    """(N, HORIZON, Q) quantiles at LEVELS of every test window from ``table``: the ends of
    the calibrated intervals (``calibrated``) or the model's own quantiles."""
    columns = [column(data.target, level, system, calibrated) for level in LEVELS]
    return table[columns].to_numpy(np.float64).reshape(-1, HORIZON, len(LEVELS))


def column(name: str, level: float, system: str, calibrated: bool) -> str:
    """The prediction table's column of ``name`` at quantile ``level``: an end of a
    calibrated interval, or the model's own quantile (a distribution's median its q50)."""
    pct = lambda c: format(round(c * 100, 6), "g")  # noqa: E731
    if level == 0.5:
        return name if system in ("quantile", "conformal") else f"{name}_q50"
    if calibrated:
        coverage = round(abs(1 - 2 * level), 2)
        return f"{name}_{'lo' if level < 0.5 else 'hi'}_{pct(coverage)}"
    return f"{name}_q{pct(level)}"


def run_peer(data: Dataset, system: str, seed: int, epochs: int) -> dict:
    """One peer's case, from its own environment."""
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON} is missing: run benchmarks/peers/setup.sh first")
    done = subprocess.run(
        [str(PEERS_PYTHON), str(HERE / "peers" / "uncertainty_peers.py"), "--system", system,
         "--dataset", data.name, "--seed", str(seed), "--epochs", str(epochs)],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{system} on {data.name} failed:\n{done.stderr[-3000:]}")
    case = json.loads(lines[-1])
    return {k: v for k, v in case.items() if k not in ("system", "dataset", "seed")}


def systems_of(data: Dataset, chosen: list[str]) -> list[str]:
    """The systems that apply to ``data`` (count distributions on count targets only)."""
    return [s for s in chosen if data.counts or s not in COUNT_ONLY]


def label(about: dict, system: str) -> str | None:
    """What a case of ``system`` in a run described by ``about`` scored: ``SCORES`` or
    ``OWN`` (lstmkit's systems), None for a peer's (the same whichever run)."""
    return None if system in PEER_SYSTEMS else about.get("scores", OWN)


def done_cases(path: Path) -> set[tuple[str, str, int, int, str | None]]:
    """(data set, system, seed, epochs, label) of every case already in ``path``."""
    if not path.exists():
        return set()
    return {(c["dataset"], c["system"], c["seed"], about["options"]["epochs"],
             label(about, c["system"])) for about, cases in record.runs(path) for c in cases}


def budgets(path: Path) -> dict[tuple[int, str], list[tuple[dict, list[dict]]]]:
    """The runs in ``path`` by training budget (``--epochs``) and what they scored (the
    runs' label): the runs of one (a run resumed, or systems added later) make one table;
    a table of ``SCORES`` takes the peers' cases of its budget from any run."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: run the benchmark first, or pass --results")
    grouped: dict[tuple[int, str], list[tuple[dict, list[dict]]]] = {}
    for about, cases in record.runs(path):
        grouped.setdefault((about["options"]["epochs"], about.get("scores", OWN)),
                           []).append((about, cases))
    for (epochs, scores), runs in grouped.items():
        if scores == SCORES:
            peers = [(about, [c for c in cases if c["system"] in PEER_SYSTEMS])
                     for (e, s), others in grouped.items() if e == epochs and s != SCORES
                     for about, cases in others]
            runs[:0] = [(about, cases) for about, cases in peers if cases]
    return grouped


def file_table(path: Path) -> list[str]:
    """The tables of every case in ``path``, one per training budget and label."""
    return [line for (epochs, scores), runs in budgets(path).items()
            for line in [*table(epochs, [c for _, cases in runs for c in cases], scores), ""]]


def print_file(path: Path) -> None:
    """Each budget's runs (date, commit, command, machine), then its table."""
    for (epochs, scores), runs in budgets(path).items():
        print("\n".join(record.heading(about) for about, _ in runs))
        print("\n".join(table(epochs, [c for _, cases in runs for c in cases], scores)),
              end="\n\n")


def table(epochs: int, cases: list[dict], scores: str = OWN) -> list[str]:
    """Per data set and system: coverage and width of both intervals, CRPS (median over
    seeds), and CRPS over each peer's; for ``SCORES`` runs also the same fits' own
    quantiles' coverage and CRPS (``own``: before calibration)."""
    calibrated = scores == SCORES
    extra = " own coverage 80 % | own coverage 95 % | own CRPS |" if calibrated else ""
    lines = [f"epochs at most {epochs}; seeds {sorted({c['seed'] for c in cases})}; "
             "median over seeds" + ("; each system's default intervals (quantile and "
                                    "distribution targets conformalised)" if calibrated else ""),
             "", "| data set | system | coverage 80 % | width 80 % | coverage 95 % | "
             "width 95 % | CRPS | CRPS / NeuralForecast's | CRPS / Darts' |" + extra,
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
             + " --- | --- | --- |" * calibrated]
    for name in dict.fromkeys(c["dataset"] for c in cases):
        of = {}
        for c in cases:
            if c["dataset"] == name:
                of.setdefault(c["system"], []).append(c)

        def med(system: str, key: str, of: dict = of) -> float:
            return statistics.median(c[key] for c in of[system])

        def own(system: str, key: str, form: str, of: dict = of) -> str:
            values = [c["own"][key] for c in of[system] if "own" in c]
            return format(statistics.median(values), form) if values else "-"
        for system in of:
            ratios = [f"{med(system, 'crps') / med(peer, 'crps'):.3f}" if peer in of else "-"
                      for peer in PEER_SYSTEMS]
            owned = (f" {own(system, 'coverage_80', '.3f')} | "
                     f"{own(system, 'coverage_95', '.3f')} | {own(system, 'crps', '.4g')} |"
                     if calibrated else "")
            lines.append(f"| {name} | {system} | {med(system, 'coverage_80'):.3f} | "
                         f"{med(system, 'width_80'):.3g} | {med(system, 'coverage_95'):.3f} | "
                         f"{med(system, 'width_95'):.3g} | {med(system, 'crps'):.4g} | "
                         f"{' | '.join(ratios)} |{owned}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--systems", nargs="*", choices=[*LSTMKIT_SYSTEMS, *PEER_SYSTEMS],
                        default=[*LSTMKIT_SYSTEMS, *PEER_SYSTEMS])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=30, help="at most, every system")
    parser.add_argument("--quick", action="store_true", help="ETTh1, 1 epoch, seed 0")
    record.add_options(parser, "uncertainty")
    args = parser.parse_args()
    record.quick_path(args, parser)
    if args.table:
        print_file(args.results)
        return
    if args.quick:
        args.sets, args.seeds, args.epochs = ["etth1"], [0], 1
    done = done_cases(args.results)
    run = record.start(args, "uncertainty", levels=list(LEVELS), coverages=list(COVERAGES),
                       lookback=LOOKBACK, horizon=HORIZON, scores=SCORES)
    for name in args.sets:
        data = DATASETS[name]
        for seed in args.seeds:
            for system in systems_of(data, args.systems):
                if (name, system, seed, args.epochs, label(run.about, system)) in done:
                    continue
                runner = run_peer if system in PEER_SYSTEMS else run_lstmkit
                case = run.add({"dataset": name, "system": system, "seed": seed,
                                **runner(data, system, seed, args.epochs)})
                print(json.dumps(case), flush=True)
    print_file(args.results)


if __name__ == "__main__":
    main()
