"""Attributions as arrays, and the plots drawn from them."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.explain import (
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
    assert ex["maps"].shape == (3, 32, 32) and len(ex["top"]) == 3
    plots.AnomalyMapDisplay.from_explanation(ex).figure_.savefig(tmp_path / "maps.png")

    d = datasets.load_smd_sample()
    tp = Pipeline("ae", kind="telemetry", detector_params=FAST,
                  adapter_params={"window": 8, "stride": 4, "metric_cols": d["metric_cols"]}).fit(d["train"].iloc[:600])
    ex = tp.explain(d["test"].iloc[:400], top_k=5)
    assert ex["row_contributions"].shape == (400, 38)
    disp = plots.TelemetryTimelineDisplay.from_explanation(ex, threshold=tp.threshold_)
    assert len(disp.culprits_) == 3 and set(disp.culprits_) <= set(d["metric_cols"])

    m = datasets.load_mimii_sample()
    ap = Pipeline("ae", kind="audio", detector_params=FAST).fit(m["paths"][:6])
    ex = ap.explain(m["paths"][30:33], top_k=1)
    assert ex["maps"][0].shape == ex["log_mels"][0].shape == (128, 63)
    plots.SpectrogramErrorDisplay.from_explanation(ex, hop_seconds=512 / 16000).figure_.savefig(tmp_path / "s.png")
    plt.close("all")
    assert (tmp_path / "maps.png").stat().st_size > 0 and (tmp_path / "s.png").stat().st_size > 0
