"""A user's first own tables and files, none of which the other tests read: ETTm2 as a
spreadsheet in much of Europe writes it (';' between fields, decimal commas) or with its
times as the index, and the UEA .ts files given by path. Each must work, or fail with the
fix."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import DataError, Feature, LSTMModel, Spec
from lstmkit.cli.command import main
from lstmkit.data.sources import read_table
from lstmkit.deploy.batch import read_chunks
from lstmkit.errors import LSTMKitWarning, SchemaError
from tests.conftest import ETT_COLUMNS, SHARED_DATA

ETTM2 = SHARED_DATA / "forecasting" / "ETT-small" / "ETTm2.csv.gz"
NATOPS = SHARED_DATA / "classification" / "UEA" / "NATOPS"


@pytest.fixture(scope="module")
def ettm2() -> pd.DataFrame:
    return pd.read_csv(ETTM2, nrows=1200)


@pytest.fixture(scope="module")
def european(ettm2, tmp_path_factory):
    path = tmp_path_factory.mktemp("euro") / "ettm2.csv"
    ettm2.to_csv(path, index=False, sep=";", decimal=",")
    return path


def small_spec(**extra) -> Spec:
    return Spec(inputs=ETT_COLUMNS, targets=["OT"], lookback=16, horizon=2, **extra)


def cli_fit(tmp_path: Path, config: dict, capsys: pytest.CaptureFixture[str], *flags: str
            ) -> tuple[int, str]:
    """``lstmkit fit`` of ``config`` (written to run.yaml) into ``tmp_path / "run"``, with
    ``flags``, as a user runs it: the exit code and what it printed on stderr."""
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    code = main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "run"),
                 "--no-progress", *flags])
    return code, capsys.readouterr().err.strip()


def test_a_semicolon_file_with_decimal_commas_reads_as_numbers(ettm2, european, tmp_path):
    first = european.read_text().splitlines()[1].split(";")
    assert len(first) == 8 and "," in first[1]          # 5,827000141143799
    table = read_table(european)
    pd.testing.assert_frame_equal(table, ettm2)
    model = LSTMModel(small_spec(time="date"), hidden=4, max_epochs=1, progress=False)
    model.fit(ettm2)
    model.save(tmp_path / "m")
    out = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "m"), str(european), "-o", str(out),
                 "--no-progress"]) == 0
    expected = model.predict(ettm2)
    assert pd.read_csv(out).OT.to_numpy() == pytest.approx(expected.OT.to_numpy())


def test_decimal_commas_read_as_text_get_the_fix(ettm2, european):
    as_text = pd.read_csv(european, sep=";")            # pandas' default decimal point
    assert as_text.HUFL.dtype.kind not in "fiu"
    spec = small_spec(time="date")
    with pytest.raises(DataError, match=r"target 'OT' must be numeric.*decimal comma.*"
                                        r"decimal=','"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(as_text)
    with pytest.raises(DataError, match=r"column 'HUFL' must be numeric.*decimal comma"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(
            ettm2.assign(HUFL=as_text.HUFL))
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(ettm2)
    with pytest.raises(SchemaError, match=r"'HUFL' was numeric.*decimal comma"):
        model.predict(as_text)


def test_a_time_index_is_named_as_the_index(ettm2):
    indexed = ettm2.assign(date=pd.to_datetime(ettm2.date)).set_index("date")
    with pytest.raises(DataError, match=r"time column 'date' is the index.*reset_index\(\)"):
        LSTMModel(small_spec(time="date"), hidden=4, max_epochs=1, progress=False).fit(indexed)
    with pytest.warns(LSTMKitWarning, match=r"index \('date'\) holds times.*no time column"):
        LSTMModel(small_spec(), hidden=4, max_epochs=1, progress=False).fit(indexed)


def test_ts_files_fit_predict_and_evaluate_by_path(tmp_path):
    train, test = NATOPS / "NATOPS_TRAIN.ts", NATOPS / "NATOPS_TEST.ts"
    with pytest.raises(DataError, match=r"\.ts file .*read_ts_arrays"):
        read_table(train)
    config = {"data": {"path": str(train)}, "test": {"path": str(test)},
              "spec": {"task": "sequence", "inputs": [f"c{i}" for i in range(24)],
                       "targets": [{"name": "gesture", "kind": "classification"}]},
              "model": {"hidden": 8}, "training": {"max_epochs": 1},
              "split": {"val_start": 0.8, "test_start": None}}
    (tmp_path / "natops.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["fit", str(tmp_path / "natops.yaml"), "--run-dir", str(run),
                 "--no-progress"]) == 0
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(test), "-o", str(out), "--no-progress"]) == 0
    predictions = pd.read_csv(out)
    assert len(predictions) == 180 and predictions.gesture.isin([1, 2, 3, 4, 5, 6]).all()
    assert main(["evaluate", str(run), str(test), "--json", str(tmp_path / "e.json")]) == 0
    # The class prior is perfectly calibrated on NATOPS' balanced test part: its ECE is 0
    # but for rounding, and the model's ECE has no skill against it (not one of -1e14).
    rows = json.loads((run / "metrics.json").read_text())["targets"]["gesture"]
    assert rows["ECE"]["naive"] < 1e-12 and rows["ECE"]["skill"] is None
    assert np.isfinite(rows["accuracy"]["skill"])


def test_series_ids_that_lost_their_leading_zeros_are_refused_with_the_fix(ettm2, tmp_path):
    long = ettm2.melt(id_vars="date", value_vars=["OT", "HUFL"], var_name="sensor")
    long["sensor"] = long.sensor.map({"OT": "001", "HUFL": "010"})
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    as_text = pd.read_csv(path, dtype={"sensor": str})
    as_numbers = pd.read_csv(path)                        # 1 and 10: the zeros are gone
    spec = Spec(time="date", series="sensor", inputs=["value"], targets=["value"],
                lookback=16, horizon=2)
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(as_text)
    assert set(model.predict(as_text).sensor) == {"001", "010"}
    with pytest.raises(DataError, match=r"series '1' is not among .* but '001' is.*"
                                        r"dtype=\{'sensor': str\}"):
        model.predict(as_numbers)
    out = tmp_path / "p.csv"
    model.save(tmp_path / "m")                 # lstmkit's CSV reader keeps the zeros
    assert main(["predict", str(tmp_path / "m"), str(path), "-o", str(out),
                 "--no-progress"]) == 0
    assert set(pd.read_csv(out, dtype={"sensor": str}).sensor) == {"001", "010"}
    by_numbers = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(as_numbers)
    with pytest.raises(DataError, match=r"series '001' is not among .* but '1' is.*fit the "
                                        r"model again on the ids as text"):
        by_numbers.predict(as_text)


def test_day_first_dates_are_read_in_one_order_and_kept_by_the_model(tmp_path):
    iso = pd.read_csv(ETTM2, nrows=3000)                 # 1 July to 1 August 2016
    dotted = iso.assign(date=pd.to_datetime(iso.date).dt.strftime("%d.%m.%Y %H:%M"))
    path = tmp_path / "dotted.csv"
    dotted.to_csv(path, sep=";", decimal=",", index=False)
    spec = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=16, horizon=2)
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(str(path))
    assert model.pipeline_.time_step.freq == "15min" and model.pipeline_.time_step.dayfirst
    model.save(tmp_path / "m")
    tail = dotted.tail(16)                       # 01.08.2016 only: no day above 12 in it
    for fitted in (model, LSTMModel.load(tmp_path / "m")):
        forecast = fitted.predict(tail)
        assert forecast.time.tolist() == list(pd.to_datetime(
            ["2016-08-01 06:00", "2016-08-01 06:15"]))
    later = iso.iloc[1200:1300].assign(                  # 07.13.2016 12:00 and on
        date=lambda d: pd.to_datetime(d.date).dt.strftime("%m.%d.%Y %H:%M"))
    mixed = pd.concat([dotted.head(1200), later], ignore_index=True)
    with pytest.raises(DataError, match=r"two orders: '13\.07\.2016 00:00' at row 1152 has "
                                        r"the day first, '07\.13\.2016 12:00' at row 1200"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(mixed)
    # 1 to 12 July alone tell no order, but the calendar does: read month first (7 January,
    # ...) they jump from 7 January to 7 February, read day first they step by 15 minutes
    with pytest.raises(DataError, match=r"no day above 12 .*'01\.07\.2016 23:45' at row 95 "
                                        r"reads as 2016-01-07 23:45:00, '02\.07\.2016 00:00' "
                                        r"after it as 2016-02-07 00:00:00\), read day first "
                                        r"they step by '15min'.*dayfirst=True"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(dotted.head(1100))
    # where both readings step by a calendar (1 to 12 January, US style: days, or month
    # starts), nothing tells: month first, as pandas reads them, with the warning
    days = iso.iloc[:1100:96].assign(date=lambda d: pd.date_range("2016-01-01", periods=len(d),
                                                                  freq="D").strftime("%m/%d/%Y"))
    with pytest.warns(LSTMKitWarning, match=r"no day above 12 .*dayfirst=True"):
        model = LSTMModel(Spec(time="date", inputs=["OT"], targets=["OT"], lookback=4),
                          hidden=4, max_epochs=1, progress=False).fit(days)
    assert model.time_step_.freq == "D"


def test_a_written_index_is_no_input_of_a_long_format_table(ettm2, tmp_path):
    long = ettm2.melt(id_vars="date", value_vars=["OT", "HUFL"], var_name="unique_id",
                      value_name="y").rename(columns={"date": "ds"})
    long["load"] = ettm2.LULL.tolist() * 2
    long.to_csv(tmp_path / "long.csv")                   # index=True, pandas' default
    table = pd.read_csv(tmp_path / "long.csv")
    assert table.columns[0] == "Unnamed: 0"
    with pytest.warns(LSTMKitWarning, match=r"'Unnamed: 0' .*index=False"):
        spec = Spec.from_long(table, lookback=16, horizon=2)
    assert spec.input_names == ["load", "y"]
    assert Spec.from_long(table, lookback=16, horizon=2,
                          inputs=["Unnamed: 0"]).input_names == ["Unnamed: 0", "y"]


def test_a_file_without_a_header_line_is_refused_not_shortened(tmp_path, ettm2):
    lstnet = SHARED_DATA / "forecasting" / "exchange_rate" / "exchange_rate.txt.gz"
    with pytest.raises(DataError, match=r"exchange_rate\.txt\.gz' has no header line: its "
                                        r"first line holds numbers \(0\.785500, 1\.611000"):
        read_table(lstnet)
    chunks, _ = read_chunks(lstnet)                      # lstmkit predict's reader
    with pytest.raises(DataError, match="has no header line"):
        next(chunks)
    numbered = ettm2.drop(columns="date").set_axis([str(i) for i in range(1, 8)], axis=1)
    numbered.to_csv(tmp_path / "sensors.csv", index=False)  # integer names are names
    assert read_table(tmp_path / "sensors.csv").shape == (1200, 7)


def test_a_number_that_marks_a_gap_is_named_before_it_is_fitted(ettm2):
    from lstmkit import datasets
    from lstmkit.data.validate import warn_sentinels

    weather = datasets.load("weather", data_dir=SHARED_DATA).iloc[6800:8000]
    spec = Spec(time="date", inputs=["T (degC)", "OT"], targets=["OT"], lookback=16, horizon=2)
    with pytest.warns(LSTMKitWarning, match=r"column 'OT' holds -9999 in 34 row\(s\) \(first "
                                            r"at row 444\).*na_values=\[-9999\]"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(weather)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LSTMKitWarning)      # ETTm2 has no such marker
        warn_sentinels(ettm2, ETT_COLUMNS)


def test_a_number_or_an_offset_among_text_dates_is_named(ettm2):
    model = LSTMModel(small_spec(time="date"), hidden=4, max_epochs=1, progress=False)
    model.fit(ettm2)
    rows = ettm2.tail(16).astype({"date": object}).reset_index(drop=True)
    rows.loc[5, "date"] = 1467331200000                  # epoch milliseconds, as JSON has it
    with pytest.raises(DataError, match=r"holds the number 1467331200000 at row 5 among dates"):
        model.predict(rows)
    rows = ettm2.tail(16).reset_index(drop=True)
    rows.loc[5, "date"] = "2016-07-13 11:15:00+02:00"    # one time with an offset
    with pytest.raises(DataError, match=r"times with a UTC offset \('2016-07-13 11:15:00\+02:00"
                                        r"' at row 5\) and times without \('2016-07-13 "
                                        r"08:00:00' at row 0\)"):
        model.predict(rows)


@pytest.mark.parametrize("write", [lambda y, q: f"{y} Q{q}", lambda y, q: f"{y}-Q{q}",
                                   lambda y, q: f"{y}Q{q}", lambda y, q: f"Q{q} {y}"])
def test_quarters_written_as_labels_are_read_as_quarter_starts(ettm2, write):
    """fpp2's uschange writes its quarters "1970 Q1", which pandas cannot read; the others
    it reads with a deprecation warning."""
    quarters = pd.period_range("1970Q1", periods=120, freq="Q")
    table = ettm2.head(120).assign(date=[write(p.year, p.quarter) for p in quarters])
    model = LSTMModel(small_spec(time="date"), hidden=4, max_epochs=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model.fit(table)
        forecast = model.predict(table)
    assert model.time_step_.freq == "QS-JAN"
    assert list(forecast.origin.unique()) == [pd.Timestamp("1999-10-01")]
    assert list(forecast.time) == [pd.Timestamp("2000-01-01"), pd.Timestamp("2000-04-01")]
    table.loc[7, "date"] = "1971 Q5"                      # no such quarter: named, as before
    with pytest.raises(DataError, match=r"time column 'date' cannot be read as dates"):
        model.predict(table)


def test_years_before_1677_written_as_text_are_refused_with_the_fix():
    """vega's wheat prices, 1565-1821 every five years, with the years as text: pandas reads
    them as dates that a nanosecond clock cannot hold, and the cast wrapped 1565 round to
    2149 (the error that followed was an out-of-order row 23, to sort)."""
    import importlib.resources

    wheat = pd.read_json(importlib.resources.files("vega_datasets") / "_data" / "wheat.json",
                         dtype={"year": str})
    spec = Spec(time="year", inputs=["wheat"], targets=["wheat"], lookback=8,
                horizon=2)
    with pytest.raises(DataError, match=r"time column 'year' holds 1565-01-01 00:00:00 at row "
                                        r"0, outside the dates a model can hold \(1677-09-22 to "
                                        r"2262-04-11\).*pd\.to_datetime\(df\['year'\]\)\.dt\.year"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(wheat)
    wheat["year"] = pd.to_datetime(wheat["year"]).dt.year          # the fix it names
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(wheat)
    assert model.time_step_.freq == 5


def employment() -> pd.DataFrame:
    """vega's US employment, monthly (1,000s of jobs), its month as text dates."""
    import importlib.resources

    path = importlib.resources.files("vega_datasets") / "_data" / "us-employment.csv"
    return pd.read_csv(path)[["month", "nonfarm", "construction"]]


def monthly_model(table: pd.DataFrame, time: str = "month") -> LSTMModel:
    spec = Spec(time=time, inputs=["nonfarm", "construction"], targets=["nonfarm"],
                lookback=12, horizon=3)
    return LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(table)


def test_a_period_column_is_read_as_its_periods_starts():
    table = employment()
    periods = table.assign(month=pd.to_datetime(table.month).dt.to_period("M"))
    forecast = monthly_model(periods).predict(periods)
    after = pd.to_datetime(table.month).iloc[-1] + pd.offsets.MonthBegin()
    assert forecast.time.tolist() == list(pd.date_range(after, periods=3, freq="MS"))
    assert forecast.nonfarm.notna().all()


def test_dates_written_as_numbers_get_the_read_as_dates_fix():
    table = employment()
    numbers = table.assign(month=pd.to_datetime(table.month).dt.strftime("%Y%m").astype(int))
    with pytest.raises(DataError, match=r"dates written as %Y%m: read them as dates, "
                       r"df\['month'\] = pd.to_datetime\(df\['month'\].astype\(str\), "
                       r"format='%Y%m'\)"):
        monthly_model(numbers)
    read = numbers.assign(month=pd.to_datetime(numbers.month.astype(str), format="%Y%m"))
    after = pd.to_datetime(table.month).iloc[-1] + pd.offsets.MonthBegin()
    assert monthly_model(read).predict(read).time.iloc[0] == after


def test_a_spreadsheets_empty_last_line_is_named_with_the_fix(tmp_path):
    path = tmp_path / "employment.csv"
    path.write_text(employment().to_csv(index=False) + ",,\n")
    with pytest.raises(DataError, match=r"missing value at row \d+; every row needs a time: "
                       r"drop the rows without one \(df.dropna\(subset=\['month'\]\); in a CSV "
                       "file, delete the empty lines"):
        monthly_model(pd.read_csv(path))


def calls_in(message: str) -> list[str]:
    """The pandas calls an error names in its first parentheses: '(A, then B)' -> [A, B]."""
    inside = message.split("calendar (", 1)[1]
    return inside[: inside.index(") and choose")].split(", then ")


@pytest.mark.parametrize("series", [None, "symbol"])
def test_a_gap_in_a_csv_files_text_dates_gets_a_calendar_call_that_works(tmp_path, capsys,
                                                                         series):
    """A CSV file's dates are text to pandas, and asfreq or resample on them raised
    TypeError: the fix named first reads them as dates."""
    import importlib.resources

    vega = importlib.resources.files("vega_datasets") / "_data"
    if series is None:
        table = employment().drop(index=40)                           # no May 2009
        time, inputs = "month", ["nonfarm", "construction"]
    else:
        table = pd.read_csv(vega / "stocks.csv").drop(index=[20, 150])  # 'Jan 1 2000' ...
        time, inputs = "date", ["price"]
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    spec = {"time": time, "series": series, "lookback": 6, "horizon": 2,
            "inputs": [{"name": c, "missing": "ffill"} for c in inputs], "targets": inputs[:1]}
    config = {"data": {"path": str(path)}, "spec": spec, "model": {"hidden": 4},
              "training": {"max_epochs": 1}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    assert err.count("\n") == 0 and f"df[{time!r}] = pd.to_datetime(df[{time!r}], " in err
    df = pd.read_csv(path)
    for call in calls_in(err):                                   # as the user would
        if " = " in call:
            exec(call, {"pd": pd, "df": df})
        else:
            df = eval(call, {"pd": pd, "df": df})
    assert len(df) == len(table) + (1 if series is None else 2)
    df.to_csv(path, index=False)
    code, log = cli_fit(tmp_path, config, capsys, "--overwrite")
    assert code == 0, log


def test_numbers_with_commas_between_thousands_are_read_or_named_with_the_fix(tmp_path):
    """US employment as an English spreadsheet shows it ("135,450.0", quoted): pandas reads
    text, and the error offered the classification kind for 120 labels."""
    table = employment()
    shown = table.assign(nonfarm=table.nonfarm.map("{:,.1f}".format))
    path = tmp_path / "employment.csv"
    shown.to_csv(path, index=False)
    assert '"135,450.0"' in path.read_text()
    pd.testing.assert_frame_equal(read_table(path), table.astype({"nonfarm": float}))
    as_text = pd.read_csv(path)
    with pytest.raises(DataError, match=r"target 'nonfarm' must be numeric but holds '135,450"
                                        r"\.0' at row 0; .* commas between thousands: .*"
                                        r"pandas\.read_csv\(path, thousands=','\)"):
        monthly_model(as_text)
    model = monthly_model(pd.read_csv(path, thousands=","))             # the fix it names
    by_path = model.predict(str(path))                                  # lstmkit's reader
    assert by_path.nonfarm.tolist() == model.predict(table).nonfarm.tolist()


def test_a_percent_sign_is_named_with_the_call_that_reads_the_number():
    table = employment()
    shown = table.assign(construction=(table.construction / 100).map("{:.2f}%".format))
    with pytest.raises(DataError, match=r"column 'construction' must be numeric but holds "
                                        r"'76\.01%' at row 0; .* a percentage: .*"
                                        r"pd\.to_numeric\(df\['construction'\]\.str\.rstrip"):
        monthly_model(shown)
    shown["construction"] = pd.to_numeric(shown["construction"].str.rstrip("%"))
    assert monthly_model(shown).time_step_.freq == "MS"


def test_rows_that_share_a_time_are_named_as_what_they_are(tmp_path, capsys):
    """'drop duplicate rows' was the fix for every repeated time: it would keep one month of
    each year of a year-and-month table, one stock of a stacked panel, one death a day."""
    import importlib.resources

    vega = importlib.resources.files("vega_datasets") / "_data"
    table = employment()
    month = pd.to_datetime(table.pop("month"))
    split = table.assign(year=month.dt.year, month=month.dt.month)    # two columns of a date
    with pytest.raises(DataError, match=r"duplicate timestamp 2006 at row 1 .* column 'month' "
                                        r"looks like the month of its year: .*"):
        monthly_model(split, time="year")
    df = split.copy()
    try:
        monthly_model(df, time="year")
    except DataError as exc:
        exec(str(exc).split("two, ")[1].split(", and make")[0], {"pd": pd, "df": df})
    assert monthly_model(df, time="date").predict(df).time.iloc[0] == pd.Timestamp("2016-01-01")

    stocks = pd.read_csv(vega / "stocks.csv")              # five series one after another
    stocks.to_csv(tmp_path / "stocks.csv", index=False)
    config = {"data": {"path": str(tmp_path / "stocks.csv")}, "model": {"hidden": 4},
              "spec": {"time": "date", "inputs": ["price"], "targets": ["price"],
                       "lookback": 6, "horizon": 2}, "training": {"max_epochs": 1}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    assert err.count("\n") == 0 and "rows 0 and 123 have the same time 2000-01-01" in err
    assert "a series per 'symbol'" in err and "YAML series: symbol)" in err
    config["spec"]["series"] = "symbol"                    # the fix it names
    code, log = cli_fit(tmp_path, config, capsys)
    assert code == 0, log

    deaths = pd.read_csv(vega / "la-riots.csv")            # events: several a day
    spec = Spec(time="death_date", inputs=["age"], targets=["age"], lookback=3, horizon=1)
    with pytest.raises(DataError, match=r"rows 23 and 36 have the same time 1992-04-29 .*events"
                                        r".*df\.groupby\('death_date', as_index=False\)"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(deaths)
    daily = deaths.groupby("death_date", as_index=False).size()
    with pytest.raises(DataError, match=r"jumps from"):           # a gap now, not a repeat
        LSTMModel(Spec(time="death_date", inputs=["size"], targets=["size"], lookback=3,
                       horizon=1), hidden=4, max_epochs=1, progress=False).fit(daily)


def test_copies_of_a_row_are_named_as_copies():
    table = employment()
    copied = pd.concat([table.iloc[:50], table.iloc[49:]], ignore_index=True)
    with pytest.raises(DataError, match=r"duplicate timestamp 2010-02-01 00:00:00 at row 50 "
                                        r".*they are copies: drop them \(df\.drop_duplicates"):
        monthly_model(copied)


def test_month_starts_written_day_first_are_refused_with_the_order_that_reads_them(tmp_path,
                                                                                   capsys):
    """01/02/2006 is 1 February: every day is 1, so no number tells the order, and read
    month first (2 January) the error was a jump of a year with an asfreq('D') to fill it."""
    table = employment()
    written = table.assign(month=pd.to_datetime(table.month).dt.strftime("%d/%m/%Y"))
    path = tmp_path / "employment.csv"
    written.to_csv(path, index=False)
    config = {"data": {"path": str(path)}, "model": {"hidden": 4},
              "spec": {"time": "month", "inputs": ["nonfarm"], "targets": ["nonfarm"],
                       "lookback": 12, "horizon": 3}, "training": {"max_epochs": 1}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    assert err.count("\n") == 0 and "read day first they step by 'MS'" in err
    fixed = pd.read_csv(path)
    fixed["month"] = pd.to_datetime(fixed["month"], dayfirst=True)       # the fix it names
    assert monthly_model(fixed).predict(fixed).time.iloc[0] == pd.Timestamp("2016-01-01")


def test_a_label_new_after_the_training_part_gets_fixes_that_work(tmp_path, capsys):
    """vega's daily prices: the signal is 'long' or 'short' until 'neutral' at row 31, in
    the validation part. Removing that row, as the error said, makes a gap in the days."""
    import importlib.resources

    from lstmkit import Split

    prices = pd.read_json(importlib.resources.files("vega_datasets") / "_data" / "ohlc.json")
    prices.to_csv(tmp_path / "ohlc.csv", index=False)
    spec = {"time": "date", "inputs": ["close", {"name": "signal", "kind": "categorical"}],
            "targets": ["close"], "lookback": 5, "horizon": 1}
    config = {"data": {"path": str(tmp_path / "ohlc.csv")}, "spec": spec,
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    assert err.count("\n") == 0 and "label 'neutral' at row 31" in err
    assert "val_start comes after row 31" in err
    config["split"] = {"val_start": 0.75, "test_start": 0.9}                  # row 33 on
    code, log = cli_fit(tmp_path, config, capsys)
    assert code == 0, log
    masked = Spec(time="date", targets=["close"], lookback=5, inputs=[
        "close", Feature("signal", kind="categorical", missing="mask")])
    df = prices.copy()
    df["signal"] = df["signal"].where(df["signal"].isin(['long', 'short']))  # as it names
    assert "(known labels, 2: ['long', 'short'])" in err
    assert "df['signal'] = df['signal'].where(df['signal'].isin(['long', 'short']))" in err
    model = LSTMModel(masked, hidden=4, max_epochs=1, progress=False, split=Split()).fit(df)
    assert model.predict(df).time.tolist() == [pd.Timestamp("2009-08-03")]


def test_short_series_of_a_panel_are_counted_with_the_call_that_drops_them():
    import importlib.resources

    stocks = pd.read_csv(importlib.resources.files("vega_datasets") / "_data" / "stocks.csv")
    spec = Spec(time="date", series="symbol", inputs=["price"], targets=["price"],
                lookback=70, horizon=2)                    # GOOG: 68 months from August 2004
    with pytest.raises(DataError, match=r"series 'GOOG' has 68 rows, fewer than lookback \+ "
                       r"horizon = 72; 1 of 5 series are that short: drop them, df\.groupby\("
                       r"'symbol'\)\.filter\(lambda g: len\(g\) >= 72\)"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(stocks)
    kept = stocks.groupby("symbol").filter(lambda g: len(g) >= 72)          # as it names
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(kept)
    assert sorted(model.predict(kept).symbol.unique()) == ["AAPL", "AMZN", "IBM", "MSFT"]


def test_a_gap_in_integer_years_names_a_reindex_call_that_works():
    """Years as integers step by a number: the gap error said 'reindex each series to every
    1.0 of ...' (no call) and to declare a freq, which a numeric time column refuses."""
    import importlib.resources

    vega = importlib.resources.files("vega_datasets") / "_data"
    wheat = pd.read_json(vega / "wheat.json")[["year", "wheat"]]      # every 5 years
    stocks = pd.read_csv(vega / "stocks.csv")
    yearly = stocks.assign(year=pd.to_datetime(stocks.date, format="%b %d %Y").dt.year
                           ).groupby(["symbol", "year"], as_index=False).price.mean()
    for table, series, value, step in ((wheat, None, "wheat", 5),
                                       (yearly, "symbol", "price", 1)):
        gappy = table.drop(index=20).reset_index(drop=True)
        spec = Spec(time="year", series=series, inputs=[Feature(value, missing="ffill")],
                    targets=[value], lookback=3, horizon=1)
        with pytest.raises(DataError, match=rf"its time step is {step}, .*\.reset_index\(\)\) "
                                            r"and choose a missing policy for the new rows, or "
                                            r"set spec regular=False") as caught:
            LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(gappy)
        call = str(caught.value).split("calendar (", 1)[1].split(") and choose")[0]
        filled = eval(call, {"pd": pd, "df": gappy})                  # as the user would
        assert len(filled) == len(table)
        model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(filled)
        assert model.time_step_.freq == step


def test_an_hour_column_beside_the_date_is_named_as_part_of_the_time():
    import importlib.resources

    temps = pd.read_csv(importlib.resources.files("vega_datasets") / "_data" /
                        "seattle-temps.csv", nrows=1000)           # hourly, from 1 January 2010
    stamp = pd.to_datetime(temps.pop("date"))
    split = temps.assign(date=stamp.dt.strftime("%d %b %Y"), hour=stamp.dt.hour)
    spec = Spec(time="date", inputs=["temp"], targets=["temp"], lookback=24, horizon=2)
    with pytest.raises(DataError, match=r"column 'hour' looks like the hour of its day: .*"
                                        r"df\['time'\] = pd\.to_datetime\(df\['date'\]\) \+ "
                                        r"pd\.to_timedelta\(df\['hour'\], unit='h'\)"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(split)
    split["time"] = pd.to_datetime(split["date"]) + pd.to_timedelta(split["hour"], unit="h")
    model = LSTMModel(Spec(time="time", inputs=["temp"], targets=["temp"], lookback=24,
                           horizon=2), hidden=4, max_epochs=1, progress=False).fit(split)
    assert model.time_step_.freq == "h"


def test_a_json_file_of_records_is_named_with_the_call_that_converts_it(tmp_path, capsys):
    import importlib.resources
    import shutil

    path = tmp_path / "crimea.json"                       # monthly deaths, as vega ships it
    shutil.copy(importlib.resources.files("vega_datasets") / "_data" / "crimea.json", path)
    config = {"data": {"path": str(path)}, "model": {"hidden": 4}, "training": {"max_epochs": 1},
              "spec": {"time": "date", "inputs": ["wounds", "other", "disease"],
                       "targets": ["disease"], "lookback": 6, "horizon": 2}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    assert err.count("\n") == 0
    eval(err.split("write it as one, ")[1], {"pd": pd})              # the call it names
    config["data"]["path"] = str(tmp_path / "crimea.csv")
    code, log = cli_fit(tmp_path, config, capsys)
    assert code == 0, log
    assert json.loads((tmp_path / "run" / "config.json").read_text())["time_step"]["freq"] == "MS"


def fix_in(message: str) -> str:
    """The assignment an error names, "df['month'] = ...(...)", up to what follows it."""
    follows = r"(?= \(forecasts|, and the step|, or write|$)"
    return re.search(r"df\['month'\] = .*?\)" + follows, message)[0]


@pytest.mark.parametrize("case", ["mid-month", "off its day", "spreadsheet days"])
def test_monthly_dates_a_spreadsheet_writes_get_the_call_that_puts_them_on_the_calendar(case):
    """US employment's months as spreadsheets write them: on the 15th (the step was taken
    for 31 days, and the fix was asfreq('31D')), month ends with 28 February in a leap
    year (asfreq('ME') would add the 29th beside it), and Excel's day numbers (a step of
    31, to reindex)."""
    table = employment()
    month = pd.to_datetime(table.month)
    written = {"mid-month": month + pd.Timedelta(days=14),
               "off its day": (month + pd.offsets.MonthEnd()).replace(
                   pd.Timestamp("2008-02-29"), pd.Timestamp("2008-02-28")),
               "spreadsheet days": (month - pd.Timestamp("1899-12-30")).dt.days}[case]
    expected = {"mid-month": r"day 15 of every month .* '31D' would drift",
                "off its day": r"2008-02-28 00:00:00 lies in the month of 2008-02-29",
                "spreadsheet days": r"spreadsheet's day numbers \(38777 is 2006-03-01\)"}[case]
    df = table.assign(month=written)
    with pytest.raises(DataError, match=expected) as caught:
        monthly_model(df)
    exec(fix_in(str(caught.value)), {"pd": pd, "df": df})           # as the user would
    model = monthly_model(df)
    assert model.time_step_.freq == ("ME" if case == "off its day" else "MS")
    end = pd.Timestamp("2016-01-31" if case == "off its day" else "2016-01-01")
    assert model.predict(df).time.iloc[0] == end


@pytest.mark.parametrize("form", ["%YM%m", "%Y-M%m"])
def test_months_written_as_labels_are_read_as_month_starts(form):
    """Eurostat, the IMF and EViews write months 2006M01, which pandas cannot read."""
    table = employment()
    labelled = table.assign(month=pd.to_datetime(table.month).dt.strftime(form))
    model = monthly_model(labelled)
    assert model.time_step_.freq == "MS"
    assert model.predict(labelled).time.tolist() == list(pd.date_range("2016-01-01", periods=3,
                                                                       freq="MS"))
    labelled.loc[7, "month"] = "2006M13"                       # no such month: named
    with pytest.raises(DataError, match=r"time column 'month' cannot be read as dates"):
        model.predict(labelled)


@pytest.mark.parametrize("form", ["%b-%y", "%B %y"])
def test_month_names_with_two_digit_years_get_the_format_that_reads_them(form):
    """A spreadsheet's mmm-yy months (Jan-06): pandas read them as 6 January of year 1, and
    the error said to take the year of that, 1."""
    table = employment()
    shown = table.assign(month=pd.to_datetime(table.month).dt.strftime(form))
    with pytest.raises(DataError, match=r"writes months as '(Jan-06|January 06)', .* two-digit "
                                        r"year") as caught:
        monthly_model(shown)
    exec(fix_in(str(caught.value)), {"pd": pd, "df": shown})       # as the user would
    assert monthly_model(shown).predict(shown).time.iloc[0] == pd.Timestamp("2016-01-01")


def test_spaces_between_thousands_are_named_with_the_call_that_reads_the_number():
    """135 450, as French spreadsheets show numbers: the error offered the classification
    kind for 120 distinct values."""
    table = employment()
    shown = table.assign(nonfarm=table.nonfarm.map("{:,}".format).str.replace(",", "\u202f"))
    with pytest.raises(DataError, match=r"target 'nonfarm' must be numeric but holds '135\\u202f"
                                        r"450' at row 0; .* spaces between thousands") as caught:
        monthly_model(shown)
    call = str(caught.value).split("read it as a number, ")[1]
    exec(call, {"pd": pd, "df": shown})                              # as the user would
    assert shown.nonfarm.iloc[0] == 135450
    assert monthly_model(shown).time_step_.freq == "MS"


@pytest.mark.parametrize("stray", ["Total", "Source: BLS", "header"])
def test_a_spreadsheets_stray_line_is_named_with_the_call_that_drops_it(tmp_path, capsys,
                                                                       stray):
    """A total or a note under the table, or the header again where two files were joined:
    the error was pandas' (unable to parse: Total) with 'give it ISO dates' as the fix, or
    'clean the value' for the header's 'nonfarm'."""
    table = employment()
    path = tmp_path / "employment.csv"
    if stray == "header":
        path.write_text(table.iloc[:60].to_csv(index=False) + table.iloc[60:].to_csv(index=False))
    else:
        path.write_text(table.to_csv(index=False) + f"{stray},{table.nonfarm.sum()},\n")
    config = {"data": {"path": str(path)}, "model": {"hidden": 4}, "training": {"max_epochs": 1},
              "spec": {"time": "month", "inputs": ["nonfarm", "construction"],
                       "targets": ["nonfarm"], "lookback": 12, "horizon": 3}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    row, value = (60, "nonfarm") if stray == "header" else (120, stray)
    assert err.count("\n") == 0 and f"holds {value!r} at row {row}" in err
    namespace = {"pd": pd, "df": pd.read_csv(path)}
    exec(re.search(r"df = df\[df\['\w+'\] != '[^']*'\]", err)[0], namespace)   # as it names
    assert monthly_model(namespace["df"]).time_step_.freq == "MS"


def test_a_declared_step_the_rows_are_not_on_names_the_step_they_are_on(tmp_path, capsys):
    """Seattle's weekly means end on Sundays; declared W-MON, the fix was asfreq('W-MON'),
    which puts every value off the new Monday rows (all of them missing)."""
    import importlib.resources

    daily = pd.read_csv(importlib.resources.files("vega_datasets") / "_data" /
                        "seattle-weather.csv", parse_dates=["date"])
    weekly = daily.set_index("date")[["temp_max"]].resample("W-SUN").mean().reset_index()
    weekly.to_csv(tmp_path / "weekly.csv", index=False)
    config = {"data": {"path": str(tmp_path / "weekly.csv")}, "model": {"hidden": 4},
              "training": {"max_epochs": 1},
              "spec": {"time": "date", "freq": "W-MON", "inputs": ["temp_max"],
                       "targets": ["temp_max"], "lookback": 8, "horizon": 2}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3
    assert err.count("\n") == 0 and "The rows step by 'W-SUN' throughout" in err
    assert "YAML freq: W-SUN" in err
    config["spec"]["freq"] = "W-SUN"                                 # the fix it names
    code, log = cli_fit(tmp_path, config, capsys)
    assert code == 0, log
    out = tmp_path / "forecast.csv"
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "weekly.csv"), "-o",
                 str(out), "--no-progress"]) == 0
    assert pd.to_datetime(pd.read_csv(out).time).dt.day_name().tolist() == ["Sunday"] * 2
