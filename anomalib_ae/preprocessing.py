"""Input standardisation fitted on training data; travels with the model file."""

from __future__ import annotations

import numpy as np

from anomalib_ae.moments import moments


def standardization_axes(kind: str, ndim: int) -> tuple[int, ...]:
    """Axes reduced when fitting the statistics.

    vector ``(n, d)``: per feature; window ``(n, T, d)``: per metric (over samples and time);
    image ``(n, C, H, W)``: per channel (over samples and pixels).
    """
    if kind == "image":
        return tuple(i for i in range(ndim) if i != 1)
    return tuple(range(ndim - 1))


def fit_standardizer(X: np.ndarray, kind: str, dtype=np.float32, mask: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) broadcastable against one batch, as ``dtype``; a constant feature gets scale 1.

    One chunked pass (:func:`anomalib_ae.moments.moments`), so ``X`` may be a memory map: rows
    are read a chunk at a time. ``mask`` (boolean per row) fits on the selected rows only and
    gives the same bits as ``fit_standardizer(X[mask], kind)``.
    """
    axes = standardization_axes(kind, X.ndim)
    mean, scale = moments(X, axes, mask=mask)
    scale[scale < 1e-12] = 1.0
    shape = tuple(1 if i in axes else int(v) for i, v in enumerate(X.shape))[1:]  # keepdims, less the rows
    return mean.reshape(shape).astype(dtype, copy=False), scale.reshape(shape).astype(dtype, copy=False)


def standardize(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X - mean) / scale`` in float32."""
    out = np.subtract(X, mean, dtype=np.float32)
    out /= scale
    return out
