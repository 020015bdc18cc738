"""The base of the PyOD wrappers (the wrappers themselves: :mod:`anomalib_ae.detectors.pyod.models`).

Each wrapper stores its parameters only; the PyOD model is built inside ``fit`` (PyOD's own
``__init__`` validates, seeds global RNGs and picks a device, which scikit-learn's rules
forbid in ``__init__``). Global RNG state is restored after PyOD touches it.

Calibration (what ``p_value`` / ``predict_proba`` / ``threshold="fpr:..."`` rest on) follows
the conformal-prediction libraries:

* ``"cv"`` (default for the classical models): K-fold cross-fitting; each training row is
  scored by a model fitted without its fold (out-of-fold scores = calibration scores), then
  the final model is fitted on all rows ("cross-conformal"; costs ``calibration_folds``
  extra fits, no data lost);
* ``"split"`` (default for PyOD's deep models, like our deep detectors): the model is fitted
  on ``1 - calibration_fraction`` of the rows and calibrated on the rest (exact split-conformal
  guarantee);
* ``"loo"`` (default for ``pyod.knn`` and ``pyod.lof``): leave-one-out, for models whose
  training scores already leave each row out (a training row's k-NN distance / local outlier
  factor is computed over the *other* rows): the model is fitted once on all rows and those
  training scores are the calibration scores (the jackknife; no extra fit, no data lost);
* ``"train"``: the training scores themselves (no extra cost; optimistic p-values).

With ``"cv"`` and ``"loo"`` the calibration scores are out-of-sample scores of the training
rows themselves, in their order (:attr:`PyODDetector.oof_scores_`): what
:class:`~anomalib_ae.Ensemble` with ``calibration="oof"`` calibrates its combination on.

Files are saved without pickle: see :mod:`anomalib_ae.detectors._pyod_state`.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import random
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_random_state

from anomalib_ae.detectors.base import BaseDetector
from anomalib_ae.validation import Interval, StrOptions

CALIBRATIONS = ("auto", "cv", "split", "loo", "train")


@contextlib.contextmanager
def _isolated_rng(seed: int):
    """Seed numpy's, Python's and torch's global RNGs for PyOD, restoring the caller's afterwards."""
    import torch

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            np.random.seed(seed)
            random.seed(seed)
            torch.manual_seed(seed)
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


class PyODDetector(BaseDetector):
    """Base of the PyOD wrappers.

    Parameters
    ----------
    params : dict, optional
        Keyword arguments of the PyOD class (e.g. ``{"n_neighbors": 10}`` for ``pyod.knn``);
        unset ones take the wrapper's defaults (``verbose=0`` for deep ones), then PyOD's.
    calibration : {"auto", "cv", "split", "loo", "train"}, default "auto"
        Source of the calibration scores (see the module docstring); "auto" is "split" for
        PyOD's deep models, "loo" for ``pyod.knn`` and ``pyod.lof`` and "cv" otherwise.
    calibration_folds : int, default 5
        Folds of the "cv" scheme.
    calibration_fraction : float, default 0.1
        Held-out share of the "split" scheme.
    random_state : int, RandomState or None
        Seeds the split/folds and PyOD's ``random_state`` (and global RNGs while PyOD runs).
    contamination : float in (0, 0.5], default 0.1
        Fraction of training samples above ``threshold_`` when ``threshold`` is None.
    threshold : None, str or float
        Threshold strategy, e.g. ``"fpr:0.01"``; see :class:`~anomalib_ae.detectors.base.BaseDetector`.
    """

    #: "module:Class" of the wrapped PyOD model.
    _pyod_class: str = ""
    #: Defaults applied under the user's ``params``.
    _pyod_defaults: dict = {}
    _deep: bool = False
    #: PyOD's ``decision_scores_`` leave each training row out (k-NN distances, LOF).
    _loo: bool = False

    _constraints: dict = {
        **BaseDetector._constraints,
        "params": [dict, None],
        "calibration": [StrOptions(set(CALIBRATIONS))],
        "calibration_folds": [Interval(Integral, 2, None, closed="left")],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        params=None,
        calibration="auto",
        calibration_folds=5,
        calibration_fraction=0.1,
        random_state=None,
        contamination=0.1,
        threshold=None,
    ):
        self.params = params
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.contamination = contamination
        self.threshold = threshold

    # ------------------------------------------------------------------ PyOD model
    def _pyod_cls(self) -> type:
        module, _, name = self._pyod_class.partition(":")
        return getattr(importlib.import_module(module), name)

    def _pyod_kwargs(self, n_features: int) -> dict:
        cls = self._pyod_cls()
        accepted = set(inspect.signature(cls.__init__).parameters)
        kwargs = {**self._pyod_defaults, **(self.params or {})}
        unknown = set(kwargs) - accepted
        if unknown:
            raise ValueError(
                f"unknown PyOD parameter(s) {sorted(unknown)} for {cls.__name__}; valid: {sorted(accepted - {'self'})}"
            )
        if "random_state" in accepted and "random_state" not in kwargs:
            kwargs["random_state"] = self.seed_
        if "n_features" in accepted:  # PyOD's DeepSVDD needs it up front
            kwargs["n_features"] = n_features
        return kwargs

    def _data_defaults(self, X: np.ndarray) -> dict:
        """Defaults that depend on the training data (under the user's ``params``)."""
        return {}

    def _new_estimator(self, n_features: int):
        with _isolated_rng(self.seed_):
            return self._pyod_cls()(**self._pyod_kwargs(n_features))

    def _fit_estimator(self, X: np.ndarray):
        with _isolated_rng(self.seed_):
            kwargs = self._pyod_kwargs(X.shape[1])
            for key, value in self._data_defaults(X).items():
                if key not in (self.params or {}):
                    kwargs[key] = value
            est = self._pyod_cls()(**kwargs)
            if self._deep and getattr(est, "batch_size", 0) > X.shape[0]:
                est.batch_size = X.shape[0]  # PyOD's loops drop the last batch: keep at least one
            return est.fit(X)

    def _decision(self, est, X: np.ndarray) -> np.ndarray:
        with _isolated_rng(0):  # scoring of stochastic models (PyOD's VAE) is reproducible
            return np.asarray(est.decision_function(X), dtype=np.float64).reshape(-1)

    # ------------------------------------------------------------------ contract
    def _fit(self, X: np.ndarray, y) -> None:
        if X.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} takes 2-D tabular input (n_samples, n_features); "
                f"got per-sample shape {X.shape[1:]}"
            )
        X = np.require(X, dtype=np.float64, requirements=["C", "W"])  # one array type: PyOD's numba code compiles once
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples, got n_samples={n}")
        rng = check_random_state(self.random_state)
        self.seed_ = int(rng.randint(np.iinfo(np.int32).max))
        mode = self._calibration_mode()
        if n < 10:  # too few rows to hold any out: calibrate on the training scores
            mode = "train"
        self.calibration_method_ = mode
        if mode == "split":
            n_cal = min(n - 1, max(1, int(round(n * self.calibration_fraction))))
            order = rng.permutation(n)
            cal_idx, fit_idx = np.sort(order[:n_cal]), np.sort(order[n_cal:])
            self.estimator_ = self._fit_estimator(X[fit_idx])
            self.calibration_scores_ = self._decision(self.estimator_, X[cal_idx])
            return
        if mode == "cv":
            oof = np.empty(n, dtype=np.float64)
            folds = KFold(n_splits=min(self.calibration_folds, n), shuffle=True, random_state=self.seed_)
            for fit_idx, cal_idx in folds.split(X):
                oof[cal_idx] = self._decision(self._fit_estimator(X[fit_idx]), X[cal_idx])
            self.estimator_ = self._fit_estimator(X)
            self.calibration_scores_ = oof
            return
        self.estimator_ = self._fit_estimator(X)
        # "loo" / "train": the base calibrates on the training scores (_training_scores: PyOD's
        # leave-one-out ones for the neighbour models)
        self.calibration_scores_ = None

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        if self._loo and self.calibration_method_ != "split":  # fitted on all of X
            # PyOD's own training scores: each row scored without itself (a row is otherwise its
            # own nearest neighbour, and contamination thresholds sit far too low)
            return np.asarray(self.estimator_.decision_scores_, dtype=np.float64).reshape(-1)
        return self._score(X)

    def _calibration_mode(self) -> str:
        """The calibration scheme of ``fit``, "auto" resolved (``fit`` uses "train" below 10 rows)."""
        mode = self.calibration
        if mode == "auto":
            mode = "split" if self._deep else "loo" if self._loo else "cv"
        if mode == "loo" and not self._loo:
            raise ValueError(
                f"calibration='loo' needs a model whose training scores leave each row out "
                f"(pyod.knn, pyod.lof); {type(self).__name__} has none: use 'cv'"
            )
        return mode

    def _will_have_oof_scores(self) -> bool:
        return self._calibration_mode() in ("cv", "loo")

    @property
    def oof_scores_(self) -> np.ndarray | None:
        """Out-of-sample score of every training row, in training order (the calibration
        scores of the "cv" and "loo" schemes), else None."""
        if getattr(self, "calibration_method_", None) in ("cv", "loo"):
            return self.calibration_scores_
        return None

    def _score(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2:
            raise ValueError(f"{type(self).__name__} takes 2-D input, got per-sample shape {X.shape[1:]}")
        return self._decision(self.estimator_, np.require(X, dtype=np.float64, requirements=["C", "W"]))

    # ------------------------------------------------------------------ persistence
    def _rebuild_torch(self, est, name: str):
        """Untrained torch module ``name`` of the loaded PyOD object ``est`` (deep models)."""
        raise NotImplementedError(f"{type(self).__name__} has no torch module {name!r}")

    def _get_state(self):
        from anomalib_ae.detectors._pyod_state import pyod_to_arrays
        from anomalib_ae.detectors.state import default_get_state

        est = self.__dict__.pop("estimator_")
        try:
            arrays, state = default_get_state(self)
        finally:
            self.estimator_ = est
        est_arrays, desc = pyod_to_arrays(est, "estimator_.")
        arrays.update(est_arrays)
        state["estimator_"] = {"__pyod__": desc}
        return arrays, state

    def _set_state(self, arrays, state):
        from anomalib_ae.detectors._pyod_state import pyod_from_arrays
        from anomalib_ae.detectors.state import default_set_state
        from anomalib_ae.io import ModelFileError

        state = dict(state)
        desc = state.pop("estimator_", None)
        if not isinstance(desc, dict) or "__pyod__" not in desc:
            raise ModelFileError(f"{type(self).__name__} model file lacks its PyOD model")
        default_set_state(self, arrays, state)
        fresh = self._new_estimator(int(self.n_features_in_))

        def rebuild(est, name):
            with _isolated_rng(self.seed_):
                return self._rebuild_torch(est, name)

        self.estimator_ = pyod_from_arrays(arrays, desc["__pyod__"], "estimator_.", fresh, rebuild)

