"""How a network is trained: the Lightning loop, its settings, checkpoints, losses.

Importing this package loads nothing: ``training.loop`` (Lightning) loads only when a
fit trains."""

from typing import Any


def __getattr__(name: str) -> Any:
    # what the lstmkit.training module of 0.2.0 held, reached with a DeprecationWarning
    from .._moved import forward

    return forward(__name__, __name__ + ".loop", name)
