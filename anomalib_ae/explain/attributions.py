"""Attribution functions (arrays in, arrays out): which features, pixels, spectrogram cells or metrics made a score high.

Everything here returns numpy arrays; the pictures are drawn by :mod:`anomalib_ae.plots`.

How an attribution is computed (:func:`feature_contributions`):

* **reconstruction detectors** (a deep detector whose network's public ``error_map`` gives a
  per-value error: ``ae``, ``vae``, ``mae``, ``cvad``): the squared reconstruction error of
  every input value, in the detector's standardised units (``detector.error_map(X)``);
* **any other detector** (Deep SVDD, PyOD, ensembles ...): the squared z-score of every value
  against the training data (``reference=(mean, scale)``, e.g. kept by
  :class:`~anomalib_ae.pipeline.Pipeline`), i.e. "how unusual is this value on its own".
  This is model-agnostic and says nothing about interactions; it is labelled as such in
  the ``method`` the helpers return.

:class:`~anomalib_ae.explain.types.Explanation` is the typed result that the adapters build
from these arrays.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "feature_contributions",
    "pixel_error_maps",
    "spectrogram_error_map",
    "telemetry_contributions",
    "top_features",
]


def _reconstruction_errors(detector, X: np.ndarray) -> np.ndarray | None:
    """Per-value reconstruction error in model layout, or None if the detector has none."""
    error_map = getattr(detector, "error_map", None)  # public on the deep detectors
    return None if error_map is None else error_map(X)


def feature_contributions(detector, X, reference: tuple[np.ndarray, np.ndarray] | None = None, attribute=None):
    """Per-value contribution to the anomaly score.

    Parameters
    ----------
    detector : fitted detector
    X : array-like
        Samples in the layout the detector was fitted on: ``(n, d)``, ``(n, T, d)`` or images
        ``(n, H, W)`` / ``(n, C, H, W)``.
    reference : (mean, scale), optional
        Training statistics broadcastable against ``X``, used when the detector has no
        reconstruction (squared z-scores).
    attribute : callable, optional
        ``attribute(detector, X) -> (values, method)``, e.g.
        ``functools.partial(anomalib_ae.explain.methods.attribute, method="ig")``; replaces
        the two built-in rules above (how :meth:`Pipeline.explain` passes its ``method``).

    Returns
    -------
    contributions : ndarray of float64
        Same shape as ``X`` except images ``(n, H, W)`` stay ``(n, H, W)`` and colour images
        come back as ``(n, C, H, W)``; non-negative, higher = more anomalous.
    method : str
        ``"reconstruction"`` or ``"zscore"``.

    Raises
    ------
    ValueError
        When the detector has no reconstruction and no ``reference`` was given.
    """
    X = np.asarray(X)
    if attribute is not None:  # a method of anomalib_ae.explain.methods, chosen by the caller (Pipeline.explain)
        return attribute(detector, X)
    rec = _reconstruction_errors(detector, X)
    if rec is not None:
        return rec.reshape(X.shape) if rec.size == X.size else rec, "reconstruction"
    if reference is None:
        raise ValueError(
            f"{type(detector).__name__} has no reconstruction to explain with; use "
            "anomalib_ae.explain.methods.attribute (occlusion against the stored training medians, gradients) or pass "
            "reference=(mean, scale) of the training data for z-score contributions"
        )
    mean, scale = (np.asarray(a, dtype=np.float64) for a in reference)
    z = (X.astype(np.float64) - mean) / np.where(scale > 0, scale, 1.0)
    return z * z, "zscore"


def pixel_error_maps(detector, images, reference=None) -> np.ndarray:
    """Anomaly map per image: ``(n, H, W)`` float64 (channels averaged).

    See :func:`feature_contributions` for how values are attributed.
    """
    images = np.asarray(images)
    c, _ = feature_contributions(detector, images, reference)
    if c.ndim == 4:
        c = c.mean(axis=1)
    if c.ndim != 3:
        raise ValueError(f"expected images (n, H, W) or (n, C, H, W), got contributions of shape {c.shape}")
    return c


def spectrogram_error_map(frame_contributions: np.ndarray, n_mels: int, n_context: int) -> np.ndarray:
    """Turn per-value contributions of context-stacked frame vectors into a spectrogram map.

    Parameters
    ----------
    frame_contributions : ndarray of shape (n_vectors, n_context * n_mels)
        Contributions of one clip's frame vectors (frame-major, as
        :meth:`~anomalib_ae.data.AudioFeaturizer.stack_context` builds them).
    n_mels, n_context : int

    Returns
    -------
    ndarray of float64 of shape (n_mels, n_vectors + n_context - 1)
        Each STFT frame gets the mean contribution of the vector slots that contain it,
        aligned with the clip's log-mel spectrogram.
    """
    fc = np.asarray(frame_contributions, dtype=np.float64)
    if fc.ndim != 2 or fc.shape[1] != n_mels * n_context:
        raise ValueError(f"frame_contributions must be (n_vectors, {n_mels * n_context}), got {fc.shape}")
    n_vec = fc.shape[0]
    n_t = n_vec + n_context - 1
    tot = np.zeros((n_mels, n_t))
    cnt = np.zeros(n_t)
    for k in range(n_context):
        tot[:, k:k + n_vec] += fc[:, k * n_mels:(k + 1) * n_mels].T
        cnt[k:k + n_vec] += 1
    return tot / np.maximum(cnt, 1)


def telemetry_contributions(window_contributions: np.ndarray, batch, how: str = "mean") -> np.ndarray:
    """Per-timestamp, per-metric contributions ``(n_rows, n_metrics)`` from window contributions.

    ``window_contributions`` is ``(n_windows, window, n_metrics)`` (e.g. from
    :func:`feature_contributions` on ``batch.X``); see
    :func:`anomalib_ae.data.windows_to_timestamps_per_metric`.
    """
    from anomalib_ae.data.telemetry import windows_to_timestamps_per_metric

    return windows_to_timestamps_per_metric(window_contributions, batch, how=how)


def top_features(contributions: np.ndarray, names: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
    """The ``k`` largest contributions of each row as ``[(name, share), ...]``.

    ``share`` is the contribution divided by the row total (so shares of all features sum
    to 1); rows that are all NaN give an empty list.
    """
    c = np.asarray(contributions, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != len(names):
        raise ValueError(f"contributions must be (n, {len(names)}), got {c.shape}")
    out = []
    for row in c:
        if not np.isfinite(row).any():
            out.append([])
            continue
        r = np.nan_to_num(row, nan=0.0)
        tot = np.clip(r, 0.0, None).sum()  # shares of the positive total (signed methods: IG, occlusion)
        order = np.argsort(-r, kind="stable")[:k]
        out.append([(str(names[j]), float(r[j] / tot) if tot > 0 else 0.0) for j in order])
    return out
