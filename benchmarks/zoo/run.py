"""The development zoo: lstmkit's default model on real tables nobody tuned it for.

Each table comes with the spec a user would write for it (the columns, a lookback and a
horizon that suit its time step) and nothing else: the model is ``LSTMModel(spec,
max_epochs=EPOCHS)``, the split the default one (70/15/15 per series). Every target is
scored on the test part beside persistence (the last value) and, where the calendar has
a season, the seasonal naive forecast (the value one season before each predicted step):
MAE for regression targets, accuracy for categorical ones.

The tables span time steps (hourly, daily, weekly, monthly, quarterly, yearly), kinds of
series (trending, seasonal, random-walk-like), panels, targets that are not inputs and
categorical targets; they come from ../shared/data and from packages' bundled data
(vega_datasets, statsmodels). None is a table the defaults were chosen on (ETTh1, ETTm1,
weather and the four UEA sets of BENCHMARKS.md).

Every run appends one JSON line per target to the results file (runs already there are
skipped), with the commit it ran at, so runs before and after a change sit side by side.

    python benchmarks/zoo/run.py                       # every table
    python benchmarks/zoo/run.py --only macro sunspots # some tables
    python benchmarks/zoo/run.py --label before        # tag the runs (default: the commit)
    python benchmarks/zoo/run.py --set instance_norm=last --label last   # a variant
    python benchmarks/zoo/run.py --targets-as-inputs --label own-past    # targets read too
    python benchmarks/zoo/run.py --heldout             # the held-out tables (_heldout)
    python benchmarks/zoo/run.py --report              # the table for BENCHMARKS.md
    python benchmarks/zoo/run.py --report 0.2.0 after  # some labels only, in this order

The held-out tables (``--heldout``, label ``held-out (COMMIT)``) were first run after the
defaults and the zoo's changes were chosen, to check that they carry over to tables nobody
looked at: airline passengers, lynx, the Nile, fpp2's uschange, PBS scripts, seat belts,
solar power, shampoo sales, Iowa's electricity, wheat prices, US driving, Grunfeld's firms,
Danish money demand, San Francisco's hourly temperatures, ETTm2, and three added after
Grunfeld's firms had changed the fallback's blocks (US states, young men's wages, Fama-French
returns). sktime's and linearmodels' bundled tables are read from their unpacked wheels on
PYTHONPATH. They are not for choosing defaults on.

Variants (``--set``, ``--targets-as-inputs``) are for studies: the zoo's verdict is on the
defaults. Each record also holds the validation part's MAE (accuracy) of the model and of
persistence, so a choice among variants can be made on validation alone.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import math
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
RESULTS = HERE / "results.jsonl"
EPOCHS = 30


def vega(name: str) -> pd.DataFrame:
    return pd.read_csv(importlib.resources.files("vega_datasets") / "_data" / f"{name}.csv")


def statsmodels_data(name: str) -> pd.DataFrame:
    import statsmodels.datasets as sm

    return getattr(sm, name).load_pandas().data


def seattle_weather() -> pd.DataFrame:
    return vega("seattle-weather")


def seattle_temps() -> pd.DataFrame:
    """Hourly temperature in Seattle, 2010, with local-time stamps: 03:00 is absent on the
    day clocks go forward (02:00, which does not exist there, is present), so the rows are
    put on an hourly grid (that hour missing, forward-filled by the spec)."""
    table = vega("seattle-temps")
    table["date"] = pd.to_datetime(table.date)
    return table.set_index("date").asfreq("h").reset_index()


def us_employment() -> pd.DataFrame:
    return vega("us-employment")


def stocks() -> pd.DataFrame:
    """Monthly prices of five stocks, 2000-2010, as a panel (one series per symbol)."""
    table = vega("stocks")
    table["date"] = pd.to_datetime(table.date, format="%b %d %Y")
    return table


def macro() -> pd.DataFrame:
    """US macroeconomic series, quarterly 1959-2009 (statsmodels' macrodata)."""
    table = statsmodels_data("macrodata")
    table.insert(0, "date", pd.PeriodIndex.from_fields(
        year=table.year.astype(int), quarter=table.quarter.astype(int), freq="Q")
        .to_timestamp())
    return table.drop(columns=["year", "quarter"])


def sunspots() -> pd.DataFrame:
    """Yearly sunspot numbers, 1700-2008 (statsmodels)."""
    table = statsmodels_data("sunspots")
    table.insert(0, "date", pd.to_datetime(table.YEAR.astype(int).astype(str), format="%Y"))
    return table.drop(columns="YEAR").rename(columns={"SUNACTIVITY": "sunspots"})


def co2() -> pd.DataFrame:
    """Weekly CO2 at Mauna Loa, 1958-2001 (statsmodels); some weeks are missing (NaN)."""
    table = statsmodels_data("co2").rename_axis("date").reset_index()
    return table


def elnino() -> pd.DataFrame:
    """Monthly sea surface temperature of the El Nino region, 1950-2010 (statsmodels)."""
    wide = statsmodels_data("elnino")
    long = wide.melt(id_vars="YEAR", var_name="month", value_name="sst")
    long["date"] = pd.to_datetime(long.YEAR.astype(int).astype(str) + "-" + long.month,
                                  format="%Y-%b")
    return long.sort_values("date")[["date", "sst"]].reset_index(drop=True)


def exchange() -> pd.DataFrame:
    return pd.read_csv(SHARED / "forecasting" / "exchange_rate" / "exchange_rate.csv")


def illness() -> pd.DataFrame:
    return pd.read_csv(SHARED / "forecasting" / "illness" / "national_illness.csv")


def beijing() -> pd.DataFrame:
    table = pd.read_csv(SHARED / "forecasting" / "beijing_pm2.5" /
                        "PRSA_data_2010.1.1-2014.12.31.csv")
    table.insert(0, "date", pd.to_datetime(table[["year", "month", "day", "hour"]]))
    return table.drop(columns=["No", "year", "month", "day", "hour"])


def etth2() -> pd.DataFrame:
    return pd.read_csv(SHARED / "forecasting" / "ETT-small" / "ETTh2.csv")


# -- the held-out tables: read as a user would, after the defaults were chosen -------------
def bundled(package: str, wheel: str, *parts: str) -> Path:
    """A data file bundled with ``package`` (only the file is read, so its wheel ``wheel``,
    unpacked on PYTHONPATH, will do)."""
    import importlib.util

    found = importlib.util.find_spec(package)
    if found is None:
        raise ModuleNotFoundError(f"{package}'s bundled tables: pip download --no-deps {wheel}, "
                                  "unzip the wheel and put its folder on PYTHONPATH")
    return Path(next(iter(found.submodule_search_locations))).joinpath(*parts)


def sktime_data(folder: str) -> pd.DataFrame:
    """A forecasting table bundled with sktime 0.34.0 (``datasets/data``)."""
    return pd.read_csv(bundled("sktime", "sktime==0.34.0", "datasets", "data", folder,
                               f"{folder}.csv"))


def linearmodels_data(name: str) -> pd.DataFrame:
    """A table bundled with linearmodels 7.1 (``datasets``)."""
    return pd.read_csv(bundled("linearmodels", "linearmodels==7.1", "datasets", name,
                               f"{name}.csv.bz2"))


def airline() -> pd.DataFrame:
    """Monthly airline passengers, 1949-1960 (Box and Jenkins; sktime)."""
    return sktime_data("Airline")


def lynx() -> pd.DataFrame:
    """Lynx trapped in Canada per year, 1821-1934 (sktime): the year is the unnamed index."""
    return sktime_data("Lynx").rename(columns={"Unnamed: 0": "year", "0": "lynx"})


def nile() -> pd.DataFrame:
    """The Nile's yearly flow at Aswan, 1871-1970 (statsmodels): a level shift in 1898."""
    return statsmodels_data("nile")


def uschange() -> pd.DataFrame:
    """Quarterly percentage changes of US consumption, income, production and savings, and
    the change in unemployment, 1970-2016 (fpp2; sktime); quarters written "1970 Q1"."""
    return sktime_data("Uschange").drop(columns="Unnamed: 0")


def pbs() -> pd.DataFrame:
    """Monthly scripts of one PBS (Australian) medicine, 1991-2008 (sktime): small counts,
    mostly zero; months written "1991 Jul"."""
    return sktime_data("PBS_dataset")


def seatbelts() -> pd.DataFrame:
    """UK drivers killed or seriously injured per month, 1969-1984, with the 1983 seat belt
    law (``label``, 0 before and 1 after; sktime)."""
    return sktime_data("seatbelts").rename(columns={"Unnamed: 0": "month"})


def solar() -> pd.DataFrame:
    """Half-hourly UK solar generation, six days of May 2021 (sktime), times in UTC."""
    return sktime_data("solar")


def shampoo() -> pd.DataFrame:
    """Monthly shampoo sales over three years (sktime): 36 rows."""
    return sktime_data("ShampooSales")


def iowa_electricity() -> pd.DataFrame:
    """Iowa's yearly net generation per source (fossil, nuclear, renewables), 2001-2017
    (vega_datasets): a panel of three short series."""
    return vega("iowa-electricity")


def wheat() -> pd.DataFrame:
    """English wheat prices and wages every five years, 1565-1821 (Playfair; vega_datasets):
    the last two wages are missing."""
    return pd.read_json(importlib.resources.files("vega_datasets") / "_data" / "wheat.json")


def driving() -> pd.DataFrame:
    """US miles driven per person and the gas price, yearly 1956-2010 (vega_datasets)."""
    return pd.read_json(importlib.resources.files("vega_datasets") / "_data" / "driving.json")


def grunfeld() -> pd.DataFrame:
    """Yearly investment, value and capital of eleven US firms, 1935-1954 (statsmodels): a
    panel of short series."""
    return statsmodels_data("grunfeld")


def danish() -> pd.DataFrame:
    """Danish money demand, quarterly 1974-1987 (statsmodels): logs of real money, income and
    prices, and two interest rates."""
    return statsmodels_data("danish_data").reset_index()


def sf_temps() -> pd.DataFrame:
    """Hourly temperature in San Francisco, 2010, in local time (vega_datasets): 03:00 is
    absent on the spring night and the autumn's 01:00 is there once, so localising fails;
    put on the hourly grid as lstmkit's error says (the hour missing, forward-filled by the
    spec)."""
    table = vega("sf-temps")
    table["date"] = pd.to_datetime(table.date)
    return table.set_index("date").asfreq("h").reset_index()


def munnell() -> pd.DataFrame:
    """Gross state product, employment, unemployment and capital of 48 US states, yearly
    1970-1986 (Munnell 1990; linearmodels): a panel of 48 short series."""
    return linearmodels_data("munnell")


def wage_panel() -> pd.DataFrame:
    """Log wages and hours of 545 young men, yearly 1980-1987 (Vella and Verbeek 1998;
    linearmodels): a panel of 545 series of eight rows."""
    return linearmodels_data("wage_panel")


def french() -> pd.DataFrame:
    """Monthly Fama-French factor returns (market, size, value, risk-free), 1949-2017
    (linearmodels): returns, close to noise."""
    return linearmodels_data("french")


def ettm2() -> pd.DataFrame:
    return pd.read_csv(SHARED / "forecasting" / "ETT-small" / "ETTm2.csv.gz")


@dataclass(frozen=True)
class Case:
    """One zoo table: how to load it, the spec a user would write, and what it stands for."""

    load: Callable[[], pd.DataFrame]
    spec: dict[str, Any]
    kinds: tuple[str, ...]
    season: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _zoo() -> dict[str, Case]:
    from lstmkit import Feature, Target

    return {
        "seattle_weather": Case(
            seattle_weather,
            dict(time="date", inputs=["precipitation", "wind", "temp_max"],
                 targets=["temp_max", "temp_min", Target("weather", kind="classification")],
                 lookback=28, horizon=1),
            ("daily", "target not an input", "categorical target"), season=7),
        "seattle_temps": Case(
            seattle_temps, dict(time="date", inputs=[Feature("temp", missing="ffill")],
                                targets=["temp"], lookback=72, horizon=24),
            ("hourly", "seasonal", "local time"), season=24),
        "us_employment": Case(
            us_employment,
            dict(time="month", inputs=["nonfarm", "construction", "manufacturing",
                                       "retail_trade", "leisure_and_hospitality"],
                 targets=["nonfarm", "construction", "leisure_and_hospitality"],
                 lookback=24, horizon=6),
            ("monthly", "trending", "seasonal"), season=12),
        "stocks": Case(
            stocks, dict(time="date", series="symbol", inputs=["price"], targets=["price"],
                         lookback=12, horizon=3),
            ("monthly", "panel", "random walk"), season=12),
        "macro": Case(
            macro,
            dict(time="date", inputs=["realgdp", "realcons", "realinv", "unemp", "infl",
                                      "tbilrate"],
                 targets=["realgdp", "unemp", "infl"], lookback=16, horizon=4),
            ("quarterly", "trending"), season=4),
        "sunspots": Case(
            sunspots, dict(time="date", inputs=["sunspots"], targets=["sunspots"],
                           lookback=30, horizon=5),
            ("yearly", "cyclic")),
        "co2": Case(
            co2, dict(time="date", inputs=[Feature("co2", missing="ffill")], targets=["co2"],
                      lookback=104, horizon=8),
            ("weekly", "trending", "seasonal", "gaps"), season=52),
        "elnino": Case(
            elnino, dict(time="date", inputs=["sst"], targets=["sst"], lookback=36, horizon=12),
            ("monthly", "seasonal"), season=12),
        "exchange": Case(
            exchange,
            dict(time="date", inputs=["0", "1", "2", "3", "4", "5", "6", "OT"],
                 targets=["0", "3", "OT"], lookback=30, horizon=7),
            ("daily", "random walk"), season=7),
        "illness": Case(
            illness,
            dict(time="date", inputs=["% WEIGHTED ILI", "ILITOTAL", "NUM. OF PROVIDERS", "OT"],
                 targets=["% WEIGHTED ILI", "OT"], lookback=52, horizon=8),
            ("weekly", "seasonal"), season=52),
        "beijing": Case(
            beijing,
            dict(time="date", inputs=[Feature("pm2.5", missing="ffill"), "DEWP", "TEMP", "PRES",
                                      "Iws", Feature("cbwd", kind="categorical")],
                 targets=["pm2.5", "TEMP"], lookback=48, horizon=24),
            ("hourly", "gaps", "categorical input"), season=24),
        "etth2": Case(
            etth2,
            dict(time="date", inputs=["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
                 targets=["OT"], lookback=96, horizon=24),
            ("hourly", "seasonal"), season=24),
    }


def _heldout() -> dict[str, Case]:
    """Tables first run after the defaults (and the zoo's changes) were chosen, each with the
    spec a user would write: the check that the defaults carry over. Not to choose on."""
    from lstmkit import Feature

    return {
        "airline": Case(
            airline, dict(time="Date", inputs=["Passengers"], targets=["Passengers"],
                          lookback=24, horizon=12),
            ("monthly", "trending", "seasonal"), season=12),
        "lynx": Case(
            lynx, dict(time="year", inputs=["lynx"], targets=["lynx"], lookback=20, horizon=5),
            ("yearly", "cyclic", "numeric time")),
        "nile": Case(
            nile, dict(time="year", inputs=["volume"], targets=["volume"], lookback=20,
                       horizon=5),
            ("yearly", "level shift", "numeric time")),
        "uschange": Case(
            uschange,
            dict(time="Quarter", inputs=["Consumption", "Income", "Production", "Savings",
                                         "Unemployment"],
                 targets=["Consumption", "Unemployment"], lookback=12, horizon=4),
            ("quarterly", "stationary", "quarter labels"), season=4),
        "pbs": Case(
            pbs, dict(time="Month", inputs=["Scripts"], targets=["Scripts"], lookback=24,
                      horizon=12),
            ("monthly", "intermittent counts", "month names"), season=12),
        "seatbelts": Case(
            seatbelts, dict(time="month", inputs=["KSI", "label"], targets=["KSI"],
                            lookback=24, horizon=12),
            ("monthly", "seasonal", "intervention"), season=12),
        "solar": Case(
            solar, dict(time="datetime_gmt", inputs=["solar_gen"], targets=["solar_gen"],
                        lookback=48, horizon=8),
            ("half-hourly", "seasonal", "short", "zone-aware"), season=48),
        "shampoo": Case(
            shampoo, dict(time="Time", inputs=["Sales"], targets=["Sales"], lookback=6,
                          horizon=3),
            ("monthly", "trending", "tiny")),
        "iowa_electricity": Case(
            iowa_electricity,
            dict(time="year", series="source", inputs=["net_generation"],
                 targets=["net_generation"], lookback=4, horizon=2),
            ("yearly", "panel", "tiny")),
        "wheat": Case(
            wheat, dict(time="year", inputs=["wheat", Feature("wages", missing="ffill")],
                        targets=["wheat"], lookback=8, horizon=2),
            ("5-yearly", "trending", "gaps")),
        "driving": Case(
            driving, dict(time="year", inputs=["miles", "gas"], targets=["miles", "gas"],
                          lookback=10, horizon=3),
            ("yearly", "trending")),
        "grunfeld": Case(
            grunfeld, dict(time="year", series="firm", inputs=["invest", "value", "capital"],
                           targets=["invest"], lookback=5, horizon=2),
            ("yearly", "panel", "short")),
        "danish": Case(
            danish, dict(time="period", inputs=["lrm", "lry", "lpy", "ibo", "ide"],
                         targets=["lrm", "ibo"], lookback=8, horizon=4),
            ("quarterly", "trending", "short"), season=4),
        "sf_temps": Case(
            sf_temps, dict(time="date", inputs=[Feature("temp", missing="ffill")],
                           targets=["temp"], lookback=72, horizon=24),
            ("hourly", "seasonal", "local time"), season=24),
        "munnell": Case(
            munnell, dict(time="YR", series="ST_ABB", inputs=["GSP", "EMP", "UNEMP", "P_CAP",
                                                             "PC"],
                          targets=["GSP", "UNEMP"], lookback=5, horizon=2),
            ("yearly", "panel", "short")),
        "wage_panel": Case(
            wage_panel, dict(time="year", series="nr", inputs=["lwage", "hours", "union",
                                                               "married", "exper"],
                             targets=["lwage"], lookback=3, horizon=1),
            ("yearly", "panel", "tiny")),
        "french": Case(
            french, dict(time="dates", inputs=["MktRF", "SMB", "HML", "RF"],
                         targets=["MktRF", "SMB"], lookback=24, horizon=3),
            ("monthly", "noise-like returns"), season=12),
        "ettm2": Case(
            ettm2,
            dict(time="date", inputs=["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
                 targets=["OT"], lookback=96, horizon=24),
            ("15-minute", "seasonal"), season=96),
    }


def seasonal_naive_mae(model: Any, frame: pd.DataFrame, target: str, season: int) -> float:
    """MAE of the seasonal naive forecast over the model's test windows, original units.

    For a window ending at row ``o`` the forecast of step ``k`` is the value at row
    ``o + k - season * ceil(k / season)``: the same point of the last season seen.
    """
    from lstmkit.data.groups import arrange
    from lstmkit.data.split import series_bounds
    from lstmkit.spec import Split

    spec = model.spec_
    groups = arrange(frame, spec)
    bounds = series_bounds(groups, model.split or Split())
    errors = []
    for g in range(len(groups)):
        lo = groups.offsets[g]
        values = groups.frame[target].to_numpy(dtype=np.float64)[lo: groups.offsets[g + 1]]
        start, end = bounds[g, 2], bounds[g, 3]          # the test part's rows
        for origin in range(max(start - 1, spec.lookback - 1), end - spec.horizon):
            steps = np.arange(1, spec.horizon + 1)
            source = origin + steps - season * np.ceil(steps / season).astype(int)
            ok = source >= 0
            errors.append(np.abs(values[origin + steps][ok] - values[source[ok]]))
    flat = np.concatenate(errors) if errors else np.array([])
    return float(np.nanmean(flat)) if flat.size else float("nan")


def run_case(name: str, case: Case, overrides: dict[str, Any] | None = None,
             targets_as_inputs: bool = False) -> list[dict]:
    """Fit the default model (or a variant) on one table; one record per target."""
    from lstmkit import Feature, LSTMModel, Spec

    frame = case.load()
    settings = dict(case.spec)
    if targets_as_inputs:
        names = {f if isinstance(f, str) else f.name for f in settings["inputs"]}
        settings["inputs"] = [*settings["inputs"], *(
            Feature(t.name, kind="categorical") if getattr(t, "kind", "regression") != "regression"
            else (t if isinstance(t, str) else t.name)
            for t in settings["targets"] if (t if isinstance(t, str) else t.name) not in names)]
    spec = Spec(**settings)
    model = LSTMModel(spec, max_epochs=EPOCHS, progress=False, **(overrides or {}))
    start = time.perf_counter()
    model.fit(frame)
    fit_s = time.perf_counter() - start
    test, val = model.evaluate(frame, part="test"), model.evaluate(frame, part="val")
    records = []
    for t in spec.targets:
        metric = "MAE" if t.kind == "regression" else "accuracy"
        record = {"target": t.name, "metric": metric,
                  "model": test.metric(t.name, metric),
                  "naive": test.metric(t.name, metric, of="naive"),
                  "val_model": val.metric(t.name, metric),
                  "val_naive": val.metric(t.name, metric, of="naive"),
                  "fit_s": fit_s, "epochs": len(model.history_["epochs"]),
                  "architecture": {k: v for k, v in model.architecture_.items()}}
        if case.season and t.kind == "regression":
            record["seasonal_naive"] = seasonal_naive_mae(model, frame, t.name, case.season)
        records.append(record)
    return records


def code_version() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    dirty = git("status", "--porcelain", "--", "../../src", "run.py")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", help="tables to run")
    parser.add_argument("--label", help="tag of these runs (default: the commit)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="a variant: LSTMModel parameters (values read as YAML)")
    parser.add_argument("--targets-as-inputs", action="store_true",
                        help="a variant: every target's own past is an input too")
    parser.add_argument("--heldout", action="store_true", help="the held-out tables instead "
                        "(run after the defaults were chosen; label 'held-out (COMMIT)')")
    parser.add_argument("--report", nargs="*", metavar="LABEL", help="print the report (of "
                        "these labels, in this order; default all) and exit")
    args = parser.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    if args.report is not None:
        results = _read(args.results)
        print(report([r for r in results if not args.report or r["label"] in args.report],
                     args.report or None))
        return
    zoo = _heldout() if args.heldout else _zoo()
    label = args.label or (f"held-out ({code_version()})" if args.heldout else code_version())
    done = {(r["table"], r["label"]) for r in _read(args.results)}
    for name in args.only or zoo:
        if (name, label) in done:
            continue
        print(f"{name}: fitting", flush=True)
        try:
            records = run_case(name, zoo[name], overrides, args.targets_as_inputs)
        except Exception as exc:   # a refused table is a result too
            records = [{"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}]
            traceback.print_exc()
        with args.results.open("a") as handle:
            for record in records:
                handle.write(json.dumps({"table": name, "label": label,
                                         "kinds": list(zoo[name].kinds), "variant": {
                                             **overrides, **({"targets_as_inputs": True}
                                                             if args.targets_as_inputs else {})},
                                         **record}) + "\n")
        print(json.dumps(records, default=str)[:400], flush=True)


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def report(results: list[dict], labels: list[str] | None = None) -> str:
    """Per table and target: each label's ratio of the model's error to persistence's (the
    difference in accuracy for categorical targets); below, per label, how many targets beat
    persistence (and the seasonal naive forecast, where there is one) and the worst ratio."""
    labels = labels or list(dict.fromkeys(r["label"] for r in results))
    lines = ["| table | target | metric | persistence | seasonal naive | "
             + " | ".join(f"{label}: model (ratio)" for label in labels) + " |",
             "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in labels) + " |"]
    rows: dict[tuple[str, str], dict[str, dict]] = {}
    for r in results:
        if "error" not in r:
            rows.setdefault((r["table"], r["target"]), {})[r["label"]] = r
    for r in results:             # a table refused under a label: refused for each target
        for (table, _), by_label in rows.items():
            if "error" in r and table == r["table"]:
                by_label.setdefault(r["label"], r)
    for (table, target), by_label in sorted(rows.items(), key=lambda item: list(
            dict.fromkeys(r["table"] for r in results)).index(item[0][0])):
        first = next(r for r in by_label.values() if "error" not in r)
        cells = []
        for label in labels:
            r = by_label.get(label)
            if r is None:
                cells.append("")
            elif "error" in r:
                cells.append("refused")
            else:
                ratio = (ratio_to(r["model"], r["naive"]) if r["metric"] == "MAE"
                         else r["model"] - r["naive"])
                cells.append(f"{r['model']:.4g} ({ratio:.2f})" if r["metric"] == "MAE"
                             else f"{r['model']:.3f} ({ratio:+.3f})")
        seasonal = first.get("seasonal_naive")
        lines.append(f"| {table} | {target or '-'} | {first.get('metric', '')} | "
                     f"{first.get('naive', float('nan')):.4g} | "
                     f"{'' if seasonal is None else f'{seasonal:.4g}'} | " + " | ".join(cells)
                     + " |")
    lines += ["", "| label | targets run | beat persistence | beat seasonal naive too | "
              "worst ratio to persistence |", "| --- | --- | --- | --- | --- |"]
    for label in labels:
        runs = [r for r in results if r["label"] == label and "error" not in r]
        beat = [r for r in runs if _beats(r, r["naive"])]
        seasonal = [r for r in beat if r.get("seasonal_naive") is None
                    or _beats(r, r["seasonal_naive"])]
        worst = max((ratio_to(r["model"], r["naive"]) for r in runs if r["metric"] == "MAE"),
                    default=float("nan"))
        lines.append(f"| {label} | {len(runs)} | {len(beat)} | {len(seasonal)} | {worst:.2f} |")
    return "\n".join(lines)


def ratio_to(mae: float, naive: float) -> float:
    """A test MAE over persistence's; 1 where both are 0 (a test part of one repeated value,
    as PBS's zeros: a tie)."""
    if naive == 0:
        return 1.0 if mae == 0 else math.inf
    return mae / naive


def _beats(record: dict, baseline: float) -> bool:
    """Whether the model's test score is better than ``baseline``'s (MAE lower, accuracy
    higher)."""
    return record["model"] < baseline if record["metric"] == "MAE" else record["model"] > baseline


if __name__ == "__main__":
    main()
