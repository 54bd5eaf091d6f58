"""Per-series evaluation and the scale-free metrics (MASE, RMSSE) of panels.

The panel is the exchange-rate table as a user holds it in long format: eight currencies
(one series each, levels from 0.009 to 1.3: over 100x apart) over their last 300 days.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import ArtifactError, LSTMModel, Spec
from lstmkit.cli.command import main
from tests.fixtures.v0_2_0.make import panel as v0_2_0_panel

FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0" / "models"
LOOKBACK, HORIZON, SEASON = 14, 3, 7          # daily rows: a week's season
# The scored values pass through the float32 encoding (one scaler for all series), which
# keeps the day-to-day changes of the smallest series to about 5 digits; the scales do not.
EXACT = 1e-4


@pytest.fixture(scope="module")
def rates(shared_data) -> pd.DataFrame:
    wide = pd.read_csv(shared_data / "forecasting" / "exchange_rate" / "exchange_rate.csv")
    wide = wide.iloc[-300:].assign(date=lambda t: pd.to_datetime(t.date))
    return wide.melt(id_vars="date", var_name="currency", value_name="rate")


@pytest.fixture(scope="module")
def model(rates) -> LSTMModel:
    """One scaler for all series (not a panel's default, per series), so that it also
    evaluates a series it was not fitted on."""
    spec = Spec(time="date", series="currency", inputs=["rate"], targets=["rate"],
                lookback=LOOKBACK, horizon=HORIZON, scale_by="global")
    return LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(rates)


@pytest.fixture(scope="module")
def evaluation(model, rates):
    return model.evaluate(rates, part="test")


def _naive_mase(series: dict[str, np.ndarray], season: int) -> dict[str, float]:
    """By hand, per series: the persistence forecast's MAE on the test windows (targets in
    the last 15 % of the rows, the default split) over the in-sample MAE of the seasonal
    naive forecast on the first 70 %."""
    out = {}
    for key, y in series.items():
        n = len(y)
        train_end, test_start = int(0.7 * n), int(0.85 * n)
        origins = np.arange(test_start - 1, n - HORIZON)
        errors = [abs(y[o + k] - y[o]) for o in origins for k in range(1, HORIZON + 1)]
        scale = np.mean(np.abs(y[season:train_end] - y[: train_end - season]))
        out[key] = np.mean(errors) / scale
    return out


def _rows(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    return frame[frame.metric == metric].set_index("series")


def test_per_series_has_one_block_per_series_equal_to_scoring_that_series_alone(
        model, rates, evaluation):
    per_series = evaluation.per_series
    assert list(per_series.columns[:3]) == ["series", "target", "metric"]
    assert list(pd.unique(per_series.series)) == list(pd.unique(rates.currency))
    for _, block in per_series.groupby("series"):
        assert list(block.metric) == ["MAE", "RMSE", "sMAPE", "R2", "MASE", "RMSSE"]
    alone = model.evaluate(rates[rates.currency == "5"], part="test")
    block = per_series[per_series.series == "5"].set_index("metric")
    for table in (alone.table.set_index("metric"),
                  alone.per_series.set_index("metric")):     # one block: the table's
        for column in ("model", "naive", "seasonal", "skill"):
            np.testing.assert_allclose(block[column], table.loc[block.index, column],
                                       rtol=1e-9)


def test_the_naive_forecasts_mase_is_the_hand_computed_one(model, rates, evaluation):
    series = {k: g.sort_values("date").rate.to_numpy() for k, g in rates.groupby("currency")}
    expected = _naive_mase(series, SEASON)
    mase = _rows(evaluation.per_series, "MASE")
    for key, value in expected.items():
        assert mase.loc[key, "naive"] == pytest.approx(value, rel=EXACT)
    # the table's MASE: the mean over the series, each weighing the same
    assert evaluation.metric("rate", "MASE", of="naive") == pytest.approx(
        np.mean(list(expected.values())), rel=EXACT)
    assert "seasonal naive forecast (7 steps)" in evaluation.scale_free


def test_equal_weights_over_series_differ_from_pooling_series_100x_apart(evaluation):
    levels = evaluation.per_series  # series "1" trades near 1.3, series "5" near 0.009
    mae, mase = _rows(levels, "MAE").model, _rows(levels, "MASE").model
    assert mae["1"] > 20 * mae["5"]
    assert mae["5"] / mae.sum() < 0.01            # pooled, the small series hardly counts
    assert mase["5"] / mase.sum() > 0.05          # scaled per series, it counts as any other
    means = evaluation.series_mean().set_index("metric")
    pooled = evaluation.table.set_index("metric")
    assert means.loc["MASE", "model"] == pytest.approx(mase.mean())
    assert means.loc["MASE", "model"] == pytest.approx(pooled.loc["MASE", "model"])
    # RMSE and R2 pooled over levels 100x apart are not the series' own: R2 pooled credits
    # the model with telling currencies apart
    assert pooled.loc["RMSE", "model"] > 1.1 * means.loc["RMSE", "model"]
    assert pooled.loc["R2", "model"] > 0.99 > means.loc["R2", "model"]


def test_the_scales_are_saved_as_plain_numbers_and_checked_at_load(model, evaluation, tmp_path):
    saved = model.save(tmp_path / "model")
    config = json.loads((saved / "config.json").read_text())
    scales = config["naive_scales"]
    assert scales["season"] == SEASON and len(scales["series"]) == 8
    assert all(isinstance(v, float) for v in scales["mae"]["rate"] + scales["mse"]["rate"])
    loaded = LSTMModel.load(saved)
    assert loaded.pipeline_.naive_scales.series == model.pipeline_.naive_scales.series
    config["naive_scales"]["mae"]["rate"] = [1.0]
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"naive_scales\.mae must give each numeric target"):
        LSTMModel.load(saved)


def test_a_new_series_takes_its_scale_from_the_data_given(model, rates):
    renamed = rates.assign(currency=rates.currency.replace({"5": "yen"}))
    evaluation = model.evaluate(renamed, part="test")
    mase = _rows(evaluation.per_series, "MASE")
    before = _rows(model.evaluate(rates, part="test").per_series, "MASE")
    assert mase.loc["yen", "naive"] == pytest.approx(before.loc["5", "naive"], rel=1e-9)
    assert "the data given" in evaluation.scale_free


def test_a_model_saved_before_the_scales_still_evaluates_them(tmp_path):
    folder = shutil.copytree(FIXTURES / "forecast_panel", tmp_path / "model")
    old = LSTMModel.load(folder)
    assert old.pipeline_.naive_scales is None
    data = v0_2_0_panel()                 # three series of 300 rows, no time column: m = 1
    evaluation = old.evaluate(data, part="test")
    # its split: 70 / 15 / 15 of each series' rows; persistence over 2 steps
    series = {k: g.OT.to_numpy() for k, g in data.groupby("series")}
    expected = {}
    for key, y in series.items():
        origins = np.arange(int(0.85 * len(y)) - 1, len(y) - 2)
        naive = np.mean([abs(y[o + k] - y[o]) for o in origins for k in (1, 2)])
        expected[key] = naive / np.mean(np.abs(np.diff(y[: int(0.7 * len(y))])))
    mase = _rows(evaluation.per_series, "MASE")
    for key, value in expected.items():
        assert mase.loc[key, "naive"] == pytest.approx(value, rel=EXACT)
    assert "naive forecast (one step)" in evaluation.scale_free
    assert "saved before it kept them" in evaluation.scale_free


def test_the_cli_shows_the_scale_free_summary_after_fit_and_evaluate(rates, tmp_path, capsys):
    rates.to_csv(tmp_path / "rates.csv", index=False)
    config = {"data": {"path": str(tmp_path / "rates.csv")},
              "spec": {"time": "date", "series": "currency", "inputs": ["rate"],
                       "targets": ["rate"], "lookback": LOOKBACK, "horizon": HORIZON},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "rates.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["fit", str(tmp_path / "rates.yaml"), "--run-dir", str(run),
                 "--no-progress"]) == 0
    fitted = " ".join(capsys.readouterr().out.split())
    assert main(["evaluate", str(run), str(tmp_path / "rates.csv"), "--part", "test"]) == 0
    evaluated = " ".join(capsys.readouterr().out.split())
    for out in (fitted, evaluated):
        assert "scale-free summary: means over 8 series" in out
        assert "MASE" in out and "RMSSE" in out and "of 8" in out   # "k of 8" series worse
    metrics = json.loads((run / "metrics.json").read_text())
    assert {row["series"] for row in metrics["per_series"]} == set(rates.currency)
    assert "MASE" in metrics["targets"]["rate"]


def test_a_series_constant_in_training_has_no_mase_and_the_mean_leaves_it_out(tmp_path):
    old = LSTMModel.load(shutil.copytree(FIXTURES / "forecast_panel", tmp_path / "model"))
    data = v0_2_0_panel()
    flat = (data.series == "c") & (data.groupby("series").cumcount() < 210)   # training rows
    data.loc[flat, "OT"] = 5.0
    evaluation = old.evaluate(data, part="test")
    mase = _rows(evaluation.per_series, "MASE")
    assert np.isnan(mase.loc["c", "model"]) and np.isnan(mase.loc["c", "naive"])
    assert np.isfinite(_rows(evaluation.per_series, "MAE").loc["c", "model"])
    assert evaluation.metric("OT", "MASE") == pytest.approx(mase.loc[["a", "b"], "model"].mean())
