"""The only place that imports matplotlib (lazily, inside functions)."""

from anomalib_ae.plots.scores import ScoreHistogramDisplay, plot_roc

__all__ = ["ScoreHistogramDisplay", "plot_roc"]
