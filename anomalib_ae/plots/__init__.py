"""The only place that imports matplotlib (lazily, inside functions)."""

from anomalib_ae.plots.maps import (
    AnomalyMapDisplay,
    SpectrogramErrorDisplay,
    TelemetryTimelineDisplay,
    culprit_metrics,
    plot_anomaly_map,
    plot_spectrogram_error,
    plot_telemetry_timeline,
)
from anomalib_ae.plots.scores import ScoreHistogramDisplay, plot_roc

__all__ = [
    "AnomalyMapDisplay",
    "ScoreHistogramDisplay",
    "SpectrogramErrorDisplay",
    "TelemetryTimelineDisplay",
    "culprit_metrics",
    "plot_anomaly_map",
    "plot_roc",
    "plot_spectrogram_error",
    "plot_telemetry_timeline",
]
