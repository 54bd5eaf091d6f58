"""Defaults that hold on real tables nobody tuned them for (issue 28): the naive forecast
that a normalised forecast falls back on, and anchored outputs."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from lstmkit import ArtifactError, BaselineWarning, LSTMModel, Spec, Split
from lstmkit.data.windows import ForecastWindows
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.fallback import NaiveTerms, beats, momentum, naive_drift, window_blocks
from lstmkit.nn.norm import InstanceNorm
from tests.conftest import SHARED_DATA

TINY = {"hidden": 8, "max_epochs": 1, "progress": False, "instance_norm": "anchored"}


def seattle_temps() -> pd.DataFrame:
    """Hourly temperatures with a strong daily season, on an hourly grid (one gap filled)."""
    path = importlib.resources.files("vega_datasets") / "_data" / "seattle-temps.csv"
    table = pd.read_csv(path)
    table["date"] = pd.to_datetime(table.date)
    return table.set_index("date").asfreq("h").ffill().reset_index()


def exchange() -> pd.DataFrame:
    """Daily exchange rates: random walks, where no season beats the last value."""
    return pd.read_csv(SHARED_DATA / "forecasting" / "exchange_rate" / "exchange_rate.csv")


def test_each_target_is_anchored_on_the_naive_forecast_that_the_training_part_favours():
    temps = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48,
                           horizon=24), **TINY).fit(seattle_temps().iloc[:2000])
    assert temps.network_.config.anchor_lags == (24,)              # yesterday, same hour
    rates = LSTMModel(Spec(time="date", inputs=["0", "OT"], targets=["0", "OT"], lookback=14,
                           horizon=7), **TINY).fit(exchange().iloc[:1500])
    assert rates.network_.config.anchor_lags == (1, 1)             # the last value
    short = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=12,
                           horizon=6), **TINY).fit(seattle_temps().iloc[:1000])
    assert short.network_.config.anchor_lags == (1,)               # a day is past the lookback


@pytest.mark.parametrize("instance_norm", ["anchored", None])
def test_a_model_with_a_naive_fallback_saves_loads_and_exports_what_it_predicts(
        tmp_path, instance_norm):
    table = seattle_temps().iloc[:1500]
    model = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48,
                           horizon=24), **{**TINY, "instance_norm": instance_norm}).fit(table)
    assert (model.network_.norm.trust < 1).any()                      # a fallback to keep
    expected = model.predict(table.tail(48))
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.predict(table.tail(48)), expected)
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx")).predict(table.tail(48))
    np.testing.assert_allclose(onnx.temp, expected.temp, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("lags", [[0], [1, 1], [49]])
def test_saved_anchor_lags_that_the_spec_cannot_have_are_refused(tmp_path, lags):
    table = seattle_temps().iloc[:1500]
    model = LSTMModel(Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48,
                           horizon=24), **TINY).fit(table)
    path = model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["network"]["anchor_lags"] = lags
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match=r"anchor_lags|anchor lags"):
        LSTMModel.load(path)


@pytest.mark.parametrize("instance_norm", ["anchored", None, "last"])
def test_trust_keeps_only_the_change_that_helped_on_validation_data(instance_norm):
    """Whatever the normalisation (None: the default, RevIN), a forecast falls back on the
    naive one as far as validation says the network's change from it did not help."""
    table = exchange().iloc[:2500]                                    # random walks
    spec = Spec(time="date", inputs=["0", "3", "OT"], targets=["0", "3", "OT"], lookback=14,
                horizon=7)
    model = LSTMModel(spec, **{**TINY, "max_epochs": 2, "instance_norm": instance_norm}
                      ).fit(table)
    trust = model.network_.norm.trust                                # (steps, targets)
    assert trust.shape == (7, 3) and ((trust >= 0) & (trust <= 1)).all()
    if instance_norm != "anchored":     # an anchored network, changes from naive, beats it
        assert (trust < 1).any()                                      # some change was cut
    val = model.evaluate(table, part="val")
    shrunk = [t for m, t in enumerate(spec.target_names) if (trust[:, m] < 1).any()]
    for target in shrunk:                  # least squares per step: never above the naive
        assert val.metric(target, "RMSE") <= val.metric(target, "RMSE", of="naive") * (1 + 1e-6)


def test_without_instance_norm_or_validation_nothing_falls_back():
    table = exchange().iloc[:1500]
    spec = Spec(time="date", inputs=["0", "OT"], targets=["0", "OT"], lookback=14, horizon=7)
    plain = LSTMModel(spec, **{**TINY, "instance_norm": False}).fit(table)
    assert plain.network_.norm is None or not plain.network_.norm.naive
    unchecked = LSTMModel(spec, split=Split.train_only(), **{**TINY, "instance_norm": None}
                          ).fit(table)
    assert (unchecked.network_.norm.trust == 1).all()                 # no data to judge by


def us_employment() -> pd.DataFrame:
    """Monthly US employment by sector, 1990-2015: trending, seasonal series."""
    path = importlib.resources.files("vega_datasets") / "_data" / "us-employment.csv"
    return pd.read_csv(path)


def test_where_the_default_falls_back_on_naive_fit_keeps_the_better_of_it_and_anchored(
        tmp_path):
    spec = Spec(time="month", inputs=["nonfarm", "construction"],
                targets=["nonfarm", "construction"], lookback=12, horizon=6)
    table, small = us_employment(), {"hidden": 8, "max_epochs": 3, "progress": False}
    ratios = {}
    for norm in (True, "anchored"):
        model = LSTMModel(spec, instance_norm=norm, **small).fit(table)
        ratios[norm] = np.mean([e["model"] / e["naive"]
                                for e in model.validation_["targets"].values()])
    # the two differ here: RevIN's falls back on the naive forecast with drift and momentum
    # (0.25), the anchored network's beats the last value and is kept (0.98)
    assert min(ratios.values()) < 0.98 * max(ratios.values())
    chosen = LSTMModel(spec, **small).fit(table, checkpoint_dir=tmp_path / "run")
    best = min(ratios, key=ratios.get)
    assert chosen.architecture_["instance_norm"] == best
    assert np.mean([e["model"] / e["naive"] for e in chosen.validation_["targets"].values()]
                   ) == pytest.approx(ratios[best])
    assert (tmp_path / "run" / "anchored" / "checkpoint.safetensors").is_file()
    again = LSTMModel(spec, **small).fit(table, checkpoint_dir=tmp_path / "run", resume=True)
    pd.testing.assert_frame_equal(again.predict(table), chosen.predict(table))
    loaded = LSTMModel.load(chosen.save(tmp_path / "model"))
    assert loaded.architecture_["instance_norm"] == best
    pd.testing.assert_frame_equal(loaded.predict(table), chosen.predict(table))


def test_where_the_default_beats_naive_nothing_falls_back_and_nothing_else_is_trained(
        tmp_path):
    steps = np.arange(3000)        # a noisy cycle of 20 steps: the last value lags it badly
    table = pd.DataFrame({"y": np.sin(2 * np.pi * steps / 20)
                          + 0.1 * np.random.default_rng(0).normal(size=len(steps))})
    spec = Spec(inputs=["y"], targets=["y"], lookback=40, horizon=10)
    model = LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(
        table, checkpoint_dir=tmp_path / "run")
    assert all(e["model"] < e["naive"] for e in model.validation_["targets"].values())
    assert (model.network_.norm.trust == 1).all() and not model.network_.norm.drift.any()
    assert not (tmp_path / "run" / "anchored").exists()
    assert model.architecture_["instance_norm"] is True


def test_a_network_ahead_of_naive_by_less_than_one_standard_error_does_not_beat_it():
    """The one-standard-error rule: the mean gain (network error less naive, per window)
    plus the standard error of the means over blocks of overlapping windows must be below
    0. Four windows per block with one gain each: six blocks, -1 and 0.5 in turn (mean
    -0.25, standard error 0.82 / sqrt(6) = 0.34) do not beat it, though the 24 windows as
    independent draws (standard error 0.16) would; twice the blocks and a larger lead do."""
    gain = np.repeat(np.tile([-1.0, 0.5], 3), 4)
    assert beats(gain, np.repeat(np.arange(6), 4)) is False
    assert beats(gain, np.arange(24)) is True                     # windows as independent
    assert beats(np.repeat(np.tile([-1.0, 0.2], 6), 4), np.repeat(np.arange(12), 4)) is True
    assert beats(np.repeat([0.1, 0.3], 4), np.repeat([0, 1], 4)) is False       # it loses
    assert beats(np.full(8, np.nan), np.arange(8)) is None                    # no truth known


def panel_windows(series: int, years: int, lookback: int, horizon: int
                  ) -> tuple[ForecastWindows, np.ndarray]:
    """Windows over a yearly panel of ``series`` series of ``years`` rows each, back to back,
    starting at every row that leaves a full window in its series, and each row's year."""
    rows = series * years
    starts = np.concatenate([g * years + np.arange(years - lookback - horizon + 1)
                             for g in range(series)])
    windows = ForecastWindows(torch.zeros(rows, 1), torch.zeros(rows, 1),
                              torch.from_numpy(starts), lookback, horizon)
    return windows, np.tile(1935.0 + np.arange(years), series)


def test_a_panels_windows_that_start_in_the_same_years_share_a_block():
    """Series of a panel share their years' shocks (Grunfeld's firms' investment): the
    one-SE rule's blocks group windows by start time across the series, not by row; one
    series without gaps keeps its blocks of rows exactly."""
    windows, years = panel_windows(series=11, years=20, lookback=5, horizon=2)
    by_time = window_blocks(windows, years)
    starts = np.asarray(windows.starts)
    assert np.array_equal(by_time, (starts % 20) // 2)              # the year's rank, over 2
    assert len(np.unique(by_time)) == 7 and len(np.unique(window_blocks(windows))) == 77
    one, one_years = panel_windows(series=1, years=50, lookback=5, horizon=3)
    assert np.array_equal(window_blocks(one, one_years), window_blocks(one))
    # 545 young men's eight years, validated on one year: one block of times would give no
    # standard error, so the rows' blocks stay
    short, short_years = panel_windows(series=545, years=5, lookback=3, horizon=1)
    short.starts = short.starts[np.asarray(short.starts) % 5 == 1]
    assert np.array_equal(window_blocks(short, short_years), np.asarray(short.starts))
    # validation years where the network leads in two of three and loses in the third, as
    # every firm does that year: a lead of 0.1 on average, which 33 "independent" blocks
    # of firms take for certain and the three years' blocks do not
    valid, valid_years = panel_windows(series=11, years=14, lookback=5, horizon=1)
    shock = np.array([-0.3, -0.3, 0.3] * 3)[np.asarray(valid.starts) % 14]
    gain = shock + 0.01 * np.random.default_rng(0).normal(size=len(shock))
    picked = np.isin(np.asarray(valid.starts) % 14, [6, 7, 8])      # the last three years
    assert beats(gain[picked], window_blocks(valid, None)[picked]) is True
    assert beats(gain[picked], window_blocks(valid, valid_years)[picked]) is False


def stocks() -> pd.DataFrame:
    """Monthly prices of five stocks, 2000-2010, as a panel: random walks."""
    path = importlib.resources.files("vega_datasets") / "_data" / "stocks.csv"
    table = pd.read_csv(path)
    return table.assign(date=pd.to_datetime(table.date, format="%b %d %Y"))


def test_a_panel_where_the_network_is_within_noise_of_naive_falls_back():
    """Five stock prices at the development zoo's spec: the network's validation MAE is a
    hair below the last value's (ratio about 0.99), within one standard error of it over
    the 72 validation windows, so it falls back; the least-squares share per step, fitted
    on those windows, does not beat the last value by more than one standard error either,
    so none of the network's change is kept (on test it cost 1.13x persistence's MAE)."""
    spec = Spec(time="date", series="symbol", inputs=["price"], targets=["price"],
                lookback=12, horizon=3)
    model = LSTMModel(spec, max_epochs=30, progress=False).fit(stocks())
    entry = model.validation_["targets"]["price"]
    assert entry["kept"] == 0 and entry["model"] <= entry["naive"]


def test_where_the_default_loses_to_last_season_it_falls_back_on_that():
    spec = Spec(time="date", inputs=["temp"], targets=["temp"], lookback=48, horizon=24)
    table = seattle_temps().iloc[:3000]
    model = LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(table)
    assert model.network_.config.anchor_lags == (24,)     # yesterday, same hour
    val = model.evaluate(table, part="val")
    assert val.metric("temp", "MAE") <= val.metric("temp", "MAE", of="seasonal") * 1.01

def test_a_forecast_that_is_mostly_the_naive_one_is_reported_as_such(tmp_path):
    table = exchange().iloc[:2500]                                    # random walks
    spec = Spec(time="date", inputs=["0", "3", "OT"], targets=["0", "3", "OT"], lookback=14,
                horizon=7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(table)
    verdict = model.validation_["targets"]
    mostly = [t for t, entry in verdict.items() if entry["kept"] < 0.5]
    assert mostly                                        # a tiny network, random walks
    messages = [str(w.message) for w in caught if issubclass(w.category, BaselineWarning)]
    for target in mostly:
        (message,) = [m for m in messages if m.startswith(f"target '{target}'")]
        assert f"keep {verdict[target]['kept']:.0%} of the network's change" in message
        # not "did worse": Grunfeld's network led by 0.74x there, within one standard error
        assert "did not beat the naive forecast (its last value" in message
        assert "by more than one standard error, so fit moved" in message
        assert "random walk" in message
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    assert loaded.validation_ == model.validation_
    card = (tmp_path / "model" / "README.md").read_text()
    assert f"Mostly the naive forecast: {mostly[0]} (" in card


# -- the naive forecast with drift --------------------------------------------------------------

def test_the_fallback_forecast_adds_its_share_of_the_windows_drift_per_step_ahead():
    """Last value plus ``drift`` x (steps ahead) x (the window's mean step change); with a
    season of 4, the value a season back plus that share over the 4 or 8 steps between."""
    norm = InstanceNorm([True, True], target_channels=[0, 1], output_columns=[0, 1],
                        steps=6, lags=[1, 4])
    window = torch.stack([torch.arange(10.0) * 2, torch.arange(10.0) ** 2], dim=-1)[None]
    _, stats = norm.normalize(window)
    assert torch.equal(norm.fallback(stats), stats.anchor)              # no drift: as before
    norm.drift.copy_(torch.tensor([0.5, 1.0]))
    naive = norm.fallback(stats)[0]
    assert naive[:, 0].tolist() == [18 + 0.5 * 2 * k for k in range(1, 7)]
    slope = (81 - 0) / 9
    seasonal = [float(window[0, 6 + k % 4, 1]) + slope * 4 * (k // 4 + 1) for k in range(6)]
    assert naive[:, 1].tolist() == pytest.approx(seasonal)
    norm.trust.zero_()                                 # all fallback: the naive forecast itself
    out = norm.denormalize(torch.randn(1, 6, 2), stats)
    torch.testing.assert_close(out[0], naive)


def test_the_fallback_forecast_adds_its_share_of_the_windows_last_change():
    """Momentum: per step a share of the window's last change over the lag (the last value
    less the one before; with a season of 4, less the one 4 steps before), none where the
    window holds no value that far back; padded windows read their own last values."""
    norm = InstanceNorm([True, True], target_channels=[0, 1], output_columns=[0, 1],
                        steps=3, lags=[1, 4])
    window = torch.stack([torch.arange(10.0) ** 2, torch.arange(10.0) * 3], dim=-1)[None]
    _, stats = norm.normalize(window)
    assert stats.miss[0, 0].tolist() == [81 - 64, 27 - 15]
    norm.momentum.copy_(torch.tensor([[0.5, 0.0], [1.0, 0.0], [-0.5, 2.0]]))
    naive = norm.fallback(stats)[0]
    assert naive[:, 0].tolist() == [81 + 0.5 * 17, 81 + 17, 81 - 0.5 * 17]
    assert naive[:, 1].tolist() == (stats.anchor[0, :, 1] + torch.tensor([0, 0, 24.0])).tolist()
    _, short = norm.normalize(window[:, :4])               # 4 steps: nothing 4 steps back
    assert short.miss[0, 0].tolist() == [9 - 4, 0.0]
    padded = torch.cat([window[:, :7], torch.zeros(1, 3, 2)], dim=1)
    both = torch.cat([window, padded])
    _, stats = norm.normalize(both, lengths=torch.tensor([10, 7]))
    _, alone = norm.normalize(window[:, :7])
    torch.testing.assert_close(stats.miss[1], alone.miss[0])


def test_momentum_is_kept_where_changes_go_on_and_vetoed_by_validation():
    """The shares are least squares per step over every window set, any sign; validation
    (the first set) vetoes them where they make the naive forecast worse there."""
    rng = np.random.default_rng(0)
    miss = np.repeat(rng.normal(0, 1, (300, 1)), 3, axis=1)          # (N, H): the last change
    goes_on = NaiveTerms(np.zeros((300, 3)), np.zeros((300, 3)), miss,
                         miss * [0.6, 1.0, 1.2] + rng.normal(0, 0.3, (300, 3)))
    np.testing.assert_allclose(momentum([goes_on]), [0.6, 1.0, 1.2], atol=0.05)
    reverses = goes_on._replace(truth=-goes_on.truth)
    np.testing.assert_allclose(momentum([reverses]), [-0.6, -1.0, -1.2], atol=0.05)
    validation = NaiveTerms(*(t[:60] for t in reverses))
    assert momentum([goes_on, validation]).min() > 0.3               # pooled: mostly goes on
    assert not momentum([validation, goes_on]).any()   # validation says the opposite: none


def employment() -> pd.DataFrame:
    return us_employment()[["month", "nonfarm", "leisure_and_hospitality"]]


EMPLOYMENT = Spec(time="month", inputs=["nonfarm", "leisure_and_hospitality"],
                  targets=["nonfarm", "leisure_and_hospitality"], lookback=8, horizon=4)


def test_a_trending_series_falls_back_on_the_naive_forecast_with_drift(tmp_path):
    """US nonfarm employment grows most months: where the network loses to the last value
    on validation, the naive forecast it falls back on carries drift, chosen on the
    training and validation windows, and beats the last value by far there."""
    table = employment()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LSTMModel(EMPLOYMENT, hidden=8, max_epochs=1, progress=False,
                          instance_norm=True).fit(table)
    entry = model.validation_["targets"]["nonfarm"]
    assert entry["kept"] < 0.5 and entry["drift"] > 0.5               # fell back, with drift
    assert entry["model"] < 0.8 * entry["naive"]        # the last value alone would be ~1.0x
    assert model.network_.norm.drift[0] == pytest.approx(entry["drift"], abs=1e-4)
    message = next(str(w.message) for w in caught if issubclass(w.category, BaselineWarning)
                   and str(w.message).startswith("target 'nonfarm'"))
    assert f"plus {entry['drift']:.0%} of the window's mean step change" in message
    # and momentum: employment that grew last month grows on
    assert min(entry["momentum"]) > 0
    assert model.network_.norm.momentum[:, 0].tolist() == pytest.approx(entry["momentum"],
                                                                         abs=1e-4)
    assert "plus a share of its last change over the lag (" in message
    path = model.save(tmp_path / "model")
    assert (f"nonfarm ({entry['kept']:.0%} kept, with {entry['drift']:.0%} of its drift, "
            "with momentum)") in (path / "README.md").read_text()
    # it saves, loads and exports what it predicts
    expected = model.predict(table.tail(8))
    loaded = LSTMModel.load(path)
    assert loaded.validation_ == model.validation_
    pd.testing.assert_frame_equal(loaded.predict(table.tail(8)), expected)
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx")).predict(table.tail(8))
    np.testing.assert_allclose(onnx.nonfarm, expected.nonfarm, rtol=1e-5)


@pytest.mark.parametrize("share", ["drift", "momentum"])
def test_a_model_saved_before_the_drift_or_momentum_loads_without_it(tmp_path, share):
    """Weights without ``norm.drift`` or ``norm.momentum`` (saved before it existed) load
    with none: the forecasts of the naive fallback as it was."""
    table = employment()
    model = LSTMModel(EMPLOYMENT, hidden=8, max_epochs=1, progress=False,
                      instance_norm=True).fit(table)
    assert getattr(model.network_.norm, share).any()
    path = model.save(tmp_path / "model")
    weights = load_file(path / "weights.safetensors")
    del weights[f"norm.{share}"]
    save_file(weights, path / "weights.safetensors")
    config = json.loads((path / "config.json").read_text())
    config["weights_sha256"] = hashlib.sha256(
        (path / "weights.safetensors").read_bytes()).hexdigest()
    (path / "config.json").write_text(json.dumps(config))
    loaded = LSTMModel.load(path)
    assert not getattr(loaded.network_.norm, share).any()
    getattr(model.network_.norm, share).zero_()       # what the fallback was before it
    pd.testing.assert_frame_equal(loaded.predict(table.tail(8)), model.predict(table.tail(8)))


def test_random_walks_without_drift_keep_the_plain_naive_forecast():
    """Exchange rates have no drift to speak of: the fallback keeps (almost) none of it,
    and the validation error stays at the last value's."""
    table = exchange().iloc[:2500]
    spec = Spec(time="date", inputs=["0", "3", "OT"], targets=["0", "3", "OT"], lookback=14,
                horizon=7)
    model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(table)
    norm = model.network_.norm
    assert (norm.trust < 1).any() and (norm.drift <= 0.25).all()
    for target, entry in model.validation_["targets"].items():
        assert entry["model"] <= 1.01 * entry["naive"], target


def test_validation_vetoes_a_drift_that_the_training_part_favours():
    """The share of drift is the least-squares one over the training and validation
    windows, but never one that makes the naive forecast worse on the validation windows."""
    rng = np.random.default_rng(0)
    steps = np.arange(1, 5, dtype=float)
    drift = np.tile(steps, (200, 1))                                # one unit per step
    trending = NaiveTerms(np.zeros_like(drift), drift, np.zeros_like(drift),
                          drift + rng.normal(0, 0.5, drift.shape))
    flat = NaiveTerms(np.zeros((50, 4)), drift[:50], np.zeros((50, 4)),
                      rng.normal(0, 0.5, (50, 4)))
    assert naive_drift([trending]) == pytest.approx(1.0, abs=0.05)
    assert naive_drift([flat, trending]) == 0.0           # validation (first) says it is worse
    assert naive_drift([trending, flat]) == pytest.approx(0.8, abs=0.05)   # pooled: 200 of 250
