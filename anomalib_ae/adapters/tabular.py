"""Plain tables (CSV, TSV, Parquet, JSON lines, DataFrames, 2-D arrays): one item per row."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from anomalib_ae.adapters.base import Adapter, Features, as_frame
from anomalib_ae.explain.attributions import feature_contributions
from anomalib_ae.explain.types import Explanation

__all__ = ["TabularAdapter"]


def _as_list(value) -> list[str] | None:
    return None if value is None else [str(v) for v in value]


class TabularAdapter(Adapter):
    """Feature columns of a table -> the detector; one score per row.

    Parameters
    ----------
    columns : list of str, optional
        Feature columns; default every numeric column not in ``exclude`` (fixed at fit in
        ``columns_``).
    exclude : list of str, optional
        Columns never used (ids, labels); each must exist in the training table unless it is
        also in ``optional_columns``.
    optional_columns : list of str, optional
        Names in ``exclude`` that the table may lack (skipped with a warning; names from a
        config file, set by :func:`~anomalib_ae.pipeline.pipeline_from_config`).
    dtype : {"float32", "float64"}, default="float32"
        Values handed to the detector (pipelines use float32; the CLI's bare table detectors
        are fitted and scored on float64, as they always were).

    A training row with unusable values is an error (clean the data); at score time such a
    row gets an ``error`` and no score.
    """

    kind = "tabular"
    on_fit_errors = "raise"

    def __init__(self, columns=None, exclude=None, optional_columns=None, dtype="float32"):
        self.columns = columns
        self.exclude = exclude
        self.optional_columns = optional_columns
        self.dtype = dtype

    def fit_transform(self, data, y=None) -> Features:
        from anomalib_ae.data.tabular import numeric_columns

        df = as_frame(data)
        exclude = _as_list(self.exclude) or []
        missing = [c for c in exclude if c not in df.columns]
        required = [c for c in missing if c not in set(_as_list(self.optional_columns) or [])]
        if required:
            raise ValueError(f"exclude names column(s) not in the table: {required}")
        if missing:
            warnings.warn(f"excluded column(s) not in the table, skipped: {missing}", UserWarning, stacklevel=3)
            exclude = [c for c in exclude if c in df.columns]
        cols = _as_list(self.columns) or [str(c) for c in numeric_columns(df, exclude)]
        if not cols:
            raise ValueError("the table has no numeric feature columns")
        self.columns_, self.exclude_, self.named_input_ = cols, exclude, True
        return self.transform(df)

    def transform(self, data) -> Features:
        from anomalib_ae.data.tabular import extract_features

        df = as_frame(data)
        rows = extract_features(df, self.columns_)
        return Features(X=rows.X.astype(self.dtype), items=pd.DataFrame({"row": np.arange(len(df))}),
                        valid=rows.valid, errors=rows.errors)

    def detector_input(self, X: np.ndarray) -> pd.DataFrame | np.ndarray:
        """A DataFrame with the feature columns (an array for a detector fitted without names)."""
        return pd.DataFrame(X, columns=self.columns_) if self.named_input_ else X

    def explain(self, detector, result, top, reference, attribute=None, method=None) -> Explanation:
        f = result.details
        if top:
            X = self.detector_input(f.X[f.x_rows[top]]).to_numpy(np.float32)
            c, method = feature_contributions(detector, X, reference, attribute)
        else:
            c, method = np.zeros((0, len(self.columns_))), ""
        return Explanation(method=method, feature_names=list(self.columns_), top=list(top),
                           item_ids=self._item_ids(result, top), scores=result.scores[top], contributions=c,
                           attributions=c, kind=self.kind, result=result)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tabular", "columns": list(self.columns_), "exclude": list(self.exclude_)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], **params) -> "TabularAdapter":
        a = cls(**params)
        a.columns_ = [str(c) for c in d["columns"]]
        a.exclude_ = [str(c) for c in d.get("exclude") or []]
        a.named_input_ = True
        return a
