"""RIAD (reconstruction by inpainting): masks, loss, maps, detector fit / score / save / load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import anomalib_ae
from anomalib_ae.explain.methods import attribute
from anomalib_ae.models.riad.network import RIADNet, cell_masks, msgms_map, ssim_map

TINY = {"hidden_dims": (4, 8), "cell_sizes": (2, 4), "train_crop": None, "batch_size": 32,
        "random_state": 0, "verbose": False, "accelerator": "cpu"}


def _tiles(n, size=16, seed=0):
    """Smooth normal images: a brightness ramp plus a little noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.2, 0.8, size, dtype=np.float32)
    return (ramp[None, None, :] * np.ones((n, size, 1), np.float32)
            + 0.03 * rng.standard_normal((n, size, size)).astype(np.float32))


def test_cell_masks_are_disjoint_and_cover_every_pixel():
    m = cell_masks(10, 12, 4, 3, 5, torch.Generator().manual_seed(0))
    assert m.shape == (3, 5, 1, 10, 12)
    torch.testing.assert_close(m.sum(dim=0), torch.ones(5, 1, 10, 12))
    # whole cells: each 4x4 block belongs to one set
    assert torch.equal(m[:, :, :, :4, :4].amax(dim=(-1, -2)), m[:, :, :, 0, 0])


def test_distances_are_zero_for_a_perfect_reconstruction():
    x = torch.randn(2, 1, 16, 16)
    assert float(msgms_map(x, x, 0.01).abs().max()) < 1e-5
    torch.testing.assert_close(ssim_map(x, x, 4.0), torch.ones(2, 1, 16, 16))
    y = x.clone()
    y[:, :, 4:8, 4:8] += 3
    assert float(msgms_map(x, y, 0.01)[:, :, 4:8, 4:8].mean()) > float(msgms_map(x, y, 0.01)[:, :, 12:, 12:].mean())


def test_network_never_copies_the_pixel_it_predicts():
    net = RIADNet((1, 16, 16), channels=(4, 8), cell_sizes=(4,)).eval()
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        a = net(x)
        x2 = x.clone()
        cell = net.score_masks[0, 0, 0, 0] > 0  # pixels removed by the first cell set
        x2[0, 0][cell] += 10.0  # changing removed pixels changes nothing where they are predicted
        b = net(x2)
    torch.testing.assert_close(a[0, 0][cell], b[0, 0][cell])


def test_riad_fits_scores_saves_and_maps(tmp_path):
    X = _tiles(48)
    det = anomalib_ae.create("riad", epochs=2, **TINY).fit(X)
    s = det.score(X[:6])
    assert s.shape == (6,) and s.dtype == np.float64 and np.all(np.isfinite(s))
    np.testing.assert_array_equal(det.score(X[:6]), s)
    emap = det.error_map(X[:3])
    assert emap.shape == (3, 1, 16, 16) and np.all(emap >= 0)
    det.save(tmp_path / "riad.pt")
    loaded = anomalib_ae.load(tmp_path / "riad.pt")
    np.testing.assert_array_equal(loaded.score(X), det.score(X))
    np.testing.assert_array_equal(loaded.error_map(X[:3]), emap)
    # the score is the top of the map (top_fraction 0: its maximum)
    np.testing.assert_allclose(np.maximum(s[:3], 0), emap.reshape(3, -1).max(axis=1), rtol=1e-6)


def test_planted_bright_square_lies_in_the_top_5_percent_of_its_map():
    X = _tiles(64)
    det = anomalib_ae.create("riad", epochs=3, **TINY).fit(X)
    test = _tiles(4, seed=1)
    test[:, 9:12, 3:6] = 1.5  # a bright 3x3 square
    A, method = attribute(det, test)
    assert method == "residual" and A.shape == test.shape
    for a in A:
        # MSGMS compares gradients: the square shows on its edges (the 5x5 block around it)
        block = a[8:13, 2:7]
        assert block.max() >= np.quantile(a, 0.95) and np.quantile(block, 0.5) >= np.quantile(a, 0.95)
        r, c = np.unravel_index(np.argmax(a), a.shape)
        assert 8 <= r < 13 and 2 <= c < 7  # the map's peak is on the square
    s_anom = det.score(test)
    s_norm = det.score(_tiles(4, seed=2))
    assert s_anom.min() > s_norm.max()


def test_bad_parameters_are_value_errors():
    with pytest.raises(ValueError):
        anomalib_ae.create("riad", map_kind="l1").fit(_tiles(8))
    with pytest.raises(ValueError):
        anomalib_ae.create("riad", n_masks=1).fit(_tiles(8))
    with pytest.raises(ValueError):
        RIADNet((1, 8, 8), cell_sizes=(0,))


def test_map_settings_do_not_touch_training_and_refit_like_fit():
    """The benchmark reuses one trained network for several map settings: that equals a fresh fit."""
    X = _tiles(40)
    a = anomalib_ae.create("riad", epochs=1, smooth=3, map_norm=False, **TINY).fit(X)
    b = anomalib_ae.create("riad", epochs=1, smooth=1, map_norm=True, **TINY).fit(X)
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters()):
        assert torch.equal(pa, pb)
    a.set_params(smooth=1, map_norm=True)
    Xs, train_idx, _, _ = a._split_standardize(X)
    a._fit_map_norm(Xs[train_idx])
    np.testing.assert_array_equal(a.score(X), b.score(X))
    assert b.map_mean_.shape == (1, 1, 16, 16) and np.all(b.map_scale_ > 0)
    b.set_params(smooth=5)  # the statistics belong to smooth=1
    with pytest.raises(ValueError, match="refit"):
        b.score(X[:2])
