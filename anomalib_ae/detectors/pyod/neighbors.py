"""The base of ``pyod.knn`` and ``pyod.lof``: exact PyOD models below a size threshold,
:mod:`anomalib_ae.neighbors` scorers on approximate (faiss IVF) search above it.

Below ``approx_threshold`` training rows (``neighbors="auto"``) nothing changes: PyOD's own
model, PyOD's numbers, PyOD's file layout. From the threshold on, the same score (kNN distance
with PyOD's ``method``, or scikit-learn's LOF formula) is computed on an approximate
neighbour index; training scores still leave each row out, so ``calibration="loo"`` and
``oof_scores_`` keep working. The index is stored in the model file as faiss's binary format
(uint8 arrays, no pickle) and scores identically after reload.
"""

from __future__ import annotations

import inspect
import warnings
from numbers import Integral

import numpy as np

from anomalib_ae.detectors.pyod.base import PyODDetector
from anomalib_ae.neighbors import APPROX_THRESHOLD, NEIGHBORS, KNNScorer, LOFScorer, canonical_metric
from anomalib_ae.neighbors import resolve_neighbors, scorer_from_arrays
from anomalib_ae.validation import Interval, StrOptions



class PyODNeighborDetector(PyODDetector):
    """PyOD neighbour model with a size-dependent search.

    Parameters
    ----------
    neighbors : {"auto", "exact", "approximate"}, default "auto"
        "auto": exact search (PyOD's model) below ``approx_threshold`` training rows, approximate
        from there on (metrics faiss lacks stay exact, with a warning); "exact" / "approximate"
        force one ("approximate" with an unsupported metric is an error).
    approx_threshold : int, default 50,000
        Training rows (of each fit: the cross-fitting folds count theirs) from which "auto"
        searches approximately. Measured in docs/scale.md.
    Others
        As :class:`~anomalib_ae.detectors.pyod.base.PyODDetector`.
    """

    _scorer_kind: str = ""
    _constraints: dict = {
        **PyODDetector._constraints,
        "neighbors": [StrOptions(set(NEIGHBORS))],
        "approx_threshold": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        params=None,
        neighbors="auto",
        approx_threshold=APPROX_THRESHOLD,
        calibration="auto",
        calibration_folds=5,
        calibration_fraction=0.1,
        random_state=None,
        contamination=0.1,
        threshold=None,
    ):
        super().__init__(
            params=params,
            calibration=calibration,
            calibration_folds=calibration_folds,
            calibration_fraction=calibration_fraction,
            random_state=random_state,
            contamination=contamination,
            threshold=threshold,
        )
        self.neighbors = neighbors
        self.approx_threshold = approx_threshold

    def _scorer_params(self, n_features: int) -> dict:
        """PyOD's parameters (defaults filled in) as the approximate scorer takes them."""
        kwargs = self._pyod_kwargs(n_features)  # rejects unknown names
        sig = inspect.signature(self._pyod_cls().__init__).parameters
        full = {k: v.default for k, v in sig.items() if v.default is not inspect.Parameter.empty}
        full.update(kwargs)
        if full.get("metric_params"):
            raise ValueError("approximate neighbour search does not take metric_params; use neighbors='exact'")
        out = {"n_neighbors": full["n_neighbors"], "metric": full.get("metric", "minkowski"), "p": full.get("p", 2)}
        if "method" in full:
            out["method"] = full["method"]
        return out

    def _search_kind(self, n_rows: int, n_features: int) -> str:
        kind = resolve_neighbors(self.neighbors, n_rows, self.approx_threshold)
        if kind == "approximate":
            p = self._scorer_params(n_features)
            try:
                canonical_metric(p["metric"], p["p"])
            except ValueError as exc:
                if self.neighbors == "approximate":
                    raise ValueError(f"{type(self).__name__}: {exc}") from None
                warnings.warn(f"{type(self).__name__}: {exc}; searching exactly", UserWarning, stacklevel=3)
                return "exact"
        return kind

    def _fit_estimator(self, X: np.ndarray):
        if self._search_kind(X.shape[0], X.shape[1]) == "exact":
            return super()._fit_estimator(X)
        cls = {"knn": KNNScorer, "lof": LOFScorer}[self._scorer_kind]
        return cls(**self._scorer_params(X.shape[1]), neighbors="approximate").fit(X)

    @property
    def search_kind_(self) -> str:
        """"exact" or "approximate": the search of the final model."""
        return "approximate" if isinstance(self.estimator_, (KNNScorer, LOFScorer)) else "exact"

    # ------------------------------------------------------------------ persistence
    def _get_state(self):
        from anomalib_ae.detectors.state import default_get_state

        est = self.estimator_
        if not isinstance(est, (KNNScorer, LOFScorer)):
            return super()._get_state()
        del self.estimator_
        try:
            arrays, state = default_get_state(self)
        finally:
            self.estimator_ = est
        est_arrays, desc = est.to_arrays("estimator_.")
        arrays.update(est_arrays)
        state["estimator_"] = {"__neighbors__": desc}
        return arrays, state

    def _set_state(self, arrays, state):
        from anomalib_ae.detectors.state import default_set_state
        from anomalib_ae.io import ModelFileError

        desc = state.get("estimator_")
        if not (isinstance(desc, dict) and "__neighbors__" in desc):
            return super()._set_state(arrays, state)
        state = {k: v for k, v in state.items() if k != "estimator_"}
        default_set_state(self, arrays, state)
        try:
            self.estimator_ = scorer_from_arrays(arrays, desc["__neighbors__"], "estimator_.")
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelFileError(f"{type(self).__name__} model file: bad neighbour index ({exc})") from None
