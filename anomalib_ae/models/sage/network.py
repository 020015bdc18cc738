"""SAGE network: an autoencoder with an optional task head, and its raw OOD signals.

After "Generalization is not a universal guarantee: Estimating similarity to training data
with an ensemble out-of-distribution metric" (SAGE). The detector in
:mod:`anomalib_ae.models.sage.detector` turns the signals into empirical probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from anomalib_ae.models.ae.network import build_autoencoder, per_sample_mse
from anomalib_ae.nn.base import AnomalyModule


class SAGENet(AnomalyModule):
    """Autoencoder plus, when ``n_classes >= 2``, a linear task head on the latent code.

    Training loss: mean squared reconstruction error, plus ``task_weight`` times the
    cross-entropy of the head on the task labels ``y`` (class indices; negative = unlabelled)
    when they are given.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        n_classes: int = 0,
        task_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.autoencoder = build_autoencoder(input_shape, kind, hidden_dims, latent_dim)
        self.head = nn.Linear(latent_dim, n_classes) if n_classes >= 2 else None
        self.task_weight = float(task_weight)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.encode(x)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z = self.encode(x)
        recon = self.autoencoder.decoder(z).view_as(x)
        loss = per_sample_mse(x, recon).mean()
        if self.head is not None and y is not None:
            labels = y.long().reshape(-1)
            known = labels >= 0
            if bool(known.any()):
                loss = loss + self.task_weight * F.cross_entropy(self.head(z[known]), labels[known])
        return loss

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction error (the detector combines it with the other signals)."""
        return per_sample_mse(x, self.autoencoder(x))

    def signals(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latent codes (n, latent_dim), raw signals (n, k))``.

        Signals: reconstruction error, and with a task head the task loss against the
        predicted class, ``-log max softmax`` (no labels exist for new data).
        """
        z = self.encode(x)
        recon = self.autoencoder.decoder(z).view_as(x)
        cols = [per_sample_mse(x, recon)]
        if self.head is not None:
            cols.append(-torch.log_softmax(self.head(z), dim=1).max(dim=1).values)
        return z, torch.stack(cols, dim=1)


def knn_distance(queries: torch.Tensor, reference: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Mean Euclidean distance of each query to its ``k`` nearest reference rows (exact, per-row)."""
    k = max(1, min(int(k), reference.shape[0]))
    out = []
    for start in range(0, queries.shape[0], chunk):
        d = torch.cdist(queries[start : start + chunk], reference, compute_mode="donot_use_mm_for_euclid_dist")
        out.append(d.topk(k, dim=1, largest=False).values.mean(dim=1))
    return torch.cat(out) if out else queries.new_zeros(0)
