"""Which input drives which target: permutation importance tables on real data.

Each case fits one model and scores ``model.importance(data, part="test", repeats=5)``:
per input x target, the mean increase of the target's test error (MAE; Brier for a class
target) when that input column is permuted across the test windows, its spread (standard
deviation over the repeats) and the increase relative to the unpermuted error. Cases
(``--cases``):

* ``etth1_independent``: ETTh1, the literature split (train rows [0, 8640), validation
  [8640, 11520), test [11520, 14400)), lookback 96, horizon 24, targets ``OT`` and ``HUFL``
  from all seven columns and ``noise`` (seeded standard normal numbers, linked to nothing).
  The default forecast model for this spec: channel independent (one shared LSTM reads
  each column as a series of its own), so a target can only read its own column.
* ``etth1_mixed``: the same with ``channel_independent=False``: one LSTM reads all eight
  columns together, so one input can drive another target.
* ``seattle``: the quickstart as examples/seattle_weather.yaml has it (spec, model,
  training, split), its four targets, the classification target ``weather`` included.

The ETTh1 models are modest (``--hidden`` 64, ``--epochs`` 20) to keep the run short on one
thread; the figures are about which input matters, not the accuracy.

    OMP_NUM_THREADS=1 python benchmarks/importance.py [--cases seattle] [--epochs 20]
    python benchmarks/importance.py --table           # the tables of results/importance.jsonl
    python benchmarks/importance.py --plot docs/img --cases etth1_mixed   # its heatmap
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record

from lstmkit import LSTMModel, Spec, Split, datasets
from lstmkit.analysis import plots
from lstmkit.cli.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
REPEATS = 5


def noisy_etth1() -> pd.DataFrame:
    """ETTh1's first 20 months (the literature's rows) and ``noise``, seeded N(0, 1)."""
    frame = datasets.load("ETTh1", data_dir=SHARED).iloc[:14400]
    return frame.assign(noise=np.random.default_rng(0).normal(size=len(frame)))


def etth1(channel_independent: bool | None, hidden: int, epochs: int
          ) -> tuple[pd.DataFrame, LSTMModel]:
    """ETTh1 with noise and its model: the preset's (channel independent) or a mixing one."""
    spec = Spec(time="date", inputs=[*ETT_COLUMNS, "noise"], targets=["OT", "HUFL"],
                lookback=96, horizon=24)
    model = LSTMModel(spec, hidden=hidden, max_epochs=epochs, seed=0, progress=False,
                      channel_independent=channel_independent,
                      split=Split(val_start=8640, test_start=11520))
    return noisy_etth1(), model


def seattle(hidden: int, epochs: int) -> tuple[pd.DataFrame, LSTMModel]:
    """The quickstart's table and model, as its YAML has them (``hidden``, ``epochs`` unused)."""
    config = RunConfig.read(ROOT / "examples" / "seattle_weather.yaml")
    return config.data.load(), config.build_model().set_params(progress=False)


CASES: dict[str, Callable[[int, int], tuple[pd.DataFrame, LSTMModel]]] = {
    "etth1_independent": lambda hidden, epochs: etth1(None, hidden, epochs),
    "etth1_mixed": lambda hidden, epochs: etth1(False, hidden, epochs),
    "seattle": seattle,
}


def measure(case: str, hidden: int, epochs: int) -> dict:
    """Fit the case's model, then its test error per target (and the naive baseline's)
    and its importance table, as plain numbers."""
    data, model = CASES[case](hidden, epochs)
    began = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - began
    began = time.perf_counter()
    scores = model.importance(data, part="test", repeats=REPEATS)
    importance_s = time.perf_counter() - began
    evaluation = model.evaluate(data, part="test")
    naive = {t: evaluation.metric(t, metric, "naive")
             for t, metric in scores[["target", "metric"]].drop_duplicates().to_numpy()}
    a = model.pipeline_.architecture
    return {"case": case, "inputs": list(model.spec.input_names),
            "architecture": {"hidden": a["hidden"], "decoder": a["decoder"],
                             "channel_independent": a["channel_independent"],
                             "instance_norm": a["instance_norm"]},
            "epochs_run": len(model.history_["epochs"]), "max_epochs": model.max_epochs,
            "fit_s": round(fit_s, 1), "importance_s": round(importance_s, 1),
            "repeats": REPEATS, "naive_error": naive,
            "rows": scores.to_dict("records")}


def cell(row: pd.Series, rank: int) -> str:
    """One input x target: its rank, the increase with its spread, the relative increase."""
    return f"#{rank} {row.increase:.3g} ± {row.spread:.2g} ({100 * row.relative:+.3g} %)"


def case_table(r: dict) -> list[str]:
    """One case: a caption, then inputs (rows, the spec's order) x targets (columns)."""
    scores = pd.DataFrame(r["rows"])
    targets = list(dict.fromkeys(scores.target))
    a = r["architecture"]
    mixing = "channel independent" if a["channel_independent"] else "all inputs mixed"
    caption = (f"**{r['case']}**: {mixing}, hidden {a['hidden']}, {a['decoder']} decoder, "
               f"instance norm {a['instance_norm']}; {r['epochs_run']} of {r['max_epochs']} "
               f"epochs, fit {r['fit_s']:.0f} s, importance {r['importance_s']:.0f} s "
               f"({r['repeats']} repeats)")
    header = " | ".join(f"{t} ({m} {e:.3g}, naive {r['naive_error'][t]:.3g})"
                        for t, m, e in scores.groupby("target", sort=False)
                        [["metric", "error"]].first().loc[targets].itertuples())
    lines = [caption, "", f"| input | {header} |", "| --- |" + " --- |" * len(targets)]
    rows = scores.set_index(["input", "target"])
    for name in r["inputs"]:
        cells = []
        for t in targets:
            increases = scores.increase[scores.target == t]
            mine = rows.loc[(name, t)]
            cells.append(cell(mine, 1 + int((increases > mine.increase).sum())))  # ties share
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md tables of one recorded run, one per case."""
    lines: list[str] = []
    for r in cases:
        lines += [*([""] if lines else []), *case_table(r)]
    return lines


def draw(path: Path, directory: Path, names: list[str]) -> None:
    """The heatmap of each case in ``names`` from the last run in ``path``:
    ``DIRECTORY/importance_CASE.png``."""
    _, cases = record.runs(path)[-1]
    directory.mkdir(parents=True, exist_ok=True)
    for r in (r for r in cases if r["case"] in names):
        fig = plots.importance(pd.DataFrame(r["rows"]))
        fig.savefig(directory / f"importance_{r['case']}.png", dpi=70)
        print(directory / f"importance_{r['case']}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--hidden", type=int, default=64, help="ETTh1 models' LSTM units")
    parser.add_argument("--epochs", type=int, default=20, help="ETTh1 models' max_epochs")
    parser.add_argument("--plot", type=Path, metavar="DIR",
                        help="draw the heatmap of each of --cases of the last run in --results "
                        "into DIR and stop (no measuring)")
    record.add_options(parser, "importance")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    if args.plot:
        draw(args.results, args.plot, args.cases)
        return
    warnings.filterwarnings("ignore")
    run = record.start(args, "importance")
    for case in args.cases:
        print("\n".join(case_table(run.add(measure(case, args.hidden, args.epochs)))), "",
              sep="\n", flush=True)


if __name__ == "__main__":
    main()
