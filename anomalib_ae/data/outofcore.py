"""Training data larger than memory: memory-mapped ``.npy`` files and Parquet datasets.

:func:`open_training_data` gives a :class:`TrainingData` whose ``array`` is a read-only
memory map: a ``.npy`` file is mapped as it is; a Parquet file or a folder of Parquet files is
converted once, batch by batch with pyarrow, into a ``.npy`` in a temporary folder (removed by
:meth:`TrainingData.close`). Nothing here loads the whole array. :func:`check_finite_chunks`
validates it chunk by chunk and names the first bad row; :func:`chunked_moments` computes
mean and standard deviation in one pass with the algorithm of the in-memory standardiser
(:mod:`anomalib_ae.moments`, same chunks, same float64 operations), so out-of-core training
fits the same standardiser bit for bit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anomalib_ae.moments import chunk_rows, moments

__all__ = ["TrainingData", "open_training_data", "is_out_of_core", "check_finite_chunks",
           "chunked_moments", "chunk_rows"]

_F32_MAX = float(np.finfo(np.float32).max)


@dataclass
class TrainingData:
    """A memory-mapped training array and where it came from."""

    array: np.ndarray
    source: str
    columns: list[str] | None = None  # Parquet: the feature columns, in order
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def close(self) -> None:
        """Drop the map and remove a temporary conversion (Parquet)."""
        self.array = np.zeros((0,))
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def is_out_of_core(X) -> bool:
    """A path, a :class:`numpy.memmap` or a :class:`TrainingData`: trained from disk."""
    return isinstance(X, (str, os.PathLike, np.memmap, TrainingData))


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def open_training_data(source, *, exclude: Sequence[str] = (), tmp_dir: str | None = None) -> TrainingData:
    """Open ``source`` for out-of-core training.

    ``source``: a ``.npy`` path (memory-mapped read-only), a :class:`numpy.memmap`, a Parquet
    file or a folder of Parquet files (numeric columns are the features; ``exclude`` names
    columns to leave out, e.g. an id or a label column; any other non-numeric column is an
    error), or a :class:`TrainingData` (returned as it is).
    """
    if isinstance(source, TrainingData):
        return source
    if isinstance(source, np.memmap):
        return TrainingData(source, str(getattr(source, "filename", "") or "the memory map"))
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"training data {str(path)!r} does not exist")
    if path.is_file() and path.suffix == ".npy":
        return TrainingData(np.load(path, mmap_mode="r"), str(path))
    if path.is_dir() or path.suffix in (".parquet", ".pq"):
        return _parquet_to_memmap(path, exclude, tmp_dir)
    raise ValueError(f"{str(path)!r}: out-of-core training reads .npy files and Parquet files or folders")


def _parquet_to_memmap(path: Path, exclude: Sequence[str], tmp_dir: str | None) -> TrainingData:
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    columns, wide = [], False
    for f in dataset.schema:
        if f.name in exclude:
            continue
        t = f.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
            raise ValueError(
                f"{str(path)!r}: column {f.name!r} is not numeric ({t}); leave it out with exclude=[{f.name!r}]"
            )
        columns.append(f.name)
        exact32 = pa.types.is_boolean(t) or t.bit_width <= 16 or (pa.types.is_floating(t) and t.bit_width <= 32)
        wide = wide or not exact32  # float64 / 32- and 64-bit integers need float64 to keep every value
    if not columns:
        raise ValueError(f"{str(path)!r} has no numeric columns")
    n = int(dataset.count_rows())
    if n == 0:
        raise ValueError(f"{str(path)!r} has no rows")
    tmp = tempfile.TemporaryDirectory(prefix="anomalib_ae_ooc_", dir=tmp_dir)
    out = Path(tmp.name) / "train.npy"
    dtype = np.float64 if wide else np.float32  # float64 columns keep every bit
    mm = np.lib.format.open_memmap(out, mode="w+", dtype=dtype, shape=(n, len(columns)))
    at = 0
    for batch in dataset.to_batches(columns=columns, batch_size=65536):
        block = np.empty((batch.num_rows, len(columns)), dtype=dtype)
        for j, col in enumerate(batch.columns):
            block[:, j] = col.to_numpy(zero_copy_only=False)  # nulls become NaN
        mm[at : at + batch.num_rows] = block
        at += batch.num_rows
    mm.flush()
    del mm
    return TrainingData(np.load(out, mmap_mode="r"), str(path), columns, tmp)


def check_finite_chunks(X: np.ndarray, source: str, columns: Sequence[str] | None = None) -> None:
    """Check a (memory-mapped) array chunk by chunk: float, at least 2-D, non-empty, finite,
    within float32. The error names the first bad row (0-based) and its feature."""
    if X.ndim < 2:
        raise ValueError(f"{source}: training data must be at least 2-D (n_samples, ...), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{source}: training data has no rows")
    if X.dtype not in (np.float32, np.float64):
        raise ValueError(f"{source}: out-of-core training needs float32 or float64 values, got {X.dtype}")
    for start, stop in _chunks(X.shape[0], chunk_rows(X)):
        part = np.asarray(X[start:stop])
        bad = ~np.isfinite(part)
        if X.dtype == np.float64:
            bad |= np.abs(np.where(bad, 0.0, part)) > _F32_MAX
        if bad.any():
            flat = bad.reshape(len(part), -1)
            i = int(np.argmax(flat.any(axis=1)))
            j = int(np.argmax(flat[i]))
            v = float(part.reshape(len(part), -1)[i, j])
            what = "NaN (missing)" if np.isnan(v) else ("infinite" if np.isinf(v) else f"{v!r}, beyond float32")
            if X.ndim == 2:
                name = f"column {columns[j]!r}" if columns else f"column {j}"
            else:
                name = f"value {j} of the flattened row"
            raise ValueError(f"{source}: row {start + i} has a {what} value in {name}")


def chunked_moments(X: np.ndarray, pooled: bool, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Float64 mean and standard deviation of the rows of ``X`` selected by boolean ``mask``
    (all rows when None), in one pass over the chunks (:func:`anomalib_ae.moments.moments`, the
    algorithm the in-memory :func:`~anomalib_ae.preprocessing.fit_standardizer` uses).

    ``pooled``: reduce every axis but the last (the vector / window standardiser), else axis 0
    only (per value). Equal bit for bit to the same call on the gathered in-memory ``X[mask]``.
    """
    axes = tuple(range(X.ndim - 1)) if pooled else (0,)
    return moments(X, axes, mask=mask)
