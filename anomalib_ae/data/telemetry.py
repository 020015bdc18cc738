"""Multivariate telemetry tables -> scaled sliding windows, and window scores -> rows.

Pure numpy + pandas (no torch).  Input: a CSV / Parquet file or a DataFrame with a
timestamp column, an optional entity column (node, machine ...) and numeric metric
columns.  :class:`TelemetryWindower` cuts it into windows of ``window`` consecutive rows
per entity; :func:`windows_to_timestamps` maps window scores back to one score per input
row, and :func:`windows_to_timestamps_per_metric` does the same per metric (culprit-metric
explanations).

Policy for messy data (applied in this order, per entity)
--------------------------------------------------------
1. **Order.**  Rows are sorted by timestamp within each entity (stable, so rows with equal
   timestamps keep their input order and both stay).  Outputs always refer to rows by
   their 0-based position in the input table, so the input order is never lost.
2. **Gaps.**  A step between consecutive rows larger than ``max_gap`` starts a new segment;
   windows never span two segments.  ``max_gap=None`` infers it at :meth:`fit` as
   3 x the median positive step of the training data (per entity, pooled).
3. **Missing values.**  NaN metric values are forward-filled within a segment, at most
   ``ffill_limit`` rows past the last observed value (never across a gap).  A row that
   still has a NaN (a NaN at the start of a segment, or a longer outage) is recorded as a
   :class:`RowError`; it also ends the segment (no window contains it) and it gets a NaN
   score from the mapping functions.  Rows never vanish silently.
4. **Short segments.**  A segment shorter than ``window`` still gets one window: its rows
   followed by copies of its last row (edge padding).  The padded slots have position
   ``-1`` in ``window_index`` and are ignored when mapping scores back, so every usable
   row gets a score.
5. **Coverage.**  Windows start every ``stride`` rows; when ``stride`` does not divide the
   segment, one extra window aligned to the segment's end is added, so every usable row
   is covered by at least one window.

6. **Bad cells.**  A metric cell that is not a number (``"n/a"``, ``"12,5"``) or is infinite
   (``inf``, ``-inf``) is an error for its row: the row gets a :class:`RowError` naming the
   column and the value, it is never forward-filled, it ends the segment (no window
   contains it) and gets a NaN score, while every other row is scored.  At :meth:`fit` such
   cells are left out of the scaling statistics; ``bad_cells_`` counts them.

Errors in the table itself (missing columns, an unparseable timestamp) raise
``ValueError`` naming the column and the first bad row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from anomalib_ae.data.errors import RowError
from anomalib_ae.data.tabular import read_table
from anomalib_ae.data.telemetry_parse import (  # noqa: F401  (mostly_numeric, _parse_time: used by adapters / splits)
    _first_bad,
    _json_float,
    _metric_values,
    _parse_gap,
    _parse_time,
    mostly_numeric,
)
from anomalib_ae.data.telemetry_segments import split_segments, window_starts
from anomalib_ae.data.telemetry_windows import WindowBatch, windows_to_timestamps, windows_to_timestamps_per_metric

__all__ = [
    "TelemetryWindower",
    "WindowBatch",
    "windows_to_timestamps",
    "windows_to_timestamps_per_metric",
]


class TelemetryWindower:
    """Sliding windows per entity with per-metric standardisation fitted on training data.

    Parameters
    ----------
    window : int, default=32
        Rows per window.
    stride : int, default=1
        Rows between window starts.
    timestamp_col : str, default="timestamp"
        Datetime-like (or parseable strings) or numeric (e.g. a step counter).  Strings
        are parsed with the format pandas infers from the first row, and row by row
        (``format="mixed"``) when that format does not fit every row.  Time-zone-aware
        values are converted to UTC; a column that mixes zones, or naive and aware
        values, is read as UTC.
    entity_col : str or None, default=None
        Column naming the node / machine; windows never mix entities.
    metric_cols : list of str or None, default=None
        Metric columns; ``None`` takes every other numeric column at :meth:`fit` (and text
        columns whose non-empty cells are at least 95 % numbers: a metric with a few bad cells).
    max_gap : float, str, Timedelta or None, default=None
        Largest step inside one segment.  A number is in seconds for datetime timestamps
        (in timestamp units for numeric ones); strings such as ``"5min"`` are parsed by
        pandas; ``float("inf")`` never splits; ``None`` infers 3 x the median step at fit.
    ffill_limit : int, default=5
        Forward-fill at most this many consecutive missing values (0 disables).
    scale : bool, default=True
        Standardise each metric with the training mean and standard deviation (a metric
        with zero spread gets std 1).

    Notes
    -----
    See the module docstring for the full policy on order, gaps, missing values and
    short segments.  ``__init__`` only stores parameters; :meth:`fit` sets
    ``metric_cols_``, ``mean_``, ``std_``, ``max_gap_`` and ``time_kind_``.
    """

    def __init__(
        self,
        window: int = 32,
        stride: int = 1,
        timestamp_col: str = "timestamp",
        entity_col: str | None = None,
        metric_cols: Sequence[str] | None = None,
        max_gap: Any = None,
        ffill_limit: int = 5,
        scale: bool = True,
    ):
        self.window = window
        self.stride = stride
        self.timestamp_col = timestamp_col
        self.entity_col = entity_col
        self.metric_cols = metric_cols
        self.max_gap = max_gap
        self.ffill_limit = ffill_limit
        self.scale = scale

    _PARAMS = ("window", "stride", "timestamp_col", "entity_col", "metric_cols", "max_gap", "ffill_limit", "scale")

    # ------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        if int(self.window) < 1:
            raise ValueError(f"window must be >= 1, got {self.window!r}")
        if int(self.stride) < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride!r}")
        if int(self.ffill_limit) < 0:
            raise ValueError(f"ffill_limit must be >= 0, got {self.ffill_limit!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise RuntimeError("TelemetryWindower is not fitted; call fit(df) first")

    def _require(self, df: pd.DataFrame, cols: Sequence[str]) -> None:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(
                f"column(s) {missing} not found in the table; columns present: {list(map(str, df.columns))}"
            )

    @staticmethod
    def _as_frame(df: pd.DataFrame | str | Path) -> pd.DataFrame:
        return read_table(df) if isinstance(df, (str, Path)) else df

    def _entities(self, df: pd.DataFrame) -> np.ndarray:
        if self.entity_col is None:
            return np.full(len(df), None, dtype=object)
        ent = df[self.entity_col]
        bad = ent.isna().to_numpy()
        if bad.any():
            raise ValueError(f"entity column {self.entity_col!r} is missing at {_first_bad(df, self.entity_col, bad)}")
        return ent.to_numpy(dtype=object)

    @staticmethod
    def _groups(ent: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        """Row positions per entity (entities in first-seen order), each sorted by time."""
        codes, _ = pd.factorize(pd.Series(ent, dtype=object), use_na_sentinel=False)
        order = np.lexsort((np.arange(len(t)), t, codes))
        sc = codes[order]
        cuts = np.flatnonzero(np.diff(sc)) + 1
        return np.split(order, cuts) if len(order) else []

    # ---------------------------------------------------------------- fit
    def fit(self, df: pd.DataFrame | str | Path, y: Any = None) -> "TelemetryWindower":
        """Learn metric columns, scaling and (if ``max_gap`` is None) the gap threshold.

        Parameters
        ----------
        df : DataFrame or path to CSV / Parquet
            Training data (normal behaviour).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        df = self._as_frame(df)
        need = [self.timestamp_col] + ([self.entity_col] if self.entity_col is not None else [])
        if self.metric_cols is not None:
            need += list(self.metric_cols)
        self._require(df, need)
        if self.metric_cols is None:
            skip = set(need)
            cols = [str(c) for c in df.columns if c not in skip and mostly_numeric(df[c])]
            if not cols:
                raise ValueError("no numeric metric column found; pass metric_cols=[...]")
        else:
            cols = [str(c) for c in self.metric_cols]
        t, kind = _parse_time(df, self.timestamp_col)
        ent = self._entities(df)
        vals, bad = _metric_values(df, cols)
        self.bad_cells_ = sum(m.count("metric ") for m in bad.values())
        with np.errstate(all="ignore"):
            mean = np.nanmean(vals, axis=0) if len(vals) else np.zeros(len(cols))
            std = np.nanstd(vals, axis=0) if len(vals) else np.ones(len(cols))
        empty = [c for c, m in zip(cols, mean) if not np.isfinite(m)]
        if empty:
            raise ValueError(f"metric column(s) {empty} have no finite value in the training data")
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        gap = _parse_gap(self.max_gap)
        if gap is None:
            steps = [np.diff(t[g]) for g in self._groups(ent, t)]
            steps = np.concatenate(steps) if steps else np.zeros(0)
            steps = steps[steps > 0]
            gap = 3.0 * float(np.median(steps)) if steps.size else float("inf")
        self.metric_cols_ = cols
        self.mean_ = mean.astype(np.float64)
        self.std_ = std.astype(np.float64)
        self.max_gap_ = gap
        self.time_kind_ = kind
        self.n_features_in_ = len(cols)
        return self

    # ---------------------------------------------------------- transform
    def _segments(self, pos: np.ndarray, t: np.ndarray, vals: np.ndarray, errors: list[RowError],
                  bad: dict[int, str] | None = None) -> list[np.ndarray]:
        """One entity's time-sorted rows -> usable segments (:func:`split_segments`)."""
        return split_segments(pos, t, vals, errors, max_gap=self.max_gap_, ffill_limit=int(self.ffill_limit),
                              metric_cols=self.metric_cols_, bad=bad)

    def _starts(self, n: int) -> np.ndarray:
        return window_starts(n, int(self.window), int(self.stride))

    def transform(self, df: pd.DataFrame | str | Path) -> WindowBatch:
        """Cut a table into scaled windows.

        Parameters
        ----------
        df : DataFrame or path to CSV / Parquet
            Needs the timestamp column, the entity column (if set) and the fitted
            metric columns; other columns are ignored.

        Returns
        -------
        WindowBatch

        Raises
        ------
        ValueError
            A column is missing or a timestamp cannot be parsed (the message names the
            column and the first bad row). Non-numeric or infinite metric cells are not
            raised: their rows are in ``errors``.
        """
        self._check_fitted()
        df = self._as_frame(df)
        self._require(df, [self.timestamp_col] + ([self.entity_col] if self.entity_col is not None else [])
                      + list(self.metric_cols_))
        t, kind = _parse_time(df, self.timestamp_col)
        if kind != self.time_kind_:
            raise ValueError(f"timestamp column {self.timestamp_col!r} is {kind} but was {self.time_kind_} at fit")
        ent = self._entities(df)
        vals, bad = _metric_values(df, self.metric_cols_)
        errors: list[RowError] = []
        w = int(self.window)
        idx_parts: list[np.ndarray] = []
        for grp in self._groups(ent, t):
            for seg in self._segments(grp, t, vals, errors, bad):
                starts = self._starts(len(seg))
                if len(seg) < w:
                    padded = np.full(w, -1, dtype=np.int64)
                    padded[: len(seg)] = seg
                    idx_parts.append(padded[None])
                else:
                    idx_parts.append(seg[starts[:, None] + np.arange(w)[None, :]])
        m = len(self.metric_cols_)
        if idx_parts:
            window_index = np.concatenate(idx_parts).astype(np.int64)
        else:
            window_index = np.zeros((0, w), dtype=np.int64)
        scaled = (vals - self.mean_) / self.std_ if self.scale else vals
        # padded slots repeat the last real row of their window
        real = window_index >= 0
        last_real = np.where(real, np.arange(w)[None, :], -1).max(axis=1) if len(window_index) else np.zeros(0, int)
        filled = window_index.copy()
        if len(window_index):
            edge = window_index[np.arange(len(window_index)), last_real]
            filled[~real] = np.broadcast_to(edge[:, None], filled.shape)[~real]
            X = scaled[filled].astype(np.float32)
            win_t = t[edge]
            win_ent = ent[edge]
        else:
            X = np.zeros((0, w, m), dtype=np.float32)
            win_t = np.zeros(0)
            win_ent = np.zeros(0, dtype=object)
        errors.sort(key=lambda e: e.row)
        return WindowBatch(
            X=X,
            window_index=window_index,
            entities=win_ent,
            timestamps=self._to_time(win_t),
            row_timestamps=self._to_time(t),
            row_entities=ent,
            metric_cols=list(self.metric_cols_),
            errors=errors,
        )

    def fit_transform(self, df: pd.DataFrame | str | Path, y: Any = None) -> WindowBatch:
        """``fit(df).transform(df)``."""
        df = self._as_frame(df)
        return self.fit(df).transform(df)

    def _to_time(self, t: np.ndarray) -> np.ndarray:
        if self.time_kind_ == "datetime":
            return np.round(t * 1e9).astype(np.int64).astype("datetime64[ns]")
        return t

    # ------------------------------------------------------------- state
    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters plus fitted state (if fitted)."""
        gap = self.max_gap
        if gap is not None and not isinstance(gap, (int, float)):
            gap = _parse_gap(gap)
        d: dict[str, Any] = {
            "type": "TelemetryWindower",
            "window": int(self.window),
            "stride": int(self.stride),
            "timestamp_col": self.timestamp_col,
            "entity_col": self.entity_col,
            "metric_cols": list(self.metric_cols) if self.metric_cols is not None else None,
            "max_gap": _json_float(gap),
            "ffill_limit": int(self.ffill_limit),
            "scale": bool(self.scale),
        }
        if hasattr(self, "mean_"):
            d["fitted"] = {
                "metric_cols_": list(self.metric_cols_),
                "mean_": [float(v) for v in self.mean_],
                "std_": [float(v) for v in self.std_],
                "max_gap_": _json_float(self.max_gap_),
                "time_kind_": self.time_kind_,
            }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TelemetryWindower":
        """Rebuild (including fitted state) from :meth:`to_dict` output."""
        kw = {k: d[k] for k in cls._PARAMS if k in d}
        if isinstance(kw.get("max_gap"), str):
            kw["max_gap"] = float(kw["max_gap"])
        obj = cls(**kw)
        f = d.get("fitted")
        if f:
            obj.metric_cols_ = list(f["metric_cols_"])
            obj.mean_ = np.asarray(f["mean_"], dtype=np.float64)
            obj.std_ = np.asarray(f["std_"], dtype=np.float64)
            gap = f["max_gap_"]
            obj.max_gap_ = float(gap)
            obj.time_kind_ = f["time_kind_"]
            obj.n_features_in_ = len(obj.metric_cols_)
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._PARAMS)
        return f"TelemetryWindower({args})"
