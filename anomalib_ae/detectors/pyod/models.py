"""PyOD's detectors behind the anomalib_ae contract, one small class each (``"pyod.iforest"``, ``"pyod.knn"``, ...).

Every class names the PyOD model it wraps (``_pyod_class``) and says only what differs from
:class:`~anomalib_ae.detectors.pyod.base.PyODDetector`: defaults under the user's ``params``,
whether it is a deep (torch) model, whether its training scores leave each row out, how it
scores or rebuilds its torch module when loading. Parameters are those of ``PyODDetector``;
PyOD's own go in ``params``.
"""

from __future__ import annotations

import warnings

import numpy as np

from anomalib_ae.detectors.pyod.base import PyODDetector
from anomalib_ae.detectors.pyod.neighbors import PyODNeighborDetector
from anomalib_ae.registry import register_detector

__all__ = [
    "PyODAutoEncoder",
    "PyODCOPOD",
    "PyODDeepSVDD",
    "PyODECOD",
    "PyODGMM",
    "PyODHBOS",
    "PyODIForest",
    "PyODINNE",
    "PyODKDE",
    "PyODKNN",
    "PyODLOF",
    "PyODOCSVM",
    "PyODPCA",
    "PyODVAE",
]


# ---------------------------------------------------------------------- classical models
@register_detector("pyod.iforest")
class PyODIForest(PyODDetector):
    """Isolation Forest (PyOD ``pyod.models.iforest.IForest``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.iforest:IForest"


@register_detector("pyod.lof")
class PyODLOF(PyODNeighborDetector):
    """Local Outlier Factor (PyOD ``pyod.models.lof.LOF``) behind the anomalib_ae contract.

    Calibrated leave-one-out by default: PyOD's training scores leave each row out. From
    ``approx_threshold`` training rows on (``neighbors="auto"``) the neighbours are searched
    approximately (:mod:`anomalib_ae.neighbors`; same formula, faiss IVF search).
    """

    _pyod_class = "pyod.models.lof:LOF"
    _loo = True
    _scorer_kind = "lof"


@register_detector("pyod.knn")
class PyODKNN(PyODNeighborDetector):
    """k-nearest-neighbour distance (PyOD ``pyod.models.knn.KNN``) behind the anomalib_ae contract.

    Calibrated leave-one-out by default: PyOD's training scores leave each row out. From
    ``approx_threshold`` training rows on (``neighbors="auto"``) the neighbours are searched
    approximately (:mod:`anomalib_ae.neighbors`; same scores up to a missed neighbour).
    """

    _pyod_class = "pyod.models.knn:KNN"
    _loo = True
    _scorer_kind = "knn"


@register_detector("pyod.ocsvm")
class PyODOCSVM(PyODDetector):
    """One-class SVM (PyOD ``pyod.models.ocsvm.OCSVM``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.ocsvm:OCSVM"


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


@register_detector("pyod.ecod")
class PyODECOD(PyODDetector):
    """Empirical-CDF outlier detection (PyOD ``pyod.models.ecod.ECOD``) behind the anomalib_ae contract.

    Each row is scored as if alone (see :func:`_ecdf_decision`): scores do not depend on batching.
    """

    _pyod_class = "pyod.models.ecod:ECOD"

    def _decision(self, est, X: np.ndarray) -> np.ndarray:
        return _ecdf_decision(est, X, "ecod")


@register_detector("pyod.copod")
class PyODCOPOD(PyODDetector):
    """Copula-based outlier detection (PyOD ``pyod.models.copod.COPOD``) behind the anomalib_ae contract.

    Each row is scored as if alone (see :func:`_ecdf_decision`): scores do not depend on batching.
    """

    _pyod_class = "pyod.models.copod:COPOD"

    def _decision(self, est, X: np.ndarray) -> np.ndarray:
        return _ecdf_decision(est, X, "copod")


@register_detector("pyod.hbos")
class PyODHBOS(PyODDetector):
    """Histogram-based outlier score (PyOD ``pyod.models.hbos.HBOS``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.hbos:HBOS"


@register_detector("pyod.pca")
class PyODPCA(PyODDetector):
    """PCA reconstruction outlier score (PyOD ``pyod.models.pca.PCA``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.pca:PCA"

    def _data_defaults(self, X: np.ndarray) -> dict:
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


@register_detector("pyod.gmm")
class PyODGMM(PyODDetector):
    """Gaussian mixture negative log-likelihood (PyOD ``pyod.models.gmm.GMM``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.gmm:GMM"
    #: Above this many rows a fit (and each cross-fit) uses a seeded sample of this many rows:
    #: the mixture's parameters are settled long before (docs/scale.md), while EM's cost grows
    #: with the rows (1M rows: 6 fits of 0.8-1M rows). Smaller fits are unchanged.
    _max_fit_rows = 200_000

    def _fit_estimator(self, X: np.ndarray):
        if X.shape[0] > self._max_fit_rows:
            rng = np.random.default_rng(self.seed_)
            X = X[np.sort(rng.choice(X.shape[0], self._max_fit_rows, replace=False))]
        return super()._fit_estimator(X)


@register_detector("pyod.kde")
class PyODKDE(PyODDetector):
    """Kernel density estimate, negative log-density (PyOD ``pyod.models.kde.KDE``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.kde:KDE"


@register_detector("pyod.inne")
class PyODINNE(PyODDetector):
    """Isolation using nearest-neighbour ensembles (PyOD ``pyod.models.inne.INNE``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.inne:INNE"


# ---------------------------------------------------------------------- deep (torch) models
class _PyODBaseDL(PyODDetector):
    """PyOD's deep models on ``pyod.models.base_dl.BaseDeepLearningDetector`` (quiet by default)."""

    _pyod_defaults = {"verbose": 0}
    _deep = True

    def _rebuild_torch(self, est, name):
        if name != "model":
            raise NotImplementedError(name)
        est.build_model()
        return est.model


@register_detector("pyod.autoencoder")
class PyODAutoEncoder(_PyODBaseDL):
    """PyOD's autoencoder (PyOD ``pyod.models.auto_encoder.AutoEncoder``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.auto_encoder:AutoEncoder"


@register_detector("pyod.vae")
class PyODVAE(_PyODBaseDL):
    """PyOD's variational autoencoder (PyOD ``pyod.models.vae.VAE``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.vae:VAE"

    def _decision(self, est, X: np.ndarray) -> np.ndarray:
        """PyOD's VAE decodes a *sampled* latent code when scoring, so a row's score depended on the
        noise drawn for its batch (order, size, neighbours). Scoring decodes the posterior mean
        instead: one score per row, whatever the batch (tests/test_properties.py)."""
        model = getattr(est, "model", None)
        if model is None or not hasattr(model, "reparameterize"):
            return super()._decision(est, X)
        model.reparameterize = lambda mu, logvar: mu  # instance attribute shadows the method while scoring
        try:
            return super()._decision(est, X)
        finally:
            del model.reparameterize


@register_detector("pyod.deepsvdd")
class PyODDeepSVDD(PyODDetector):
    """PyOD's Deep SVDD (PyOD ``pyod.models.deep_svdd.DeepSVDD``) behind the anomalib_ae contract."""

    _pyod_class = "pyod.models.deep_svdd:DeepSVDD"
    _pyod_defaults = {"verbose": 0}
    _deep = True

    def _rebuild_torch(self, est, name):
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
