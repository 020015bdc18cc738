"""PyOD's detectors behind the anomalib_ae contract (``"pyod.iforest"``, ``"pyod.knn"``, ...).

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
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_random_state

from anomalib_ae.detectors.base import BaseDetector
from anomalib_ae.registry import register_detector

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

    _parameter_constraints: dict = {
        **BaseDetector._parameter_constraints,
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
        from anomalib_ae.io import default_get_state

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
        from anomalib_ae.io import ModelFileError, default_set_state

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


def _pyod_wrapper(
    name: str, pyod_class: str, summary: str, defaults: dict | None = None, deep: bool = False, loo: bool = False
):
    """Define and register a wrapper class for one PyOD model."""
    cls_name = "PyOD" + pyod_class.rpartition(":")[2]
    doc = (
        f"{summary} (PyOD ``{pyod_class.replace(':', '.')}``) behind the anomalib_ae contract.\n\n"
        "Parameters are those of :class:`~anomalib_ae.detectors.pyod.PyODDetector`; PyOD's own go\n"
        "in ``params``.\n"
    )
    attrs = {"__doc__": doc, "_pyod_class": pyod_class, "_pyod_defaults": dict(defaults or {}), "_deep": deep, "_loo": loo}
    cls = type(cls_name, (PyODDetector,), attrs)
    cls.__module__ = __name__
    return register_detector(name)(cls)


def _ecdf_decision(est, X: np.ndarray, rule: str) -> np.ndarray:
    """ECOD/COPOD score of each row of ``X`` as PyOD gives it for that row scored alone.

    PyOD computes the empirical CDFs over training data *and the whole scored batch*, so a
    row's score depends on the other rows in its batch. Here every row is ranked against the
    training data plus itself (tail probabilities ``(#train <= x + 1) / (n + 1)`` and
    ``(#train >= x + 1) / (n + 1)``), with the skewness signs of the training data: scores
    no longer depend on batching.
    """
    from scipy.stats import skew

    train = np.asarray(est.X_train, dtype=np.float64)
    n = train.shape[0]
    cols = np.sort(train, axis=0)
    le = np.column_stack([np.searchsorted(cols[:, j], X[:, j], side="right") for j in range(X.shape[1])])
    ge = n - np.column_stack([np.searchsorted(cols[:, j], X[:, j], side="left") for j in range(X.shape[1])])
    u_l = -np.log((le + 1.0) / (n + 1.0))
    u_r = -np.log((ge + 1.0) / (n + 1.0))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sk = np.nan_to_num(np.sign(skew(train, axis=0)), nan=0.0)  # constant column: no skew
    u_skew = u_l * -1 * np.sign(sk - 1) + u_r * np.sign(sk + 1)
    if rule == "ecod":
        out = np.maximum(u_skew, np.maximum(u_l, u_r))
    else:  # copod
        out = np.maximum(u_skew, (u_l + u_r) / 2)
    return out.sum(axis=1)


def _pca_data_defaults(self, X: np.ndarray) -> dict:
    """``n_components`` = numerical rank of the standardised data.

    PyOD's PCA divides by every component's explained variance; components of (near) zero
    variance, e.g. from constant columns (mnist, optdigits), give infinite scores.
    """
    Z = X - X.mean(axis=0)
    sd = Z.std(axis=0)
    sd[sd == 0] = 1.0
    ev = np.linalg.svd(Z / sd, compute_uv=False) ** 2
    rank = int(np.sum(ev > ev[0] * 1e-9)) if ev.size and ev[0] > 0 else 1
    return {"n_components": max(1, min(rank, X.shape[0] - 1, X.shape[1]))}


def _rebuild_base_dl(self, est, name):
    if name != "model":
        raise NotImplementedError(name)
    est.build_model()
    return est.model


def _rebuild_deepsvdd(self, est, name):
    from pyod.models.deep_svdd import InnerDeepSVDD

    if name != "model_":
        raise NotImplementedError(name)
    return InnerDeepSVDD(
        est.n_features,
        use_ae=est.use_ae,
        hidden_neurons=est.hidden_neurons,
        hidden_activation=est.hidden_activation,
        output_activation=est.output_activation,
        dropout_rate=est.dropout_rate,
        l2_regularizer=est.l2_regularizer,
    )


PyODIForest = _pyod_wrapper("pyod.iforest", "pyod.models.iforest:IForest", "Isolation Forest")
PyODLOF = _pyod_wrapper("pyod.lof", "pyod.models.lof:LOF", "Local Outlier Factor", loo=True)
PyODKNN = _pyod_wrapper("pyod.knn", "pyod.models.knn:KNN", "k-nearest-neighbour distance", loo=True)
PyODOCSVM = _pyod_wrapper("pyod.ocsvm", "pyod.models.ocsvm:OCSVM", "One-class SVM")
PyODECOD = _pyod_wrapper("pyod.ecod", "pyod.models.ecod:ECOD", "Empirical-CDF outlier detection")
PyODECOD._decision = lambda self, est, X: _ecdf_decision(est, X, "ecod")
PyODCOPOD = _pyod_wrapper("pyod.copod", "pyod.models.copod:COPOD", "Copula-based outlier detection")
PyODCOPOD._decision = lambda self, est, X: _ecdf_decision(est, X, "copod")
PyODHBOS = _pyod_wrapper("pyod.hbos", "pyod.models.hbos:HBOS", "Histogram-based outlier score")
PyODPCA = _pyod_wrapper("pyod.pca", "pyod.models.pca:PCA", "PCA reconstruction outlier score")
PyODPCA._data_defaults = _pca_data_defaults
PyODGMM = _pyod_wrapper("pyod.gmm", "pyod.models.gmm:GMM", "Gaussian mixture negative log-likelihood")
PyODKDE = _pyod_wrapper("pyod.kde", "pyod.models.kde:KDE", "Kernel density estimate (negative log-density)")
PyODINNE = _pyod_wrapper("pyod.inne", "pyod.models.inne:INNE", "Isolation using nearest-neighbour ensembles")
PyODAutoEncoder = _pyod_wrapper(
    "pyod.autoencoder", "pyod.models.auto_encoder:AutoEncoder", "PyOD's autoencoder", {"verbose": 0}, deep=True
)
PyODAutoEncoder._rebuild_torch = _rebuild_base_dl
PyODVAE = _pyod_wrapper("pyod.vae", "pyod.models.vae:VAE", "PyOD's variational autoencoder", {"verbose": 0}, deep=True)
PyODVAE._rebuild_torch = _rebuild_base_dl


def _vae_mean_decision(self, est, X: np.ndarray) -> np.ndarray:
    """PyOD's VAE decodes a *sampled* latent code when scoring, so a row's score depended on the
    noise drawn for its batch (order, size, neighbours). Scoring decodes the posterior mean instead:
    one score per row, whatever the batch (tests/test_properties.py)."""
    model = getattr(est, "model", None)
    if model is None or not hasattr(model, "reparameterize"):
        return PyODDetector._decision(self, est, X)
    model.reparameterize = lambda mu, logvar: mu  # instance attribute shadows the method while scoring
    try:
        return PyODDetector._decision(self, est, X)
    finally:
        del model.reparameterize


PyODVAE._decision = _vae_mean_decision
PyODDeepSVDD = _pyod_wrapper(
    "pyod.deepsvdd", "pyod.models.deep_svdd:DeepSVDD", "PyOD's Deep SVDD", {"verbose": 0}, deep=True
)
PyODDeepSVDD._rebuild_torch = _rebuild_deepsvdd
