"""Best F1 over all score thresholds (the oracle-threshold F1 of the time-series anomaly
literature); numpy only.

The threshold is chosen on the labels being scored, so the number is an upper bound of what a
deployed threshold gets; report it as such (beside AUROC, which needs no threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomalib_ae.scoring.segments import as_binary

__all__ = ["F1Result", "best_f1"]


@dataclass(frozen=True)
class F1Result:
    """F1 at the best threshold: items with ``score >= threshold`` are flagged."""

    f1: float
    precision: float
    recall: float
    threshold: float


def _scores(y: np.ndarray, scores) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(f"scores have shape {s.shape} but the labels have {y.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold {int((~np.isfinite(s)).sum())} non-finite value(s)")
    return s


def best_f1(y, scores) -> F1Result:
    """Largest F1 of the rule ``score >= t`` over every distinct score ``t`` (exact).

    Ties are flagged together (a threshold cannot split equal scores), as in scikit-learn's
    ``precision_recall_curve``. Labels: 1 = anomalous. Without any anomalous label F1 is 0.

    >>> best_f1([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.5]).f1   # t = 0.4 flags 3, 2 right: 2*2/(3+2)
    0.8
    """
    y = as_binary(y)
    s = _scores(y, scores)
    n_pos = int(y.sum())
    if n_pos == 0 or s.size == 0:
        return F1Result(0.0, 0.0, 0.0, float("inf"))
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    tp = np.cumsum(ys)
    last = np.r_[np.flatnonzero(np.diff(ss)), ss.size - 1]  # last index of every distinct score
    tp, flagged = tp[last], last + 1
    f1 = 2.0 * tp / (flagged + n_pos)
    k = int(np.argmax(f1))
    return F1Result(float(f1[k]), float(tp[k] / flagged[k]), float(tp[k] / n_pos), float(ss[last[k]]))
