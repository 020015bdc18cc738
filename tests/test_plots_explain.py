"""The explanation plots draw what they are given (checked on the artists, not just that a file exists)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from anomalib_ae import plots
from anomalib_ae.plots.agreement import agreement_matrix
from anomalib_ae.plots.export import figure, png_bytes
from anomalib_ae.plots.latent import project_2d


def test_roc_and_pr_curves_report_their_areas():
    y = np.r_[np.zeros(50), np.ones(50)]
    s = np.r_[np.linspace(0, 1, 50), np.linspace(0.5, 1.5, 50)]
    fig, axes = figure((8, 3), 1, 2)
    plots.plot_roc_curve(y, s, ax=axes[0], threshold=1.0)
    plots.plot_pr_curve(y, s, ax=axes[1])
    from sklearn.metrics import average_precision_score, roc_auc_score

    assert f"AUROC {roc_auc_score(y, s):.3f}" in axes[0].get_legend().get_texts()[0].get_text()
    assert f"AP {average_precision_score(y, s):.3f}" in axes[1].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="both normal"):
        plots.plot_roc_curve(np.zeros(5), np.arange(5.0))


def test_top_contributions_largest_on_top():
    fig, ax = figure()
    out = plots.plot_top_contributions([0.1, 3.0, 0.5, 2.0], ["a", "b", "c", "d"], k=3, ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["c", "d", "b"]  # barh draws bottom-up: largest ("b") on top


def test_map_overlay_draws_threshold_contour_and_mask():
    img = np.zeros((16, 16))
    amap = np.zeros((16, 16))
    amap[4:8, 4:8] = 1.0
    mask = amap > 0
    fig, ax = figure((3, 3))
    plots.plot_map_overlay(img, amap, threshold=0.5, mask=mask, ax=ax)
    assert len(ax.images) == 2 and len(ax.collections) >= 2  # heatmap over image; threshold + mask contours
    axes = plots.plot_map_grid(np.stack([img] * 3), np.stack([amap] * 3), threshold=0.5, ncols=2)
    assert np.asarray(axes).size == 4 and not np.asarray(axes).ravel()[-1].axison


def test_flagged_timeline_names_span_culprits():
    from anomalib_ae.explain.spans import span_culprits

    s = np.zeros(100)
    s[40:45] = 5.0
    c = np.ones((100, 3))
    c[40:45, 2] = 10.0
    spans = span_culprits(s, 1.0, c, ["cpu", "mem", "disk"], k=1)
    assert [(sp.start, sp.end, sp.culprits[0][0]) for sp in spans] == [(40, 45, "disk")]
    fig, ax = figure((8, 3))
    plots.plot_flagged_timeline(np.arange(100), s, 1.0, c, ["cpu", "mem", "disk"], k=1, ax=ax)
    assert any(t.get_text() == "disk" for t in ax.texts)
    assert len(png_bytes(fig)) > 1000


def test_latent_projection_and_agreement():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(100, 5)) * [5, 1, 0.1, 0.1, 0.1]
    P, Q = project_2d(train, train[:3] + 10)
    assert P.shape == (100, 2) and Q.shape == (3, 2)
    assert abs(np.corrcoef(P[:, 0], train[:, 0])[0, 1]) > 0.99  # PC 1 = the widest axis
    fig, ax = figure((4, 4))
    plots.plot_latent_projection(train, train[:3] + 10, new_scores=[1, 2, 3], threshold=1.5, ax=ax)
    assert len(ax.collections) == 3  # training, new, flagged outline
    v = rng.normal(size=(50, 1))
    C = agreement_matrix(np.hstack([v, v * 2 + 1, -v]))
    np.testing.assert_allclose(C, [[1, 1, -1], [1, 1, -1], [-1, -1, 1]], atol=1e-12)
    fig, ax = figure((4, 4))
    plots.plot_member_agreement(np.hstack([v, -v]), ["knn", "pca"], ax=ax)
    assert {t.get_text() for t in ax.texts} == {"1.00", "-1.00"}


def test_spectrogram_overlay_outlines_top_cells():
    S = np.random.default_rng(0).normal(size=(8, 30))
    E = np.zeros((8, 28))
    E[3, 10:14] = 5.0
    fig, ax = figure((5, 3))
    plots.plot_spectrogram_overlay(S, E, ax=ax, hop_seconds=0.032)
    assert len(ax.images) == 1 and len(ax.collections) >= 1


def test_timeline_culprits_with_nothing_flagged_come_from_the_top_scores():
    """No timestamp over the threshold: the culprit panel ranks the metrics over the 5 highest-scoring
    timestamps (the rows ``explain`` ranks), not over the whole series, and its title says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anomalib_ae.plots.maps import plot_telemetry_timeline

    n = 100
    scores = np.linspace(0.0, 1.0, n)
    contrib = np.zeros((n, 3))
    contrib[:, 0] = 1.0           # large everywhere: the whole-series total
    contrib[-5:, 0] = 0.0
    contrib[-5:, 2] = 10.0        # the culprit at the top-scoring timestamps
    axes = plot_telemetry_timeline(np.arange(n), scores, threshold=2.0, contributions=contrib,
                                   metric_names=["a", "b", "c"], k=1)
    title = axes[1].get_title()
    assert "none flagged" in title and title.endswith(": c")
    plt.close("all")
    axes = plot_telemetry_timeline(np.arange(n), scores, threshold=0.5, contributions=contrib,
                                   metric_names=["a", "b", "c"], k=1)
    assert "over flagged timestamps" in axes[1].get_title()
    plt.close("all")
