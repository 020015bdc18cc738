"""``winae``: dense window autoencoder scored by the mean of the metrics' RMSEs (telemetry)."""

from __future__ import annotations

import numpy as np
import torch

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.winae.network import MetricRMSEAutoEncoderNet
from anomalib_ae.registry import register_detector
from anomalib_ae.validation import StrOptions


@register_detector("winae")
class WindowAutoEncoder(BaseDeepDetector):
    """Autoencoder for telemetry windows ``(n, T, d)`` (or vectors ``(n, d)``).

    The network is the dense autoencoder of ``ae`` on the flattened, standardised window,
    trained on the mean squared error. The score differs: each metric's root-mean-squared
    reconstruction error over the window, averaged over the metrics. On SMD (19 machines,
    windows of 30 rows) this ranked anomalies better than the window's plain MSE (see
    ``docs/domains.md``, telemetry). Images ``(n, C, H, W)`` are accepted (dense network on the
    pixels, one RMSE per channel) but ``ae``'s convolutional network suits them better.

    Parameters
    ----------
    metric_norm : {"none", "train"}, default "none"
        ``"train"``: each metric's RMSE is divided by its mean RMSE on held-out normal training
        windows (the validation split; the training windows when there is none) before the
        metrics are averaged, so a metric the network reconstructs well in normal operation
        counts more when it breaks (floor: a tenth of the metrics' median scale, so a metric
        that never moved in training cannot explode). Measured on the training half only
        (``benchmarks/results/telemetry_levers.md``); no shipped config uses it
        (``configs/hpc_accuracy.yaml`` is ``ae``).
    Others
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector`.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 30, 4))
    >>> det = anomalib_ae.create("winae", epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {**BaseDeepDetector._constraints, "metric_norm": [StrOptions({"none", "train"})]}

    #: floor of a metric's scale, as a share of the median scale over the metrics
    METRIC_SCALE_FLOOR = 0.1

    def __init__(
        self,
        *,
        metric_norm="none",
        hidden_dims=None,
        latent_dim=None,
        epochs=10,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        patience=5,
        input_kind="auto",
        random_state=None,
        accelerator="auto",
        strategy="auto",
        devices=1,
        num_nodes=1,
        precision=None,
        verbose="auto",
        contamination=0.1,
        threshold=None,
    ):
        self.metric_norm = metric_norm
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.input_kind = input_kind
        self.random_state = random_state
        self.accelerator = accelerator
        self.strategy = strategy
        self.devices = devices
        self.num_nodes = num_nodes
        self.precision = precision
        self.verbose = verbose
        self.contamination = contamination
        self.threshold = threshold

    def _build_module(self):
        axis = 1 if self.input_kind_ == "image" else -1
        return MetricRMSEAutoEncoderNet(self.model_shape_, self._hidden_dims(), self._latent_dim(), metric_axis=axis)

    #: the metric scale also runs on out-of-core rows (StandardizedRows)
    _streaming_overrides = ("_train",)

    def _train(self, X_train, y_train, X_val, y_val, seed: int) -> None:
        super()._train(X_train, y_train, X_val, y_val, seed)
        if self.metric_norm == "train":
            ref = X_val if X_val is not None and len(X_val) else X_train
            self.module_.metric_scale.copy_(self._metric_scale(ref))

    def _metric_scale(self, Xs: np.ndarray) -> torch.Tensor:
        """Mean RMSE of each metric over standardised normal samples ``Xs``, floored."""
        rmse = self._apply_fixed(self.module_.per_metric, Xs)  # (n, metrics)
        scale = np.asarray(rmse, dtype=np.float64).reshape(len(Xs), -1).mean(axis=0)
        floor = self.METRIC_SCALE_FLOOR * float(np.median(scale)) if scale.size else 0.0
        scale = np.maximum(scale, max(floor, 1e-12))
        return torch.as_tensor(scale, dtype=self.module_.metric_scale.dtype)
