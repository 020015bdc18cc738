"""Labelled anomaly segments (runs of consecutive 1s) of a 0/1 series; numpy only.

Every time-series metric of :mod:`anomalib_ae.scoring` reads events through this one helper:
a segment is a half-open row range ``[start, end)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_binary", "segments"]


def as_binary(y, name: str = "y") -> np.ndarray:
    """A 1-d 0/1 (or boolean) array -> bool array; anything else is an error naming ``name``."""
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {a.shape}")
    if a.dtype != bool:
        if a.size and not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1 (1 = anomalous)")
        a = a.astype(bool)
    return a


def segments(y) -> np.ndarray:
    """Runs of 1s of a 0/1 series -> int64 array of shape ``(n_segments, 2)``: ``[start, end)`` rows.

    >>> segments([0, 1, 1, 0, 1]).tolist()
    [[1, 3], [4, 5]]
    """
    a = as_binary(y).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.r_[0, a, 0]))
    return edges.reshape(-1, 2).astype(np.int64)
