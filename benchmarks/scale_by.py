"""Per-series against global scaling (``Spec(scale_by=...)``) on real panels.

* ``exchange``: the exchange-rate table as eight daily series in long format (levels from
  0.009 to 1.4, over 100x apart), its last ``--days`` days.
* ``ett``: ETTh1 and ETTh2 together as fourteen hourly series, each column of each
  transformer one series in long format (``ETTh1/OT``, ..., levels from about -5 to 50),
  the first ``--hours`` hours.
* ``illness``: the weekly US influenza-like-illness table as its seven columns, seven series
  in long format (levels from about 1 for the ILI percentages to 10^5 for the patient and
  provider counts: five orders of magnitude apart), every week.
* ``stocks``: vega_datasets' monthly closing prices of five stocks, 2000-2010 (AAPL, AMZN,
  GOOG, IBM, MSFT; levels from about 6 to 700; GOOG from 2004 only).
* ``employment``: vega_datasets' monthly US employment table, 2006-2015, as its 22 sector
  columns, 22 series (thousands of jobs, from about 550 for utilities to 143,000 for all
  nonfarm jobs: over 250x apart); ``nonfarm_change``, the month's change of ``nonfarm``,
  is left out (a difference of another column, not a level).

Each is one univariate model over all series (the series' own past only), trained with the
default split (70 / 15 / 15 % of each series' rows) once per scaling and seed, the same
parameters otherwise: a 32-unit LSTM, instance normalisation as the forecast's default,
``max_epochs`` 10 (``--epochs``), ``patience=3``, batches of 256. Scored on each series' test part:
MASE and RMSSE (the mean over series, each weighing the same), and MAE over all windows
pooled in original units (so the largest series dominate it), beside persistence's.
``--model default`` fits the default model instead (every parameter the preset's, as a user
who sets none gets it; ``--epochs`` still the epoch budget).

    OMP_NUM_THREADS=1 python benchmarks/scale_by.py
    python benchmarks/scale_by.py --table    # the table of results/scale_by.jsonl
"""

from __future__ import annotations

import argparse
import importlib.resources
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd
import record

from lstmkit import LSTMModel, Spec

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "forecasting"
PANELS = {"exchange": {"lookback": 30, "horizon": 5},
          "ett": {"lookback": 48, "horizon": 24},
          "illness": {"lookback": 36, "horizon": 12},
          "stocks": {"lookback": 12, "horizon": 3},
          "employment": {"lookback": 12, "horizon": 3}}
PARAMS = {"hidden": 32, "patience": 3, "batch_size": 256, "progress": False}
SCALINGS = ("global", "series")


def panel(name: str, days: int, hours: int) -> pd.DataFrame:
    """The long table of panel ``name``: columns ``unique_id``, ``ds``, ``y``."""
    if name == "stocks":
        stocks = vega("stocks").rename(columns={"symbol": "unique_id", "price": "y"})
        return stocks.assign(ds=pd.to_datetime(stocks.date, format="%b %d %Y"))[
            ["unique_id", "ds", "y"]]
    if name == "employment":
        wide = vega("us-employment").drop(columns="nonfarm_change")
        long = wide.melt(id_vars="month", var_name="unique_id", value_name="y")
        return long.assign(ds=pd.to_datetime(long.month))[["unique_id", "ds", "y"]]
    if name in ("exchange", "illness"):
        wide = (pd.read_csv(DATA / "exchange_rate" / "exchange_rate.csv").iloc[-days:]
                if name == "exchange" else
                pd.read_csv(DATA / "illness" / "national_illness.csv"))
        parts = [wide.melt(id_vars="date", var_name="unique_id", value_name="y")]
    else:
        parts = [pd.read_csv(DATA / "ETT-small" / f"{h}.csv").iloc[:hours].melt(
            id_vars="date", var_name="column", value_name="y").assign(
            unique_id=lambda t, h=h: h + "/" + t.column).drop(columns="column")
            for h in ("ETTh1", "ETTh2")]
    long = pd.concat(parts, ignore_index=True).rename(columns={"date": "ds"})
    return long.assign(ds=pd.to_datetime(long.ds))[["unique_id", "ds", "y"]]


def vega(name: str) -> pd.DataFrame:
    """A table bundled with the vega_datasets package."""
    return pd.read_csv(importlib.resources.files("vega_datasets") / "_data" / f"{name}.csv")


def measure(run: record.Run, name: str, table: pd.DataFrame, seeds: list[int],
            epochs: int, params: dict) -> None:
    for seed in seeds:
        for scale_by in SCALINGS:
            spec = Spec.from_long(table, inputs=[], scale_by=scale_by, **PANELS[name])
            start = time.perf_counter()
            model = LSTMModel(spec, seed=seed, max_epochs=epochs, **params).fit(table)
            seconds = time.perf_counter() - start
            scores = model.evaluate(table, part="test")
            case = {"panel": name, "scale_by": scale_by, "seed": seed,
                    "series": int(table.unique_id.nunique()), "fit_seconds": round(seconds, 1),
                    "epochs": len(model.history_["epochs"])}
            for metric in ("MASE", "RMSSE", "MAE"):
                case[metric] = scores.metric("y", metric)
                case[f"naive_{metric}"] = scores.metric("y", metric, of="naive")
            print(run.add(case), flush=True)


def table(about: dict, cases: list[dict]) -> list[str]:
    """Per panel and scaling: the median (and range) over seeds of the test MASE, RMSSE and
    pooled MAE, persistence's beside them."""
    lines = ["| panel | scale_by | seeds | MASE | RMSSE | MAE (pooled) | persistence MASE / "
             "RMSSE / MAE | fit s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in PANELS:
        for scale_by in SCALINGS:
            mine = [c for c in cases if c["panel"] == name and c["scale_by"] == scale_by]
            if not mine:
                continue
            cells = [record.spread([c[m] for c in mine], digits)
                     for m, digits in (("MASE", 3), ("RMSSE", 3), ("MAE", 5))]
            naive = " / ".join(f"{mine[0]['naive_' + m]:.{digits}f}"
                               for m, digits in (("MASE", 3), ("RMSSE", 3), ("MAE", 5)))
            seconds = statistics.median(c["fit_seconds"] for c in mine)
            lines.append(f"| {name} ({mine[0]['series']} series) | {scale_by} | {len(mine)} | "
                         f"{' | '.join(cells)} | {naive} | {seconds:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", nargs="+", choices=list(PANELS), default=list(PANELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--model", choices=["small", "default"], default="small",
                        help="small: the 32-unit model above; default: every parameter the "
                        "preset's")
    parser.add_argument("--days", type=int, default=2000,
                        help="the exchange-rate table's last days")
    parser.add_argument("--hours", type=int, default=8000,
                        help="ETTh1's and ETTh2's first hours")
    record.add_options(parser, "scale_by")
    args = parser.parse_args()
    if args.table:
        record.print_tables(args.results, table)
        return
    run = record.start(args, "scale_by")
    with warnings.catch_warnings():        # the table compares every model with persistence
        warnings.simplefilter("ignore")
        for name in args.panels:
            measure(run, name, panel(name, args.days, args.hours), args.seeds, args.epochs,
                    PARAMS if args.model == "small" else {"progress": False})
    record.print_tables(args.results, table)


if __name__ == "__main__":
    main()
