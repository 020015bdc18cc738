"""The typed result of scoring a batch of items (``Pipeline.score_items``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anomalib_ae.adapters.base import Features

__all__ = ["ScoreResult"]


@dataclass
class ScoreResult:
    """Scores of a batch of items.

    Attributes
    ----------
    table : DataFrame
        One row per input item (image, clip, timestamp or table row), with ``score``,
        ``p_value`` (conformal p-value: share of held-out normal items scoring at least as
        high), ``probability`` (P(anomaly) from the p-value, :mod:`anomalib_ae.scoring.probability`),
        ``is_anomaly`` and ``error`` (why an item could not be scored; its score is then NaN);
        with rolling re-calibration also ``threshold`` and ``drift_warning``.
    scores : ndarray of float64 of shape (len(table),)
        The ``score`` column.
    details : Features
        The adapter's output the scores came from (detector input ``X``, ``valid`` items,
        audio ``clip_index``, telemetry ``windows`` ...), for explanations.
    raw_scores : ndarray of float64
        The detector's scores of ``details.X`` (frames, windows, rows or images).
    """

    table: pd.DataFrame
    scores: np.ndarray
    details: Features | None = None
    raw_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
