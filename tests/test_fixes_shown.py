"""Every fix an error message shows works as written.

Each test makes the mistake a first user makes, takes the call, key or spec the message
shows (the code cut out of the message itself, so a message that changes is checked as it
reads), applies it to the same data and asserts that the fit or prediction then works.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import (
    ConfigError,
    DataError,
    Feature,
    LSTMModel,
    SchemaError,
    Spec,
    Split,
    Target,
    TrainingError,
)
from lstmkit.cli.command import main
from lstmkit.data.ts_format import read_ts_arrays
from tests.conftest import SHARED_DATA
from tests.test_first_tables import cli_fit

TINY = {"hidden": 4, "max_epochs": 1, "progress": False}
NAMES = {"LSTMModel": LSTMModel, "Spec": Spec, "Split": Split, "Target": Target,
         "Feature": Feature}


def shown(message: str, pattern: str) -> str:
    """The code in ``message`` that ``pattern`` matches (it must be there)."""
    found = re.search(pattern, message)
    assert found, f"no {pattern!r} in: {message}"
    return found.group(0)


def weather_spec(**changes) -> Spec:
    """The quickstart's task, small: a categorical input and a classification target."""
    spec = Spec(time="date", inputs=["temp_max", "wind", Feature("weather", kind="categorical")],
                targets=["temp_max", Target("weather", kind="classification")], lookback=7)
    return dataclasses.replace(spec, **changes)


@pytest.fixture(scope="module")
def motions() -> tuple[np.ndarray, np.ndarray]:
    """UEA BasicMotions' training file: 40 sequences of 100 steps x 6 channels, shuffled
    (the file lists them class by class)."""
    X, y = read_ts_arrays(SHARED_DATA / "classification" / "UEA" / "BasicMotions" /
                          "BasicMotions_TRAIN.ts")
    order = np.random.default_rng(0).permutation(len(y))
    return X[order], y[order]


def test_a_label_the_model_never_saw_is_given_a_known_one_as_the_message_writes(seattle):
    model = LSTMModel(weather_spec(), **TINY).fit(seattle)
    df = seattle.tail(20).copy()
    df["weather"] = df["weather"].replace("sun", "sunny")      # new data, a new spelling
    with pytest.raises(DataError, match="label 'sunny' at row") as caught:
        model.predict(df)
    fix = shown(str(caught.value), r"df\['weather'\]\.replace\(\{[^}]*\}\)")
    assert fix == "df['weather'].replace({'sunny': 'sun'})"
    df["weather"] = eval(fix, {"df": df})
    assert model.predict(df).weather.isin(["drizzle", "fog", "rain", "snow", "sun"]).all()


def test_a_label_read_as_missing_as_the_message_writes_fits_with_the_mask_it_names(seattle):
    df = seattle.copy()
    df.loc[df.index[-300:], "weather"] = df.loc[df.index[-300:], "weather"].replace("fog", "haze")
    spec = weather_spec(targets=["temp_max"])
    with pytest.raises(DataError, match="label 'haze' at row") as caught:
        LSTMModel(spec, **TINY).fit(df)
    message = str(caught.value)
    exec(shown(message, r"df\['weather'\] = df\['weather'\]\.where\(df\['weather'\]\.isin\("
                        r"\[[^\]]*\]\)\)"), {"df": df})
    assert df.weather.isna().sum() == (seattle.weather.tail(300) == "fog").sum()
    masked = Feature("weather", kind="categorical",
                     **eval(f"dict({shown(message, r'missing=.mask.(?= for an input)')})"))
    spec = weather_spec(targets=["temp_max"], inputs=["temp_max", "wind", masked])
    assert len(LSTMModel(spec, **TINY).fit(df).predict(df)) == 1


def test_a_target_declared_categorical_gets_the_kind_that_fits(seattle):
    with pytest.raises(ConfigError, match="'categorical', an input's kind") as caught:
        Target("weather", kind="categorical")
    target = eval(shown(str(caught.value), r"Target\('weather', kind='classification'\)"), NAMES)
    with pytest.raises(ConfigError, match="a target's kind") as caught:
        Feature("weather", kind="classification")
    feature = eval(shown(str(caught.value), r"Feature\('weather', kind='categorical'\)"), NAMES)
    spec = weather_spec(inputs=["temp_max", feature], targets=[target])
    assert set(LSTMModel(spec, **TINY).fit(seattle).predict(seattle).weather) <= set(
        seattle.weather)


def test_config_keys_in_the_wrong_section_or_with_keras_names_move_as_the_message_says(
        tmp_path, capsys, seattle):
    seattle.to_csv(tmp_path / "weather.csv", index=False)
    spec = {"time": "date", "inputs": ["temp_max", "wind"], "targets": ["temp_max"],
            "lookback": 7}
    config = {"data": {"path": str(tmp_path / "weather.csv")}, "spec": spec,
              "model": {"hidden": 4, "lr": 0.01},
              "training": {"max_epochs": 1, "learning_rate": 0.01}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 2 and "key 'lr' in section 'model': it belongs in section 'training'" in err
    assert "(training: {..., lr: 0.01})" in err
    config["training"]["lr"] = config["model"].pop("lr")                 # moved there
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 2 and "'learning_rate' in section 'training': it is called 'lr'" in err
    del config["training"]["lr"]
    config["training"]["lr"] = config["training"].pop("learning_rate")   # renamed
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 0, err
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["training"]["lr"] \
        == 0.01


def test_class_weight_given_to_fit_goes_where_the_message_writes(motions, seattle):
    X, y = motions
    with pytest.raises(ConfigError, match="fit\\(\\) takes no 'class_weight'") as caught:
        LSTMModel(**TINY).fit(X, y, class_weight="balanced")
    model = eval(shown(str(caught.value), r"LSTMModel\(Spec\(.*task='sequence'\)\)"), NAMES)
    model.set_params(**TINY).fit(X, y)
    assert len(model.pipeline_.class_weights["y"]) == len(set(y))     # a weight per label
    with pytest.raises(ConfigError, match="takes no 'class_weight'") as caught:
        LSTMModel(weather_spec(), **TINY).fit(seattle, class_weight="balanced")
    target = eval(shown(str(caught.value), r"Target\('weather'.*'balanced'\)"), NAMES)
    model = LSTMModel(weather_spec(targets=["temp_max", target]), **TINY).fit(seattle)
    assert len(model.pipeline_.class_weights["weather"]) == seattle.weather.nunique()


def test_keras_fit_arguments_name_a_model_that_fits(motions):
    X, y = motions
    with pytest.raises(ConfigError, match="takes no 'validation_split'") as caught:
        LSTMModel(**TINY).fit(X, y, validation_split=0.2)
    model = eval(shown(str(caught.value), r"LSTMModel\(split=Split\([^)]*\)\)"), NAMES)
    model.set_params(**TINY).fit(X, y)
    assert model.split_ == Split(val_start=0.8, test_start=None, shuffle=False)
    with pytest.raises(ConfigError, match="did you mean 'max_epochs'"):
        LSTMModel(**TINY).fit(X, y, epochs=1)
    flat = X[:, :, 0]                                # one channel, as a 2-D array
    with pytest.raises(ConfigError, match="2 dimensions") as caught:
        LSTMModel(**TINY).fit(flat, y)
    fix = shown(str(caught.value), r"np\.asarray\(X\)\[\.\.\., None\]")
    model = LSTMModel(**TINY).fit(eval(fix, {"np": np, "X": flat}), y)
    assert model.predict(flat[..., None], output="array").shape == (len(y),)


def test_validation_data_beside_a_validation_part_names_the_split_without_one(motions):
    X, y = motions
    split = Split(val_start=0.8, test_start=0.9)
    with pytest.raises(ConfigError, match="validation_data replaces") as caught:
        LSTMModel(split=split, **TINY).fit(X[:30], y[:30], validation_data=(X[30:], y[30:]))
    fixed = eval(shown(str(caught.value), r"Split\(val_start=None[^)]*\)"), NAMES)
    assert fixed.test_start == 0.9
    model = LSTMModel(split=fixed, **TINY).fit(X[:30], y[:30], validation_data=(X[30:], y[30:]))
    assert model.history_["epochs"][0]["val_loss"] > 0


def test_float_labels_of_zeros_and_ones_warn_with_two_fixes_that_classify(motions):
    X, y = motions
    labels = (y == "Standing").astype(float)           # Keras' binary labels
    with pytest.warns(UserWarning, match="holds only 0.0 and 1.0") as caught:
        LSTMModel(**TINY).fit(X, labels)
    message = str(caught[0].message)
    assert "y.astype(int)" in message
    as_int = LSTMModel(**TINY).fit(X, eval("y.astype(int)", {"y": labels}))
    assert as_int.predict_proba(X).shape == (len(y), 2)
    target = eval(shown(message, r"Target\('y', kind='binary'\)"), NAMES)
    spec = Spec([f"x{i}" for i in range(X.shape[2])], [target], task="sequence")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        binary = LSTMModel(spec, **TINY).fit(X, labels)
    assert not [w for w in seen if "0.0 and 1.0" in str(w.message)]     # declared: no warning
    assert set(binary.predict(X, output="array")) <= {0.0, 1.0}


def test_a_gap_in_the_days_fits_with_regular_false_as_the_message_offers(seattle):
    gappy = seattle.drop(index=range(100, 103)).reset_index(drop=True)
    spec = Spec(time="date", inputs=["temp_max", "wind"], targets=["temp_max"], lookback=7)
    with pytest.raises(DataError, match="jumps from 2012-04-09") as caught:
        LSTMModel(spec, **TINY).fit(gappy)
    assert "or set spec regular=False" in str(caught.value)
    model = LSTMModel(dataclasses.replace(spec, regular=False), **TINY).fit(gappy)
    assert model.predict(gappy).time.tolist() == [pd.Timestamp("2016-01-01")]


def test_a_coverage_the_model_lacks_names_the_calibrate_command_that_adds_it(tmp_path, capsys,
                                                                             seattle):
    seattle.to_csv(tmp_path / "weather.csv", index=False)
    config = {"data": {"path": str(tmp_path / "weather.csv")}, "model": {"hidden": 4},
              "spec": {"time": "date", "inputs": ["temp_max", "wind"], "targets": ["temp_max"],
                       "lookback": 7}, "training": {"max_epochs": 1, "coverage": [0.8]}}
    assert cli_fit(tmp_path, config, capsys)[0] == 0
    model, data, out = str(tmp_path / "run"), str(tmp_path / "weather.csv"), tmp_path / "f.csv"
    assert main(["predict", model, data, "-o", str(out), "--coverage", "0.9",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    command = shown(err, r"lstmkit calibrate MODEL DATA --coverage [0-9. ]+ --out DIR").split()
    assert command[4:6] == ["--coverage", "0.9"]
    command = [{"MODEL": model, "DATA": data, "DIR": str(tmp_path / "cal")}.get(w, w)
               for w in command[1:]]
    assert main(command) == 0, capsys.readouterr().err
    assert main(["predict", str(tmp_path / "cal"), data, "-o", str(out), "--coverage", "0.9",
                 "--no-progress"]) == 0
    assert {"temp_max_lo_90", "temp_max_hi_90"} <= set(pd.read_csv(out).columns)


def test_rows_finer_than_the_models_step_are_resampled_by_the_call_shown(etth1):
    hourly = etth1.iloc[:2400].assign(date=lambda t: pd.to_datetime(t.date))
    daily = hourly.set_index("date").resample("D").mean().reset_index()
    spec = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=7)
    model = LSTMModel(spec, **TINY).fit(daily)
    df = hourly.tail(24 * 10)
    with pytest.raises(SchemaError, match=r"trained on rows 'D' apart.*'h' apart") as caught:
        model.predict(df)
    fix = shown(str(caught.value), r"df\.set_index\('date'\)\.resample\('D'\)\.last\(\)"
                                   r"\.reset_index\(\)")
    assert model.predict(eval(fix, {"df": df})).time.tolist() == [pd.Timestamp("2016-10-09")]


def test_a_table_fitted_without_a_spec_is_shown_a_spec_of_its_own_columns(seattle):
    with pytest.raises(ConfigError, match="needs a Spec to read a table") as caught:
        LSTMModel(**TINY).fit(seattle)
    model = eval(shown(str(caught.value), r"LSTMModel\(Spec\(.*lookback=24\)\)"), NAMES)
    assert model.spec.time == "date" and "weather" not in model.spec.input_names
    forecast = model.set_params(**TINY).fit(seattle).predict(seattle)
    assert forecast.time.tolist() == [pd.Timestamp("2016-01-01")]


def test_a_missing_value_marker_in_a_csv_file_is_read_as_missing_as_the_message_writes(
        tmp_path, capsys, seattle):
    path = tmp_path / "weather.csv"
    seattle.astype({"wind": object}).assign(wind=lambda t: t.wind.mask(t.index == 50, "?")
                                            ).to_csv(path, index=False)
    config = {"data": {"path": str(path)}, "model": {"hidden": 4}, "training": {"max_epochs": 1},
              "spec": {"time": "date", "inputs": ["temp_max", "wind"], "targets": ["temp_max"],
                       "lookback": 7}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3 and "holds '?' at row 50" in err
    exec(shown(err, r"df = pd\.read_csv\(path, na_values=\['\?'\]\)") + "; "
         + shown(err, r"df\.to_csv\(path, index=False\)"), {"pd": pd, "path": path})
    config["spec"]["inputs"][1] = yaml.safe_load(shown(err, r"\{name: wind, missing: ffill\}"))
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 0, err


@pytest.mark.parametrize("fix", ["feature", "spec"])
def test_a_gap_in_an_input_fits_with_either_missing_policy_the_message_writes(tmp_path, capsys,
                                                                              seattle, fix):
    path = tmp_path / "weather.csv"
    seattle.assign(wind=seattle.wind.mask(seattle.index == 50)).to_csv(path, index=False)
    config = {"data": {"path": str(path)}, "model": {"hidden": 4}, "training": {"max_epochs": 1},
              "spec": {"time": "date", "inputs": ["temp_max", "wind"], "targets": ["temp_max"],
                       "lookback": 7}}
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 3 and "'wind' has a missing value (NaN) at row 50" in err
    if fix == "feature":
        config["spec"]["inputs"][1] = yaml.safe_load(shown(err, r"\{name: wind, missing: ffill\}"))
    else:
        config["spec"].update(yaml.safe_load(shown(err, r"missing: ffill(?= for every input)")))
    code, err = cli_fit(tmp_path, config, capsys)
    assert code == 0, err


def test_lightnings_old_precision_names_are_given_the_names_they_stood_for(seattle):
    spec = Spec(time="date", inputs=["temp_max", "wind"], targets=["temp_max"], lookback=7)
    with pytest.raises(ConfigError, match="old name of 'bf16-mixed'") as caught:
        LSTMModel(spec, precision="bf16", **TINY).fit(seattle)
    fixed = eval(f"dict({shown(str(caught.value), r'precision=.bf16-mixed.')})")
    assert len(LSTMModel(spec, **fixed, **TINY).fit(seattle).predict(seattle)) == 1


def test_a_diverging_loss_names_the_scaler_that_trains(etth1):
    data = etth1.iloc[:2000].assign(OT=lambda f: f.OT * 1e20)       # unscaled, huge
    spec = Spec(inputs=["HUFL", "OT"], targets=[Target("OT", scaler="none")], lookback=24)
    with pytest.raises(TrainingError, match="loss became") as caught:
        LSTMModel(spec, **TINY).fit(data)
    message = str(caught.value)
    assert "keep gradient clipping on" in message and "now lr=0.0003; try lr=3e-05" in message
    scaler = shown(message, r"(?<=scaler ')\w+(?=')")
    fixed = dataclasses.replace(spec, targets=[Target("OT", scaler=scaler)])
    assert np.isfinite(LSTMModel(fixed, **TINY).fit(data).history_["epochs"][0]["train_loss"])


def test_search_keys_in_the_wrong_section_or_as_a_bare_list_are_named_as_they_are_written(
        tmp_path, capsys, seattle):
    seattle.to_csv(tmp_path / "weather.csv", index=False)
    config = {"data": {"path": str(tmp_path / "weather.csv")}, "model": {"hidden": 4},
              "spec": {"time": "date", "inputs": ["temp_max", "wind"], "targets": ["temp_max"],
                       "lookback": 7}, "training": {"max_epochs": 1},
              "run_dir": str(tmp_path / "run"),
              "search": {"model.lr": {"float": [1e-3, 1e-2]}, "spec.lookback": [7, 14]}}
    tune = ["tune", str(tmp_path / "tune.yaml"), "--trials", "1"]

    def attempt() -> tuple[int, str]:
        (tmp_path / "tune.yaml").write_text(yaml.safe_dump(config))
        return main(tune), capsys.readouterr().err

    code, err = attempt()
    assert code == 2 and "'model.lr' (did you mean 'training.lr'?)" in err
    config["search"]["training.lr"] = config["search"].pop("model.lr")
    code, err = attempt()
    assert code == 2 and "got [7, 14]" in err
    config["search"]["spec.lookback"] = yaml.safe_load(shown(err, r"\{choice: \[7, 14\]\}"))
    code, err = attempt()
    assert code == 0, err
    assert yaml.safe_load((tmp_path / "run-tune" / "best.yaml").read_text())["spec"][
        "lookback"] in (7, 14)


def test_a_data_file_given_as_the_config_is_named_with_the_data_section_that_reads_it(
        tmp_path, capsys, seattle):
    seattle.to_csv(tmp_path / "weather.csv", index=False)
    assert main(["fit", str(tmp_path / "weather.csv")]) == 2
    err = capsys.readouterr().err
    config = {**yaml.safe_load(shown(err, r"data: \{path: weather\.csv\}")),
              "spec": {"time": "date", "inputs": ["temp_max", "wind"], "targets": ["temp_max"],
                       "lookback": 7}, "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    (tmp_path / "weather.yaml").write_text(yaml.safe_dump(config))     # beside the data
    assert main(["fit", str(tmp_path / "weather.yaml"), "--run-dir", str(tmp_path / "runs" / "w"),
                 "--no-progress"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    out = str(tmp_path / "forecast.csv")
    assert main(["predict", str(tmp_path / "runs"), str(tmp_path / "weather.csv"), "-o", out]) == 4
    named = shown(capsys.readouterr().err, r"(?<=the model directories in it: ')[^']+")
    assert main(["predict", named, str(tmp_path / "weather.csv"), "-o", out]) == 0
    assert pd.read_csv(out).time.tolist() == ["2016-01-01"]
