"""Conformal intervals on real panels and non-negative targets (issue 30 point 3, follow-up):
scale-aware margins give each series of a panel coverage near nominal (one pooled margin
gave the small series far too wide intervals and the large ones far too narrow), and the
lower end of a target that is never negative stays at 0 or above."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit import Feature, LSTMModel, Spec, Split, datasets
from lstmkit.conformal import fit_conformal
from lstmkit.conformal_panel import WindowSeries, margin_table
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.kinds import Decoded

ENDS = ["y_lo_80", "y_hi_80", "y_lo_95", "y_hi_95"]


@pytest.fixture(scope="module")
def exchange(shared_data) -> pd.DataFrame:
    """The exchange-rate table's last 1500 days as eight series in long format (levels
    0.009 to 1.6; mean daily changes 0.00004 to 0.0065, 150x apart)."""
    wide = pd.read_csv(shared_data / "forecasting" / "exchange_rate" / "exchange_rate.csv")
    long = wide.iloc[-1500:].melt(id_vars="date", var_name="unique_id", value_name="y")
    return long.rename(columns={"date": "ds"}).assign(ds=lambda t: pd.to_datetime(t.ds))


@pytest.fixture(scope="module")
def panel(exchange) -> LSTMModel:
    spec = Spec.from_long(exchange, inputs=[], lookback=30, horizon=5,
                          scale_by="global")       # one scaler: ONNX takes a new series too
    return LSTMModel(spec, hidden=16, max_epochs=3, progress=False, seed=0,
                     coverage=[0.8, 0.95]).fit(exchange)


def pooled(record: dict) -> dict:
    """``record`` as calibrated before scale-aware margins: one margin per step for all."""
    record = copy.deepcopy(record)
    del record["series"]
    for entry in record["targets"].values():
        del entry["scales"], entry["scaled_margins"], entry["series_margins"]
    return record


def series_coverage(model: LSTMModel, data: pd.DataFrame, share: int = 80) -> pd.Series:
    rows = model.evaluate(data, part="test").per_series
    return rows[rows.metric == f"coverage_{share}_conformal"].set_index("series").model


def test_each_series_of_a_panel_is_covered_near_nominal(panel, exchange):
    record = panel.conformal_
    assert record["series"] == [str(k) for k in sorted(exchange.unique_id.unique())]
    scales = dict(zip(record["series"], record["targets"]["y"]["scales"], strict=True))
    assert scales["1"] > 100 * scales["5"]                     # GBP moves, JPY barely
    covered = series_coverage(panel, exchange)         # 225 later days of each series
    assert len(covered) == 8 and (covered - 80).abs().max() <= 12, covered
    assert (series_coverage(panel, exchange, 95) - 95).abs().max() <= 6
    panel.pipeline_.conformal = pooled(record)                 # one margin for every series
    try:
        before = series_coverage(panel, exchange)
    finally:
        panel.pipeline_.conformal = record
    assert (before - 80).abs().max() > 20, before              # the failure it fixes
    assert before["5"] == 100 and before["1"] < 65


def test_a_series_margins_are_its_scale_times_its_normalised_ones(panel, exchange):
    table = panel.predict(exchange, origins="last")
    entry = panel.conformal_["targets"]["y"]
    keys = panel.conformal_["series"]
    scales = dict(zip(keys, entry["scales"], strict=True))
    own = dict(zip(keys, entry["series_margins"][0], strict=True))   # 225 windows each
    assert all(margins is not None for margins in own.values())
    expected = [scales[str(k)] * own[str(k)][s - 1]
                for k, s in zip(table.unique_id, table.step, strict=True)]
    np.testing.assert_allclose(table.y_hi_80 - table.y, expected, rtol=1e-9)
    assert (table.y_lo_80 >= 0).all() and "floor" in entry      # rates are never negative
    # a series the record does not hold takes the pooled margins
    new = exchange[exchange.unique_id == "0"].assign(unique_id="new")
    other = panel.predict(new)
    np.testing.assert_allclose(other.y_hi_80 - other.y, entry["margins"][0], rtol=1e-6)


def test_onnx_gives_each_series_its_intervals(panel, exchange, tmp_path):
    onnx = OnnxModel(panel.export_onnx(tmp_path / "panel.onnx"))
    assert onnx.metadata["inputs"]["interval_series"]["keys"] == panel.conformal_["series"]
    data = pd.concat([exchange, exchange[exchange.unique_id == "0"].assign(unique_id="new")])
    exported, predicted = onnx.predict(data, origins="all"), panel.predict(data, origins="all")
    np.testing.assert_allclose(exported[["y", *ENDS]], predicted[["y", *ENDS]], rtol=1e-5,
                               atol=1e-5)


def test_saved_records_with_and_without_scales_load_and_predict_as_they_did(panel, exchange,
                                                                           tmp_path):
    recent = exchange.groupby("unique_id").tail(40)
    directory = panel.save(tmp_path / "model")
    pd.testing.assert_frame_equal(LSTMModel.load(directory).predict(recent),
                                  panel.predict(recent))
    config = json.loads((directory / "config.json").read_text())
    config["conformal"] = pooled(config["conformal"])          # as saved before
    for entry in config["conformal"]["targets"].values():
        del entry["floor"]
    (directory / "config.json").write_text(json.dumps(config))
    older = LSTMModel.load(directory).predict(recent)
    margins = config["conformal"]["targets"]["y"]["margins"]
    np.testing.assert_allclose(older.y_hi_80 - older.y, np.tile(margins[0], 8), rtol=1e-9)
    np.testing.assert_allclose(older.y - older.y_lo_95, np.tile(margins[1], 8), rtol=1e-9)
    config["conformal"]["targets"]["y"]["scales"] = [1.0]
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="must hold scaled_margins"):
        LSTMModel.load(directory)


@pytest.fixture(scope="module")
def pm25(shared_data) -> pd.DataFrame:
    return datasets.load("beijing_pm25", data_dir=shared_data).iloc[:6000]


def test_a_target_never_negative_keeps_its_lower_end_at_zero(pm25, tmp_path):
    spec = Spec(time="date", targets=["pm2.5"], lookback=24, horizon=6,
                inputs=[Feature("pm2.5", missing="mask"), "DEWP", "TEMP", "Iws"])
    model = LSTMModel(spec, hidden=8, max_epochs=2, progress=False, seed=0, coverage=0.8,
                      split=Split(val_start=0.6, test_start=0.8)).fit(pm25)
    entry = model.conformal_["targets"]["pm2.5"]
    assert entry["floor"] == 0.0 and "series" not in model.conformal_
    table = model.predict(pm25, origins="all")
    assert (table["pm2.5_lo_80"] >= 0).all()
    unclipped = table["pm2.5"] - np.tile(entry["margins"][0], len(table) // 6)
    assert (unclipped < 0).mean() > 0.1                        # a symmetric interval would
    np.testing.assert_allclose(table["pm2.5_lo_80"], np.maximum(unclipped, 0), atol=1e-9)
    onnx = OnnxModel(model.export_onnx(tmp_path / "pm.onnx")).predict(pm25, origins="all")
    np.testing.assert_allclose(onnx[["pm2.5_lo_80", "pm2.5_hi_80"]],
                               table[["pm2.5_lo_80", "pm2.5_hi_80"]], rtol=1e-5, atol=1e-4)
    covered = model.evaluate(pm25, part="test").metric("pm2.5", "coverage_80_conformal")
    assert abs(covered - 80) <= 5, covered


def test_series_with_few_windows_take_the_normalised_margins_pooled_over_the_panel():
    spec = Spec(inputs=["y"], targets=["y"], lookback=2, horizon=1)
    which = np.repeat([0, 1], [150, 20])                    # 150 windows of "a", 20 of "b"
    residuals = np.concatenate([np.arange(1.0, 151.0), 10 * np.arange(1.0, 21.0)])
    series = WindowSeries(("a", "b"), which, {"y": np.array([1.0, 10.0])})
    record = fit_conformal(spec, {"y": Decoded(np.zeros((170, 1)))}, {"y": residuals[:, None]},
                           (0.8,), "all", pooled=False, series=series)
    entry = record["targets"]["y"]
    # "a": its own ceil(151 * 0.8) = 121st smallest of 1 .. 150; "b" (too few): the pooled
    # normalised one, the ceil(171 * 0.8) = 137th smallest of 1 .. 150 and 1 .. 20 together
    assert entry["series_margins"] == [[[121.0], None]] and entry["scaled_margins"] == [[117.0]]
    assert record["series"] == ["a", "b"] and entry["scales"] == [1.0, 10.0]
    assert entry["margins"] == [[125.0]]       # in units over all (1 .. 150, 10 .. 200): new series
    np.testing.assert_allclose(margin_table(record, "y", 0), [[121.0], [1170.0], [125.0]])


def test_a_panel_scaled_per_series_exports_both_series_inputs(exchange, tmp_path):
    recent = exchange.groupby("unique_id").tail(600)          # 90 validation windows a series
    spec = Spec.from_long(recent, inputs=[], lookback=30, horizon=5, scale_by="series")
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, coverage=0.8).fit(recent)
    entry = model.conformal_["targets"]["y"]
    assert entry["series_margins"] == [[None] * 8]             # too few: the panel's quantile
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    assert {"series", "interval_series"} <= set(onnx.metadata["inputs"])
    exported, predicted = onnx.predict(recent, origins="all"), model.predict(recent, origins="all")
    np.testing.assert_allclose(exported[["y", *ENDS[:2]]], predicted[["y", *ENDS[:2]]],
                               rtol=1e-5, atol=1e-6)
