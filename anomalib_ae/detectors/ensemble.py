"""``ensemble``: several detectors combined over their calibrated scores.

Each member's raw score is turned into a calibrated *surprise* ``-log p`` against that
member's own held-out normal scores (:func:`anomalib_ae.scoring.calibration.surprise`: a
conformal p-value with an exponential tail beyond the calibration range), which puts members
with unrelated score scales on one scale, "how unusual for normal data". The columns are
combined by a rule of :mod:`anomalib_ae.scoring.combination`.

The combined score is calibrated in one of two ways (``calibration``):

* ``"split"``: a share of the training rows is held out from the members and scored by them;
* ``"oof"``: the members are fitted on *all* rows and the combination is calibrated on their
  out-of-sample scores of those rows (:attr:`~anomalib_ae.detectors.base.BaseDetector.oof_scores_`:
  leave-one-out for ``pyod.knn`` / ``pyod.lof``, cross-fitted for the other classical PyOD
  models). No row is lost to the members, which matters for neighbour methods on small sets.
  ``"auto"`` picks ``"oof"`` when every member provides those scores, else ``"split"``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_random_state

from anomalib_ae.detectors.base import BaseDetector
from anomalib_ae.registry import create, register_detector
from anomalib_ae.scoring.calibration import surprise
from anomalib_ae.scoring.combination import COMBINE_RULES, combine
from anomalib_ae.validation import Interval, StrOptions

#: Members of ``Ensemble()`` without arguments.
DEFAULT_MEMBERS = ("pyod.knn", "pyod.lof", "ae")


@register_detector("ensemble")
class Ensemble(BaseDetector):
    """Combination of detectors over calibrated member scores.

    Parameters
    ----------
    detectors : sequence, optional
        Members, each a registered name (``"pyod.knn"``), a ``(name, params)`` pair
        (``("ae", {"epochs": 50})``) or an unfitted detector object (cloned at fit). Default
        :data:`DEFAULT_MEMBERS`. Every form can be saved: a detector object is stored as its
        registered name and parameters (a detector class that is not registered cannot be
        saved: register it with :func:`anomalib_ae.register_detector`).
    combine : {"mean", "max", "median", "aom", "moa", "weighted"}, default "mean"
        Rule over the members' surprises ``-log p`` (see :mod:`anomalib_ae.scoring.combination`).
    weights : sequence of float, optional
        Member weights for ``combine="weighted"``.
    calibration : {"auto", "split", "oof"}, default "auto"
        How the combined score is calibrated (``p_value``, ``predict_proba``,
        ``threshold="fpr:..."``): see the module docstring.
    calibration_fraction : float, default 0.1
        Share of the normal training data held out from the members with
        ``calibration="split"``; none below 20 samples.
    random_state : int, RandomState or None
        Seeds the hold-out split and members whose ``random_state`` is None.
    contamination, threshold
        As for every detector.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> ens = anomalib_ae.Ensemble(["pyod.knn", "pyod.ecod"], combine="max", random_state=0).fit(X)
    >>> ens.score(X[:2]).shape
    (2,)
    """

    _constraints: dict = {
        **BaseDetector._constraints,
        "detectors": ["array-like", None],
        "combine": [StrOptions(set(COMBINE_RULES))],
        "weights": ["array-like", None],
        "calibration": [StrOptions({"auto", "split", "oof"})],
        "calibration_fraction": [Interval(Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    }

    _min_samples_for_calibration = 20

    def __init__(
        self,
        detectors=None,
        *,
        combine="mean",
        weights=None,
        calibration="auto",
        calibration_fraction=0.1,
        random_state=None,
        contamination=0.1,
        threshold=None,
    ):
        self.detectors = detectors
        self.combine = combine
        self.weights = weights
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.contamination = contamination
        self.threshold = threshold

    # ------------------------------------------------------------------ members
    def _build_members(self, seed: int) -> list[BaseDetector]:
        specs = DEFAULT_MEMBERS if self.detectors is None else self.detectors
        if isinstance(specs, (str, BaseDetector)) or len(specs) == 0:
            raise ValueError("detectors must be a non-empty list of names, (name, params) pairs or detectors")
        members = []
        for i, spec in enumerate(specs):
            if isinstance(spec, str):
                det = create(spec)
            elif isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str):
                det = create(spec[0], **dict(spec[1] or {}))
            elif isinstance(spec, BaseDetector):
                det = clone(spec)
            else:
                raise ValueError(
                    f"ensemble member {i} must be a detector name, a (name, params) pair or a detector, got {spec!r}"
                )
            if "random_state" in det.get_params(deep=False) and det.get_params()["random_state"] is None:
                det.set_params(random_state=int(seed + i))
            members.append(det)
        if self.combine == "weighted":
            if self.weights is None or len(self.weights) != len(members):
                raise ValueError(
                    f"combine='weighted' needs one weight per member ({len(members)}), got {self.weights!r}"
                )
        return members

    def _member_matrix(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([surprise(m.calibration_scores_, m.score(X)) for m in self.detectors_])

    def _combine(self, matrix: np.ndarray) -> np.ndarray:
        return combine(matrix, self.combine, weights=self.weights, random_state=0)

    # ------------------------------------------------------------------ contract
    def _fit(self, X: np.ndarray, y) -> None:
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max // 2))
        members = self._build_members(seed)
        n = X.shape[0]
        mode = self.calibration
        if mode != "split":
            lacking = [i for i, m in enumerate(members) if not m._will_have_oof_scores()]
            if mode == "oof" and lacking:
                i = lacking[0]
                raise ValueError(
                    f"calibration='oof' needs out-of-sample training scores from every member; member {i} "
                    f"({type(members[i]).__name__}) has none (classical PyOD models with calibration "
                    f"'cv' or 'loo' have them): use calibration='split'"
                )
            mode = "split" if lacking else "oof"
        self.calibration_method_ = mode  # (the base reset calibration_scores_ to None before _fit)
        from anomalib_ae.neighbors import shared_indexes

        with shared_indexes():  # neighbour members on the same rows build one index per metric family
            self._fit_members(members, X, y, mode, rng)

    def _fit_members(self, members, X: np.ndarray, y, mode: str, rng) -> None:
        n = X.shape[0]
        if mode == "oof":
            self.detectors_ = [m.fit(X, y) for m in members]
            if n >= self._min_samples_for_calibration:
                oof = [m.oof_scores_ for m in self.detectors_]
                if any(o is None or len(o) != n for o in oof):  # a member fell back (too few rows)
                    return
                cal_scores = self._combine(
                    np.column_stack([surprise(m.calibration_scores_, o) for m, o in zip(self.detectors_, oof)])
                )
                if y is not None:
                    cal_scores = cal_scores[np.asarray(y) <= 0]
                self.calibration_scores_ = cal_scores if cal_scores.size else None
            return
        n_cal = int(round(n * self.calibration_fraction)) if n >= self._min_samples_for_calibration else 0
        order = rng.permutation(n)
        cal_idx, fit_idx = np.sort(order[:n_cal]), np.sort(order[n_cal:])
        y_fit = None if y is None else y[fit_idx]
        self.detectors_ = [m.fit(X[fit_idx], y_fit) for m in members]
        if n_cal:
            cal_scores = self._combine(self._member_matrix(X[cal_idx]))
            if y is not None:  # calibrate on held-out samples not labelled anomalous
                cal_scores = cal_scores[np.asarray(y)[cal_idx] <= 0]
            self.calibration_scores_ = cal_scores if cal_scores.size else None

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        # "oof": the combined out-of-sample scores of the training rows are the calibration
        # scores already (members' leave-one-out / cross-fitted scores); scoring the rows again
        # in-sample would cost one more query pass per neighbour member (docs/scale.md) and give
        # kNN members the distance of a row to itself.
        cal = getattr(self, "calibration_scores_", None)
        if self.calibration_method_ == "oof" and cal is not None and cal.shape[0] == X.shape[0]:
            return cal.copy()
        return self._score(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._combine(self._member_matrix(X))

    def member_scores(self, X) -> np.ndarray:
        """``(n_samples, n_members)`` calibrated surprises ``-log p`` of each member."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self._member_matrix(self._validate_input(X, reset=False))

    # ------------------------------------------------------------------ persistence
    def _get_state(self):
        from anomalib_ae.detectors.state import default_get_state, detector_to_state

        members = self.__dict__.pop("detectors_")
        try:
            arrays, state = default_get_state(self)
        finally:
            self.detectors_ = members
        headers = []
        for i, member in enumerate(members):
            member_arrays, header = detector_to_state(member)
            arrays.update({f"detectors_.{i}.{k}": v for k, v in member_arrays.items()})
            headers.append(header)
        state["detectors_"] = {"__members__": headers}
        return arrays, state

    def _set_state(self, arrays, state):
        from anomalib_ae.detectors.state import default_set_state, detector_from_state
        from anomalib_ae.io import ModelFileError

        state = dict(state)
        members = state.pop("detectors_", None)
        if not isinstance(members, dict) or "__members__" not in members:
            raise ModelFileError("ensemble model file lacks its members")
        default_set_state(self, arrays, state)
        self.detectors_ = []
        for i, header in enumerate(members["__members__"]):
            prefix = f"detectors_.{i}."
            member_arrays = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.detectors_.append(detector_from_state(member_arrays, header))
