"""Adapter + detector: a model that takes what users hold (image folders, wav/flac clips,
telemetry tables, plain tables) and scores one row per image / clip / timestamp / row.

>>> from anomalib_ae.pipeline import Pipeline                       # doctest: +SKIP
>>> pipe = Pipeline("ae", kind="audio", detector_params={"epochs": 5}).fit("normal_clips/")
>>> pipe.save("fan.pt"); anomalib_ae.load("fan.pt").score_items("new_clips/").table

The pipeline composes an adapter (:mod:`anomalib_ae.adapters`, chosen by ``kind``) and a
detector, never branching on the modality; both are saved in one safe model file, so a
reloaded pipeline scores bit-identically. Thresholds, held-out item calibration, ``p_value`` /
``probability`` and re-calibration: :mod:`anomalib_ae.alarms`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from anomalib_ae.adapters import ADAPTERS, Adapter
from anomalib_ae.alarms import AlarmsMixin
from anomalib_ae.explain.types import Explanation
from anomalib_ae.results import ScoreResult
from anomalib_ae.value_range import score_finite_rows

__all__ = ["KINDS", "Pipeline", "ScoreResult", "from_detector", "load_pipeline", "pipeline_from_config"]

KINDS = tuple(ADAPTERS)

#: Pipeline options that an adapter takes when its signature names them.
_ADAPTER_OPTIONS = ("clip_aggregate", "timestamp_how")


class Pipeline(AlarmsMixin):
    """A data adapter followed by a detector.

    Parameters
    ----------
    detector : str or detector, default="ae"
        Registered detector name (built with ``detector_params``) or an unfitted detector.
    kind : {"tabular", "image", "audio", "telemetry"}, default="tabular"
        Which adapter (:data:`anomalib_ae.adapters.ADAPTERS`) reads the data.
    adapter_params : dict, optional
        Parameters of the adapter: :class:`~anomalib_ae.adapters.ImageAdapter` (``size``,
        ``mode``), :class:`~anomalib_ae.adapters.AudioAdapter` (featurizer parameters),
        :class:`~anomalib_ae.adapters.TelemetryAdapter` (windower parameters plus ``exclude``),
        :class:`~anomalib_ae.adapters.TabularAdapter` (``columns``, ``exclude``).
    detector_params : dict, optional
        Parameters of the detector when ``detector`` is a name.
    clip_aggregate : str, default="mean"
        Audio: frame scores -> clip score (``"mean"``, ``"max"``, ``"quantile:0.9"``).
    timestamp_how : {"mean", "max"}, default="mean"
        Telemetry: window scores -> timestamp score.
    contamination : float or None, default=None
        Share of held-out normal items above the threshold (contamination rule) and prior of
        the label-free probability. ``None`` keeps the detector's.
    threshold : None, str or float, default=None
        Rule (:mod:`anomalib_ae.scoring.threshold`): ``"fpr:0.01"``, ``"contamination:0.05"``, a
        score, ``"pythresh:<method>"``; None: the detector's rule, else the contamination rule.
    calibration : {"auto", "holdout", "crossfit", "train"}, default="auto"
        Source of the item calibration scores (:mod:`anomalib_ae.alarms`).
    calibration_fraction : float, default=0.2
        Share of recordings / of each entity's rows (time-ordered tail) held out.
    rolling_window : int or None, default=None
        Telemetry: rolling re-calibration over this many recent items presumed normal, with
        ``threshold`` and ``drift_warning`` columns (:mod:`anomalib_ae.scoring.rolling`).
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
        from anomalib_ae.registry import create

        params = dict(self.detector_params or {})
        if self.contamination is not None:
            params.setdefault("contamination", self.contamination)
        if self.threshold is not None and not self._adapter_class().calibrate_on_items:
            params["threshold"] = self.threshold  # one rule: the detector flags what the pipeline flags
        if isinstance(self.detector, str):
            return create(self.detector, **params)
        from sklearn.base import clone

        det = clone(self.detector)
        return det.set_params(**params) if params else det

    def _adapter_class(self) -> type[Adapter]:
        if self.kind not in ADAPTERS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        return ADAPTERS[self.kind]

    def _adapter_options(self, cls: type[Adapter]) -> dict:
        return {k: getattr(self, k) for k in _ADAPTER_OPTIONS if k in cls.param_names()}

    def _make_adapter(self) -> Adapter:
        cls, p = self._adapter_class(), dict(self.adapter_params or {})
        valid = [k for k in cls.param_names() if k not in _ADAPTER_OPTIONS]
        if unknown := sorted(set(p) - set(valid)):
            raise ValueError(f"unknown {self.kind} adapter parameter(s) {unknown}; valid: {valid}")
        return cls(**p, **self._adapter_options(cls))

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise RuntimeError("this Pipeline is not fitted; call fit(...) first")

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
        y : array of 1 / 0, optional
            A few known anomalies (1; 0 or -1: normal or unlabelled), one label per item
            (in-memory tables, images and clip lists; not telemetry): they are held out of the
            fit and the ``p-value -> P(anomaly)`` map is fitted on their p-values (Platt, prior
            ``contamination``; :meth:`calibrate_probability`).

        Returns
        -------
        self

        Notes
        -----
        Files that cannot be read are skipped with a warning naming them (``fit_errors_``);
        a table row with unusable values is an error for ``tabular`` (clean the data) and
        is skipped for ``telemetry`` as the windower documents.
        """
        from anomalib_ae.alarms import fit_calibrated
        from anomalib_ae.alarms_labels import split_known
        from anomalib_ae.scoring.threshold import parse_threshold

        parse_threshold(self.threshold)
        data, known = split_known(data, y, self.kind)
        fc = fit_calibrated(self, data)
        adapter, f, det = fc.adapter, fc.features, fc.detector
        self.adapter_, self.detector_ = adapter, det
        self.reference_ = adapter.reference_stats(f.X)
        self.calibration_scores_ = np.asarray(fc.calibration_scores, dtype=np.float64)
        self.calibration_method_ = fc.method
        self.probability_map_ = None
        self._set_threshold(self.rule(), fc.train_item_scores)
        self.n_train_items_ = int(f.valid.sum())
        if known is not None:
            self.calibrate_probability(known, np.ones(len(known)), prior=self.contamination_())
        return self

    # ------------------------------------------------------------------ score
    def score_items(self, data) -> ScoreResult:
        """Score every item; unreadable items get an ``error`` and a NaN score, the others are scored.

        Returns
        -------
        ScoreResult
        """
        self._check_fitted()
        f = self.adapter_.transform(data)
        n = f.n_items
        raw, raw_errors = (score_finite_rows(self.detector_, self.adapter_.detector_input(f.X)) if len(f.X)
                           else (np.zeros(0), {}))  # rows the model overflows on: NaN + a reason
        score = self.adapter_.item_scores(raw, f)
        ok = np.isfinite(score)
        cols = self._alarm_columns(f.items, score)
        errors = list(f.errors)
        if raw_errors and self.kind in ("tabular", "image"):  # rows of X are the valid items, in order
            pos = np.flatnonzero(f.valid)
            for r, msg in raw_errors.items():
                errors[int(pos[r])] = msg
        for i in np.flatnonzero(~ok):
            if errors[i] is None:
                errors[i] = "not scored"
        table = f.items.copy()
        table["score"] = score
        for k, v in cols.items():
            table[k] = v
        table["error"] = pd.array(errors, dtype="string")
        return ScoreResult(table=table, scores=score, details=f, raw_scores=raw)

    def score(self, data, y=None) -> np.ndarray:
        """Item scores (float64, higher = more anomalous; NaN for items that failed)."""
        return self.score_items(data).scores

    def predict(self, data) -> np.ndarray:
        """1 = anomalous, 0 = normal, -1 = could not be scored (one per item)."""
        flag = self.score_items(data).table["is_anomaly"]
        return np.where(flag.isna(), -1, flag.fillna(False).astype(np.int64))

    # ------------------------------------------------------------------ explain
    def explain(self, data, top_k: int = 5, method: str = "auto") -> Explanation:
        """Attributions of the ``top_k`` highest-scoring items.

        Parameters
        ----------
        data : as for :meth:`score_items`, or a :class:`ScoreResult` of it
        top_k : int, default=5
        method : str, default "auto"
            An attribution method of :mod:`anomalib_ae.explain.methods` (``"residual"``,
            ``"residual_z"``, ``"occlusion_z"``, ``"combined"``, ``"ig"``, ``"gxi"``, ``"occlusion"``, ``"ensemble"``, ``"zscore"``);
            ``"auto"`` takes the detector's default (audio clips: the residual when there is one).

        Returns
        -------
        Explanation
            See :class:`~anomalib_ae.explain.types.Explanation` (``method`` names the method used).
        """
        self._check_fitted()
        res = data if isinstance(data, ScoreResult) else self.score_items(data)
        s = np.where(np.isfinite(res.scores), res.scores, -np.inf)
        top = [int(i) for i in np.argsort(-s, kind="stable")[: int(top_k)] if np.isfinite(res.scores[i])]
        import functools

        from anomalib_ae.explain.fallback import attribute_or_zscore, resolved_method
        from anomalib_ae.explain.methods import attribute, available_methods

        if method == "auto" and self.kind == "audio" and "residual" in available_methods(self.detector_):
            method = "residual"  # spectrogram error maps; occluding 640 stacked mel values per frame adds little
        fn = functools.partial(attribute_or_zscore, method=method, reference=self.reference_, attribute=attribute)
        return self.adapter_.explain(self.detector_, res, top, self.reference_, attribute=fn,
                                     method=resolved_method(self.detector_, method))

    # ------------------------------------------------------------------ persistence
    def adapter_dict(self) -> dict:
        """JSON-able adapter settings (fitted state included) as stored in the model file."""
        self._check_fitted()
        return self.adapter_.to_dict()

    def save(self, path: str | os.PathLike) -> None:
        """Write adapter, options, thresholds and the fitted detector to one safe model file."""
        from anomalib_ae.io import write_model_file

        write_model_file(path, *self.file_state())

    def file_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """``(arrays, header)`` of the model file: the detector's state plus a ``pipeline`` section."""
        from anomalib_ae.pipeline_state import pipeline_file_state

        return pipeline_file_state(self)

    def __repr__(self) -> str:
        det = self.detector if isinstance(self.detector, str) else type(self.detector).__name__
        return f"Pipeline(detector={det!r}, kind={self.kind!r}, adapter_params={self.adapter_params!r})"


def load_pipeline(path: str | os.PathLike) -> Pipeline:
    """Load a model file written by :meth:`Pipeline.save` (``anomalib_ae.load`` does the same)."""
    from anomalib_ae.io import ModelFileError, read_model_file

    arrays, header = read_model_file(path)
    if "pipeline" not in header:
        raise ModelFileError(f"{path} holds a bare detector, not a pipeline (load it with anomalib_ae.load)")
    return pipeline_from_file_state(arrays, header, path)


def pipeline_from_file_state(arrays: dict[str, np.ndarray], header: dict, path: Any = "the model file") -> Pipeline:
    """Inverse of :meth:`Pipeline.file_state` (``path`` names the file in errors)."""
    from anomalib_ae.detectors.state import detector_from_state, registered_name
    from anomalib_ae.io import ModelFileError, decode_value

    try:
        p = header["pipeline"]
        own = {k: v for k, v in arrays.items() if k.startswith("__pipeline__.")}
        det = detector_from_state({k: v for k, v in arrays.items() if not k.startswith("__pipeline__.")},
                                  {k: v for k, v in header.items() if k != "pipeline"})
        kind = p.get("kind")
        if kind not in KINDS:
            raise ModelFileError(f"the model file names an unknown pipeline kind {kind!r}")
        params = decode_value(p.get("params", {}))
        pipe = Pipeline(registered_name(det), kind=kind, detector_params=det.get_params(deep=False), **params)
        cls = pipe._adapter_class()
        pipe.adapter_ = cls.from_dict(decode_value(p["adapter"]), **dict(pipe.adapter_params or {}),
                                      **pipe._adapter_options(cls))
        pipe.detector_ = det
        pipe.threshold_ = float(p["threshold"])
        pipe.calibration_scores_ = own["__pipeline__.calibration_scores"]
        pipe.reference_ = (own["__pipeline__.reference_mean"], own["__pipeline__.reference_scale"])
        pipe.n_train_items_ = int(p.get("n_train_items", 0))
        pipe.fit_errors_ = list(p.get("fit_errors", []))
        pipe.calibration_method_ = p.get("calibration_method", "unknown")
        pipe.probability_map_ = p.get("probability_map")
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} has an unreadable pipeline section: {exc}") from None
    return pipe


def from_detector(detector, columns: list[str] | None = None) -> Pipeline:
    """Wrap a fitted tabular detector (e.g. from ``anomalib-ae fit --detector``) as a tabular pipeline.

    Its feature columns are ``feature_names_in_``; for a detector fitted on an array,
    ``columns`` (default ``x0, x1, ...``), given to it as an array. There are no training
    statistics, so explanations work only for reconstruction detectors.
    """
    from sklearn.base import clone

    from anomalib_ae.adapters import TabularAdapter

    names = getattr(detector, "feature_names_in_", None)
    cols = [str(c) for c in names] if names is not None else (
        list(columns) if columns is not None else [f"x{j}" for j in range(detector.n_features_in_)])
    pipe = Pipeline(clone(detector), kind="tabular")
    pipe.adapter_ = TabularAdapter.from_dict({"columns": cols, "exclude": []}, dtype="float64")
    pipe.adapter_.named_input_ = names is not None
    pipe.detector_ = detector
    pipe.threshold_ = float(detector.threshold_)
    pipe.calibration_scores_ = np.asarray(detector.calibration_scores_, dtype=np.float64)
    pipe.calibration_method_ = getattr(detector, "calibration_method_", "detector")
    pipe.probability_map_ = getattr(detector, "probability_map_", None)
    pipe.reference_ = None
    pipe.n_train_items_ = 0
    pipe.fit_errors_ = []
    return pipe


def pipeline_from_config(config: dict, *, detector: str | None = None, detector_params: dict | None = None,
                         adapter_params: dict | None = None, kind: str | None = None,
                         contamination: float | None = None, threshold: Any = None) -> Pipeline:
    """Build an unfitted :class:`Pipeline` from a config dict (a parsed ``configs/*.yaml``).

    See :func:`anomalib_ae.config.pipeline_params` for the keys and the overrides.
    """
    from anomalib_ae.config import pipeline_params

    return Pipeline(**pipeline_params(config, detector=detector, detector_params=detector_params,
                                      adapter_params=adapter_params, kind=kind, contamination=contamination,
                                      threshold=threshold))
