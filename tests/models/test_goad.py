"""goad (transformation classifier): transformations, what it learns, vectors / windows, model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import anomalib_ae
from anomalib_ae.models.goad.network import TransformClassifierNet, image_transforms

TINY = {"hidden_dims": (4, 8), "batch_size": 32, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def _upright(n, size=16, seed=0):
    """Oriented normal images: bright top rows fading downwards, a bright left column, noise."""
    rng = np.random.default_rng(seed)
    img = np.linspace(1.0, 0.0, size, dtype=np.float32)[:, None] * np.ones((1, size), np.float32)
    img[:, :3] = 1.0
    return img[None] + 0.05 * rng.standard_normal((n, size, size)).astype(np.float32)


def test_image_transformations_are_the_rotations_of_square_images_and_flips_otherwise():
    assert image_transforms((1, 8, 8)) == ("rot0", "rot90", "rot180", "rot270")
    assert image_transforms((3, 8, 12)) == ("rot0", "hflip", "vflip", "rot180")
    net = TransformClassifierNet((1, 6, 6), "image", (4,), 0, 16)
    x = torch.arange(2 * 36, dtype=torch.float32).view(2, 1, 6, 6)
    t = net.transformed(x)
    assert t.shape == (8, 1, 6, 6)  # transformation after transformation, each the whole batch
    for k in range(4):  # torch.rot90's rotations, written as flips and transposes
        torch.testing.assert_close(t[2 * k:2 * k + 2], torch.rot90(x, k, dims=(2, 3)), rtol=0, atol=0)


def test_rotated_images_score_above_upright_ones_and_scores_survive_a_model_file(tmp_path):
    X = _upright(64)
    det = anomalib_ae.create("goad", epochs=20, lr=1e-2, patience=None, **TINY).fit(X)
    test = _upright(20, seed=1)
    normal = det.score(test)
    turned = det.score(np.rot90(test, 1, axes=(1, 2)).copy())
    # trained on upright images only, it cannot tell which way a turned image was rotated
    assert turned.min() > normal.max() and turned.mean() > 2 * normal.mean()
    assert det.error_map(test[:2]) is None  # no per-pixel error: explanations attribute the score instead
    det.save(tmp_path / "goad.pt")
    np.testing.assert_array_equal(anomalib_ae.load(tmp_path / "goad.pt").score(test), normal)


def test_vectors_use_seeded_random_maps_stored_in_the_model_file(tmp_path, blobs_with_outliers):
    X_train, X_test, y_test = blobs_with_outliers
    a = anomalib_ae.create("goad", latent_dim=3, epochs=30, **TINY).fit(X_train)
    maps = a.module_.projections
    assert maps.shape == (16, X_train.shape[1], 3)  # 16 maps by default
    b = anomalib_ae.create("goad", latent_dim=3, epochs=1, **{**TINY, "random_state": 1}).fit(X_train)
    assert not torch.equal(maps, b.module_.projections)  # drawn with the fit's seed
    scores = a.score(X_test)
    assert roc_auc_score(y_test, scores) > 0.9
    a.save(tmp_path / "v.pt")
    loaded = anomalib_ae.load(tmp_path / "v.pt")
    torch.testing.assert_close(loaded.module_.projections, maps, rtol=0, atol=0)
    np.testing.assert_array_equal(loaded.score(X_test), scores)


def test_windows_fit_and_bad_settings_are_named():
    W = np.random.default_rng(0).normal(size=(60, 5, 3)).astype(np.float32)
    det = anomalib_ae.create("goad", n_transforms=3, epochs=1, **TINY).fit(W)
    assert det.input_kind_ == "window" and det.module_.projections.shape == (3, 15, 15)
    assert det.score(W[:4]).shape == (4,)
    with pytest.raises(ValueError, match="n_transforms"):
        anomalib_ae.create("goad", n_transforms=1, **TINY).fit(W)
