"""Adapter + detector: a model that takes what users hold (image folders, wav/flac clips,
telemetry tables, plain tables) and scores one row per image / clip / timestamp / row.

>>> from anomalib_ae.pipeline import Pipeline                       # doctest: +SKIP
>>> pipe = Pipeline("ae", kind="audio", detector_params={"epochs": 5}).fit("normal_clips/")
>>> pipe.save("fan.pt"); anomalib_ae.load("fan.pt").score_items("new_clips/").table

The adapter's settings (image size and mode, audio features, telemetry window and scaling,
table columns) are saved in the same safe model file as the detector and re-applied at
score time, so a reloaded pipeline scores bit-identically.

Item scores, thresholds and probabilities
-----------------------------------------
* ``image`` / ``tabular``: one detector sample per item.
* ``audio``: the detector scores frame vectors; a clip's score aggregates its frame scores
  (``clip_aggregate``: ``"mean"`` default as in DCASE, ``"max"`` or ``"quantile:q"``).
* ``telemetry``: the detector scores windows; a timestamp's score combines the windows that
  cover it (``timestamp_how``: ``"mean"`` or ``"max"``).

``calibration_scores_`` are item scores of normal items the detector did not train on
(held-out items, recordings or a time-ordered tail; see :mod:`anomalib_ae.alarms`), and
``threshold_`` resolves the threshold rule (``threshold``: ``"fpr:0.01"``,
``"contamination:0.05"``, a score, ``"pythresh:..."``; None = the contamination rule) on them
with :func:`~anomalib_ae.scoring.threshold.resolve_threshold`, as every detector does.
``score_items`` reports the conformal ``p_value`` and a ``probability`` from
:mod:`anomalib_ae.scoring.probability`. :meth:`Pipeline.calibrate` re-calibrates on fresh
normal data without refitting.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomalib_ae.scoring.threshold import parse_threshold

__all__ = ["KINDS", "Pipeline", "ScoreResult", "from_detector", "load_pipeline", "pipeline_from_config"]

KINDS = ("tabular", "image", "audio", "telemetry")


@dataclass
class ScoreResult:
    """Scores of a batch of items.

    Attributes
    ----------
    table : DataFrame
        One row per input item (image, clip, timestamp or table row), with ``score``,
        ``p_value`` (conformal p-value against the calibration scores: the share of held-out
        normal items scoring at least as high), ``probability`` (P(anomaly) from the p-value,
        see :mod:`anomalib_ae.scoring.probability`), ``is_anomaly`` and ``error`` (why an
        item could not be scored; its score is then NaN). With ``rolling_window`` also
        ``threshold`` (in force for that item) and ``drift_warning``.
    scores : ndarray of float64 of shape (len(table),)
        The ``score`` column.
    details : dict
        What explanations need: ``X`` (the detector's input), and per kind
        ``frame_scores`` / ``clip_index`` / ``paths`` (audio), ``window_scores`` / ``batch``
        (telemetry), ``valid`` (rows of ``table`` that were scored, in ``X`` order).
    """

    table: pd.DataFrame
    scores: np.ndarray
    details: dict = field(default_factory=dict)


def _as_list(value) -> list | None:
    return None if value is None else [str(v) for v in value]


class Pipeline:
    """A data adapter followed by a detector.

    Parameters
    ----------
    detector : str or detector, default="ae"
        Registered detector name (built with ``detector_params``) or an unfitted detector.
    kind : {"tabular", "image", "audio", "telemetry"}, default="tabular"
    adapter_params : dict, optional
        ``image``: ``size``, ``mode`` (:class:`~anomalib_ae.data.ImagePreprocessor`);
        ``audio``: :class:`~anomalib_ae.data.AudioFeaturizer` parameters;
        ``telemetry``: :class:`~anomalib_ae.data.TelemetryWindower` parameters plus
        ``exclude`` (numeric columns that are not metrics, e.g. a label);
        ``tabular``: ``columns`` (feature columns, default every numeric column) and
        ``exclude`` (columns never used, e.g. ids or labels).
    detector_params : dict, optional
        Parameters of the detector when ``detector`` is a name.
    clip_aggregate : str, default="mean"
        Audio: frame scores -> clip score (``"mean"``, ``"max"``, ``"quantile:0.9"``).
    timestamp_how : {"mean", "max"}, default="mean"
        Telemetry: window scores -> timestamp score.
    contamination : float or None, default=None
        Share of held-out normal items above the threshold (the contamination rule), and the
        prior of the label-free probability. ``None`` keeps the detector's.
    threshold : None, str or float, default=None
        Threshold rule (:mod:`anomalib_ae.scoring.threshold`): ``"fpr:0.01"``,
        ``"contamination:0.05"``, a fixed score or ``"pythresh:<method>"``. None: the
        detector's ``threshold`` parameter when it has one, else the contamination rule.
    calibration : {"auto", "holdout", "crossfit", "train"}, default="auto"
        Where the item calibration scores come from; see :mod:`anomalib_ae.alarms`.
    calibration_fraction : float, default=0.2
        Share of recordings / of each entity's rows (time-ordered tail) held out.
    rolling_window : int or None, default=None
        Telemetry: rolling re-calibration over this many recent items presumed normal
        (:mod:`anomalib_ae.scoring.rolling`), with a drift warning; needs an ``fpr`` or
        contamination rule.
    """

    def __init__(
        self,
        detector: Any = "ae",
        kind: str = "tabular",
        adapter_params: dict | None = None,
        detector_params: dict | None = None,
        clip_aggregate: str = "mean",
        timestamp_how: str = "mean",
        contamination: float | None = None,
        threshold: Any = None,
        calibration: str = "auto",
        calibration_fraction: float = 0.2,
        rolling_window: int | None = None,
    ):
        self.threshold = threshold
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.rolling_window = rolling_window
        self.detector = detector
        self.kind = kind
        self.adapter_params = adapter_params
        self.detector_params = detector_params
        self.clip_aggregate = clip_aggregate
        self.timestamp_how = timestamp_how
        self.contamination = contamination

    # ------------------------------------------------------------------ building
    def _make_detector(self):
        import anomalib_ae

        params = dict(self.detector_params or {})
        if self.contamination is not None:
            params.setdefault("contamination", self.contamination)
        if self.threshold is not None and self.kind in ("tabular", "image"):
            params["threshold"] = self.threshold  # one rule: the detector flags what the pipeline flags
        if isinstance(self.detector, str):
            return anomalib_ae.create(self.detector, **params)
        from sklearn.base import clone

        det = clone(self.detector)
        return det.set_params(**params) if params else det

    def _make_adapter(self):
        from anomalib_ae.data import AudioFeaturizer, ImagePreprocessor, TelemetryWindower

        p = dict(self.adapter_params or {})
        try:
            if self.kind == "image":
                return ImagePreprocessor(**p)
            if self.kind == "audio":
                return AudioFeaturizer(**p)
            if self.kind == "telemetry":
                self._exclude = _as_list(p.pop("exclude", None)) or []
                return TelemetryWindower(**p)
            if self.kind == "tabular":
                unknown = sorted(set(p) - {"columns", "exclude"})
                if unknown:
                    raise ValueError(f"unknown tabular adapter parameter(s) {unknown}; valid: ['columns', 'exclude']")
                return {"type": "tabular", "columns": _as_list(p.get("columns")), "exclude": _as_list(p.get("exclude")) or []}
        except TypeError as exc:
            raise ValueError(f"bad {self.kind} adapter parameters {p}: {exc}") from None
        raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise RuntimeError("this Pipeline is not fitted; call fit(...) first")

    # ------------------------------------------------------------------ features
    def _tabular_frame(self, data) -> pd.DataFrame:
        from anomalib_ae.data.tabular import read_table

        if isinstance(data, (str, os.PathLike)):
            return read_table(data)
        if isinstance(data, pd.DataFrame):
            return data
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise ValueError(f"tabular input must be a table or a 2-D array, got shape {arr.shape}")
        return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])

    def _features(self, data, *, fitting: bool) -> dict:
        """Adapter output as a dict: X, items table (one row per item), errors, kind-specific parts."""
        a = self.adapter_
        if self.kind == "image":
            from anomalib_ae.data import list_image_files

            if isinstance(data, np.ndarray):
                if fitting:
                    a.fit(data)
                X = a.transform_arrays(data)
                items = pd.DataFrame({"item": np.arange(len(X))})
                return {"X": X, "items": items, "valid": np.ones(len(X), bool), "errors": [None] * len(X)}
            paths = self._image_paths(data, list_image_files)
            if fitting:
                a.fit(paths)
            batch = a.transform_paths(paths)
            err = {e.path: e.message for e in batch.errors}
            items = pd.DataFrame({"path": paths})
            valid = np.array([p not in err for p in paths], dtype=bool)
            return {"X": batch.X, "items": items, "valid": valid, "errors": [err.get(p) for p in paths],
                    "paths": paths}
        if self.kind == "audio":
            from anomalib_ae.data.audio import _expand

            paths = _expand(data)
            if not paths:
                raise ValueError(f"no .wav or .flac file found in {data!r}")
            batch = a.transform_files(paths)
            err = {e.path: e.message for e in batch.errors}
            items = pd.DataFrame({"path": paths})
            valid = np.array([p not in err for p in paths], dtype=bool)
            return {"X": batch.frames, "items": items, "valid": valid, "errors": [err.get(p) for p in paths],
                    "clip_index": batch.clip_index, "n_clips": batch.n_clips, "paths": paths}
        if self.kind == "telemetry":
            df = self._tabular_frame(data)
            if fitting:
                exclude = getattr(self, "_exclude", [])
                missing = [c for c in exclude if c not in df.columns]
                if missing:
                    raise ValueError(f"exclude names column(s) not in the table: {missing}")
                if exclude and a.metric_cols is None:
                    skip = set(exclude) | {a.timestamp_col, a.entity_col}
                    from anomalib_ae.data.telemetry import _mostly_numeric

                    a.metric_cols = [str(c) for c in df.columns if c not in skip and _mostly_numeric(df[c])]
                a.fit(df)
            batch = a.transform(df)
            errs: list[str | None] = [None] * batch.n_rows
            for e in batch.errors:
                errs[e.row] = e.message
            items = pd.DataFrame({"row": np.arange(batch.n_rows), a.timestamp_col: batch.row_timestamps})
            if a.entity_col is not None:
                items[a.entity_col] = batch.row_entities
            return {"X": batch.X, "items": items, "valid": np.array([e is None for e in errs]), "errors": errs,
                    "batch": batch}
        # tabular
        from anomalib_ae.data.tabular import extract_features, numeric_columns

        df = self._tabular_frame(data)
        if fitting:
            exclude = a["exclude"]
            missing = [c for c in exclude if c not in df.columns]
            if missing:
                raise ValueError(f"exclude names column(s) not in the table: {missing}")
            cols = a["columns"] or [str(c) for c in numeric_columns(df, exclude)]
            if not cols:
                raise ValueError("the table has no numeric feature columns")
            a["columns"] = cols
        rows = extract_features(df, a["columns"])
        items = pd.DataFrame({"row": np.arange(len(df))})
        return {"X": rows.X.astype(np.float32), "items": items, "valid": rows.valid, "errors": rows.errors, "frame": df}

    @staticmethod
    def _image_paths(data, list_image_files) -> list[str]:
        if isinstance(data, (str, os.PathLike)):
            p = Path(data)
            if p.is_dir():
                files = [str(f) for f in list_image_files(p)]
                if not files:
                    raise ValueError(f"no image file (png, jpg, jpeg, bmp, tif, tiff) found in {str(p)!r}")
                return files
            if not p.exists():
                raise FileNotFoundError(f"input not found: {str(p)!r}")
            return [str(p)]
        return [str(x) for x in data]

    # ------------------------------------------------------------------ fit
    def fit(self, data, y=None) -> "Pipeline":
        """Fit the adapter and the detector on normal data.

        Parameters
        ----------
        data
            ``image``: a folder (searched recursively; with a ``good/`` sub-folder only
            ``good/`` is used), a list of files or an array of images; ``audio``: a folder,
            a file or a list of files; ``telemetry`` / ``tabular``: a CSV / Parquet path or
            a DataFrame (tabular also takes a 2-D array).
        y : ignored

        Returns
        -------
        self

        Notes
        -----
        Files that cannot be read are skipped with a warning naming them (``fit_errors_``);
        a table row with unusable values is an error for ``tabular`` (clean the data) and
        is skipped for ``telemetry`` as the windower documents.
        """
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        self.adapter_ = self._make_adapter()
        if self.kind == "image" and isinstance(data, (str, os.PathLike)) and (Path(data) / "good").is_dir():
            data = Path(data) / "good"
        from anomalib_ae.alarms import fit_calibrated

        parse_threshold(self.threshold)
        fc = fit_calibrated(self, data)
        f, det = fc.features, fc.detector
        self.detector_ = det
        self.reference_ = self._reference(f["X"])
        self.calibration_scores_ = np.asarray(fc.calibration_scores, dtype=np.float64)
        self.calibration_method_ = fc.method
        self.probability_map_ = None
        self._set_threshold(self.rule(), fc.train_item_scores)
        self.n_train_items_ = int(f["valid"].sum())
        return self

    def rule(self):
        """The threshold rule in force: ``threshold``, else the detector's, else None (contamination)."""
        if self.threshold is not None:
            return self.threshold
        det = getattr(self, "detector_", None)
        if det is not None:
            return det.rule() if hasattr(det, "rule") else getattr(det, "threshold", None)
        return (self.detector_params or {}).get("threshold")

    def _contamination(self) -> float:
        return float(self.contamination if self.contamination is not None else self.detector_.contamination)

    def _set_threshold(self, rule, train_item_scores=None) -> None:
        from anomalib_ae.scoring.threshold import resolve_threshold

        self.threshold_ = resolve_threshold(rule, train_item_scores, self.calibration_scores_, self._contamination())

    def set_threshold(self, threshold) -> "Pipeline":
        """Change the rule and re-resolve ``threshold_`` on the stored calibration scores (no refit)."""
        self._check_fitted()
        parse_threshold(threshold)
        self.threshold = threshold
        self._set_threshold(self.rule())
        return self

    def calibrate(self, data, threshold="keep") -> "Pipeline":
        """Re-calibrate on fresh normal ``data`` without refitting (e.g. after a maintenance shift).

        The calibration scores become the item scores of ``data`` (time-ordered for
        telemetry), and the rule (``threshold``, or the current one when ``"keep"``) is
        resolved on them. Item scores never change; thresholds, p-values and probabilities do.
        """
        self._check_fitted()
        if threshold != "keep":
            parse_threshold(threshold)
            self.threshold = threshold
        res = self.score_items(data)
        s = res.scores
        if self.kind == "telemetry":
            s = s[np.argsort(res.table[self.adapter_.timestamp_col].to_numpy(), kind="stable")]
        s = s[np.isfinite(s)]
        if s.size == 0:
            raise ValueError("no item of the calibration data could be scored")
        self.calibration_scores_ = s
        self.calibration_method_ = "recalibrated"
        self._set_threshold(self.rule(), s)
        return self

    def calibrate_probability(self, data, labels, method: str = "platt", prior: float | None = None) -> "Pipeline":
        """Fit the ``p-value -> P(anomaly)`` map on labelled items (``labels``: 1 anomaly, 0 normal,
        one per item of ``data``; items that fail to score are skipped). See
        :meth:`anomalib_ae.detectors.base.BaseDetector.calibrate_probability`."""
        from anomalib_ae.scoring.probability import fit_probability_map, loo_p_values

        res = self.score_items(data)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        if y.size != len(res.table):
            raise ValueError(f"{y.size} labels for {len(res.table)} items")
        ok = np.isfinite(res.table["p_value"].to_numpy(np.float64))
        p, y = res.table["p_value"].to_numpy(np.float64)[ok], y[ok]
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
        return ProbabilityMap("prior", prior=value if kind == "contamination" and value else self._contamination())

    def _reference(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training mean / std for model-agnostic (z-score) explanations."""
        X64 = np.asarray(X, dtype=np.float64)
        axes = (0, 1) if self.kind == "telemetry" else (0,)
        mean = X64.mean(axis=axes, keepdims=True)[0]
        std = X64.std(axis=axes, keepdims=True)[0]
        std[std < 1e-12] = 1.0
        return mean, std

    @staticmethod
    def _item_name(f: dict, i: int) -> str:
        paths = f.get("paths")
        return paths[i] if paths is not None else f"row {i}"

    def _item_scores(self, raw: np.ndarray, f: dict) -> np.ndarray:
        """Detector scores of ``f["X"]`` -> one score per scored item (NaN where none)."""
        if self.kind == "audio":
            from anomalib_ae.data import aggregate_clip_scores

            return aggregate_clip_scores(raw, f["clip_index"], f["n_clips"], self.clip_aggregate)
        if self.kind == "telemetry":
            from anomalib_ae.data import windows_to_timestamps

            return windows_to_timestamps(raw, f["batch"], how=self.timestamp_how)
        return np.asarray(raw, dtype=np.float64)

    # ------------------------------------------------------------------ score
    def _detector_input(self, X):
        if self.kind == "tabular":
            return pd.DataFrame(X, columns=self.adapter_["columns"])
        return X

    def score_items(self, data) -> ScoreResult:
        """Score every item; unreadable items get an ``error`` and a NaN score, the others are scored.

        Returns
        -------
        ScoreResult
        """
        self._check_fitted()
        from anomalib_ae.scoring.calibration import conformal_p_values

        f = self._features(data, fitting=False)
        n = len(f["items"])
        valid = f["valid"]
        raw = self.detector_.score(self._detector_input(f["X"])) if len(f["X"]) else np.zeros(0)
        per = self._item_scores(raw, f)
        score = np.full(n, np.nan)
        if self.kind in ("audio", "image"):
            score[valid] = per
        elif self.kind == "telemetry":
            score = per
        else:
            score[valid] = per
        ok = np.isfinite(score)
        pval = np.full(n, np.nan)
        if ok.any():
            pval[ok] = conformal_p_values(self.calibration_scores_, score[ok])
        flag = pd.array([pd.NA] * n, dtype="boolean")
        flag[ok] = score[ok] > self.threshold_
        extra = {}
        if self.rolling_window and self.kind == "telemetry" and ok.any():
            from anomalib_ae.alarms import rolling_table

            kind, value = parse_threshold(self.rule())
            if kind not in ("fpr", "contamination"):
                raise ValueError("rolling re-calibration needs an 'fpr:<rate>' or contamination rule")
            roll = rolling_table(self, f["items"], np.where(ok, score, np.nan), value or self._contamination())
            pval[ok], flag[ok] = roll["p_value"][ok], roll["is_anomaly"][ok]
            extra = {"threshold": roll["threshold"], "drift_warning": roll["drift_warning"]}
        proba = np.full(n, np.nan)
        if ok.any():
            proba[ok] = self.probability_map()(pval[ok])
        errors = list(f["errors"])
        for i in np.flatnonzero(~ok):
            if errors[i] is None:
                errors[i] = "not scored"
        table = f["items"].copy()
        table["score"] = score
        table["p_value"] = pval
        table["probability"] = proba
        table["is_anomaly"] = flag
        for k, v in extra.items():
            table[k] = v
        table["error"] = pd.array(errors, dtype="string")
        details = {"X": f["X"], "raw_scores": raw, "valid": valid}
        for k in ("clip_index", "n_clips", "batch", "paths"):
            if k in f:
                details[k] = f[k]
        return ScoreResult(table=table, scores=score, details=details)

    def score(self, data, y=None) -> np.ndarray:
        """Item scores (float64, higher = more anomalous; NaN for items that failed)."""
        return self.score_items(data).scores

    def predict(self, data) -> np.ndarray:
        """1 = anomalous, 0 = normal, -1 = could not be scored (one per item)."""
        t = self.score_items(data).table
        return np.where(t["is_anomaly"].isna(), -1, t["is_anomaly"].fillna(False).astype(np.int64))

    # ------------------------------------------------------------------ explain
    def explain(self, data, top_k: int = 5) -> dict:
        """Attributions of the ``top_k`` highest-scoring items.

        Parameters
        ----------
        data : as for :meth:`score_items`, or a :class:`ScoreResult` of it
        top_k : int, default=5

        Returns
        -------
        dict
            ``result`` (the ScoreResult), ``top`` (item positions, highest first),
            ``method`` ("reconstruction" or "zscore", see :mod:`anomalib_ae.explain`),
            ``feature_names`` and ``contributions`` (one row per item in ``top``, one value
            per feature; image pixels, audio mel bands, telemetry metrics), plus per kind:
            ``maps`` (image ``(k, H, W)`` error maps, audio list of ``(n_mels, T)``
            spectrogram error maps), ``images`` (image inputs), ``log_mels`` (audio),
            ``row_contributions`` (telemetry ``(n_rows, n_metrics)``).
        """
        from anomalib_ae.explain import feature_contributions, spectrogram_error_map

        self._check_fitted()
        res = data if isinstance(data, ScoreResult) else self.score_items(data)
        s = np.where(np.isfinite(res.scores), res.scores, -np.inf)
        top = [int(i) for i in np.argsort(-s, kind="stable")[: int(top_k)] if np.isfinite(res.scores[i])]
        d = res.details
        out: dict[str, Any] = {"result": res, "top": top}
        pos = np.cumsum(d["valid"]) - 1  # item -> row of X (image / tabular / audio clip)
        if self.kind == "image":
            X = d["X"][pos[top]] if top else d["X"][:0]
            if top:
                c, method = feature_contributions(self.detector_, X, self.reference_)
                maps = c.mean(axis=1) if c.ndim == 4 else c
            else:
                maps, method = np.zeros((0,) + X.shape[-2:]), ""
            out.update(maps=maps, images=X, method=method, feature_names=["pixel"],
                       contributions=maps.reshape(len(top), -1))
            return out
        if self.kind == "tabular":
            X = d["X"][pos[top]]
            c, method = feature_contributions(self.detector_, self._detector_input(X).to_numpy(np.float32), self.reference_) \
                if top else (np.zeros((0, len(self.adapter_["columns"]))), "")
            out.update(method=method, feature_names=list(self.adapter_["columns"]), contributions=c)
            return out
        if self.kind == "audio":
            a = self.adapter_
            frames_all, clip_index = d["X"], d["clip_index"]
            maps, mels, contribs, method = [], [], [], ""
            for i in top:
                rows = clip_index == pos[i]
                c, method = feature_contributions(self.detector_, frames_all[rows], self.reference_)
                m = spectrogram_error_map(c, int(a.n_mels), int(a.n_context))
                maps.append(m)
                contribs.append(m.mean(axis=1))
                mels.append(a.log_mel([res.table["path"].iloc[i]])[0])
            out.update(maps=maps, log_mels=mels, method=method,
                       feature_names=[f"mel{j:03d}" for j in range(int(a.n_mels))],
                       contributions=np.array(contribs).reshape(len(top), int(a.n_mels)))
            return out
        # telemetry
        from anomalib_ae.explain import telemetry_contributions

        batch = d["batch"]
        c, method = feature_contributions(self.detector_, batch.X, self.reference_)
        rowc = telemetry_contributions(c, batch, how=self.timestamp_how)
        out.update(method=method, feature_names=list(batch.metric_cols), row_contributions=rowc,
                   contributions=rowc[top] if top else np.zeros((0, len(batch.metric_cols))))
        return out

    # ------------------------------------------------------------------ persistence
    def adapter_dict(self) -> dict:
        """JSON-able adapter settings (fitted state included) as stored in the model file."""
        self._check_fitted()
        return dict(self.adapter_) if self.kind == "tabular" else self.adapter_.to_dict()

    def save(self, path: str | os.PathLike) -> None:
        """Write adapter, options, thresholds and the fitted detector to one safe model file."""
        from anomalib_ae.io import save

        save(self, path)

    def _file_state(self) -> tuple[dict[str, np.ndarray], dict]:
        from anomalib_ae.io import _encode, detector_to_state

        self._check_fitted()
        arrays, header = detector_to_state(self.detector_)
        arrays = dict(arrays)
        arrays["__pipeline__.calibration_scores"] = np.asarray(self.calibration_scores_, dtype=np.float64)
        arrays["__pipeline__.reference_mean"] = np.asarray(self.reference_[0], dtype=np.float64)
        arrays["__pipeline__.reference_scale"] = np.asarray(self.reference_[1], dtype=np.float64)
        header["pipeline"] = {
            "kind": self.kind,
            "adapter": _encode(self.adapter_dict()),
            "params": _encode({
                "adapter_params": self.adapter_params,
                "clip_aggregate": self.clip_aggregate,
                "timestamp_how": self.timestamp_how,
                "contamination": self.contamination,
                "threshold": self.threshold,
                "calibration": self.calibration,
                "calibration_fraction": self.calibration_fraction,
                "rolling_window": self.rolling_window,
            }),
            "threshold": float(self.threshold_),
            "calibration_method": getattr(self, "calibration_method_", "unknown"),
            "probability_map": getattr(self, "probability_map_", None),
            "n_train_items": int(self.n_train_items_),
            "fit_errors": list(self.fit_errors_),
        }
        return arrays, header

    @classmethod
    def _from_file_state(cls, arrays: dict[str, np.ndarray], header: dict) -> "Pipeline":
        from anomalib_ae.data import AudioFeaturizer, ImagePreprocessor, TelemetryWindower
        from anomalib_ae.io import ModelFileError, _decode, detector_from_state

        p = header["pipeline"]
        own = {k: v for k, v in arrays.items() if k.startswith("__pipeline__.")}
        det_arrays = {k: v for k, v in arrays.items() if not k.startswith("__pipeline__.")}
        det = detector_from_state(det_arrays, {k: v for k, v in header.items() if k != "pipeline"})
        kind = p.get("kind")
        if kind not in KINDS:
            raise ModelFileError(f"the model file names an unknown pipeline kind {kind!r}")
        params = _decode(p.get("params", {}))
        pipe = cls(type(det)._registered_name, kind=kind, detector_params=det.get_params(deep=False), **params)
        ad = _decode(p["adapter"])
        pipe.adapter_ = {"image": ImagePreprocessor.from_dict, "audio": AudioFeaturizer.from_dict,
                         "telemetry": TelemetryWindower.from_dict}.get(kind, lambda d: d)(ad)
        pipe.detector_ = det
        pipe.threshold_ = float(p["threshold"])
        pipe.calibration_scores_ = own["__pipeline__.calibration_scores"]
        pipe.reference_ = (own["__pipeline__.reference_mean"], own["__pipeline__.reference_scale"])
        pipe.n_train_items_ = int(p.get("n_train_items", 0))
        pipe.fit_errors_ = list(p.get("fit_errors", []))
        pipe.calibration_method_ = p.get("calibration_method", "unknown")
        pipe.probability_map_ = p.get("probability_map")
        return pipe

    def __repr__(self) -> str:
        det = self.detector if isinstance(self.detector, str) else type(self.detector).__name__
        return f"Pipeline(detector={det!r}, kind={self.kind!r}, adapter_params={self.adapter_params!r})"


def load_pipeline(path: str | os.PathLike) -> Pipeline:
    """Load a model file written by :meth:`Pipeline.save` (``anomalib_ae.load`` does the same)."""
    from anomalib_ae.io import ModelFileError, load

    obj = load(path)
    if not isinstance(obj, Pipeline):
        raise ModelFileError(f"{path} holds a bare detector, not a pipeline (load it with anomalib_ae.load)")
    return obj


def from_detector(detector) -> Pipeline:
    """Wrap a fitted tabular detector (e.g. from ``anomalib-ae fit --detector``) as a tabular pipeline.

    Its feature columns are ``feature_names_in_`` (or ``x0, x1, ...``). There are no training
    statistics, so explanations work only for reconstruction detectors.
    """
    names = getattr(detector, "feature_names_in_", None)
    cols = [str(c) for c in names] if names is not None else [f"x{j}" for j in range(detector.n_features_in_)]
    pipe = Pipeline(getattr(type(detector), "_registered_name", None) or type(detector).__name__, kind="tabular")
    pipe.adapter_ = {"type": "tabular", "columns": cols, "exclude": []}
    pipe.detector_ = detector
    pipe.threshold_ = float(detector.threshold_)
    pipe.calibration_scores_ = np.asarray(detector.calibration_scores_, dtype=np.float64)
    pipe.calibration_method_ = getattr(detector, "calibration_method_", "detector")
    pipe.probability_map_ = getattr(detector, "probability_map_", None)
    pipe.reference_ = None
    pipe.n_train_items_ = 0
    pipe.fit_errors_ = []
    return pipe


#: Top-level keys of a config file (see docs/domains.md).
CONFIG_KEYS = ("adapter", "detector", "threshold", "scoring", "name", "description", "data")


def pipeline_from_config(config: dict, *, detector: str | None = None, detector_params: dict | None = None,
                         adapter_params: dict | None = None, kind: str | None = None,
                         contamination: float | None = None, threshold: Any = None) -> Pipeline:
    """Build an unfitted :class:`Pipeline` from a config dict (a parsed ``configs/*.yaml``).

    Keyword arguments override the config (the CLI's command-line flags; ``threshold``
    overrides ``threshold.rule``): ``detector``
    replaces ``detector.name`` (and drops the config's detector params, which belong to the
    other detector), ``detector_params`` / ``adapter_params`` update those mappings.

    Raises
    ------
    ValueError
        Unknown keys, a missing ``adapter.kind``, a malformed section.
    """
    config = dict(config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid: {list(CONFIG_KEYS)}")

    def section(name: str) -> dict:
        v = config.get(name) or {}
        if not isinstance(v, dict):
            raise ValueError(f"config section {name!r} must be a mapping, got {type(v).__name__}")
        return dict(v)

    ad, de, th, sc = section("adapter"), section("detector"), section("threshold"), section("scoring")
    k = kind or ad.pop("kind", None)
    ad.pop("kind", None)
    if k is None:
        raise ValueError("the config needs adapter.kind (tabular, image, audio or telemetry) or pass --kind")
    a_params = dict(ad.get("params") or {})
    a_params.update(adapter_params or {})
    name = detector or de.get("name", "ae")
    d_params = {} if (detector and detector != de.get("name")) else dict(de.get("params") or {})
    d_params.update(detector_params or {})
    th_keys = {"contamination", "rule", "calibration", "calibration_fraction", "rolling_window"}
    unknown = sorted(set(th) - th_keys)
    if unknown:
        raise ValueError(f"unknown threshold key(s) {unknown}; valid: {sorted(th_keys)}")
    cal = {k: th[k] for k in ("calibration", "calibration_fraction", "rolling_window") if th.get(k) is not None}
    rule = threshold if threshold is not None else th.get("rule")
    parse_threshold(rule)
    cont = contamination if contamination is not None else th.get("contamination")
    unknown = sorted(set(sc) - {"clip_aggregate", "timestamp_how"})
    if unknown:
        raise ValueError(f"unknown scoring key(s) {unknown}; valid: ['clip_aggregate', 'timestamp_how']")
    return Pipeline(name, kind=k, adapter_params=a_params, detector_params=d_params,
                    clip_aggregate=sc.get("clip_aggregate", "mean"), timestamp_how=sc.get("timestamp_how", "mean"),
                    contamination=cont, threshold=rule, **cal)
