"""``ae``: autoencoder scored by mean squared reconstruction error (or SSIM for images)."""

from __future__ import annotations

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.ae.network import SCORE_TYPES, build_autoencoder
from anomalib_ae.registry import register_detector
from anomalib_ae.validation import StrOptions


@register_detector("ae")
class AutoEncoder(BaseDeepDetector):
    """Autoencoder: dense for vectors ``(n, d)`` and windows ``(n, T, d)``, convolutional for images.

    Score = per-sample mean squared reconstruction error of the standardised input.

    Parameters
    ----------
    score_type : {"mse", "ssim"}, default "mse"
        ``"mse"``: mean squared reconstruction error. ``"ssim"`` (images only): ``1 - mean
        local SSIM`` between the standardised image and its reconstruction (7x7 uniform
        windows, constants for a data range of 1 standard deviation), a structural error
        that ignores how much of the error is plain brightness or contrast (Bergmann et
        al., 2019). On medical images the MSE can rank darker, lower-contrast anomalies
        *below* normal scans; see ``docs/domains.md``. Training always minimises the MSE.
    Others
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector`.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> det = anomalib_ae.create("ae", epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "score_type": [StrOptions(set(SCORE_TYPES))],
    }

    def __init__(
        self,
        *,
        score_type="mse",
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
        self.score_type = score_type
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

    def _build_module(self):
        return build_autoencoder(
            self.model_shape_, self.input_kind_, self._hidden_dims(), self._latent_dim(), score_type=self.score_type
        )
