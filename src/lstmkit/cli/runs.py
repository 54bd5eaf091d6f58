"""Run directories: what ``lstmkit fit`` leaves behind, written the same way from Python.

A run directory is a model directory (``config.json``, ``weights.safetensors``, the
``README.md`` model card: ``lstmkit.storage.artifact``) with the run's record beside it:

* ``metrics.json``: the scores on the test data beside the naive baselines (``scored_on``
  says which data), and the ``validation`` verdict;
* ``metrics.csv``: loss and learning rate per epoch; ``environment.json``: versions,
  machine, command (``lstmkit.cli.tracking``);
* ``config.yaml``: the resolved config, defaults filled in and paths absolute;
* the plots that suit the model (``lstmkit.analysis.plots.save_run``), and ``tensorboard/`` where
  the run logged there.

While ``lstmkit fit`` trains, the directory holds the training checkpoint in
``checkpoints/`` (an unfinished run, which ``--resume`` continues). The names are
``lstmkit.storage.files``'s, which tells lstmkit's own directories by them. A run directory is
written whole (``files.atomic_directory``): into a new or empty directory, or, with
``overwrite``, over a model or run directory that holds nothing but lstmkit's files.

Example:
    >>> model = LSTMModel(spec, max_epochs=20).fit(df)
    >>> run = write_run(model, "runs/etth1", df)      # `lstmkit runs` lists it
    >>> run.scored_on
    'the test part'
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from ..errors import ConfigError, DataError
from ..metrics import Evaluation
from ..storage import files
from . import tracking

if TYPE_CHECKING:
    from ..model import LSTMModel
    from .config import RunConfig


@dataclass(frozen=True)
class Run:
    """A run directory just written.

    Args:
        path: the directory.
        evaluation: the scores written to ``metrics.json``.
        scored_on: the data they were computed on, in words.
        plots: the names of the plots written.
    """

    path: Path
    evaluation: Evaluation
    scored_on: str
    plots: list[str]


def write_run(model: LSTMModel, directory: str | Path, data: Any, y: Any = None, *,
              test: Any = None, config: RunConfig | None = None, overwrite: bool = False,
              reading: Iterable[str | Path] = ()) -> Run:
    """Score a fitted model and write its run directory, the same as ``lstmkit fit`` does.

    Args:
        model: a fitted ``LSTMModel``.
        directory: where to write: a new or empty directory, or (``overwrite``) a model or
            run directory that holds only lstmkit's files.
        data: what the model was fitted on: a table, or arrays ``X`` (with ``y``).
        y: the targets when ``data`` is arrays.
        test: data to score on, a table or ``(X, y)``; None: the split's test part of
            ``data`` (its validation part where the split has no test part).
        config: the ``RunConfig`` the model was built from, written as ``config.yaml``
            (its ``test`` names the test data); None: ``config.yaml`` holds the model's
            spec, model, training and split sections.
        overwrite: replace a model or run directory lstmkit wrote; never anything else.
        reading: files being read (a config, the data), which ``directory`` may not hold.

    Returns:
        The ``Run``: its path, scores and plots.

    Raises:
        ConfigError: ``directory`` may not be written (it holds files lstmkit did not
            write, or exists and ``overwrite`` is not given); nothing is scored then.

    Example:
        >>> write_run(model, "runs/etth1", df, overwrite=True).evaluation.table
    """
    directory, reading = Path(directory), [Path(p) for p in reading]
    files.check_output_dir(directory, files.MODEL, overwrite, reading)
    evaluation, scored_on = _score(model, data, y, test, config)
    metrics = {"scored_on": scored_on, **evaluation.to_dict(), "validation": model.validation_}
    with files.atomic_directory(directory, files.MODEL, overwrite, reading) as tmp:
        plots = _write_files(tmp, directory, model, metrics, evaluation, config,
                             data if y is None else None)
    return Run(directory, evaluation, scored_on, plots)


def check_run_dir(directory: Path, overwrite: bool = False, resume: bool = False,
                  reading: Iterable[Path] = ()) -> None:
    """What ``lstmkit fit`` checks before training: ``directory`` is new, or a run lstmkit
    wrote that it is asked to replace (``overwrite``) or to continue (``resume``, an
    unfinished one).

    Raises:
        ConfigError: naming the directory and the flag that would let the run write it.
    """
    if files.inspect_output_dir(directory, files.MODEL, reading) is None:
        return
    unfinished = files.unfinished_run(directory)
    shown = files.shown(directory)
    if unfinished and not (resume or overwrite):
        raise ConfigError(f"run directory {shown} holds an unfinished run; pass --resume to "
                          "continue it, --overwrite to start it again, or --run-dir to choose "
                          "another")
    if resume and not unfinished:
        raise ConfigError(f"run directory {shown} already exists and holds a finished run, "
                          "nothing to resume; pass --overwrite to replace it, or --run-dir to "
                          "choose another")
    files.check_replaceable(directory, files.MODEL, overwrite or resume)


def list_runs(root: Path) -> pd.DataFrame:
    """Finished runs under ``root``: one row each, with the headline metric per target."""
    rows = []
    for metrics_file in sorted(Path(root).glob(f"*/{files.METRICS}")):
        run = metrics_file.parent
        try:
            metrics = json.loads(metrics_file.read_text())
            config = json.loads((run / files.MODEL_CONFIG).read_text())
        except (OSError, json.JSONDecodeError):
            continue                      # not a finished lstmkit run: skip it
        history = config.get("history") or {}
        row = {"run": run.name, "task": config["spec"]["task"],
               "epochs": len(history.get("epochs", [])),
               "best_val_loss": history.get("best_val_loss"),
               "scored_on": metrics.get("scored_on"),
               "saved": pd.Timestamp(metrics_file.stat().st_mtime, unit="s").floor("s")}
        for target, scores in metrics.get("targets", {}).items():
            for name in ("MAE", "MASE", "accuracy"):          # MASE: comparable across tables
                if name in scores:
                    row[f"{target} {name}"] = scores[name]["model"]
        rows.append(row)
    return pd.DataFrame(rows)


def _score(model: LSTMModel, data: Any, y: Any, test: Any,
           config: RunConfig | None) -> tuple[Evaluation, str]:
    """The run's scores and the data they were computed on, in words."""
    if test is not None:
        test_data, test_y = test if isinstance(test, tuple) else (test, None)
        named = config is not None and config.test is not None
        return (model.evaluate(test_data, test_y),
                config.test.describe() if named else "the given test data")
    if model.split_.test_start is None:
        return model.evaluate(data, y, part="val"), "the val part"
    try:
        return model.evaluate(data, y, part="test"), "the test part"
    except DataError:     # after a fit, only an empty test part: the fit checked the rest
        return (model.evaluate(data, y, part="val"),
                "the val part (the test part holds no full window)")


def _write_files(tmp: Path, directory: Path, model: LSTMModel, metrics: dict[str, Any],
                 evaluation: Evaluation, config: RunConfig | None, table: Any) -> list[str]:
    """Write the run's files into ``tmp`` (to become ``directory``); returns the plots'
    names. ``table``: the forecast table to plot forecasts of, if there is one."""
    from ..analysis import plots
    from ..storage.artifact import write_model_files
    from .config import model_sections

    write_model_files(model, tmp, metrics)
    (tmp / files.METRICS).write_text(files.json_text(metrics), encoding="utf-8")
    settings = config.to_dict() if config is not None else model_sections(model)
    settings["run_dir"] = os.path.abspath(directory)
    (tmp / files.RUN_CONFIG).write_text(yaml.safe_dump(settings, sort_keys=False),
                                        encoding="utf-8")
    tracking.epochs_table(model.history_).to_csv(tmp / files.EPOCHS, index=False)
    (tmp / files.ENVIRONMENT).write_text(files.json_text(tracking.environment()),
                                         encoding="utf-8")
    if (directory / files.TENSORBOARD).is_dir():       # the run's loggers wrote there
        shutil.copytree(directory / files.TENSORBOARD, tmp / files.TENSORBOARD)
    return plots.save_run(model, evaluation, tmp, table)
