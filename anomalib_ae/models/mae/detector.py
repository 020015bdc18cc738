"""``mae``: masked autoencoder scored by the error on masked-out parts under fixed masks."""

from __future__ import annotations

from math import prod
from numbers import Integral, Real


from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.mae.network import build_mae
from anomalib_ae.registry import register_detector
from anomalib_ae.validation import Interval

#: Seed of the fixed scoring masks.
MASK_SEED = 0


@register_detector("mae")
class MaskedAutoEncoder(BaseDeepDetector):
    """Masked autoencoder (He et al., 2022): transformer encoder on visible tokens only.

    Tokens are image patches (``patch_size`` x ``patch_size`` over all channels), groups of
    time steps of a window, or single features of a vector (see :mod:`anomalib_ae.models.mae.network`).
    Training hides a random ``mask_ratio`` of the tokens and the loss is the squared error on
    the hidden values. The score is deterministic: the squared error on hidden values averaged
    over a fixed family of masks that together hide every token at least once.

    Parameters
    ----------
    mask_ratio : float in (0, 1), default 0.75
        Share of tokens hidden in training and in each scoring mask.
    patch_size : int, optional
        Image patch side (default 4 for images up to 32 px, 8 above); time steps per token for
        windows (default 1). Ignored for vectors.
    feature_group : int, optional
        Features per window token (default: all features of a time step).
    decoder_depth : int, default 1
        Transformer layers of the decoder.
    n_score_masks : int, optional
        Number of scoring masks (default: the fewest that cover every token).
    hidden_dims : sequence of int, optional
        ``hidden_dims[0]`` is the encoder width, ``len(hidden_dims)`` the encoder depth and
        ``hidden_dims[-1]`` the decoder width. Default (64, 32).
    latent_dim, epochs, batch_size, lr, weight_decay, validation_fraction, patience, \
input_kind, random_state, accelerator, verbose, contamination
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector` (``latent_dim`` is the
        per-token bottleneck between encoder and decoder).

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> det = anomalib_ae.create("mae", epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
        "patch_size": [Interval(Integral, 1, None, closed="left"), None],
        "feature_group": [Interval(Integral, 1, None, closed="left"), None],
        "decoder_depth": [Interval(Integral, 1, None, closed="left")],
        "n_score_masks": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        mask_ratio=0.75,
        patch_size=None,
        feature_group=None,
        decoder_depth=1,
        n_score_masks=None,
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
        self.mask_ratio = mask_ratio
        self.patch_size = patch_size
        self.feature_group = feature_group
        self.decoder_depth = decoder_depth
        self.n_score_masks = n_score_masks
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
            return (64, 32)
        return super()._hidden_dims()

    def _build_module(self):
        if self.input_kind_ == "vector" and prod(self.model_shape_) < 2:
            raise ValueError(
                f"{type(self).__name__} masks features of a vector and needs at least 2; got "
                f"{prod(self.model_shape_)} feature(s)"
            )
        return build_mae(
            self.model_shape_,
            self.input_kind_,
            self._hidden_dims(),
            self._latent_dim(),
            mask_ratio=float(self.mask_ratio),
            patch_size=self.patch_size,
            feature_group=self.feature_group,
            decoder_depth=int(self.decoder_depth),
            n_score_masks=self.n_score_masks,
            seed=MASK_SEED,
        )
