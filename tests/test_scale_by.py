"""Per-series scaling (``Spec(scale_by="series")``, a panel's default) on a real panel.

The panel is the exchange-rate table in long format: eight currencies over their last 300
days, levels from 0.009 to 1.4 (over 100x apart), each series split 70 / 15 / 15 %.
"""

from __future__ import annotations

import copy
import json
import shutil

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import LSTMModel, Spec, Target
from lstmkit.analysis.importance import importance
from lstmkit.cli.command import main
from lstmkit.data import prepare
from lstmkit.data.groups import arrange
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.errors import ConfigError, DataError, LSTMKitError, LSTMKitWarning
from lstmkit.storage.card import model_card
from tests.test_serve import running_server

LOOKBACK, HORIZON = 14, 3
SMALLEST = "5"                       # the currency at about 0.009, over 100x below the largest


@pytest.fixture(scope="module")
def rates(shared_data) -> pd.DataFrame:
    wide = pd.read_csv(shared_data / "forecasting" / "exchange_rate" / "exchange_rate.csv")
    wide = wide.iloc[-300:].assign(date=lambda t: pd.to_datetime(t.date))
    return wide.melt(id_vars="date", var_name="currency", value_name="rate")


def spec(scale_by: str | None = "series", target: str | Target = "rate") -> Spec:
    return Spec(time="date", series="currency", inputs=["rate"], targets=[target],
                lookback=LOOKBACK, horizon=HORIZON, scale_by=scale_by)


@pytest.fixture(scope="module")
def model(rates) -> LSTMModel:
    return LSTMModel(spec(), hidden=8, max_epochs=2, progress=False).fit(rates)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return model.save(tmp_path_factory.mktemp("scale_by") / "model")


def training_part(rates: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each currency's training rows (the first 70 %), by hand."""
    return {key: g.rate.to_numpy()[: int(0.7 * len(g))] for key, g in rates.groupby("currency")}


def test_each_series_is_scaled_by_its_own_training_mean_and_std(model, rates):
    series = model.pipeline_.encoding.series
    for key, y in training_part(rates).items():
        g = series.keys.index(key)
        for stats in (series.targets["rate"], series.inputs["rate"]):
            assert stats[0][g] == pytest.approx(y.mean(), rel=1e-12)
            assert stats[1][g] == pytest.approx(y.std(), rel=1e-12)


def test_per_series_scaling_gives_the_small_series_the_spread_global_squashes(model, rates):
    """Scaled by one scaler for all, the smallest currency is near-constant; per series, every
    currency's training rows have std 1 in the network's units."""
    def scaled_std(fitted: LSTMModel) -> dict[str, float]:
        pipeline = fitted.pipeline_
        groups = arrange(rates, pipeline.spec)
        targets = prepare.encode(groups, pipeline.spec, pipeline.encoding, True).targets
        return {key: float(targets[lo : lo + int(0.7 * (hi - lo)), 0].std(unbiased=False))
                for key, lo, hi in zip(groups.keys, groups.offsets[:-1], groups.offsets[1:],
                                       strict=True)}
    glob = LSTMModel(spec("global"), hidden=4, max_epochs=1, progress=False).fit(rates)
    assert scaled_std(glob)[SMALLEST] < 0.01
    assert scaled_std(model) == pytest.approx(dict.fromkeys(scaled_std(model), 1.0), rel=1e-5)


def test_predictions_are_the_network_outputs_inverted_by_hand_with_each_series_statistics(
        model, rates):
    pipeline = model.pipeline_
    groups = arrange(rates, pipeline.spec)
    windows = prepare.predict_windows(prepare.encode(groups, pipeline.spec, pipeline.encoding,
                                                     False), pipeline.spec, "last")
    outputs, _ = pipeline.outputs(windows, network_units=True)              # (8, H, 1)
    center, scale = pipeline.encoding.series.targets["rate"]
    codes = [pipeline.encoding.series.keys.index(str(k)) for k in groups.keys]
    by_hand = outputs[..., 0] * scale[codes, None] + center[codes, None]
    predicted = model.predict(rates).rate.to_numpy().reshape(len(groups), HORIZON)
    np.testing.assert_allclose(predicted, by_hand, rtol=1e-12)


def test_evaluate_and_the_baselines_are_in_original_units(model, rates):
    """Persistence's test MAE per currency is the hand-computed one, so the baselines (read
    from targets scaled per series) come back in the user's units."""
    per_series = model.evaluate(rates, part="test").per_series
    mae = per_series[per_series.metric == "MAE"].set_index("series")
    for key, g in rates.groupby("currency"):
        y = g.rate.to_numpy()
        origins = np.arange(int(0.85 * len(y)) - 1, len(y) - HORIZON)
        naive = np.mean([abs(y[o + k] - y[o]) for o in origins for k in range(1, HORIZON + 1)])
        assert mae.loc[key, "naive"] == pytest.approx(naive, rel=1e-6)


def test_a_series_the_model_was_not_fitted_on_is_scaled_by_its_own_rows_with_a_warning(
        model, rates):
    """(``tests/test_unseen_series.py`` has the rest.)"""
    unseen = rates.assign(currency=rates.currency.replace(SMALLEST, "JPY"))
    for call in (model.predict, lambda d: model.evaluate(d, part="test")):
        with pytest.warns(LSTMKitWarning, match=r"series \['JPY'\] was not among the 8 series"):
            call(unseen)


def test_a_series_constant_in_training_takes_the_global_statistics(rates):
    data = rates.copy()
    rows = data.index[data.currency == SMALLEST][: int(0.7 * 300)]
    data.loc[rows, "rate"] = 0.5
    fitted = LSTMModel(spec(), hidden=4, max_epochs=1, progress=False).fit(data)
    encoding = fitted.pipeline_.encoding
    g = encoding.series.keys.index(SMALLEST)
    assert encoding.series.targets["rate"][0][g] == encoding.target_scalers["rate"].center
    assert encoding.series.targets["rate"][1][g] == encoding.target_scalers["rate"].scale
    assert np.isfinite(fitted.predict(data).rate).all()


def test_the_card_says_the_model_is_scaled_per_series(model):
    assert "Scaled per series (scale_by 'series'): each of the 8 series" in model_card(model)


def test_saved_as_plain_numbers_loaded_and_checked(model, saved, rates, tmp_path):
    config = json.loads((saved / "config.json").read_text())
    stats = config["encoding"]["series_scalers"]
    assert stats["keys"] == list(model.pipeline_.encoding.series.keys)
    assert len(stats["targets"]["rate"]["scale"]) == 8
    assert config["spec"]["scale_by"] == "series"
    pd.testing.assert_frame_equal(LSTMModel.load(saved).predict(rates), model.predict(rates))
    broken = shutil.copytree(saved, tmp_path / "broken")
    stats["targets"]["rate"]["scale"][3] = 0.0
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(LSTMKitError, match=r"series_scalers\.targets\['rate'\]\.scale"):
        LSTMModel.load(broken)


def test_a_panel_fitted_with_the_default_is_scaled_per_series_as_an_explicit_one_is(
        model, rates):
    default = LSTMModel(spec(None), hidden=8, max_epochs=2, progress=False).fit(rates)
    assert default.spec.scale_by is None and default.spec_.scale_by == "series"
    assert default.pipeline_.encoding.to_dict() == model.pipeline_.encoding.to_dict()
    pd.testing.assert_frame_equal(default.predict(rates), model.predict(rates))


@pytest.mark.parametrize("data", ["one series", "no series column"])
def test_the_default_scales_a_forecast_of_one_series_globally(rates, data):
    one = rates[rates.currency == "0"]
    chosen = (spec(None) if data == "one series" else
              Spec(time="date", inputs=["rate"], targets=["rate"], lookback=LOOKBACK,
                   horizon=HORIZON))
    fitted = LSTMModel(chosen, hidden=4, max_epochs=1, progress=False).fit(
        one if data == "one series" else one.drop(columns="currency"))
    assert fitted.spec_.scale_by == "global" and fitted.pipeline_.encoding.series is None


def test_an_explicit_global_scaling_of_a_panel_stays_global(rates):
    fitted = LSTMModel(spec("global"), hidden=4, max_epochs=1, progress=False).fit(rates)
    assert fitted.spec_.scale_by == "global" and fitted.pipeline_.encoding.series is None
    assert fitted.predict(rates.assign(currency=rates.currency.replace(SMALLEST, "JPY"))
                          ).currency.isin(["JPY"]).any()       # an unseen series: no statistics
    assert Spec.from_dict(spec("global").to_dict()).scale_by == "global"


def test_only_an_unset_scale_by_is_left_out_of_the_dict_and_each_reads_back_as_it_was():
    assert "scale_by" not in spec(None).to_dict()
    for choice in (None, "global", "series"):
        assert Spec.from_dict(spec(choice).to_dict()) == spec(choice)


def test_a_saved_spec_without_scale_by_is_global_as_earlier_versions_wrote_it():
    written = {k: v for k, v in spec("global").to_dict().items() if k != "scale_by"}
    assert Spec.saved(written).scale_by == "global"
    assert Spec.saved({**written, "scale_by": "series"}).scale_by == "series"
    with pytest.raises(ConfigError, match="scale_by is null"):
        Spec.saved({**written, "scale_by": None})


def test_a_global_model_saved_without_scale_by_loads_and_predicts_as_global(rates, tmp_path):
    """The config.json of a model saved before the default changed names no scale_by: it
    loads scaled globally and predicts what it predicted."""
    fitted = LSTMModel(spec("global"), hidden=4, max_epochs=1, progress=False).fit(rates)
    saved = fitted.save(tmp_path / "global")
    config = json.loads((saved / "config.json").read_text())
    assert config["spec"].pop("scale_by") == "global"
    (saved / "config.json").write_text(json.dumps(config))
    loaded = LSTMModel.load(saved)
    assert loaded.spec_.scale_by == "global" and loaded.pipeline_.encoding.series is None
    pd.testing.assert_frame_equal(loaded.predict(rates), fitted.predict(rates))


def test_the_0_2_0_panel_fixture_loads_scaled_globally():
    from tests.test_saved_models import FIXTURES
    config = json.loads((FIXTURES / "models" / "forecast_panel" / "config.json").read_text())
    assert "scale_by" not in config["spec"] and config["spec"]["series"] == "series"
    loaded = LSTMModel.load(FIXTURES / "models" / "forecast_panel")
    assert loaded.spec_.scale_by == "global" and loaded.pipeline_.encoding.series is None


def test_the_onnx_graph_selects_each_windows_series_statistics(model, rates, tmp_path):
    path = model.export_onnx(tmp_path / "rates.onnx")
    onnx = OnnxModel(path)
    assert onnx.metadata["inputs"]["series"]["keys"] == list(model.pipeline_.encoding.series.keys)
    expected = model.predict(rates, origins="all")
    got = onnx.predict(rates, origins="all")
    np.testing.assert_allclose(got.rate, expected.rate, rtol=1e-5)
    with pytest.raises(DataError, match="series 'JPY' was not among the 8 series the model "
                                        "was exported with"):
        onnx.predict(rates.assign(currency=rates.currency.replace(SMALLEST, "JPY")))


@pytest.mark.parametrize("target", [Target("rate", distribution="normal"),
                                    Target("rate", kind="quantile", quantiles=[0.1, 0.5, 0.9])])
def test_distribution_and_quantile_targets_map_back_per_series(rates, target, tmp_path):
    fitted = LSTMModel(spec(target=target), hidden=4, max_epochs=1, progress=False).fit(rates)
    predicted = fitted.predict(rates, origins="all")
    smallest = predicted[predicted.currency == SMALLEST]
    assert smallest.rate.between(0.005, 0.015).all()          # its own level, not the panel's
    columns = [c for c in predicted.columns if c.startswith("rate")]
    exported = OnnxModel(fitted.export_onnx(tmp_path / "m.onnx")).predict(rates, origins="all")
    np.testing.assert_allclose(exported[columns], predicted[columns], rtol=1e-5)


def test_channel_independence_and_no_instance_norm_train_per_series(rates):
    for options in ({"channel_independent": True}, {"instance_norm": False}):
        fitted = LSTMModel(spec(), hidden=4, max_epochs=1, progress=False, **options).fit(rates)
        predicted = fitted.predict(rates)
        assert predicted[predicted.currency == SMALLEST].rate.between(0.005, 0.015).all()


def test_the_server_predicts_per_series_and_an_unseen_series_by_its_own_rows(saved, model, rates):
    recent = rates.groupby("currency").tail(LOOKBACK).reset_index(drop=True)
    recent = recent.assign(date=recent.date.astype(str))
    with running_server(saved) as url:
        answer = httpx.post(f"{url}/predict", json={"rows": recent.to_dict("records")},
                            timeout=30)
        unseen = httpx.post(f"{url}/predict", timeout=30, json={"rows": recent.assign(
            currency=recent.currency.replace(SMALLEST, "JPY")).to_dict("records")})
    assert answer.status_code == 200
    served = pd.DataFrame(answer.json()["predictions"])
    np.testing.assert_allclose(served.rate, model.predict(rates).rate, rtol=1e-6)
    assert unseen.status_code == 200
    with pytest.warns(LSTMKitWarning):
        expected = model.predict(recent.assign(currency=recent.currency.replace(SMALLEST,
                                                                                "JPY")))
    np.testing.assert_allclose(pd.DataFrame(unseen.json()["predictions"]).rate,
                               expected.rate, rtol=1e-6)


@pytest.mark.parametrize("scale_by", [None, "global"])
def test_yaml_sets_scale_by_and_a_bad_value_or_task_is_refused(rates, tmp_path, scale_by):
    """A YAML panel without scale_by is scaled per series; ``scale_by: global`` keeps one
    scaler per column."""
    rates.to_csv(tmp_path / "rates.csv", index=False)
    config = {"data": {"path": str(tmp_path / "rates.csv")},
              "spec": {"time": "date", "series": "currency", "inputs": ["rate"],
                       "targets": ["rate"], "lookback": LOOKBACK, "horizon": HORIZON,
                       **({"scale_by": scale_by} if scale_by else {})},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "rates.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["fit", str(tmp_path / "rates.yaml"), "--run-dir", str(run),
                 "--no-progress"]) == 0
    assert (LSTMModel.load(run).pipeline_.encoding.series is None) == (scale_by == "global")
    with pytest.raises(ConfigError, match="scale_by"):
        Spec.from_dict({**config["spec"], "scale_by": "seris"})
    with pytest.raises(ConfigError, match="scale_by 'series' fits scalers per series"):
        Spec(inputs=["rate"], targets=["rate"], lookback=LOOKBACK, scale_by="series")


@pytest.fixture(scope="module")
def warmed(rates) -> tuple[LSTMModel, LSTMModel]:
    """A model fitted on seven currencies' first 200 days (the default scale_by: per series
    for this panel), and a copy fine-tuned on all eight over 300 days: the eighth (the
    smallest) is new to it."""
    seven = rates[(rates.currency != SMALLEST) & (rates.date < rates.date.unique()[200])]
    first = LSTMModel(spec(None), hidden=8, max_epochs=2, progress=False).fit(seven)
    return first, copy.deepcopy(first).set_params(max_epochs=1).fit(rates, warm_start=True)


def test_a_warm_start_scales_a_new_series_by_its_own_training_part_and_keeps_the_rest(
        warmed, rates):
    first, warm = warmed
    assert first.spec.scale_by is None and warm.spec_.scale_by == "series"
    before, after = first.pipeline_.encoding, warm.pipeline_.encoding
    assert SMALLEST not in before.series.keys
    assert after.series.keys == (*before.series.keys, SMALLEST)
    y = training_part(rates)[SMALLEST]
    for stats in (after.series.targets["rate"], after.series.inputs["rate"]):
        assert stats[0][-1] == pytest.approx(y.mean(), rel=1e-12)
        assert stats[1][-1] == pytest.approx(y.std(), rel=1e-12)
    for role in ("inputs", "targets"):            # the seven as fitted on 200 days, not 300
        for (center, scale), (was_center, was_scale) in zip(
                getattr(after.series, role).values(), getattr(before.series, role).values(),
                strict=True):
            np.testing.assert_array_equal(center[:7], was_center)
            np.testing.assert_array_equal(scale[:7], was_scale)
    g = before.series.keys.index("0")
    assert before.series.targets["rate"][0][g] != pytest.approx(training_part(rates)["0"].mean())
    assert after.to_dict()["target_scalers"] == before.to_dict()["target_scalers"]
    assert after.to_dict()["input_scalers"] == before.to_dict()["input_scalers"]


def test_a_warm_started_new_series_predicts_in_its_own_units_saved_and_exported(
        warmed, rates, tmp_path):
    _, warm = warmed
    predicted = warm.predict(rates, origins="all")
    assert predicted[predicted.currency == SMALLEST].rate.between(0.005, 0.015).all()
    mae = warm.evaluate(rates, part="test").per_series.query("metric == 'MAE'")
    assert mae.set_index("series").loc[SMALLEST, "model"] < 0.002     # original units
    loaded = LSTMModel.load(warm.save(tmp_path / "warm"))
    assert loaded.pipeline_.encoding.to_dict() == warm.pipeline_.encoding.to_dict()
    pd.testing.assert_frame_equal(loaded.predict(rates, origins="all"), predicted)
    onnx = OnnxModel(warm.export_onnx(tmp_path / "warm.onnx"))
    assert onnx.metadata["inputs"]["series"]["keys"][-1] == SMALLEST
    np.testing.assert_allclose(onnx.predict(rates, origins="all").rate, predicted.rate,
                               rtol=1e-5)


def test_a_warm_started_new_series_constant_in_training_takes_the_global_statistics(
        rates):
    seven = rates[rates.currency != SMALLEST]
    data = rates.copy()
    data.loc[data.index[data.currency == SMALLEST][: int(0.7 * 300)], "rate"] = 0.5
    first = LSTMModel(spec(), hidden=4, max_epochs=1, progress=False).fit(seven)
    encoding = first.fit(data, warm_start=True).pipeline_.encoding
    assert encoding.series.keys[-1] == SMALLEST
    assert encoding.series.targets["rate"][0][-1] == encoding.target_scalers["rate"].center
    assert encoding.series.targets["rate"][1][-1] == encoding.target_scalers["rate"].scale


def test_importance_reads_the_onnx_graph_of_a_panel_scaled_per_series(model, rates, tmp_path):
    """The graph takes each window's series code; unpermuted, it scores what the model
    scores."""
    graph = OnnxModel(model.export_onnx(tmp_path / "rates.onnx"))
    mine, exported = (importance(m, rates, part="all", repeats=2) for m in (model, graph))
    np.testing.assert_allclose(exported.error, mine.error, rtol=1e-4)
    assert (exported.increase > 0).all()
