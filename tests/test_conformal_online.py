"""Calibrated intervals that adapt to the truth as it arrives (``predict(adapt=...)``)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_serve import running_server

from lstmkit import ConfigError, DataError, LSTMModel, Spec, Split
from lstmkit.cli.command import main
from lstmkit.conformal_online import adapt_rate, feedback, track, window_truth
from lstmkit.deploy.onnx_model import OnnxModel

STANDARD = Split(val_start=8640, test_start=11520)       # ETTh1's 12 / 4 / 4 months
INTERVALS = ["HUFL_lo_80", "HUFL_hi_80", "HUFL_lo_95", "HUFL_hi_95"]
LOOKBACK, HORIZON = 24, 4


@pytest.fixture(scope="module")
def hufl(etth1) -> LSTMModel:
    """HUFL four hours ahead, calibrated at fit time on the standard validation months."""
    spec = Spec(time="date", inputs=["HUFL", "HULL", "OT"], targets=["HUFL"],
                lookback=LOOKBACK, horizon=HORIZON)
    return LSTMModel(spec, hidden=8, lr=1e-2, max_epochs=2, progress=False, split=STANDARD,
                     coverage=[0.8, 0.95]).fit(etth1)


@pytest.fixture(scope="module")
def test_months(etth1) -> pd.DataFrame:
    """The test months, with a lookback of history before them."""
    return etth1.iloc[STANDARD.test_start - LOOKBACK:].reset_index(drop=True)


def coverage(table: pd.DataFrame, truth: pd.Series, share: int) -> float:
    """The share of ``table``'s known truths inside its ``share`` % intervals."""
    y = table["time"].map(truth)
    known = y.notna()
    inside = (y >= table[f"HUFL_lo_{share}"]) & (y <= table[f"HUFL_hi_{share}"])
    return float(inside[known].mean())


def consecutive(n: int, steps: int, truth: np.ndarray | None = None):
    """The feedback of ``n`` windows of one series starting at rows 0 .. n - 1."""
    frame = pd.DataFrame({"y": np.zeros(n + LOOKBACK + steps) if truth is None else truth})
    starts, which = np.arange(n), np.zeros(n, np.int64)
    truth = window_truth(frame, np.array([0, len(frame)]), starts, which, LOOKBACK, steps, ["y"])
    return feedback(starts, which, truth, 0.01)


def test_each_window_knows_the_truths_that_lie_before_its_origin_in_its_own_series():
    starts = np.array([0, 1, 2, 5, 6, 20, 21, 22, 36])      # gaps in both series
    which = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    frame = pd.DataFrame({"y": np.arange(40, dtype=float)})
    truth = window_truth(frame, np.array([0, 20, 40]), starts, which, 3, 2, ["y"])
    fed = feedback(starts, which, truth, 0.01)
    for t in range(len(starts)):
        for s in (1, 2):
            knows = [i for i in range(t) if which[i] == which[t] and starts[i] + s <= starts[t]]
            assert list(range(fed.first[t], fed.known[t, s - 1])) == knows, (t, s)
    # the truth at step s is the row lookback + s - 1 after the start, NaN past the series
    np.testing.assert_array_equal(fed.truth["y"][0], [3, 4])
    np.testing.assert_array_equal(fed.truth["y"][4], [9, 10])
    assert np.isnan(fed.truth["y"][-1, 1]) and fed.truth["y"][-1, 0] == 39


@pytest.mark.parametrize("spread", [2.0, 0.5])
def test_after_a_shift_the_tracked_intervals_cover_as_nominal_and_the_fixed_ones_do_not(spread):
    rng = np.random.default_rng(0)
    n, shares = 20000, (0.8, 0.95)
    errors = rng.normal(0, spread, n + LOOKBACK + 3)       # calibrated on N(0, 1) errors
    fed = consecutive(n, 3, errors)
    half = np.broadcast_to(stats.norm.ppf([(1 + c) / 2 for c in shares]), (n, 3, 2))
    lower, upper = track(np.zeros((n, 3, 2)), half, fed.truth["y"], shares, fed.known,
                         fed.first, 0.01)
    y = fed.truth["y"][..., None]
    tracked = ((lower <= y) & (y <= upper)).mean(axis=(0, 1))
    fixed = ((-half <= y) & (y <= half)).mean(axis=(0, 1))
    np.testing.assert_allclose(tracked, shares, atol=0.015)
    assert (np.abs(fixed - shares) > 0.04).all(), fixed


def test_a_window_interval_reads_no_truth_after_its_origin():
    rng = np.random.default_rng(1)
    n = 400
    y = rng.normal(size=n + LOOKBACK + 3)
    changed = y.copy()
    changed[LOOKBACK + 200:] *= 5                        # from window 200's first step on
    runs = []
    for truth in (y, changed):
        fed = consecutive(n, 3, truth)
        runs.append(track(np.zeros((n, 3, 1)), np.ones((n, 3, 1)), fed.truth["y"], [0.8],
                          fed.known, fed.first, 0.05)[0])
    # window t knows step s of window i once i + s <= t: window 200 knows none of it
    np.testing.assert_array_equal(runs[0][:201], runs[1][:201])
    assert not np.array_equal(runs[0][201:], runs[1][201:])


def test_on_the_test_months_the_adapted_intervals_cover_nearer_nominal(hufl, etth1, test_months):
    truth = etth1.assign(date=pd.to_datetime(etth1.date)).set_index("date")["HUFL"]
    fixed = hufl.predict(test_months, origins="all")
    adapted = hufl.predict(test_months, origins="all", adapt=True)
    pd.testing.assert_frame_equal(adapted.drop(columns=INTERVALS),
                                  fixed.drop(columns=INTERVALS))   # the points stay
    evaluation = hufl.evaluate(etth1, part="test", adapt=True)     # the same windows
    for share in (80, 95):
        before, after = coverage(fixed, truth, share), coverage(adapted, truth, share)
        assert abs(after - share / 100) < 0.02, (share, before, after)
        assert abs(after - share / 100) < abs(before - share / 100), (share, before, after)
        full = adapted[adapted.origin <= adapted.origin.unique()[-HORIZON]]   # every step known
        assert evaluation.metric("HUFL", f"coverage_{share}_conformal") == \
            pytest.approx(100 * coverage(full, truth, share), abs=0.01)


def test_the_last_origin_adapts_as_the_same_window_of_all_origins_does(hufl, test_months):
    every = hufl.predict(test_months.iloc[:600], origins="all", adapt=True)
    last = hufl.predict(test_months.iloc[:600], adapt=True)
    pd.testing.assert_frame_equal(last.reset_index(drop=True),
                                  every.tail(HORIZON).reset_index(drop=True))
    # a table cut at an origin gives that origin the interval the longer table gave it
    cut = hufl.predict(test_months.iloc[:400], adapt=True)
    origin = cut.origin.iloc[0]
    pd.testing.assert_frame_equal(cut.reset_index(drop=True),
                                  every[every.origin == origin].reset_index(drop=True))
    assert not np.allclose(cut[INTERVALS], hufl.predict(test_months.iloc[:400])[INTERVALS])


def test_each_series_of_a_panel_adapts_on_its_own_windows(etth1, shared_data):
    etth2 = pd.read_csv(shared_data / "forecasting" / "ETT-small" / "ETTh2.csv")
    panel = pd.concat([etth1.iloc[:3000].assign(transformer="h1"),
                       etth2.iloc[:3000].assign(transformer="h2")], ignore_index=True)
    spec = Spec(time="date", series="transformer", inputs=["HUFL", "OT"], targets=["OT"],
                lookback=LOOKBACK, horizon=HORIZON)
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False, coverage=[0.8]).fit(panel)
    recent = panel.groupby("transformer").tail(400).reset_index(drop=True)
    both = model.predict(recent, origins="all", adapt=0.05)
    for key, rows in recent.groupby("transformer"):
        alone = model.predict(rows, origins="all", adapt=0.05)
        pd.testing.assert_frame_equal(both[both.transformer == key].reset_index(drop=True),
                                      alone.reset_index(drop=True))
    fixed = model.predict(recent, origins="all")
    assert not np.allclose(both[["OT_lo_80", "OT_hi_80"]], fixed[["OT_lo_80", "OT_hi_80"]])
    last = model.predict(recent, adapt=0.05)
    assert sorted(set(last.transformer)) == ["h1", "h2"] and len(last) == 2 * HORIZON
    pd.testing.assert_frame_equal(
        last.reset_index(drop=True),
        both.groupby("transformer").tail(HORIZON).reset_index(drop=True))


def test_the_forecast_plot_shades_the_adapted_intervals(hufl, test_months):
    from matplotlib.collections import PolyCollection

    from lstmkit.analysis import plots

    data = test_months.iloc[:400]
    expected = hufl.predict(data.iloc[: len(data) - HORIZON], adapt=True)
    figure = plots.forecasts(hufl, data, origins=1, adapt=True)
    band = next(c for c in figure.axes[0].collections if isinstance(c, PolyCollection))
    lows = band.get_paths()[0].vertices[:, 1]
    for value in expected["HUFL_lo_95"]:      # the band's lower edge runs through them
        assert np.isclose(lows, value).any(), value
    fixed = hufl.predict(data.iloc[len(data) - HORIZON - LOOKBACK: len(data) - HORIZON])
    assert not any(np.isclose(lows, value).any() for value in fixed["HUFL_lo_95"])


def test_onnx_adapts_its_intervals_as_predict_does(hufl, test_months, tmp_path):
    onnx = OnnxModel(hufl.export_onnx(tmp_path / "model.onnx"))
    data = test_months.iloc[:500]
    for origins in ("all", "last"):
        np.testing.assert_allclose(onnx.predict(data, origins, adapt=True)[INTERVALS],
                                   hufl.predict(data, origins, adapt=True)[INTERVALS],
                                   rtol=1e-4, atol=1e-4)
    # without intervals asked for there is nothing to adapt: the points, as predict gives
    np.testing.assert_allclose(onnx.predict(data, coverage=[], adapt=True)[["HUFL"]],
                               hufl.predict(data, coverage=[], adapt=True)[["HUFL"]],
                               rtol=1e-4, atol=1e-4)


def test_the_cli_adapts_across_chunks_as_the_api_does_on_the_whole_table(hufl, test_months,
                                                                          tmp_path):
    test_months.iloc[:500].to_csv(tmp_path / "recent.csv", index=False)
    directory = hufl.save(tmp_path / "model")
    expected = hufl.predict(test_months.iloc[:500], origins="all", adapt=0.05)
    command = ["predict", str(directory), str(tmp_path / "recent.csv"), "--origins", "all",
               "--adapt", "0.05", "--chunk-rows", "64", "--no-progress"]
    assert main([*command, "-o", str(tmp_path / "out.csv")]) == 0
    written = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(written[INTERVALS], expected[INTERVALS], rtol=1e-6)
    report = tmp_path / "metrics.json"
    assert main(["evaluate", str(directory), str(tmp_path / "recent.csv"), "--adapt", "0.05",
                 "--json", str(report)]) == 0
    scored = hufl.evaluate(test_months.iloc[:500], adapt=0.05)
    written = json.loads(report.read_text())["targets"]["HUFL"]["coverage_80_conformal"]
    assert written["model"] == pytest.approx(scored.metric("HUFL", "coverage_80_conformal"))
    assert written["model"] != pytest.approx(hufl.evaluate(test_months.iloc[:500]).metric(
        "HUFL", "coverage_80_conformal"))


def test_the_server_adapts_on_request(hufl, test_months, tmp_path):
    directory = hufl.save(tmp_path / "model")
    recent = test_months.iloc[:300].reset_index(drop=True)
    with running_server(directory) as url:
        response, rated, missing = (
            httpx.post(f"{url}/predict", params={"adapt": adapt}, timeout=30,
                       json={"rows": rows.to_dict("records")})
            for adapt, rows in (("true", recent), ("0.2", recent),
                                ("true", recent.drop(columns=["HUFL"]))))
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    pd.testing.assert_frame_equal(served[INTERVALS], hufl.predict(recent, adapt=True)[INTERVALS],
                                  rtol=1e-6)
    assert rated.status_code == 200, rated.text                  # a rate, as predict takes it
    fast = pd.DataFrame(rated.json()["predictions"])[INTERVALS]
    pd.testing.assert_frame_equal(fast, hufl.predict(recent, adapt=0.2)[INTERVALS], rtol=1e-6)
    assert not np.allclose(fast, served[INTERVALS])
    assert missing.status_code == 422 and "HUFL" in missing.json()["detail"]


def test_what_cannot_adapt_is_refused_with_the_fix(hufl, etth1, test_months):
    with pytest.raises(ConfigError, match="adapt"):
        hufl.predict(test_months, output="array", adapt=True)
    for bad in (0, 2, "yes", -0.1):
        with pytest.raises(ConfigError, match="adapt=True"):
            adapt_rate(bad)
    assert adapt_rate(False) is None and adapt_rate(True) == 0.01 and adapt_rate(0.1) == 0.1
    assert adapt_rate(np.True_) == 0.01 and adapt_rate(np.float32(0.5)) == 0.5
    with pytest.raises(ConfigError, match="adapt=True"):
        adapt_rate(float("nan"))
    text = test_months.assign(HUFL=test_months.HUFL.astype(object))
    text.loc[30, "HUFL"] = "n/a"
    with pytest.raises(DataError, match="HUFL"):
        hufl.predict(text, adapt=True)
    uncalibrated = LSTMModel(hufl.spec, hidden=4, max_epochs=1, progress=False,
                             coverage=[]).fit(etth1.iloc[:3000])
    with pytest.raises(ConfigError, match="calibrate_intervals"):
        uncalibrated.predict(test_months, adapt=True)
