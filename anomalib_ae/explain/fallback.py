"""The pipeline's explanation entry: the detector's method, or, for a detector saved before
training statistics were stored in model files, its reconstruction residual or z-scores against
the pipeline's own reference statistics."""

from __future__ import annotations

import numpy as np

__all__ = ["attribute_or_zscore", "resolved_method"]


def attribute_or_zscore(detector, X, *, method, reference, attribute):
    """``attribute(detector, X, method)``; a detector from before training statistics were stored
    falls back to z-scores against the pipeline's reference."""
    if method == "auto" and getattr(detector, "train_median_", None) is None:  # a file from before they were stored
        from anomalib_ae.explain.residuals import reconstruction_residuals

        r = reconstruction_residuals(detector, X)
        if r is not None:
            return r, "residual"
        if reference is None:
            raise ValueError(f"{type(detector).__name__} was fitted without training statistics; refit it to explain")
        mean, scale = (np.asarray(a, dtype=np.float64) for a in reference)
        z = (np.asarray(X, dtype=np.float64) - mean) / np.where(scale > 0, scale, 1.0)
        return z * z, "zscore"
    return attribute(detector, X, method)


def resolved_method(detector, method: str) -> str:
    """The method :func:`attribute_or_zscore` will use: ``"auto"`` -> the detector's default, except for a
    detector saved before training statistics were stored (``"auto"``: its fallback decides)."""
    if method != "auto":
        return method
    if getattr(detector, "train_median_", None) is None:
        return "auto"
    from anomalib_ae.explain.methods import default_method

    return default_method(detector)
