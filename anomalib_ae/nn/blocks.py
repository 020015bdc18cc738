"""Reusable encoders and decoders for vectors and images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def mlp(
    dims: Sequence[int],
    activation: type[nn.Module] = nn.ReLU,
    last_activation: bool = False,
    bias: bool = True,
    batch_norm: bool = False,
) -> nn.Sequential:
    """Linear layers ``dims[0] -> dims[1] -> ... -> dims[-1]`` with activations between.

    ``bias=False`` with ``batch_norm=True`` gives the bias-free, non-affine layers Deep SVDD
    needs so the hypersphere cannot collapse.
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b, bias=bias))
        last = i == len(dims) - 2
        if not last or last_activation:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b, affine=bias))
            layers.append(activation())
    return nn.Sequential(*layers)


def _padded_size(size: int, n_down: int) -> int:
    step = 2**n_down
    return -(-size // step) * step


class ConvEncoder(nn.Module):
    """Strided 3x3 convolutions, then a linear map to ``out_dim``.

    The input ``(n, C, H, W)`` is zero-padded so that H and W are multiples of
    ``2 ** len(channels)``; any image size from 8x8 upwards works.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int],
        out_dim: int,
        bias: bool = True,
        batch_norm: bool = False,
        activation: type[nn.Module] = nn.LeakyReLU,
    ) -> None:
        super().__init__()
        c, h, w = (int(v) for v in in_shape)
        n = len(channels)
        self.in_shape = (c, h, w)
        self.padded_hw = (_padded_size(h, n), _padded_size(w, n))
        layers: list[nn.Module] = []
        prev = c
        for ch in channels:
            layers.append(nn.Conv2d(prev, ch, 3, stride=2, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(ch, affine=bias))
            layers.append(activation())
            prev = ch
        self.features = nn.Sequential(*layers)
        self.feature_shape = (prev, self.padded_hw[0] // 2**n, self.padded_hw[1] // 2**n)
        flat = prev * self.feature_shape[1] * self.feature_shape[2]
        self.head = nn.Linear(flat, out_dim, bias=bias)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        ph = self.padded_hw[0] - x.shape[-2]
        pw = self.padded_hw[1] - x.shape[-1]
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph))
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.pad(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).flatten(1))


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: linear map, transposed convolutions, crop to the input."""

    def __init__(
        self,
        out_shape: Sequence[int],
        channels: Sequence[int],
        in_dim: int,
        activation: type[nn.Module] = nn.LeakyReLU,
    ) -> None:
        super().__init__()
        c, h, w = (int(v) for v in out_shape)
        n = len(channels)
        ph, pw = _padded_size(h, n), _padded_size(w, n)
        rev = list(channels)[::-1]
        self.out_shape = (c, h, w)
        self.start_shape = (rev[0], ph // 2**n, pw // 2**n)
        self.head = nn.Linear(in_dim, rev[0] * self.start_shape[1] * self.start_shape[2])
        layers: list[nn.Module] = [activation()]
        for a, b in zip(rev[:-1], rev[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), activation()]
        layers.append(nn.ConvTranspose2d(rev[-1], c, 4, stride=2, padding=1))
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.head(z).view(-1, *self.start_shape)
        x = self.features(x)
        return x[..., : self.out_shape[1], : self.out_shape[2]]
