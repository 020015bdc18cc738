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
    ``error_map(x)``
        Per-value error of ``x``'s shape (what explanations show), or ``None`` for a
        network that has no per-value error (Deep SVDD, SAGE: distances in feature space).
    """

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def score(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def error_map(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-value error of ``x``'s shape; ``None`` here (a network without a reconstruction)."""
        return None


def squared_reconstruction_error(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(module(x) - x) ** 2``: the per-value error of a network whose forward reconstructs."""
    return (module(x) - x).pow(2)
