"""``cvad``: cascade VAE plus a discriminator (Guo et al., 2021), normalised on training data."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.models.cvad.network import build_cvad, build_cvad_discriminator
from anomalib_ae.registry import register_detector
from anomalib_ae.training import fit_module, seeded
from anomalib_ae.validation import Interval

_MIN_SCALE = 1e-8


class _DiscriminatorStage(AnomalyModule):
    """Trains ``discriminator`` on real inputs (0) against reconstructions of a frozen VAE (1).

    The VAE is held outside the module tree, so the optimizer never sees its weights and
    Lightning's ``train()`` does not touch it.
    """

    def __init__(self, vae: torch.nn.Module, discriminator: torch.nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator
        self._frozen = (vae,)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        vae = self._frozen[0].to(x.device).eval()
        with torch.no_grad():
            recon = vae.reconstruct(x)
        return self.discriminator.loss(x, recon)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.prob_fake(x)


@register_detector("cvad")
class CVAD(BaseDeepDetector):
    """Cascade VAE anomaly detector after Guo et al., "CVAD" (2021, arXiv:2110.15811).

    Training has two stages: (1) the two-level cascade VAE of :mod:`anomalib_ae.models.cvad.network` on
    normal data; (2) with the VAE frozen, a discriminator that tells real normal inputs
    (label 0) from their reconstructions (label 1).

    Score: ``(1 - disc_weight) * r / recon_kl_scale_ + disc_weight * p / disc_scale_``, where
    ``r`` is the per-sample "reconstruction + KL" (mean squared error of the cascade
    reconstruction plus ``beta`` * (KL1 + KL2) / D), ``p`` the discriminator's probability that
    the *input* is a reconstruction, and the scales their standard deviations on the
    **training split** (fitted attributes, saved with the model). This is the weighted sum of
    the two z-normalised parts up to a constant: rankings, thresholds and p-values are the
    same, and leaving out the subtraction of the means keeps float32 precision. The reference
    code min-max normalises with statistics of the test set itself, which makes a sample's
    score depend on the other test samples; here the statistics are fixed at fit.

    Parameters
    ----------
    beta : float, default 1.0
        Weight of the KL terms.
    latent2_factor : int, default 4
        The second latent has ``latent2_factor * latent_dim`` dimensions.
    disc_epochs : int, optional
        Epochs of the discriminator stage (default: ``epochs``).
    disc_weight : float in [0, 1], default 0.5
        Weight of the discriminator part in the score (0 = reconstruction + KL only).
    hidden_dims, latent_dim, epochs, batch_size, lr, weight_decay, validation_fraction, \
patience, input_kind, random_state, accelerator, verbose, contamination
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector`.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> det = anomalib_ae.create("cvad", epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    #: both stages and the score scales also run on out-of-core rows (StandardizedRows)
    _streaming_overrides = ("_train", "_score_prepared")

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "latent2_factor": [Interval(Integral, 1, None, closed="left")],
        "disc_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "disc_weight": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        beta=1.0,
        latent2_factor=4,
        disc_epochs=None,
        disc_weight=0.5,
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
        self.beta = beta
        self.latent2_factor = latent2_factor
        self.disc_epochs = disc_epochs
        self.disc_weight = disc_weight
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

    # ------------------------------------------------------------------ modules
    def _build_module(self):
        return build_cvad(
            self.model_shape_,
            self.input_kind_,
            self._hidden_dims(),
            self._latent_dim(),
            latent2_factor=int(self.latent2_factor),
            beta=float(self.beta),
        )

    def _build_discriminator(self):
        return build_cvad_discriminator(self.model_shape_, self.input_kind_, self._hidden_dims())

    def _rebuild_module(self, name: str) -> torch.nn.Module:
        with seeded(0):
            return self._build_discriminator() if name == "discriminator_" else self._build_module()

    # ------------------------------------------------------------------ training
    def fitted_schedule(self) -> dict:
        """As :meth:`BaseDeepDetector.fitted_schedule`, with the discriminator stage's length too."""
        out = super().fitted_schedule()
        if out and getattr(self, "n_disc_epochs_", None) is not None:
            out["disc_epochs"] = int(self.n_disc_epochs_)
        return out

    def _train(self, X_train, y_train, X_val, y_val, seed: int) -> None:
        super()._train(X_train, None, X_val, None, seed)  # stage 1: the cascade VAE
        for p in self.module_.parameters():
            p.requires_grad_(False)
        with seeded(seed + 1):
            self.discriminator_ = self._build_discriminator()
        kwargs = self._fit_kwargs(seed + 1)
        if self.disc_epochs is not None:
            kwargs["epochs"] = self.disc_epochs
        stage = _DiscriminatorStage(self.module_, self.discriminator_)
        result = fit_module(stage, X_train, None, X_val, None, **kwargs)
        self.n_disc_epochs_ = result.epochs_run
        for p in self.module_.parameters():
            p.requires_grad_(True)
        # normalisation statistics from the training split only
        parts = self._parts_prepared(X_train)
        self.recon_kl_scale_ = float(max(parts[:, 0].std(), _MIN_SCALE))
        self.disc_scale_ = float(max(parts[:, 1].std(), _MIN_SCALE))

    # ------------------------------------------------------------------ scoring
    def _module_parts(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.module_.recon_kl(x), self.discriminator_.prob_fake(x)], dim=1)

    def _parts_prepared(self, Xs: np.ndarray) -> np.ndarray:
        return self._apply_fixed(self._module_parts, Xs, modules=(self.discriminator_,))

    def _score_prepared(self, Xs: np.ndarray) -> np.ndarray:
        parts = self._parts_prepared(Xs)
        w = float(self.disc_weight)
        return (1.0 - w) * parts[:, 0] / self.recon_kl_scale_ + w * parts[:, 1] / self.disc_scale_

    def score_parts(self, X) -> np.ndarray:
        """Raw score parts before normalisation, ``(n, 2)``: [reconstruction + KL, P(reconstruction)]."""
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._parts_prepared(self._prepare(X))
