"""Reconstruction residuals: the squared error of every input value (autoencoder family).

``ae``, ``vae``, ``cvad``, ``mae`` and ``sage`` reconstruct their input; the residual of a value
is ``(x_hat - x) ** 2`` in the detector's standardised units. :func:`normalized_residuals`
divides it by the value's typical residual on training data (``residual_scale_``, fitted at
``fit``), so a metric that is always hard to reconstruct does not win every ranking. On SMD
that plain division hurts (near-constant metrics get inflated: HitRate@150 % 0.455 vs 0.596);
the 99th percentile with a floor (``residual_q99_``), blended with the z-score, is what
``"residual_z"`` uses (see ``docs/explanations.md``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["has_reconstruction", "reconstruction_residuals", "normalized_residuals", "residual_scale", "residual_spreads"]


def to_input_layout(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Model-layout values ``(n, C, H, W)`` back to the caller's layout ``shape``."""
    if a.shape == tuple(shape):
        return a
    if a.size == int(np.prod(shape)):
        if len(shape) == 4 and a.ndim == 4 and shape[-1] == a.shape[1]:  # channels-last input
            return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
        return a.reshape(shape)
    raise ValueError(f"cannot map attributions of shape {a.shape} onto inputs of shape {tuple(shape)}")


def has_reconstruction(detector) -> bool:
    """Whether ``detector`` reconstructs its input (its public ``error_map`` gives per-value errors)."""
    if getattr(detector, "error_map", None) is None or not hasattr(detector, "input_shape_"):
        return False
    probe = np.zeros((1, *detector.input_shape_), dtype=np.float32)
    return detector.error_map(probe) is not None


def reconstruction_residuals(detector, X) -> np.ndarray | None:
    """Squared reconstruction error per value with ``X``'s shape, or None without a reconstruction."""
    error_map = getattr(detector, "error_map", None)
    if error_map is None:
        return None
    X = np.asarray(X)
    r = error_map(X)
    return None if r is None else to_input_layout(np.asarray(r, dtype=np.float64), X.shape)


def _pooled_axes(detector, r: np.ndarray) -> tuple[int, ...]:
    if getattr(detector, "input_kind_", "") == "image":
        return tuple(range(r.ndim))  # one scale for the whole image (pixels are exchangeable)
    return (0, 1) if r.ndim == 3 and getattr(detector, "input_kind_", "") == "window" else (0,)


def residual_spreads(detector, X_train) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-value RMS and 99th percentile of the residual on training data, pooled like the
    standardiser (per feature / metric / channel), or None without a reconstruction."""
    r = reconstruction_residuals(detector, X_train)
    if r is None:
        return None
    axes = _pooled_axes(detector, r)
    s = np.sqrt(np.mean(r, axis=axes, keepdims=True))[0]
    q = np.quantile(r, 0.99, axis=axes, keepdims=True)[0]
    return np.where(s > 1e-12, s, 1.0), q


def residual_scale(detector, X_train) -> np.ndarray | None:
    """Per-value RMS residual on training data, pooled like the standardiser (per feature / metric / channel)."""
    out = residual_spreads(detector, X_train)
    return None if out is None else out[0]


def normalized_residuals(detector, X, scale: np.ndarray | None = None) -> np.ndarray | None:
    """Residuals divided by the training residual scale (``scale`` or ``detector.residual_scale_``)."""
    r = reconstruction_residuals(detector, X)
    if r is None:
        return None
    s = scale if scale is not None else getattr(detector, "residual_scale_", None)
    if s is None:
        raise ValueError(f"{type(detector).__name__} has no residual_scale_ (fitted before it existed); pass scale=")
    return r / np.square(np.asarray(s, dtype=np.float64))
