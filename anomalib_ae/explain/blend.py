"""Blends of a model attribution in training units with the value's |z-score|: ``"residual_z"``, ``"occlusion_z"``.

``"residual_z"``: the reconstruction residual in training units, blended with the |z-score|.

For every value of an item (a row of a window, or a feature vector):

* the squared reconstruction residual divided by the 99th percentile of that metric's
  residual on the training data (``residual_q99_``, fitted with the detector; floored at
  ``floor`` times the median over metrics so a metric the network rebuilds perfectly in
  training is not inflated without bound), as shares of the row's total over metrics;
* plus ``z_weight`` times the row's |z-score| against the training mean / std
  (``train_mean_``, ``train_scale_``), also as shares;
* windows: a centred moving mean over ``smooth`` time steps of the window (truncated at its
  edges), so the row attributions a telemetry pipeline averages over covering windows are
  smoothed over neighbouring rows.

Why this and these settings: the best of 408 candidate rankings (normalisations, floors,
combinations with z-scores, smoothing) on synthetic culprit anomalies planted in held-out
*training* data of 19 SMD machines, chosen without the test labels (``benchmarks/explain.py``,
``docs/explanations.md``): planted HitRate@150 % 0.938 vs 0.784 for the naive |z-score|. On
SMD's test labels it gains less: 0.566 vs 0.520 per row, and per segment it is below the naive
ranking (0.572 vs 0.714). The residual alone ranks metrics the network always rebuilds
badly; the z-score alone ranks metrics that drifted; the blend puts both in comparable units.
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.explain.scales import floored

__all__ = ["residual_z", "occlusion_z", "occlusion_z_parts", "blend_shares", "occlusion_scale", "Z_WEIGHT", "FLOOR", "SMOOTH",
           "OCC_Z_WEIGHT", "OCC_FLOOR", "OCC_SMOOTH"]

#: the measured settings (train-only selection on SMD, see the module docstring)
Z_WEIGHT = 1.0
FLOOR = 0.1
SMOOTH = 9
#: ``"occlusion_z"``: chosen on ASD's interpretation labels (benchmarks/explain.py --select-on asd)
OCC_Z_WEIGHT = 0.5
OCC_FLOOR = 0.01
OCC_SMOOTH = 31


def _row_shares(A: np.ndarray) -> np.ndarray:
    """Positive part of each row (last axis = metrics / features) as shares of its total."""
    P = np.clip(A, 0.0, None)
    t = P.sum(axis=-1, keepdims=True)
    return np.divide(P, t, out=np.zeros_like(P), where=t > 0)


def moving_mean(A: np.ndarray, width: int, axis: int = 1) -> np.ndarray:
    """Centred moving mean of ``width`` steps along ``axis``, truncated at the ends (no padding)."""
    if width <= 1 or A.shape[axis] <= 1:
        return A
    A = np.moveaxis(A, axis, 0)
    n, h = A.shape[0], width // 2
    cs = np.concatenate([np.zeros((1, *A.shape[1:])), np.cumsum(A, axis=0)])
    i = np.arange(n)
    lo, hi = np.maximum(i - h, 0), np.minimum(i + h, n - 1)
    out = (cs[hi + 1] - cs[lo]) / (hi - lo + 1).reshape(-1, *([1] * (A.ndim - 1)))
    return np.moveaxis(out, 0, axis)


def residual_z(detector, X, *, z_weight: float = Z_WEIGHT, floor: float = FLOOR, smooth: int = SMOOTH) -> np.ndarray:
    """Blended attribution of every value of ``X`` (vectors ``(n, d)`` or windows ``(n, T, d)``).

    Raises
    ------
    ValueError
        When the detector has no reconstruction, or was fitted before ``residual_q99_`` was
        stored (refit it, or use ``"combined"``).
    """
    from anomalib_ae.explain.residuals import reconstruction_residuals

    X = np.asarray(X)
    name = type(detector).__name__
    if X.ndim not in (2, 3):
        raise ValueError(f"residual_z explains vectors (n, d) or windows (n, T, d), got shape {X.shape}")
    q = getattr(detector, "residual_q99_", None)
    if q is None:
        raise ValueError(f"{name} has no residual_q99_ (no reconstruction, or fitted before it was stored); refit it "
                         "or use method='combined'")
    r = reconstruction_residuals(detector, X)
    if r is None:
        raise ValueError(f"{name} has no reconstruction; residual_z needs one")
    mean = np.asarray(detector.train_mean_, dtype=np.float64)
    scale = np.asarray(detector.train_scale_, dtype=np.float64)
    R = r / floored(np.asarray(q, dtype=np.float64), floor)
    Z = np.abs((X.astype(np.float64) - mean) / np.where(scale > 0, scale, 1.0))
    A = _row_shares(R) + z_weight * _row_shares(Z)
    if A.ndim == 3 and getattr(detector, "input_kind_", "window") == "window":
        A = moving_mean(A, smooth, axis=1)
    return A


def occlusion_scale(detector, X_train: np.ndarray, max_items: int = 512) -> np.ndarray:
    """Per-metric standard deviation of the occlusion attribution on (up to ``max_items`` evenly spaced)
    training windows, pooled over items and time steps: the unit of ``"occlusion_z"``."""
    from anomalib_ae.explain.occlusion import occlusion_attributions
    from anomalib_ae.explain.scales import attribution_spread, training_sample

    A = occlusion_attributions(detector, training_sample(np.asarray(X_train), max_items))
    return attribution_spread(A, "window")


def occlusion_z(detector, X, *, z_weight: float = OCC_Z_WEIGHT, floor: float = OCC_FLOOR,
                smooth: int = OCC_SMOOTH) -> np.ndarray:
    """``"occlusion_z"``: the occlusion score drop in training units blended with the |z-score|, windows only.

    For every window ``(n, T, d)``: each metric's occlusion attribution (score drop when the metric
    is set to its training median over the window) divided by its standard deviation on training
    windows (``occlusion_scale_``, floored at ``floor`` times the median metric's), as shares of
    the row's total; plus ``z_weight`` times the shares of the row's |z-score|; then a centred
    moving mean over ``smooth`` time steps of the window (31 >= the window: the window's mean).
    This is the version for bare windows; a telemetry pipeline computes the ranking as it was
    measured, per row and smoothed over consecutive timestamps
    (:func:`anomalib_ae.explain.rows.occlusion_z_rows`).

    Why: the best of the frozen 408 candidate rankings on ASD's interpretation labels (12 servers,
    a second labelled data set), evaluated once on SMD's 19 machines: HitRate@150 % 0.611 as chosen
    (the benchmark's row-level version, smoothed over 31 rows), 0.608 through a telemetry pipeline
    (``occlusion_z_rows``), vs naive |z| 0.520 and ``"residual_z"`` 0.566 (``docs/explanations.md``).
    Caveat: the naive |z| averaged over 31 rows alone reaches 0.589, so most of the gain is the smoothing.

    Raises
    ------
    ValueError
        On anything but windows, or a detector fitted before ``occlusion_scale_`` was stored.
    """
    O, Z = occlusion_z_parts(detector, X, floor=floor)
    return moving_mean(blend_shares(O, Z, z_weight), smooth, axis=1)


def occlusion_z_parts(detector, X, *, floor: float = OCC_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """The two unblended parts of ``"occlusion_z"`` for windows ``(n, T, d)``: the occlusion attribution
    divided by ``occlusion_scale_`` (floored) and the |z-score| against the training mean / std.

    A telemetry pipeline averages both over the windows covering a row before blending them
    (:func:`anomalib_ae.explain.rows.occlusion_z_rows`), as the benchmark that chose them did.
    """
    from anomalib_ae.explain.occlusion import occlusion_attributions

    X = np.asarray(X)
    name = type(detector).__name__
    if X.ndim != 3:
        raise ValueError(f"occlusion_z explains windows (n, T, d), got shape {X.shape}")
    q = getattr(detector, "occlusion_scale_", None)
    if q is None:
        raise ValueError(f"{name} has no occlusion_scale_ (fitted before it was stored, or not a windowed "
                         "reconstruction detector); refit it or use method='residual_z'")
    O = occlusion_attributions(detector, X, kind="window")
    mean = np.asarray(detector.train_mean_, dtype=np.float64)
    scale = np.asarray(detector.train_scale_, dtype=np.float64)
    Z = np.abs((X.astype(np.float64) - mean) / np.where(scale > 0, scale, 1.0))
    return O / floored(np.asarray(q, dtype=np.float64), floor), Z


def blend_shares(A: np.ndarray, Z: np.ndarray, z_weight: float) -> np.ndarray:
    """Shares of ``A``'s positive part plus ``z_weight`` x the shares of ``Z`` (last axis: metrics)."""
    return _row_shares(A) + z_weight * _row_shares(Z)
