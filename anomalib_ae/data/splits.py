"""Calibration splits that respect how the data were recorded (numpy + pandas, no torch).

A threshold or p-value is only honest when the calibration items are like the items it will
meet later: normal, *not* seen in training, and not correlated with the training items.

* :func:`recording_groups` / :func:`group_holdout` / :func:`group_folds`: clips are grouped by
  recording (``<name>_seg<k>.wav`` segments of one recording form one group), and whole
  recordings are held out: segments of one recording are correlated and would make the
  calibration scores look like training scores.
* :func:`time_tail_split`: telemetry is split in time, per entity: the last ``fraction`` of
  each entity's rows (by timestamp) is the calibration tail. Windows are cut from each part
  separately, so no calibration window overlaps the fit part, and nothing is shuffled.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["group_folds", "group_holdout", "recording_groups", "time_tail_split"]

_SEGMENT = re.compile(r"_seg\d+$")


def recording_groups(paths) -> np.ndarray:
    """One group key per file: its folder and stem without a trailing ``_seg<k>``."""
    keys = []
    for p in paths:
        p = Path(p)
        keys.append(str(p.parent / _SEGMENT.sub("", p.stem)))
    return np.asarray(keys, dtype=object)


def group_holdout(groups, fraction: float, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the groups (at least one, leaving at least one): (fit_idx, cal_idx)."""
    groups = np.asarray(groups, dtype=object)
    uniq = list(dict.fromkeys(groups.tolist()))
    if len(uniq) < 2:
        raise ValueError("a group hold-out needs at least two recordings")
    n_cal = min(len(uniq) - 1, max(1, int(round(fraction * len(uniq)))))
    order = np.random.default_rng(random_state).permutation(len(uniq))
    cal_groups = {uniq[i] for i in order[:n_cal]}
    is_cal = np.array([g in cal_groups for g in groups], dtype=bool)
    return np.flatnonzero(~is_cal), np.flatnonzero(is_cal)


def group_folds(groups, n_folds: int, random_state: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-fitting folds over whole groups: [(fit_idx, cal_idx), ...], every item in one cal_idx."""
    groups = np.asarray(groups, dtype=object)
    uniq = list(dict.fromkeys(groups.tolist()))
    k = min(int(n_folds), len(uniq))
    if k < 2:
        raise ValueError("cross-fitting needs at least two recordings")
    order = np.random.default_rng(random_state).permutation(len(uniq))
    fold_of = {uniq[i]: f % k for f, i in enumerate(order)}
    fid = np.array([fold_of[g] for g in groups])
    return [(np.flatnonzero(fid != f), np.flatnonzero(fid == f)) for f in range(k)]


def time_tail_split(df: pd.DataFrame, timestamp_col: str, entity_col: str | None, fraction: float,
                    min_rows: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit part, calibration tail): per entity, rows sorted by time, the last ``fraction`` held out.

    Raises ValueError when an entity's tail or head would have fewer than ``min_rows`` rows.
    """
    from anomalib_ae.data.telemetry import _parse_time

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"calibration fraction must be in (0, 1), got {fraction!r}")
    t, _ = _parse_time(df, timestamp_col)
    ent = df[entity_col].to_numpy(dtype=object) if entity_col is not None else np.zeros(len(df), dtype=object)
    is_cal = np.zeros(len(df), dtype=bool)
    for e in pd.unique(pd.Series(ent, dtype=object)):
        pos = np.flatnonzero(ent == e)
        pos = pos[np.argsort(t[pos], kind="stable")]
        n_cal = int(round(fraction * len(pos)))
        if n_cal < min_rows or len(pos) - n_cal < min_rows:
            raise ValueError(f"entity {e!r} has {len(pos)} rows: too few for a time-ordered calibration tail "
                             f"of {fraction:g} with at least {min_rows} rows on each side")
        is_cal[pos[len(pos) - n_cal:]] = True
    return df.iloc[np.flatnonzero(~is_cal)], df.iloc[np.flatnonzero(is_cal)]
