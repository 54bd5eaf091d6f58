"""The ``search`` section of a config: the entries a study varies, parsed and checked.

The search space names config entries as ``SECTION.KEY`` (an input's own
settings as ``spec.inputs.COLUMN.KEY``) and gives each a range or a list of
choices::

    search:
      model.hidden: {int: [16, 128], log: true}
      spec.lookback: {choice: [14, 28, 56]}
      spec.inputs.store.embed: {choice: [null, 4, 16]}    # null: one-hot
      training.lr: {float: [1.0e-4, 1.0e-2], log: true}

Reading it needs neither Optuna nor Lightning: ``lstmkit.cli.config`` parses it here, and
``lstmkit.tuning.tune`` runs the study that draws from it.

Example:
    >>> SearchSpace.parse({"model.hidden": {"int": [16, 128], "log": True}})
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..checks import check_mapping, closest
from ..cli.config_keys import MODEL_KEYS, SOURCE_KEYS, TRAINING_KEYS
from ..errors import ConfigError
from ..hyperparams import HARDWARE, KNOWN_AS
from ..model import LSTMModel
from ..spec import Spec, Split

if TYPE_CHECKING:
    import optuna

    from ..cli.config import RunConfig

KINDS = ("int", "float", "choice")
OPTIONS = (*KINDS, "log", "step")
NOT_SEARCHED = HARDWARE      # where training runs changes not what it finds
# An input's settings, searched as spec.inputs.COLUMN.KEY. Its kind, and every target
# setting, stay fixed: they change what the validation loss measures.
INPUT_KEYS = ("scaler", "embed")
INPUTS = "spec.inputs."


def searchable_keys() -> tuple[str, ...]:
    """The ``SECTION.KEY`` names a search space may vary."""
    return ("spec.lookback", *(f"model.{k}" for k in MODEL_KEYS),
            *(f"training.{k}" for k in TRAINING_KEYS if k not in NOT_SEARCHED),
            *(f"{INPUTS}COLUMN.{k}" for k in INPUT_KEYS))


def input_setting(key: str) -> tuple[str, str] | tuple[None, None]:
    """``(column, setting)`` for a key ``spec.inputs.COLUMN.SETTING``, else (None, None).

    The column name may itself hold dots; the setting is what follows the last one.
    """
    column, _, setting = key.removeprefix(INPUTS).rpartition(".")
    return (column, setting) if key.startswith(INPUTS) and column else (None, None)


@dataclass(frozen=True)
class Param:
    """One searched config entry: an int or float range, or a list of choices.

    Args:
        key: ``SECTION.KEY``, e.g. ``model.hidden``.
        kind: ``int``, ``float`` or ``choice``.
        values: ``(low, high)`` (both included) for a range, the choices otherwise.
        log: draw a range on a log scale.
        step: draw a range on a grid of this spacing from ``low``.
    """

    key: str
    kind: str
    values: tuple[Any, ...]
    log: bool = False
    step: int | float | None = None

    @classmethod
    def parse(cls, key: Any, raw: Any) -> Param:
        """From ``{int: [low, high]}``, ``{float: [low, high], log: true}``, ``{choice: [..]}``."""
        _check_key(key)
        where = f"search {key}"
        if not isinstance(raw, dict):
            listed = f"; a list of choices is written {{choice: {raw!r}}}" if isinstance(
                raw, list) else ""
            raise ConfigError(f"{where} must be a mapping like {{int: [16, 128]}}, {{float: "
                              f"[0.0001, 0.01], log: true}} or {{choice: [a, b]}}, got {raw!r}"
                              f"{listed}")
        check_mapping(raw, where, OPTIONS)
        kinds = [k for k in KINDS if k in raw]
        if len(kinds) != 1:
            raise ConfigError(f"{where} needs exactly one of {', '.join(KINDS)}, got "
                              f"{', '.join(kinds) or 'none'}")
        kind, values = kinds[0], raw[kinds[0]]
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: {kind} takes a non-empty list, got {values!r}")
        param = cls(key, kind, tuple(values), raw.get("log", False), raw.get("step"))
        param._check(where)
        return param

    def _check(self, where: str) -> None:
        if self.kind == "choice":
            for value in self.values:
                if not (value is None or isinstance(value, bool | int | float | str)):
                    raise ConfigError(f"{where}: choices must be plain values (numbers, strings, "
                                      f"true/false, null), got {value!r}")
            if len(set(map(repr, self.values))) < len(self.values):
                raise ConfigError(f"{where}: the choices {list(self.values)!r} repeat a value")
            if self.log or self.step is not None:
                raise ConfigError(f"{where}: log and step apply to int and float ranges only")
            return
        number = int if self.kind == "int" else int | float
        if len(self.values) != 2 or not all(_is(v, number) and math.isfinite(v)
                                            for v in self.values):
            text = [v for v in self.values if isinstance(v, str) and _is_number(v)]
            hint = (f" (YAML reads {text[0]} as text: write it with a dot, e.g. "
                    f"{float(text[0])!r})") if text else ""
            raise ConfigError(f"{where}: {self.kind} takes [low, high], two "
                              f"{'integers' if self.kind == 'int' else 'numbers'}, got "
                              f"{list(self.values)!r}{hint}")
        low, high = self.values
        if low > high:
            raise ConfigError(f"{where}: the range [{low}, {high}] is empty; write it [low, high]")
        if not isinstance(self.log, bool):
            raise ConfigError(f"{where}: log must be true or false, got {self.log!r}")
        if self.log and low <= 0:
            raise ConfigError(f"{where}: a log-scale range needs low > 0, got {low}")
        if self.step is not None:
            if not _is(self.step, number) or not self.step > 0:
                raise ConfigError(f"{where}: step must be a positive "
                                  f"{'integer' if self.kind == 'int' else 'number'}, got "
                                  f"{self.step!r}")
            if self.log:
                raise ConfigError(f"{where}: use either log or step, not both")

    def check_values(self, config: RunConfig) -> None:
        """Raise ``ConfigError`` naming the key if a bound or choice is invalid on its own."""
        features = {f.name: f for f in config.spec.inputs}
        column, setting = input_setting(self.key)
        if column is not None and column not in features:
            raise ConfigError(f"search {self.key}: {column!r} is not an input of the spec"
                              f"{closest(column, list(features))}; inputs: "
                              f"{', '.join(features)}")
        section, _, name = self.key.partition(".")
        labels = ("the lower bound", "the upper bound") if self.kind != "choice" else None
        for i, value in enumerate(self.values):
            try:
                if column is not None:
                    dataclasses.replace(features[column], **{setting: value})
                elif section == "spec":
                    dataclasses.replace(config.spec, **{name: value})
                else:
                    LSTMModel(**{name: value}).check_params()
            except ConfigError as exc:
                what = labels[i] if labels else "the choice"
                raise ConfigError(f"search {self.key}: {what} {value!r} is invalid: {exc}"
                                  ) from None

    def suggest(self, trial: optuna.Trial) -> Any:
        """Draw this entry's value for ``trial``."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.values))
        low, high = self.values
        if self.kind == "int":
            return trial.suggest_int(self.key, low, high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, float(low), float(high), step=self.step,
                                   log=self.log)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {self.kind: list(self.values)}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    """The ``search`` section of a config: the entries a study varies.

    Example:
        >>> SearchSpace.parse({"model.hidden": {"int": [16, 128], "log": True}})
    """

    params: tuple[Param, ...]

    @classmethod
    def parse(cls, raw: Any) -> SearchSpace:
        if not isinstance(raw, dict) or not raw:
            raise ConfigError("section 'search' must map config keys to ranges, e.g. "
                              f"model.hidden: {{int: [16, 128]}}, got {raw!r}")
        return cls(tuple(Param.parse(key, value) for key, value in raw.items()))

    def check(self, config: RunConfig) -> None:
        """Check every bound and choice against the config it varies."""
        for param in self.params:
            param.check_values(config)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """The trial's value of every entry, by ``SECTION.KEY``."""
        return {param.key: param.suggest(trial) for param in self.params}

    def to_dict(self) -> dict[str, Any]:
        return {param.key: param.to_dict() for param in self.params}


def _check_key(key: Any) -> None:
    keys = searchable_keys()
    if key in keys:
        return
    column, setting = input_setting(str(key))
    if setting in INPUT_KEYS:
        return
    if column is not None:
        raise ConfigError(f"search key {key!r}: {setting!r} is not a searchable setting of an "
                          f"input{closest(setting, INPUT_KEYS)}; those are "
                          f"{', '.join(INPUT_KEYS)}")
    section, _, name = str(key).partition(".")
    fixed = {"spec": [f.name for f in dataclasses.fields(Spec)], "data": SOURCE_KEYS,
             "split": [f.name for f in dataclasses.fields(Split)], "test": SOURCE_KEYS,
             "training": NOT_SEARCHED}
    if name in fixed.get(section, ()):
        raise ConfigError(f"search key {key!r} cannot be searched: trials are compared on the "
                          "same data, split, task and device; searchable keys: "
                          f"{', '.join(keys)}")
    meant = [k for k in (f"{s}.{KNOWN_AS.get(name, name)}" for s in ("model", "training"))
             if k in keys]           # a parameter under the other section, or its Keras name
    hint = f" (did you mean {meant[0]!r}?)" if meant else closest(key, keys)
    raise ConfigError(f"unknown search key {key!r}{hint}; searchable keys: {', '.join(keys)}")


def _is(value: Any, kind: Any) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
