"""``subspace``: the planted defect is found, the map explains the score, model files reload exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import anomalib_ae
from anomalib_ae.explain.methods import attribute
from anomalib_ae.models.subspace.network import SubspaceNet, gaussian_kernel


def aligned_tiles(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Aligned normal images: a fixed vignetting pattern, varying exposure and a few shared texture modes, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    base = 0.5 - 0.3 * ((yy - 0.5) ** 2 + (xx - 0.5) ** 2)
    modes = np.stack([np.sin(2 * np.pi * k * xx) * 0.05 for k in (1, 2, 3)])
    w = rng.normal(size=(n, 3))
    X = base * rng.uniform(0.8, 1.2, (n, 1, 1)) + np.einsum("nk,khw->nhw", w, modes)
    return (X + rng.normal(0, 0.01, X.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    return anomalib_ae.create("subspace", contamination=0.05).fit(aligned_tiles(80, 0))


def test_planted_bright_square_lies_in_the_top_5_percent_of_the_map(fitted):
    X = aligned_tiles(10, 1)
    X[:, 10:14, 20:24] += 0.15  # a bright square, dimmer than the exposure changes of normal tiles
    maps = fitted.error_map(X).reshape(X.shape)
    square = np.zeros(X.shape[1:], bool)
    square[10:14, 20:24] = True
    for m in maps:
        assert m[square].min() >= np.quantile(m, 0.95)
        assert square[np.unravel_index(np.argmax(m), m.shape)]
    # and the image score (the map's maximum) flags the defective tiles
    clean = fitted.score(aligned_tiles(10, 2))
    assert fitted.score(X).min() > clean.max()
    assert fitted.predict(X).tolist() == [-1] * 10


def test_explain_returns_the_detectors_map(fitted):
    X = aligned_tiles(3, 3)
    A, method = attribute(fitted, X)
    assert method == "residual"
    np.testing.assert_allclose(A.reshape(X.shape), fitted.error_map(X).reshape(X.shape), rtol=1e-6)


def test_save_load_scores_and_maps_identically(fitted, tmp_path):
    X = aligned_tiles(5, 4)
    fitted.save(tmp_path / "m.aad")
    back = anomalib_ae.load(tmp_path / "m.aad")
    np.testing.assert_array_equal(back.score(X), fitted.score(X))
    np.testing.assert_array_equal(back.error_map(X), fitted.error_map(X))
    assert back.threshold_ == fitted.threshold_


def test_training_span_and_out_of_fold_calibration(fitted):
    assert fitted.n_components_ == 79  # the whole span of 80 centred tiles
    # in-sample rows lie in their own span; decision scores are out-of-fold, like calibration
    assert np.all(fitted.score(aligned_tiles(80, 0)) < 1e-2 * fitted.decision_scores_.mean())
    np.testing.assert_array_equal(fitted.decision_scores_, fitted.calibration_scores_)
    small = anomalib_ae.create("subspace", n_components=0.9).fit(aligned_tiles(80, 0))
    assert 1 <= small.n_components_ < 79


def test_vectors_are_not_smoothed():
    X = np.random.default_rng(0).normal(size=(40, 6))
    det = anomalib_ae.create("subspace").fit(X)
    assert det.input_kind_ == "vector" and det.sigma_ == 0.0
    assert det.error_map(X[:2]).shape == (2, 6)


def test_gaussian_smoothing_keeps_the_size_the_peak_and_about_the_mass():
    net = SubspaceNet((1, 16, 16), 1, sigma=2.0, image=True)
    m = torch.zeros(1, 1, 16, 16)
    m[0, 0, 8, 8] = 1.0
    s = net._smooth(m)
    assert s.shape == m.shape and abs(float(s.sum()) - 1.0) < 0.01  # reflected borders add a little
    assert int(s.flatten().argmax()) == 8 * 16 + 8
    assert torch.isclose(gaussian_kernel(2.0, 100).sum(), torch.tensor(1.0))


def test_more_rows_than_values_keep_half_the_directions():
    X = np.random.default_rng(1).normal(size=(200, 10))
    det = anomalib_ae.create("subspace").fit(X)
    assert det.n_components_ == 5
    assert det.score(X[:20] + 5.0).min() > np.median(det.decision_scores_)
