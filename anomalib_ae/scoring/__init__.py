"""Numpy-only score post-processing: thresholds, calibration, combination. Never imports torch."""

from anomalib_ae.scoring.calibration import conformal_p_values, surprise, tail_p_values
from anomalib_ae.scoring.combination import COMBINE_RULES, aom, average, combine, maximization, median, moa
from anomalib_ae.scoring.threshold import (
    contamination_threshold,
    fpr_threshold,
    parse_threshold,
    pythresh_threshold,
    resolve_threshold,
)

__all__ = [
    "COMBINE_RULES",
    "aom",
    "average",
    "combine",
    "conformal_p_values",
    "contamination_threshold",
    "fpr_threshold",
    "maximization",
    "median",
    "moa",
    "parse_threshold",
    "pythresh_threshold",
    "resolve_threshold",
    "surprise",
    "tail_p_values",
]
