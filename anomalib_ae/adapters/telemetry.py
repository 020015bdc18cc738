"""Telemetry tables (timestamp, optional entity, metric columns): the detector scores sliding
windows, one score per timestamp (row)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from anomalib_ae.adapters.base import Adapter, Features, as_frame
from anomalib_ae.explain.attributions import feature_contributions, telemetry_contributions
from anomalib_ae.explain.types import Explanation
from anomalib_ae.preprocessing import fit_standardizer

__all__ = ["TelemetryAdapter"]

#: Parameters handed to :class:`~anomalib_ae.data.TelemetryWindower`.
WINDOWER_PARAMS = ("window", "stride", "timestamp_col", "entity_col", "metric_cols", "max_gap", "ffill_limit", "scale")


class TelemetryAdapter(Adapter):
    """A metrics table -> windows ``(n_windows, window, n_metrics)`` (:class:`~anomalib_ae.data.TelemetryWindower`).

    Parameters
    ----------
    window, stride, timestamp_col, entity_col, metric_cols, max_gap, ffill_limit, scale
        As :class:`~anomalib_ae.data.TelemetryWindower` (fitted copy in ``reader_``).
    exclude : list of str, optional
        Numeric columns that are not metrics (ids, labels).
    timestamp_how : {"mean", "max"}, default="mean"
        Window scores -> timestamp score.
    train_stride : int, default=1
        Fit on every ``train_stride``-th window only (windows start every ``stride * train_stride``
        rows at fit, plus one aligned to each segment's end); scoring, calibration on held-out
        rows and explanations keep every window. ``configs/hpc_accuracy.yaml`` was measured with
        10 (``benchmarks/telemetry_peers.py --train-stride``). Saved in the model file; files
        written before it existed load with 1.
    optional_columns : list of str, optional
        Names in ``exclude`` / ``entity_col`` that a training table may lack: such a column is
        skipped with a warning (names that come from a config file, set by
        :func:`~anomalib_ae.pipeline.pipeline_from_config`); any other missing name is an error.

    Rows with unfillable values are kept out of the windows (``fit_errors_`` of the pipeline
    names them) and get an ``error`` at score time.
    """

    kind = "telemetry"
    on_fit_errors = "keep"
    calibrate_on_items = True

    def __init__(self, window=32, stride=1, timestamp_col="timestamp", entity_col=None, metric_cols=None,
                 max_gap=None, ffill_limit=5, scale=True, exclude=None, timestamp_how="mean",
                 optional_columns=None, train_stride=1):
        self.window = window
        self.stride = stride
        self.timestamp_col = timestamp_col
        self.entity_col = entity_col
        self.metric_cols = metric_cols
        self.max_gap = max_gap
        self.ffill_limit = ffill_limit
        self.scale = scale
        self.exclude = exclude
        self.timestamp_how = timestamp_how
        self.optional_columns = optional_columns
        self.train_stride = train_stride

    def fit_transform(self, data, y=None) -> Features:
        from anomalib_ae.data import TelemetryWindower

        df = as_frame(data)
        params = {k: getattr(self, k) for k in WINDOWER_PARAMS}
        optional = {str(c) for c in self.optional_columns or []}
        if params["entity_col"] in optional and params["entity_col"] not in df.columns:
            warnings.warn(f"entity column {params['entity_col']!r} is not in the table: one entity assumed",
                          UserWarning, stacklevel=3)
            params["entity_col"] = None
        exclude = [str(c) for c in self.exclude or []]
        missing = [c for c in exclude if c not in df.columns]
        if [c for c in missing if c not in optional]:
            raise ValueError(f"exclude names column(s) not in the table: {[c for c in missing if c not in optional]}")
        if missing:
            warnings.warn(f"excluded column(s) not in the table, skipped: {missing}", UserWarning, stacklevel=3)
            exclude = [c for c in exclude if c in df.columns]
        reader = TelemetryWindower(**params)
        if exclude and reader.metric_cols is None:
            skip = set(exclude) | {reader.timestamp_col, reader.entity_col}
            from anomalib_ae.data.telemetry import mostly_numeric

            reader.metric_cols = [str(c) for c in df.columns if c not in skip and mostly_numeric(df[c])]
        k = _check_train_stride(self.train_stride)
        self.reader_ = reader.fit(df)
        if k == 1:
            return self.transform(df)
        stride = reader.stride
        reader.stride = int(stride) * k  # fit windows only; the fitted reader keeps ``stride``
        try:
            return self.transform(df)
        finally:
            reader.stride = stride

    def transform(self, data) -> Features:
        r = self.reader_
        batch = r.transform(as_frame(data))
        errs: list[str | None] = [None] * batch.n_rows
        for e in batch.errors:
            errs[e.row] = e.message
        items = pd.DataFrame({"row": np.arange(batch.n_rows), r.timestamp_col: batch.row_timestamps})
        if r.entity_col is not None:
            items[r.entity_col] = batch.row_entities
        return Features(X=batch.X, items=items, valid=np.array([e is None for e in errs]), errors=errs,
                        windows=batch)

    def item_scores(self, raw: np.ndarray, features: Features) -> np.ndarray:
        from anomalib_ae.data import windows_to_timestamps

        return windows_to_timestamps(raw, features.windows, how=self.timestamp_how)

    def reference_stats(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training mean / std of every metric (over windows and time steps)."""
        return fit_standardizer(np.asarray(X), "window", dtype=np.float64)

    def explain(self, detector, result, top, reference, attribute=None, method=None) -> Explanation:
        batch = result.details.windows
        rowc, method = self.row_attributions(detector, batch, reference, attribute, method)
        names = list(batch.metric_cols)
        return Explanation(method=method, feature_names=names, top=list(top), item_ids=self._item_ids(result, top),
                           scores=result.scores[top],
                           contributions=rowc[top] if top else np.zeros((0, len(names))), attributions=rowc,
                           kind=self.kind, row_contributions=rowc, result=result)

    def row_attributions(self, detector, batch, reference=None, attribute=None, method=None) -> tuple[np.ndarray, str]:
        """Per-row, per-metric attributions ``(n_rows, n_metrics)`` of a window batch and the method used.

        A method measured on rows (``method`` in :data:`anomalib_ae.explain.rows.ROW_METHODS`:
        ``"occlusion_z"``) combines its parts over the windows covering each row, blends them and
        averages over consecutive timestamps (:func:`~anomalib_ae.explain.rows.occlusion_z_rows`);
        any other method's window attributions are combined per row (``timestamp_how``).
        """
        from anomalib_ae.explain.rows import row_method

        fn = row_method(method) if attribute is not None else None
        if fn is not None:
            return fn(detector, batch, how=self.timestamp_how), str(method)
        c, used = feature_contributions(detector, batch.X, reference, attribute)
        return telemetry_contributions(c, batch, how=self.timestamp_how), used

    def figure_options(self) -> dict[str, Any]:
        """The fitted timestamp and entity columns (timelines per entity)."""
        return {"timestamp_col": self.reader_.timestamp_col, "entity_col": self.reader_.entity_col}

    def to_dict(self) -> dict[str, Any]:
        return {**self.reader_.to_dict(), "train_stride": _check_train_stride(self.train_stride)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], **params) -> "TelemetryAdapter":
        from anomalib_ae.data import TelemetryWindower

        d = dict(d)
        k = d.pop("train_stride", params.pop("train_stride", 1))  # files written before it: 1
        a = cls(**params, train_stride=_check_train_stride(k))
        a.reader_ = TelemetryWindower.from_dict(d)
        return a


def _check_train_stride(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
        raise ValueError(f"train_stride must be an integer >= 1, got {k!r}")
    return int(k)
