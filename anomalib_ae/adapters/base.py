"""What every adapter is: a scikit-learn style estimator from what users hold to detector input.

An adapter turns a folder of images, a set of clips, a telemetry table or a plain table
into a :class:`Features` object (the detector's input plus one record per item), maps the
detector's sample scores back to one score per item (:meth:`Adapter.item_scores`) and builds
the typed :class:`~anomalib_ae.explain.types.Explanation` of the top items. ``__init__`` only
stores parameters (``get_params`` / ``clone`` work); fitted state ends in ``_`` and travels in
the model file through :meth:`Adapter.to_dict` / :meth:`Adapter.from_dict`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from anomalib_ae.explain.types import Explanation
from anomalib_ae.preprocessing import fit_standardizer

__all__ = ["Adapter", "Features", "as_frame"]


@dataclass
class Features:
    """An adapter's output for one batch.

    Attributes
    ----------
    X : ndarray
        The detector's input: one row per usable image / table row, the frame vectors of
        the usable clips (audio) or the windows of the table (telemetry).
    items : DataFrame
        One row per input item (``path``, ``item``, ``row`` / timestamp / entity columns).
    valid : ndarray of bool of shape (n_items,)
        Items that could be read; for images, tables and clips their rows of ``X`` (or
        frame groups) follow in item order.
    errors : list of (str or None)
        Why each item could not be read (``None`` for readable ones).
    paths : list of str, optional
        Image / audio: the file of every item.
    clip_index : ndarray of int64, optional
        Audio: for every row of ``X``, the position of its clip among the valid clips.
    n_clips : int, optional
        Audio: number of valid clips.
    windows : WindowBatch, optional
        Telemetry: the windows with their row index (maps window scores to timestamps).
    """

    X: np.ndarray
    items: pd.DataFrame
    valid: np.ndarray
    errors: list
    paths: list[str] | None = None
    clip_index: np.ndarray | None = None
    n_clips: int | None = None
    windows: Any = None

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def x_rows(self) -> np.ndarray:
        """For every item, its position among the valid items (the row of ``X`` for images / tables)."""
        return np.cumsum(self.valid) - 1

    def item_name(self, i: int) -> str:
        """How messages name item ``i``: its path, else ``row i``."""
        return self.paths[i] if self.paths is not None else f"row {i}"


def as_frame(data) -> pd.DataFrame:
    """A table path, a DataFrame or a 2-D array as a DataFrame (array columns ``x0, x1, ...``)."""
    from anomalib_ae.data.tabular import read_table

    if isinstance(data, (str, os.PathLike)):
        return read_table(data)
    if isinstance(data, pd.DataFrame):
        return data
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"tabular input must be a table or a 2-D array, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])


class Adapter(BaseEstimator):
    """Base of the modality adapters (:mod:`anomalib_ae.adapters`).

    Class attributes
    ----------------
    kind : str
        The name ``Pipeline(kind=...)`` and model files use.
    on_fit_errors : {"raise", "warn", "keep"}
        Unreadable training items: an error (tables), a warning naming them (files), or
        kept silently in ``fit_errors_`` (telemetry rows that no window covers).
    calibrate_on_items : bool
        ``True`` when the detector scores parts of items (frames, windows): the pipeline then
        calibrates on the training items' aggregated scores instead of the detector's own.
    """

    kind: ClassVar[str] = ""
    on_fit_errors: ClassVar[str] = "warn"
    calibrate_on_items: ClassVar[bool] = False

    @classmethod
    def param_names(cls) -> list[str]:
        """The parameters of ``__init__`` (what ``get_params`` returns)."""
        return list(cls._get_param_names())

    # ------------------------------------------------------------------ fit / transform
    def fit(self, data, y=None) -> "Adapter":
        """Fit on training data (image size, telemetry scaling, table columns ...)."""
        self.fit_transform(data)
        return self

    def fit_transform(self, data, y=None) -> Features:
        """Fit, then transform the same data (read once)."""
        raise NotImplementedError

    def transform(self, data) -> Features:
        """Features of ``data`` with the fitted settings."""
        raise NotImplementedError

    def detector_input(self, X: np.ndarray):
        """What the detector is given for ``X`` (tables: a DataFrame with the feature names)."""
        return X

    def item_scores(self, raw: np.ndarray, features: Features) -> np.ndarray:
        """Detector scores of ``features.X`` -> one float64 score per item (NaN where none)."""
        out = np.full(features.n_items, np.nan)
        out[features.valid] = np.asarray(raw, dtype=np.float64)
        return out

    def reference_stats(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training mean / std of every value of a sample (z-score explanations)."""
        X = np.asarray(X)
        mean, std = fit_standardizer(X.reshape(len(X), -1), "vector", dtype=np.float64)
        return mean.reshape(X.shape[1:]), std.reshape(X.shape[1:])

    # ------------------------------------------------------------------ explain
    def explain(self, detector, result, top: list[int], reference, attribute=None, method=None) -> Explanation:
        """Attributions of the items at positions ``top`` of ``result`` (a ``ScoreResult``).

        ``attribute(detector, X) -> (values, method)`` computes the per-value attributions
        (:meth:`Pipeline.explain` passes :func:`anomalib_ae.explain.methods.attribute` with its
        ``method``); None keeps the built-in reconstruction / z-score rule. ``method`` names the
        method ``attribute`` was built for (``"auto"`` resolved); telemetry computes a method that
        was measured per row (``"occlusion_z"``) on rows.
        """
        raise NotImplementedError

    def figure_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`anomalib_ae.plots.files.save_explanation_figures` for this data."""
        return {}

    @staticmethod
    def _item_ids(result, top: list[int]) -> list:
        table = result.table
        col = next((c for c in ("path", "row", "item") if c in table), None)
        return [table[col].iloc[i] if col else i for i in top]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able fitted settings, as stored in the model file's ``pipeline.adapter``."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any], **params) -> "Adapter":
        """A fitted adapter from :meth:`to_dict` output and the adapter's parameters."""
        raise NotImplementedError
