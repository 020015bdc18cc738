"""A streaming Lightning DataModule: mini-batches read from a memory map, standardised on the way.

The whole array is never loaded: each mini-batch gathers its rows from the (memory-mapped)
array and standardises them, so memory holds one mini-batch at a time (plus the page cache
the operating system manages). Batches are drawn by :class:`~anomalib_ae.training.engine.TensorBatches`
itself, over a row view that behaves like a tensor: the same seeded permutation, the same
rows in the same order as in-memory training, hence the same optimizer steps.
"""

from __future__ import annotations

import mmap

import numpy as np
import pytorch_lightning as pl
import torch

from anomalib_ae.preprocessing import standardize
from anomalib_ae.training.engine import TensorBatches


def mmap_granularity() -> int:
    return mmap.ALLOCATIONGRANULARITY


class StandardizedRows:
    """Rows ``index`` of ``X``, standardised, indexed like a tensor (a slice or an index tensor).

    ``rows[k]`` equals ``torch.from_numpy(standardize(X, mean, scale)[index])[k]`` bit for bit,
    reading only the rows asked for.
    """

    def __init__(self, X: np.ndarray, index: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
        self.X = X
        self.index = np.asarray(index, dtype=np.int64)
        self.mean = mean
        self.scale = scale
        self.shape = (int(self.index.size), *X.shape[1:])

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

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.numpy()
        rows = self.index[key]
        if isinstance(key, slice) and rows.size and rows[-1] - rows[0] == rows.size - 1:
            part = self.X[rows[0] : rows[-1] + 1]  # a contiguous run: one sequential read
        else:
            part = self.X[rows]
        return torch.from_numpy(standardize(part, self.mean, self.scale))


class StreamingDataModule(pl.LightningDataModule):
    """Train / validation loaders over the rows ``train_idx`` / ``val_idx`` of a memory-mapped ``X``.

    ``X`` is in model layout (``(n, d)`` vectors or ``(n, T, d)`` windows), ``mean`` / ``scale``
    the fitted standardiser. :func:`~anomalib_ae.training.engine.fit_module` calls
    :meth:`configure` with the batch size, seed, grouping and sharding it uses for in-memory
    data, so both paths draw identical mini-batches.
    """

    def __init__(self, X: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
                 mean: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        self.train_rows = StandardizedRows(X, train_idx, mean, scale)
        self.val_rows = StandardizedRows(X, val_idx, mean, scale)
        self.batch_size = 256
        self.seed = 0
        self.group = 1
        self.shard = False

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train_rows.shape[1:])

    @property
    def has_val(self) -> bool:
        return len(self.val_rows) > 0

    def configure(self, *, batch_size: int, seed: int, group: int, shard: bool) -> None:
        self.batch_size, self.seed, self.group, self.shard = int(batch_size), int(seed), int(group), bool(shard)

    def train_dataloader(self) -> TensorBatches:
        return TensorBatches([self.train_rows], self.batch_size, shuffle=True, seed=self.seed,
                             group=self.group, shard=self.shard)

    def val_dataloader(self) -> TensorBatches | list:
        if not self.has_val:
            return []
        return TensorBatches([self.val_rows], max(self.batch_size, 1024), shuffle=False)
