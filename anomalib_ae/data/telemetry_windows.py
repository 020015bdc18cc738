"""Telemetry windows (:class:`WindowBatch`) and window scores -> one score per input row.

Pure numpy (no torch). :func:`windows_to_timestamps` maps window scores back to the rows the
windows cover; :func:`windows_to_timestamps_per_metric` does the same per metric (culprit-metric
explanations). Windows come from :class:`~anomalib_ae.data.telemetry.TelemetryWindower`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from anomalib_ae.data.errors import RowError

__all__ = ["WindowBatch", "windows_to_timestamps", "windows_to_timestamps_per_metric"]


@dataclass
class WindowBatch:
    """Sliding windows of a telemetry table.

    Attributes
    ----------
    X : ndarray of float32 of shape (n_windows, window, n_metrics)
        Scaled metric values.
    window_index : ndarray of int64 of shape (n_windows, window)
        For each window slot, the 0-based position of its row in the input table; ``-1``
        for edge-padded slots of a short segment.
    entities : ndarray of shape (n_windows,)
        Entity of each window (``None`` values when there is no entity column).
    timestamps : ndarray of shape (n_windows,)
        Timestamp of the last real row of each window (when the window is complete).
    row_timestamps : ndarray of shape (n_rows,)
        Parsed timestamp of every input row, in input order.
    row_entities : ndarray of shape (n_rows,)
        Entity of every input row, in input order.
    metric_cols : list of str
        Metric names, the last axis of ``X``.
    errors : list of RowError
        Rows that no window contains (unfillable NaN), with the reason.
    """

    X: np.ndarray
    window_index: np.ndarray
    entities: np.ndarray
    timestamps: np.ndarray
    row_timestamps: np.ndarray
    row_entities: np.ndarray
    metric_cols: list[str]
    errors: list[RowError] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Number of rows of the input table."""
        return len(self.row_timestamps)

    def __len__(self) -> int:
        return len(self.X)


def _spread(values: np.ndarray, batch: WindowBatch) -> tuple[np.ndarray, np.ndarray]:
    """window values -> (row positions, values) per real slot; values may carry a metric axis."""
    wi = batch.window_index
    n_win, w = wi.shape
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != n_win:
        raise ValueError(f"got {v.shape[0]} window values but the batch has {n_win} windows")
    return wi, v


def _reduce(rows: np.ndarray, vals: np.ndarray, n_rows: int, how: str) -> np.ndarray:
    """Aggregate ``vals`` (k,) or (k, m) at ``rows`` (k,) into (n_rows,) / (n_rows, m); NaN where empty."""
    shape = (n_rows,) + vals.shape[1:]
    if how == "mean":
        tot = np.zeros(shape)
        cnt = np.zeros(n_rows)
        np.add.at(tot, rows, vals)
        np.add.at(cnt, rows, 1.0)
        out = np.full(shape, np.nan)
        has = cnt > 0
        out[has] = tot[has] / (cnt[has][:, None] if vals.ndim == 2 else cnt[has])
        return out
    if how == "max":
        out = np.full(shape, -np.inf)
        np.maximum.at(out, rows, vals)
        out[np.isneginf(out)] = np.nan
        return out
    raise ValueError(f"how must be 'mean' or 'max', got {how!r}")


def windows_to_timestamps(window_scores: np.ndarray, batch: WindowBatch, how: str = "mean") -> np.ndarray:
    """Map window scores back to one score per input row.

    Parameters
    ----------
    window_scores : array-like of shape (n_windows,) or (n_windows, window)
        One score per window (spread over all its rows), or one per window slot
        (e.g. per-step reconstruction error).
    batch : WindowBatch
        The batch the scores were computed on.
    how : {"mean", "max"}, default="mean"
        How to combine the windows that cover a row.

    Returns
    -------
    ndarray of float64 of shape (batch.n_rows,)
        In input row order.  Every usable row is covered by a window; rows listed in
        ``batch.errors`` (unfillable NaN) get NaN.
    """
    wi, v = _spread(window_scores, batch)
    if v.ndim == 1:
        v = np.broadcast_to(v[:, None], wi.shape)
    elif v.shape != wi.shape:
        raise ValueError(f"window_scores must have shape ({wi.shape[0]},) or {wi.shape}, got {v.shape}")
    real = wi >= 0
    return _reduce(wi[real], v[real], batch.n_rows, how)


def windows_to_timestamps_per_metric(window_errors: np.ndarray, batch: WindowBatch, how: str = "mean") -> np.ndarray:
    """Map per-metric window errors to per-row, per-metric contributions.

    Parameters
    ----------
    window_errors : array-like of shape (n_windows, window, n_metrics) or (n_windows, n_metrics)
        E.g. squared reconstruction error of each value of ``batch.X``; a
        ``(n_windows, n_metrics)`` array is spread over all rows of each window.
    batch : WindowBatch
    how : {"mean", "max"}, default="mean"

    Returns
    -------
    ndarray of float64 of shape (batch.n_rows, n_metrics)
        Row ``i`` holds, for each metric, the combined error of the window slots that
        cover input row ``i`` (NaN rows as in :func:`windows_to_timestamps`).  The
        culprit metrics of a row are its largest entries.
    """
    wi, v = _spread(window_errors, batch)
    m = len(batch.metric_cols)
    if v.ndim == 2:
        if v.shape[1] != m:
            raise ValueError(f"window_errors must have {m} metrics on its last axis, got shape {v.shape}")
        v = np.broadcast_to(v[:, None, :], wi.shape + (m,))
    elif v.shape != wi.shape + (m,):
        raise ValueError(f"window_errors must have shape {wi.shape + (m,)}, got {v.shape}")
    real = wi >= 0
    return _reduce(wi[real], v[real], batch.n_rows, how)
