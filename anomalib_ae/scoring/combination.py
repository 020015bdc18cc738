"""Score combination as pure functions over an ``(n_samples, n_detectors)`` matrix (numpy only).

Modelled on PyOD's ``models/combination.py``. Inputs should already be on a common scale
(anomalib_ae's ensembles pass each member's calibrated surprise ``-log p``); every function
returns float64 ``(n_samples,)`` with higher = more anomalous.
"""

from __future__ import annotations

import numpy as np

COMBINE_RULES = ("mean", "max", "median", "aom", "moa", "weighted")


def _matrix(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"scores must be a 2-D (n_samples, n_detectors) matrix, got shape {s.shape}")
    return s


def average(scores, weights=None) -> np.ndarray:
    """Mean over detectors, or the ``weights``-weighted mean (weights are normalised to sum 1)."""
    s = _matrix(scores)
    if weights is None:
        return s.mean(axis=1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (s.shape[1],):
        raise ValueError(f"{w.size} weights given for {s.shape[1]} detectors")
    if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return s @ (w / w.sum())


def maximization(scores) -> np.ndarray:
    """Maximum over detectors."""
    return _matrix(scores).max(axis=1)


def median(scores) -> np.ndarray:
    """Median over detectors."""
    return np.median(_matrix(scores), axis=1)


def _buckets(n_detectors: int, n_buckets: int | None, random_state: int) -> list[np.ndarray]:
    if n_buckets is None:
        n_buckets = max(1, n_detectors // 2)
    if not 1 <= n_buckets <= n_detectors:
        raise ValueError(f"n_buckets must be between 1 and the number of detectors ({n_detectors}), got {n_buckets}")
    order = np.random.default_rng(random_state).permutation(n_detectors)
    return np.array_split(order, n_buckets)


def aom(scores, n_buckets: int | None = None, random_state: int = 0) -> np.ndarray:
    """Average of maximum: detectors split at random into ``n_buckets`` groups (default half the
    number of detectors); the maximum within each group, averaged over groups (Aggarwal & Sathe 2015)."""
    s = _matrix(scores)
    return np.mean([s[:, g].max(axis=1) for g in _buckets(s.shape[1], n_buckets, random_state)], axis=0)


def moa(scores, n_buckets: int | None = None, random_state: int = 0) -> np.ndarray:
    """Maximum of average: the mean within each random group, maximum over groups."""
    s = _matrix(scores)
    return np.max([s[:, g].mean(axis=1) for g in _buckets(s.shape[1], n_buckets, random_state)], axis=0)


def combine(scores, rule: str = "mean", weights=None, random_state: int = 0) -> np.ndarray:
    """Dispatch on ``rule`` in :data:`COMBINE_RULES` ("weighted" needs ``weights``)."""
    if rule == "mean":
        return average(scores)
    if rule == "weighted":
        if weights is None:
            raise ValueError("combine='weighted' needs weights")
        return average(scores, weights)
    if rule == "max":
        return maximization(scores)
    if rule == "median":
        return median(scores)
    if rule == "aom":
        return aom(scores, random_state=random_state)
    if rule == "moa":
        return moa(scores, random_state=random_state)
    raise ValueError(f"unknown combination rule {rule!r}; use one of {', '.join(COMBINE_RULES)}")
