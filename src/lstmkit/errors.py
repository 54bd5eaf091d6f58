"""The library's own exception types.

Every error a user can cause raises one of these, with a message that names the
offending column, row, key, value or file and says how to fix it. The CLI prints
the message on one line and exits with the class's ``exit_code``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

PACKAGE = str(Path(__file__).resolve().parent)


class LSTMKitError(Exception):
    """Base class of every error lstmkit raises on purpose."""

    exit_code = 1


class ConfigError(LSTMKitError, ValueError):
    """A specification, hyperparameter or config file entry is invalid."""

    exit_code = 2


class DataError(LSTMKitError, ValueError):
    """Input data is missing, malformed or inconsistent with the specification."""

    exit_code = 3


class SchemaError(DataError):
    """Data at predict time does not match the schema the model was trained on."""


class LimitError(DataError):
    """Input goes past a reading limit: too many rows, a line too long, or a compressed
    input that decompresses to too much."""


class ArtifactError(LSTMKitError, OSError):
    """A saved model directory is missing, unreadable, unsafe or incompatible."""

    exit_code = 4


class NotFittedError(LSTMKitError, RuntimeError):
    """A method that needs a fitted model was called before ``fit``."""

    exit_code = 5


class TrainingError(LSTMKitError, RuntimeError):
    """Training failed in a way the user can fix (diverging loss, no windows)."""

    exit_code = 6


class LSTMKitWarning(UserWarning):
    """Base class of lstmkit's warnings: the call worked, but the result may mislead."""


class BaselineWarning(LSTMKitWarning):
    """After ``fit``: the model does worse on a target than the naive baseline, on the
    validation part (the message names the target, both errors and what to try)."""


def warn(message: str, category: type[LSTMKitWarning] = LSTMKitWarning) -> None:
    """Issue an lstmkit warning at the user's line: the first caller outside lstmkit."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
