"""``subspace``: projection onto the span of the standardised training samples; residual maps."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from anomalib_ae.detectors._deep import infer_input_kind, to_model_layout
from anomalib_ae.detectors.base import BaseDetector
from anomalib_ae.models.subspace.network import SubspaceNet
from anomalib_ae.registry import register_detector
from anomalib_ae.validation import Interval, StrOptions

#: Floor of a value's standard deviation, relative to the mean standard deviation (constant pixels).
SCALE_FLOOR = 1e-3
_CHUNK = 256


def _standardiser(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = F.mean(axis=0)
    sd = F.std(axis=0)
    floor = SCALE_FLOOR * (float(sd.mean()) if sd.mean() > 0 else 1.0)
    return mean, np.maximum(sd, floor)


def _basis(F: np.ndarray, n_components) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, scale, components)``: per-value standardiser and an orthonormal basis ``(k, d)``
    of the standardised rows' span (``n_components=None``: all of it, at most ``d // 2`` directions)."""
    mean, scale = _standardiser(F)
    Z = (F - mean) / scale
    _, S, Vt = np.linalg.svd(Z, full_matrices=False)
    keep = int(np.sum(S > (S[0] if len(S) else 0.0) * 1e-7)) if len(S) else 0
    if n_components is None:  # with as many rows as values the span is everything and the residual 0
        k = min(keep, max(1, Z.shape[1] // 2))
    elif isinstance(n_components, Integral):
        k = min(int(n_components), keep)
    else:  # a share of the variance, as scikit-learn's PCA reads a float
        var = np.cumsum(S**2) / max(float(np.sum(S**2)), 1e-300)
        k = min(int(np.searchsorted(var, float(n_components) - 1e-12) + 1), keep)
    return mean, scale, Vt[:k]


@register_detector("subspace")
class Subspace(BaseDetector):
    """Distance to the span of the normal samples, per value: a reconstruction detector without training epochs.

    Every value (pixel, feature) is standardised by its own training mean and standard
    deviation, which on aligned images such as inspection tiles removes the fixed
    illumination and texture pattern. A sample is projected onto the linear span of the
    standardised training samples (an SVD; PCA with every component by default), and the
    absolute residual of each value, divided by its out-of-fold RMS (``n_folds``-fold:
    residuals of training rows against a basis fitted without them), is the anomaly map.
    Image maps are smoothed by a Gaussian of ``smooth`` pixels; the score is the map's
    maximum. The out-of-fold scores of the training rows are the calibration scores and
    ``decision_scores_`` (in-sample rows lie in their own span and score about 0).

    On magnetic tiles this beat every peer on image and pixel AUROC; ``smooth`` and the
    full span were chosen on synthetic defects planted in held-out training tiles
    (``docs/domains.md``). Memory: the basis holds ``min(n - 1, d)`` rows of ``d`` values.

    Parameters
    ----------
    n_components : None, int >= 1 or float in (0, 1], default None
        Basis size: None = every direction of the training span, but at most half the
        values per sample (``d // 2``: with more training samples than values the span is
        the whole space and every residual 0), an int = that many leading principal
        directions, a float = the share of variance to keep. The default suits images
        with fewer training images than pixels (600 tiles of 64 x 64 = 4096: 599).
    smooth : float >= 0, default 2.0
        Gaussian sigma in pixels applied to image maps (0 = none; non-images: none).
    n_folds : int >= 2, default 5
        Folds of the out-of-fold residual scale and calibration scores (fewer when there
        are fewer than ``2 * n_folds`` rows; with fewer than 4 rows the scale is 1).
    input_kind : {"auto", "vector", "window", "image"}, default "auto"
        How to read the input; see :func:`anomalib_ae.detectors._deep.infer_input_kind`.
    contamination, threshold
        As in :class:`~anomalib_ae.detectors.base.BaseDetector`.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).random((40, 16, 16)).astype("float32")
    >>> det = anomalib_ae.create("subspace").fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {
        **BaseDetector._constraints,
        "n_components": [None, Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="right")],
        "smooth": [Interval(Real, 0, None, closed="left")],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "input_kind": [StrOptions({"auto", "vector", "window", "image"})],
    }

    def __init__(self, *, n_components=None, smooth=2.0, n_folds=5, input_kind="auto", contamination=0.1,
                 threshold=None):
        self.n_components = n_components
        self.smooth = smooth
        self.n_folds = n_folds
        self.input_kind = input_kind
        self.contamination = contamination
        self.threshold = threshold

    # ------------------------------------------------------------------ fit
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.input_kind_ = infer_input_kind(tuple(X.shape[1:]), self.input_kind)
        Xm = to_model_layout(X, self.input_kind_)
        self.model_shape_ = tuple(int(v) for v in Xm.shape[1:])
        F = Xm.reshape(len(Xm), -1).astype(np.float64)
        n = len(F)
        self.sigma_ = float(self.smooth) if self.input_kind_ == "image" else 0.0
        mean, scale, comps = _basis(F, self.n_components)
        self.n_components_ = int(len(comps))
        module = SubspaceNet(self.model_shape_, self.n_components_, self.sigma_, self.input_kind_ == "image")
        k = min(int(self.n_folds), n // 2)
        resid = None
        if k >= 2:  # out-of-fold residuals: the scale of each value and the calibration scores
            resid = np.empty_like(F)
            for f in range(k):
                held = np.arange(f, n, k)
                fm, fs, fc = _basis(np.delete(F, held, axis=0), self.n_components)
                Z = (F[held] - fm) / fs
                resid[held] = Z - (Z @ fc.T) @ fc
            rms = np.sqrt(np.mean(resid**2, axis=0))
            rms = np.maximum(rms, SCALE_FLOOR * max(float(rms.mean()), 1e-12))
        else:
            rms = np.ones(F.shape[1])
        with torch.no_grad():
            for name, value in (("mean", mean), ("scale", scale), ("components", comps), ("resid_rms", rms)):
                getattr(module, name).copy_(torch.from_numpy(np.asarray(value, dtype=np.float32)))
        self.module_ = module.eval()
        self._oof = None
        if resid is not None:
            maps = module._smooth(torch.from_numpy((np.abs(resid) / rms).astype(np.float32)).reshape(n, *self.model_shape_))
            self._oof = maps.reshape(n, -1).amax(dim=1).double().numpy()
            self.calibration_scores_ = self._oof.copy()

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        oof = getattr(self, "_oof", None)
        return oof if oof is not None and len(oof) == len(X) else self._score(X)

    # ------------------------------------------------------------------ score / maps
    def prepare_input(self, X) -> np.ndarray:
        """``X`` as the network sees it: float32 in model layout (the network standardises)."""
        check_is_fitted(self)
        return np.ascontiguousarray(to_model_layout(np.asarray(X), self.input_kind_), dtype=np.float32)

    def _run(self, X, fn) -> np.ndarray:
        Xs = self.prepare_input(X)
        out = []
        with torch.no_grad():
            for s in range(0, len(Xs), _CHUNK):
                out.append(fn(torch.from_numpy(Xs[s : s + _CHUNK])).double().numpy())
        return np.concatenate(out) if out else np.zeros((0,))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._run(X, self.module_.eval().score)

    def error_map(self, X) -> np.ndarray:
        """Per-value anomaly map (float64, model layout): the residual in out-of-fold RMS units, smoothed for images."""
        return self._run(X, self.module_.eval().error_map)

    def _rebuild_module(self, name: str) -> torch.nn.Module:
        return SubspaceNet(self.model_shape_, self.n_components_, self.sigma_, self.input_kind_ == "image")
