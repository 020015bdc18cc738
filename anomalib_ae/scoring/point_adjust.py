"""Point adjustment (Xu et al. 2018, used by OmniAnomaly's F1-PA); numpy only.

With point adjustment, a labelled anomaly segment counts as wholly detected as soon as one of
its points is flagged. This inflates every detector (a random score reaches high F1-PA on long
segments, Kim et al. 2022): report it only beside metrics that do not, such as
:func:`~anomalib_ae.scoring.best_f1` and :func:`~anomalib_ae.scoring.best_range_f1`.
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.scoring.best_f1 import F1Result, _scores, best_f1
from anomalib_ae.scoring.segments import as_binary, segments

__all__ = ["best_f1_point_adjusted", "point_adjust_scores"]


def point_adjust_scores(y, scores) -> np.ndarray:
    """Scores where every labelled segment takes its maximum score.

    Thresholding these at ``t`` gives exactly the point-adjusted predictions of ``score >= t``.

    >>> point_adjust_scores([0, 1, 1, 1, 0], [0.2, 0.1, 0.7, 0.3, 0.5]).tolist()
    [0.2, 0.7, 0.7, 0.7, 0.5]
    """
    y = as_binary(y)
    out = _scores(y, scores).copy()
    for a, b in segments(y):
        out[a:b] = out[a:b].max()
    return out


def best_f1_point_adjusted(y, scores) -> F1Result:
    """Best F1 over thresholds after point adjustment (F1-PA)."""
    return best_f1(y, point_adjust_scores(y, scores))
