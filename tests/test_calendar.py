"""Calendar time steps on real tables, and rows that do not match a model's time refused.

Monthly, quarterly, yearly and weekly tables step by a pandas offset (a month is one
step whether it has 28 or 31 days); gaps are found on that calendar and forecasts land
on it. Zone-aware times run through daylight-saving changes and keep their zone. A
fitted model refuses rows of another step, numbers for its dates and times without
its zone, through every way of predicting.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import yaml

from lstmkit import ArtifactError, ConfigError, DataError, Feature, LSTMModel, SchemaError, Spec
from lstmkit.analysis.plots import forecasts
from lstmkit.cli.command import main
from lstmkit.data.timestep import TimeStep
from lstmkit.deploy.onnx_model import METADATA_KEY, OnnxModel
from tests.conftest import SHARED_DATA
from tests.fixtures.v0_2_0.make import prediction_input

VEGA = importlib.resources.files("vega_datasets") / "_data"
FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0"
SMALL = {"hidden": 4, "max_epochs": 1, "progress": False, "batch_size": 32}


# -- real tables ----------------------------------------------------------------------------
def employment() -> pd.DataFrame:
    """US employment, monthly (month starts 2006-01 .. 2015-12), dates as in the CSV."""
    return pd.read_csv(VEGA / "us-employment.csv")[["month", "nonfarm", "private"]]


def quarterly() -> pd.DataFrame:
    """US employment averaged per quarter (quarter starts), built with pandas."""
    table = employment().assign(month=lambda t: pd.to_datetime(t.month))
    return table.set_index("month").resample("QS").mean().reset_index()


def stocks() -> pd.DataFrame:
    """Five stock prices, monthly, one series per symbol."""
    return pd.read_csv(VEGA / "stocks.csv")


def iowa() -> pd.DataFrame:
    """Iowa's electricity generation per source, yearly (year starts)."""
    return pd.read_csv(VEGA / "iowa-electricity.csv")


def seattle() -> pd.DataFrame:
    return pd.read_csv(VEGA / "seattle-weather.csv")


def illness() -> pd.DataFrame:
    """US influenza-like illness, weekly (Tuesdays), the last 300 weeks."""
    path = SHARED_DATA / "forecasting" / "illness" / "national_illness.csv"
    return pd.read_csv(path).tail(300).reset_index(drop=True)


def berlin(etth1: pd.DataFrame, rows: slice = slice(2700, 3100)) -> pd.DataFrame:
    """ETTh1 rows read as UTC and shown in Europe/Berlin: 2016-10-30 has two 02:00s."""
    table = etth1.iloc[rows].reset_index(drop=True)
    return table.assign(date=pd.to_datetime(table.date).dt.tz_localize("UTC")
                        .dt.tz_convert("Europe/Berlin"))


def spec(time: str, target: str, lookback: int, horizon: int = 3, **more) -> Spec:
    return Spec(time=time, inputs=[target], targets=[target], lookback=lookback,
                horizon=horizon, **more)


def fit(table: pd.DataFrame, task: Spec) -> LSTMModel:
    return LSTMModel(task, **SMALL).fit(table)


def on_calendar(forecast: pd.DataFrame, freq: str, horizon: int) -> list[pd.Timestamp]:
    """The times pandas' own calendar gives after each forecast origin."""
    times = []
    for origin in forecast.origin.iloc[::horizon]:
        times += list(pd.date_range(origin, periods=horizon + 1, freq=freq)[1:])
    return times


# -- the step of real tables ----------------------------------------------------------------
CALENDARS = {
    "monthly": (employment, spec("month", "nonfarm", 12), "MS"),
    "quarterly": (quarterly, spec("month", "nonfarm", 8), "QS-JAN"),
    "yearly, a series per source": (
        iowa, Spec(time="year", series="source", inputs=["net_generation"], lookback=4,
                   targets=["net_generation"], horizon=2), "YS-JAN"),
    "monthly, a series per stock": (
        stocks, Spec(time="date", series="symbol", inputs=["price"], targets=["price"],
                     lookback=12, horizon=3), "MS"),
    "weekly on Tuesdays": (illness, spec("date", "OT", 12), "W-TUE"),
    "daily": (seattle, spec("date", "temp_max", 14), "D"),
}


@pytest.mark.parametrize("name", CALENDARS)
def test_real_tables_step_by_their_calendar_and_forecast_on_it(name):
    make, task, freq = CALENDARS[name]
    table = make()
    model = fit(table, task)
    assert model.time_step_ == TimeStep("datetime", freq)
    forecast = model.predict(table)
    ends = table.groupby(task.series).tail(1) if task.series else table.tail(1)
    assert len(forecast) == len(ends) * task.horizon
    assert forecast.time.tolist() == on_calendar(forecast, freq, task.horizon)
    assert set(forecast.origin) == set(pd.to_datetime(ends[task.time], format="mixed"))


@pytest.mark.parametrize("table, every", [("wheat.json", 5), ("driving.json", 1)])
def test_integer_years_forecast_integer_years(table, every):
    frame = pd.read_json(VEGA / table)           # wheat: every fifth year; driving: yearly
    target = frame.columns[-1]
    model = fit(frame.ffill(), spec("year", target, 6))
    times = model.predict(frame.ffill()).time
    assert times.dtype.kind == "i"
    assert times.tolist() == [frame.year.iloc[-1] + every * k for k in (1, 2, 3)]


def test_a_quarterly_forecast_lands_on_quarter_starts_even_with_regular_false():
    table = quarterly()
    for regular in (True, False):
        model = fit(table, spec("month", "nonfarm", 8, horizon=6, regular=regular))
        times = model.predict(table).time
        assert times.dt.is_quarter_start.all() and (times.dt.hour == 0).all()
        assert times.iloc[0] == pd.Timestamp(table.month.iloc[-1]) + pd.offsets.QuarterBegin(
            startingMonth=1)


def test_business_days_with_holidays_are_trading_days_and_forecast_on_business_days():
    prices = pd.read_json(VEGA / "ohlc.json")             # trading days: weekends, July 3 off
    for regular in (True, False):
        model = fit(prices, spec("date", "close", 5, regular=regular))
        assert model.time_step_.freq == "B"
        times = model.predict(prices).time
        assert (times.dt.day_of_week < 5).all()      # the last row is a Friday: Mon, Tue, Wed
        assert times.tolist() == on_calendar(model.predict(prices), "B", 3)


@pytest.mark.parametrize("dropped", [[10, 11, 12], [5, 15, 25, 35]],
                         ids=["three days in a row", "a day in ten"])
def test_business_days_with_more_than_holidays_off_are_refused_with_the_fix(dropped):
    prices = pd.read_json(VEGA / "ohlc.json").drop(index=dropped)
    with pytest.raises(DataError, match=r"time step is 'B'.*asfreq\('B'\).*regular=False"):
        fit(prices, spec("date", "close", 5))


# -- gaps, irregular columns, declared steps --------------------------------------------------
def test_a_missing_month_is_named_with_the_asfreq_call_that_fills_it():
    table = employment().assign(month=lambda t: pd.to_datetime(t.month))
    gappy = table.drop(index=30)
    task = spec("month", "nonfarm", 12)
    before, after = table.month[29], table.month[31]
    with pytest.raises(DataError, match=rf"jumps from {before} to {after} at row 30.*'MS'.*"
                                        r"df\.set_index\('month'\)\.asfreq\('MS'\)"):
        fit(gappy, task)
    filled = gappy.set_index("month").asfreq("MS").reset_index()     # the call it names
    model = fit(filled, Spec(time="month", inputs=["nonfarm"], targets=["nonfarm"],
                             lookback=12, horizon=3, missing="ffill"))
    assert model.time_step_.freq == "MS"


def test_a_truly_irregular_column_names_the_step_it_inferred_and_the_fix():
    days = seattle()
    kept = np.sort(np.random.default_rng(0).choice(len(days), 900, replace=False))
    irregular = days.iloc[kept].assign(date=lambda t: pd.to_datetime(t.date))
    with pytest.raises(DataError, match=r"time step is 'D'.*df\.set_index\('date'\)"
                                        r"\.asfreq\('D'\)"):
        fit(irregular, spec("date", "temp_max", 14))


def test_series_with_different_steps_are_refused_naming_both():
    table = stocks().assign(date=lambda t: pd.to_datetime(t.date))
    ibm = table[table.symbol == "IBM"].set_index("date").resample("QS").mean(numeric_only=True)
    mixed = pd.concat([table[table.symbol == "MSFT"],
                       ibm.reset_index().assign(symbol="IBM")], ignore_index=True)
    task = Spec(time="date", series="symbol", inputs=["price"], targets=["price"], lookback=8)
    with pytest.raises(DataError, match=r"series 'MSFT' .* steps by 'MS' but series 'IBM' by "
                                        r"'QS-JAN'.*groupby\('symbol'\)\.resample\('MS'\)"):
        fit(mixed, task)


def test_a_declared_step_overrides_the_inference():
    weeks = illness()
    model = fit(weeks, spec("date", "OT", 12, freq="7D"))
    assert model.time_step_ == TimeStep("datetime", "7D")
    forecast = model.predict(weeks)
    assert (forecast.time - forecast.origin).tolist() == [pd.Timedelta(days=7 * k)
                                                          for k in (1, 2, 3)]
    with pytest.raises(DataError, match=r"jumps from .* its time step is 'MS'"):
        fit(weeks, spec("date", "OT", 12, freq="MS"))


def test_freq_is_checked_and_round_trips_through_dicts_and_left_out_when_unset():
    task = spec("month", "nonfarm", 12, freq="QS")
    assert Spec.from_dict(task.to_dict()) == task
    assert "freq" not in spec("month", "nonfarm", 12).to_dict()     # 0.2.0's dicts unchanged
    with pytest.raises(ConfigError, match=r"spec freq 'monthly' is not a pandas offset alias"):
        spec("month", "nonfarm", 12, freq="monthly")
    with pytest.raises(ConfigError, match=r"spec freq '-1MS' does not step forward"):
        spec("month", "nonfarm", 12, freq="-1MS")
    with pytest.raises(ConfigError, match=r"freq 'MS' is the time step of a forecast's time"):
        Spec(inputs=["nonfarm"], targets=["nonfarm"], lookback=12, freq="MS")
    with pytest.raises(DataError, match=r"spec freq 'h' is a calendar step, but time column "
                                        r"'t' holds numbers"):
        fit(pd.DataFrame({"t": np.arange(60), "v": np.sin(np.arange(60))}),
            spec("t", "v", 6, freq="h"))


# -- time zones and daylight saving --------------------------------------------------------
def test_naive_local_time_skipping_the_daylight_saving_hour_says_so():
    temps = pd.read_csv(VEGA / "seattle-temps.csv")       # hourly, local, 2010-03-14 02 -> 04
    with pytest.raises(DataError, match=r"jumps from 2010-03-14 02:00:00 to 2010-03-14 04:00:00"
                                        r".*daylight-saving.*tz_localize\('America/.*"
                                        r"or set spec regular=False"):
        fit(temps, spec("date", "temp", 24))
    assert fit(temps.iloc[1600:1900], spec("date", "temp", 24, regular=False)
               ).time_step_.freq == "h"


def test_local_time_missing_the_spring_hour_and_one_autumn_hour_gets_a_fix_that_works():
    """San Francisco's hourly temperatures (vega) keep 02:00 on the spring night and hold
    the autumn's 01:00 once: localising them fails in pandas (which 01:00 is it?), so the
    error also names the calendar's grid, which works."""
    temps = pd.read_csv(VEGA / "sf-temps.csv").iloc[1600:1900]
    with pytest.raises(DataError, match=r"pd\.to_datetime\(df\['date'\]\)\.dt\.tz_localize"
                                        r".*df\.set_index\('date'\)\.asfreq\('h'\)"
                                        r"\.reset_index\(\), the column read as dates\) and "
                                        r"choose a missing policy"):
        fit(temps, spec("date", "temp", 24))
    with pytest.raises(Exception, match="Cannot infer dst time"):     # the whole year's
        pd.to_datetime(pd.read_csv(VEGA / "sf-temps.csv").date).dt.tz_localize(
            "America/Los_Angeles", nonexistent="shift_forward", ambiguous="infer")
    grid = temps.assign(date=pd.to_datetime(temps.date)).set_index("date").asfreq("h")
    model = fit(grid.reset_index(), Spec(time="date", inputs=[Feature("temp", missing="ffill")],
                                         targets=["temp"], lookback=24, horizon=3))
    assert model.time_step_.freq == "h" and grid.temp.isna().sum() == 1


def test_naive_local_time_repeating_the_daylight_saving_hour_says_so_and_the_fix_works(etth1):
    wall = berlin(etth1).assign(date=lambda t: t.date.dt.tz_localize(None))   # 02:00 twice
    task = spec("date", "OT", 24)
    with pytest.raises(DataError, match=r"duplicate timestamp 2016-10-30 02:00:00.*end of "
                                        r"daylight saving.*tz_localize\('Europe/.*"
                                        r"ambiguous='infer'\)"):
        fit(wall, task)
    fixed = wall.assign(date=wall.date.dt.tz_localize("Europe/Berlin", ambiguous="infer"))
    assert fit(fixed, task).time_step_ == TimeStep("datetime", "h", "Europe/Berlin")


@pytest.fixture(scope="module")
def berlin_model(etth1) -> LSTMModel:
    return fit(berlin(etth1), Spec(time="date", inputs=["OT", "HUFL"], targets=["OT"],
                                   lookback=24, horizon=4))


def test_zone_aware_hours_run_through_daylight_saving_and_keep_their_zone(etth1, berlin_model):
    assert berlin_model.time_step_ == TimeStep("datetime", "h", "Europe/Berlin")
    rows = berlin(etth1)
    before_change = rows[rows.date < pd.Timestamp("2016-10-29 23:30", tz="UTC")].tail(24)
    forecast = berlin_model.predict(before_change)
    assert str(forecast.time.dt.tz) == str(forecast.origin.dt.tz) == "Europe/Berlin"
    assert forecast.origin.iloc[0] == before_change.date.iloc[-1]
    assert (forecast.time - forecast.origin).tolist() == [pd.Timedelta(hours=k)
                                                          for k in (1, 2, 3, 4)]
    assert forecast.time.dt.strftime("%z").nunique() == 2       # +0200, then +0100
    tokyo = before_change.assign(date=before_change.date.dt.tz_convert("Asia/Tokyo"))
    in_tokyo = berlin_model.predict(tokyo)                       # the same instants, its zone
    assert str(in_tokyo.origin.dt.tz) == "Asia/Tokyo"
    assert in_tokyo.origin.iloc[0].hour == tokyo.date.iloc[-1].hour
    assert in_tokyo.time.tolist() == forecast.time.tolist()
    np.testing.assert_allclose(in_tokyo.OT, forecast.OT)


def test_zone_aware_times_read_back_from_csv_are_the_same_instants(etth1, berlin_model,
                                                                    tmp_path):
    rows = berlin(etth1).iloc[180:230]                  # 2016-10-30: summer time ends
    rows.to_csv(tmp_path / "rows.csv", index=False)     # offsets +02:00, then +01:00
    from_csv = berlin_model.predict(tmp_path / "rows.csv")
    assert str(from_csv.time.dt.tz) == "UTC"            # an offset is no zone: shown in UTC
    assert from_csv.time.tolist() == berlin_model.predict(rows).time.tolist()


def test_zone_aware_days_are_calendar_days_across_daylight_saving():
    days = seattle().assign(date=lambda t: pd.to_datetime(t.date).dt.tz_localize(
        "America/Los_Angeles"))
    model = fit(days, spec("date", "temp_max", 14))
    assert model.time_step_ == TimeStep("datetime", "D", "America/Los_Angeles")
    before = days[days.date < pd.Timestamp("2015-03-08", tz="America/Los_Angeles")].tail(14)
    times = model.predict(before).time                  # 03-08 has 23 hours
    assert (times.dt.hour == 0).all()
    assert times.dt.strftime("%Y-%m-%d").tolist() == ["2015-03-08", "2015-03-09", "2015-03-10"]


def test_a_plot_of_zone_aware_forecasts_draws_their_wall_clock(etth1, berlin_model):
    figure = forecasts(berlin_model, berlin(etth1), origins=2)
    actual = figure.axes[0].get_lines()[0].get_xdata()
    assert np.asarray(actual).dtype.kind == "M"
    assert pd.Timestamp(actual[-1]) == berlin(etth1).date.iloc[-1].tz_localize(None)


# -- rows that do not match the model --------------------------------------------------------
@pytest.fixture(scope="module")
def hourly_model(etth1) -> LSTMModel:
    return fit(etth1.iloc[:400], spec("date", "OT", 24))


def mismatches(etth1: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, str]]:
    """Rows an hourly model trained on naive times must refuse, and what the error says."""
    rows = etth1.iloc[:400]
    return {
        "daily rows": (rows.iloc[::24].assign(date=lambda t: pd.to_datetime(t.date)),
                       r"trained on rows 'h' apart.*are 'D' apart.*pass rows every 'h'"),
        "integers for dates": (rows.assign(date=np.arange(len(rows))),
                               r"held dates when the model was trained, but these rows hold "
                               r"numbers \(0 at row 0\)"),
        "zone-aware rows": (rows.assign(date=pd.to_datetime(rows.date).dt.tz_localize("UTC")),
                            r"had no time zone when the model was trained.*'UTC'"),
    }


@pytest.mark.parametrize("case", ["daily rows", "integers for dates", "zone-aware rows"])
def test_predict_evaluate_and_check_inputs_refuse_rows_of_another_time(etth1, hourly_model,
                                                                        case):
    rows, message = mismatches(etth1)[case]
    for call in (hourly_model.predict, hourly_model.evaluate, hourly_model.check_inputs):
        with pytest.raises(SchemaError, match=message):
            call(rows)


def test_naive_rows_are_refused_by_a_zone_aware_model(etth1, berlin_model):
    with pytest.raises(SchemaError, match=r"time zone 'Europe/Berlin' when the model was trained"
                                          r".*tz_localize\('Europe/Berlin'\)"):
        berlin_model.predict(etth1.iloc[2700:2800])


def test_a_gap_in_predicted_rows_is_named_and_single_rows_have_no_step_to_check(etth1,
                                                                               hourly_model):
    rows = etth1.iloc[:60]
    with pytest.raises(DataError, match=r"jumps from 2016-07-01 09:00:00 to 2016-07-01 11:00:00"):
        hourly_model.predict(rows.drop(index=10))
    one_step = LSTMModel(spec("date", "OT", 1, horizon=2), **SMALL).fit(rows)
    assert len(one_step.predict(rows.tail(1))) == 2


def test_the_cli_refuses_them_in_chunks_with_one_line_and_exit_code_3(etth1, hourly_model,
                                                                     tmp_path, capsys):
    model_dir = hourly_model.save(tmp_path / "model")
    for case, (rows, message) in mismatches(etth1).items():
        path = tmp_path / f"{case}.parquet"
        rows.to_parquet(path)
        code = main(["predict", str(model_dir), str(path), "-o", str(tmp_path / "out.csv"),
                     "--chunk-rows", "7", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 3 and err.startswith("error: ") and err.count("\n") == 1, (case, err)
        assert pd.Series([err]).str.contains(message).all(), (case, err)
    assert not (tmp_path / "out.csv").exists()


def test_the_server_answers_422_for_rows_of_another_step(etth1, hourly_model, tmp_path):
    from tests.test_serve import post, running_server

    model_dir = hourly_model.save(tmp_path / "model")
    daily, message = mismatches(etth1)["daily rows"]
    with running_server(model_dir) as url:
        response = post(url, daily.assign(date=daily.date.astype(str)), "json")
        ok = post(url, etth1.iloc[:30], "json")
    assert response.status_code == 422 and pd.Series([response.json()["detail"]]).str.contains(
        message).all(), response.text
    assert ok.status_code == 200, ok.text


# -- ONNX -----------------------------------------------------------------------------------
@pytest.mark.parametrize("zoned", [False, True], ids=["quarterly", "zone-aware hourly"])
def test_onnx_metadata_carries_the_step_and_onnx_predictions_have_the_same_times(
        etth1, berlin_model, tmp_path, zoned):
    table = berlin(etth1) if zoned else quarterly()
    model = berlin_model if zoned else fit(table, spec("month", "nonfarm", 8))
    path = model.export_onnx(tmp_path / "model.onnx")
    onnx_model = OnnxModel(path)
    assert onnx_model.metadata["time_step"] == ({"freq": "h", "zone": "Europe/Berlin"} if zoned
                                                else {"freq": "QS-JAN", "zone": None})
    assert onnx_model.time_step == model.time_step_
    for origins in ("last", "all"):
        got, want = onnx_model.predict(table, origins), model.predict(table, origins)
        pd.testing.assert_frame_equal(got[["origin", "step", "time"]],
                                      want[["origin", "step", "time"]])
    with pytest.raises(SchemaError, match=r"time zone|'QS-JAN' apart"):
        onnx_model.predict(etth1.iloc[2700:2800] if zoned else employment())


def test_an_onnx_file_with_a_damaged_time_step_is_an_artifact_error(hourly_model, tmp_path):
    path = hourly_model.export_onnx(tmp_path / "model.onnx")
    graph = onnx.load(path)
    entry = next(p for p in graph.metadata_props if p.key == METADATA_KEY)
    metadata = json.loads(entry.value)
    entry.value = json.dumps({**metadata, "time_step": {"freq": "fortnightly", "zone": None}})
    onnx.save(graph, tmp_path / "damaged.onnx")
    with pytest.raises(ArtifactError, match=r"damaged\.onnx.*'fortnightly'"):
        OnnxModel(tmp_path / "damaged.onnx")


# -- the command line with a declared step --------------------------------------------------
def test_the_cli_fits_with_freq_from_yaml_and_predicts_month_starts(tmp_path, capsys):
    employment().to_csv(tmp_path / "employment.csv", index=False)
    config = {"data": {"path": str(tmp_path / "employment.csv")},
              "spec": {"time": "month", "freq": "MS", "inputs": ["nonfarm", "private"],
                       "targets": ["nonfarm"], "lookback": 12, "horizon": 3},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(run),
                 "--no-progress"]) == 0, capsys.readouterr().err
    saved = json.loads((run / "config.json").read_text())
    assert saved["spec"]["freq"] == "MS"
    assert saved["time_step"] == {"freq": "MS", "zone": None}
    out = tmp_path / "forecast.csv"
    assert main(["predict", str(run), str(tmp_path / "employment.csv"), "-o", str(out),
                 "--no-progress"]) == 0, capsys.readouterr().err
    forecast = pd.read_csv(out, parse_dates=["origin", "time"])
    assert forecast.time.dt.strftime("%Y-%m-%d").tolist() == ["2016-01-01", "2016-02-01",
                                                              "2016-03-01"]


def test_a_quarterly_backtest_rolls_its_origins_over_quarter_starts():
    table = quarterly()
    result = LSTMModel(spec("month", "nonfarm", 8, horizon=2), **SMALL).backtest(table, folds=2)
    origins = pd.to_datetime(result.origins.origin)
    assert origins.dt.is_quarter_start.all()
    assert origins.tolist() == pd.to_datetime(table.month.iloc[[-6, -4]]).tolist()


# -- saved models ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "freq"), [("forecast_default", "h"), ("forecast_mixed", "D")])
def test_a_model_saved_by_0_2_0_reads_its_step_and_predicts_its_times_exactly(name, freq,
                                                                             tmp_path):
    model = LSTMModel.load(shutil.copytree(FIXTURES / "models" / name, tmp_path / name))
    assert model.time_step_ == TimeStep("datetime", freq)
    predicted = model.predict(prediction_input(name))
    expected = pd.read_parquet(FIXTURES / "predictions" / f"{name}.parquet")
    pd.testing.assert_frame_equal(predicted[["origin", "step", "time"]],
                                  expected[["origin", "step", "time"]], check_exact=True)


@pytest.mark.parametrize("damaged", [
    {"nanoseconds": -3600000000000}, {"nanoseconds": 0}, {"nanoseconds": "1h"},
    {"freq": "fortnightly", "zone": None}, {"freq": "-1h", "zone": None},
    {"freq": "h", "zone": "Mars/Olympus"}, {"number": 0}, {"number": "1"}, "h", [3600],
    {"freq": "h"},
])
def test_a_damaged_time_step_in_a_saved_model_is_an_artifact_error_naming_the_file(damaged,
                                                                                  tmp_path):
    folder = shutil.copytree(FIXTURES / "models" / "forecast_default", tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "time_step": damaged}))
    with pytest.raises(ArtifactError, match=r"config\.json of '[^']*/model'.*time_step"):
        LSTMModel.load(folder)
