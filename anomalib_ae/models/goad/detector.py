"""``goad``: a classifier of known transformations, scored by how badly it recognises them."""

from __future__ import annotations

from math import prod
from numbers import Integral

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.goad.network import TransformClassifierNet
from anomalib_ae.registry import register_detector
from anomalib_ae.validation import Interval


@register_detector("goad")
class GOAD(BaseDeepDetector):
    """Classification-based detection: predict which transformation was applied (GEOM / GOAD).

    Trained on normal samples only to recognise which of ``K`` known transformations was applied
    to a sample; the score is the mean negative log-likelihood of the right transformation over
    all ``K`` (Hendrycks et al., 2019). Images: the four 90-degree rotations (square images; flips
    and the 180-degree rotation otherwise) and a small convolutional classifier, the rotation
    prediction of Golan & El-Yaniv (2018) and Hendrycks et al.; vectors and windows (flattened):
    ``n_transforms`` random linear maps to ``latent_dim`` values and a dense classifier, GOAD's
    transformations for general data (Bergman & Hoshen, 2020; cross-entropy, not its triplet
    centre loss); that path is weak (0.683 mean AUROC on the 25 tables, far outliers can be
    classified confidently): use ``goad`` for images. See :mod:`anomalib_ae.models.goad.network`.
    There is no per-value error map (``error_map`` is None): explanations attribute the score
    (integrated gradients by default, or occlusion).

    Parameters
    ----------
    n_transforms : int >= 2, default 16
        Random linear maps for vectors and windows (images always use 4 transformations).
    hidden_dims : sequence of int, optional
        Convolution widths per stage for images (default (32, 64, 128)); hidden widths of the
        dense classifier for vectors / windows (default (64,)).
    latent_dim : int, optional
        Values per random map for vectors / windows (default ``min(32, D)``); unused for images.
    epochs, batch_size, lr, weight_decay, validation_fraction, patience, input_kind, random_state, \
accelerator, strategy, devices, num_nodes, precision, verbose, contamination, threshold
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector` (a mini-batch of ``b``
        samples trains on ``K * b`` transformed ones).

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).random((40, 16, 16)).astype("float32")
    >>> det = anomalib_ae.create("goad", hidden_dims=(4, 8), epochs=1, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "n_transforms": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_transforms=16,
        hidden_dims=None,
        latent_dim=None,
        epochs=30,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        patience=5,
        input_kind="auto",
        random_state=None,
        accelerator="auto",
        strategy="auto",
        devices=1,
        num_nodes=1,
        precision=None,
        verbose="auto",
        contamination=0.1,
        threshold=None,
    ):
        self.n_transforms = n_transforms
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.input_kind = input_kind
        self.random_state = random_state
        self.accelerator = accelerator
        self.strategy = strategy
        self.devices = devices
        self.num_nodes = num_nodes
        self.precision = precision
        self.verbose = verbose
        self.contamination = contamination
        self.threshold = threshold

    def _hidden_dims(self) -> tuple[int, ...]:
        if self.hidden_dims is None:
            return (32, 64, 128) if self.input_kind_ == "image" else (64,)
        return super()._hidden_dims()

    def _latent_dim(self) -> int:
        if self.latent_dim is not None:
            return int(self.latent_dim)
        return min(32, prod(self.model_shape_))

    def _build_module(self):
        return TransformClassifierNet(self.model_shape_, self.input_kind_, self._hidden_dims(), self._latent_dim(),
                                      self.n_transforms)
