"""How a deep detector reads a batch: the per-sample shape -> "vector", "window" or "image", and
the model layout of each (images channels-first; ``input_kind="flat"`` flattens)."""

from __future__ import annotations

import numpy as np

__all__ = ["INPUT_KINDS", "infer_input_kind", "to_model_layout"]

INPUT_KINDS = ("auto", "vector", "window", "image", "flat")


def infer_input_kind(shape: tuple[int, ...], input_kind: str = "auto") -> str:
    """"vector" for ``(d,)``, "image" for ``(C, H, W)`` / square ``(H, W)``, else "window".

    A 3-D batch ``(n, a, b)`` is ambiguous: it is taken as grayscale images when ``a == b >= 8``
    and as windows ``(n, T, d)`` otherwise; pass ``input_kind`` to decide explicitly.
    ``"flat"`` takes any per-sample shape as one vector of all its values (resolved to "vector";
    :func:`to_model_layout` flattens): dense networks on every pixel, each standardised on its own,
    as PyOD's MLPs see images.
    """
    if input_kind == "flat":
        return "vector"
    if input_kind != "auto":
        if input_kind == "vector" and len(shape) != 1:
            raise ValueError(
                f"input_kind='vector' needs 2-D input (n, d), got per-sample shape {shape} "
                "(input_kind='flat' flattens each sample)"
            )
        if input_kind == "window" and len(shape) != 2:
            raise ValueError(f"input_kind='window' needs 3-D input (n, T, d), got per-sample shape {shape}")
        if input_kind == "image" and len(shape) not in (2, 3):
            raise ValueError(f"input_kind='image' needs (n, H, W) or (n, C, H, W), got per-sample shape {shape}")
        return input_kind
    if len(shape) == 1:
        return "vector"
    if len(shape) == 2:
        return "image" if shape[0] == shape[1] >= 8 else "window"
    if len(shape) == 3:
        return "image"
    raise ValueError(f"unsupported per-sample shape {shape}: expected (d,), (T, d), (H, W) or (C, H, W)")


def to_model_layout(X: np.ndarray, kind: str) -> np.ndarray:
    """Images become ``(n, C, H, W)`` (channels-last RGB is transposed); "vector" input of more
    than 2 dimensions (``input_kind="flat"``) becomes ``(n, d)``; others unchanged."""
    if kind == "vector" and X.ndim > 2:
        return X.reshape(len(X), -1)
    if kind != "image":
        return X
    if X.ndim == 3:
        return X[:, None, :, :]
    if X.shape[-1] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    return X
