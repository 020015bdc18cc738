"""The autoencoder that pre-trains the Deep SVDD / Deep SAD network (Ruff et al.).

Its encoder is the bias-free network of :mod:`anomalib_ae.models.deepsvdd.network`; the decoder
mirrors it, also bias-free. After pre-training, :meth:`DeepSVDDNet.load_encoder_from` copies the
encoder's weights into the Deep SVDD network.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn
from torch.nn import functional as F

from anomalib_ae.models.ae.network import per_sample_mse
from anomalib_ae.models.deepsvdd.network import BN_EPS, SVDDConvNet, build_svdd_encoder
from anomalib_ae.nn.base import AnomalyModule, squared_reconstruction_error
from anomalib_ae.nn.blocks import mlp


class SVDDConvDecoderNet(nn.Module):
    """Bias-free mirror of :class:`SVDDConvNet`: linear, then (upsample 2, conv 5x5, BN, LeakyReLU)."""

    def __init__(
        self, out_shape: Sequence[int], channels: Sequence[int], feature_shape: Sequence[int], rep_dim: int
    ) -> None:
        super().__init__()
        self.out_shape = tuple(int(v) for v in out_shape)
        self.start_shape = tuple(int(v) for v in feature_shape)
        self.head = nn.Linear(rep_dim, prod(self.start_shape), bias=False)
        rev = [int(v) for v in channels][::-1]
        layers: list[nn.Module] = [nn.BatchNorm2d(rev[0], eps=BN_EPS, affine=False), nn.LeakyReLU()]
        outs = [*rev[1:], self.out_shape[0]]
        for i, (a, b) in enumerate(zip(rev, outs)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 5, padding=2, bias=False)]
            if i < len(rev) - 1:
                layers += [nn.BatchNorm2d(b, eps=BN_EPS, affine=False), nn.LeakyReLU()]
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.features(self.head(z).view(-1, *self.start_shape))
        if tuple(x.shape[-2:]) != self.out_shape[1:]:
            x = F.interpolate(x, size=self.out_shape[1:], mode="bilinear", align_corners=False)
        return x


class DeepSVDDAutoEncoderNet(AnomalyModule):
    """Autoencoder whose encoder is the bias-free Deep SVDD network, for pre-training.

    Same parameters as :class:`~anomalib_ae.models.deepsvdd.network.DeepSVDDNet` for the network (``input_shape``, ``kind``,
    ``hidden_dims``, ``latent_dim``, ``arch``); the decoder mirrors it, also bias-free. Loss
    and score are the mean squared reconstruction error.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        arch: str = "auto",
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        self.encoder = build_svdd_encoder(self.input_shape, kind, hidden_dims, latent_dim, arch)
        if isinstance(self.encoder, SVDDConvNet):
            channels = [m.out_channels for m in self.encoder.features if isinstance(m, nn.Conv2d)]
            feature_shape = self.encoder.feature_shape
            self.decoder: nn.Module = SVDDConvDecoderNet(self.input_shape, channels, feature_shape, latent_dim)
        else:
            dims = [prod(self.input_shape), *hidden_dims, latent_dim]
            self.decoder = nn.Sequential(
                mlp(dims[::-1], activation=nn.LeakyReLU, bias=False, batch_norm=True),
                nn.Unflatten(1, self.input_shape),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x)).view_as(x)

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error of every value of the pre-training reconstruction, ``x``'s shape."""
        return squared_reconstruction_error(self, x)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return per_sample_mse(x, self(x)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return per_sample_mse(x, self(x))


def build_svdd_autoencoder(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, **kw: object
) -> DeepSVDDAutoEncoderNet:
    """Build the matching :class:`DeepSVDDAutoEncoderNet` for pre-training; ``kw``: ``arch``."""
    return DeepSVDDAutoEncoderNet(input_shape, kind, hidden_dims, latent_dim, **kw)
