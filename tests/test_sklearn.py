"""scikit-learn compatibility (get_params, set_params, clone, score, GridSearchCV) and fitted
attributes frozen at fit: changing a parameter after ``fit`` changes nothing the fitted model
reports or does, and a saved model keeps what its fit used.

Fits are tiny (BasicMotions, 40 sequences of 100 steps, 4 hidden units, a few epochs).
"""

from __future__ import annotations

import inspect
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from lstmkit import (
    BaselineWarning,
    ConfigError,
    DataError,
    LSTMModel,
    NotFittedError,
    Spec,
    Split,
    Target,
    datasets,
    presets,
)

FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0" / "models"
TINY = {"hidden": 4, "max_epochs": 2, "progress": False}


@pytest.fixture(scope="module")
def motions(shared_data) -> tuple[np.ndarray, np.ndarray]:
    """BasicMotions' training part: X (40, 100, 6), four classes of ten sequences."""
    return datasets.load_uea("BasicMotions", "train", data_dir=shared_data)


def fitted(X: np.ndarray, y: np.ndarray, **params) -> LSTMModel:
    with warnings.catch_warnings():     # a two-epoch network is often worse than naive
        warnings.simplefilter("ignore", BaselineWarning)
        return LSTMModel(**{**TINY, **params}).fit(X, y)


def tables_equal(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)


# -- get_params / set_params / clone --------------------------------------------------------
def test_get_params_returns_every_constructor_argument_as_given():
    spec = Spec(inputs=["a", "b"], targets=[Target("y", kind="classification")],
                task="sequence", sequence="id")
    split = Split(val_start=0.6, test_start=0.8)
    model = LSTMModel(spec, hidden=8, split=split)
    for deep in (True, False):
        params = model.get_params(deep=deep)
        assert list(params) == list(inspect.signature(LSTMModel).parameters)
        assert params["spec"] is spec and params["split"] is split and params["hidden"] == 8
    assert LSTMModel().get_params()["split"] is None    # unset stays unset


def test_params_json_is_the_plain_form_saved_and_logged():
    params = LSTMModel(hidden=8).params_json()
    assert "spec" not in params and params["hidden"] == 8
    assert params["split"] == Split().to_dict()          # unset: the default split's
    json.dumps(params)


def test_set_params_sets_by_name_and_returns_the_model():
    model = LSTMModel()
    split = Split.train_only()
    assert model.set_params(hidden=16, split=split, seed=3) is model
    assert (model.hidden, model.split, model.seed) == (16, split, 3)


@pytest.mark.parametrize("name, hint", [("hiden", "did you mean 'hidden'?"),
                                        ("spce", "did you mean 'spec'?"),
                                        ("learning_rate", "did you mean 'lr'?")])
def test_set_params_refuses_an_unknown_name_naming_the_closest(name, hint):
    model = LSTMModel(hidden=8)
    with pytest.raises(ConfigError, match="unknown parameter") as info:
        model.set_params(seed=5, **{name: 1})
    assert hint in str(info.value) and "LSTMModel's parameters: spec, hidden" in str(info.value)
    assert model.seed == 0        # nothing was set


def test_clone_round_trips_spec_and_split():
    spec = Spec(inputs=["a"], targets=["y"], task="sequence", sequence="id")
    model = LSTMModel(spec, hidden=8, split=Split(val_start=0.5, test_start=None), seed=4)
    copy = clone(model)
    assert copy is not model and copy.spec is not spec
    assert copy.get_params() == model.get_params()


def test_clone_of_a_fitted_model_is_unfitted_with_equal_params(motions):
    X, y = motions
    model = fitted(X, y, split=Split(stratify=True))
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "architecture_") and not hasattr(copy, "split_")
    with pytest.raises(NotFittedError):
        copy.predict(X[:2])


# -- score ----------------------------------------------------------------------------------
def test_score_is_accuracy_for_a_classification_target(motions):
    X, y = motions
    model = fitted(X, y)
    assert model.score(X, y) == pytest.approx(
        accuracy_score(y, model.predict(X, output="array")), abs=1e-12)


def test_score_is_r2_for_regression_and_their_mean_for_several_targets(motions):
    X, _ = motions
    y = np.stack([X[:, :, 0].mean(axis=1), X[:, :, 3].std(axis=1)], axis=1)   # (40, 2)
    one = fitted(X, y[:, 0])
    assert one.score(X, y[:, 0]) == pytest.approx(
        r2_score(y[:, 0], one.predict(X, output="array")), rel=1e-6)
    both = fitted(X, y)
    assert both.score(X, y) == pytest.approx(
        r2_score(y, both.predict(X, output="array"), multioutput="uniform_average"), rel=1e-6)


def test_grid_search_runs_on_a_sequence_classification(motions):
    X, y = motions
    majority = pd.Series(y).value_counts(normalize=True).iloc[0]        # 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BaselineWarning)
        search = GridSearchCV(LSTMModel(**TINY), {"hidden": [2, 4]}, error_score="raise",
                              cv=StratifiedKFold(2, shuffle=True, random_state=0)).fit(X, y)
    assert list(search.cv_results_["param_hidden"]) == [2, 4]
    assert search.best_score_ > majority + 0.25       # 1-NN answers where the network is worse
    best = search.best_estimator_
    assert best.architecture_["hidden"] == search.best_params_["hidden"]
    assert best.score(X, y) == search.score(X, y)


# -- fitted attributes frozen at fit --------------------------------------------------------
def test_changing_parameters_after_fit_changes_nothing_fitted(motions):
    X, y = motions
    model = fitted(X, y)
    architecture = dict(model.architecture_)
    test = model.evaluate(X, y, part="test")
    model.set_params(hidden=999, dropout=0.1, split=Split(val_start=0.3, test_start=0.5), seed=7)
    assert model.architecture_ == architecture
    assert (model.split_, model.seed_) == (Split(), 0)
    after = model.evaluate(X, y, part="test")
    tables_equal(after, test)
    scored = after.confusion[model.spec_.target_names[0]].to_numpy().sum()
    assert 0 < scored <= 8        # the fit's 15 % of 40 sequences, not the new split's 50 %


def test_evaluate_after_validation_data_uses_the_split_fit_used(motions):
    X, y = motions
    held = np.arange(len(y)) % 4 == 0            # every class in both sets
    model = LSTMModel(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BaselineWarning)
        model.fit(X[~held], y[~held], validation_data=(X[held], y[held]))
    assert model.split_ == Split.train_only() and model.split is None
    tables_equal(model.evaluate(X[~held], y[~held], part="train"),
                 model.evaluate(X[~held], y[~held]))
    with pytest.raises(DataError, match="'val' part has no sequences"):
        model.evaluate(X[~held], y[~held], part="val")


def test_a_saved_model_keeps_what_fit_used(motions, tmp_path):
    X, y = motions
    model = fitted(X, y, split=Split(val_start=0.6, test_start=0.8), seed=2)
    test = model.evaluate(X, y, part="test")
    model.set_params(split=Split(), seed=9, hidden=999, layers=2,   # after fit, before save
                     heads="separate")
    loaded = LSTMModel.load(model.save(tmp_path / "model"))
    assert (loaded.split, loaded.seed, loaded.hidden, loaded.layers, loaded.heads) == (
        Split(), 9, 999, 2, "separate")                                        # the params
    assert (loaded.network_.config.layers, loaded.network_.config.heads) == (1, "shared")
    assert loaded.split_ == Split(val_start=0.6, test_start=0.8) and loaded.seed_ == 2
    assert loaded.architecture_ == model.architecture_ and loaded.architecture_["hidden"] == 4
    # a saved model keeps no training sequences for 1-NN, so that column is not compared
    pd.testing.assert_frame_equal(loaded.evaluate(X, y, part="test").table.drop(
        columns="neighbour"), test.table.drop(columns="neighbour"), check_exact=True)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_a_0_2_0_model_takes_its_split_seed_and_architecture_from_its_file(name, tmp_path):
    """0.2.0 saved no fitted entry: its params' split and seed, its network's architecture;
    saved again, the params are written as 0.2.0 wrote them (with calibrate false: it was
    fitted without calibration; and coverage None: it has no conformal intervals) and the
    rest round-trips."""
    copy = shutil.copytree(FIXTURES / name, tmp_path / name)
    saved = json.loads((copy / "config.json").read_text())
    model = LSTMModel.load(copy)
    assert model.split_ == Split.from_dict(saved["params"]["split"])
    assert model.seed_ == saved["params"]["seed"]
    assert list(model.architecture_) == list(presets.ARCHITECTURE)
    for name_, value in model.architecture_.items():
        assert value == saved["network"].get(name_, value)
    again = LSTMModel.load(model.save(tmp_path / "again"))
    assert json.loads((tmp_path / "again" / "config.json").read_text())["params"] == \
        {**saved["params"], "calibrate": False, "coverage": None}
    assert (again.architecture_, again.split_, again.seed_) == \
        (model.architecture_, model.split_, model.seed_)
