"""The detector contract every anomalib_ae detector follows.

``score(X)`` is the primary method: float64 of shape ``(n_samples,)``, **higher = more
anomalous**. Everything else is a translation of it:

* scikit-learn: ``score_samples = -score``, ``decision_function = threshold_ - score``
  (negative = anomaly), ``predict`` in {+1 normal, -1 anomaly};
* PyOD: ``decision_scores_`` (training scores), ``threshold_``, ``labels_`` in {0, 1};
* probabilities: ``predict_proba`` gives ``[P(normal), P(anomaly)]`` from a conformal p-value
  against scores of normal data the model did not train on (when the detector held some out),
  ``p_value`` gives that p-value itself.

A detector subclass writes only ``_fit(X, y)`` and ``_score(X)`` on validated arrays.
"""

from __future__ import annotations

import os
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from anomalib_ae.scoring.calibration import conformal_p_values
from anomalib_ae.scoring.threshold import parse_threshold, resolve_threshold
from anomalib_ae.validation import Interval, check_params


class BaseDetector(OutlierMixin, BaseEstimator):
    """Base class of all detectors: validation, threshold, labels, probabilities, persistence.

    Parameters common to every detector
    -----------------------------------
    contamination : float in (0, 0.5], default 0.1
        Fraction of training samples flagged as anomalous; sets ``threshold_`` when
        ``threshold`` is None (scikit-learn's and PyOD's meaning).
    threshold : None, str or float, default None (detectors that declare it in ``__init__``)
        Threshold strategy instead of the contamination rule: ``"fpr:0.01"`` (false-alarm
        rate on fresh normal data, from the held-out calibration scores), a fixed score, or
        ``"pythresh:<method>"`` (optional ``pythresh`` package). See
        :mod:`anomalib_ae.scoring.threshold`. Every fitted detector can also change its
        threshold afterwards with :meth:`set_threshold`, without refitting.
    """

    _constraints: dict = {
        "contamination": [Interval(Real, 0.0, 0.5, closed="right")],
        "threshold": [None, Real, str],
    }

    #: Registered name; set by :func:`anomalib_ae.register_detector`.
    _registered_name: str | None = None

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
        """Check X once, at the edge: numeric, finite, non-empty, at least 2-D, shape as at fit."""
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
        """Fit on normal data ``X``; ``y`` is ignored except by semi-supervised detectors.

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
        self._fit(X, y)
        self.decision_scores_ = self._checked_scores(self._training_scores(X), X.shape[0])
        if getattr(self, "calibration_scores_", None) is None:
            # No held-out normal data: calibrate on training scores (optimistic, documented).
            self.calibration_scores_ = self.decision_scores_.copy()
        self._apply_threshold(getattr(self, "threshold", None))
        return self

    def _apply_threshold(self, threshold) -> None:
        self.threshold_ = resolve_threshold(
            threshold, self.decision_scores_, self.calibration_scores_, self.contamination
        )
        self.offset_ = -self.threshold_  # scikit-learn: decision_function = score_samples - offset_
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

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

    def _checked_scores(self, scores, n: int) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape != (n,):
            raise RuntimeError(f"{type(self).__name__} returned {scores.shape[0]} scores for {n} samples")
        if not np.all(np.isfinite(scores)):
            raise RuntimeError(
                f"{type(self).__name__} produced non-finite scores (training diverged?); try a smaller lr"
            )
        return scores

    def score(self, X, y=None) -> np.ndarray:
        """Anomaly score of each sample: float64 ``(n_samples,)``, higher = more anomalous."""
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._checked_scores(self._score(X), X.shape[0])

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

    # ------------------------------------------------------------------ probabilities
    def p_value(self, X) -> np.ndarray:
        """Conformal p-value against held-out normal scores: small = anomalous."""
        scores = self.score(X)
        return conformal_p_values(self.calibration_scores_, scores)

    def predict_proba(self, X) -> np.ndarray:
        """``(n, 2)``: [P(normal), P(anomaly)], with P(anomaly) = 1 - p-value."""
        p_anomaly = 1.0 - self.p_value(X)
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
