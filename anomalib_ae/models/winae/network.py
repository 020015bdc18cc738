"""Dense autoencoder over a window ``(T, d)`` whose score averages the metrics' RMSEs."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from anomalib_ae.models.ae.network import DenseAutoEncoderNet


def per_metric_rmse(x: torch.Tensor, recon: torch.Tensor, metric_axis: int = -1) -> torch.Tensor:
    """``(n, metrics)``: each metric's root-mean-squared error over the sample (see :func:`metric_rmse`)."""
    err = (recon - x).pow(2).movedim(metric_axis, 1)  # (n, metrics, ...)
    per_metric = err.flatten(2).mean(dim=2) if err.dim() > 2 else err
    return per_metric.sqrt()


def metric_rmse(x: torch.Tensor, recon: torch.Tensor, metric_axis: int = -1) -> torch.Tensor:
    """Mean over metrics of each metric's root-mean-squared error.

    ``metric_axis`` names the metric axis of a sample (``-1``: windows ``(n, T, d)``, whose
    metric RMSE runs over the window's time steps; vectors ``(n, d)``, whose metric RMSE is the
    absolute error; ``1``: images ``(n, C, H, W)``, one RMSE per channel). A metric whose error
    explodes (near-constant in training, moving in test) adds its RMSE, not its squared error,
    so it cannot drown the others.
    """
    return per_metric_rmse(x, recon, metric_axis).mean(dim=1)


class MetricRMSEAutoEncoderNet(DenseAutoEncoderNet):
    """:class:`~anomalib_ae.models.ae.network.DenseAutoEncoderNet` trained on the MSE, scored by
    :func:`metric_rmse`, each metric's RMSE divided by ``metric_scale`` first (a buffer, saved with
    the weights; all ones = no normalisation)."""

    def __init__(self, input_shape: Sequence[int], hidden_dims: Sequence[int], latent_dim: int,
                 metric_axis: int = -1) -> None:
        super().__init__(input_shape, hidden_dims, latent_dim)
        self.metric_axis = int(metric_axis)
        n_metrics = int(input_shape[metric_axis - 1 if metric_axis > 0 else metric_axis])
        self.register_buffer("metric_scale", torch.ones(n_metrics))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # model files written before metric_scale existed: no normalisation (all ones), as they scored
        state_dict.setdefault(prefix + "metric_scale", torch.ones_like(self.metric_scale))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def per_metric(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, metrics)`` RMSEs, not normalised."""
        return per_metric_rmse(x, self(x), self.metric_axis)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return (self.per_metric(x) / self.metric_scale).mean(dim=1)
