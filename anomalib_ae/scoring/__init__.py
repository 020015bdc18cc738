"""Numpy-only score post-processing and evaluation: thresholds, calibration, combination,
time-series detection metrics (best F1, point-adjusted F1, range-based F1). Never imports torch."""

from anomalib_ae.scoring.best_f1 import F1Result, best_f1
from anomalib_ae.scoring.calibration import conformal_p_values, surprise, tail_p_values
from anomalib_ae.scoring.combination import COMBINE_RULES, aom, average, combine, maximization, median, moa
from anomalib_ae.scoring.point_adjust import best_f1_point_adjusted, point_adjust_scores
from anomalib_ae.scoring.range_f1 import RangeF1Result, best_range_f1, range_f1, range_precision_recall
from anomalib_ae.scoring.segments import segments
from anomalib_ae.scoring.threshold import (
    contamination_threshold,
    fpr_threshold,
    parse_threshold,
    pythresh_threshold,
    resolve_threshold,
)

__all__ = [
    "COMBINE_RULES",
    "F1Result",
    "RangeF1Result",
    "aom",
    "average",
    "best_f1",
    "best_f1_point_adjusted",
    "best_range_f1",
    "combine",
    "conformal_p_values",
    "contamination_threshold",
    "fpr_threshold",
    "maximization",
    "median",
    "moa",
    "parse_threshold",
    "point_adjust_scores",
    "pythresh_threshold",
    "range_f1",
    "range_precision_recall",
    "resolve_threshold",
    "segments",
    "surprise",
    "tail_p_values",
]
