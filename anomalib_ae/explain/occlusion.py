"""Occlusion against training medians: model-agnostic, works for every detector and ensemble.

A part of the input is replaced by its training median and the score is recomputed; the
part's attribution is how much the score drops, ``score(x) - score(x with the part at its
median)`` (positive = the part raised the score). The parts are

* vectors ``(n, d)``: each feature;
* windows ``(n, T, d)``: each metric over the whole window (the drop is spread evenly over its
  ``T`` values);
* images ``(n, H, W)`` / ``(n, C, H, W)`` / channels-last: square patches (``patch`` pixels,
  stride ``patch // 2``), each pixel getting the mean drop of the patches that cover it.

The medians are fitted with the detector (``train_median_``, stored in the model file), so
no reference data is needed at explain time.
"""

from __future__ import annotations

import numpy as np

__all__ = ["occlusion_attributions"]


def _scorer(detector):
    names = getattr(detector, "feature_names_in_", None)
    if names is None:
        return detector.score
    import pandas as pd

    cols = list(names)
    return lambda A: detector.score(pd.DataFrame(A, columns=cols))


def _infer_kind(shape: tuple[int, ...]) -> str:
    """The deep detectors' reading of a per-sample shape: vector, window, or (square / 3-D) image."""
    if len(shape) == 1:
        return "vector"
    if len(shape) == 2:
        return "image" if shape[0] == shape[1] >= 8 else "window"
    return "image"


def _image_axes(shape: tuple[int, ...]) -> tuple[int, int]:
    """(row axis, col axis) of one image of per-sample ``shape``."""
    if len(shape) == 2:
        return 0, 1
    if shape[0] in (1, 3, 4):
        return 1, 2
    return 0, 1  # channels-last


def occlusion_attributions(detector, X, median=None, *, kind: str | None = None, patch: int | None = None,
                           max_rows: int = 4096) -> np.ndarray:
    """Score drop when each feature / metric / image patch is set to its training median.

    Parameters
    ----------
    detector : fitted detector (anything with ``score``)
    X : array-like ``(n, d)``, ``(n, T, d)`` or images
    median : array, optional
        One sample's training median (default ``detector.train_median_``).
    kind : {"vector", "window", "image"}, optional
        Default: the detector's ``input_kind_`` or inferred from the shape.
    patch : int, optional
        Image patch side; default ``max(2, H // 8)``.
    """
    X = np.asarray(X)
    if median is None:
        median = getattr(detector, "train_median_", None)
    if median is None:
        raise ValueError(
            f"{type(detector).__name__} has no training medians (train_median_); refit it with this version "
            "or pass median="
        )
    median = np.asarray(median, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    if median.shape != X.shape[1:]:
        raise ValueError(f"median has shape {median.shape}, one sample of X has {X.shape[1:]}")
    if kind is None:
        kind = getattr(detector, "input_kind_", None) or _infer_kind(tuple(X.shape[1:]))
    score = _scorer(detector)
    base = score(X)
    out = np.zeros(X.shape, dtype=np.float64)
    if kind == "vector" or X.ndim == 2:
        d = X.shape[1]
        step = max(1, max_rows // max(d, 1))
        for s in range(0, len(X), step):
            xb = X[s:s + step]
            rep = np.repeat(xb[:, None, :], d, axis=1)  # (b, d, d)
            idx = np.arange(d)
            rep[:, idx, idx] = median[idx]
            drops = base[s:s + step, None] - score(rep.reshape(-1, d)).reshape(len(xb), d)
            out[s:s + step] = drops
        return out
    if kind == "window":
        n, T, d = X.shape
        step = max(1, max_rows // max(d, 1))
        for s in range(0, n, step):
            xb = X[s:s + step]
            rep = np.repeat(xb[:, None], d, axis=1)  # (b, d, T, d)
            for j in range(d):
                rep[:, j, :, j] = median[:, j]
            drops = base[s:s + step, None] - score(rep.reshape(-1, T, d)).reshape(len(xb), d)
            out[s:s + step] = drops[:, None, :] / T
        return out
    # images
    ra, ca = _image_axes(X.shape[1:])
    H, W = X.shape[1 + ra], X.shape[1 + ca]
    p = int(patch or max(2, H // 8))
    stride = max(1, p // 2)
    tops = list(range(0, max(H - p, 0) + 1, stride))
    lefts = list(range(0, max(W - p, 0) + 1, stride))
    if tops[-1] + p < H:
        tops.append(H - p)
    if lefts[-1] + p < W:
        lefts.append(W - p)
    boxes = [(t, l) for t in tops for l in lefts]
    cover = np.zeros((H, W))
    for t, l in boxes:
        cover[t:t + p, l:l + p] += 1

    def region(t, l):
        sl = [slice(None)] * (X.ndim - 1)
        sl[ra], sl[ca] = slice(t, t + p), slice(l, l + p)
        return tuple(sl)

    for i in range(len(X)):
        rep = np.repeat(X[i:i + 1], len(boxes), axis=0)
        for b, (t, l) in enumerate(boxes):
            r = region(t, l)
            rep[(b, *r)] = median[r]
        drops = base[i] - score(rep)
        acc = np.zeros((H, W))
        for b, (t, l) in enumerate(boxes):
            acc[t:t + p, l:l + p] += drops[b]
        m = acc / np.maximum(cover, 1)
        if X.ndim == 3:
            out[i] = m
        else:
            out[i] = np.expand_dims(m, axis=(0 if ra == 1 else 2))
    return out
