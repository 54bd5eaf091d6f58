"""How to train, as plain checked values: ``TrainConfig`` and the hardware it asks for.

Lightning-free to import, so that the estimator (``lstmkit.model``) and the config reader
hold training settings without loading the trainer (``lstmkit.training.loop``): predicting
never imports Lightning. Lightning is imported only to check a strategy name other than
``auto`` or a multi-node launch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from ..checks import check_choice, check_int, check_number, check_positive_int, quote
from ..conformal import check_coverage
from ..errors import ConfigError

OPTIMIZERS = ("adam", "adamw")
PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "64-true")
# Lightning 1.x's names, which stood for mixed precision (not the closest spelling, bf16-true)
SHORT_PRECISIONS = {"bf16": "bf16-mixed", "16": "16-mixed", 16: "16-mixed", "64": "64-true",
                    64: "64-true", 32: "32-true"}
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
MAX_SEED = 2**32 - 1       # numpy's and Lightning's seeds are 32-bit
# Where a launcher puts this process's rank, in the order Lightning reads them.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


@dataclass(frozen=True)
class TrainConfig:
    """How to train, checked: ``LSTMModel``'s training parameters but ``split``
    (``lstmkit.hyperparams.Training``, where each is described) and its hardware
    parameters (``lstmkit.hyperparams.Hardware``), with ``lr`` and ``batch_size`` resolved
    (the preset's or the data's where the user left them unset). A test checks that the
    fields are those.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 100
    patience: int = 10
    grad_clip: float | None = 1.0
    seed: int = 0
    progress: bool = True
    accelerator: str = "auto"
    devices: int | str | list = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    calibrate: bool = True
    coverage: float | list[float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.calibrate, bool):
            raise ConfigError(f"calibrate must be true or false, got {quote(self.calibrate)}")
        if self.coverage not in (None, []):
            check_coverage(self.coverage)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if isinstance(self.precision, str | int) and self.precision in SHORT_PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is Lightning's old name of "
                              f"{SHORT_PRECISIONS[self.precision]!r}: write precision="
                              f"{SHORT_PRECISIONS[self.precision]!r}")
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("batch_size", "max_epochs", "num_nodes"):
            check_positive_int(name, getattr(self, name))
        check_int("patience", self.patience, 0)
        check_int("seed", self.seed, 0, MAX_SEED, why="numpy and Lightning take 32-bit seeds")
        check_number("lr", self.lr, 0, open_low=True)
        check_number("lr_decay", self.lr_decay, 0, 1, open_low=True)
        check_number("weight_decay", self.weight_decay, 0)
        check_number("grad_clip", self.grad_clip, 0, open_low=True, allow_none=True)
        check_hardware(self.accelerator, self.devices, self.num_nodes, self.strategy)


def check_hardware(accelerator: Any, devices: Any, num_nodes: int, strategy: Any) -> None:
    """Raise ``ConfigError`` unless this machine has the accelerator and devices asked for,
    and a multi-node run was started by a cluster launcher (else it would wait forever)."""
    check_choice("accelerator", accelerator, ACCELERATORS)
    if not isinstance(strategy, str):
        raise ConfigError(f"strategy must be a Lightning strategy name such as 'ddp', got "
                          f"{quote(strategy)}")
    if strategy != "auto":       # any other name is checked against Lightning's registry
        check_choice("strategy", strategy, strategies())
    kind, present = _present_devices(accelerator)
    if isinstance(devices, list | tuple):
        _check_device_ids(devices, kind, present)
    elif devices != "auto":
        check_int("devices (a count, 'auto' or a list of GPU ids)", devices, 1)
        if devices > present:
            unit = "cores" if kind == "cpu" else f"{kind.upper()} devices"
            raise ConfigError(f"devices={devices} asks for {devices} {kind.upper()} training "
                              f"processes, but this machine has {present} {unit}; set devices "
                              f"to at most {present}, or 'auto'")
    if num_nodes > 1 and not _launched_on_a_cluster():
        raise ConfigError(f"num_nodes={num_nodes} needs one process per node started by a "
                          "launcher (torchrun, srun under SLURM, jsrun under LSF) or NODE_RANK "
                          "and MASTER_ADDR set on every node; started alone it would wait for "
                          "the other nodes forever. Launch it so, or set num_nodes to 1")


def _present_devices(accelerator: str) -> tuple[str, int]:
    """The kind of device ``accelerator`` trains on here (cpu, cuda, mps) and how many."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not cuda and not (accelerator == "gpu" and mps):
        raise ConfigError(f"accelerator {accelerator!r} needs a CUDA GPU, but torch sees none "
                          f"here (torch.cuda.is_available() is False, torch "
                          f"{torch.__version__}); use accelerator 'cpu' or 'auto', or install "
                          "a CUDA build of torch on a machine with a GPU")
    if accelerator == "mps" and not mps:
        raise ConfigError("accelerator 'mps' needs an Apple GPU, and torch sees none here; use "
                          "accelerator 'cpu' or 'auto'")
    if accelerator in ("gpu", "cuda", "auto") and cuda:
        return "cuda", torch.cuda.device_count()
    if accelerator in ("gpu", "mps", "auto") and mps:
        return "mps", 1
    return "cpu", os.cpu_count() or 1


def _check_device_ids(ids: list | tuple, kind: str, present: int) -> None:
    if kind == "cpu":
        raise ConfigError(f"devices {quote(ids)} is a list of GPU ids, but training runs on "
                          "the CPU; give the number of processes instead, e.g. devices: 2")
    if not ids or len(set(ids)) < len(ids):
        raise ConfigError(f"devices {quote(ids)} must list each GPU id once, and at least one")
    for gpu in ids:
        check_int("a GPU id in devices", gpu, 0, present - 1)


def strategies() -> tuple[str, ...]:
    """The strategy names Lightning knows (it is imported here: training is about to need it)."""
    from lightning.pytorch.strategies import StrategyRegistry

    return ("auto", *StrategyRegistry.available_strategies())


def _launched_on_a_cluster() -> bool:
    """Whether a launcher Lightning recognises started this process, or NODE_RANK is set."""
    if "NODE_RANK" in os.environ:
        return True
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    return any(
        env.detect() for env in (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment))


def global_rank() -> int:
    """This process's rank among data-parallel workers (0: the one that reports and saves).

    torch.distributed's once a process group is set up (by a data-parallel fit), else
    the launcher's environment (as Lightning reads it), else 0.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    for name in RANK_VARIABLES:
        if name in os.environ:
            return int(os.environ[name])
    return 0
