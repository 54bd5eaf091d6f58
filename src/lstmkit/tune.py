"""Hyperparameter search with Optuna: the ``search`` section of a config, and the study.

The search space names config entries as ``SECTION.KEY`` (an input's own
settings as ``spec.inputs.COLUMN.KEY``) and gives each a range or a list of
choices::

    search:
      model.hidden: {int: [16, 128], log: true}
      spec.lookback: {choice: [14, 28, 56]}
      spec.inputs.store.embed: {choice: [null, 4, 16]}    # null: one-hot
      training.lr: {float: [1.0e-4, 1.0e-2], log: true}

Every trial fits on the training part and is scored by its lowest validation
loss (the same loss early stopping watches); the test part is never read. Each
epoch's validation loss is reported to Optuna, so its pruner can stop bad trials
early. A trial whose combination of values is invalid fails with the message and
the study goes on.

Example:
    >>> config = RunConfig.read("examples/seattle_weather_tune.yaml")
    >>> study = create_study(config, storage="sqlite:///study.db", name="seattle")
    >>> optimize(study, config, trials=20)
    >>> best_config(config, study).to_dict()
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import pandas as pd
import yaml
from lightning.pytorch.callbacks import Callback

from . import files
from .checks import check_mapping, check_positive_int, closest
from .errors import BaselineWarning, ConfigError, LSTMKitError, TrainingError
from .model import LSTMModel
from .spec import Spec, Split
from .tracking import epoch_number

if TYPE_CHECKING:
    import optuna

    from .config import RunConfig

KINDS = ("int", "float", "choice")
OPTIONS = (*KINDS, "log", "step")
NOT_SEARCHED = ("progress", "accelerator", "devices", "num_nodes", "strategy")   # hardware
# An input's settings, searched as spec.inputs.COLUMN.KEY. Its kind, and every target
# setting, stay fixed: they change what the validation loss measures.
INPUT_KEYS = ("scaler", "embed")
INPUTS = "spec.inputs."
OUTPUTS = ("best.yaml", "trials.csv")   # written into the run directory
FIRST_LINES = {"best.yaml": "# The best of ", "trials.csv": "trial,state,val_loss,"}   # theirs
INSTALL = "pip install 'lstmkit[tune]' (or: pip install 'optuna>=3.5')"


def searchable_keys() -> tuple[str, ...]:
    """The ``SECTION.KEY`` names a search space may vary."""
    from .config import MODEL_KEYS, TRAINING_KEYS

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
            raise ConfigError(f"{where} must be a mapping like {{int: [16, 128]}}, {{float: "
                              f"[0.0001, 0.01], log: true}} or {{choice: [a, b]}}, got {raw!r}")
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


def with_values(config: RunConfig, values: dict[str, Any]) -> RunConfig:
    """``config`` with the ``SECTION.KEY`` entries replaced and no search; checked."""
    from .config import RunConfig

    raw = config.to_dict()
    raw.pop("search", None)
    for key, value in values.items():
        column, setting = input_setting(key)
        if column is not None:
            feature = next(f for f in raw["spec"]["inputs"] if f["name"] == column)
            feature[setting] = value
        else:
            section, name = key.split(".")
            raw[section][name] = value
    return RunConfig.from_dict(raw)


def require_optuna() -> Any:
    """The ``optuna`` module, or an error that says what to install."""
    try:
        import optuna
    except ImportError:
        raise LSTMKitError(f"hyperparameter search needs Optuna, which is not installed: "
                           f"{INSTALL}") from None
    return optuna


class ReportValidationLoss(Callback):
    """Reports every epoch's validation loss to an Optuna trial; prunes when told to."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def on_validation_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(loss), step=epoch)
        if self.trial.should_prune():
            raise require_optuna().TrialPruned(f"validation loss {float(loss):.4g} in epoch "
                                               f"{epoch_number(epoch)} is worse than earlier "
                                               "trials'")


def objective(config: RunConfig, data: Any = None) -> Callable[[optuna.Trial], float]:
    """The function Optuna minimises: a trial's lowest validation loss.

    Args:
        config: the base config with a ``search`` section.
        data: the loaded training data (``config.data.load()`` when None), read once
            for all trials.

    Returns:
        A function of an Optuna trial. An invalid combination of values, or data too
        short for the drawn lookback, raises the ``LSTMKitError`` after storing its
        message as the trial's ``error`` attribute.
    """
    from .config import fit_arguments

    check_tunable(config)
    table, y = fit_arguments(config.data.load() if data is None else data)

    def run_trial(trial: optuna.Trial) -> float:
        values = config.search.suggest(trial)
        try:
            model = with_values(config, values).build_model()
            model.progress = False
            with warnings.catch_warnings():   # trials compete on their validation loss
                warnings.simplefilter("ignore", BaselineWarning)
                model.fit(table, y, callbacks=[ReportValidationLoss(trial)])
            if model.history_["best_val_loss"] is None:
                raise TrainingError("no epoch had a finite validation loss")
        except LSTMKitError as exc:
            trial.set_user_attr("error", " ".join(str(exc).split()))
            raise
        trial.set_user_attr("epochs", len(model.history_["epochs"]))
        trial.set_user_attr("best_epoch", model.history_["best_epoch"])
        return model.history_["best_val_loss"]

    return run_trial


def default_storage(run_dir: Path) -> str:
    """``sqlite:///RUN_DIR/study.db``: a file beside the results, resumed by the next run."""
    return f"sqlite:///{run_dir / 'study.db'}"


def study_exists(storage: str, name: str) -> bool:
    """Whether ``storage`` already holds a study called ``name`` (a SQLite file that does not
    exist holds none, and is not created by asking)."""
    sqlite = "sqlite:///"
    if storage.startswith(sqlite) and not Path(storage[len(sqlite):]).exists():
        return False
    return name in require_optuna().get_all_study_names(storage)


def create_study(config: RunConfig, storage: str | None = None, name: str | None = None,
                 seed: int = 0, pruner: Any = None) -> optuna.Study:
    """Create the study, or load it from ``storage`` to continue it.

    Args:
        config: the config the study tunes (checked to have a search section).
        storage: an Optuna storage URL (``sqlite:///study.db``); None keeps it in memory.
        name: the study's name in the storage.
        seed: seeds the sampler (TPE); a continued study reseeds with ``seed`` plus its
            number of trials so that it does not draw the first run's values again.
        pruner: an Optuna pruner; ``MedianPruner()`` by default.
    """
    optuna = require_optuna()
    check_tunable(config)
    study = optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                pruner=pruner or optuna.pruners.MedianPruner(),
                                load_if_exists=True)
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards the requested number: complete, pruned or invalid.

    A trial that was interrupted (or crashed) does not count, so the next run
    makes up for it.
    """
    from optuna.trial import TrialState

    return [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and "error" in t.user_attrs)]


def optimize(study: optuna.Study, config: RunConfig, trials: int, timeout: float | None = None,
             callbacks: Sequence[Callable] = (), data: Any = None) -> None:
    """Run trials until ``study`` has ``trials`` finished ones (or ``timeout`` seconds pass).

    Args:
        study: from ``create_study``.
        config: the base config with a ``search`` section.
        trials: the number of finished trials to reach, counting earlier runs'.
        timeout: stop starting new trials after this many seconds.
        callbacks: Optuna callbacks ``f(study, trial)``, called after every trial.
        data: the loaded training data; read from ``config`` when None.
    """
    check_positive_int("the number of trials", trials)
    remaining = trials - len(finished(study))
    if remaining > 0:
        study.optimize(objective(config, data), n_trials=remaining, timeout=timeout,
                       catch=(LSTMKitError,), callbacks=list(callbacks))


def best_trials(study: optuna.Study, n: int = 5) -> list[optuna.trial.FrozenTrial]:
    """The ``n`` complete trials with the lowest validation loss, best first."""
    from optuna.trial import TrialState

    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    return sorted(done, key=lambda t: t.value)[:n]


def best_config(config: RunConfig, study: optuna.Study) -> RunConfig:
    """``config`` with the best trial's values and without the search section."""
    best = best_trials(study, 1)
    if not best:
        errors = [t.user_attrs["error"] for t in finished(study) if "error" in t.user_attrs]
        raise TrainingError(f"none of the {len(study.trials)} trials of study "
                            f"{study.study_name!r} completed"
                            + (f"; the last error: {errors[-1]}" if errors else
                               "; run more trials, or relax the pruner"))
    return with_values(config, best[0].params)


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, validation loss, epochs, values and any error."""
    rows = []
    for t in study.trials:
        duration = None if t.duration is None else t.duration.total_seconds()
        rows.append({"trial": t.number, "state": t.state.name.lower(), "val_loss": t.value,
                     "epochs": t.user_attrs.get("epochs", len(t.intermediate_values) or None),
                     "seconds": duration, **t.params, "error": t.user_attrs.get("error")})
    return pd.DataFrame(rows)


def write_results(config: RunConfig, study: optuna.Study, run_dir: Path) -> Path:
    """Write ``best.yaml`` (ready for ``lstmkit fit``) and ``trials.csv``; returns best.yaml.

    Each file is written under a temporary name and renamed, so a failed write
    leaves the previous file as it was. The best config trains into
    ``RUN_DIR/best``.
    """
    best = best_config(config, study)
    value = best_trials(study, 1)[0].value
    resolved = {**best.to_dict(), "run_dir": os.path.abspath(run_dir / "best")}
    header = (f"{FIRST_LINES['best.yaml']}{len(finished(study))} trials of study "
              f"{study.study_name!r} (validation loss {value:.6g}), written by lstmkit tune.\n"
              f"#   lstmkit fit {run_dir / 'best.yaml'}\n")
    path = run_dir / "best.yaml"
    files.write_text(path, header + yaml.safe_dump(resolved, sort_keys=False))
    files.write_text(run_dir / "trials.csv", trials_frame(study).to_csv(index=False))
    return path


def check_outputs(run_dir: Path, continuing: bool, overwrite: bool) -> None:
    """Refuse to replace result files a new study did not write, unless ``overwrite``, and
    then only result files that ``lstmkit tune`` wrote."""
    if continuing:
        return
    for name in OUTPUTS:
        path = run_dir / name
        if path.exists() and not overwrite:
            raise ConfigError(f"{files.shown(path)} already exists and this is a new study; "
                              "pass --overwrite to replace it, --run-dir to write elsewhere, "
                              "or --study to continue the study that wrote it")
        files.check_output_file(path, overwrite, kind="tune result", is_own=_written_by_tune)


def _written_by_tune(path: Path) -> bool:
    """Whether ``path`` (best.yaml or trials.csv) begins as ``write_results`` writes it."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith(FIRST_LINES[path.name])


def check_tunable(config: RunConfig) -> None:
    """Raise ``ConfigError`` unless ``config`` has a search section and a validation part."""
    if config.search is None:
        raise ConfigError("the config has no 'search' section; add one that names the values to "
                          "try (see examples/seattle_weather_tune.yaml)")
    if config.split.val_start is None:
        raise ConfigError("tuning selects on the validation part, but split.val_start is unset; "
                          "set it (e.g. 0.7)")


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
    from .config import SOURCE_KEYS

    section, _, name = str(key).partition(".")
    fixed = {"spec": [f.name for f in dataclasses.fields(Spec)], "data": SOURCE_KEYS,
             "split": [f.name for f in dataclasses.fields(Split)], "test": SOURCE_KEYS,
             "training": NOT_SEARCHED}
    if name in fixed.get(section, ()):
        raise ConfigError(f"search key {key!r} cannot be searched: trials are compared on the "
                          "same data, split, task and device; searchable keys: "
                          f"{', '.join(keys)}")
    raise ConfigError(f"unknown search key {key!r}{closest(key, keys)}; searchable keys: "
                      f"{', '.join(keys)}")


def _is(value: Any, kind: Any) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
