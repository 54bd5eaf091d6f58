"""Spec, Target, Feature and Split: validation with clear errors, and dict round trips."""

from __future__ import annotations

import pytest

from lstmkit import ConfigError, Feature, Spec, Split, Target


def test_names_become_features_and_targets_with_defaults():
    spec = Spec(inputs=["a", "b"], targets=["a"], lookback=10)
    assert spec.inputs == (Feature("a", missing="error"), Feature("b", missing="error"))
    assert Spec(inputs=["a", Feature("b", missing="mask")], targets=["a"], lookback=3,
                missing="ffill").inputs == (Feature("a", missing="ffill"),
                                            Feature("b", missing="mask"))
    assert spec.targets[0].kind == "regression" and spec.targets[0].loss == "mse"
    assert spec.targets[0].scaler == "standard" and spec.horizon == 1


def test_default_loss_follows_the_kind():
    assert Target("k", kind="classification").loss == "cross_entropy"
    assert Target("k", kind="binary").loss == "bce"
    assert Target("v", loss="huber").loss == "huber"


def test_spec_round_trips_through_a_dict():
    spec = Spec(inputs=["x", Feature("w", kind="categorical")],
                targets=[Target("x", scaler="robust", loss="mae", weight=2),
                         Target("w", kind="classification")],
                lookback=7, horizon=3, time="t", series="id")
    assert Spec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("build", "fragment"), [
    (lambda: Target("y", kind="regresion"), "did you mean 'regression'"),
    (lambda: Target("y", scaler="min-max"), "did you mean 'minmax'"),
    (lambda: Target("y", kind="classification", loss="mse"), "loss of classification target"),
    (lambda: Target("y", weight=-1), "weight of target 'y'"),
    (lambda: Feature("x", kind="text"), "kind of feature 'x'"),
    (lambda: Feature("w", kind="categorical", scaler="minmax"),
     "scaler applies to numeric features, but 'w' is categorical"),
    (lambda: Target("k", kind="binary", scaler="none"),
     "scaler applies to regression targets, but 'k' is binary"),
    (lambda: Spec(inputs=[], targets=["y"], lookback=3, past_targets=False), "at least one input"),
    (lambda: Spec(inputs=["x"], targets=[], lookback=3), "at least one target"),
    (lambda: Spec(inputs=["x", "x"], targets=["y"], lookback=3), "listed twice"),
    (lambda: Spec(inputs=["x"], targets=["y"]), "lookback (forecast) must be a positive"),
    (lambda: Spec(inputs=["x"], targets=["y"], lookback=0), "got 0"),
    (lambda: Spec(inputs=["x"], targets=["y"], lookback=-5), "got -5"),
    (lambda: Spec(inputs=["x"], targets=["y"], lookback=5, horizon=0), "horizon (forecast)"),
    (lambda: Spec(inputs=["x"], targets=["y"], task="sequence", lookback=5), "leave lookback"),
    (lambda: Spec(inputs=["x"], targets=["y"], task="sequence", horizon=4), "remove horizon"),
    (lambda: Spec(inputs=["x"], targets=["y"], task="forcast", lookback=5),
     "did you mean 'forecast'"),
    (lambda: Spec(inputs=["x"], targets=["y"], lookback=5, time="x"), "id/time column"),
    (lambda: Spec.from_dict({"inputs": ["x"], "targets": ["y"], "lookbak": 3}),
     "did you mean 'lookback'"),
    (lambda: Split(val_start=1.5), "fraction must lie in (0, 1]"),
    (lambda: Split(val_start=-3), "row number must be >= 1"),
    (lambda: Split(val_start=[1]), "split val_start must be"),
])
def test_invalid_declarations_raise_config_errors_that_say_what_to_fix(build, fragment):
    with pytest.raises(ConfigError) as info:
        build()
    assert fragment in str(info.value)


def test_a_forecast_reads_its_targets_past_values_unless_told_not_to():
    spec = Spec(time="date", inputs=["wind"], lookback=7,
                targets=["wind", "temp_min", Target("weather", kind="classification")])
    assert spec.input_names == ["wind", "temp_min", "weather"]
    assert [(f.kind, f.missing) for f in spec.inputs[1:]] == [("numeric", "ffill"),
                                                              ("categorical", "ffill")]
    assert "past_targets" not in spec.to_dict() and Spec.from_dict(spec.to_dict()) == spec
    masked = Spec(time="date", inputs=["wind"], targets=["temp_min"], lookback=7, missing="mask")
    assert masked.inputs[1].missing == "mask"
    own = Spec(time="date", inputs=["wind"], targets=["temp_min"], lookback=7, past_targets=False)
    assert own.input_names == ["wind"] and own.to_dict()["past_targets"] is False
    assert Spec.from_dict(own.to_dict()).input_names == ["wind"]
    univariate = Spec(inputs=[], targets=["load"], lookback=24)       # the target's past only
    assert univariate.input_names == ["load"]
    sequence = Spec(inputs=["x"], targets=["y"], task="sequence")
    assert sequence.input_names == ["x"]


def test_a_spec_saved_before_targets_were_read_keeps_its_inputs():
    saved = Spec(time="date", inputs=["wind"], targets=["temp_min"], lookback=7,
                 past_targets=False).to_dict()
    del saved["past_targets"]                      # as lstmkit 0.2.0 wrote it
    assert Spec.saved(saved).input_names == ["wind"]
    assert Spec.from_dict(saved).input_names == ["wind", "temp_min"]   # a config: today's default
