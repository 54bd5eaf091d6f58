"""Plots: each writes a PNG and carries the labels it promises (checked on the Figure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import ConfigError, Evaluation, Feature, LSTMModel, Spec, Target
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from tests.conftest import ETTH1

PNG = b"\x89PNG\r\n\x1a\n"
UNITS = {"temp_max": "°C", "precipitation": "mm"}
TARGETS = ["temp_max", "precipitation", "weather"]


@pytest.fixture(scope="module")
def model(seattle):
    spec = Spec(time="date", lookback=14, horizon=3,
                inputs=["temp_max", "precipitation", "wind", Feature("weather", "categorical")],
                targets=["temp_max", Target("precipitation", scaler="robust"),
                         Target("weather", kind="classification")])
    return LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(seattle)


@pytest.fixture(scope="module")
def evaluation(model, seattle):
    return model.evaluate(seattle, part="test")


def _written(path) -> bool:
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 5000


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]


def test_learning_curves(model, tmp_path):
    fig = plots.learning_curves(model.history_, save=tmp_path / "lc.png")
    assert _written(tmp_path / "lc.png")
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_title()) == ("epoch", "Learning curves")
    assert "loss" in ax.get_ylabel()
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"training", "validation"} <= set(lines)
    assert list(lines["training"].get_xdata()) == [1, 2]


def test_forecasts_show_each_target_in_its_units_with_context_and_several_origins(
        model, seattle, tmp_path):
    fig = plots.forecasts(model, seattle, origins=3, units=UNITS, save=tmp_path / "f.png")
    assert _written(tmp_path / "f.png")
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == TARGETS
    assert [ax.get_ylabel() for ax in axes] == ["temp_max (°C)", "precipitation (mm)",
                                                "weather (class)"]
    weather = axes[2]
    assert [t.get_text() for t in weather.get_yticklabels()] == sorted(seattle.weather.unique())
    assert {ax.get_xlabel() for ax in axes} <= {"date", ""} and axes[-1].get_xlabel() == "date"
    forecasts = [line for line in axes[0].get_lines() if line.get_label().startswith("forecast")]
    assert len(forecasts) == 3
    # The last origin's line is the model's forecast from the last row with a known future,
    # starting at the actual value there.
    last = len(seattle) - 1 - 3
    expected = model.predict(seattle.iloc[: last + 1]).temp_max.to_numpy()
    assert np.allclose(forecasts[-1].get_ydata()[1:], expected)
    assert forecasts[-1].get_ydata()[0] == seattle.temp_max.iloc[last]


def test_forecasts_from_chosen_origins_and_bad_ones(model, seattle):
    fig = plots.forecasts(model, seattle, origins=[100, 400])
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert [lab for lab in labels if lab.startswith("forecast")] == [
        f"forecast from {pd.Timestamp(seattle.date.iloc[r]).date()}" for r in (100, 400)]
    with pytest.raises(ConfigError, match="origin row 5 has no full lookback"):
        plots.forecasts(model, seattle, origins=[5])


def test_horizon_errors_per_step_and_target(evaluation, tmp_path):
    fig = plots.horizon_errors(evaluation, units=UNITS, save=tmp_path / "h.png")
    assert _written(tmp_path / "h.png")
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == TARGETS
    assert [ax.get_ylabel() for ax in axes] == ["error (°C)", "error (mm)", "accuracy"]
    # model, naive and seasonal naive (a week earlier: 7 days) per metric
    assert [len(ax.get_lines()) for ax in axes] == [6, 6, 3]
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert labels[:3] == ["MAE, model", "MAE, naive", "MAE, seasonal naive"]
    assert list(axes[0].get_lines()[0].get_xdata()) == [1, 2, 3]
    assert axes[-1].get_xlabel() == "horizon step"
    one_step = Evaluation(evaluation.table, evaluation.per_step.iloc[:0])
    with pytest.raises(ConfigError, match="horizon is above 1"):
        plots.horizon_errors(one_step)


def test_confusion_matrix_of_each_categorical_target(evaluation, seattle, tmp_path):
    fig = plots.confusion(evaluation, save=tmp_path / "c.png")
    assert _written(tmp_path / "c.png")
    (ax,) = _visible(fig)
    assert ax.get_title().startswith("weather: accuracy ")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    classes = sorted(seattle.weather.unique())
    assert [t.get_text() for t in ax.get_xticklabels()] == classes
    counts = sum(int(text.get_text()) for text in ax.texts)
    assert counts == evaluation.confusion["weather"].to_numpy().sum()
    regression_only = Evaluation(evaluation.table, evaluation.per_step)
    with pytest.raises(ConfigError, match="needs a classification or binary target"):
        plots.confusion(regression_only)


def test_backtest_fold_errors(model, seattle, tmp_path):
    result = model.backtest(seattle, folds=2, step=20, refit=False)
    fig = result.plot(tmp_path / "b.png", units=UNITS)
    assert _written(tmp_path / "b.png")
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == TARGETS
    assert [ax.get_ylabel() for ax in axes] == ["MAE (°C)", "MAE (mm)", "accuracy"]
    assert all(len(line.get_xdata()) == 2 for line in axes[0].get_lines())
    assert axes[-1].get_xlabel().startswith("fold origin")


def test_many_targets_wrap_into_rows_of_at_most_the_given_columns(evaluation):
    fig = plots.horizon_errors(evaluation, columns=2)
    axes = _visible(fig)
    columns = {round(ax.get_position().x0, 3) for ax in axes}
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    assert (len(columns), len(rows)) == (2, 2)
    assert [ax.get_xlabel() for ax in axes] == ["", "horizon step", "horizon step"]


def test_fit_writes_the_plots_that_suit_the_model(tmp_path):
    config = tmp_path / "etth1.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"path": str(ETTH1)},
        "spec": {"time": "date", "inputs": ["HUFL", "OT"], "targets": ["OT", "HUFL"],
                 "lookback": 24, "horizon": 6},
        "model": {"hidden": 4},
        "training": {"max_epochs": 1, "batch_size": 256},
        "split": {"val_start": 1000, "test_start": 1300, "end": 1600},
    }))
    assert main(["fit", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    pictures = {p.name for p in (tmp_path / "run").glob("*.png")}
    assert pictures == {"learning_curves.png", "forecasts.png", "horizon_errors.png"}
    assert all(_written(tmp_path / "run" / name) for name in pictures)
