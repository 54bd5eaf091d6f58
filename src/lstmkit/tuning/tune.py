"""Hyperparameter search with Optuna: the study over a config's ``search`` section.

The search space (``SECTION.KEY`` entries with ranges or choices) is read and
checked by ``lstmkit.tuning.search``. Every trial fits on the training part and is scored
by its lowest validation loss (the same loss early stopping watches); the test part
is never read. Each epoch's validation loss is reported to Optuna, so its pruner can
stop bad trials early. A trial whose combination of values is invalid fails with the
message and the study goes on.

Example:
    >>> config = RunConfig.read("examples/seattle_weather_tune.yaml")
    >>> study = create_study(config, storage="sqlite:///study.db", name="seattle")
    >>> optimize(study, config, trials=20)
    >>> best_config(config, study).to_dict()
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import pandas as pd
import yaml
from lightning.pytorch.callbacks import Callback

from ..checks import check_positive_int
from ..cli.config import RunConfig, fit_arguments
from ..cli.tracking import epoch_number
from ..errors import BaselineWarning, ConfigError, LSTMKitError, TrainingError
from ..storage import files
from .search import input_setting

if TYPE_CHECKING:
    import optuna

OUTPUTS = ("best.yaml", "trials.csv")   # written into the run directory
FIRST_LINES = {"best.yaml": "# The best of ", "trials.csv": "trial,state,val_loss,"}   # theirs
INSTALL = "pip install 'lstmkit[tune]' (or: pip install 'optuna>=3.5')"


def with_values(config: RunConfig, values: dict[str, Any]) -> RunConfig:
    """``config`` with the ``SECTION.KEY`` entries replaced and no search; checked."""
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
        data: the loaded training data (``config.data.load(config.spec)`` when None), read once
            for all trials.

    Returns:
        A function of an Optuna trial. An invalid combination of values, or data too
        short for the drawn lookback, raises the ``LSTMKitError`` after storing its
        message as the trial's ``error`` attribute.
    """
    check_tunable(config)
    table, y = fit_arguments(config.data.load(config.spec) if data is None else data)

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
