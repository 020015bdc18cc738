"""Gaussian variational autoencoder (Kingma & Welling, 2014) scored by reconstruction, ELBO or IWAE.

The decoder is a Gaussian with **unit variance**: ``log p(x | z) = -0.5 * ||x - f(z)||^2 -
D/2 * log(2 pi)`` with ``D`` the number of input values, which suits standardised inputs. The
training loss is the beta-weighted negative ELBO without the constant, ``0.5 * ||x - f(z)||^2 +
beta * KL(q(z|x) || N(0, I))`` (analytic KL, one reparametrised sample), averaged over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn

from anomalib_ae.models.ae.network import per_sample_mse
from anomalib_ae.nn.base import AnomalyModule, squared_reconstruction_error
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp
from anomalib_ae.nn.losses import LOG_2PI, gaussian_kl, gaussian_log_prob, iwae_bound

SCORE_TYPES = ("recon", "elbo", "iwae", "beta-elbo")
DECODER_VARIANCES = ("unit", "optimal")
_LOGVAR_RANGE = (-30.0, 20.0)


def build_gaussian_encoder(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int
) -> nn.Module:
    """Encoder mapping ``(n, *input_shape)`` to ``(n, 2 * latent_dim)`` (mean and log-variance)."""
    if kind == "image":
        return ConvEncoder(input_shape, hidden_dims, 2 * latent_dim)
    d = prod(int(v) for v in input_shape)
    dims = [d, *hidden_dims]
    return nn.Sequential(nn.Flatten(1), mlp(dims, last_activation=True), nn.Linear(dims[-1], 2 * latent_dim))


def build_decoder(input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int) -> nn.Module:
    """Decoder mapping ``(n, latent_dim)`` to ``(n, *input_shape)``."""
    shape = tuple(int(v) for v in input_shape)
    if kind == "image":
        return ConvDecoder(shape, hidden_dims, latent_dim)
    return nn.Sequential(mlp([latent_dim, *list(hidden_dims)[::-1], prod(shape)]), nn.Unflatten(1, shape))


class VariationalAutoEncoderNet(AnomalyModule):
    """Gaussian VAE for vectors, windows (flattened, dense nets) and images (conv nets).

    Parameters
    ----------
    input_shape : sequence of int
        Per-sample shape: ``(d,)``, ``(T, d)`` or ``(C, H, W)``.
    kind : {"vector", "window", "image"}
        Dense nets for vectors and windows, convolutional nets for images.
    hidden_dims : sequence of int
        Widths of the dense hidden layers, or channels of the strided conv stages.
    latent_dim : int
        Size of the latent code.
    beta : float
        Weight of the KL term in the training loss (beta-VAE; 1 = the ELBO).
    score_type : {"recon", "elbo", "iwae", "beta-elbo"}
        ``"recon"``: mean squared error of the reconstruction from the mean latent code;
        ``"elbo"``: negative ELBO, Monte-Carlo estimate ``-mean_k log w_k`` over ``n_samples``
        samples; ``"iwae"``: negative importance-weighted bound ``-log mean_k w_k`` with
        ``w_k = p(x | z_k) p(z_k) / q(z_k | x)``. Both in nats with the full Gaussian constant.
        ``"beta-elbo"``: the training loss per sample (:meth:`beta_loss`).
    n_samples : int
        Number of latent samples for the "elbo" and "iwae" scores.
    seed : int
        Seed of the generator used at score time, created afresh at each call. The ``k`` noise
        vectors are shared by all samples of a batch (common random numbers), so a sample's
        score depends neither on the call nor on the batch it is scored in.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        beta: float = 1.0,
        score_type: str = "elbo",
        n_samples: int = 16,
        seed: int = 0,
        decoder_variance: str = "unit",
    ) -> None:
        super().__init__()
        if score_type not in SCORE_TYPES:
            raise ValueError(f"score_type must be one of {SCORE_TYPES}, got {score_type!r}")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.kind = kind
        self.latent_dim = int(latent_dim)
        self.beta = float(beta)
        self.score_type = score_type
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        if decoder_variance not in DECODER_VARIANCES:
            raise ValueError(f"decoder_variance must be one of {DECODER_VARIANCES}, got {decoder_variance!r}")
        self.decoder_variance = decoder_variance
        if decoder_variance == "optimal":  # sigma-VAE (Rybkin et al. 2021): sigma^2 = the mean squared error
            self.register_buffer("sigma2", torch.tensor(1.0))
        self.encoder = build_gaussian_encoder(self.input_shape, kind, hidden_dims, self.latent_dim)
        self.decoder = build_decoder(self.input_shape, kind, hidden_dims, self.latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(z | x)``, each ``(n, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(*_LOGVAR_RANGE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of ``p(x | z)``, shape ``(n, *input_shape)``."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction from the mean latent code."""
        mu, _ = self.encode(x)
        return self.decode(mu).view_as(x)

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error of every value of the mean reconstruction, ``x``'s shape."""
        return squared_reconstruction_error(self, x)

    def _var(self) -> torch.Tensor | float:
        return self.sigma2 if self.decoder_variance == "optimal" else 1.0

    def log_px_z(self, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` of the Gaussian decoder (variance 1, or ``sigma2``), ``(n,)``."""
        d = x[0].numel()
        var = self._var()
        sq = (recon.reshape(x.shape) - x).pow(2).flatten(1).sum(dim=1)
        if self.decoder_variance == "optimal":
            return -0.5 * sq / var - 0.5 * d * (LOG_2PI + torch.log(var))
        return -0.5 * sq - 0.5 * d * LOG_2PI

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = self.decode(z).view_as(x)
        sq = (recon - x).pow(2).flatten(1).sum(dim=1)
        if self.decoder_variance == "optimal":  # variance = this batch's mean squared error (detached)
            var = sq.detach().mean().clamp_min(1e-6) / x[0].numel()
            if self.training:
                with torch.no_grad():
                    self.sigma2.mul_(0.9).add_(0.1 * var)
            return (0.5 * sq / var + self.beta * gaussian_kl(mu, logvar)).mean()
        return (0.5 * sq + self.beta * gaussian_kl(mu, logvar)).mean()

    def log_weights(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Importance log-weights ``log p(x|z_k) + log p(z_k) - log q(z_k|x)``.

        Parameters
        ----------
        x : torch.Tensor
            ``(n, *input_shape)`` batch.
        eps : torch.Tensor
            ``(k, n, latent_dim)`` or ``(k, 1, latent_dim)`` (shared by all samples) standard
            normal noise; ``z_k = mu + eps_k * sigma``.

        Returns
        -------
        torch.Tensor
            ``(k, n)`` log-weights.
        """
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        rows = []
        for e in eps:
            z = mu + e * std
            log_q = gaussian_log_prob(z, mu, logvar)
            log_p = gaussian_log_prob(z)
            rows.append(self.log_px_z(x, self.decode(z)) + log_p - log_q)
        return torch.stack(rows)

    def _noise(self, x: torch.Tensor, k: int) -> torch.Tensor:
        gen = torch.Generator(device=x.device).manual_seed(self.seed)
        return torch.randn(k, 1, self.latent_dim, generator=gen, device=x.device, dtype=x.dtype)

    def neg_elbo(self, x: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
        """Negative ELBO per sample, Monte-Carlo over ``n_samples`` seeded samples, ``(n,)``."""
        k = self.n_samples if n_samples is None else int(n_samples)
        return -self.log_weights(x, self._noise(x, k)).mean(dim=0)

    def beta_loss(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The training loss per sample: ``mean_k 0.5 * ||x - f(z_k)||^2 + beta * KL``, ``(n,)``.

        ``eps`` as in :meth:`log_weights`. Divided by ``beta`` (and up to constants) it is the
        negative ELBO of a decoder with variance ``beta``: the model the beta-weighted loss trains.
        """
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        nll = torch.stack([0.5 * (self.decode(mu + e * std).reshape(x.shape) - x).pow(2).flatten(1).sum(dim=1)
                           for e in eps])
        return nll.mean(dim=0) / self._var() + self.beta * gaussian_kl(mu, logvar)

    def neg_iwae(self, x: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
        """Negative IWAE bound per sample with ``n_samples`` seeded samples, ``(n,)``."""
        k = self.n_samples if n_samples is None else int(n_samples)
        return -iwae_bound(self.log_weights(x, self._noise(x, k)), dim=0)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        if self.score_type == "recon":
            return per_sample_mse(x, self(x))
        if self.score_type == "elbo":
            return self.neg_elbo(x)
        if self.score_type == "beta-elbo":
            return self.beta_loss(x, self._noise(x, self.n_samples))
        return self.neg_iwae(x)


def build_vae(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, **kw: object
) -> VariationalAutoEncoderNet:
    """Build a :class:`VariationalAutoEncoderNet`; ``kw`` are its extra parameters (``beta``, ``score_type`` ...)."""
    return VariationalAutoEncoderNet(input_shape, kind, hidden_dims, latent_dim, **kw)

