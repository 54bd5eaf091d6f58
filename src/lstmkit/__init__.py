"""lstmkit: multi-input, multi-output LSTM models for forecasting, sequence
classification and sequence-to-sequence, done correctly."""

__version__ = "0.1.0"

from .errors import (
    ArtifactError,
    ConfigError,
    DataError,
    LSTMKitError,
    NotFittedError,
    SchemaError,
    TrainingError,
)
from .metrics import Evaluation
from .model import LSTMModel
from .spec import Feature, Spec, Split, Target

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "Evaluation",
    "Feature",
    "LSTMKitError",
    "LSTMModel",
    "NotFittedError",
    "SchemaError",
    "Spec",
    "Split",
    "Target",
    "TrainingError",
    "__version__",
]
