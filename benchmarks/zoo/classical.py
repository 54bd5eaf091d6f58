"""Classical forecasters on the development zoo: does anything beat persistence where lstmkit ties?

The zoo (``run.py``) asks lstmkit's default model to beat persistence on 90 % of its
targets. This script asks the same of the forecasters a statistician would try first, on
the same tables, parts and windows, so that a target no method beats is told apart from
one lstmkit fails on. Per series, in original units, each forecaster is fitted on the
training part only, and the forecast of every window (origin ``o``, steps ``1..horizon``)
reads the series up to ``o``:

* ``persistence``: the last value (checked equal to lstmkit's naive MAE in ``run.py``'s
  rows);
* ``drift``: the last value plus the window's mean change per step, times the step;
* ``mean``: the mean of the window (``lookback`` values);
* ``ses``: simple exponential smoothing, its rate the one of 0.05, 0.1, ..., 1 with the
  lowest one-step MAE on the training part;
* ``ar``: an autoregression on the values, ``ar_diff``: on their changes (ARIMA(p, 1, 0)),
  least squares with an intercept on the training part, iterated over the steps; the order
  ``p`` of 1, 2, 4, 8 or the season with the lowest validation MAE;
* ``chosen``: the one of these (persistence included) with the lowest validation MAE, as
  a user choosing on validation would.

A second table asks whether lstmkit's default would gain from such candidates: per target,
the default or a classical forecaster of a pool, whichever has the lowest validation MAE
(the default's own validation MAE is after its fallback, which was decided there).

Missing values are carried forward for the forecasters (as ``Feature(missing="ffill")``)
and left out of the errors; as in lstmkit's scores, a window whose last value is missing is
not scored. The categorical target (Seattle's weather type) is skipped.

    python benchmarks/zoo/classical.py             # every table of the development zoo
    python benchmarks/zoo/classical.py --heldout   # every held-out table
    python benchmarks/zoo/classical.py --report [--heldout]    # the tables for BENCHMARKS.md

(statsmodels, sktime and linearmodels, whose bundled tables some are, on PYTHONPATH as for
``run.py``.)

Rows go to ``results-classical.jsonl`` (one per target: each forecaster's validation and
test MAE), replaced per table on a rerun.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as zoo

RESULTS = zoo.HERE / "results-classical.jsonl"
RATES = np.round(np.arange(0.05, 1.0001, 0.05), 2)
ORDERS = (1, 2, 4, 8)
METHODS = ("persistence", "drift", "mean", "ses", "ar", "ar_diff")

# (a series with missing values carried forward, origin o, horizon) -> (horizon,): the
# forecast of steps o + 1 .. o + horizon, reading the series up to o only
Forecast = Callable[[np.ndarray, int, int], np.ndarray]


def persistence(series: np.ndarray, origin: int, horizon: int) -> np.ndarray:
    return np.full(horizon, series[origin])


def drift_over(lookback: int) -> Forecast:
    def drift(series: np.ndarray, origin: int, horizon: int) -> np.ndarray:
        window = series[max(origin + 1 - lookback, 0): origin + 1]
        slope = (window[-1] - window[0]) / max(len(window) - 1, 1)
        return window[-1] + slope * np.arange(1, horizon + 1)
    return drift


def mean_over(lookback: int) -> Forecast:
    return lambda series, origin, horizon: np.full(
        horizon, series[max(origin + 1 - lookback, 0): origin + 1].mean())


def ses_fitted(train: np.ndarray) -> Forecast:
    """Simple exponential smoothing at the rate with the lowest one-step training MAE (the
    levels of a series computed once: each reads only the values up to it)."""
    def levels(values: np.ndarray, rate: float) -> np.ndarray:
        level, out = values[0], np.empty(len(values))
        for i, v in enumerate(values):
            level = level + rate * (v - level)
            out[i] = level
        return out

    errors = [np.mean(np.abs(train[1:] - levels(train, r)[:-1])) for r in RATES]
    rate = float(RATES[int(np.argmin(errors))])
    known: dict[int, np.ndarray] = {}

    def ses(series: np.ndarray, origin: int, horizon: int) -> np.ndarray:
        if id(series) not in known:
            known.clear()
            known[id(series)] = levels(series, rate)
        return np.full(horizon, known[id(series)][origin])
    return ses


def ar_fitted(train: np.ndarray, order: int, differenced: bool) -> Forecast | None:
    """An AR(order) with intercept by least squares on the training values (or changes),
    iterated; None where the training part is too short for it."""
    series = np.diff(train) if differenced else train
    if len(series) <= 2 * order + 1:
        return None
    lags = np.column_stack([series[order - j - 1: len(series) - j - 1] for j in range(order)])
    design = np.column_stack([np.ones(len(lags)), lags])               # (n, 1 + order)
    coef, *_ = np.linalg.lstsq(design, series[order:], rcond=None)

    def forecast(series: np.ndarray, origin: int, horizon: int) -> np.ndarray:
        history = series[max(origin - order, 0): origin + 1]       # the last order + 1 values
        past = list((np.diff(history) if differenced else history[1:])[-order:])
        out = []
        for _ in range(horizon):
            nxt = coef[0] + float(np.dot(coef[1:], past[::-1][:order]))
            out.append(nxt)
            past.append(nxt)
        steps = np.array(out)
        return series[origin] + np.cumsum(steps) if differenced else steps
    return forecast


def part_mae(values: np.ndarray, forecast: Forecast, lo: int, hi: int, lookback: int,
             horizon: int) -> tuple[float, int]:
    """Sum of absolute errors and their count over the windows whose origin ``o`` runs as
    ``run.seasonal_naive_mae``'s over the part ``[lo, hi)``."""
    filled = _carried(values)
    total, count = 0.0, 0
    for origin in range(max(lo - 1, lookback - 1), hi - horizon):
        truth = values[origin + 1: origin + 1 + horizon]
        ok = ~np.isnan(truth)
        if ok.any() and not np.isnan(values[origin]):    # lstmkit scores no window whose
            # last target value is missing (its naive forecast is missing)
            predicted = forecast(filled, origin, horizon)
            total += float(np.abs(truth[ok] - predicted[ok]).sum())
            count += int(ok.sum())
    return total, count


def _carried(values: np.ndarray) -> np.ndarray:
    """``values`` with each NaN replaced by the last value before it (leading NaN: the first
    value)."""
    index = np.where(np.isnan(values), 0, np.arange(len(values)))
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    first = filled[~np.isnan(filled)]
    return np.where(np.isnan(filled), first[0] if first.size else 0.0, filled)


def run_table(name: str, heldout: bool) -> list[dict]:
    """Every forecaster's validation and test MAE on each regression target of a zoo table
    (of the held-out tables with ``heldout``)."""
    from lstmkit import Spec
    from lstmkit.data.groups import arrange
    from lstmkit.data.split import series_bounds
    from lstmkit.spec import Split

    case = _tables(heldout)[name]
    frame, spec = case.load(), Spec(**case.spec)
    groups = arrange(frame, spec)
    bounds = series_bounds(groups, Split())
    records = []
    for target in spec.targets:
        if target.kind != "regression":
            continue
        sums: dict[str, dict[str, list[float]]] = {}
        for g in range(len(groups)):
            lo, hi = groups.offsets[g], groups.offsets[g + 1]
            values = groups.frame[target.name].to_numpy(dtype=np.float64)[lo:hi]
            b = bounds[g]
            train = _carried(values[: b[1]])
            candidates = _candidates(train, spec.lookback, case.season)
            for method, forecast in candidates.items():
                for part, (a, z) in (("val", (b[1], b[2])), ("test", (b[2], b[3]))):
                    total, count = part_mae(values, forecast, a, z, spec.lookback, spec.horizon)
                    acc = sums.setdefault(method, {}).setdefault(part, [0.0, 0])
                    acc[0] += total
                    acc[1] += count
        mae = {m: {p: (t / c if c else math.nan) for p, (t, c) in parts.items()}
               for m, parts in sums.items()}
        records.append({"zoo": ZOOS[heldout], "table": name, "target": target.name,
                        "mae": mae})
    return records


def _candidates(train: np.ndarray, lookback: int, season: int | None) -> dict[str, Forecast]:
    """The forecasters fitted on one series' training values; ``ar`` and ``ar_diff`` one per
    order (``ar(2)``), chosen among later on validation."""
    out: dict[str, Forecast] = {"persistence": persistence, "drift": drift_over(lookback),
                                "mean": mean_over(lookback), "ses": ses_fitted(train)}
    for differenced, family in ((False, "ar"), (True, "ar_diff")):
        for order in sorted({*ORDERS, *([season] if season else [])}):
            fitted = ar_fitted(train, order, differenced)
            if fitted is not None:
                out[f"{family}({order})"] = fitted
    return out


def summary(record: dict) -> dict[str, float]:
    """Each method's test MAE (``ar`` and ``ar_diff`` at their validation-chosen order) and
    ``chosen``'s: the method with the lowest validation MAE."""
    mae = record["mae"]
    best: dict[str, str] = {}
    for key in mae:
        family = key.split("(")[0]
        if family not in best or mae[key]["val"] < mae[best[family]]["val"]:
            best[family] = key
    out = {family: mae[key]["test"] for family, key in best.items()}
    chosen = min(best.values(), key=lambda key: mae[key]["val"])
    out["chosen"] = mae[chosen]["test"]
    out["chosen_method"] = chosen
    return out


def report(records: list[dict], lstmkit: dict[tuple[str, str], float]) -> str:
    """Per target: persistence's test MAE and each method's ratio to it, the
    validation-chosen one's, and lstmkit's default (``run.py``'s ``lstmkit`` label); below,
    how many targets each beats persistence on."""
    columns = [*METHODS[1:], "chosen"]
    lines = ["| table | target | persistence | " + " | ".join(columns)
             + " | method chosen | lstmkit |",
             "| --- " * (len(columns) + 5) + "|"]
    beat = {c: 0 for c in [*columns, "lstmkit"]}
    for r in records:
        s = summary(r)
        base = s["persistence"]
        cells = []
        for c in columns:
            beat[c] += s[c] < base
            cells.append(f"{zoo.ratio_to(s[c], base):.3f}")
        ours = lstmkit.get((r["table"], r["target"]))
        if ours is not None:
            beat["lstmkit"] += ours["model"] < ours["naive"]
        lines.append(f"| {r['table']} | {r['target']} | {base:.4g} | " + " | ".join(cells)
                     + f" | {s['chosen_method']} | "
                     + ("" if ours is None else f"{zoo.ratio_to(ours['model'], ours['naive']):.3f}")
                     + " |")
    lines += ["", f"targets: {len(records)}; beat persistence on test: "
              + ", ".join(f"{c} {n}" for c, n in beat.items())]
    return "\n".join(lines)


POOLS = (("drift",), ("persistence", "drift"), ("persistence", "drift", "ar_diff"),
         METHODS)


def choices_report(records: list[dict], rows: dict[tuple[str, str], dict]) -> str:
    """lstmkit's default or a classical forecaster, per target the one with the lowest
    validation MAE, from each pool: how many targets that beats persistence on in the test
    part, and the worst ratio to it. ``rows``: ``run.py``'s records of the default."""
    lines = ["| chosen on validation among | targets | beat persistence | worst ratio |",
             "| --- | --- | --- | --- |"]
    for pool in ((), *POOLS):
        beat, worst, n = 0, 0.0, 0
        for r in records:
            ours = rows.get((r["table"], r["target"]))
            if ours is None:
                continue
            options = {"lstmkit": (ours["val_model"], ours["model"], ours["naive"])}
            for key, mae in r["mae"].items():
                family = key.split("(")[0]
                if family in pool and (family not in options or mae["val"] < options[family][0]):
                    options[family] = (mae["val"], mae["test"], r["mae"]["persistence"]["test"])
            _, test, base = min(options.values(), key=lambda option: option[0])
            n, beat, worst = n + 1, beat + (test < base), max(worst, zoo.ratio_to(test, base))
        lines.append(f"| lstmkit{''.join(', ' + m for m in pool)} | {n} | {beat} | "
                     f"{worst:.2f} |")
    return "\n".join(lines)


def lstmkit_rows(label: str) -> dict[tuple[str, str], dict]:
    """``run.py``'s records of lstmkit's default per (table, target) under a label: test and
    validation MAE of the model and of its naive forecast (equal to this script's
    persistence up to rounding, ``check_persistence``; a tie is told by lstmkit's own)."""
    return {(r["table"], r["target"]): r for r in zoo._read(zoo.RESULTS)
            if r["label"] == label and "error" not in r and r["metric"] == "MAE"}


def check_persistence(records: list[dict], label: str) -> None:
    """Raise unless persistence here equals lstmkit's naive forecast in ``run.py``'s rows."""
    naive = {(r["table"], r["target"]): r["naive"] for r in zoo._read(zoo.RESULTS)
             if r["label"] == label and "error" not in r and r["metric"] == "MAE"}
    for r in records:
        mine, theirs = r["mae"]["persistence"]["test"], naive.get((r["table"], r["target"]))
        if theirs is not None and not math.isclose(mine, theirs, rel_tol=1e-6):
            raise SystemExit(f"{r['table']} {r['target']}: persistence {mine} here, {theirs} "
                             "in run.py's rows: not the same windows")


# run.py's labels of the current default on the development zoo and the held-out tables
LABELS = {"development": "one-SE rule, shares too", "held-out": "held-out (2763711)"}
ZOOS = {False: "development", True: "held-out"}


def _tables(heldout: bool) -> dict:
    return zoo._heldout() if heldout else zoo._zoo()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", help="tables to run")
    parser.add_argument("--heldout", action="store_true", help="the held-out tables instead")
    parser.add_argument("--report", action="store_true", help="print the table and exit")
    args = parser.parse_args()
    which, tables = ZOOS[args.heldout], _tables(args.heldout)
    records = zoo._read(RESULTS)
    if not args.report:
        names = args.only or list(tables)
        fresh = [r for name in names for r in run_table(name, args.heldout)]
        check_persistence(fresh, LABELS[which])
        records = [r for r in records if (r["zoo"], r["table"]) not in
                   {(which, name) for name in names}] + fresh
        order = [*(("development", t) for t in _tables(False)),
                 *(("held-out", t) for t in _tables(True))]
        records.sort(key=lambda r: order.index((r["zoo"], r["table"])))
        RESULTS.write_text("".join(json.dumps(r) + "\n" for r in records))
    mine, rows = [r for r in records if r["zoo"] == which], lstmkit_rows(LABELS[which])
    print(report(mine, rows), "", choices_report(mine, rows), sep="\n")


if __name__ == "__main__":
    main()
