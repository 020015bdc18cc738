"""Input standardisation fitted on training data; travels with the model file."""

from __future__ import annotations

import numpy as np


def standardization_axes(kind: str, ndim: int) -> tuple[int, ...]:
    """Axes reduced when fitting the statistics.

    vector ``(n, d)``: per feature; window ``(n, T, d)``: per metric (over samples and time);
    image ``(n, C, H, W)``: per channel (over samples and pixels).
    """
    if kind == "image":
        return tuple(i for i in range(ndim) if i != 1)
    return tuple(range(ndim - 1))


def fit_standardizer(X: np.ndarray, kind: str, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) broadcastable against one batch, as ``dtype``; a constant feature gets scale 1."""
    axes = standardization_axes(kind, X.ndim)
    X64 = X.astype(np.float64, copy=False)
    mean = X64.mean(axis=axes, keepdims=True)[0]
    scale = X64.std(axis=axes, keepdims=True)[0]
    scale[scale < 1e-12] = 1.0
    return mean.astype(dtype, copy=False), scale.astype(dtype, copy=False)


def standardize(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X - mean) / scale`` in float32."""
    out = np.subtract(X, mean, dtype=np.float32)
    out /= scale
    return out
