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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from anomalib_ae.data.errors import RowError
from anomalib_ae.data.tabular import read_table

__all__ = [
    "TelemetryWindower",
    "WindowBatch",
    "windows_to_timestamps",
    "windows_to_timestamps_per_metric",
]


@dataclass
class WindowBatch:
    """Sliding windows of a telemetry table.

    Attributes
    ----------
    X : ndarray of float32 of shape (n_windows, window, n_metrics)
        Scaled metric values.
    window_index : ndarray of int64 of shape (n_windows, window)
        For each window slot, the 0-based position of its row in the input table; ``-1``
        for edge-padded slots of a short segment.
    entities : ndarray of shape (n_windows,)
        Entity of each window (``None`` values when there is no entity column).
    timestamps : ndarray of shape (n_windows,)
        Timestamp of the last real row of each window (when the window is complete).
    row_timestamps : ndarray of shape (n_rows,)
        Parsed timestamp of every input row, in input order.
    row_entities : ndarray of shape (n_rows,)
        Entity of every input row, in input order.
    metric_cols : list of str
        Metric names, the last axis of ``X``.
    errors : list of RowError
        Rows that no window contains (unfillable NaN), with the reason.
    """

    X: np.ndarray
    window_index: np.ndarray
    entities: np.ndarray
    timestamps: np.ndarray
    row_timestamps: np.ndarray
    row_entities: np.ndarray
    metric_cols: list[str]
    errors: list[RowError] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        """Number of rows of the input table."""
        return len(self.row_timestamps)

    def __len__(self) -> int:
        return len(self.X)


def _first_bad(df: pd.DataFrame, col: str, bad: np.ndarray) -> str:
    pos = int(np.flatnonzero(bad)[0])
    return f"row {pos} (index label {df.index[pos]!r}): {df[col].iloc[pos]!r}"


def _to_datetime(s: pd.Series, **kw: Any) -> pd.Series:
    """``pd.to_datetime`` with NaT for bad values; mixed time zones are converted to UTC."""
    try:
        return pd.to_datetime(s, errors="coerce", **kw)
    except (TypeError, ValueError):  # mixed time zones
        return pd.to_datetime(s, errors="coerce", utc=True, **kw)


def _parse_time(df: pd.DataFrame, col: str) -> tuple[np.ndarray, str]:
    """-> (float64 times, kind).  Datetimes become seconds since the epoch."""
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        raise ValueError(f"timestamp column {col!r} is boolean")
    if pd.api.types.is_numeric_dtype(s):
        t = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(t)
        if bad.any():
            where = _first_bad(df, col, bad)
            raise ValueError(f"timestamp column {col!r} has a missing or non-finite value at {where}")
        return t, "numeric"
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = s
    else:
        parsed = _to_datetime(s)
        if (parsed.isna() & s.notna()).any():
            # the format inferred from the first row does not fit every row: parse row by row
            parsed = _to_datetime(s, format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise ValueError(f"timestamp column {col!r} cannot be parsed at {_first_bad(df, col, bad)}")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    t = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
    return t, "datetime"


def _parse_gap(max_gap: Any) -> float | None:
    """``None`` | number (seconds or numeric units) | "5min" | Timedelta -> float or None."""
    if max_gap is None:
        return None
    if isinstance(max_gap, (int, float, np.integer, np.floating)) and not isinstance(max_gap, bool):
        return float(max_gap)
    return float(pd.Timedelta(max_gap).total_seconds())


def mostly_numeric(s: pd.Series) -> bool:
    """A numeric column, or a text column whose non-empty cells are at least 95 % numbers
    (a metric with a few bad cells such as "n/a" stays a metric; its bad cells are row errors)."""
    if pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_numeric_dtype(s):
        return True
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return False
    present = s.dropna()
    if present.empty:
        return False
    return float(pd.to_numeric(present, errors="coerce").notna().mean()) >= 0.95


def _metric_values(df: pd.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, dict[int, str]]:
    """-> (values with NaN at bad cells, {row position: why}) for non-numeric and infinite cells."""
    out = np.empty((len(df), len(cols)), dtype=np.float64)
    bad_rows: dict[int, list[str]] = {}
    for j, c in enumerate(cols):
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            num = pd.to_numeric(s, errors="coerce")
            bad = (num.isna() & s.notna()).to_numpy()
            for k in np.flatnonzero(bad):
                bad_rows.setdefault(int(k), []).append(f"metric {c!r} is not numeric ({s.iloc[k]!r})")
            out[:, j] = num.to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.isinf(out[:, j])
        for k in np.flatnonzero(inf):
            bad_rows.setdefault(int(k), []).append(f"metric {c!r} is infinite ({float(out[k, j])!r})")
        out[inf, j] = np.nan
    return out, {k: "; ".join(v) for k, v in bad_rows.items()}


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
        """Split one entity's time-sorted rows into usable segments; fill ``vals`` in place.

        Rows in ``bad`` (non-numeric / infinite cells) are errors and are never filled."""
        bad = bad or {}
        if len(pos) == 0:
            return []
        breaks = np.flatnonzero(np.diff(t[pos]) > self.max_gap_) + 1
        segs: list[np.ndarray] = []
        limit = int(self.ffill_limit)
        for seg in np.split(pos, breaks):
            block = pd.DataFrame(vals[seg])
            if limit > 0 and block.isna().to_numpy().any():
                block = block.ffill(limit=limit)
                vals[seg] = block.to_numpy()
            is_bad = np.array([int(r) in bad for r in seg], dtype=bool) if bad else np.zeros(len(seg), bool)
            if is_bad.any():
                vals[seg[is_bad]] = np.nan  # a bad cell is an error, never forward-filled
            nan_rows = np.isnan(vals[seg]).any(axis=1)
            for k in np.flatnonzero(nan_rows):
                if is_bad[k]:
                    errors.append(RowError(int(seg[k]), bad[int(seg[k])]))
                    continue
                names = [self.metric_cols_[j] for j in np.flatnonzero(np.isnan(vals[seg[k]]))]
                errors.append(RowError(int(seg[k]), f"metric(s) {names} missing and not forward-fillable "
                                                    f"(ffill_limit={limit}, a gap or segment start before it)"))
            if nan_rows.any():
                cut = np.flatnonzero(nan_rows)
                pieces = np.split(seg, cut)
                # each piece after the first starts with the NaN row: drop it
                segs.extend(p[1:] if i else p for i, p in enumerate(pieces))
            else:
                segs.append(seg)
        return [s for s in segs if len(s)]

    def _starts(self, n: int) -> np.ndarray:
        w, s = int(self.window), int(self.stride)
        if n <= w:
            return np.zeros(1, dtype=np.int64)
        starts = np.arange(0, n - w + 1, s, dtype=np.int64)
        if starts[-1] != n - w:
            starts = np.append(starts, n - w)
        return starts

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


def _json_float(x: float | None) -> float | str | None:
    """inf is not JSON: store it as the string "inf" (``float("inf")`` reads it back)."""
    if x is None:
        return None
    x = float(x)
    return "inf" if np.isinf(x) else x


def _spread(values: np.ndarray, batch: WindowBatch) -> tuple[np.ndarray, np.ndarray]:
    """window values -> (row positions, values) per real slot; values may carry a metric axis."""
    wi = batch.window_index
    n_win, w = wi.shape
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != n_win:
        raise ValueError(f"got {v.shape[0]} window values but the batch has {n_win} windows")
    return wi, v


def _reduce(rows: np.ndarray, vals: np.ndarray, n_rows: int, how: str) -> np.ndarray:
    """Aggregate ``vals`` (k,) or (k, m) at ``rows`` (k,) into (n_rows,) / (n_rows, m); NaN where empty."""
    shape = (n_rows,) + vals.shape[1:]
    if how == "mean":
        tot = np.zeros(shape)
        cnt = np.zeros(n_rows)
        np.add.at(tot, rows, vals)
        np.add.at(cnt, rows, 1.0)
        out = np.full(shape, np.nan)
        has = cnt > 0
        out[has] = tot[has] / (cnt[has][:, None] if vals.ndim == 2 else cnt[has])
        return out
    if how == "max":
        out = np.full(shape, -np.inf)
        np.maximum.at(out, rows, vals)
        out[np.isneginf(out)] = np.nan
        return out
    raise ValueError(f"how must be 'mean' or 'max', got {how!r}")


def windows_to_timestamps(window_scores: np.ndarray, batch: WindowBatch, how: str = "mean") -> np.ndarray:
    """Map window scores back to one score per input row.

    Parameters
    ----------
    window_scores : array-like of shape (n_windows,) or (n_windows, window)
        One score per window (spread over all its rows), or one per window slot
        (e.g. per-step reconstruction error).
    batch : WindowBatch
        The batch the scores were computed on.
    how : {"mean", "max"}, default="mean"
        How to combine the windows that cover a row.

    Returns
    -------
    ndarray of float64 of shape (batch.n_rows,)
        In input row order.  Every usable row is covered by a window; rows listed in
        ``batch.errors`` (unfillable NaN) get NaN.
    """
    wi, v = _spread(window_scores, batch)
    if v.ndim == 1:
        v = np.broadcast_to(v[:, None], wi.shape)
    elif v.shape != wi.shape:
        raise ValueError(f"window_scores must have shape ({wi.shape[0]},) or {wi.shape}, got {v.shape}")
    real = wi >= 0
    return _reduce(wi[real], v[real], batch.n_rows, how)


def windows_to_timestamps_per_metric(window_errors: np.ndarray, batch: WindowBatch, how: str = "mean") -> np.ndarray:
    """Map per-metric window errors to per-row, per-metric contributions.

    Parameters
    ----------
    window_errors : array-like of shape (n_windows, window, n_metrics) or (n_windows, n_metrics)
        E.g. squared reconstruction error of each value of ``batch.X``; a
        ``(n_windows, n_metrics)`` array is spread over all rows of each window.
    batch : WindowBatch
    how : {"mean", "max"}, default="mean"

    Returns
    -------
    ndarray of float64 of shape (batch.n_rows, n_metrics)
        Row ``i`` holds, for each metric, the combined error of the window slots that
        cover input row ``i`` (NaN rows as in :func:`windows_to_timestamps`).  The
        culprit metrics of a row are its largest entries.
    """
    wi, v = _spread(window_errors, batch)
    m = len(batch.metric_cols)
    if v.ndim == 2:
        if v.shape[1] != m:
            raise ValueError(f"window_errors must have {m} metrics on its last axis, got shape {v.shape}")
        v = np.broadcast_to(v[:, None, :], wi.shape + (m,))
    elif v.shape != wi.shape + (m,):
        raise ValueError(f"window_errors must have shape {wi.shape + (m,)}, got {v.shape}")
    real = wi >= 0
    return _reduce(wi[real], v[real], batch.n_rows, how)
