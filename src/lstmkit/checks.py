"""General checks shared by every layer: choices, mappings, counts, and quoting what was read.

Each check raises ``ConfigError`` with a message that names the setting, the value
it got and, for a misspelt name, the closest allowed one.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
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


def no_file(what: str, path: Path) -> str:
    """Why the ``what`` at ``path``, which is no file, cannot be read: a folder is there, or
    nothing is."""
    if path.is_dir():
        return f"{what} {str(path)!r} is a directory, not a file; pass the file inside it"
    return f"{what} {str(path)!r} does not exist; check the path"


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
                          f"{type(value).__name__}: {quote(value)}")
    for key in value:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in {where}{closest(key, allowed)}; allowed "
                              f"keys: {', '.join(allowed)}")


def check_int(what: str, value: Any, low: int, high: int | None = None,
              allow_none: bool = False, why: str = "") -> None:
    """Raise ConfigError unless ``value`` is an int in ``[low, high]`` (or None, if allowed);
    ``why`` (the reason for the bounds) ends the message.

    Example:
        >>> check_int("seed", 2**40, 0, 2**32 - 1)
        Traceback (most recent call last):
        lstmkit.errors.ConfigError: seed must be an integer from 0 to 4294967295, got 1099511627776
    """
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        if high is not None:
            wanted = f"an integer from {low} to {high}"
        else:
            wanted = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"{what} must be {wanted}{' or None' if allow_none else ''}, "
                          f"got {quote(value)}{f' ({why})' if why else ''}{_numpy_hint(value)}")


def check_positive_int(what: str, value: Any, allow_none: bool = False) -> None:
    """Raise ConfigError unless ``value`` is an int >= 1 (or None, if allowed)."""
    check_int(what, value, 1, allow_none=allow_none)


def check_number(what: str, value: Any, low: float, high: float = math.inf, *,
                 open_low: bool = False, open_high: bool = False,
                 allow_none: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a finite real number between ``low`` and
    ``high`` (each bound included unless ``open_low`` / ``open_high``), or None if
    allowed. Booleans, NaN and infinities are not numbers here.

    Example:
        >>> check_number("lr", float("nan"), 0, open_low=True)
        Traceback (most recent call last):
        lstmkit.errors.ConfigError: lr must be a positive number, got nan
    """
    if value is None and allow_none:
        return
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if number and math.isfinite(value) and (low < value if open_low else low <= value) and (
            value < high if open_high else value <= high):
        return
    if high != math.inf:
        wanted = f"a number in {'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    elif open_low and low == 0:
        wanted = "a positive number"
    else:
        wanted = f"a number {'>' if open_low else '>='} {low}"
    raise ConfigError(f"{what} must be {wanted}{' or None' if allow_none else ''}, "
                      f"got {quote(value)}{_numpy_hint(value)}")


def _numpy_hint(value: Any) -> str:
    """How to pass a numpy scalar, which lstmkit's settings do not take (JSON, torch)."""
    if isinstance(value, np.generic) and not isinstance(value, float):
        return f"; a numpy {type(value).__name__} is not a plain number: pass int(x) or float(x)"
    return ""
