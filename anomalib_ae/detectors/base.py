"""The detector contract every anomalib_ae detector follows.

``score(X)`` is the primary method: float64 of shape ``(n_samples,)``, **higher = more
anomalous**. Everything else is a translation of it:

* scikit-learn: ``score_samples = -score``, ``decision_function = threshold_ - score``
  (negative = anomaly), ``predict`` in {+1 normal, -1 anomaly};
* PyOD: ``decision_scores_`` (training scores), ``threshold_``, ``labels_`` in {0, 1};
* p-values: ``p_value`` is the conformal p-value against ``calibration_scores_``, scores of
  normal data the model did not train on (when the detector held some out);
* probabilities: ``predict_proba`` gives ``[P(normal), P(anomaly)]`` from that p-value through
  a :class:`~anomalib_ae.scoring.probability.ProbabilityMap`: fitted on labelled items by
  :meth:`BaseDetector.calibrate_probability`, else the documented prior-based upper bound
  with prior ``contamination`` (see :mod:`anomalib_ae.scoring.probability`);
* re-calibration: :meth:`BaseDetector.calibrate` replaces the calibration scores with scores
  of fresh normal data and re-resolves the threshold rule; scores never change.

A detector subclass writes only ``_fit(X, y)`` and ``_score(X)`` on validated arrays.
"""

from __future__ import annotations

import os
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from anomalib_ae.scoring.calibration import conformal_p_values
from anomalib_ae.scoring.probability import ProbabilityMap, fit_probability_map, labelled_anomalies, loo_p_values
from anomalib_ae.scoring.threshold import parse_threshold, resolve_threshold
from anomalib_ae.validation import Interval, check_params
from anomalib_ae.value_range import check_fits_float32, non_finite_score_error


class BaseDetector(OutlierMixin, BaseEstimator):
    """Base class of all detectors: validation, threshold, labels, probabilities, persistence.

    Parameters common to every detector
    -----------------------------------
    contamination : float in (0, 0.5], default 0.1
        Share of normal data above ``threshold_`` when ``threshold`` is None: the
        ``1 - contamination`` quantile of ``calibration_scores_`` (held-out normal scores
        where the detector holds some out, else the training scores, which is scikit-learn's
        and PyOD's rule). Also the prior of the label-free probability.
    threshold : None, str or float, default None (detectors that declare it in ``__init__``)
        Threshold rule instead of the contamination rule: ``"contamination:q"``,
        ``"fpr:0.01"`` (false-alarm rate on fresh normal data, from the held-out calibration
        scores), a fixed score, or ``"pythresh:<method>"`` (optional ``pythresh`` package). See
        :mod:`anomalib_ae.scoring.threshold`. Every fitted detector can also change its
        threshold afterwards with :meth:`set_threshold`, without refitting.
    """

    _constraints: dict = {
        "contamination": [Interval(Real, 0.0, 0.5, closed="right")],
        "threshold": [None, Real, str],
    }

    #: Registered name; set by :func:`anomalib_ae.register_detector`.
    _registered_name: str | None = None
    #: The detector learns from fit-time labels (semi-supervised); else known anomalies are held out of the fit.
    _fits_labels: bool = False

    # ------------------------------------------------------------------ to implement
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        """Train on validated normal data ``X`` (ndim >= 2). May set ``calibration_scores_``."""
        raise NotImplementedError

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """Scores of the training rows ``X`` (``decision_scores_``); by default ``_score(X)``."""
        return self._score(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores of validated ``X``: ``(n,)``, higher = more anomalous."""
        raise NotImplementedError

    # ------------------------------------------------------------------ validation
    def _validate_input(self, X, *, reset: bool) -> np.ndarray:
        """Check X once, at the edge: numeric, finite and within float32, non-empty, at least 2-D, shape as at fit."""
        if X is None:
            raise ValueError(f"{type(self).__name__} needs input data X, got None")
        shape_in = getattr(X, "shape", None)
        if not reset and shape_in is not None and len(shape_in) >= 2 and len(shape_in) + len(self.input_shape_) > 4:
            # windows / images: name the per-sample shape rather than "n features"
            if tuple(shape_in[1:]) != tuple(self.input_shape_):
                raise ValueError(
                    f"X has per-sample shape {tuple(shape_in[1:])}, but {type(self).__name__} was fitted on "
                    f"per-sample shape {tuple(self.input_shape_)}"
                )
        X = validate_data(
            self,
            X,
            reset=reset,
            allow_nd=True,
            dtype=[np.float64, np.float32],
            ensure_all_finite=True,
            ensure_min_samples=1,
        )
        check_fits_float32(X, getattr(self, "feature_names_in_", None), owner=type(self).__name__)
        shape = tuple(int(v) for v in X.shape[1:])
        if reset:
            self.input_shape_ = shape
        elif shape != tuple(self.input_shape_):
            raise ValueError(
                f"X has per-sample shape {shape}, but {type(self).__name__} was fitted on per-sample "
                f"shape {tuple(self.input_shape_)}"
            )
        return X

    # ------------------------------------------------------------------ fit / score
    def fit(self, X, y=None):
        """Fit on normal data ``X``, with optional labels ``y`` (1 = known anomaly, 0 / -1 = normal or unlabelled).

        With a few known anomalies (at most a quarter of the rows) a detector that does not learn from
        labels is fitted on the other rows, and the ``p-value -> P(anomaly)`` map
        (:meth:`calibrate_probability`, Platt, prior ``contamination``) is fitted on the
        held-out anomalies' p-values against the calibration scores (Deep SAD style).
        ``decision_scores_`` and ``labels_`` still cover every row. Detectors that learn from
        labels (``deepsad``) train on them and keep the label-free probability: call
        :meth:`calibrate_probability` on labelled items they did not see.

        Returns
        -------
        self
        """
        check_params(self)
        X = self._validate_input(X, reset=True)
        if y is not None:
            y = np.asarray(y)
            if y.shape[:1] != X.shape[:1]:
                raise ValueError(f"y has {y.shape[0] if y.ndim else 0} labels but X has {X.shape[0]} samples")
        parse_threshold(getattr(self, "threshold", None))  # fail before training on a bad strategy
        self.calibration_scores_ = None
        self.probability_map_ = None
        known = None if self._fits_labels else labelled_anomalies(y)
        X_all = X
        if known is not None:  # known anomalies are not fitted as normal data
            X, y = X[~known], y[~known]
        self._fit(X, y)
        from anomalib_ae.explain.reference import fit_reference

        for name, value in fit_reference(self, X).items():  # what explanations need, saved with the model
            setattr(self, name, value)
        self.decision_scores_ = self._checked_scores(self._training_scores(X), X.shape[0])
        if getattr(self, "calibration_scores_", None) is None:
            # No held-out normal data: calibrate on training scores (optimistic, documented).
            self.calibration_scores_ = self.decision_scores_.copy()
        if known is not None:
            every = np.empty(X_all.shape[0])
            every[~known] = self.decision_scores_
            every[known] = self._checked_scores(self._score(X_all[known]), int(known.sum()))
            self.decision_scores_ = every
        self._apply_threshold(getattr(self, "threshold", None))
        if known is not None:
            self.calibrate_probability(X_all[known], np.ones(int(known.sum())), prior=self.contamination)
        return self

    def _apply_threshold(self, threshold) -> None:
        self.threshold_ = resolve_threshold(
            threshold, self.decision_scores_, self.calibration_scores_, self.contamination
        )
        self.offset_ = -self.threshold_  # scikit-learn: decision_function = score_samples - offset_
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        self.threshold_rule_ = threshold  # the rule in force (also for detectors without the parameter)

    def rule(self):
        """The threshold rule in force (None = the contamination rule)."""
        return getattr(self, "threshold_rule_", getattr(self, "threshold", None))

    def set_threshold(self, threshold):
        """Re-set ``threshold_`` (and ``labels_``) of a fitted detector without refitting.

        Parameters
        ----------
        threshold : None, str or float
            None (contamination rule), ``"fpr:<rate>"``, a fixed score or
            ``"pythresh:<method>"``; see :mod:`anomalib_ae.scoring.threshold`.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        parse_threshold(threshold)
        self._apply_threshold(threshold)
        if "threshold" in self.get_params(deep=False):
            self.threshold = threshold  # keep params and fitted state in agreement (and in the file)
        return self

    def _checked_scores(self, scores, n: int, X=None) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape != (n,):
            raise RuntimeError(f"{type(self).__name__} returned {scores.shape[0]} scores for {n} samples")
        if X is not None and not np.all(np.isfinite(scores)):  # scoring a fitted model: the input's fault
            raise non_finite_score_error(type(self).__name__, scores, X)
        if not np.all(np.isfinite(scores)):
            raise RuntimeError(
                f"{type(self).__name__} produced non-finite scores (training diverged?); try a smaller lr"
            )
        return scores

    def score(self, X, y=None) -> np.ndarray:
        """Anomaly score of each sample: float64 ``(n_samples,)``, higher = more anomalous."""
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._checked_scores(self._score(X), X.shape[0], X)

    # ------------------------------------------------------------------ scikit-learn view
    def score_samples(self, X) -> np.ndarray:
        """scikit-learn convention: higher = more normal (``-score``)."""
        return -self.score(X)

    def decision_function(self, X) -> np.ndarray:
        """``threshold_ - score``: negative for anomalies, positive for normal samples."""
        scores = self.score(X)
        return self.threshold_ - scores

    def predict(self, X) -> np.ndarray:
        """+1 for normal, -1 for anomalous samples (scikit-learn convention)."""
        return np.where(self.decision_function(X) >= 0, 1, -1).astype(np.int64)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then label the *training* rows by their training scores (``labels_``): +1 normal,
        -1 anomalous. As scikit-learn's ``LocalOutlierFactor``: a neighbour model's training
        scores leave each row out, where ``predict(X)`` would find every row its own neighbour."""
        self.fit(X, y)
        return np.where(self.labels_ == 1, -1, 1).astype(np.int64)

    # ------------------------------------------------------------------ calibration
    def calibrate(self, X, threshold="keep"):
        """Re-calibrate on fresh normal data ``X`` without refitting (e.g. after a maintenance shift).

        ``calibration_scores_`` become the scores of ``X`` and the threshold rule (``threshold``,
        or the current one when ``"keep"``) is resolved on them; a PyThresh rule is applied
        to them too. Scores are unchanged; thresholds, p-values and probabilities follow.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        rule = self.rule() if threshold == "keep" else threshold
        parse_threshold(rule)
        scores = self.score(X)
        self.calibration_scores_ = scores
        self.threshold_ = resolve_threshold(rule, scores, scores, self.contamination)
        self.offset_ = -self.threshold_
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        self.threshold_rule_ = rule
        if "threshold" in self.get_params(deep=False):
            self.threshold = rule
        return self

    def calibrate_probability(self, X, y, method: str = "platt", prior: float | None = None):
        """Fit the ``p-value -> P(anomaly)`` map on labelled items (``y``: 1 anomaly, 0 normal).

        ``X`` must not have been used to fit the detector. When ``y`` holds only anomalies,
        the calibration items (leave-one-out p-values) are the normal examples; give
        ``prior`` then (the share of anomalies to expect), since the mix is arbitrary.
        See :func:`~anomalib_ae.scoring.probability.fit_probability_map`.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        p = self.p_value(X)
        y = np.asarray(y).reshape(-1).astype(np.float64)
        if y.size and np.all(y == 1):
            p = np.concatenate([p, loo_p_values(self.calibration_scores_)])
            y = np.concatenate([y, np.zeros(len(self.calibration_scores_))])
        self.probability_map_ = fit_probability_map(p, y, method=method, prior=prior).to_dict()
        return self

    def probability_map(self) -> ProbabilityMap:
        """The fitted map, else the label-free prior bound with prior ``contamination``."""
        d = getattr(self, "probability_map_", None)
        if d:
            return ProbabilityMap.from_dict(d)
        kind, value = parse_threshold(self.rule())
        prior = value if kind == "contamination" and value is not None else self.contamination
        return ProbabilityMap("prior", prior=float(prior))

    # ------------------------------------------------------------------ probabilities
    def p_value(self, X) -> np.ndarray:
        """Conformal p-value against held-out normal scores: small = anomalous."""
        scores = self.score(X)
        return conformal_p_values(self.calibration_scores_, scores)

    def predict_proba(self, X) -> np.ndarray:
        """``(n, 2)``: [P(normal), P(anomaly)], P(anomaly) from the p-value by :meth:`probability_map`."""
        p_anomaly = self.probability_map()(self.p_value(X))
        return np.column_stack([1.0 - p_anomaly, p_anomaly])

    @property
    def oof_scores_(self) -> np.ndarray | None:
        """Out-of-sample score of every training row, in training order, where the detector's
        calibration provides one (cross-fitted or leave-one-out PyOD models); else None."""
        return None

    def _will_have_oof_scores(self) -> bool:
        """Whether ``fit`` (with these parameters) will provide :attr:`oof_scores_`."""
        return False

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write parameters, fitted state and weights to one safe file (see :mod:`anomalib_ae.io`)."""
        from anomalib_ae.detectors.state import detector_to_state
        from anomalib_ae.io import write_model_file

        write_model_file(path, *detector_to_state(self))

    def export_onnx(self, path: str | os.PathLike, **kwargs):
        """Write the fitted scoring graph (standardiser included) as ONNX; see :mod:`anomalib_ae.export.onnx`.

        Raises :class:`~anomalib_ae.export.ExportError` for detectors without one scoring network.
        """
        from anomalib_ae.export import export_onnx

        return export_onnx(self, path, **kwargs)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Fitted state as (arrays, JSON-able dict); the default covers arrays, scalars and modules."""
        from anomalib_ae.detectors.state import default_get_state

        return default_get_state(self)

    def _set_state(self, arrays: dict[str, np.ndarray], state: dict) -> None:
        from anomalib_ae.detectors.state import default_set_state

        default_set_state(self, arrays, state)

    def _rebuild_module(self, name: str):
        """Rebuild the (untrained) torch module stored under attribute ``name`` when loading."""
        raise NotImplementedError(f"{type(self).__name__} cannot rebuild module {name!r}")

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
