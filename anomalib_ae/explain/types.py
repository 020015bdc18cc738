"""The typed result of ``explain``: what made the top items' scores high."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Explanation"]


@dataclass
class Explanation:
    """Attributions of the highest-scoring items of a batch.

    Attributes
    ----------
    method : str
        ``"reconstruction"`` (per-value error of the detector's own reconstruction) or
        ``"zscore"`` (squared z-score against the training data, model-agnostic); ``""``
        when no item was explained.
    feature_names : list of str
        Names of the columns of :attr:`contributions`: table columns, ``["pixel"]`` for
        images, ``mel000 ...`` bands for audio, metric names for telemetry.
    top : list of int
        Positions (rows of ``result.table``) of the explained items, highest score first.
    item_ids : list
        An id per explained item: its path (images / clips), its row number (tables,
        telemetry) or its array index.
    scores : ndarray of float64 of shape (len(top),)
        The explained items' scores.
    contributions : ndarray of shape (len(top), len(feature_names))
        One value per item and feature (images: every pixel of the map, flattened).
    attributions : ndarray or list of ndarray
        Per-value attributions in the item's own shape: images ``(k, H, W)`` pixel maps,
        audio a list of ``(n_mels, T)`` time-frequency maps, telemetry ``(n_rows, n_metrics)``
        per timestamp and metric (every row of the batch), tables ``(k, n_features)``.
    kind : str
        The adapter kind that made it (``tabular``, ``image``, ``audio``, ``telemetry``).
    images : ndarray, optional
        Images: the preprocessed inputs of the explained items (for heatmap overlays).
    log_mels : list of ndarray, optional
        Audio: the log-mel spectrogram of every explained clip (``None`` where unreadable).
    row_contributions : ndarray, optional
        Telemetry: ``(n_rows, n_metrics)`` per-timestamp, per-metric contributions.
    result : ScoreResult, optional
        The scores the explanation was made from (its table names every item).
    """

    method: str
    feature_names: list[str]
    top: list[int]
    item_ids: list[Any]
    scores: np.ndarray
    contributions: np.ndarray
    attributions: Any
    kind: str = ""
    images: np.ndarray | None = None
    log_mels: list | None = None
    row_contributions: np.ndarray | None = None
    result: Any = field(default=None, repr=False)

    @property
    def maps(self):
        """Image pixel maps ``(k, H, W)`` / audio spectrogram maps (alias of :attr:`attributions`)."""
        return self.attributions
