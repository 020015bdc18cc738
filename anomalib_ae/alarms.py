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
    calibration window overlaps the fit part. A tail too short for two windows: time-blocked
    cross-fitting (``"crossfit"``); too short for that as well: the training timestamps with a
    warning (``"train"``).
* ``"holdout"``: audio / telemetry as above (the detector is fitted on the rest only).
* ``"crossfit"``: audio: K-fold over recordings (K = ``min(5, recordings)``), each fold scored
  by a detector fitted without it, then the final detector fitted on all clips. Telemetry:
  per entity the time range is cut into K contiguous blocks (K = ``min(5, rows // (2 window))``);
  each block is scored by a detector fitted on the other blocks, whose windows never reach
  into it (windows are cut from the block alone, and the removed block is a gap no fit window
  spans), then the final detector is fitted on all rows.
  In both, the final detector is fitted first and a deep fold model trains for as many epochs
  as it did, without early stopping (:func:`_fold_schedule`): early stopping on a handful of
  validation items would stop the fold models early, and their larger errors would raise the
  threshold (on 50 MIMII clips: 8-9 epochs against the final model's 41).
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

from anomalib_ae.scoring.threshold import parse_threshold, resolve_threshold

CALIBRATIONS = ("auto", "holdout", "crossfit", "train")
#: Below this many clips, audio calibration cross-fits over recordings instead of holding some out.
MAX_CLIPS_CROSSFIT = 500


@dataclass
class CalibratedFit:
    """Result of :func:`fit_calibrated`."""

    adapter: object
    features: object
    detector: object
    calibration_scores: np.ndarray
    train_item_scores: np.ndarray
    method: str


def _fit_detector(pipe, adapter, X, schedule: dict | None = None):
    det = pipe._make_detector()
    if schedule:
        det.set_params(**schedule)
    det.fit(adapter.detector_input(X))
    return det


def _fold_schedule(det) -> dict:
    """How long cross-fitting's fold models train: as long as the final model ``det`` did, without early
    stopping (:meth:`~anomalib_ae.detectors._deep.BaseDeepDetector.fitted_schedule`); nothing for a detector
    without epochs."""
    fn = getattr(det, "fitted_schedule", None)
    return fn() if callable(fn) else {}


def _items(adapter, det, f, valid_only: bool = True) -> np.ndarray:
    s = adapter.item_scores(det.score(adapter.detector_input(f.X)), f)
    return s[f.valid] if valid_only else s


def _fit_features(pipe, adapter, data):
    f = adapter.fit_transform(data)
    bad = [(i, e) for i, e in enumerate(f.errors) if e is not None]
    if bad and adapter.on_fit_errors == "raise":
        i, e = bad[0]
        raise ValueError(f"{len(bad)} training row(s) have unusable values (first: row {i}: {e})")
    pipe.fit_errors_ = [f"{f.item_name(i)}: {e}" for i, e in bad]
    if bad and adapter.on_fit_errors == "warn":
        warnings.warn(f"{len(bad)} training file(s) skipped: " + "; ".join(pipe.fit_errors_[:3]), UserWarning,
                      stacklevel=4)
    if len(f.X) == 0:
        raise ValueError("no usable training data: every item failed to load")
    return f


def fit_calibrated(pipe, data) -> CalibratedFit:
    """Fit ``pipe``'s adapter and detector on ``data`` and compute item calibration scores."""
    mode = pipe.calibration
    if mode not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {list(CALIBRATIONS)}, got {mode!r}")
    adapter = pipe._make_adapter()
    if adapter.kind == "audio":
        return _fit_audio(pipe, adapter, data, mode)
    if adapter.kind == "telemetry" and mode != "train":
        out = (_fit_telemetry_crossfit(pipe, adapter, data, strict=True) if mode == "crossfit"
               else _fit_telemetry_tail(pipe, adapter, data, strict=mode == "holdout"))
        if out is not None:
            return out
        mode = "train"
    f = _fit_features(pipe, adapter, data)
    det = _fit_detector(pipe, adapter, f.X)
    train_items = adapter.item_scores(det.decision_scores_, f)
    train_items = train_items[np.isfinite(train_items)]
    if not adapter.calibrate_on_items and mode != "train":
        return CalibratedFit(adapter, f, det, np.asarray(det.calibration_scores_, dtype=np.float64), train_items,
                             getattr(det, "calibration_method_", "detector"))
    return CalibratedFit(adapter, f, det, train_items, train_items, "train")


def _seed(pipe) -> int:
    rs = (pipe.detector_params or {}).get("random_state")
    return int(rs) if isinstance(rs, (int, np.integer)) else 0


def _fit_audio(pipe, adapter, data, mode: str) -> CalibratedFit:
    from anomalib_ae.data.splits import group_folds, group_holdout, recording_groups

    f = _fit_features(pipe, adapter, data)
    valid_paths = [p for p, ok in zip(f.paths, f.valid) if ok]
    groups = recording_groups(valid_paths)
    n_groups = len(set(groups.tolist()))
    if mode == "auto":
        mode = "train" if n_groups < 2 else "crossfit" if len(groups) < MAX_CLIPS_CROSSFIT else "holdout"
        if mode == "train":
            warnings.warn("one recording only: thresholds and p-values are calibrated on its own training clips "
                          "(optimistic); run `anomalib-ae calibrate` on fresh normal clips", UserWarning, stacklevel=3)
    if mode in ("holdout", "crossfit") and n_groups < 2:
        raise ValueError(f"calibration={mode!r} needs clips from at least two recordings")
    clip_of_frame = np.asarray(f.clip_index)
    if mode == "holdout":
        fit_c, cal_c = group_holdout(groups, pipe.calibration_fraction, _seed(pipe))
        det = _fit_detector(pipe, adapter, f.X[np.isin(clip_of_frame, fit_c)])
        items = _items(adapter, det, f)
        train_items, cal = items[fit_c], items[cal_c]
    elif mode == "crossfit":
        det = _fit_detector(pipe, adapter, f.X)  # first: the fold models train as long as it did
        schedule = _fold_schedule(det)
        cal = np.full(len(groups), np.nan)
        for fit_c, cal_c in group_folds(groups, 5, _seed(pipe)):
            det_k = _fit_detector(pipe, adapter, f.X[np.isin(clip_of_frame, fit_c)], schedule)
            cal[cal_c] = _items(adapter, det_k, f)[cal_c]
        train_items = adapter.item_scores(det.decision_scores_, f)[f.valid]
    else:
        det = _fit_detector(pipe, adapter, f.X)
        train_items = cal = adapter.item_scores(det.decision_scores_, f)[f.valid]
    return CalibratedFit(adapter, f, det, cal[np.isfinite(cal)], train_items[np.isfinite(train_items)], mode)


def _fit_telemetry_tail(pipe, adapter, data, strict: bool) -> CalibratedFit | None:
    from anomalib_ae.adapters.base import as_frame
    from anomalib_ae.data.splits import time_tail_split

    df = as_frame(data)
    entity = adapter.entity_col if adapter.entity_col in df.columns else None
    try:
        fit_df, cal_df = time_tail_split(df, adapter.timestamp_col, entity, pipe.calibration_fraction,
                                         min_rows=2 * int(adapter.window))
    except ValueError as exc:
        if strict:
            raise
        return _fit_telemetry_crossfit(pipe, adapter, df, strict=False, reason=str(exc))
    f = _fit_features(pipe, adapter, fit_df)
    det = _fit_detector(pipe, adapter, f.X)
    cal, t = _timed_items(adapter, det, cal_df)
    cal = cal[np.argsort(t, kind="stable")]  # time order: rolling re-calibration starts from the latest
    train_items = adapter.item_scores(det.decision_scores_, f)
    return CalibratedFit(adapter, f, det, cal[np.isfinite(cal)], train_items[np.isfinite(train_items)], "holdout")


def _timed_items(adapter, det, df) -> tuple[np.ndarray, np.ndarray]:
    fc = adapter.transform(df)
    return _items(adapter, det, fc, valid_only=False), pd.Series(fc.items[adapter.reader_.timestamp_col]).to_numpy()


def time_blocks(df: pd.DataFrame, timestamp_col: str, entity_col: str | None, min_rows: int,
                max_blocks: int = 5) -> list[np.ndarray]:
    """Row positions of K contiguous time blocks (block k: the k-th of K per entity), K = min(max_blocks, rows // min_rows).

    Raises ValueError when an entity has fewer than ``2 * min_rows`` rows (fewer than two blocks).
    """
    from anomalib_ae.data.telemetry import _parse_time

    t, _ = _parse_time(df, timestamp_col)
    ent = df[entity_col].to_numpy(dtype=object) if entity_col is not None else np.zeros(len(df), dtype=object)
    per_entity = []
    for e in pd.unique(pd.Series(ent, dtype=object)):
        pos = np.flatnonzero(ent == e)
        per_entity.append(pos[np.argsort(t[pos], kind="stable")])
    k = min([max_blocks] + [len(p) // min_rows for p in per_entity])
    if k < 2:
        raise ValueError(f"too few rows per entity for time-blocked cross-fitting (needs {2 * min_rows})")
    return [np.sort(np.concatenate([np.array_split(p, k)[j] for p in per_entity])) for j in range(k)]


def _fit_telemetry_crossfit(pipe, adapter, data, strict: bool, reason: str = "") -> CalibratedFit | None:
    """Time-blocked K-fold: each block scored by a detector fitted on the other blocks, final fit on all."""
    from anomalib_ae.adapters.base import as_frame

    df = as_frame(data)
    entity = adapter.entity_col if adapter.entity_col in df.columns else None
    try:
        blocks = time_blocks(df, adapter.timestamp_col, entity, 2 * int(adapter.window))
    except ValueError as exc:
        if strict:
            raise
        warnings.warn(f"{reason or exc}; {exc}; thresholds and p-values are calibrated on the training timestamps "
                      "(optimistic); run `anomalib-ae calibrate` on fresh normal data", UserWarning, stacklevel=4)
        return None
    f = _fit_features(pipe, adapter, df)
    det = _fit_detector(pipe, adapter, f.X)  # first: the fold models train as long as it did
    schedule = _fold_schedule(det)
    scores, times = [], []
    for block in blocks:
        adapter_k = pipe._make_adapter()
        rest = np.setdiff1d(np.arange(len(df)), block)
        det_k = _fit_detector(pipe, adapter_k, _fit_features(pipe, adapter_k, df.iloc[rest]).X, schedule)
        s, t = _timed_items(adapter_k, det_k, df.iloc[block])
        scores.append(s)
        times.append(t)
    cal, t = np.concatenate(scores), np.concatenate(times)
    cal = cal[np.argsort(t, kind="stable")]
    train_items = adapter.item_scores(det.decision_scores_, f)
    return CalibratedFit(adapter, f, det, cal[np.isfinite(cal)], train_items[np.isfinite(train_items)], "crossfit")


def rolling_table(pipe, table: pd.DataFrame, scores: np.ndarray, alpha: float) -> dict:
    """Rolling re-calibration over a telemetry batch, per entity in time order.

    Returns columns ``p_value``, ``is_anomaly``, ``threshold`` and ``drift_warning``.
    """
    from anomalib_ae.scoring.rolling import RollingCalibrator

    r = pipe.adapter_.reader_
    n = len(table)
    out = {"p_value": np.full(n, np.nan), "is_anomaly": np.zeros(n, bool), "threshold": np.full(n, np.nan),
           "drift_warning": np.zeros(n, bool)}
    ent = table[r.entity_col].to_numpy(dtype=object) if r.entity_col is not None else np.zeros(n, dtype=object)
    t = table[r.timestamp_col].to_numpy()
    for e in pd.unique(pd.Series(ent, dtype=object)):
        pos = np.flatnonzero(ent == e)
        pos = pos[np.argsort(t[pos], kind="stable")]
        roll = RollingCalibrator(pipe.calibration_scores_, alpha, window=int(pipe.rolling_window)).update(scores[pos])
        out["p_value"][pos], out["is_anomaly"][pos] = roll.p_values, roll.flags
        out["threshold"][pos], out["drift_warning"][pos] = roll.thresholds, roll.drift
    return out


class AlarmsMixin:
    """Threshold rule, re-calibration and probabilities of a :class:`~anomalib_ae.pipeline.Pipeline`."""

    def rule(self):
        """The threshold rule in force: ``threshold``, else the detector's, else None (contamination)."""
        if self.threshold is not None:
            return self.threshold
        det = getattr(self, "detector_", None)
        if det is not None:
            return det.rule() if hasattr(det, "rule") else getattr(det, "threshold", None)
        return (self.detector_params or {}).get("threshold")

    def contamination_(self) -> float:
        """The contamination share in force (the pipeline's, else the detector's)."""
        return float(self.contamination if self.contamination is not None else self.detector_.contamination)

    def _set_threshold(self, rule, train_item_scores=None) -> None:
        self.threshold_ = resolve_threshold(rule, train_item_scores, self.calibration_scores_, self.contamination_())

    def set_threshold(self, threshold):
        """Change the rule and re-resolve ``threshold_`` on the stored calibration scores (no refit)."""
        self._check_fitted()
        parse_threshold(threshold)
        self.threshold = threshold
        self._set_threshold(self.rule())
        return self

    def calibrate(self, data, threshold="keep"):
        """Re-calibrate on fresh normal ``data`` without refitting (e.g. after a maintenance shift).

        The calibration scores become the item scores of ``data`` (time-ordered for telemetry)
        and the rule (``threshold``, or the current one when ``"keep"``) is resolved on them.
        Item scores never change; thresholds, p-values and probabilities do.
        """
        self._check_fitted()
        if threshold != "keep":
            parse_threshold(threshold)
            self.threshold = threshold
        res = self.score_items(data)
        s = res.scores
        ts = getattr(getattr(self.adapter_, "reader_", None), "timestamp_col", None)
        if ts is not None and ts in res.table:
            s = s[np.argsort(res.table[ts].to_numpy(), kind="stable")]
        s = s[np.isfinite(s)]
        if s.size == 0:
            raise ValueError("no item of the calibration data could be scored")
        self.calibration_scores_ = s
        self.calibration_method_ = "recalibrated"
        self._set_threshold(self.rule(), s)
        return self

    def calibrate_probability(self, data, labels, method: str = "platt", prior: float | None = None):
        """Fit the ``p-value -> P(anomaly)`` map on labelled items (``labels``: 1 anomaly, 0 normal, one
        per item of ``data``; items that fail to score are skipped); see
        :meth:`anomalib_ae.detectors.base.BaseDetector.calibrate_probability`."""
        from anomalib_ae.scoring.probability import fit_probability_map, loo_p_values

        res = self.score_items(data)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        if y.size != len(res.table):
            raise ValueError(f"{y.size} labels for {len(res.table)} items")
        p = res.table["p_value"].to_numpy(np.float64)
        ok = np.isfinite(p)
        p, y = p[ok], y[ok]
        if y.size and np.all(y == 1):
            p = np.concatenate([p, loo_p_values(self.calibration_scores_)])
            y = np.concatenate([y, np.zeros(len(self.calibration_scores_))])
        self.probability_map_ = fit_probability_map(p, y, method=method, prior=prior).to_dict()
        return self

    def probability_map(self):
        """The fitted map, else the label-free prior bound (prior: the contamination share)."""
        from anomalib_ae.scoring.probability import ProbabilityMap

        if getattr(self, "probability_map_", None):
            return ProbabilityMap.from_dict(self.probability_map_)
        kind, value = parse_threshold(self.rule())
        return ProbabilityMap("prior", prior=value if kind == "contamination" and value else self.contamination_())

    def _alarm_columns(self, items: pd.DataFrame, score: np.ndarray) -> dict:
        """``p_value``, ``probability``, ``is_anomaly`` (+ ``threshold``, ``drift_warning`` when rolling)."""
        from anomalib_ae.scoring.calibration import conformal_p_values

        n, ok = len(score), np.isfinite(score)
        pval = np.full(n, np.nan)
        if ok.any():
            pval[ok] = conformal_p_values(self.calibration_scores_, score[ok])
        flag = pd.array([pd.NA] * n, dtype="boolean")
        flag[ok] = score[ok] > self.threshold_
        extra = {}
        if self.rolling_window and getattr(self.adapter_, "kind", "") == "telemetry" and ok.any():
            kind, value = parse_threshold(self.rule())
            if kind not in ("fpr", "contamination"):
                raise ValueError("rolling re-calibration needs an 'fpr:<rate>' or contamination rule")
            roll = rolling_table(self, items, np.where(ok, score, np.nan), value or self.contamination_())
            pval[ok], flag[ok] = roll["p_value"][ok], roll["is_anomaly"][ok]
            extra = {"threshold": roll["threshold"], "drift_warning": roll["drift_warning"]}
        proba = np.full(n, np.nan)
        if ok.any():
            proba[ok] = self.probability_map()(pval[ok])
        return {"p_value": pval, "probability": proba, "is_anomaly": flag, **extra}
