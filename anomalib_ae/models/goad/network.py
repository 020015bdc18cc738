"""Transformation-classification network: which of ``K`` known transformations was applied?

Classification-based anomaly detection (Golan & El-Yaniv, NeurIPS 2018, "GEOM"; Hendrycks et
al., NeurIPS 2019, rotation prediction; Bergman & Hoshen, ICLR 2020, "GOAD" for general data):
a classifier learns, on normal samples only, to tell which transformation was applied to a
sample. On samples unlike the training data it cannot, so the score is its mean negative
log-likelihood of the right transformation over all ``K`` (Hendrycks et al.'s score).

Transformations by input kind (model layout of :mod:`anomalib_ae.detectors._deep`):

* ``"image"`` ``(C, H, W)``: the four rotations by multiples of 90 degrees (square images), else
  identity, horizontal flip, vertical flip and the 180-degree rotation; a small convolutional
  classifier (3x3 convolutions, batch norm, 2x2 max pooling between stages, global average
  pooling);
* ``"vector"`` ``(D,)`` and ``"window"`` ``(T, d)`` (flattened): ``K`` fixed random linear maps
  ``D -> latent_dim`` drawn with the fit's seed (GOAD's random affine transformations, without
  the offset) and a dense classifier shared by all of them. The maps are buffers: they are saved
  in the model file with the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod, sqrt

import torch
from torch import nn
from torch.nn import functional as F

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import mlp

#: Transformations of an image batch ``(n, C, H, W)``, by name (all keep the shape). Rotations are
#: written as flips and transposes (what ``torch.rot90`` does), which ONNX export supports.
IMAGE_TRANSFORMS = {
    "rot0": lambda x: x,
    "rot90": lambda x: torch.flip(x, dims=(3,)).transpose(2, 3),
    "rot180": lambda x: torch.flip(x, dims=(2, 3)),
    "rot270": lambda x: torch.flip(x, dims=(2,)).transpose(2, 3),
    "hflip": lambda x: torch.flip(x, dims=(3,)),
    "vflip": lambda x: torch.flip(x, dims=(2,)),
}


def image_transforms(input_shape: Sequence[int]) -> tuple[str, ...]:
    """The four rotations for square images, identity / flips / 180-degree rotation otherwise."""
    _, h, w = (int(v) for v in input_shape)
    return ("rot0", "rot90", "rot180", "rot270") if h == w else ("rot0", "hflip", "vflip", "rot180")


def conv_classifier(channels: int, widths: Sequence[int], n_classes: int) -> nn.Sequential:
    """3x3 conv + batch norm + ReLU per width, 2x2 max pooling between stages, global average pool, linear."""
    layers: list[nn.Module] = []
    c = channels
    for i, w in enumerate(widths):
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)]
    return nn.Sequential(*layers)


class TransformClassifierNet(AnomalyModule):
    """Classifier of the transformation applied to a sample; score = mean NLL of the right one."""

    def __init__(
        self, input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, n_transforms: int
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        self.kind = kind
        if kind == "image":
            self.transforms = image_transforms(self.input_shape)
            self.n_transforms = len(self.transforms)
            self.classifier = conv_classifier(self.input_shape[0], hidden_dims, self.n_transforms)
        else:
            if int(n_transforms) < 2:
                raise ValueError(f"n_transforms must be at least 2, got {n_transforms}")
            self.transforms = ()
            self.n_transforms = int(n_transforms)
            d = prod(self.input_shape)
            # fixed random maps, drawn from the global generator (seeded by the fit)
            self.register_buffer("projections", torch.randn(self.n_transforms, d, int(latent_dim)) / sqrt(d))
            self.classifier = mlp([int(latent_dim), *hidden_dims, self.n_transforms], batch_norm=True)

    def transformed(self, x: torch.Tensor) -> torch.Tensor:
        """``(K * n, ...)``: every transformation of the batch, transformation after transformation."""
        if self.kind == "image":
            return torch.cat([IMAGE_TRANSFORMS[name](x) for name in self.transforms])
        z = torch.einsum("nd,kdr->knr", x.flatten(1), self.projections)
        return z.reshape(-1, z.shape[-1])

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(K * n, K)``: the classifier's logits of every transformed sample, in :meth:`transformed`'s order."""
        return self.classifier(self.transformed(x))

    def _nll(self, x: torch.Tensor) -> torch.Tensor:
        """``(K, n)``: negative log-likelihood of the right transformation, per transformation and sample."""
        k = self.n_transforms
        target = torch.arange(k, device=x.device).repeat_interleave(x.shape[0])
        return F.cross_entropy(self._logits(x), target, reduction="none").view(k, x.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, K, K)``: for each sample and transformation, the classifier's logits."""
        return self._logits(x).view(self.n_transforms, x.shape[0], -1).transpose(0, 1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._nll(x).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self._nll(x).mean(dim=0)
