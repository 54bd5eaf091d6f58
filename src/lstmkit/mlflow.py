"""An MLflow flavour: log a fitted model to MLflow, serve it and load it back.

The logged model is lstmkit's own model directory (``config.json``, safetensors weights,
the card; no pickle) inside an MLflow model, whose ``python_function`` flavour loads it with
this module (``_load_pyfunc``). So ``mlflow.pyfunc.load_model(uri).predict(frame)`` equals
``LSTMModel.predict(frame)``, and ``mlflow models serve -m URI --env-manager local`` answers
``/invocations`` with the same table. Predicting loads the pipeline alone (no Lightning).
Needs ``pip install 'lstmkit[mlflow]'`` (``mlflow-skinny``, or the full ``mlflow``).

Example:
    >>> import lstmkit.mlflow
    >>> info = lstmkit.mlflow.log_model(model, "etth1")
    >>> mlflow.pyfunc.load_model(info.model_uri).predict(df.tail(96))
    >>> lstmkit.mlflow.load_model(info.model_uri)          # the LSTMModel again
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import ConfigError, LSTMKitError
from .version import __version__

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

    from .model import LSTMModel
    from .pipeline import FittedPipeline

INSTALL = "pip install 'lstmkit[mlflow]' (or: pip install mlflow-skinny)"
MODEL_DIR = "lstmkit_model"   # the model directory's name inside the MLflow model's data
ORIGINS = "origins"           # inference parameters, as for LSTMModel.predict
ADAPT = "adapt"               # its rate; 0: the calibrated intervals as they are


def log_model(model: LSTMModel | str | Path, name: str = "model", **options: Any) -> ModelInfo:
    """Log a fitted model to the active MLflow run (or a new one) as a pyfunc model.

    Args:
        model: a fitted ``LSTMModel``, or a model directory that ``save`` wrote.
        name: the logged model's name (MLflow's ``name``).
        options: passed on to ``mlflow.pyfunc.log_model`` (``registered_model_name``,
            ``input_example``, ``tags``, ...); ``pip_requirements`` defaults to this
            lstmkit version.

    Returns:
        MLflow's ``ModelInfo``; its ``model_uri`` loads the model back.

    Example:
        >>> with mlflow.start_run():
        ...     uri = lstmkit.mlflow.log_model(model, "etth1").model_uri
    """
    mlflow = _mlflow()
    with _model_directory(model) as directory:
        return mlflow.pyfunc.log_model(name=name, **_pyfunc_options(directory, options))


def save_model(model: LSTMModel | str | Path, path: str | Path, **options: Any) -> None:
    """Write a fitted model as an MLflow model directory at ``path`` (no tracking server).

    Args:
        model: a fitted ``LSTMModel``, or a model directory that ``save`` wrote.
        path: the MLflow model directory to create; MLflow refuses one that exists.
        options: passed on to ``mlflow.pyfunc.save_model`` (as for ``log_model``).

    Example:
        >>> lstmkit.mlflow.save_model(model, "etth1_mlflow")   # mlflow models serve -m etth1_mlflow
    """
    mlflow = _mlflow()
    with _model_directory(model) as directory:
        mlflow.pyfunc.save_model(str(path), **_pyfunc_options(directory, options))


def load_model(model_uri: str) -> LSTMModel:
    """The ``LSTMModel`` logged by ``log_model`` (or saved by ``save_model``).

    Args:
        model_uri: an MLflow model URI: ``runs:/RUN_ID/NAME``, ``models:/NAME/VERSION``,
            ``models:/m-...``, or a local path.

    Example:
        >>> lstmkit.mlflow.load_model("models:/etth1/1").predict(df.tail(96))
    """
    mlflow = _mlflow()
    from mlflow.models import Model

    from .model import LSTMModel

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    flavour = Model.load(str(local)).flavors.get("python_function", {})
    if flavour.get("loader_module") != __name__:
        raise ConfigError(f"MLflow model {model_uri!r} was not logged by lstmkit.mlflow "
                          f"(its loader is {flavour.get('loader_module')!r}); load it with "
                          "mlflow.pyfunc.load_model")
    return LSTMModel.load(local / flavour["data"])


class PyfuncModel:
    """What ``mlflow.pyfunc.load_model`` wraps: a fitted pipeline that predicts a table.

    Attributes:
        pipeline: the fitted pipeline read from the model directory.
    """

    def __init__(self, pipeline: FittedPipeline) -> None:
        self.pipeline = pipeline

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """``LSTMModel.predict(model_input, origins, adapt=...)``; ``params`` may set
        ``origins`` (``last``, the default, or ``all``) and ``adapt`` (a rate above 0 adapts
        the calibrated intervals at it; 0, the default, does not). lstmkit's errors become
        ``MlflowException``s with the same message, which the scoring server answers with
        status 400."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        origins = (params or {}).get(ORIGINS, "last")
        adapt = (params or {}).get(ADAPT, 0.0)
        try:
            return self.pipeline.predict(model_input, origins, adapt=adapt or False)
        except LSTMKitError as exc:
            raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc


def _load_pyfunc(data_path: str) -> PyfuncModel:
    """MLflow's loader hook: the pyfunc model of the model directory at ``data_path``."""
    from .storage.artifact import load_pipeline

    return PyfuncModel(load_pipeline(Path(data_path)))


def _pyfunc_options(directory: Path, options: dict[str, Any]) -> dict[str, Any]:
    """``mlflow.pyfunc`` save/log arguments for the model ``directory``: this module as the
    loader, the directory as the data, ``origins`` and ``adapt`` as parameters, lstmkit as the
    requirement; ``options`` override them."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    signature = ModelSignature(inputs=None, params=ParamSchema([
        ParamSpec(ORIGINS, "string", "last"), ParamSpec(ADAPT, "double", 0.0)]))
    defaults = {"signature": signature, "pip_requirements": [f"lstmkit=={__version__}"]}
    return {**defaults, **options, "loader_module": __name__, "data_path": str(directory)}


@contextlib.contextmanager
def _model_directory(model: Any) -> Iterator[Path]:
    """The model directory to log: a given one (checked by loading it), or ``model`` saved
    into a temporary directory, removed afterwards."""
    from .storage.artifact import load_pipeline

    if isinstance(model, str | Path):
        load_pipeline(Path(model))
        yield Path(model)
        return
    if not hasattr(model, "save"):
        raise ConfigError(f"lstmkit.mlflow takes a fitted LSTMModel or a model directory, got "
                          f"{type(model).__name__}")
    with tempfile.TemporaryDirectory() as temporary:
        yield model.save(Path(temporary) / MODEL_DIR)


def _mlflow() -> Any:
    """The ``mlflow`` package, or a ``ConfigError`` saying how to install it."""
    try:
        import mlflow
        import mlflow.pyfunc
    except ImportError:
        raise ConfigError(f"the MLflow flavour needs MLflow: {INSTALL}") from None
    return mlflow
