"""Continued training: fit(warm_start=True), the CLI's --init-from, backtests with refit="warm".

Every fit is a real Lightning fit on a slice of a real table (ETTh1, Seattle weather), with a
small network and a few epochs.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
import yaml

from lstmkit import ConfigError, DataError, Feature, LSTMModel, NotFittedError, Spec
from lstmkit.cli.command import main

INPUTS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
PARAMS = {"hidden": 8, "lr": 0.01, "max_epochs": 4, "batch_size": 64, "progress": False,
          "channel_independent": False, "instance_norm": False}


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=24, horizon=6)


@pytest.fixture(scope="module")
def first(etth1, spec) -> LSTMModel:
    """A model fitted on the first 2000 rows (phase 1); tests warm-start copies of it."""
    return LSTMModel(spec, **PARAMS).fit(etth1.iloc[:2000])


def _state(model: LSTMModel) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.network_.state_dict().items()}


def test_training_continues_from_the_fitted_weights_not_from_new_ones(first, etth1):
    before = _state(first)
    model = copy.deepcopy(first).fit(etth1.iloc[:2000], warm_start=True)
    one, two = (phase["epochs"] for phase in model.history_["phases"])
    # A new network starts far above where phase 1 ended; the warm start starts there.
    assert one[0]["train_loss"] > 2 * one[-1]["train_loss"]
    assert two[0]["train_loss"] < 1.25 * one[-1]["train_loss"]
    assert two[0]["val_loss"] < 1.25 * first.history_["best_val_loss"]
    after = model.network_.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)        # it trained
    assert all(torch.equal(before[k], v) for k, v in first.network_.state_dict().items())


def test_the_encoding_stays_and_both_phases_are_recorded(first, etth1):
    newer = etth1.iloc[2000:4000]
    model = copy.deepcopy(first).fit(newer, warm_start=True)
    assert model.encoding_.to_dict() == first.encoding_.to_dict()
    fresh = LSTMModel(first.spec, **{**PARAMS, "max_epochs": 1}).fit(newer)
    assert fresh.encoding_.to_dict() != first.encoding_.to_dict()   # new data, other scalers
    history = model.history_
    phases = history["phases"]
    assert len(phases) == 2
    assert phases[0] == {**first.history_, "data_sha256": first.data_sha256_}
    assert phases[1]["epochs"] == history["epochs"] and phases[1]["best_epoch"] == \
        history["best_epoch"] and phases[1]["best_val_loss"] == history["best_val_loss"]
    assert phases[1]["data_sha256"] == model.data_sha256_ != first.data_sha256_
    assert model.architecture_ == first.architecture_
    assert model.validation_["targets"]["OT"]["model"] != first.validation_["targets"]["OT"][
        "model"]                                     # checked again, on the new validation part
    third = copy.deepcopy(model).fit(newer, warm_start=True)
    assert [p["data_sha256"] for p in third.history_["phases"]] == \
        [p["data_sha256"] for p in phases] + [model.data_sha256_]


def test_what_a_warm_start_cannot_change_is_refused_before_training(first, etth1, spec):
    data = etth1.iloc[:2000]
    for name, value in (("hidden", 16), ("layers", 2), ("decoder", "repeat"),
                        ("instance_norm", "revin")):
        model = copy.deepcopy(first).set_params(**{name: value})
        with pytest.raises(ConfigError, match=rf"built with {name}=.*set {name} back to"):
            model.fit(data, warm_start=True)
    unset = copy.deepcopy(first).set_params(hidden=None, max_epochs=1, lr=None)
    assert unset.fit(data, warm_start=True).architecture_ == first.architecture_
    other = Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=48, horizon=6)
    with pytest.raises(ConfigError, match=r"keeps the fitted spec .* differs from it in lookback "
                                          r"\(48, fitted: 24\)"):
        copy.deepcopy(first).set_params(spec=other).fit(data, warm_start=True)
    with pytest.raises(NotFittedError, match="not fitted yet; fit\\(data\\) first"):
        LSTMModel(spec, **PARAMS).fit(data, warm_start=True)
    with pytest.raises(DataError, match="'HULL'"):
        copy.deepcopy(first).fit(data.drop(columns="HULL"), warm_start=True)


def test_a_label_the_encoding_has_not_seen_is_a_data_error(seattle):
    spec = Spec(time="date", inputs=["precipitation", "temp_min", "wind",
                                     Feature("weather", kind="categorical")],
                targets=["temp_max"], lookback=14, horizon=1)
    no_snow = seattle.assign(weather=seattle.weather.replace("snow", "rain"))
    model = LSTMModel(spec, **{**PARAMS, "max_epochs": 1}).fit(no_snow)
    with pytest.raises(DataError, match=r"column 'weather' has label 'snow' at row .* not seen"):
        model.fit(seattle, warm_start=True)


def test_a_saved_model_loads_and_continues(first, etth1, tmp_path):
    first.save(tmp_path / "one")
    loaded = LSTMModel.load(tmp_path / "one").set_params(max_epochs=2)
    loaded.fit(etth1.iloc[2000:4000], warm_start=True)
    assert loaded.history_["phases"][0] == {**first.history_, "data_sha256": first.data_sha256_}
    assert len(loaded.history_["epochs"]) == 2
    loaded.save(tmp_path / "two")
    again = LSTMModel.load(tmp_path / "two")
    assert again.history_ == json.loads(json.dumps(loaded.history_))
    assert again.predict(etth1.iloc[3000:3100]).equals(loaded.predict(etth1.iloc[3000:3100]))


def test_cli_init_from_continues_a_run_and_records_it(etth1, tmp_path, capsys):
    data = tmp_path / "etth1.csv"
    etth1.iloc[:1500].to_csv(data, index=False)
    config = tmp_path / "etth1.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"path": str(data)},
        "spec": {"time": "date", "inputs": INPUTS, "targets": ["OT"], "lookback": 24,
                 "horizon": 6},
        "model": {"hidden": 8, "channel_independent": False, "instance_norm": False},
        "training": {"max_epochs": 2, "lr": 0.01}}))
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["fit", str(config), "--run-dir", str(one), "--no-progress"]) == 0
    assert main(["fit", str(config), "--run-dir", str(two), "--no-progress",
                 "--init-from", str(one)]) == 0
    assert "training from" in capsys.readouterr().out          # (rich folds long lines)
    assert yaml.safe_load((two / "config.yaml").read_text())["init_from"] == str(one)
    saved = [json.loads((d / "config.json").read_text()) for d in (one, two)]
    assert saved[1]["history"]["phases"][0] == {**saved[0]["history"],
                                                "data_sha256": saved[0]["data_sha256"]}
    assert saved[1]["encoding"] == saved[0]["encoding"]
    # the recorded config continues the same model again
    assert main(["fit", str(two / "config.yaml"), "--run-dir", str(tmp_path / "three"),
                 "--no-progress"]) == 0
    third = json.loads((tmp_path / "three" / "config.json").read_text())
    assert len(third["history"]["phases"]) == 2            # from one again, as recorded
    capsys.readouterr()
    assert main(["fit", str(config), "--run-dir", str(tmp_path / "x"),
                 "--init-from", str(tmp_path / "missing")]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: no model directory at") and err.count("\n") == 1
    changed = tmp_path / "wide.yaml"
    changed.write_text(config.read_text().replace("hidden: 8", "hidden: 16"))
    assert main(["fit", str(changed), "--run-dir", str(tmp_path / "z"), "--init-from",
                 str(one)]) == 2
    assert "built with hidden=8" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()
    changed.write_text(config.read_text().replace("lookback: 24", "lookback: 12"))
    assert main(["fit", str(changed), "--run-dir", str(tmp_path / "z"), "--init-from",
                 str(one)]) == 2
    err = capsys.readouterr().err
    assert "differs from it in lookback (12, fitted: 24)" in err and "init_from" in err
    assert err.count("\n") == 1 and not (tmp_path / "z").exists()


def test_backtest_fine_tunes_each_fold_from_the_previous_one(etth1, spec, tmp_path, capsys):
    table = etth1.iloc[:1500]
    model = LSTMModel(spec, **{**PARAMS, "max_epochs": 2})
    result = model.backtest(table, folds=3, refit="warm")
    assert result.refit == "warm" and len({id(m) for m in result.models}) == 3
    first, second, third = result.models
    assert "phases" not in first.history_                 # each fold's model stays its own
    assert second.history_["phases"][0] == {**first.history_, "data_sha256": first.data_sha256_}
    assert len(third.history_["phases"]) == 3
    assert third.encoding_.to_dict() == first.encoding_.to_dict()
    assert sorted(result.table.fold.unique()) == [0, 1, 2]
    assert not hasattr(model, "pipeline_")                # the template is not fitted

    data = tmp_path / "slice.csv"
    table.to_csv(data, index=False)
    config = tmp_path / "bt.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"path": str(data)}, "spec": spec.to_dict(),
        "model": {"hidden": 4}, "training": {"max_epochs": 1, "progress": False}}))
    out = tmp_path / "bt"
    assert main(["backtest", str(config), "--folds", "2", "--warm", "--run-dir", str(out)]) == 0
    assert (out / "backtest.csv").is_file()
    config.write_text(config.read_text() + f"init_from: {tmp_path}\n")
    assert main(["backtest", str(config), "--folds", "2", "--run-dir", str(tmp_path / "b2")]) == 2
    assert "applies to `lstmkit fit` only" in capsys.readouterr().err


def test_a_warm_start_resumes_from_its_checkpoint_and_only_from_the_same_start(
        first, etth1, tmp_path):
    data, directory = etth1.iloc[2000:4000], tmp_path / "ckpt"
    done = copy.deepcopy(first).fit(data, warm_start=True, checkpoint_dir=directory)
    again = copy.deepcopy(first).fit(data, warm_start=True, checkpoint_dir=directory,
                                     resume=True)
    assert again.history_ == done.history_
    assert all(torch.equal(v, again.network_.state_dict()[k])
               for k, v in done.network_.state_dict().items())
    with pytest.raises(ConfigError, match="other data or parameters"):
        copy.deepcopy(done).fit(data, warm_start=True, checkpoint_dir=directory, resume=True)
