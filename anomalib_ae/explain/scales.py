"""Per-metric spread of an attribution on normal training data: the units that make metrics comparable.

A metric the detector never reconstructs well, or one whose occlusion always moves the score,
would top every ranking in raw units. Dividing each value's attribution by that value's
typical attribution on training data (pooled like the standardiser: per feature for vectors,
per metric over the window's time steps for windows) puts every metric in "how unusual for
this metric" units. The spread is the standard deviation, floored at ``floor`` times the
median spread over metrics so that a metric the model rebuilds perfectly in training (a
near-constant one) is not inflated without bound.
"""

from __future__ import annotations

import numpy as np

__all__ = ["attribution_spread", "training_sample", "floored"]


def training_sample(X: np.ndarray, max_items: int = 512) -> np.ndarray:
    """Evenly spaced items of ``X`` (all of them when there are at most ``max_items``)."""
    X = np.asarray(X)
    if len(X) <= max_items:
        return X
    return X[np.linspace(0, len(X) - 1, max_items).astype(int)]


def pooled_axes(A: np.ndarray, kind: str) -> tuple[int, ...]:
    """Axes pooled into one spread: items (and a window's time steps)."""
    return (0, 1) if A.ndim == 3 and kind == "window" else (0,)


def attribution_spread(A: np.ndarray, kind: str = "vector") -> np.ndarray:
    """Standard deviation of attributions ``A`` of normal items per feature / metric (one item's shape)."""
    A = np.asarray(A, dtype=np.float64)
    axes = pooled_axes(A, kind)
    return A.std(axis=axes, keepdims=True)[0]


def floored(spread: np.ndarray, floor: float) -> np.ndarray:
    """``spread`` with every value at least ``floor`` times the median spread (and never 0)."""
    s = np.asarray(spread, dtype=np.float64)
    med = float(np.median(s))
    lo = max(floor * med, 1e-12) if med > 0 else 1e-12
    return np.maximum(s, lo)
