"""Frame scores of an audio clip -> one score per clip (numpy only)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["aggregate_clip_scores"]


def aggregate_clip_scores(
    frame_scores: Sequence[float] | np.ndarray,
    clip_index: Sequence[int] | np.ndarray,
    n_clips: int,
    how: str = "mean",
) -> np.ndarray:
    """One score per clip from frame scores.

    Parameters
    ----------
    frame_scores : array-like of shape (n_frames,)
        Higher = more anomalous.
    clip_index : array-like of int of shape (n_frames,)
        ``AudioBatch.clip_index``.
    n_clips : int
        Number of clips (``AudioBatch.n_clips``).
    how : {"mean", "max", "quantile:q"}, default="mean"
        ``"quantile:0.9"`` takes the 0.9 quantile of each clip's frame scores.

    Returns
    -------
    ndarray of float64 of shape (n_clips,)
        NaN for a clip with no frame.
    """
    s = np.asarray(frame_scores, dtype=np.float64).ravel()
    c = np.asarray(clip_index).ravel()
    if s.shape != c.shape:
        raise ValueError(f"frame_scores has {s.size} values but clip_index has {c.size}")
    if c.size and (c.min() < 0 or c.max() >= n_clips):
        raise ValueError(f"clip_index values must lie in [0, {n_clips}), got [{c.min()}, {c.max()}]")
    c = c.astype(np.int64)
    out = np.full(int(n_clips), np.nan)
    counts = np.bincount(c, minlength=n_clips)
    has = counts > 0
    if how == "mean":
        out[has] = np.bincount(c, weights=s, minlength=n_clips)[has] / counts[has]
    elif how == "max":
        m = np.full(int(n_clips), -np.inf)
        np.maximum.at(m, c, s)
        out[has] = m[has]
    elif how.startswith("quantile:"):
        try:
            q = float(how.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"bad quantile in how={how!r}; use e.g. 'quantile:0.9'") from None
        if not 0.0 <= q <= 1.0 or math.isnan(q):
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        order = np.argsort(c, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        ss = s[order]
        for k in np.flatnonzero(has):
            out[k] = np.quantile(ss[bounds[k]:bounds[k + 1]], q)
    else:
        raise ValueError(f"how must be 'mean', 'max' or 'quantile:q', got {how!r}")
    return out
