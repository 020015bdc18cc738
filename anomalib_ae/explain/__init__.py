"""Explanations: which features, pixels, spectrogram cells or metrics made a score high.

The functions live in :mod:`anomalib_ae.explain.attributions`, the typed result in
:mod:`anomalib_ae.explain.types`; pictures are drawn by :mod:`anomalib_ae.plots`.
"""

from anomalib_ae.explain.attributions import (
    feature_contributions,
    pixel_error_maps,
    spectrogram_error_map,
    telemetry_contributions,
    top_features,
)
from anomalib_ae.explain.types import Explanation

__all__ = [
    "Explanation",
    "feature_contributions",
    "pixel_error_maps",
    "spectrogram_error_map",
    "telemetry_contributions",
    "top_features",
]
