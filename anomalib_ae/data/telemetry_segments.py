"""Telemetry segments (gaps, forward fill, bad cells) and window starts: the windowing policy of
:class:`~anomalib_ae.data.telemetry.TelemetryWindower` as plain functions (pandas + numpy)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from anomalib_ae.data.errors import RowError

__all__ = ["split_segments", "window_starts"]


def split_segments(pos: np.ndarray, t: np.ndarray, vals: np.ndarray, errors: list[RowError], *, max_gap: float,
                   ffill_limit: int, metric_cols: Sequence[str], bad: dict[int, str] | None = None) -> list[np.ndarray]:
    """Split one entity's time-sorted rows into usable segments; fill ``vals`` in place.

    Rows in ``bad`` (non-numeric / infinite cells) are errors and are never filled."""
    bad = bad or {}
    if len(pos) == 0:
        return []
    breaks = np.flatnonzero(np.diff(t[pos]) > max_gap) + 1
    segs: list[np.ndarray] = []
    limit = int(ffill_limit)
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
            names = [metric_cols[j] for j in np.flatnonzero(np.isnan(vals[seg[k]]))]
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


def window_starts(n: int, window: int, stride: int) -> np.ndarray:
    """Window starts every ``stride`` rows, plus one aligned to the segment's end; one window if short."""
    w, s = int(window), int(stride)
    if n <= w:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n - w + 1, s, dtype=np.int64)
    if starts[-1] != n - w:
        starts = np.append(starts, n - w)
    return starts
