"""A streaming Lightning DataModule: mini-batches read from a memory map, standardised on the way.

The whole array is never loaded: each mini-batch gathers its rows from the (memory-mapped)
array and standardises them, so memory holds one mini-batch at a time (plus the page cache
the operating system manages). Batches are drawn by :class:`~anomalib_ae.training.engine.TensorBatches`
itself, over a row view that behaves like a tensor: the same seeded permutation, the same
rows in the same order as in-memory training, hence the same optimizer steps.

:class:`StandardizedRows` is also what a deep detector's own training steps receive out of
core in place of the standardised array (``Xs[train_idx]``, ``X_train[y != 1]`` select rows
without reading them); :func:`~anomalib_ae.training.engine.fit_module` turns such a view into a
:class:`StreamingDataModule`, and :func:`row_blocks` reads it a block of rows at a time.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch

from anomalib_ae.preprocessing import standardize
from anomalib_ae.training.engine import TensorBatches

__all__ = ["StandardizedRows", "StreamingDataModule", "row_blocks", "mmap_granularity"]


def mmap_granularity() -> int:
    return mmap.ALLOCATIONGRANULARITY


class StandardizedRows:
    """Rows ``index`` of ``X``, standardised: a lazy stand-in for ``standardize(X, mean, scale)[index]``.

    Indexed like that array, with what each index kind costs made explicit:

    * a numpy index (integer rows or a boolean mask) selects rows and reads nothing: another
      :class:`StandardizedRows` (``Xs[train_idx]``, ``X_train[y_train != 1]``);
    * a slice or a torch index tensor reads those rows: a float32 tensor equal bit for bit to
      ``torch.from_numpy(standardize(X, mean, scale)[index])[key]`` (what
      :class:`~anomalib_ae.training.engine.TensorBatches` asks for).

    ``axes``: a permutation applied to every read block before it is standardised (channels-last
    images ``(n, H, W, C)`` are read as ``(n, C, H, W)`` with ``(0, 3, 1, 2)``), as
    :func:`~anomalib_ae.detectors.layout.to_model_layout` does to an in-memory array.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, X: np.ndarray, index: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                 axes: tuple[int, ...] | None = None) -> None:
        self.X = X
        self.index = np.asarray(index, dtype=np.int64)
        self.mean = mean
        self.scale = scale
        self.axes = None if axes is None else tuple(int(a) for a in axes)
        row = tuple(X.shape) if self.axes is None else tuple(X.shape[a] for a in self.axes)
        self.shape = (int(self.index.size), *row[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict:
        # spawned DDP workers get the file's name, not a pickled copy of the whole map
        state = self.__dict__.copy()
        X = self.X
        if isinstance(X, np.memmap) and X.filename and X.flags.c_contiguous and X._mmap is not None:
            start = X.__array_interface__["data"][0] - np.frombuffer(X._mmap, np.uint8).ctypes.data
            state["X"] = ("memmap", X.filename, X.dtype.str, X.shape, X.offset + start - X.offset % mmap_granularity())
        return state

    def __setstate__(self, state: dict) -> None:
        X = state["X"]
        if isinstance(X, tuple) and X[0] == "memmap":
            state["X"] = np.memmap(X[1], dtype=np.dtype(X[2]), mode="r", shape=X[3], offset=X[4])
        self.__dict__.update(state)

    def __getitem__(self, key):
        if isinstance(key, np.ndarray):  # select rows: a view, nothing read
            return StandardizedRows(self.X, self.index[key], self.mean, self.scale, self.axes)
        if isinstance(key, torch.Tensor):
            key = key.numpy()
        rows = self.index[key]
        if isinstance(key, slice) and rows.size and rows[-1] - rows[0] == rows.size - 1:
            part = self.X[rows[0] : rows[-1] + 1]  # a contiguous run: one sequential read
        else:
            part = self.X[rows]
        if self.axes is not None:
            part = np.ascontiguousarray(part.transpose(self.axes))
        return torch.from_numpy(standardize(part, self.mean, self.scale))

    def blocks(self, size: int) -> Iterator[tuple[int, torch.Tensor]]:
        """``(start, rows start:start + size)`` in order, read one block at a time."""
        for start in range(0, len(self), int(size)):
            yield start, self[start : start + int(size)]

    def datamodule(self, y: np.ndarray | None = None, val: StandardizedRows | None = None,
                   y_val: np.ndarray | None = None) -> StreamingDataModule:
        """These rows (and labels ``y``) for training, ``val`` (with ``y_val``) for validation."""
        return StreamingDataModule(self, val, y, y_val)


def row_blocks(X, size: int) -> Iterator[torch.Tensor]:
    """Consecutive blocks of ``size`` rows of an array or a :class:`StandardizedRows` as tensors
    (for an array: ``torch.from_numpy(X).split(size)``, without the copy)."""
    if isinstance(X, StandardizedRows):
        for _, block in X.blocks(size):
            yield block
        return
    for start in range(0, len(X), int(size)):
        yield torch.from_numpy(np.ascontiguousarray(X[start : start + int(size)]))


def _label_tensor(y) -> torch.Tensor | None:
    return None if y is None else torch.from_numpy(np.ascontiguousarray(y))


class StreamingDataModule(pl.LightningDataModule):
    """Train / validation loaders over :class:`StandardizedRows` (and in-memory labels).

    :func:`~anomalib_ae.training.engine.fit_module` calls :meth:`configure` with the batch
    size, seed, grouping and sharding it uses for in-memory data, so both paths draw identical
    mini-batches. :meth:`from_array` builds one from a (memory-mapped) array in model layout
    (``(n, d)`` vectors or ``(n, T, d)`` windows), the row splits and the fitted standardiser.
    """

    def __init__(self, train_rows: StandardizedRows, val_rows: StandardizedRows | None = None,
                 y_train: np.ndarray | None = None, y_val: np.ndarray | None = None) -> None:
        super().__init__()
        self.train_rows = train_rows
        self.val_rows = val_rows
        self.y_train = _label_tensor(y_train)
        self.y_val = _label_tensor(y_val)
        self.batch_size = 256
        self.seed = 0
        self.group = 1
        self.shard = False

    @classmethod
    def from_array(cls, X: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
                   mean: np.ndarray, scale: np.ndarray) -> StreamingDataModule:
        return cls(StandardizedRows(X, train_idx, mean, scale), StandardizedRows(X, val_idx, mean, scale))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train_rows.shape[1:])

    @property
    def has_val(self) -> bool:
        return self.val_rows is not None and len(self.val_rows) > 0

    def configure(self, *, batch_size: int, seed: int, group: int, shard: bool) -> None:
        self.batch_size, self.seed, self.group, self.shard = int(batch_size), int(seed), int(group), bool(shard)

    def train_dataloader(self) -> TensorBatches:
        tensors = [self.train_rows] + ([self.y_train] if self.y_train is not None else [])
        return TensorBatches(tensors, self.batch_size, shuffle=True, seed=self.seed,
                             group=self.group, shard=self.shard)

    def val_dataloader(self) -> TensorBatches | list:
        if not self.has_val:
            return []
        tensors = [self.val_rows] + ([self.y_val] if self.y_val is not None else [])
        return TensorBatches(tensors, max(self.batch_size, 1024), shuffle=False)
