"""The module paths lstmkit had before it was grouped by job keep importing, with a warning.

``import lstmkit.onnx_predict`` gives the module now at ``lstmkit.deploy.onnx_model`` (the
same module object) and a ``DeprecationWarning`` that names the new path; what the old
``lstmkit.cli`` and ``lstmkit.training`` modules held is reached through their packages.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

MOVED = {
    "lstmkit.train_config": "lstmkit.training.config",
    "lstmkit.checkpoint": "lstmkit.training.checkpoint",
    "lstmkit.losses": "lstmkit.training.losses",
    "lstmkit.artifact": "lstmkit.storage.artifact",
    "lstmkit.saved_files": "lstmkit.storage.saved_files",
    "lstmkit.files": "lstmkit.storage.files",
    "lstmkit.card": "lstmkit.storage.card",
    "lstmkit.export": "lstmkit.deploy.export",
    "lstmkit.onnx_predict": "lstmkit.deploy.onnx_model",
    "lstmkit.serve": "lstmkit.deploy.serve",
    "lstmkit.batch": "lstmkit.deploy.batch",
    "lstmkit.backtest": "lstmkit.analysis.backtest",
    "lstmkit.plots": "lstmkit.analysis.plots",
    "lstmkit.tune": "lstmkit.tuning.tune",
    "lstmkit.search": "lstmkit.tuning.search",
    "lstmkit.config": "lstmkit.cli.config",
    "lstmkit.config_keys": "lstmkit.cli.config_keys",
    "lstmkit.runs": "lstmkit.cli.runs",
    "lstmkit.tracking": "lstmkit.cli.tracking",
}


def moved(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is now ``new`` (``stacklevel``: the caller of the import)."""
    warnings.warn(f"{old} moved to {new}; import it from there (the old path goes in a later "
                  "release)", DeprecationWarning, stacklevel=stacklevel)


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path of ``MOVED`` and loads it as the module at its new path."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec: Any) -> ModuleType:
        moved(spec.name, MOVED[spec.name])
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is already loaded."""


def forward(package: str, module: str, name: str) -> Any:
    """``name`` of ``module``, asked of ``package`` (the old module of the same path)."""
    if name.startswith("__"):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    if importlib.util.find_spec(f"{package}.{name}") is not None:   # a module of the package
        return importlib.import_module(f"{package}.{name}")
    moved(f"{package}.{name}", f"{module}.{name}", stacklevel=4)
    try:
        return getattr(importlib.import_module(module), name)
    except AttributeError:
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None


def install() -> None:
    """Let the old paths import (``lstmkit/__init__`` calls it once)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
