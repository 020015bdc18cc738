"""Reconstruction residuals: the squared error of every input value (autoencoder family).

``ae``, ``vae``, ``cvad``, ``mae`` and ``sage`` reconstruct their input; the residual of a value
is ``(x_hat - x) ** 2`` in the detector's standardised units. :func:`normalized_residuals`
divides it by the value's typical residual on training data (``residual_scale_``, fitted at
``fit``), so a metric that is always hard to reconstruct does not win every ranking; on SMD
that normalisation is what lifts the culprit hit rate (see ``docs/explanations.md``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["has_reconstruction", "reconstruction_residuals", "normalized_residuals", "residual_scale"]


def _module_and_prepare(detector):
    module = getattr(detector, "module_", None)
    if module is None or not hasattr(detector, "_prepare"):
        return None, None
    return module, detector._prepare


def to_input_layout(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Model-layout values ``(n, C, H, W)`` back to the caller's layout ``shape``."""
    if a.shape == tuple(shape):
        return a
    if a.size == int(np.prod(shape)):
        if len(shape) == 4 and a.ndim == 4 and shape[-1] == a.shape[1]:  # channels-last input
            return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
        return a.reshape(shape)
    raise ValueError(f"cannot map attributions of shape {a.shape} onto inputs of shape {tuple(shape)}")


def _residuals_prepared(module, Xs: np.ndarray) -> np.ndarray | None:
    import torch

    module.eval()
    device = next(iter(module.parameters()), torch.empty(0)).device
    outs = []
    with torch.no_grad():
        for start in range(0, len(Xs), 256):
            x = torch.from_numpy(np.ascontiguousarray(Xs[start:start + 256])).to(device)
            if hasattr(module, "_masked_errors") and hasattr(module, "error_map"):  # masked AE: per value already
                y = module.error_map(x)
                if y.shape != x.shape and y.dim() == x.dim() - 1:
                    y = y.unsqueeze(1).expand_as(x)
                outs.append(y.double().cpu().numpy())
                continue
            target = getattr(module, "autoencoder", module)  # sage wraps its autoencoder
            try:
                r = target(x)
            except Exception:  # noqa: BLE001 - a module whose forward is not a reconstruction
                return None
            if isinstance(r, (tuple, list)):
                r = r[0]
            if not isinstance(r, torch.Tensor) or r.shape != x.shape:
                return None
            outs.append((r - x).double().pow(2).cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, *Xs.shape[1:]))


def has_reconstruction(detector) -> bool:
    """Whether ``detector`` reconstructs its input (checked on one training-shaped zero row)."""
    module, prepare = _module_and_prepare(detector)
    if module is None or not hasattr(detector, "input_shape_"):
        return False
    probe = np.zeros((1, *detector.input_shape_), dtype=np.float32)
    return _residuals_prepared(module, prepare(probe)) is not None


def reconstruction_residuals(detector, X) -> np.ndarray | None:
    """Squared reconstruction error per value with ``X``'s shape, or None without a reconstruction."""
    module, prepare = _module_and_prepare(detector)
    if module is None:
        return None
    X = np.asarray(X)
    r = _residuals_prepared(module, prepare(X))
    return None if r is None else to_input_layout(r, X.shape)


def residual_scale(detector, X_train) -> np.ndarray | None:
    """Per-value RMS residual on training data, pooled like the standardiser (per feature / metric / channel)."""
    r = reconstruction_residuals(detector, X_train)
    if r is None:
        return None
    axes = (0, 1) if r.ndim == 3 and getattr(detector, "input_kind_", "") == "window" else (0,)
    if getattr(detector, "input_kind_", "") == "image":
        axes = tuple(range(r.ndim))  # one scale for the whole image (pixels are exchangeable)
    s = np.sqrt(np.mean(r, axis=axes, keepdims=True))[0]
    return np.where(s > 1e-12, s, 1.0)


def normalized_residuals(detector, X, scale: np.ndarray | None = None) -> np.ndarray | None:
    """Residuals divided by the training residual scale (``scale`` or ``detector.residual_scale_``)."""
    r = reconstruction_residuals(detector, X)
    if r is None:
        return None
    s = scale if scale is not None else getattr(detector, "residual_scale_", None)
    if s is None:
        raise ValueError(f"{type(detector).__name__} has no residual_scale_ (fitted before it existed); pass scale=")
    return r / np.square(np.asarray(s, dtype=np.float64))
