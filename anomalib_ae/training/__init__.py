"""Training: the Lightning system and the one place that builds a Trainer."""

from anomalib_ae.training.engine import (
    AnomalySystem,
    TensorBatches,
    TrainResult,
    batched_apply,
    fit_module,
    score_device,
    seeded,
)

__all__ = ["AnomalySystem", "TensorBatches", "TrainResult", "batched_apply", "fit_module", "score_device", "seeded"]
