"""Thresholds on raw anomaly scores."""

from __future__ import annotations

import numpy as np


def contamination_threshold(train_scores: np.ndarray, contamination: float) -> float:
    """The ``1 - contamination`` quantile of the training scores (scikit-learn's and PyOD's rule).

    A sample is flagged as anomalous when its score is strictly greater than this value, so on
    the training data the flagged fraction is ``contamination`` (up to ties).
    """
    scores = np.asarray(train_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("cannot set a threshold from an empty set of training scores")
    return float(np.quantile(scores, 1.0 - contamination))
