"""Fit-time labels for a :class:`~anomalib_ae.pipeline.Pipeline`: hold out the known anomalies.

``Pipeline.fit(data, y)`` with ``y == 1`` for a few known anomalies (0 / -1: normal or
unlabelled) fits the adapter and detector on the other items and fits the probability map on
the known anomalies' p-values (Deep SAD style; see :mod:`anomalib_ae.scoring.probability`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anomalib_ae.scoring.probability import labelled_anomalies


def split_known(data, y, kind: str):
    """``(normal part, known anomalies)`` of ``data`` by fit-time labels ``y``; ``(data, None)`` without known anomalies."""
    if y is None:
        return data, None
    y = np.asarray(y).reshape(-1)
    if kind == "telemetry":
        raise ValueError("fit-time labels are not supported for telemetry (windows span timestamps): fit on normal "
                         "data and label anomalies with `calibrate_probability` / `anomalib-ae calibrate --labels`")
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
        raise ValueError("fit-time labels need in-memory items (an array, a DataFrame or a list of files), "
                         f"not {type(data).__name__}")
    if len(y) != len(data):
        raise ValueError(f"y has {len(y)} labels but data has {len(data)} items")
    if not np.isin(y, (-1, 0, 1)).all():
        raise ValueError("y must hold 1 (known anomaly) and 0 or -1 (normal / unlabelled)")
    known = labelled_anomalies(y)
    if known is None:
        if (y == 1).any():
            raise ValueError(f"{int((y == 1).sum())} of {len(y)} items labelled anomalous: fit-time labels are for a "
                             "few known anomalies among normal data (at most a quarter)")
        return data, None
    if isinstance(data, pd.DataFrame):
        return data.iloc[np.flatnonzero(~known)], data.iloc[np.flatnonzero(known)]
    if isinstance(data, np.ndarray):
        return data[~known], data[known]
    items = list(data)
    return [v for v, k in zip(items, known) if not k], [v for v, k in zip(items, known) if k]
