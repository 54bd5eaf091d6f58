"""Experiment tracking: what a run directory records of its training, and optional loggers.

Every run directory (``lstmkit.cli.runs``) holds ``metrics.csv`` (one row per epoch,
``epochs_table``) and ``environment.json`` (versions, machine, command,
``environment``) beside its config and scores. TensorBoard and MLflow
(a local SQLite file by default, ``./mlflow.db``: no server; MLflow 3 keeps
its older ``./mlruns`` directory store in maintenance mode and refuses it by
default) are optional, chosen in the config's ``tracking`` section::

    tracking: {tensorboard: true, mlflow: true}
    tracking: {mlflow: {tracking_uri: "sqlite:///mlflow.db", experiment: etth1}}
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..checks import check_mapping
from ..errors import ConfigError
from ..storage.files import TENSORBOARD

KEYS = ("tensorboard", "mlflow")
MLFLOW_KEYS = ("tracking_uri", "experiment")
PACKAGES = ("lstmkit", "torch", "lightning", "numpy", "pandas", "pyarrow", "safetensors")


@dataclass(frozen=True)
class Tracking:
    """Which loggers a run writes to, besides its own files.

    Args:
        tensorboard: write TensorBoard event files to ``RUN_DIR/tensorboard``.
        mlflow: log to MLflow: True (the local store ``./mlflow.db``) or a mapping
            with ``tracking_uri`` and ``experiment``.
    """

    tensorboard: bool = False
    mlflow: bool | dict[str, str] = False

    @classmethod
    def from_dict(cls, raw: Any) -> Tracking:
        if raw is None:
            return cls()
        check_mapping(raw, "section 'tracking'", KEYS)
        tensorboard, mlflow = raw.get("tensorboard", False), raw.get("mlflow", False)
        if not isinstance(tensorboard, bool):
            raise ConfigError(f"tracking tensorboard must be true or false, got {tensorboard!r}")
        if isinstance(mlflow, dict):
            check_mapping(mlflow, "tracking 'mlflow'", MLFLOW_KEYS)
        elif not isinstance(mlflow, bool):
            raise ConfigError(f"tracking mlflow must be true, false or a mapping with "
                              f"tracking_uri and experiment, got {mlflow!r}")
        return cls(tensorboard, mlflow)

    def to_dict(self) -> dict[str, Any]:
        return {"tensorboard": self.tensorboard, "mlflow": self.mlflow}

    def loggers(self, run_dir: Path, name: str) -> list[Any]:
        """Lightning loggers for a run saved to ``run_dir``, named ``name``."""
        loggers: list[Any] = []
        if self.tensorboard:
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(str(run_dir), name=TENSORBOARD, version="",
                                             default_hp_metric=False))
        if self.mlflow:
            from lightning.pytorch.loggers import MLFlowLogger

            options = self.mlflow if isinstance(self.mlflow, dict) else {}
            uri = options.get("tracking_uri", f"sqlite:///{Path('mlflow.db').resolve()}")
            loggers.append(MLFlowLogger(experiment_name=options.get("experiment", name),
                                        run_name=run_dir.name, tracking_uri=uri))
        return loggers


def environment() -> dict[str, Any]:
    """Versions, machine and command of this process, for ``environment.json``."""
    import torch

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpus": gpus, "packages": versions,
            "command": [Path(sys.argv[0]).name, *sys.argv[1:]], "cwd": str(Path.cwd())}


def epoch_number(index: int) -> int:
    """An epoch as people see it, counted from 1 (progress bar, metrics.csv, card, plots).

    ``history_`` keeps Lightning's index from 0, as 0.2.0 saved it: ``best_epoch`` indexes
    ``history_["epochs"]``.
    """
    return index + 1


def epochs_table(history: dict[str, Any]) -> pd.DataFrame:
    """One row per epoch: epoch (from 1), train_loss, val_loss (if validated), lr."""
    table = pd.DataFrame(history["epochs"])
    return table.assign(epoch=table["epoch"].map(epoch_number)) if len(table) else table
