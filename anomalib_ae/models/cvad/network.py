"""Cascade VAE and its discriminator, after Guo et al., "CVAD: A generic medical anomaly detector
based on Cascade VAE" (2021, arXiv:2110.15811).

Level 1 is a plain VAE ``x -> z1 -> x1``. Level 2 takes the features of the level-1 decoder at
an intermediate scale, concatenates them with the encoder features of the same scale (a
shallower stage than the one ``z1`` is computed from), and encodes them into a second, larger
latent ``z2`` decoded by a second decoder into ``x2``. The reconstruction is ``(x1 + x2) / 2``.

The loss follows the reference code: the mean squared error of the reconstruction plus
``beta`` times the KL of both levels divided by the number of input values, so both terms are
per input value. The per-sample version of that sum (with the mean latent codes) is the
"recon + KL" part of the CVAD score; the other part is the probability given by
:class:`CVADDiscriminatorNet` that an input is a reconstruction. Combining both (each normalised
with statistics of the training data) is the detector's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from anomalib_ae.models.ae.network import per_sample_mse
from anomalib_ae.nn.base import AnomalyModule, squared_reconstruction_error
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp
from anomalib_ae.nn.losses import gaussian_kl

_LOGVAR_RANGE = (-30.0, 20.0)


def _skip_stage(n_stages: int) -> int:
    """Stage (1-based) whose encoder features feed level 2: the middle of the network."""
    return max(1, n_stages // 2)


class CascadeOutput(NamedTuple):
    """Tensors of one cascade pass: both posteriors and both decoder outputs."""

    mu1: torch.Tensor
    logvar1: torch.Tensor
    mu2: torch.Tensor
    logvar2: torch.Tensor
    x1: torch.Tensor
    x2: torch.Tensor


class CVADNet(AnomalyModule):
    """Two-level cascade VAE for vectors, windows (dense nets) and images (conv nets).

    Parameters
    ----------
    input_shape : sequence of int
        Per-sample shape: ``(d,)``, ``(T, d)`` or ``(C, H, W)``.
    kind : {"vector", "window", "image"}
        Dense nets for vectors and windows, convolutional nets for images.
    hidden_dims : sequence of int
        Dense widths or conv channels per stage (at least one). Level 2 taps the encoder and
        the level-1 decoder at stage ``max(1, len(hidden_dims) // 2)``.
    latent_dim : int
        Size of ``z1``.
    latent2_factor : int
        ``z2`` has ``latent2_factor * latent_dim`` dimensions (4 in the reference code).
    beta : float
        Weight of the KL terms.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        latent2_factor: int = 4,
        beta: float = 1.0,
    ) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden_dims]
        if not hidden:
            raise ValueError("CVADNet needs at least one hidden layer / conv stage")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.kind = kind
        self.latent_dim = int(latent_dim)
        self.latent2_dim = int(latent2_factor) * self.latent_dim
        self.beta = float(beta)
        n = len(hidden)
        s = _skip_stage(n)
        self.skip_stage = s
        if kind == "image":
            self.encoder = ConvEncoder(self.input_shape, hidden, 2 * self.latent_dim)
            self.decoder1 = ConvDecoder(self.input_shape, hidden, self.latent_dim)
            self.decoder2 = ConvDecoder(self.input_shape, hidden, self.latent2_dim)
            # encoder.features = [conv, act] * n; decoder.features = [act, (convT, act) * (n-1), convT]
            self._enc_split = 2 * s
            self._dec_split = 1 + 2 * (n - s)
            deep_hw = self.encoder.feature_shape[1:]
            self.pool2: nn.Module = nn.AdaptiveAvgPool2d(deep_hw)
            in2 = 2 * hidden[s - 1] * deep_hw[0] * deep_hw[1]
        else:
            d = prod(self.input_shape)
            self.encoder_features = mlp([d, *hidden], last_activation=True)
            self.encoder_head = nn.Linear(hidden[-1], 2 * self.latent_dim)
            self.decoder1 = mlp([self.latent_dim, *hidden[::-1], d])
            self.decoder2 = mlp([self.latent2_dim, *hidden[::-1], d])
            # mlp = [Linear, act] * (len-1) + [Linear]
            self._enc_split = 2 * s
            self._dec_split = 2 * (n - s) + 2
            self.pool2 = nn.Identity()
            in2 = 2 * hidden[s - 1]
        self.level2_head = nn.Linear(in2, 2 * self.latent2_dim)

    # -- pieces ---------------------------------------------------------------------------
    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Skip features, mean and log-variance of ``q(z1 | x)``."""
        if self.kind == "image":
            h = self.encoder.pad(x)
            skip = self.encoder.features[: self._enc_split](h)
            deep = self.encoder.features[self._enc_split :](skip)
            stats = self.encoder.head(deep.flatten(1))
        else:
            h = x.flatten(1)
            skip = self.encoder_features[: self._enc_split](h)
            deep = self.encoder_features[self._enc_split :](skip)
            stats = self.encoder_head(deep)
        mu, logvar = stats.chunk(2, dim=1)
        return skip, mu, logvar.clamp(*_LOGVAR_RANGE)

    def _decode1(self, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Level-1 decoder features at the skip scale and the level-1 output ``x1``."""
        if self.kind == "image":
            dec = self.decoder1
            h = dec.head(z1).view(-1, *dec.start_shape)
            feats = dec.features[: self._dec_split](h)
            out = dec.features[self._dec_split :](feats)
            out = out[..., : dec.out_shape[1], : dec.out_shape[2]]
        else:
            feats = self.decoder1[: self._dec_split](z1)
            out = self.decoder1[self._dec_split :](feats)
        return feats, out.reshape(-1, *self.input_shape)

    def _decode2(self, z2: torch.Tensor) -> torch.Tensor:
        return self.decoder2(z2).reshape(-1, *self.input_shape)

    def _level2_stats(self, dec_feats: torch.Tensor, enc_feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.pool2(torch.cat([dec_feats, enc_feats], dim=1)).flatten(1)
        mu, logvar = self.level2_head(h).chunk(2, dim=1)
        return mu, logvar.clamp(*_LOGVAR_RANGE)

    def run(self, x: torch.Tensor, sample: bool = False) -> CascadeOutput:
        """One pass; ``sample=True`` draws both latents, otherwise their means are used."""
        def draw(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
            return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu

        skip, mu1, logvar1 = self._encode(x)
        dec_feats, x1 = self._decode1(draw(mu1, logvar1))
        mu2, logvar2 = self._level2_stats(dec_feats, skip)
        x2 = self._decode2(draw(mu2, logvar2))
        return CascadeOutput(mu1=mu1, logvar1=logvar1, mu2=mu2, logvar2=logvar2, x1=x1, x2=x2)

    # -- public API -----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction ``(x1 + x2) / 2`` from the mean latent codes."""
        return self.reconstruct(x)

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error of every value of the deterministic reconstruction, ``x``'s shape."""
        return squared_reconstruction_error(self, x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction from the mean latent codes, same shape as ``x``."""
        out = self.run(x, sample=False)
        return (0.5 * (out.x1 + out.x2)).view_as(x)

    def _recon_kl(self, x: torch.Tensor, out: CascadeOutput) -> torch.Tensor:
        recon = (0.5 * (out.x1 + out.x2)).view_as(x)
        kl = gaussian_kl(out.mu1, out.logvar1) + gaussian_kl(out.mu2, out.logvar2)
        return per_sample_mse(x, recon) + self.beta * kl / x[0].numel()

    def recon_kl(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample mean squared reconstruction error + ``beta`` * (KL1 + KL2) / D, ``(n,)``.

        Uses the mean latent codes, so it is deterministic.
        """
        return self._recon_kl(x, self.run(x, sample=False))

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._recon_kl(x, self.run(x, sample=True)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self.recon_kl(x)


class CVADDiscriminatorNet(nn.Module):
    """Binary classifier telling real (normal) inputs (label 0) from reconstructions (label 1).

    Parameters
    ----------
    input_shape : sequence of int
        Per-sample shape.
    kind : {"vector", "window", "image"}
        Dense net for vectors and windows, strided conv net for images.
    hidden_dims : sequence of int
        Dense widths or conv channels per stage.
    """

    def __init__(self, input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int]) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        hidden = [int(h) for h in hidden_dims]
        if kind == "image":
            self.net: nn.Module = ConvEncoder(self.input_shape, hidden, 1)
        else:
            self.net = nn.Sequential(
                nn.Flatten(1), mlp([prod(self.input_shape), *hidden, 1], activation=nn.LeakyReLU)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of "is a reconstruction", ``(n,)``."""
        return self.net(x).reshape(-1)

    def loss(self, x_real: torch.Tensor, x_recon: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy with real inputs as 0 and reconstructions as 1.

        ``x_recon`` should be detached from the generator by the caller when the VAE must not
        receive the discriminator's gradients.
        """
        logit_real = self(x_real)
        logit_fake = self(x_recon)
        loss_real = F.binary_cross_entropy_with_logits(logit_real, torch.zeros_like(logit_real))
        loss_fake = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
        return 0.5 * (loss_real + loss_fake)

    def prob_fake(self, x: torch.Tensor) -> torch.Tensor:
        """Probability that each input is a reconstruction, ``(n,)`` in ``[0, 1]``."""
        return torch.sigmoid(self(x))



def build_cvad(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, **kw: object
) -> CVADNet:
    """Build a :class:`CVADNet`; ``kw``: ``latent2_factor``, ``beta``."""
    return CVADNet(input_shape, kind, hidden_dims, latent_dim, **kw)


def build_cvad_discriminator(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int | None = None, **kw: object
) -> CVADDiscriminatorNet:
    """Build a :class:`CVADDiscriminatorNet`; ``latent_dim`` is accepted for a uniform signature and unused."""
    return CVADDiscriminatorNet(input_shape, kind, hidden_dims, **kw)
