"""The protocol every trainable anomaly model follows."""

from __future__ import annotations

import torch
from torch import nn


class AnomalyModule(nn.Module):
    """A torch module that knows its training loss and its anomaly score.

    The Lightning system in :mod:`anomalib_ae.training` calls only these two methods, so a new
    model needs no training code of its own.

    ``loss(x, y=None)``
        Scalar loss of a training batch. ``x`` is the standardised input batch; ``y`` is an
        optional per-sample label tensor (e.g. Deep SAD's known anomalies).
    ``score(x)``
        One float per sample, higher = more anomalous; called under ``torch.no_grad()`` in
        eval mode and must be deterministic there.
    """

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def score(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
