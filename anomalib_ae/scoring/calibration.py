"""Calibration of raw scores against held-out normal scores."""

from __future__ import annotations

import numpy as np


def conformal_p_values(calibration_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Conformal p-values of ``scores`` against scores of held-out normal samples.

    ``p = (1 + #{calibration >= s}) / (n_calibration + 1)``: under exchangeability with the
    normal calibration data, ``P(p <= alpha) <= alpha``, so ``p`` is the chance of a normal
    sample scoring at least this high. Small p = anomalous.
    """
    cal = np.sort(np.asarray(calibration_scores, dtype=np.float64))
    if cal.size == 0:
        raise ValueError("calibration needs at least one held-out normal score")
    s = np.asarray(scores, dtype=np.float64)
    n_greater_equal = cal.size - np.searchsorted(cal, s, side="left")
    return (1.0 + n_greater_equal) / (cal.size + 1.0)
