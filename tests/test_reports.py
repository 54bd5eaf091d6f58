"""Honest reports and the small things a first user meets, on real tables (issue 28.3, 28.5).

A target that loses to the naive baseline on the validation part is named in a warning, in
the CLI's metrics table, in metrics.json and in the model card (of a loaded model too);
evaluate reports the seasonal naive baseline (checked against pandas shifting) and a skill
score; relative paths in a config lie in its folder; epochs count from 1 wherever a person
reads them; units reach the axes; steps are integers; ``lstmkit runs`` fits the terminal.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from lstmkit import (
    ArtifactError,
    BaselineWarning,
    ConfigError,
    LSTMModel,
    Spec,
    Split,
    Target,
    plots,
)
from lstmkit.cli import command as lstmkit_cli
from lstmkit.cli.command import main
from lstmkit.cli.config import RunConfig
from lstmkit.data.timestep import TimeStep
from lstmkit.storage.card import model_card
from tests.conftest import ETTH1
from tests.test_calendar import employment

FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0"
TINY = {"hidden": 4, "max_epochs": 1, "progress": False}
# Seattle weather: temp_min is no input (and past_targets=False keeps it out), so the
# model never sees its past and loses to persistence; precipitation (an input, trained
# on MAE) beats persistence's MAE.
WEATHER = {"time": "date", "inputs": ["precipitation", "wind", "temp_max"],
           "targets": [{"name": "precipitation", "loss": "mae"}, "temp_min"],
           "lookback": 14, "horizon": 3, "past_targets": False}


def weather_spec(**more) -> Spec:
    return Spec.from_dict({**WEATHER, **more})


def write_weather_config(folder: Path, seattle: pd.DataFrame, **sections) -> Path:
    """The Seattle config and its data, side by side in ``folder`` (relative paths)."""
    folder.mkdir(parents=True, exist_ok=True)
    seattle.to_csv(folder / "seattle.csv", index=False)
    config = {"data": {"path": "seattle.csv"}, "spec": WEATHER,
              "model": {"hidden": 4}, "training": {"max_epochs": 1, "lr": 0.01}, **sections}
    path = folder / "weather.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def baseline_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, BaselineWarning)]


# -- the check after fit ------------------------------------------------------------------
def test_fit_warns_for_a_target_worse_than_persistence_and_not_for_one_that_beats_it(seattle):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LSTMModel(weather_spec(), lr=0.01, **TINY).fit(seattle)
    val = model.evaluate(seattle, part="val")
    temp_min = [val.metric("temp_min", "MAE", of) for of in ("model", "naive")]
    rain = [val.metric("precipitation", "MAE", of) for of in ("model", "naive")]
    assert temp_min[0] > temp_min[1] and rain[0] < rain[1]
    (record,) = [w for w in caught if issubclass(w.category, BaselineWarning)]
    assert record.filename == __file__               # at the user's line, not lstmkit's
    message = str(record.message)
    assert message.startswith("target 'temp_min' does worse than the naive baseline (last "
                              "value (persistence)) on the validation part")
    assert f"MAE {temp_min[0]:.4g} against {temp_min[1]:.4g}" in message
    assert "add it to the inputs" in message
    verdict = model.validation_["targets"]
    assert verdict["temp_min"]["worse"] and not verdict["precipitation"]["worse"]
    assert verdict["temp_min"]["model"] == pytest.approx(temp_min[0])
    assert verdict["precipitation"]["naive"] == pytest.approx(rain[1])


def test_a_target_that_is_an_input_gets_the_random_walk_advice(seattle):
    spec = weather_spec(inputs=["precipitation", "wind", "temp_min"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, lr=1e-4,
                          instance_norm=False).fit(seattle)   # no naive fallback without it
    messages = baseline_warnings(caught)
    worse = [t for t, e in model.validation_["targets"].items() if e["worse"]]
    assert "temp_min" in worse and len(messages) == len(worse)
    (message,) = [m for m in messages if m.startswith("target 'temp_min'")]
    assert "random walk" in message and "max_epochs" in message


def test_without_a_validation_part_nothing_is_judged(seattle):
    split = Split(val_start=None, test_start=0.85)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LSTMModel(weather_spec(), split=split, **TINY).fit(seattle)
    assert model.validation_ is None and not baseline_warnings(caught)
    assert "Not recorded: the model was fitted without a validation part" in model_card(model)


def test_the_cli_prints_the_warning_once_marks_the_table_and_records_it(seattle, tmp_path,
                                                                        capsys):
    config = write_weather_config(tmp_path, seattle)
    assert main(["fit", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "Traceback" not in err
    assert warned[0].startswith("warning: target 'temp_min' does worse than the naive baseline")
    rows = {tuple(cell.strip() for cell in line.split("│")[1:3]): line
            for line in out.splitlines() if line.count("│") > 5}
    assert rows[("temp_min", "MAE")].rstrip(" │").endswith("worse")
    assert rows[("precipitation", "MAE")].rstrip(" │").endswith("better")
    assert "worse than the naive baseline (MAE; accuracy if categorical): temp_min" in out

    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["targets"]["temp_min"]["worse"] is True
    assert metrics["validation"]["targets"]["precipitation"]["worse"] is False
    assert metrics["targets"]["temp_min"]["MAE"]["seasonal"] is not None
    card = (run / "README.md").read_text()
    assert "**Worse than the naive baseline: temp_min.**" in card
    assert "| temp_min | MAE | " in card and "| worse |" in card

    loaded = LSTMModel.load(run)
    assert loaded.validation_ == metrics["validation"]
    copy = loaded.save(tmp_path / "copy")                     # a loaded model's card says it too
    assert "**Worse than the naive baseline: temp_min.**" in (copy / "README.md").read_text()


def test_a_tampered_verdict_is_refused_on_load(seattle, tmp_path):
    path = LSTMModel(weather_spec(), split=Split(val_start=None), **TINY).fit(seattle).save(
        tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["validation"] = {"baseline": "x", "targets": {"temp_min": {"metric": "MAE",
                                                                      "model": "0", "naive": 1,
                                                                      "worse": False}}}
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="validation of target 'temp_min' must hold"):
        LSTMModel.load(path)


def test_a_model_saved_by_0_2_0_has_no_check_and_its_card_says_so(tmp_path):
    model = LSTMModel.load(shutil.copytree(FIXTURES / "models" / "forecast_default",
                                           tmp_path / "old"))
    assert model.validation_ is None
    card = model_card(model)
    assert "or saved by lstmkit 0.2.0" in card
    history = model.history_                                  # as 0.2.0 saved it: from 0
    assert f"in epoch {history['best_epoch'] + 1} of {len(history['epochs'])} (its" in card


# -- seasonal naive and skill -------------------------------------------------------------
@pytest.mark.parametrize(("freq", "season"), [
    ("h", 24), ("15min", 96), ("D", 7), ("B", 5), ("W-SUN", 52), ("MS", 12), ("ME", 12),
    ("QS-JAN", 4), ("2h", 12), ("YS-JAN", None), ("7min", None)])
def test_the_season_follows_the_calendar(freq, season):
    assert TimeStep("datetime", freq).season == season


def seasonal_mae_by_shifting(y: pd.Series, season: int, origins: range, horizon: int
                             ) -> list[float]:
    """Per step k, the MAE of the value one season earlier (k - m * ceil(k / m) steps from
    the origin), by pandas shifting, over the targets of the given origins."""
    maes = []
    for k in range(1, horizon + 1):
        error = (y - y.shift(season * math.ceil(k / season))).abs()
        maes.append(error.iloc[origins.start + k : origins.stop + k].mean())
    return maes


def test_seasonal_naive_on_hourly_etth1_equals_pandas_shifting():
    table = pd.read_csv(ETTH1).iloc[:600]
    spec = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=24, horizon=30)
    model = LSTMModel(spec, split=Split(val_start=400, test_start=500), **TINY).fit(table)
    evaluation = model.evaluate(table)                      # origins 23 .. 569, all rows
    expected = seasonal_mae_by_shifting(table.OT, 24, range(23, 570), 30)
    steps = evaluation.per_step.query("metric == 'MAE'")
    assert list(steps.step) == list(range(1, 31))
    np.testing.assert_allclose(steps.seasonal, expected, rtol=1e-5)
    assert evaluation.metric("OT", "MAE", "seasonal") == pytest.approx(np.mean(expected),
                                                                       rel=1e-5)
    assert evaluation.seasonal == "value one season (24 steps) earlier"


def test_seasonal_naive_on_a_monthly_table_uses_rows_before_the_part_or_says_why_not():
    table = employment()
    spec = Spec(time="month", inputs=["nonfarm"], targets=["nonfarm"], lookback=6, horizon=13)
    model = LSTMModel(spec, split=Split(val_start=80, test_start=100), **TINY).fit(table)
    test = model.evaluate(table, part="test")                # origins 99 .. 106
    expected = seasonal_mae_by_shifting(table.nonfarm, 12, range(99, 107), 13)
    steps = test.per_step.query("metric == 'MAE'")
    np.testing.assert_allclose(steps.seasonal, expected, rtol=1e-5)
    assert test.metric("nonfarm", "MAE", "seasonal") == pytest.approx(np.mean(expected), rel=1e-5)

    everything = model.evaluate(table)     # the first windows have no year before them
    assert everything.table.seasonal.isna().all() and everything.per_step.seasonal.isna().all()
    assert everything.seasonal.startswith("not available: a season is 12 steps, more than the "
                                          "lookback (6)")
    assert everything.table.naive.notna().all()


def test_the_skill_score_compares_each_metric_with_the_naive_baselines(seattle):
    spec = weather_spec(targets=["temp_max", Target("weather", kind="classification")],
                        inputs=["temp_max", "wind", {"name": "weather", "kind": "categorical"}])
    evaluation = LSTMModel(spec, **TINY).fit(seattle).evaluate(seattle, part="test")
    table = evaluation.table.set_index(["target", "metric"])
    mae = table.loc[("temp_max", "MAE")]
    assert mae.skill == pytest.approx(1 - mae.model / mae.naive)
    accuracy = table.loc[("weather", "accuracy")]
    assert accuracy.skill == pytest.approx(1 - (1 - accuracy.model) / (1 - accuracy.naive))
    r2 = table.loc[("temp_max", "R2")]
    assert r2.skill == pytest.approx(1 - (1 - r2.model) / (1 - r2.naive))
    step = evaluation.per_step.query("target == 'temp_max' and metric == 'MAE'")
    np.testing.assert_allclose(step.skill, 1 - step.model / step.naive)
    saved = evaluation.to_dict()["targets"]["temp_max"]["MAE"]
    assert saved == pytest.approx({"model": mae.model, "naive": mae.naive,
                                   "seasonal": mae.seasonal, "neighbour": None,
                                   "skill": mae.skill})


# -- relative paths -----------------------------------------------------------------------
def test_relative_paths_in_a_config_lie_in_its_folder_from_any_cwd(seattle, tmp_path,
                                                                   monkeypatch, capsys):
    config = write_weather_config(tmp_path / "project" / "conf", seattle,
                                  run_dir="../runs/weather")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["fit", "../project/conf/weather.yaml", "--no-progress"]) == 0, \
        capsys.readouterr().err
    run = tmp_path / "project" / "runs" / "weather"
    assert (run / "weights.safetensors").is_file() and not any(elsewhere.iterdir())
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["data"]["path"] == str(config.parent / "seattle.csv")
    assert resolved["run_dir"] == str(run)
    again = RunConfig.read(run / "config.yaml")              # read back from its new folder
    assert again.data.path == str(config.parent / "seattle.csv")


def test_a_data_path_only_the_cwd_has_still_works_with_a_warning(seattle, tmp_path,
                                                                 monkeypatch, capsys):
    seattle.to_csv(tmp_path / "seattle.csv", index=False)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "weather.yaml").write_text(yaml.safe_dump(
        {"data": {"path": "seattle.csv"}, "spec": WEATHER, "model": {"hidden": 4},
         "training": {"max_epochs": 1}}))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "conf/weather.yaml", "--run-dir", "run", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: section 'data': 'seattle.csv' is not in the config file's folder" in err
    assert (tmp_path / "run" / "weights.safetensors").is_file()


# -- epochs, units, steps -----------------------------------------------------------------
def test_epochs_count_from_1_in_the_progress_bar_history_card_and_plots(seattle, tmp_path,
                                                                        capsys):
    config = write_weather_config(tmp_path, seattle,
                                  training={"max_epochs": 3, "patience": 5, "lr": 0.01})
    assert main(["fit", str(config), "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert all(f"Epoch {e}/3" in out for e in (1, 2, 3)) and "Epoch 0/" not in out
    run = tmp_path / "run"
    assert list(pd.read_csv(run / "metrics.csv").epoch) == [1, 2, 3]
    model = LSTMModel.load(run)
    history = model.history_                              # the index, from 0, as 0.2.0 kept it
    best = history["best_epoch"]
    assert history["epochs"][best]["val_loss"] == history["best_val_loss"]
    assert f"in epoch {best + 1} of 3 (its weights" in (run / "README.md").read_text()
    (ax,) = plots.learning_curves(history).axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert f"best epoch {best + 1} (weights kept)" in labels
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]


def test_units_from_the_spec_reach_every_axis_the_table_and_the_card(seattle, tmp_path,
                                                                     capsys):
    units = {"temp_min": "°C", "precipitation": "mm"}
    model = LSTMModel(weather_spec(units=units), **TINY).fit(seattle)
    evaluation = model.evaluate(seattle, part="test")
    fig = plots.forecasts(model, seattle, origins=2)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_visible()] == [
        "precipitation (mm)", "temp_min (°C)"]
    fig = plots.horizon_errors(evaluation)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_visible()] == ["error (mm)",
                                                                        "error (°C)"]
    backtest = model.backtest(seattle, folds=2, step=20, refit=False)
    assert [ax.get_ylabel() for ax in backtest.plot().axes if ax.get_visible()] == [
        "MAE (mm)", "MAE (°C)"]
    console = Console(width=120, file=io.StringIO())
    console.print(lstmkit_cli.render(evaluation, "test"))
    text = console.file.getvalue()
    assert "MAE (°C)" in text and "RMSE (mm)" in text and "sMAPE (" not in text
    card = model_card(model, evaluation.to_dict())
    assert "| temp_min | MAE (°C) |" in card and "Units: `temp_min` °C, `precipitation` mm." \
        in card
    assert LSTMModel.load(model.save(tmp_path / "m")).spec_.units == units


def test_units_in_a_yaml_config_and_a_typo_gets_a_suggestion(seattle, tmp_path, capsys):
    config = write_weather_config(tmp_path, seattle)
    raw = yaml.safe_load(config.read_text())
    raw["spec"]["units"] = {"temp_min": "°C"}
    assert RunConfig.from_dict(raw).spec.units == {"temp_min": "°C"}
    raw["spec"]["units"] = {"temp_mni": "°C"}
    with pytest.raises(ConfigError, match=r"spec units names 'temp_mni', which is neither an "
                                          r"input nor a target \(did you mean 'temp_min'\?\)"):
        RunConfig.from_dict(raw)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    assert main(["fit", str(config), "--no-progress"]) == 2
    assert "did you mean 'temp_min'?" in capsys.readouterr().err


def test_per_step_and_epoch_axes_tick_whole_numbers_only(seattle):
    model = LSTMModel(weather_spec(), hidden=4, max_epochs=2, progress=False).fit(seattle)
    for fig in (plots.horizon_errors(model.evaluate(seattle, part="test")),
                plots.learning_curves(model.history_)):
        fig.canvas.draw()
        for ax in (ax for ax in fig.axes if ax.get_visible()):
            ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
            assert ticks and all(t.lstrip("−-").isdigit() for t in ticks), ticks


# -- lstmkit runs -------------------------------------------------------------------------
def test_runs_fits_a_narrow_terminal_and_keeps_every_value(seattle, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    config = write_weather_config(tmp_path, seattle)
    assert main(["fit", str(config), "--run-dir", str(runs / "first_run"), "--no-progress"]) == 0
    shutil.copytree(runs / "first_run", runs / "second_run")
    metrics = json.loads((runs / "first_run" / "metrics.json").read_text())
    mae = f"{metrics['targets']['temp_min']['MAE']['model']:.4g}"
    for width, wide in ((60, False), (250, True)):
        console = Console(width=width, file=io.StringIO())
        monkeypatch.setattr(lstmkit_cli, "console", console)
        assert main(["runs", str(runs)]) == 0
        lines = console.file.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        text = "\n".join(lines)
        assert "first_run" in text and "second_run" in text and "temp_min MAE" in text
        assert text.count(mae) == 2
        # Wide: a row per run holds its values; narrow: a row per value under the run's name.
        assert any("first_run" in line and mae in line for line in lines) == wide
