"""General checks shared by every layer: choices, mappings, counts, and quoting what was read.

Each check raises ``ConfigError`` with a message that names the setting, the value
it got and, for a misspelt name, the closest allowed one.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from .errors import ConfigError

QUOTE_CHARS = 60   # the most characters of a value that a message quotes


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)``, cut to about ``limit`` characters: messages never echo a whole input.

    Example:
        >>> quote("ab")
        "'ab'"
        >>> quote("x" * 10**6)[-25:]
        'x... (1000002 characters)'
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 2]}... ({len(text)} characters)"


def closest(value: str, choices: Any) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or '' if nothing is close."""
    names = {str(c).lower(): str(c) for c in choices}
    match = difflib.get_close_matches(str(value).lower(), list(names), n=1, cutoff=0.6)
    return f" (did you mean {names[match[0]]!r}?)" if match else ""


def check_choice(what: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(
            f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}"
            f"{closest(value, choices)}"
        )


def check_mapping(value: Any, where: str, allowed: Any) -> None:
    """Raise ConfigError unless ``value`` is a dict whose keys are all ``allowed``."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got "
                          f"{type(value).__name__}: {value!r}")
    for key in value:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in {where}{closest(key, allowed)}; allowed "
                              f"keys: {', '.join(allowed)}")


def check_positive_int(what: str, value: Any, allow_none: bool = False) -> None:
    """Raise ConfigError unless ``value`` is an int >= 1 (or None, if allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{what} must be a positive integer{' or None' if allow_none else ''}, "
                          f"got {value!r}")
