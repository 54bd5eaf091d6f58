"""The ``lstmkit`` command and what it shares with Python users: YAML run configs, run
directories, run records."""

from typing import Any


def __getattr__(name: str) -> Any:
    # what the lstmkit.cli module of 0.2.0 held, reached with a DeprecationWarning
    from .._moved import forward

    return forward(__name__, __name__ + ".command", name)
