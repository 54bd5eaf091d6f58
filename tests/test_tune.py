"""Hyperparameter search (lstmkit.tuning.tune, `lstmkit tune`): short Optuna studies, real data."""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from lstmkit.cli.command import main
from lstmkit.cli.config import RunConfig
from lstmkit.errors import ConfigError
from lstmkit.tuning import tune
from lstmkit.tuning.search import SearchSpace, input_setting

REPO = Path(__file__).resolve().parents[1]
SEARCH = {"model.hidden": {"int": [4, 12]},
          "training.lr": {"float": [1.0e-3, 1.0e-2], "log": True},
          "spec.lookback": {"choice": [7, 14]}}


def _raw(data: dict | None = None, search: dict | None = None, **training) -> dict:
    """The quickstart config, tiny: 8 units, 2 epochs."""
    raw = yaml.safe_load((REPO / "examples" / "seattle_weather.yaml").read_text())
    raw["data"] = data or raw["data"]
    raw["model"] = {"hidden": 8}
    raw["training"] = {"batch_size": 64, "max_epochs": 2, "patience": 5, "seed": 0, **training}
    raw["search"] = SEARCH if search is None else search
    raw.pop("run_dir")
    return raw


def _write(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_search_section_parses_and_round_trips():
    config = RunConfig.from_dict(_raw())
    assert [p.key for p in config.search.params] == list(SEARCH)
    assert config.search.params[1].log and config.search.params[2].kind == "choice"
    assert config.to_dict()["search"] == SEARCH
    assert RunConfig.from_dict(config.to_dict()).search == config.search


def test_the_example_search_is_valid_and_the_readme_shows_it():
    config = RunConfig.read(REPO / "examples" / "seattle_weather_tune.yaml")
    readme = (REPO / "README.md").read_text().split("## Tuning", 1)[1]
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert config.search == SearchSpace.parse(yaml.safe_load(block)["search"])


@pytest.mark.parametrize(("search", "message"), [
    ({"model.hiden": {"int": [4, 8]}}, "unknown search key 'model.hiden' (did you mean "
                                       "'model.hidden'?)"),
    ({"modle.layers": {"int": [1, 2]}}, "(did you mean 'model.layers'?)"),
    ({"spec.horizon": {"int": [1, 3]}}, "search key 'spec.horizon' cannot be searched"),
    ({"split.val_start": {"float": [0.6, 0.7]}}, "'split.val_start' cannot be searched"),
    ({"model.hidden": {"integer": [4, 8]}}, "unknown key 'integer' in search model.hidden "
                                            "(did you mean 'int'?)"),
    ({"model.hidden": {"int": [64, 16]}}, "search model.hidden: the range [64, 16] is empty"),
    ({"model.hidden": {"int": [4.5, 16]}}, "search model.hidden: int takes [low, high], two "
                                           "integers"),
    (yaml.safe_load("training.lr: {float: [1e-4, 1e-2]}"), "search training.lr: float takes "
     "[low, high], two numbers, got ['1e-4', '1e-2'] (YAML reads 1e-4 as text: write it with a "
     "dot, e.g. 0.0001)"),
    ({"training.lr": {"float": [0, 0.1], "log": True}}, "search training.lr: a log-scale range "
                                                        "needs low > 0"),
    ({"model.dropout": {"float": [0.0, 1.5]}}, "search model.dropout: the upper bound 1.5 is "
                                               "invalid: dropout must be a number in [0, 1)"),
    ({"model.decoder": {"choice": ["direct", "reapet"]}}, "the choice 'reapet' is invalid"),
    ({"spec.lookback": {"choice": []}}, "search spec.lookback: choice takes a non-empty list"),
    ({"model.layers": {"int": [1, 2], "choice": [3]}}, "needs exactly one of int, float, choice"),
    ({}, "section 'search' must map config keys to ranges"),
    ({"spec.inputs.wether.embed": {"choice": [None, 4]}}, "search spec.inputs.wether.embed: "
     "'wether' is not an input of the spec (did you mean 'weather'?)"),
    ({"spec.inputs.weather.kind": {"choice": ["numeric"]}}, "'kind' is not a searchable "
                                                            "setting of an input"),
    ({"spec.inputs.wind.embed": {"choice": [None, 4]}}, "search spec.inputs.wind.embed: the "
     "choice 4 is invalid: embed applies to categorical features"),
    ({"spec.inputs.weather.scaler": {"choice": ["standard", "robust"]}},
     "the choice 'robust' is invalid: scaler applies to numeric features"),
])
def test_bad_search_entries_are_rejected_naming_the_key(search, message):
    with pytest.raises(ConfigError) as error:
        RunConfig.from_dict(_raw(search=search))
    assert message in str(error.value)


def _trial_values(data: Path) -> list[tuple[dict, float]]:
    config = RunConfig.from_dict(_raw(data={"path": str(data)}))
    study = tune.create_study(config, seed=0)
    tune.optimize(study, config, trials=2)
    return [(t.params, t.value) for t in study.trials]


def test_trials_are_scored_on_the_validation_part_only(tmp_path, seattle):
    n = len(seattle)   # split: train < 0.7 n <= val < 0.85 n <= test

    def corrupt(rows: slice) -> Path:
        frame = seattle.copy()
        for column in ("precipitation", "temp_max", "temp_min", "wind"):
            frame.loc[frame.index[rows], column] = frame[column].iloc[rows] * -7.0 + 100.0
        path = tmp_path / f"corrupt-{rows.start}.csv"
        frame.to_csv(path, index=False)
        return path

    original = tmp_path / "seattle.csv"
    seattle.to_csv(original, index=False)
    clean = _trial_values(original)
    assert len(clean) == 2 and all(value > 0 for _, value in clean)
    assert _trial_values(corrupt(slice(int(0.86 * n), n))) == clean   # the test part
    changed = _trial_values(corrupt(slice(int(0.72 * n), int(0.83 * n))))   # the val part
    assert [p for p, _ in changed] == [p for p, _ in clean]
    assert all(a != b for (_, a), (_, b) in zip(changed, clean, strict=True))


def test_every_epoch_is_reported_bad_trials_are_pruned_and_invalid_ones_fail():
    search = {"training.lr": {"float": [1.0e-6, 1.0e-2], "log": True},
              "spec.lookback": {"choice": [14, 5000]}}
    config = RunConfig.from_dict(_raw(search=search, max_epochs=3))
    study = tune.create_study(config, pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    study.enqueue_trial({"training.lr": 1.0e-2, "spec.lookback": 14})   # learns
    study.enqueue_trial({"training.lr": 1.0e-6, "spec.lookback": 14})   # hardly moves
    study.enqueue_trial({"training.lr": 1.0e-2, "spec.lookback": 5000})  # longer than the data
    tune.optimize(study, config, trials=3)
    good, slow, invalid = study.trials
    assert good.state == TrialState.COMPLETE
    assert sorted(good.intermediate_values) == [0, 1, 2]     # one report per epoch
    assert good.value == min(good.intermediate_values.values())
    assert slow.state == TrialState.PRUNED
    assert slow.last_step == 0 and slow.intermediate_values[0] > good.intermediate_values[0]
    assert invalid.state == TrialState.FAIL
    assert "lookback" in invalid.user_attrs["error"]
    assert len(tune.finished(study)) == 3
    best = tune.best_config(config, study)
    assert best.search is None and best.spec.lookback == 14 and best.training["lr"] == 1.0e-2


def test_an_inputs_own_settings_are_searched_and_written_into_the_best_config():
    search = {"spec.inputs.weather.embed": {"choice": [None, 3]},
              "spec.inputs.wind.scaler": {"choice": ["standard", "robust"]}}
    config = RunConfig.from_dict(_raw(search=search, max_epochs=1))
    assert RunConfig.from_dict(config.to_dict()).search == config.search
    assert input_setting("spec.inputs.temp.max.scaler") == ("temp.max", "scaler")
    study = tune.create_study(config)
    study.enqueue_trial({"spec.inputs.weather.embed": None, "spec.inputs.wind.scaler": "standard"})
    study.enqueue_trial({"spec.inputs.weather.embed": 3, "spec.inputs.wind.scaler": "robust"})
    tune.optimize(study, config, trials=2)
    onehot, embedded = study.trials
    assert onehot.state == embedded.state == TrialState.COMPLETE
    assert onehot.value != embedded.value
    chosen = {f.name: f for f in tune.with_values(config, embedded.params).spec.inputs}
    assert chosen["weather"].embed == 3 and chosen["wind"].scaler == "robust"
    assert chosen["temp_max"] == config.spec.inputs[1]   # the other inputs stay as they were
    best = tune.best_config(config, study)
    assert best.search is None
    assert best.spec == tune.with_values(config, tune.best_trials(study, 1)[0].params).spec


def test_tune_cli_continues_the_study_and_writes_a_config_fit_can_run(tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.chdir(tmp_path)
    config = _write(tmp_path / "weather.yaml", _raw(max_epochs=1))
    assert main(["tune", str(config), "--trials", "2", "--run-dir", "tuned"]) == 0
    first = pd.read_csv(tmp_path / "tuned" / "trials.csv")
    assert main(["tune", str(config), "--trials", "3", "--run-dir", "tuned"]) == 0
    out = capsys.readouterr().out
    assert "study 'weather' in sqlite:///tuned/study.db: 2 finished trials" in out
    assert "best trials of study 'weather' (3 in all)" in out
    trials = pd.read_csv(tmp_path / "tuned" / "trials.csv")
    assert list(trials["trial"]) == [0, 1, 2] and set(trials["state"]) == {"complete"}
    pd.testing.assert_frame_equal(trials.iloc[:2, :3], first.iloc[:, :3])
    best_row = trials.loc[trials["val_loss"].idxmin()]

    best = RunConfig.read(tmp_path / "tuned" / "best.yaml")
    assert best.search is None and best.run_dir == str(tmp_path / "tuned" / "best")
    assert best.model["hidden"] == best_row["model.hidden"]
    assert best.spec.lookback == best_row["spec.lookback"]
    assert best.training["lr"] == pytest.approx(best_row["training.lr"])
    assert main(["fit", "tuned/best.yaml", "--no-progress"]) == 0
    assert (tmp_path / "tuned" / "best" / "weights.safetensors").is_file()


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(("change", "args", "message"), [
    ({"search": None}, [], "the config has no 'search' section"),
    ({"search": {"model.hiden": {"int": [4, 8]}}}, [], "did you mean 'model.hidden'?"),
    ({"split": {"val_start": None}}, [], "split.val_start is unset"),
    ({}, ["--trials", "0"], "--trials must be at least 1, got 0"),
])
def test_tune_cli_bad_input_is_one_line(tmp_path, capsys, change, args, message):
    raw = {**_raw(), **change}
    if raw["search"] is None:
        del raw["search"]
    config = _write(tmp_path / "bad.yaml", raw)
    argv = ["tune", str(config), "--trials", "2", "--run-dir", str(tmp_path / "run"), *args]
    assert main(argv) == 2
    assert message in _one_line_error(capsys)


def test_tune_cli_keeps_the_users_files(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "best.yaml").write_text("mine\n")
    config = _write(tmp_path / "weather.yaml", _raw())
    assert main(["tune", str(config), "--trials", "1", "--run-dir", str(run_dir)]) == 2
    assert "best.yaml' already exists and this is a new study" in _one_line_error(capsys)
    assert (run_dir / "best.yaml").read_text() == "mine\n"


def test_tune_without_optuna_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)   # what `import optuna` meets uninstalled
    config = _write(tmp_path / "weather.yaml", _raw())
    assert main(["tune", str(config), "--trials", "1", "--run-dir", str(tmp_path / "run")]) == 1
    assert "pip install 'lstmkit[tune]'" in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()
