"""Spec ``zone``: naive local times read in their zone, from Python and from a YAML config.

Seattle's hourly temperatures (vega_datasets) are written in local wall-clock time: the
night clocks go forward has no 03:00 (its 02:00 is the hour a clock running on shows as
03:00), and the night they go back shows 01:00 once. ETTh1 shown in Berlin time and made
naive repeats 02:00 on 2016-10-30. With the zone named, both read as hours one step apart
on the zone's calendar (or, for the hour shown once, a missing row named as such), and
forecasts come back in the zone.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lstmkit import ConfigError, DataError, LSTMModel, Spec, Split
from lstmkit.cli.command import main
from lstmkit.data.groups import arrange
from lstmkit.data.split import series_bounds
from lstmkit.data.timestep import TimeStep

VEGA = importlib.resources.files("vega_datasets") / "_data"
FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0"
SMALL = {"hidden": 4, "max_epochs": 1, "progress": False, "batch_size": 64}
LA = "America/Los_Angeles"
BERLIN = "Europe/Berlin"
SPRING = 1730       # seattle-temps' row of 2010-03-14 02:00; the next row is 04:00


def seattle_temps() -> pd.DataFrame:
    """Hourly temperature in Seattle, 2010, local wall-clock times as text, as in the file."""
    return pd.read_csv(VEGA / "seattle-temps.csv")


def berlin_wall(etth1: pd.DataFrame) -> pd.DataFrame:
    """ETTh1 rows 2700..3099 as Berlin wall-clock times, naive: 2016-10-30 02:00 twice."""
    rows = etth1.iloc[2700:3100].reset_index(drop=True)
    aware = pd.to_datetime(rows.date).dt.tz_localize("UTC").dt.tz_convert(BERLIN)
    return rows.assign(date=aware.dt.tz_localize(None))


def hourly(zone: str | None, target: str = "temp", **more) -> Spec:
    return Spec(time="date", inputs=[target], targets=[target], lookback=24, horizon=3,
                zone=zone, **more)


@pytest.fixture(scope="module")
def seattle_model() -> LSTMModel:
    return LSTMModel(hourly(LA), **SMALL).fit(seattle_temps().iloc[:3000])


# -- a skipped hour ----------------------------------------------------------------------------
def test_seattle_local_hours_across_the_spring_change_are_one_step_apart_in_their_zone(
        seattle_model):
    assert seattle_model.time_step_ == TimeStep("datetime", "h", LA)
    temps = seattle_temps()
    up_to_02 = temps.iloc[SPRING - 30 : SPRING + 1]            # ends at 2010-03-14 02:00
    forecast = seattle_model.predict(up_to_02)
    assert str(forecast.time.dt.tz) == str(forecast.origin.dt.tz) == LA
    # 02:00 does not exist there: a clock running on shows 03:00 (PDT), and the next hours
    # are the file's next rows, 04:00 to 06:00.
    assert forecast.origin.iloc[0] == pd.Timestamp("2010-03-14 03:00", tz=LA)
    wall = forecast.time.dt.tz_localize(None).dt.strftime("%Y/%m/%d %H:%M").tolist()
    assert wall == temps.date.iloc[SPRING + 1 : SPRING + 4].tolist()
    assert forecast.time.dt.strftime("%z").unique().tolist() == ["-0700"]
    midnight = seattle_model.predict(temps.iloc[SPRING - 40 : SPRING - 1])   # ends 00:00 PST
    assert (midnight.time - midnight.origin).tolist() == [pd.Timedelta(hours=k)
                                                          for k in (1, 2, 3)]
    assert midnight.time.dt.hour.tolist() == [1, 3, 4]         # 02:00 skipped on the clock


def test_without_the_zone_the_same_rows_are_refused_naming_the_spec_key():
    with pytest.raises(DataError, match=r"jumps from 2010-03-14 02:00:00 to 2010-03-14 04:00:00"
                                        r".*daylight-saving.*spec zone 'America/.*"
                                        r"YAML spec: \{zone: America/"):
        LSTMModel(hourly(None), **SMALL).fit(seattle_temps().iloc[:3000])


def test_the_autumn_hour_the_file_shows_once_is_named_as_a_missing_row():
    temps = seattle_temps()
    with pytest.raises(DataError, match=r"jumps from 2010-11-07 01:00:00-07:00 to 2010-11-07 "
                                        r"02:00:00-08:00 at row 7441.*'America/Los_Angeles' "
                                        r"the hour of the earlier row comes twice.*shows? it "
                                        r"once.*regular=False"):
        LSTMModel(hourly(LA), **SMALL).fit(temps)
    autumn = temps.iloc[7300:7600]
    model = LSTMModel(hourly(LA, regular=False), **SMALL).fit(autumn)
    assert model.time_step_ == TimeStep("datetime", "h", LA)
    last = pd.Timestamp(autumn.date.iloc[-1]).tz_localize(LA)     # 2010-11-13 16:00 PST
    assert model.predict(autumn).time.tolist() == [last + pd.Timedelta(hours=k)
                                                   for k in (1, 2, 3)]


# -- a repeated hour ---------------------------------------------------------------------------
def test_berlin_wall_clock_hours_repeating_02_00_are_told_apart_by_their_order(etth1):
    wall = berlin_wall(etth1)
    assert wall.date.duplicated().sum() == 1                   # 2016-10-30 02:00 twice
    with pytest.raises(DataError, match=r"duplicate timestamp 2016-10-30 02:00:00.*end of "
                                        r"daylight saving.*spec zone 'Europe/.*"
                                        r"YAML spec: \{zone: Europe/"):
        LSTMModel(hourly(None, "OT"), **SMALL).fit(wall)
    model = LSTMModel(hourly(BERLIN, "OT"), **SMALL).fit(wall)
    assert model.time_step_ == TimeStep("datetime", "h", BERLIN)
    first = int(wall.index[wall.date == pd.Timestamp("2016-10-30 02:00")][0])
    forecast = model.predict(wall.iloc[first - 30 : first + 1])   # ends at the first 02:00
    assert forecast.origin.iloc[0] == pd.Timestamp("2016-10-30 02:00+02:00").tz_convert(BERLIN)
    assert forecast.time.tolist() == [pd.Timestamp(t).tz_convert(BERLIN) for t in
                                      ("2016-10-30 02:00+01:00", "2016-10-30 03:00+01:00",
                                       "2016-10-30 04:00+01:00")]


def test_zone_aware_rows_are_converted_to_the_zone_and_predict_the_same(etth1):
    wall = berlin_wall(etth1)
    model = LSTMModel(hourly(BERLIN, "OT"), **SMALL).fit(wall)
    aware = wall.assign(date=wall.date.dt.tz_localize(BERLIN, ambiguous="infer"))
    tokyo = aware.assign(date=aware.date.dt.tz_convert("Asia/Tokyo"))
    expected = model.predict(wall, origins="all")
    for rows in (aware, tokyo):
        got = model.predict(rows, origins="all")
        assert str(got.time.dt.tz) == BERLIN                   # shown in the spec's zone
        pd.testing.assert_frame_equal(got, expected)
    # Fitted on the zone-aware rows, the same model: the zone only says how to read them.
    on_aware = LSTMModel(hourly(BERLIN, "OT"), **SMALL).fit(tokyo)
    pd.testing.assert_frame_equal(on_aware.predict(wall), model.predict(wall))


def test_split_timestamps_are_wall_clock_times_in_the_zone():
    temps = seattle_temps().iloc[:3000]
    split = Split(val_start="2010-03-20", test_start="2010-04-01 06:00", end=None)
    bounds = series_bounds(arrange(temps, hourly(LA)), split)
    rows = temps.date.tolist()
    assert bounds[0, 1:3].tolist() == [rows.index("2010/03/20 00:00"),
                                       rows.index("2010/04/01 06:00")]
    in_utc = Split(val_start="2010-03-20T07:00Z", test_start=None)     # an offset: as given
    assert series_bounds(arrange(temps, hourly(LA)), in_utc)[0, 1] == bounds[0, 1]


# -- the key itself ------------------------------------------------------------------------------
def test_a_zone_is_checked_named_and_round_trips_and_old_specs_keep_none(tmp_path,
                                                                         seattle_model):
    with pytest.raises(ConfigError, match=r"spec zone 'America/Los_Angles' is not a time zone "
                                          r"\(did you mean 'America/Los_Angeles'\?\)"):
        hourly("America/Los_Angles")
    with pytest.raises(ConfigError, match=r"spec zone 42 is not a time zone"):
        hourly(42)
    with pytest.raises(ConfigError, match=r"spec zone 'UTC' is the time zone of the time "
                                          r"column: set time"):
        Spec(inputs=["temp"], targets=["temp"], lookback=24, zone="UTC")
    numbers = pd.DataFrame({"date": range(60), "temp": seattle_temps().temp.iloc[:60]})
    with pytest.raises(DataError, match=r"spec zone 'UTC' is the time zone of dates, but time "
                                        r"column 'date' holds numbers \(0 at row 0\)"):
        LSTMModel(hourly("UTC"), **SMALL).fit(numbers)
    assert Spec.from_dict(hourly(LA).to_dict()) == hourly(LA)
    assert "zone" not in hourly(None).to_dict()        # earlier specs' dicts stay the same
    folder = seattle_model.save(tmp_path / "model")
    assert json.loads((folder / "config.json").read_text())["spec"]["zone"] == LA
    loaded = LSTMModel.load(folder)
    rows = seattle_temps().iloc[SPRING - 30 : SPRING + 10]
    assert loaded.spec_.zone == LA
    pd.testing.assert_frame_equal(loaded.predict(rows), seattle_model.predict(rows))
    old = LSTMModel.load(shutil.copytree(FIXTURES / "models" / "forecast_default",
                                         tmp_path / "old"))
    assert old.spec_.zone is None and old.time_step_.zone is None


# -- the command line ------------------------------------------------------------------------
def test_the_cli_fits_seattle_from_yaml_with_a_zone_and_predicts_in_it(tmp_path, capsys):
    temps = seattle_temps()
    temps.iloc[:3000].to_csv(tmp_path / "temps.csv", index=False)
    temps.iloc[SPRING - 30 : SPRING + 1].to_csv(tmp_path / "recent.csv", index=False)
    config = {"data": {"path": str(tmp_path / "temps.csv")},
              "spec": {"time": "date", "zone": LA, "inputs": ["temp"], "targets": ["temp"],
                       "lookback": 24, "horizon": 3},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(run),
                 "--no-progress"]) == 0, capsys.readouterr().err
    saved = json.loads((run / "config.json").read_text())
    assert saved["spec"]["zone"] == LA
    assert saved["time_step"] == {"freq": "h", "zone": LA}
    out = tmp_path / "forecast.csv"
    assert main(["predict", str(run), str(tmp_path / "recent.csv"), "-o", str(out),
                 "--no-progress"]) == 0, capsys.readouterr().err
    forecast = pd.read_csv(out)
    assert forecast.origin.tolist() == ["2010-03-14 03:00:00-07:00"] * 3
    assert forecast.time.tolist() == ["2010-03-14 04:00:00-07:00", "2010-03-14 05:00:00-07:00",
                                      "2010-03-14 06:00:00-07:00"]
    config["spec"]["zone"] = "Pacific Time"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    assert main(["fit", str(tmp_path / "bad.yaml"), "--run-dir", str(tmp_path / "bad"),
                 "--no-progress"]) == 2
    assert "spec zone 'Pacific Time' is not a time zone" in capsys.readouterr().err
