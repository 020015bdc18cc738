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
from anomalib_ae.plots.agreement import plot_member_agreement
from anomalib_ae.plots.contributions import plot_top_contributions
from anomalib_ae.plots.curves import CurvesDisplay, plot_pr_curve, plot_roc_curve
from anomalib_ae.plots.grid import plot_map_grid, plot_map_overlay, plot_spectrogram_overlay
from anomalib_ae.plots.latent import plot_latent_projection
from anomalib_ae.plots.timeline import plot_flagged_timeline

__all__ = [
    "AnomalyMapDisplay",
    "CurvesDisplay",
    "plot_flagged_timeline",
    "plot_latent_projection",
    "plot_map_grid",
    "plot_map_overlay",
    "plot_member_agreement",
    "plot_pr_curve",
    "plot_roc_curve",
    "plot_spectrogram_overlay",
    "plot_top_contributions",
    "ScoreHistogramDisplay",
    "SpectrogramErrorDisplay",
    "TelemetryTimelineDisplay",
    "culprit_metrics",
    "plot_anomaly_map",
    "plot_roc",
    "plot_spectrogram_error",
    "plot_telemetry_timeline",
]
