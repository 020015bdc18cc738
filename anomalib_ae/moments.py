"""Mean and standard deviation in one chunked pass: the in-memory and the streaming standardiser share it.

The rows of an array are taken :func:`chunk_rows` at a time. Each chunk is read once, as a
C-ordered float64 block; it gives its count, its mean and the sum of squared deviations about
that mean (an exact two-pass within the chunk, which is in memory), and the chunks are merged
with the parallel update of Chan, Golub and LeVeque (1979)::

    delta = mean_b - mean_a
    mean  = mean_a + delta * n_b / n
    M2    = M2_a + M2_b + delta**2 * n_a * n_b / n

Deviations are always taken about a nearby mean, so a large offset (``1e6 + noise``) costs no
precision, unlike the textbook ``E[x**2] - E[x]**2``.

The chunk size depends only on the shape of one row, and a boolean ``mask`` selects rows before
chunking (chunk *k* holds selected rows ``k*size .. (k+1)*size - 1``). So ``moments(X[mask], ...)``
on an in-memory array and ``moments(memmap, ..., mask=mask)`` read from disk form the same chunks,
do the same float operations and give the same bits. numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["chunk_rows", "moments", "Moments"]


def chunk_rows(X, values: int = 2**18) -> int:
    """Rows per chunk so one chunk holds about ``values`` values (depends on the row shape only)."""
    return max(1, values // max(1, int(np.prod(X.shape[1:]))))


class Moments:
    """Running count, float64 mean and sum of squared deviations (``M2``) per column.

    Values are taken relative to a shift, the plain mean of the first block: the chunk means
    (whose rounding errors enter the merge) are then sums of small numbers, so the result keeps
    ~1e-15 relative precision under a large offset, as ``np.std``'s two passes do.
    """

    def __init__(self, width: int) -> None:
        self.count = 0
        self.shift = np.zeros(width)
        self.mean = np.zeros(width)  # of the shifted values
        self.m2 = np.zeros(width)

    def add(self, block: np.ndarray) -> None:
        """Merge a C-ordered float64 block ``(rows, width)`` (its rows are the reduced values)."""
        n_b = block.shape[0]
        if n_b == 0:
            return
        if self.count == 0:
            self.shift = block.sum(axis=0) / n_b
        shifted = block - self.shift
        mean_b = shifted.sum(axis=0) / n_b
        dev = shifted - mean_b
        m2_b = (dev * dev).sum(axis=0)
        if self.count == 0:
            self.count, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta * delta * (n_a * n_b / n)
        self.count = n

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)``: the population standard deviation (``ddof=0``, as ``np.std``)."""
        return self.shift + self.mean, np.sqrt(self.m2 / self.count)


def _selected_chunks(X, size: int, mask: np.ndarray | None) -> Iterator[np.ndarray]:
    """Chunks of ``size`` selected rows, in order; each stored row is read once."""
    if mask is None:
        for start in range(0, X.shape[0], size):
            yield np.asarray(X[start : start + size])
        return
    pending: list[np.ndarray] = []
    held = 0
    for start in range(0, X.shape[0], size):
        part = np.asarray(X[start : start + size])[np.asarray(mask[start : start + size], dtype=bool)]
        if len(part):
            pending.append(part)
            held += len(part)
        while held >= size:
            block = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield block[:size]
            rest = block[size:]
            pending, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


def moments(X, axes: Sequence[int], mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``(mean, std)`` of ``X`` over ``axes`` (which include 0, the rows), in one pass.

    ``X``: anything sliceable along its first axis with a ``shape`` (an array, a memory map).
    ``mask``: boolean per row, the rows to use (all when None). The results have the shape of the
    kept axes, in order (``np.mean(X, axis=axes)``'s shape); an empty selection is an error.
    """
    axes = tuple(sorted({a % len(X.shape) for a in axes}))
    if 0 not in axes:
        raise ValueError("moments reduce over the rows: axes must include 0")
    keep = [i for i in range(len(X.shape)) if i not in axes]
    kept_shape = tuple(int(X.shape[i]) for i in keep)
    width = int(np.prod(kept_shape))
    acc = Moments(width)
    for chunk in _selected_chunks(X, chunk_rows(X), mask):
        block = np.moveaxis(chunk, keep, range(chunk.ndim - len(keep), chunk.ndim)) if keep else chunk
        acc.add(np.array(block, dtype=np.float64, order="C").reshape(-1, width))
    if acc.count == 0:
        raise ValueError("no rows to compute the mean and standard deviation of")
    mean, std = acc.result()
    return mean.reshape(kept_shape), std.reshape(kept_shape)
