"""winae: the window autoencoder scored by the mean of the metrics' RMSEs."""

import numpy as np
import torch

import anomalib_ae
from anomalib_ae.models.winae.network import metric_rmse
from fast_params import make


def test_metric_rmse_by_hand():
    x = torch.zeros(1, 2, 3)  # one window: 2 time steps, 3 metrics
    recon = torch.tensor([[[3.0, 0.0, 1.0], [4.0, 0.0, 1.0]]])
    # metric RMSEs over time: sqrt((9 + 16) / 2), 0, 1 -> mean
    assert metric_rmse(x, recon).item() == np.float32((np.sqrt(12.5) + 0 + 1) / 3)
    assert metric_rmse(torch.zeros(1, 3), torch.tensor([[3.0, -4.0, 0.0]])).item() == np.float32(7 / 3)
    img = torch.zeros(1, 2, 2, 2)  # per channel RMSE
    rec = torch.zeros(1, 2, 2, 2)
    rec[0, 1] = 2.0
    assert metric_rmse(img, rec, metric_axis=1).item() == 1.0


def test_one_exploding_metric_counts_by_its_rmse():
    """The score grows linearly with one metric's error, not quadratically (as the window MSE does)."""
    x = torch.zeros(1, 4, 2)
    for k in (1.0, 10.0):
        recon = torch.zeros(1, 4, 2)
        recon[..., 0] = k
        assert metric_rmse(x, recon).item() == k / 2


def test_registered_fits_windows_and_scores_a_shifted_metric_higher(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 30, 4)).astype(np.float32)
    det = make("winae").fit(X)
    assert det.input_kind_ == "window"
    bad = X[:20].copy()
    bad[:, :, 1] += 6.0
    assert det.score(bad).mean() > det.score(X[:20]).mean()
    det.save(tmp_path / "w.pt")
    np.testing.assert_array_equal(anomalib_ae.load(tmp_path / "w.pt").score(X[:5]), det.score(X[:5]))
    # the score is metric_rmse of the network's own reconstruction, through error_map
    e = det.error_map(X[:5])
    np.testing.assert_allclose(det.score(X[:5]), np.sqrt(e.mean(axis=1)).mean(axis=1), rtol=1e-5)


def test_metric_norm_divides_each_metric_by_its_held_out_scale_and_survives_reload(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 30, 4)).astype(np.float32)
    X[:, :, 2] *= 0.01  # a nearly flat metric: its scale is floored, not ~0
    plain = make("winae").fit(X)
    det = make("winae", metric_norm="train").fit(X)
    scale = det.module_.metric_scale.numpy()
    assert np.all(plain.module_.metric_scale.numpy() == 1.0)
    assert scale.shape == (4,) and np.all(scale > 0)
    assert scale.min() >= det.METRIC_SCALE_FLOOR * np.median(scale) - 1e-6
    # the same weights: the normalised score is the mean of per-metric RMSE / scale
    with torch.no_grad():
        per = det.module_.per_metric(torch.from_numpy(det.prepare_input(X[:5]))).numpy()
    np.testing.assert_allclose(det.score(X[:5]), (per / scale).mean(axis=1), rtol=1e-5)
    det.save(tmp_path / "n.pt")
    back = anomalib_ae.load(tmp_path / "n.pt")
    assert back.metric_norm == "train"
    np.testing.assert_array_equal(back.score(X[:5]), det.score(X[:5]))


def test_metric_norm_rejects_unknown_values():
    import pytest

    with pytest.raises(ValueError, match="metric_norm"):
        make("winae", metric_norm="zscore").fit(np.zeros((40, 5, 2), np.float32))


def test_state_without_metric_scale_loads_as_unnormalised():
    from anomalib_ae.models.winae.network import MetricRMSEAutoEncoderNet

    net = MetricRMSEAutoEncoderNet((5, 3), (8,), 2)
    state = {k: v for k, v in net.state_dict().items() if k != "metric_scale"}
    other = MetricRMSEAutoEncoderNet((5, 3), (8,), 2)
    other.metric_scale.fill_(7.0)
    other.load_state_dict(state)
    assert torch.equal(other.metric_scale, torch.ones(3))
