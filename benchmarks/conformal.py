"""Conformal intervals on real data: test-part coverage of 80 % and 95 % intervals vs nominal.

One fit per data set with ``coverage=[0.8, 0.95]``: split-conformal margins calibrated on
the validation part at the end of fit, then ``evaluate`` on the test part (later months)
reports, for the model and the naive baseline's intervals (persistence plus its training
errors' quantiles), coverage, mean width and MSIS. Training is reduced (``--epochs``,
default 5) to keep the run short: the figures are about the intervals, not the accuracy.

* ``etth1``: ETTh1 ``OT`` from all seven columns, the literature split (train rows
  [0, 8640), validation [8640, 11520), test [11520, 14400)), lookback 96, horizon 24.
* ``beijing``: Beijing PM2.5 ``pm2.5`` (gaps masked) from the weather columns and wind
  direction, chronological 70 / 10 / 20, lookback 48, horizon 6.

Panels (``--panels``): coverage on each series of a panel whose series differ in scale,
from one fit per panel and scaling (``--scalings``): the test part scored with the
scale-aware margins the fit calibrated (each series' normalised margins times its naive
scale) and, on the same predictions, with the pooled margins of the same record (one
margin per step for every series: what calibration gave before scale-aware margins).
The panels are ``benchmarks/scale_by.py``'s, with its lookbacks, horizons and parameters
(a 32-unit LSTM, patience 3, batches of 256), the default split (70 / 15 / 15 % of each
series' rows):

* ``exchange``: the exchange-rate table as eight daily series (mean daily changes 0.00004
  to 0.0065), its last ``--days`` days (default 3000).
* ``ett``: ETTh1 and ETTh2 as fourteen hourly series (each column of each transformer),
  their first ``--hours`` hours (default 4000).

Quantile targets (``--quantile-sets etth1 beijing``): a set's target as quantiles 2.5 %,
10 %, 50 %, 90 %, 97.5 %, from the same fit the test coverage of its own 80 % and 95 %
intervals and of those intervals conformalised on the validation part (CQR): whether
calibrating by default would bring them within 3 points of nominal.

    OMP_NUM_THREADS=1 python benchmarks/conformal.py [--sets etth1 beijing] [--epochs 5]
    OMP_NUM_THREADS=1 python benchmarks/conformal.py --sets --panels exchange ett
    OMP_NUM_THREADS=1 python benchmarks/conformal.py --sets --quantile-sets etth1 beijing
    python benchmarks/conformal.py --table    # the tables of results/conformal.jsonl
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record
import scale_by

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SETS = ("etth1", "beijing")
PANELS = ("exchange", "ett")
SCALINGS = ("global", "series")
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
COVERAGE = (0.8, 0.95)


def etth1() -> tuple[str, object, Spec, Split]:
    data = datasets.load("ETTh1", data_dir=SHARED).iloc[:14400]
    columns = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    spec = Spec(time="date", inputs=columns, targets=["OT"], lookback=96, horizon=24)
    return "OT", data, spec, Split(val_start=8640, test_start=11520)


def beijing() -> tuple[str, object, Spec, Split]:
    data = datasets.load("beijing_pm25", data_dir=SHARED)
    spec = Spec(time="date", targets=["pm2.5"], lookback=48, horizon=6,
                inputs=[Feature("pm2.5", missing="mask"), "DEWP", "TEMP", "PRES", "Iws",
                        Feature("cbwd", kind="categorical")])
    return "pm2.5", data, spec, Split(val_start=0.7, test_start=0.8)


def measure(name: str, epochs: int) -> list[dict]:
    target, data, spec, split = {"etth1": etth1, "beijing": beijing}[name]()
    started = time.perf_counter()
    model = LSTMModel(spec, max_epochs=epochs, split=split, coverage=list(COVERAGE),
                      progress=False, seed=0).fit(data)
    fit_s = time.perf_counter() - started
    evaluation = model.evaluate(data, part="test")
    record_ = model.conformal_
    cases = []
    for k, c in enumerate(COVERAGE):
        p = format(c * 100, "g")
        case = {"set": name, "target": target, "horizon": spec.horizon, "epochs": epochs,
                "epochs_run": len(model.history_["epochs"]), "fit_s": round(fit_s, 1),
                "coverage": c, "calibration_windows": record_["windows"],
                "calibration_coverage": record_["targets"][target]["covered"][k],
                "margin_step_1": record_["targets"][target]["margins"][k][0],
                "margin_last_step": record_["targets"][target]["margins"][k][-1]}
        for metric in ("coverage", "width", "MSIS"):
            for of in ("model", "naive"):
                case[f"{metric}_{of}"] = evaluation.metric(target, f"{metric}_{p}_conformal", of)
        steps = evaluation.per_step[evaluation.per_step.metric == f"coverage_{p}_conformal"]
        case["coverage_per_step"] = [round(v, 2) for v in steps.model]
        cases.append(case)
    return cases


def pooled(record_: dict, keep_scales: bool = False) -> dict:
    """A scale-aware record with its pooled margins only: one margin per step for every
    series, as calibration gave before scale-aware margins (``keep_scales``: its normalised
    margins pooled over the series, without any series' own)."""
    record_ = copy.deepcopy(record_)
    if not keep_scales:
        record_.pop("series", None)
    for entry in record_["targets"].values():
        entry.pop("series_margins", None)
        if not keep_scales:
            entry.pop("scales", None)
            entry.pop("scaled_margins", None)
    return record_


def measure_panel(name: str, scaling: str, epochs: int, days: int, hours: int) -> list[dict]:
    """Per series and coverage, the test coverage and mean width with pooled margins, with
    normalised ones pooled over the series, and with the series' own normalised ones where
    it has enough windows (the default), from one fit; and over all windows (``*all*``)."""
    table_ = scale_by.panel(name, days, hours)
    spec = Spec.from_long(table_, inputs=[], scale_by=scaling, **scale_by.PANELS[name])
    started = time.perf_counter()
    model = LSTMModel(spec, seed=0, max_epochs=epochs, coverage=list(COVERAGE),
                      **scale_by.PARAMS).fit(table_)
    fit_s = time.perf_counter() - started
    calibrated = model.conformal_
    entry = calibrated["targets"]["y"]
    scales = dict(zip(calibrated.get("series", []), entry.get("scales", []), strict=True))
    own = dict(zip(calibrated.get("series", []), entry.get("series_margins", [[]])[0],
                   strict=False))
    scored = {"own": model.evaluate(table_, part="test")}
    for how, keep in (("pooled", False), ("normalised", True)):
        model.pipeline_.conformal = pooled(calibrated, keep)
        scored[how] = model.evaluate(table_, part="test")
    model.pipeline_.conformal = calibrated
    cases = []
    for c in COVERAGE:
        p = format(c * 100, "g")
        keys = ["*all*", *dict.fromkeys(scored["own"].per_series.series.astype(str))]
        for key in keys:
            case = {"panel": name, "scale_by": scaling, "series": key, "coverage": c,
                    "n_series": len(keys) - 1, "epochs": epochs,
                    "epochs_run": len(model.history_["epochs"]), "fit_s": round(fit_s, 1),
                    "scale": scales.get(key), "own_margins": own.get(key) is not None}
            for how, evaluation in scored.items():
                rows = evaluation.per_series.assign(series=lambda t: t.series.astype(str))
                for metric in ("coverage", "width"):
                    full = f"{metric}_{p}_conformal"
                    case[f"{metric}_{how}"] = (
                        evaluation.metric("y", full) if key == "*all*" else
                        float(rows[(rows.series == key) & (rows.metric == full)].model.iloc[0]))
            cases.append(case)
    return cases


def measure_quantiles(name: str, epochs: int, seed: int = 0) -> list[dict]:
    """A set's target as quantiles: test coverage of its own intervals and of the
    conformalised ones (calibrated on the validation part), from one fit."""
    target, data, spec, split = {"etth1": etth1, "beijing": beijing}[name]()
    spec = Spec(time=spec.time, inputs=list(spec.inputs), lookback=spec.lookback,
                horizon=spec.horizon, targets=[Target(target, quantiles=list(QUANTILES))])
    started = time.perf_counter()
    model = LSTMModel(spec, max_epochs=epochs, split=split, coverage=list(COVERAGE),
                      progress=False, seed=seed).fit(data)
    fit_s = time.perf_counter() - started
    evaluation = model.evaluate(data, part="test")
    cases = []
    for k, c in enumerate(COVERAGE):
        p = format(c * 100, "g")
        cases.append({
            "quantile_set": name, "target": target, "seed": seed, "coverage": c,
            "epochs": epochs,
            "epochs_run": len(model.history_["epochs"]), "fit_s": round(fit_s, 1),
            "calibration_coverage": model.conformal_["targets"][target]["covered"][k],
            "margin_step_1": model.conformal_["targets"][target]["margins"][k][0],
            **{f"{metric}_{how}": evaluation.metric(target, f"{metric}_{p}{suffix}")
               for metric in ("coverage", "width")
               for how, suffix in (("own", ""), ("conformal", "_conformal"))}})
    return cases


PANEL_HEADER = (
    "| panel | scaling | nominal | series | pooled margins: lowest and highest series | "
    "farthest from nominal | within 5 points | normalised: lowest and highest | farthest | "
    "within 5 | per series (default): lowest and highest | farthest | within 5 | all "
    "windows: pooled, normalised, per series | epochs |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
    "| --- |")
HOWS = ("pooled", "normalised", "own")
SERIES_HEADER = ("| panel | scaling | series | naive scale | nominal | pooled coverage | "
                 "width | normalised coverage | width | per series coverage | width |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
QUANTILE_HEADER = ("| set | target | seed | nominal | quantiles' own interval: test coverage "
                   "| width | conformalised (CQR): test coverage | width | epochs |",
                   "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def panel_lines(cases: list[dict]) -> list[str]:
    """The summary per panel, scaling and coverage, then each series at 80 % (of the first
    scaling measured)."""
    lines = list(PANEL_HEADER)
    groups = dict.fromkeys((r["panel"], r["scale_by"], r["coverage"]) for r in cases)
    for panel, scaling, c in groups:
        mine = [r for r in cases if (r["panel"], r["scale_by"], r["coverage"])
                == (panel, scaling, c)]
        every = next(r for r in mine if r["series"] == "*all*")
        each = [r for r in mine if r["series"] != "*all*"]
        cells = []
        for how in HOWS:
            shares = [r[f"coverage_{how}"] for r in each]
            far = max(abs(v - 100 * c) for v in shares)
            near = sum(abs(v - 100 * c) <= 5 for v in shares)
            cells.append(f"{min(shares):.1f} %, {max(shares):.1f} % | {far:.1f} | {near}")
        overall = ", ".join(f"{every[f'coverage_{how}']:.1f} %" for how in HOWS)
        lines.append(f"| {panel} | {scaling} | {100 * c:g} % | {len(each)} | "
                     f"{' | '.join(cells)} | {overall} | {every['epochs_run']} of "
                     f"{every['epochs']} |")
    lines += ["", *SERIES_HEADER]
    first = cases[0]["scale_by"]                 # the first scaling's series (the default's)
    for r in cases:
        if r["series"] != "*all*" and r["coverage"] == COVERAGE[0] and r["scale_by"] == first:
            cells = " | ".join(f"{r[f'coverage_{how}']:.1f} % | {r[f'width_{how}']:.3g}"
                               for how in HOWS)
            lines.append(f"| {r['panel']} | {r['scale_by']} | {r['series']} | "
                         f"{r['scale']:.3g} | {100 * r['coverage']:g} % | {cells} |")
    return lines


def quantile_line(r: dict) -> str:
    return (f"| {r['quantile_set']} | {r['target']} | {r.get('seed', 0)} | "
            f"{100 * r['coverage']:g} % | "
            f"{r['coverage_own']:.1f} % | {r['width_own']:.3g} | "
            f"{r['coverage_conformal']:.1f} % | {r['width_conformal']:.3g} | "
            f"{r['epochs_run']} of {r['epochs']} |")


HEADER = ("| set | target | nominal | test coverage | naive's | mean width | naive's | MSIS "
          "| naive's | coverage per step (first, last) | epochs |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def line(r: dict) -> str:
    """One row of the table from a recorded case."""
    steps = r["coverage_per_step"] or [r["coverage_model"]]
    return (f"| {r['set']} | {r['target']} | {100 * r['coverage']:g} % | "
            f"{r['coverage_model']:.1f} % | {r['coverage_naive']:.1f} % | "
            f"{r['width_model']:.3g} | {r['width_naive']:.3g} | {r['MSIS_model']:.3g} | "
            f"{r['MSIS_naive']:.3g} | {steps[0]:.1f} %, {steps[-1]:.1f} % | "
            f"{r['epochs_run']} of {r['epochs']} |")


def table(about: dict, cases: list[dict]) -> list[str]:
    """The BENCHMARKS.md tables of one recorded run: data sets, panels, quantile targets."""
    lines = []
    sets = [r for r in cases if "set" in r]
    panels = [r for r in cases if "panel" in r]
    quantiles = [r for r in cases if "quantile_set" in r]
    if sets:
        lines += [*HEADER, *(line(r) for r in sets)]
    if panels:
        lines += ([""] if lines else []) + panel_lines(panels)
    if quantiles:
        lines += ([""] if lines else []) + [*QUANTILE_HEADER, *map(quantile_line, quantiles)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", choices=SETS, default=list(SETS))
    parser.add_argument("--panels", nargs="*", choices=PANELS, default=[])
    parser.add_argument("--scalings", nargs="+", choices=SCALINGS, default=list(SCALINGS))
    parser.add_argument("--quantile-sets", nargs="*", choices=SETS, default=[])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="quantile sets: one fit per seed (default: 0)")
    parser.add_argument("--days", type=int, default=3000, help="exchange: last days")
    parser.add_argument("--hours", type=int, default=4000, help="ett: first hours")
    parser.add_argument("--epochs", type=int, default=5, help="max_epochs (default: 5)")
    record.add_options(parser, "conformal")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    warnings.filterwarnings("ignore")
    run = record.start(args, "conformal")
    for name in args.sets:
        for r in measure(name, args.epochs):
            print(line(run.add(r)), flush=True)
    for name in args.panels:
        for scaling in args.scalings:
            cases = [run.add(r) for r in measure_panel(name, scaling, args.epochs, args.days,
                                                      args.hours)]
            print("\n".join(panel_lines(cases)), flush=True)
    for name in args.quantile_sets:
        for seed in args.seeds:
            for r in measure_quantiles(name, args.epochs, seed):
                print(quantile_line(run.add(r)), flush=True)


if __name__ == "__main__":
    main()
