"""Attributions as arrays, and the plots drawn from them."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.explain import (
    Explanation,
    feature_contributions,
    pixel_error_maps,
    spectrogram_error_map,
    top_features,
)
from anomalib_ae.pipeline import Pipeline

FAST = {"epochs": 2, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def test_reconstruction_contributions_average_to_score(blobs_with_outliers):
    X_train, X_test, y = blobs_with_outliers
    det = anomalib_ae.create("ae", **FAST).fit(X_train)
    c, method = feature_contributions(det, X_test)
    assert method == "reconstruction" and c.shape == X_test.shape and (c >= 0).all()
    np.testing.assert_allclose(c.mean(axis=1), det.score(X_test), rtol=1e-4)  # ae score = mean squared error


def test_zscore_fallback_needs_reference():
    class NoModule:
        pass

    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="reference"):
        feature_contributions(NoModule(), X)
    c, method = feature_contributions(NoModule(), X, reference=(np.zeros(2), np.full(2, 0.5)))
    assert method == "zscore" and np.allclose(c, 4.0)


def test_pixel_error_maps_shape():
    d = datasets.load_pneumonia_sample()
    det = anomalib_ae.create("ae", input_kind="image", **FAST).fit(d["x_train"][:40].astype(np.float32) / 255)
    maps = pixel_error_maps(det, d["x_test"][:3].astype(np.float32) / 255)
    assert maps.shape == (3, 28, 28) and np.isfinite(maps).all()


def test_spectrogram_error_map_inverts_context_stacking():
    n_mels, ctx, T = 4, 3, 10
    spec = np.arange(n_mels * T, dtype=float).reshape(n_mels, T)
    stacked = np.concatenate([spec[:, t:t + T - ctx + 1].T for t in range(ctx)], axis=1)
    np.testing.assert_allclose(spectrogram_error_map(stacked, n_mels, ctx), spec)


def test_top_features_shares():
    tops = top_features(np.array([[1.0, 3.0, 0.0], [np.nan] * 3]), ["a", "b", "c"], k=2)
    assert tops[0] == [("b", 0.75), ("a", 0.25)] and tops[1] == []


def test_pipeline_explanations_and_plots(tmp_path):
    import matplotlib.pyplot as plt

    from anomalib_ae import plots

    images = datasets.pneumonia_png_dir()
    pipe = Pipeline("ae", kind="image", adapter_params={"size": 32}, detector_params=FAST).fit(images)
    ex = pipe.explain(images, top_k=3)
    assert isinstance(ex, Explanation) and ex.kind == "image" and ex.method == "residual"  # images: residual by default
    assert ex.attributions.shape == (3, 32, 32) and len(ex.top) == 3 and ex.images.shape == (3, 32, 32)
    assert ex.contributions.shape == (3, 32 * 32) and ex.feature_names == ["pixel"]
    np.testing.assert_array_equal(ex.scores, np.sort(pipe.score(images))[::-1][:3])
    assert [p.split("/")[-1] for p in ex.item_ids] == [pipe.score_items(images).table["path"].iloc[i].split("/")[-1]
                                                       for i in ex.top]
    plots.AnomalyMapDisplay.from_explanation(ex).figure_.savefig(tmp_path / "maps.png")

    d = datasets.load_smd_sample()
    tp = Pipeline("ae", kind="telemetry", detector_params=FAST,
                  adapter_params={"window": 8, "stride": 4, "metric_cols": d["metric_cols"]}).fit(d["train"].iloc[:600])
    ex = tp.explain(d["test"].iloc[:400], top_k=5)
    assert ex.row_contributions.shape == (400, 38) and ex.contributions.shape == (5, 38)
    assert ex.feature_names == d["metric_cols"]
    disp = plots.TelemetryTimelineDisplay.from_explanation(ex, threshold=tp.threshold_)
    assert len(disp.culprits_) == 3 and set(disp.culprits_) <= set(d["metric_cols"])

    m = datasets.load_mimii_sample()
    ap = Pipeline("ae", kind="audio", detector_params=FAST).fit(m["paths"][:6])
    ex = ap.explain(m["paths"][30:33], top_k=1)
    assert ex.attributions[0].shape == ex.log_mels[0].shape == (128, 63)
    assert ex.contributions.shape == (1, 128) and ex.feature_names[0] == "mel000"
    plots.SpectrogramErrorDisplay.from_explanation(ex, hop_seconds=512 / 16000).figure_.savefig(tmp_path / "s.png")
    plt.close("all")
    assert (tmp_path / "maps.png").stat().st_size > 0 and (tmp_path / "s.png").stat().st_size > 0


def test_every_deep_network_has_a_per_value_error_map():
    """error_map(x) has x's shape (reconstructing networks) or is None (feature-space distances)."""
    import torch

    from anomalib_ae.models.ae.network import build_autoencoder
    from anomalib_ae.models.cvad.network import build_cvad
    from anomalib_ae.models.mae.network import build_mae
    from anomalib_ae.models.deepsvdd.pretrain import build_svdd_autoencoder
    from anomalib_ae.models.vae.network import build_vae

    x = torch.randn(4, 1, 8, 8)
    torch.manual_seed(0)
    for net in (build_autoencoder((1, 8, 8), "image", (4, 8), 4), build_mae((1, 8, 8), "image", (8, 8), 4),
                build_vae((1, 8, 8), "image", (4, 8), 4), build_cvad((1, 8, 8), "image", (4, 8), 4),
                build_svdd_autoencoder((1, 8, 8), "image", (4, 8), 4)):
        with torch.no_grad():
            assert net.eval().error_map(x).shape == x.shape, type(net).__name__
    from anomalib_ae.models.deepsvdd.network import build_deep_svdd

    assert build_deep_svdd((1, 8, 8), "image", (4, 8), 4).error_map(x) is None


def test_zscore_contributions_for_detectors_without_reconstruction(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    det = anomalib_ae.create("pyod.knn").fit(X_train)
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    c, method = feature_contributions(det, X_test[:3], (mean, scale))
    assert method == "zscore" and c.shape == (3, X_train.shape[1])


def test_reference_statistics_come_from_a_seeded_sample_above_the_cap(monkeypatch):
    """Above REFERENCE_SAMPLES rows the median / residual spreads use a seeded sample (fit stays
    cheap); mean and scale use every row; below the cap nothing is sampled."""
    import anomalib_ae
    from anomalib_ae.explain import reference

    X = np.random.default_rng(3).normal(size=(400, 5)).astype(np.float32)
    X[:, 2] += np.arange(400) / 40.0  # a column whose median depends on which rows are taken
    monkeypatch.setattr(reference, "REFERENCE_SAMPLES", 100)
    det = anomalib_ae.create("pyod.knn", random_state=7).fit(X)
    sample = reference.reference_sample(det, X)
    assert sample.shape == (100, 5)
    assert np.array_equal(sample, reference.reference_sample(det, X))  # seeded: the same rows again
    np.testing.assert_allclose(det.train_median_, np.median(sample.astype(np.float64), axis=0))
    np.testing.assert_allclose(det.train_mean_, X.astype(np.float64).mean(axis=0))
    small = X[:100]
    assert reference.reference_sample(det, small) is small
