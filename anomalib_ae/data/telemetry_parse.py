"""Parsing a telemetry table: timestamps, gaps and metric cells (pandas + numpy)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["mostly_numeric"]


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


def _json_float(x: float | None) -> float | str | None:
    """inf is not JSON: store it as the string "inf" (``float("inf")`` reads it back)."""
    if x is None:
        return None
    x = float(x)
    return "inf" if np.isinf(x) else x
