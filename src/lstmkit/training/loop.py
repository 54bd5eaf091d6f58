"""How the network is trained: a LightningModule, the data module, callbacks and the Trainer.

The network (``lstmkit.nn``) says what is computed; this module says how it is
fitted: the multi-target loss, the optimiser, early stopping with the best
weights restored, gradient clipping, a progress bar, a fixed seed and
checkpoints that let a killed run continue to the same result. The settings it
takes (``TrainConfig``) live in ``lstmkit.training.config``, which loads no Lightning.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, RichProgressBar
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from ..checks import quote
from ..cli.tracking import epoch_number
from ..data.windows import Batch, Batches, Windows
from ..errors import ConfigError, TrainingError
from ..nn import LSTMNetwork
from . import checkpoint
from .checkpoint import Checkpoints, TrainingState
from .config import TrainConfig
from .losses import MultiTargetLoss

# Optimiser steps per Lightning training step, so that its bookkeeping is shared: about
# LIGHTNING_STEPS per epoch (progress bar updates), 8 to 64 batches each.
LIGHTNING_STEPS, MIN_GROUP, MAX_GROUP = 20, 8, 64


class LSTMTask(L.LightningModule):
    """The network with its loss and optimiser, as Lightning trains it.

    The optimisation step is written out here (Lightning's manual optimisation):
    zero the gradients, forward, backward through Lightning (which all-reduces them
    under DDP), clip, step. Lightning's automatic loop wraps every step in a closure
    and a dozen hooks, which costs more than a small LSTM's step itself; for the
    same reason each Lightning training step receives a group of batches and takes
    one optimiser step per batch, and backward skips Lightning's callback hooks
    where they would do nothing but call ``loss.backward()`` (``plain_backward``).
    """

    def __init__(self, network: LSTMNetwork, loss: MultiTargetLoss, config: TrainConfig) -> None:
        super().__init__()
        self.network, self.loss, self.config = network, loss, config
        self.teacher_forcing = network.decoder.feeds_back
        self.automatic_optimization = False
        self._loss_sum = torch.zeros(())
        self._count = 0
        # The same Parameter objects stay when Lightning moves the module to a device.
        self._trainable = [p for p in network.parameters() if p.requires_grad]
        self._plain_backward = False

    def on_train_start(self) -> None:
        self._plain_backward = plain_backward(self.trainer)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.network(batch["x"], batch.get("lengths"), future=batch.get("future"))

    def training_step(self, batches: list[Batch], group_idx: int) -> None:
        optimizer = self.optimizers(use_pl_optimizer=False)
        for batch in batches:
            self._optimizer_step(optimizer, batch)

    def _optimizer_step(self, optimizer: torch.optim.Optimizer, batch: Batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        teacher = batch["y"] if self.teacher_forcing else None
        outputs = self.network(batch["x"], batch.get("lengths"), teacher, batch.get("future"))
        loss = self.loss(outputs, batch["y"], batch.get("w"))
        if self._plain_backward:
            loss.backward()
        else:
            self.manual_backward(loss)
        if self.config.grad_clip is not None:
            clip_gradients([p.grad for p in self._trainable if p.grad is not None],
                           self.config.grad_clip)
        optimizer.step()
        # Summed here and logged once per epoch: no per-step logging or device syncs.
        self._loss_sum.add_(loss.detach(), alpha=len(batch["x"]))
        self._count += len(batch["x"])

    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._count = torch.zeros((), device=self.device), 0

    @property
    def epoch_loss(self) -> float:
        """Mean training loss of the epoch so far, over all data-parallel processes."""
        totals = torch.stack([self._loss_sum.to(self.device).float(),
                              torch.tensor(float(self._count), device=self.device)])
        if self.trainer.world_size > 1:
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        return float(totals[0]) / max(float(totals[1]), 1.0)

    def on_train_epoch_end(self) -> None:   # runs after the callbacks' hook (History logs)
        if self.config.lr_decay != 1.0:
            self.lr_schedulers().step()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss = self.loss(self(batch), batch["y"], batch.get("w"))
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["x"]),
                 sync_dist=self.trainer.world_size > 1)

    def configure_optimizers(self) -> dict[str, Any]:
        c = self.config
        kind = torch.optim.AdamW if c.optimizer == "adamw" else torch.optim.Adam
        # The fused kernel updates every parameter in one pass (CPU and CUDA).
        optimizer = kind(self.network.parameters(), lr=c.lr, weight_decay=c.weight_decay,
                         fused=True)
        schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=c.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": schedule}


def plain_backward(trainer: L.Trainer) -> bool:
    """Whether Lightning's backward would do nothing but ``loss.backward()``.

    True for one process in full precision when no callback listens to the
    backward hooks. Lightning's backward then only runs empty hooks, which costs a
    tenth of a millisecond a step: 5 % of an LSTM(32)'s (benchmarks/step_levers.py).
    DDP (gradient synchronisation), loss scaling and listening callbacks keep it.
    """
    listening = any(type(cb).on_before_backward is not Callback.on_before_backward
                    or type(cb).on_after_backward is not Callback.on_after_backward
                    for cb in trainer.callbacks)
    return (type(trainer.strategy) is SingleDeviceStrategy
            and type(trainer.precision_plugin) is Precision and not listening)


def clip_gradients(grads: list[torch.Tensor], max_norm: float) -> None:
    """Scale ``grads`` in place down to a total 2-norm of at most ``max_norm``.

    The arithmetic of ``torch.nn.utils.clip_grad_norm_`` in multi-tensor kernels,
    without its per-call grouping of tensors by device and type (the same at every
    step here, and costlier than clipping a small LSTM's gradients). On CPU, where
    reading the norm waits for nothing, gradients within the bound are left alone
    (half the time of always scaling them); on GPU the scale stays on the device.
    """
    if not grads:
        return
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    if norm.device.type != "cpu":
        torch._foreach_mul_(grads, (max_norm / (norm + 1e-6)).clamp(max=1.0))
    elif not (value := float(norm)) <= max_norm:       # a NaN norm scales too, as on GPU
        torch._foreach_mul_(grads, max_norm / (value + 1e-6))


class WindowData(L.LightningDataModule):
    """Training and validation windows, moved once to the training device."""

    def __init__(self, train: Windows, val: Windows | None, batch_size: int, seed: int) -> None:
        super().__init__()
        self.train, self.val, self.batch_size, self.seed = train, val, batch_size, seed

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device
        self.train = self.train.to(device)
        self.val = None if self.val is None else self.val.to(device)

    def train_dataloader(self) -> BatchGroups:
        batches = Batches(self.train, self.batch_size, shuffle=True, seed=self.seed,
                          rank=self.trainer.global_rank, world=self.trainer.world_size)
        size = min(MAX_GROUP, max(MIN_GROUP, len(batches) // LIGHTNING_STEPS))
        return BatchGroups(batches, size)

    def val_dataloader(self) -> Batches | list:
        if self.val is None:
            return []
        return Batches(self.val, max(self.batch_size, 256), rank=self.trainer.global_rank,
                       world=self.trainer.world_size)


class BatchGroups:
    """Consecutive batches in lists of up to ``size``: one Lightning step per list."""

    batch_sampler = None   # Lightning reads ``sampler`` (to call set_epoch) and this attribute

    def __init__(self, batches: Batches, size: int) -> None:
        self.batches, self.size, self.sampler = batches, size, batches.sampler

    def __len__(self) -> int:
        return math.ceil(len(self.batches) / self.size)

    def __iter__(self) -> Iterator[list[Batch]]:
        group: list[Batch] = []
        for batch in self.batches:
            group.append(batch)
            if len(group) == self.size:
                yield group
                group = []
        if group:
            yield group


class History(Callback):
    """Records the losses of every epoch and stops with a clear error if they diverge."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        loss = task.epoch_loss
        task.log("train_loss", loss, prog_bar=True, sync_dist=trainer.world_size > 1)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        metrics["train_loss"] = loss
        metrics["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        if not math.isfinite(loss):
            raise TrainingError(
                f"the training loss became {loss} in epoch {epoch_number(trainer.current_epoch)}; "
                "training stopped before saving a broken model. Lower the learning rate (now "
                f"lr={task.config.lr}; try lr={task.config.lr / 10:g}), "
                + ("keep gradient clipping on" if task.config.grad_clip is not None else
                   "turn gradient clipping back on (grad_clip=1.0, the default)")
                + ", and check that targets are scaled (scaler 'standard') and inputs hold no "
                "extreme values")
        self.epochs.append({"epoch": trainer.current_epoch, **metrics})


class BestWeights(Callback):
    """Keeps the weights of the epoch with the lowest validation loss and restores them."""

    def __init__(self) -> None:
        self.best, self.state, self.epoch = math.inf, None, None

    def on_validation_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None or not float(loss) < self.best:
            return
        self.best, self.epoch = float(loss), trainer.current_epoch
        self.state = copy.deepcopy(task.network.state_dict())

    def on_fit_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if self.state is not None:
            task.network.load_state_dict(self.state)


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar, its epochs counted as everywhere else: "Epoch 1/30"."""

    def _get_train_description(self, current_epoch: int) -> str:
        text = f"Epoch {epoch_number(current_epoch)}/{self.trainer.max_epochs}"
        return f"{text:{len(self.validation_description)}}"   # as wide as "Validation"


class Checkpointer(Callback):
    """Writes the training state at the start of every epoch; restores it on resume.

    The state at the start of epoch ``e`` is everything epochs ``e, e+1, ...``
    depend on, so a run killed anywhere in epoch ``e`` and resumed from it ends
    with the same weights as a run never interrupted (same seed, CPU, one thread:
    several threads make even uninterrupted runs differ in the last digits).
    """

    def __init__(self, plan: Checkpoints, history: History, best: BestWeights,
                 stopper: EarlyStopping | None) -> None:
        self.plan, self.history, self.best, self.stopper = plan, history, best, stopper
        self.pending = plan.resume

    def on_train_epoch_start(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if self.pending is not None:
            self._restore(trainer, task, self.pending)
            self.pending = None
        elif trainer.current_epoch > 0 and trainer.is_global_zero:
            checkpoint.write(self.plan.directory, self._state(trainer, task))

    def _state(self, trainer: L.Trainer, task: L.LightningModule) -> TrainingState:
        moments, groups = checkpoint.optimizer_state(trainer.optimizers[0])
        tensors = checkpoint.sectioned("network", task.network.state_dict())
        tensors.update(checkpoint.sectioned("best", self.best.state or {}))
        tensors.update(moments)
        tensors["rng"] = torch.get_rng_state()
        stopping = None
        if self.stopper is not None:
            stopping = {k: float(v) if torch.is_tensor(v) else v
                        for k, v in self.stopper.state_dict().items()}
        meta = {"next_epoch": trainer.current_epoch, "finished": False,
                "fingerprint": self.plan.fingerprint, "history": self.history.epochs,
                "optimizer": groups, "scheduler": trainer.lr_scheduler_configs[0].scheduler
                .state_dict(), "early_stopping": stopping,
                "best": {"loss": self.best.best, "epoch": self.best.epoch}}
        return TrainingState(tensors, meta)

    def _restore(self, trainer: L.Trainer, task: L.LightningModule,
                 state: TrainingState) -> None:
        meta = state.meta
        task.network.load_state_dict(state.section("network"))
        checkpoint.load_optimizer(trainer.optimizers[0], state)
        trainer.lr_scheduler_configs[0].scheduler.load_state_dict(meta["scheduler"])
        if self.stopper is not None and meta["early_stopping"] is not None:
            stopping = dict(meta["early_stopping"])
            stopping["best_score"] = torch.tensor(stopping["best_score"])
            self.stopper.load_state_dict(stopping)
        self.best.best, self.best.epoch = meta["best"]["loss"], meta["best"]["epoch"]
        self.best.state = state.section("best") or None
        self.history.epochs = list(meta["history"])
        torch.set_rng_state(state.tensors["rng"])


def check_callbacks(callbacks: Any) -> None:
    """Raise ``ConfigError`` unless ``callbacks`` is a list of Lightning callbacks (a Keras
    callback, or one callback not in a list, would fail inside Lightning's loop)."""
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Sequence):
        raise ConfigError(f"callbacks must be a list of Lightning callbacks, got a "
                          f"{type(callbacks).__name__}; pass callbacks=[callback]")
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise ConfigError(
                f"callbacks[{i}] is a {type(callback).__module__}.{type(callback).__name__}, "
                "not a Lightning callback (lightning.pytorch.callbacks.Callback); lstmkit "
                "trains with Lightning, and has early stopping (LSTMModel(patience=...)), "
                "checkpoints (fit(checkpoint_dir=...)) and loggers (fit(loggers=[...])) built in")


def train(network: LSTMNetwork, loss: MultiTargetLoss, train_windows: Windows,
          val_windows: Windows | None, config: TrainConfig,
          checkpoints: Checkpoints | None = None, loggers: list[Any] | None = None,
          callbacks: Sequence[Callback] = ()) -> dict[str, Any]:
    """Fit ``network`` in place; returns the per-epoch history and the best epoch.

    With ``checkpoints`` the training state is saved every epoch, and a run that
    resumes from a finished checkpoint just takes its weights. ``loggers``
    (Lightning loggers: TensorBoard, MLflow, ...) receive the per-epoch losses.
    ``callbacks`` are extra Lightning callbacks (e.g. one that reports each epoch's
    validation loss).
    """
    resume = None if checkpoints is None else checkpoints.resume
    if resume is not None and resume.meta["finished"]:
        network.load_state_dict(resume.section("network"))
        return resume.meta["result"]
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    task = LSTMTask(network, loss, config)
    data = WindowData(train_windows, val_windows, config.batch_size, config.seed)
    history, best = History(), BestWeights()
    callbacks = [history, best, *callbacks]
    stopper = None
    if val_windows is not None:
        stopper = EarlyStopping("val_loss", patience=config.patience, mode="min")
        callbacks.append(stopper)
    if checkpoints is not None:
        callbacks.append(Checkpointer(checkpoints, history, best, stopper))
    if config.progress:
        callbacks.append(ProgressBar(leave=True))
    hardware = dict(accelerator=config.accelerator, devices=config.devices,
                    num_nodes=config.num_nodes, strategy=config.strategy,
                    precision=config.precision)
    try:
        trainer = L.Trainer(
            max_epochs=config.max_epochs, **hardware, callbacks=callbacks,
            logger=loggers or False, enable_checkpointing=False, enable_model_summary=False,
            enable_progress_bar=config.progress, num_sanity_val_steps=0, log_every_n_steps=1,
            limit_val_batches=None if val_windows is not None else 0,
        )
    except (MisconfigurationException, ValueError, ImportError) as exc:
        # Combinations only Lightning knows to refuse (fsdp on a CPU, deepspeed missing).
        settings = ", ".join(f"{k}={quote(v)}" for k, v in hardware.items())
        raise ConfigError(f"Lightning refused the training settings {settings}: {exc}; "
                          "change them in the training section (or LSTMModel parameters)"
                          ) from None
    if resume is not None:
        _start_at_epoch(trainer, resume.meta["next_epoch"])
    with warnings.catch_warnings():
        # Lightning's own use of deprecated torch APIs; nothing the user can act on.
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=DeprecationWarning)
        trainer.fit(task, datamodule=data)
    network.cpu()
    result = {"epochs": history.epochs, "best_epoch": best.epoch,
              "best_val_loss": None if best.state is None else best.best}
    if checkpoints is not None and trainer.is_global_zero:
        tensors = checkpoint.sectioned("network", network.state_dict())
        meta = {"finished": True, "fingerprint": checkpoints.fingerprint, "result": result}
        checkpoint.write(checkpoints.directory, TrainingState(tensors, meta))
    return result


def _start_at_epoch(trainer: L.Trainer, epoch: int) -> None:
    """Make the Trainer's next epoch ``epoch``, as Lightning's own resume does."""
    for progress in (trainer.fit_loop.epoch_progress.current,
                     trainer.fit_loop.epoch_progress.total):
        progress.ready = progress.started = progress.processed = progress.completed = epoch
