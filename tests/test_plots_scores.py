import numpy as np

from anomalib_ae.plots import ScoreHistogramDisplay


def test_histogram_threshold_and_log_axis():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    heavy = np.exp(rng.normal(size=300) * 2)  # positive, heavy-tailed (reconstruction errors)
    disp = ScoreHistogramDisplay.from_scores(heavy, threshold=2.0, labels=(heavy > 5).astype(int))
    assert disp.ax_.get_xscale() == "log"
    assert any("threshold" in t.get_text() for t in disp.ax_.get_legend().get_texts())
    plt.close(disp.figure_)
    signed = rng.normal(size=300)  # scores that can be negative: linear axis
    disp = ScoreHistogramDisplay.from_scores(signed, threshold=0.5)
    assert disp.ax_.get_xscale() == "linear"
    plt.close(disp.figure_)
