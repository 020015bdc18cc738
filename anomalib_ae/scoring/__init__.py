"""Numpy-only score post-processing: thresholds, calibration, combination. Never imports torch."""

from anomalib_ae.scoring.calibration import conformal_p_values
from anomalib_ae.scoring.threshold import contamination_threshold

__all__ = ["conformal_p_values", "contamination_threshold"]
