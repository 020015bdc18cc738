"""How a :class:`~anomalib_ae.pipeline.Pipeline` gets honest item calibration scores and flags.

Held-out calibration on every path
----------------------------------
``Pipeline(calibration=...)``:

* ``"auto"`` (default):
  - ``tabular`` / ``image``: one detector sample per item, so the detector's own calibration
    scores are the item calibration scores (held-out normal items for the deep detectors,
    cross-fitted or leave-one-out scores for PyOD's models);
  - ``audio``: cross-fitting over recordings (``"crossfit"``) below :data:`MAX_CLIPS_CROSSFIT`
    clips (small data: every clip gets an out-of-fold score, at the cost of 5 extra fits),
    else whole recordings held out (``"holdout"``);
  - ``telemetry``: a time-ordered tail (``"holdout"``): per entity the last
    ``calibration_fraction`` of the rows; windows are cut from each part separately, so no
    calibration window overlaps the fit part. Too few rows: the training timestamps with a
    warning (``"train"``).
* ``"holdout"``: audio / telemetry as above (the detector is fitted on the rest only).
* ``"crossfit"``: audio: K-fold over recordings (K = ``min(5, recordings)``), each fold scored
  by a detector fitted without it, then the final detector fitted on all clips.
* ``"train"``: the training items' own scores (optimistic: they were seen in training).

Every threshold rule is then resolved on these item scores by
:func:`~anomalib_ae.scoring.threshold.resolve_threshold`, exactly as a detector resolves it on
its sample scores, so a tabular pipeline and its detector flag the same rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

CALIBRATIONS = ("auto", "holdout", "crossfit", "train")
#: Below this many clips, audio calibration cross-fits over recordings instead of holding some out.
MAX_CLIPS_CROSSFIT = 500


@dataclass
class CalibratedFit:
    """Result of :func:`fit_calibrated`."""

    features: dict
    detector: object
    calibration_scores: np.ndarray
    train_item_scores: np.ndarray
    method: str


def _fit_detector(pipe, X):
    det = pipe._make_detector()
    det.fit(pipe._detector_input(X))
    return det


def _items(pipe, det, f: dict, frames: np.ndarray | None = None) -> np.ndarray:
    raw = det.score(pipe._detector_input(f["X"] if frames is None else frames))
    return pipe._item_scores(raw, f)


def fit_calibrated(pipe, data) -> CalibratedFit:
    """Fit ``pipe``'s adapter and detector on ``data`` and compute item calibration scores."""
    mode = pipe.calibration
    if mode not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {list(CALIBRATIONS)}, got {mode!r}")
    if pipe.kind == "audio":
        return _fit_audio(pipe, data, mode)
    if pipe.kind == "telemetry" and mode != "train":
        if mode == "crossfit":
            raise ValueError("calibration='crossfit' is not available for telemetry: use 'holdout' (a time-ordered tail)")
        out = _fit_telemetry_tail(pipe, data, strict=mode == "holdout")
        if out is not None:
            return out
        mode = "train"
    f = pipe._features(data, fitting=True)
    _check_fit_errors(pipe, f)
    det = _fit_detector(pipe, f["X"])
    train_items = pipe._item_scores(det.decision_scores_, f)
    if pipe.kind in ("tabular", "image") and mode != "train":
        return CalibratedFit(f, det, np.asarray(det.calibration_scores_, dtype=np.float64), train_items,
                             getattr(det, "calibration_method_", "detector"))
    finite = train_items[np.isfinite(train_items)]
    return CalibratedFit(f, det, finite, finite, "train")


def _check_fit_errors(pipe, f: dict) -> None:
    bad = [(i, e) for i, e in enumerate(f["errors"]) if e is not None]
    if bad and pipe.kind == "tabular":
        i, e = bad[0]
        raise ValueError(f"{len(bad)} training row(s) have unusable values (first: row {i}: {e})")
    pipe.fit_errors_ = [f"{pipe._item_name(f, i)}: {e}" for i, e in bad]
    if bad and pipe.kind in ("image", "audio"):
        warnings.warn(f"{len(bad)} training file(s) skipped: " + "; ".join(pipe.fit_errors_[:3]), UserWarning,
                      stacklevel=4)
    if len(f["X"]) == 0:
        raise ValueError("no usable training data: every item failed to load")


def _seed(pipe) -> int:
    rs = (pipe.detector_params or {}).get("random_state")
    return int(rs) if isinstance(rs, (int, np.integer)) else 0


def _fit_audio(pipe, data, mode: str) -> CalibratedFit:
    from anomalib_ae.data.splits import group_folds, group_holdout, recording_groups

    f = pipe._features(data, fitting=True)
    _check_fit_errors(pipe, f)
    valid_paths = [p for p, ok in zip(f["paths"], f["valid"]) if ok]
    groups = recording_groups(valid_paths)
    n_groups = len(set(groups.tolist()))
    if mode == "auto":
        mode = "train" if n_groups < 2 else "crossfit" if len(groups) < MAX_CLIPS_CROSSFIT else "holdout"
    if mode in ("holdout", "crossfit") and n_groups < 2:
        raise ValueError(f"calibration={mode!r} needs clips from at least two recordings")
    clip_of_frame = np.asarray(f["clip_index"])
    if mode == "train" and n_groups < 2 and pipe.calibration == "auto":
        warnings.warn("one recording only: thresholds and p-values are calibrated on its own training clips "
                      "(optimistic); run `anomalib-ae calibrate` on fresh normal clips", UserWarning, stacklevel=3)
    if mode == "holdout":
        fit_c, cal_c = group_holdout(groups, pipe.calibration_fraction, _seed(pipe))
        det = _fit_detector(pipe, f["X"][np.isin(clip_of_frame, fit_c)])
        items = _items(pipe, det, f)
        train_items = items[fit_c]
        cal = items[cal_c]
    elif mode == "crossfit":
        cal = np.full(len(groups), np.nan)
        for fit_c, cal_c in group_folds(groups, 5, _seed(pipe)):
            det_k = _fit_detector(pipe, f["X"][np.isin(clip_of_frame, fit_c)])
            cal[cal_c] = _items(pipe, det_k, f)[cal_c]
        det = _fit_detector(pipe, f["X"])
        train_items = pipe._item_scores(det.decision_scores_, f)
    else:
        det = _fit_detector(pipe, f["X"])
        train_items = cal = pipe._item_scores(det.decision_scores_, f)
    cal = cal[np.isfinite(cal)]
    return CalibratedFit(f, det, cal, train_items[np.isfinite(train_items)], mode)


def _fit_telemetry_tail(pipe, data, strict: bool) -> CalibratedFit | None:
    from anomalib_ae.data.splits import time_tail_split

    df = pipe._tabular_frame(data)
    a = pipe.adapter_
    try:
        fit_df, cal_df = time_tail_split(df, a.timestamp_col, a.entity_col, pipe.calibration_fraction,
                                         min_rows=2 * int(a.window))
    except ValueError as exc:
        if strict:
            raise
        warnings.warn(f"{exc}; thresholds and p-values are calibrated on the training timestamps (optimistic); "
                      "run `anomalib-ae calibrate` on fresh normal data", UserWarning, stacklevel=3)
        return None
    f = pipe._features(fit_df, fitting=True)
    _check_fit_errors(pipe, f)
    det = _fit_detector(pipe, f["X"])
    fc = pipe._features(cal_df, fitting=False)
    cal = _items(pipe, det, fc)
    t = pd.Series(fc["items"][a.timestamp_col]).to_numpy()
    order = np.argsort(t, kind="stable")  # time order: rolling re-calibration starts from the latest
    cal = cal[order]
    train_items = pipe._item_scores(det.decision_scores_, f)
    return CalibratedFit(f, det, cal[np.isfinite(cal)], train_items[np.isfinite(train_items)], "holdout")


def rolling_table(pipe, table: pd.DataFrame, scores: np.ndarray, alpha: float) -> dict:
    """Rolling re-calibration over a telemetry batch, per entity in time order.

    Returns columns ``p_value``, ``is_anomaly``, ``threshold`` and ``drift_warning``.
    """
    from anomalib_ae.scoring.rolling import RollingCalibrator

    a = pipe.adapter_
    n = len(table)
    out = {"p_value": np.full(n, np.nan), "is_anomaly": np.zeros(n, bool), "threshold": np.full(n, np.nan),
           "drift_warning": np.zeros(n, bool)}
    ent = table[a.entity_col].to_numpy(dtype=object) if a.entity_col is not None else np.zeros(n, dtype=object)
    t = table[a.timestamp_col].to_numpy()
    for e in pd.unique(pd.Series(ent, dtype=object)):
        pos = np.flatnonzero(ent == e)
        pos = pos[np.argsort(t[pos], kind="stable")]
        r = RollingCalibrator(pipe.calibration_scores_, alpha, window=int(pipe.rolling_window)).update(scores[pos])
        out["p_value"][pos], out["is_anomaly"][pos] = r.p_values, r.flags
        out["threshold"][pos], out["drift_warning"][pos] = r.thresholds, r.drift
    return out
