"""What every reader of a saved file (model directory, ONNX export) checks before using it.

A saved file is read as untrusted input: its JSON is bounded in size and nesting
before anything else reads it, and each top-level entry must have the JSON type
lstmkit writes. The objects inside then check their own fields in ``from_dict``.
Torch-free, like ``lstmkit.deploy.onnx_model``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..checks import quote
from ..errors import ArtifactError, ConfigError
from ..spec import Spec

MAX_JSON_BYTES = 64 * 2**20   # a config with 10^6 category labels takes about 20 MB
MAX_JSON_DEPTH = 32           # lstmkit writes at most 6 levels
MAX_FAULT_CHARS = 300         # of a message about a saved file's content
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
              float: "a number", bool: "true or false", type(None): "null"}


def damaged(what: str, fault: object, fix: str) -> ArtifactError:
    """The error for a saved file that fails a check: which file, what is wrong, what to do.

    Example:
        >>> str(damaged("config.json of 'm'", "spec is missing", "re-save the model"))[:40]
        "config.json of 'm': spec is missing; the"
    """
    text = str(fault)
    if len(text) > MAX_FAULT_CHARS:   # a check that echoed more of the file than it should
        text = f"{text[:MAX_FAULT_CHARS]}... ({len(text)} characters)"
    return ArtifactError(f"{what}: {text}; the file was changed or damaged after saving: {fix}")


def read_json(file: Path) -> Any:
    """Parse a JSON file, refusing one that is not a regular file or is too large to be ours.

    Raises:
        FileNotFoundError: nothing at ``file``.
        ConfigError: anything else, with the reason.
    """
    if not file.exists():
        raise FileNotFoundError(file)
    if not file.is_file():   # a directory, a device such as /dev/zero, a FIFO
        raise ConfigError("not a regular file")
    size = file.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ConfigError(f"{size / 2**20:.0f} MB, larger than the {MAX_JSON_BYTES // 2**20} MB "
                          "lstmkit reads")
    with open(file, "rb") as handle:
        return parse_json(handle.read(MAX_JSON_BYTES + 1))


def parse_json(text: str | bytes) -> Any:
    """Parse JSON of at most ``MAX_JSON_BYTES``, nested at most ``MAX_JSON_DEPTH`` deep."""
    if len(text) > MAX_JSON_BYTES:
        raise ConfigError(f"more than the {MAX_JSON_BYTES // 2**20} MB of JSON lstmkit reads")
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ConfigError(f"JSON nested deeper than lstmkit reads ({MAX_JSON_DEPTH} levels)"
                          ) from None
    except ConfigError:
        raise
    except ValueError as exc:   # includes a bad encoding and integers of over 4300 digits
        raise ConfigError(f"not valid JSON ({quote(str(exc), 120)})") from None
    _check_depth(data)
    return data


def check_fields(data: Any, required: dict[str, Any], optional: dict[str, Any] | None = None,
                 where: str = "") -> None:
    """Raise ConfigError unless ``data`` is an object with every ``required`` key, and each
    key of ``required`` and ``optional`` that it has is of its JSON type (a type or a tuple).

    Example:
        >>> check_fields({"spec": {}, "time_step": None}, {"spec": dict},
        ...              {"time_step": (dict, type(None))})
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'the top level'} is {_json_type(data)}, not an object")
    for key, types in {**required, **(optional or {})}.items():
        if key not in data:
            if key in required:
                raise ConfigError(f"{where}{key} is missing")
            continue
        if not is_json_type(data[key], types):
            names = types if isinstance(types, tuple) else (types,)
            raise ConfigError(f"{where}{key} is {_json_type(data[key])}, not "
                              f"{' or '.join(JSON_TYPES[t] for t in names)}")


def check_strings(data: dict[str, Any], where: str) -> None:
    """Raise ConfigError unless every value of the object ``data`` is a string."""
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}[{quote(key)}] is {_json_type(value)}, not a string")


def is_json_type(value: Any, types: Any) -> bool:
    """JSON typing: a bool is no integer, and an integer is a number."""
    names = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool):
        return bool in names
    return isinstance(value, names) or (float in names and isinstance(value, int))


def is_finite_number(value: Any) -> bool:
    """A JSON number that is finite as a float (an integer beyond float range is not)."""
    try:
        return is_json_type(value, float) and math.isfinite(value)
    except OverflowError:
        return False


def _json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused if it gives a key twice (lstmkit never writes one so; a
    parser keeps only the last, which would hide the first from every check)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ConfigError(f"the key {quote(key)} appears twice in one object")
        data[key] = value
    return data


def _check_depth(data: Any) -> None:
    """Raise ConfigError if ``data`` nests deeper than ``MAX_JSON_DEPTH`` (iteratively)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ConfigError(f"JSON nested deeper than lstmkit reads ({MAX_JSON_DEPTH} levels)")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children)


def check_schema(schema: dict[str, str], spec: Spec, targets: bool) -> None:
    """Raise ConfigError unless a saved ``schema`` gives every input (and with ``targets``,
    every target) the kind the spec gives it, and names no other column but the time and
    series (or sequence) ids."""
    expected = {t.name: "categorical" if t.categorical else "numeric"
                for t in spec.targets} if targets else {}
    expected.update({f.name: f.kind for f in spec.inputs})
    for column, kind in expected.items():
        if schema.get(column) != kind:
            raise ConfigError(f"schema[{quote(column)}] is {quote(schema.get(column))}, but the "
                              f"spec makes it {kind!r}")
    extra = sorted(set(schema) - set(expected) - {spec.time, spec.group})
    if extra:
        raise ConfigError(f"schema lists {quote(extra[0])}, which the spec neither reads nor "
                          "predicts")


def first_difference(recorded: Any, expected: Any, where: str) -> tuple[str, Any, Any] | None:
    """Where ``recorded`` first differs from ``expected`` (JSON-like: dicts, lists, tuples),
    as (path, recorded value, expected value); None if they are equal.

    Example:
        >>> first_difference({"a": [1, 2]}, {"a": [1, 3]}, "x")
        ('x.a[1]', 2, 3)
    """
    sequences = list | tuple
    if isinstance(recorded, dict) and isinstance(expected, dict) and list(recorded) == list(
            expected):
        pairs = [(recorded[k], expected[k], f"{where}.{k}") for k in expected]
    elif isinstance(recorded, sequences) and isinstance(expected, sequences) and len(
            recorded) == len(expected):
        pairs = [(recorded[i], e, f"{where}[{i}]") for i, e in enumerate(expected)]
    else:
        return None if recorded == expected else (where, recorded, expected)
    for pair in pairs:
        difference = first_difference(*pair)
        if difference:
            return difference
    return None
