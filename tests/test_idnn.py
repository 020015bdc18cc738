"""The interpolation network (``idnn``): frames, targets, scores and save / load."""

import numpy as np
import pytest
import torch

import anomalib_ae
from anomalib_ae.models.idnn.network import InterpolationNet, frame_layout
from fast_params import make


def _frames(n=120, n_frames=5, d=8, seed=0):
    """Smooth sequences: each frame is the previous one plus a little noise (interpolation is easy)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 1, d))
    steps = 0.1 * rng.normal(size=(n, n_frames, d)).cumsum(axis=1)
    return (base + steps).astype(np.float32)


def test_frame_layout_per_kind():
    assert frame_layout((640,), "vector", 5) == (5, 128)
    assert frame_layout((7,), "vector", None) == (7, 1)
    assert frame_layout((12, 3), "window", None) == (12, 3)
    assert frame_layout((3, 16, 8), "image", None) == (16, 24)
    with pytest.raises(ValueError, match="does not divide"):
        frame_layout((10,), "vector", 3)
    with pytest.raises(ValueError, match="1 feature"):
        frame_layout((1,), "vector", None)
    with pytest.raises(ValueError, match="does not match"):
        frame_layout((12, 3), "window", 5)


def test_centre_target_error_map_only_on_the_centre_frame():
    torch.manual_seed(0)
    net = InterpolationNet((20,), "vector", (8,), 4, n_frames=5, target="centre").eval()
    x = torch.randn(6, 20)
    e = net.error_map(x).reshape(6, 5, 4)
    assert torch.all(e[:, [0, 1, 3, 4]] == 0) and torch.all(e[:, 2] > 0)
    torch.testing.assert_close(net.score(x), e[:, 2].mean(dim=1))
    # the centre frame's value does not reach the prediction: only the context does
    x2 = x.clone()
    x2[:, 8:12] += 5.0
    idx = torch.full((6,), 2)
    torch.testing.assert_close(net.interpolate(net.frames(x), idx), net.interpolate(net.frames(x2), idx))


def test_image_frames_round_trip():
    net = InterpolationNet((3, 6, 5), "image", (8,), 4)
    x = torch.randn(2, 3, 6, 5)
    assert net.frames(x).shape == (2, 6, 15)
    torch.testing.assert_close(net.unframe(net.frames(x)), x)


def test_fit_ranks_a_broken_centre_frame_and_reloads_identically(tmp_path):
    X = _frames().reshape(120, -1)  # vectors of 5 frames x 8 values, as the audio adapter stacks them
    det = make("idnn", n_frames=5, epochs=15, hidden_dims=(32,), latent_dim=8).fit(X)
    assert det.module_.target == "centre" and det.module_.n_frames == 5
    Xt = _frames(n=20, seed=1).reshape(20, -1)
    bad = Xt.copy()
    bad[:, 16:24] += 3.0  # the centre frame jumps away from its neighbours
    s_ok, s_bad = det.score(Xt), det.score(bad)
    assert np.median(s_bad) > 3 * np.median(s_ok)
    det.save(tmp_path / "idnn.pt")
    loaded = anomalib_ae.load(tmp_path / "idnn.pt")
    np.testing.assert_array_equal(loaded.score(bad), det.score(bad))
    np.testing.assert_array_equal(loaded.error_map(bad), det.error_map(bad))


def test_vectors_without_frames_predict_every_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    det = make("idnn").fit(X)
    assert det.module_.target == "all" and det.module_.n_frames == 4
    assert np.all(det.error_map(X[:3]) > 0)


@pytest.mark.parametrize("bad", [{"target": "middle"}, {"n_frames": 1}])
def test_bad_parameters(bad):
    with pytest.raises(ValueError):
        make("idnn", **bad).fit(np.zeros((30, 10), dtype=np.float32))
