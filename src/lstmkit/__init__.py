"""lstmkit: multi-input, multi-output LSTM models for forecasting, sequence
classification and sequence-to-sequence, done correctly."""

from typing import Any

from ._moved import install as _install_moved_paths
from .errors import (
    ArtifactError,
    BaselineWarning,
    ConfigError,
    DataError,
    LimitError,
    LSTMKitError,
    LSTMKitWarning,
    NotFittedError,
    SchemaError,
    TrainingError,
)
from .metrics import Evaluation
from .spec import Feature, Spec, Split, Target
from .version import __version__

_install_moved_paths()


def __getattr__(name: str) -> Any:
    # LSTMModel (and with it torch) loads on first use, so the ONNX inference path
    # (lstmkit.deploy.onnx_model) runs where only numpy, pandas and onnxruntime are installed.
    if name == "LSTMModel":
        from .model import LSTMModel

        return LSTMModel
    if name == "write_run":
        from .cli.runs import write_run

        return write_run
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


__all__ = [
    "ArtifactError",
    "BaselineWarning",
    "ConfigError",
    "DataError",
    "Evaluation",
    "Feature",
    "LSTMKitError",
    "LSTMKitWarning",
    "LSTMModel",
    "LimitError",
    "NotFittedError",
    "SchemaError",
    "Spec",
    "Split",
    "Target",
    "TrainingError",
    "__version__",
    "write_run",
]
