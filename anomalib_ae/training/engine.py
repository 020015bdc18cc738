"""The one place that builds a ``pytorch_lightning.Trainer``.

Detectors call :func:`fit_module` with a plain :class:`~anomalib_ae.nn.base.AnomalyModule`
and numpy arrays; :class:`AnomalySystem` trains it by calling only ``module.loss``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.training.batches import TensorBatches, group_size
from anomalib_ae.training.spawn_exit import ShutdownProcessGroupAtExit

_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")


class AnomalySystem(pl.LightningModule):
    """Lightning training system around any :class:`AnomalyModule` (Adam, optional weight decay)."""

    def __init__(self, model: AnomalyModule, lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        # Manual optimization: one training_step runs a group of mini-batches (TensorBatches),
        # and skips automatic optimization's closure machinery.
        self.automatic_optimization = False
        # Epochs run, as state: it comes back from spawned DDP workers with the weights.
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long), persistent=True)

    @staticmethod
    def _unpack(batch):
        x = batch[0]
        y = batch[1] if len(batch) > 1 else None
        return x, y

    def on_train_start(self) -> None:
        # One process in full precision: Lightning's backward and optimizer-step wrappers do
        # nothing but dispatch (about 0.1 ms a step, a tenth of a small network's step on a CPU),
        # so the step calls torch directly: the same operations, the same numbers. Several
        # processes (DDP's gradient hooks) and mixed precision (loss scaling) keep the wrappers.
        trainer = self.trainer
        self._plain_steps = trainer.world_size == 1 and str(trainer.precision) in ("32-true", "32", "64-true", "64")

    def on_train_epoch_start(self) -> None:
        self._stats = {"loss_sum": torch.zeros((), device=self.device), "n": 0}

    def training_step(self, group, group_idx):
        opt = self.optimizers()
        plain = getattr(self, "_plain_steps", False)
        raw = opt.optimizer if plain else None
        stats = self._stats
        for batch in group:
            x, y = self._unpack(batch)
            if plain:
                raw.zero_grad()
                loss = self.model.loss(x, y)
                loss.backward()
                raw.step()
            else:
                opt.zero_grad()
                loss = self.model.loss(x, y)
                self.manual_backward(loss)
                opt.step()
            # Accumulate here and log once per epoch: ``self.log`` on every step costs as much
            # as the step of a small network.
            stats["loss_sum"] += loss.detach() * x.shape[0]
            stats["n"] += x.shape[0]

    def on_train_epoch_end(self) -> None:
        self.epochs_done += 1
        if self._stats["n"]:
            self.log("train_loss", self._stats["loss_sum"] / self._stats["n"], prog_bar=True,
                     sync_dist=self.trainer.world_size > 1)

    def validation_step(self, group, group_idx):
        for batch in group:
            x, y = self._unpack(batch)
            loss = self.model.loss(x, y)
            self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=x.shape[0],
                     sync_dist=self.trainer.world_size > 1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@dataclass
class TrainResult:
    """What a training run did."""

    epochs_run: int
    train_loss: float | None
    val_loss: float | None
    stopped_early: bool


def resolve_verbose(verbose) -> bool:
    """``"auto"``: show a progress bar when stderr is an interactive terminal."""
    if verbose == "auto":
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(verbose)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global RNG seeded, restoring the caller's RNG state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def _quiet_lightning(verbose: bool) -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in _LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        if not verbose:
            for lg in loggers:
                lg.setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*number of training batches.*")
        warnings.filterwarnings("ignore", message=".*LightningModule.*has parameters that were not used.*")
        warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
        warnings.filterwarnings("ignore", message=".*defined a `validation_step` but have no `val_dataloader`.*")
        warnings.filterwarnings("ignore", message=".*`isinstance.*treespec.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="pytorch_lightning.trainer.connectors.data_connector")
        try:
            yield
        finally:
            for lg, lvl in zip(loggers, levels):
                lg.setLevel(lvl)


def _as_tensor(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    return torch.from_numpy(np.ascontiguousarray(a))


def fit_module(
    module: AnomalyModule,
    X_train: np.ndarray,
    y_train: np.ndarray | None = None,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    weight_decay: float = 0.0,
    patience: int | None = 5,
    accelerator: str = "auto",
    verbose: bool | str = "auto",
    callbacks: Sequence[Callback] = (),
    system: pl.LightningModule | None = None,
    strategy: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    precision: str | None = None,
    datamodule=None,
) -> TrainResult:
    """Train ``module`` in place on ``X_train`` with a Lightning ``Trainer``.

    With ``X_val`` the validation loss is logged each epoch and, when ``patience`` is set,
    training stops early once it has not improved for ``patience`` epochs. The module ends in
    eval mode on the CPU. ``system`` replaces the default :class:`AnomalySystem` (a detector
    with a special training step brings its own LightningModule).

    ``strategy``, ``devices``, ``num_nodes`` and ``precision`` go to the Trainer as they are
    (``strategy="ddp_spawn", devices=2`` trains in two processes on one machine, ``"ddp"``
    under ``torchrun`` / SLURM on several). With more than one process each rank trains on
    its share of every seeded mini-batch (one mini-batch per step), so DDP's averaged gradient
    is that of the whole mini-batch and the optimizer takes the same steps as in one
    process; every rank validates on the whole held-out split.

    ``datamodule`` (a :class:`~anomalib_ae.training.datamodule.StreamingDataModule`, with
    ``X_train`` None) streams the mini-batches from a memory map instead: the same batches.
    ``X_train`` / ``X_val`` given as :class:`~anomalib_ae.training.datamodule.StandardizedRows`
    (what a detector's training step receives out of core) become such a datamodule.
    """
    distributed = strategy not in ("auto", None, "single_device") or (devices not in (1, "1") or num_nodes != 1)
    if datamodule is None and hasattr(X_train, "datamodule"):  # rows of a memory map (out of core)
        datamodule = X_train.datamodule(y_train, X_val, y_val)
    show = resolve_verbose(verbose)
    cbs = list(callbacks)
    if datamodule is not None:
        numel = int(np.prod(datamodule.sample_shape))
        group = 1 if distributed else group_size(batch_size, numel)
        datamodule.configure(batch_size=batch_size, seed=seed, group=group, shard=distributed)
        train = val = None
        if patience and datamodule.has_val:
            cbs.append(EarlyStopping(monitor="val_loss", patience=int(patience), mode="min"))
    else:
        train_tensors = [_as_tensor(X_train)] + ([_as_tensor(y_train)] if y_train is not None else [])
        numel = int(np.prod(train_tensors[0].shape[1:]))
        group = 1 if distributed else group_size(batch_size, numel)
        train = TensorBatches(train_tensors, batch_size, shuffle=True, seed=seed, group=group, shard=distributed)
        val = None
    if datamodule is None and X_val is not None and len(X_val) > 0:
        val_tensors = [_as_tensor(X_val)] + ([_as_tensor(y_val)] if y_val is not None else [])
        val_batch = max(batch_size, 1024)  # grouped like training: the same per-batch logs, fewer hooks
        val = TensorBatches(val_tensors, val_batch, shuffle=False, group=1 if distributed else group_size(val_batch, numel))
        if patience:
            cbs.append(EarlyStopping(monitor="val_loss", patience=int(patience), mode="min"))
    system = system if system is not None else AnomalySystem(module, lr=lr, weight_decay=weight_decay)
    if distributed and "spawn" in str(strategy):
        # spawned workers receive the in-memory tensors by pickling; file-descriptor sharing
        # fails for large tensors ("bad value(s) in fds_to_keep")
        torch.multiprocessing.set_sharing_strategy("file_system")
        cbs.append(ShutdownProcessGroupAtExit())  # workers exit without a Gloo abort
    with _quiet_lightning(show), seeded(seed):
        trainer = pl.Trainer(
            accelerator=accelerator,
            devices=devices,
            strategy=strategy,
            num_nodes=int(num_nodes),
            precision=precision or "32-true",
            max_epochs=int(epochs),
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=show,
            num_sanity_val_steps=0,
            callbacks=cbs,
            deterministic=False,
            log_every_n_steps=50,
        )
        if datamodule is not None:
            trainer.fit(system, datamodule=datamodule)
        else:
            trainer.fit(system, train_dataloaders=train, val_dataloaders=val)
    module.cpu().eval()
    metrics = trainer.callback_metrics
    stopped = any(isinstance(cb, EarlyStopping) and cb.stopped_epoch > 0 for cb in cbs)
    epochs_done = getattr(system, "epochs_done", None)
    return TrainResult(
        epochs_run=int(epochs_done) if epochs_done is not None else int(trainer.current_epoch),
        train_loss=float(metrics["train_loss"]) if "train_loss" in metrics else None,
        val_loss=float(metrics["val_loss"]) if "val_loss" in metrics else None,
        stopped_early=stopped,
    )


def score_device(accelerator: str) -> torch.device:
    """Device used for scoring: the GPU when the accelerator allows it and one is present."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@torch.no_grad()
def batched_apply(fn, X: np.ndarray, batch_size: int = 4096, device: torch.device | None = None,
                  prepare=None) -> np.ndarray:
    """Apply ``fn`` (tensor -> per-sample values) over ``X`` in chunks of exactly ``batch_size`` rows.

    The last chunk is zero-padded, so every forward pass sees the same number of rows. BLAS
    kernels round differently for different row counts (a matrix-vector product for one row,
    other tilings for other sizes); with a fixed count a sample's score is bit-identical
    however the caller batches its data, and agrees exactly with the scores of the same
    samples computed at fit time (calibration, threshold). ``prepare`` (tensor -> tensor,
    elementwise per row, e.g. the standardiser) is applied to each chunk before padding, so a
    chunk is converted while it is in cache instead of the whole array up front. Returns float64.
    """
    device = device or torch.device("cpu")
    X_t = _as_tensor(X) if prepare is None else None
    outs = []
    for start in range(0, X.shape[0], batch_size):
        if prepare is None:
            chunk = X_t[start : start + batch_size]
        else:
            part = X[start : start + batch_size]
            chunk = prepare(torch.from_numpy(part if part.flags.writeable else part.copy()))
        n = chunk.shape[0]
        if n < batch_size:
            chunk = torch.cat([chunk, chunk.new_zeros((batch_size - n, *chunk.shape[1:]))])
        outs.append(fn(chunk.to(device)).detach().cpu()[:n])
    if not outs:
        return np.zeros(0)
    return torch.cat(outs).numpy().astype(np.float64)
