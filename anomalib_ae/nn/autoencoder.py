"""Dense and convolutional autoencoders scored by mean squared reconstruction error."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp


def per_sample_mse(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each sample over all its non-batch dimensions."""
    return (recon - x).pow(2).flatten(1).mean(dim=1)


class DenseAutoEncoder(AnomalyModule):
    """Fully connected autoencoder for vectors ``(n, d)`` and windows ``(n, T, d)`` (flattened)."""

    def __init__(self, input_shape: Sequence[int], hidden_dims: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        d = prod(self.input_shape)
        dims = [d, *hidden_dims, latent_dim]
        self.encoder = mlp(dims)
        self.decoder = mlp(dims[::-1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)).view_as(x)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return per_sample_mse(x, self(x)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return per_sample_mse(x, self(x))


class ConvAutoEncoder(AnomalyModule):
    """Convolutional autoencoder for images ``(n, C, H, W)``; ``channels`` per strided stage."""

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        self.encoder = ConvEncoder(self.input_shape, channels, latent_dim)
        self.decoder = ConvDecoder(self.input_shape, channels, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel squared error averaged over channels: ``(n, H, W)``."""
        return (self(x) - x).pow(2).mean(dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return per_sample_mse(x, self(x)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return per_sample_mse(x, self(x))


def build_autoencoder(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int
) -> AnomalyModule:
    """Dense AE for ``kind`` "vector"/"window", convolutional AE for "image"."""
    if kind == "image":
        return ConvAutoEncoder(input_shape, hidden_dims, latent_dim)
    return DenseAutoEncoder(input_shape, hidden_dims, latent_dim)
