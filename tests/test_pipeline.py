"""The fitted pipeline: what fit learned, apart from the estimator that fitted it.

``LSTMModel.fit`` makes a ``FittedPipeline``; it round-trips through ``to_dict`` /
``from_dict``, a saved model's pipeline predicts without the estimator exactly as the
estimator does, the modules that use a fitted model import nothing from ``lstmkit.model``,
and the estimator's fitted attributes are read-only views of its pipeline.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.validation import check_is_fitted

from lstmkit import LSTMModel, Spec
from lstmkit.errors import NotFittedError
from lstmkit.pipeline import FittedPipeline
from lstmkit.storage.artifact import load_pipeline, read_config

SOURCE = Path(__file__).resolve().parents[1] / "src" / "lstmkit"
# The modules that use a fitted model: they depend on the pipeline, never on the estimator.
USERS = ("storage.artifact", "deploy.export", "storage.card", "analysis.plots", "deploy.serve",
         "deploy.batch", "pipeline")
MODEL_LINES = 800       # model.py: 1,212 lines; 908 without the pipeline, 749 without fallback
SMALL = {"hidden": 4, "max_epochs": 1, "progress": False}


@pytest.fixture(scope="module")
def table(etth1) -> pd.DataFrame:
    return etth1.iloc[:400].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(table) -> LSTMModel:
    spec = Spec(inputs=["HUFL", "OT"], targets=["OT"], time="date", lookback=24, horizon=6)
    return LSTMModel(spec, **SMALL).fit(table)


@pytest.fixture(scope="module")
def classifier() -> tuple[LSTMModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 12, 2)).astype(np.float32)
    y = np.where(X[:, :, 0].mean(axis=1) > 0, "up", "down")
    return LSTMModel(**SMALL).fit(X, y), X, y


def test_the_pipeline_round_trips_through_to_dict_and_from_dict(model, table):
    pipeline = model.pipeline_
    data = json.loads(json.dumps(pipeline.to_dict()))          # plain JSON on the way
    again = FittedPipeline.from_dict(data, pipeline.network, pipeline.neighbours)
    assert again.to_dict() == pipeline.to_dict()
    assert again.spec == pipeline.spec and again.architecture == pipeline.architecture
    pd.testing.assert_frame_equal(again.predict(table, origins="all"),
                                  model.predict(table, origins="all"), check_exact=True)


def test_a_classifier_pipeline_round_trips_and_answers_the_same_probabilities(classifier):
    model, X, _ = classifier
    pipeline = model.pipeline_
    again = FittedPipeline.from_dict(json.loads(json.dumps(pipeline.to_dict())),
                                     pipeline.network, pipeline.neighbours)
    assert again.to_dict() == pipeline.to_dict()
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


def test_config_json_is_the_pipeline_with_format_versions_and_params(model, tmp_path):
    model.save(tmp_path / "model")
    config = read_config(tmp_path / "model")
    body = model.pipeline_.to_dict()
    assert list(config) == ["format", "format_version", "versions", "spec", "params",
                            *[key for key in body if key != "spec"], "weights_sha256"]
    assert {key: config[key] for key in body} == json.loads(json.dumps(body))
    assert config["params"] == json.loads(json.dumps(model.params_json()))


def test_a_saved_pipeline_predicts_and_evaluates_without_the_estimator(model, table, tmp_path):
    model.save(tmp_path / "model")
    pipeline = load_pipeline(tmp_path / "model")
    assert isinstance(pipeline, FittedPipeline)
    pd.testing.assert_frame_equal(pipeline.predict(table, origins="all"),
                                  model.predict(table, origins="all"), check_exact=True)
    pd.testing.assert_frame_equal(pipeline.evaluate(table, part="test").table,
                                  model.evaluate(table, part="test").table, check_exact=True)
    loaded = LSTMModel.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.predict(table), pipeline.predict(table),
                                  check_exact=True)


def test_the_pipeline_runs_on_the_device_it_is_given(model, table):
    cpu = model.pipeline_.predict(table, device=torch.device("cpu"))
    pd.testing.assert_frame_equal(cpu, model.predict(table), check_exact=True)


def test_fitted_attributes_are_read_only_views_of_the_pipeline(model):
    pipeline = model.pipeline_
    assert model.spec_ is pipeline.spec and model.network_ is pipeline.network
    assert model.architecture_ is pipeline.architecture and model.split_ is pipeline.split
    with pytest.raises(AttributeError):
        model.history_ = {}
    model.set_params(hidden=999)
    assert model.architecture_["hidden"] == 4                  # fixed at fit time
    model.set_params(hidden=4)
    check_is_fitted(model)                                     # scikit-learn's check


def test_before_fit_there_is_no_pipeline(table, tmp_path):
    model = LSTMModel(Spec(inputs=["OT"], targets=["OT"], lookback=4, horizon=1))
    assert not hasattr(model, "spec_") and not hasattr(model, "pipeline_")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(table)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def _imports(path: Path, package: tuple[str, ...] = ()) -> set[str]:
    """Every module ``path`` (in the subpackage ``package`` of lstmkit) imports from lstmkit,
    anywhere in it (``TYPE_CHECKING`` too), as dotted names relative to the package
    (``model``, ``data.sources``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = ".".join((*package[: len(package) - node.level + 1], module)).strip(".")
                names.add(base)
                names.update(f"{base}.{a.name}".lstrip(".") for a in node.names)
            elif module.startswith("lstmkit"):
                names.add(module.removeprefix("lstmkit").lstrip("."))
        elif isinstance(node, ast.Import):
            names.update(a.name.removeprefix("lstmkit.") for a in node.names
                         if a.name.startswith("lstmkit."))
    return names


@pytest.mark.parametrize("module", USERS)
def test_modules_that_use_a_fitted_model_import_nothing_from_the_estimator(module):
    *package, name = module.split(".")
    assert "model" not in _imports(SOURCE.joinpath(*package, f"{name}.py"), tuple(package))


def test_the_import_check_sees_an_import_of_the_estimator(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from .model import LSTMModel\n")
    assert "model" in _imports(source)
    source.write_text("def f():\n    from . import model\n")
    assert "model" in _imports(source)
    source.write_text("from ..model import LSTMModel\n")
    assert "model" in _imports(source, ("storage",))


def test_scoring_imports_nothing_of_the_pipeline_or_the_estimator():
    # pipeline.py imports scoring.py (evaluate's baselines and tables): one direction only
    imported = _imports(SOURCE / "scoring.py")
    assert not imported & {"pipeline", "model", "fitting"}, imported
    assert "scoring" in _imports(SOURCE / "pipeline.py")


def test_the_estimator_is_thin():
    lines = len((SOURCE / "model.py").read_text(encoding="utf-8").splitlines())
    assert lines < MODEL_LINES, f"model.py has {lines} lines"
