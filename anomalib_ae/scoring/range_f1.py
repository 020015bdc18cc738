"""Range-based precision, recall and F1 (Tatbul et al., NeurIPS 2018); numpy only.

Each labelled anomaly range ``R_i`` and each predicted range ``P_j`` (runs of 1s) is scored by
how much of it the other side covers, so a long event hit at one point earns little (unlike
point adjustment) and a detection split into many pieces is penalised:

* ``Recall = mean_i [ alpha * Existence(R_i) + (1 - alpha) * CF(R_i) * |R_i ∩ P| / |R_i| ]``
* ``Precision = mean_j [ CF(P_j) * |P_j ∩ R| / |P_j| ]`` (existence weight 0, as in the paper)

with the flat positional bias and the cardinality factor ``CF = 1`` when a range meets at most
one range of the other side, ``1 / x`` when it meets ``x`` of them (the paper's reciprocal
``gamma``). The defaults (``alpha = 0``, flat, reciprocal) are those of the reference
implementation ``prts`` (``ts_precision`` / ``ts_recall``). Precision is 0 when nothing is
predicted; F1 is the harmonic mean (0 when both are 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomalib_ae.scoring.best_f1 import _scores
from anomalib_ae.scoring.segments import as_binary, segments

__all__ = ["RangeF1Result", "best_range_f1", "range_f1", "range_precision_recall"]


@dataclass(frozen=True)
class RangeF1Result:
    """Range-based F1 of one prediction; ``threshold`` is the score threshold (``score >= t``)
    that made it, NaN when the prediction was given directly."""

    f1: float
    precision: float
    recall: float
    threshold: float = float("nan")


def _side(truth: np.ndarray, other: np.ndarray, alpha: float) -> float:
    """Mean over the ranges of ``truth`` of ``alpha * existence + (1 - alpha) * CF * coverage``."""
    rng = segments(truth)
    if len(rng) == 0:
        return 0.0
    a, b = rng[:, 0], rng[:, 1]
    cov = np.r_[0, np.cumsum(other)]  # covered points of other inside [a, b)
    hit = cov[b] - cov[a]
    starts = np.r_[other[:1], other[1:] & ~other[:-1]]  # first point of each range of other
    cs = np.r_[0, np.cumsum(starts)]
    n_meet = other[a].astype(np.int64) + (cs[b] - cs[a + 1])  # ranges of other meeting [a, b)
    cf = np.where(n_meet <= 1, 1.0, 1.0 / np.maximum(n_meet, 1))
    overlap = cf * hit / (b - a)
    return float(np.mean(alpha * (hit > 0) + (1.0 - alpha) * overlap))


def range_precision_recall(y, pred, alpha: float = 0.0) -> tuple[float, float]:
    """(precision, recall) of a 0/1 prediction against 0/1 labels (1 = anomalous).

    ``alpha`` is the recall's existence reward weight in ``[0, 1]``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    y, p = as_binary(y), as_binary(pred, "pred")
    if y.shape != p.shape:
        raise ValueError(f"prediction has shape {p.shape} but the labels have {y.shape}")
    return _side(p, y, 0.0), _side(y, p, alpha)


def range_f1(y, pred, alpha: float = 0.0) -> RangeF1Result:
    """Range-based F1 of a 0/1 prediction (see the module text)."""
    p, r = range_precision_recall(y, pred, alpha)
    return RangeF1Result(2 * p * r / (p + r) if p + r > 0 else 0.0, p, r)


def best_range_f1(y, scores, n_thresholds: int = 200, alpha: float = 0.0) -> RangeF1Result:
    """Largest range-based F1 of ``score >= t`` over a grid of thresholds ``t``.

    The grid is the ``k``-th largest score for ``n_thresholds`` values of ``k`` spaced
    geometrically from 1 to ``n`` (fine where few points are flagged, where the best F1 lies),
    plus every distinct score when there are at most ``n_thresholds`` of them.
    """
    y = as_binary(y)
    s = _scores(y, scores)
    if s.size == 0 or not y.any():
        return RangeF1Result(0.0, 0.0, 0.0, float("inf"))
    desc = np.sort(s)[::-1]
    uniq = np.unique(s)
    if uniq.size <= n_thresholds:
        grid = uniq
    else:
        ks = np.unique(np.geomspace(1, s.size, n_thresholds).astype(np.int64))
        grid = np.unique(desc[ks - 1])
    best = RangeF1Result(-1.0, 0.0, 0.0)
    for t in grid:
        r = range_f1(y, s >= t, alpha)
        if r.f1 > best.f1:
            best = RangeF1Result(r.f1, r.precision, r.recall, float(t))
    return best
