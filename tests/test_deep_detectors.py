"""Detector-level tests of our deep (torch) family: every registered BaseDeepDetector (ae, vae, cvad,
mae, deepsvdd, deepsad, sage, and any added later), plus tests of single models."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import anomalib_ae
from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.deepsvdd.detector import batch_size_without_singletons
from anomalib_ae.models.deepsvdd.network import SVDDConvNet
from fast_params import make


def _is_deep_torch_detector(name: str) -> bool:
    """Our own torch detectors: they take vectors, windows and images (PyOD's deep ones take tables only)."""
    return issubclass(anomalib_ae.get_detector_class(name), BaseDeepDetector)


DEEP = [name for name in anomalib_ae.list_detectors() if _is_deep_torch_detector(name)]
TINY_IMAGE = {"hidden_dims": (4, 8), "latent_dim": 4, "epochs": 1}
PRETRAIN = {"deepsvdd": {"pretrain": True}, "deepsad": {"pretrain": True}}  # fast_params turns it off


def _images(shape, n, seed=0):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


_SHAPES = {"gray28": (28, 28), "rgb64": (3, 64, 64), "gray128": (128, 128), "window": (12, 3)}
# RIAD inpaints each 128-px image in several U-Net passes (~10 s on one core, against the CI budget);
# its 28- and 64-px cases and tests/models/test_riad.py cover the same code
_LEFT_OUT = {("riad", "gray128")}


@pytest.mark.parametrize("shape_id,name", [
    pytest.param(sid, name, id=f"{sid}-{name}") for sid in _SHAPES for name in DEEP if (name, sid) not in _LEFT_OUT])
def test_fit_score_on_images_and_windows(name, shape_id):
    shape = _SHAPES[shape_id]
    X = _images(shape, 24)
    det = make(name, **TINY_IMAGE, **PRETRAIN.get(name, {})).fit(X)
    expected_kind = "window" if len(shape) == 2 and shape[0] != shape[1] else "image"
    assert det.input_kind_ == expected_kind
    s = det.score(X[:5])
    assert s.dtype == np.float64 and s.shape == (5,) and np.all(np.isfinite(s))
    np.testing.assert_array_equal(det.score(X[:5]), s)  # deterministic scoring


def test_deepsvdd_uses_paper_lenet_for_28px():
    det = make("deepsvdd", epochs=1, pretrain=True).fit(_images((28, 28), 16))
    assert det.n_pretrain_epochs_ == 1
    assert isinstance(det.module_.encoder, SVDDConvNet)
    assert [m.out_channels for m in det.module_.encoder.features if isinstance(m, torch.nn.Conv2d)] == [8, 4]
    assert det.module_.c.shape == (32,)


@pytest.mark.parametrize("name", DEEP)
def test_persistence_on_images(name, tmp_path):
    X = _images((28, 28), 30)
    y = np.r_[np.zeros(27), np.ones(3)] if name == "deepsad" else None
    det = make(name, **TINY_IMAGE, **PRETRAIN.get(name, {})).fit(X, y)
    det.save(tmp_path / "m.pt")
    loaded = anomalib_ae.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(loaded.score(X), det.score(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), det.predict_proba(X))


def test_deepsad_labels_push_known_anomalies_away(rng):
    # normals around 0; the anomalies lie along one direction, closer than the planted ones
    # of the common test, so an unsupervised model ranks them imperfectly
    normal = rng.normal(size=(300, 6)).astype(np.float32)
    shift = np.array([2.5, 0, 0, 0, 0, 0], np.float32)
    known = (rng.normal(size=(15, 6)) * 0.5 + shift).astype(np.float32)
    X = np.vstack([normal, known])
    y = np.r_[np.zeros(300), np.ones(15)]
    X_test = np.vstack([rng.normal(size=(100, 6)), rng.normal(size=(30, 6)) * 0.5 + shift]).astype(np.float32)
    y_test = np.r_[np.zeros(100), np.ones(30)]
    params = {"epochs": 30, "patience": None}
    sad = make("deepsad", **params).fit(X, y)
    svdd = make("deepsvdd", **params).fit(X, y)  # deepsvdd ignores labels
    auc_sad = roc_auc_score(y_test, sad.score(X_test))
    auc_svdd = roc_auc_score(y_test, svdd.score(X_test))
    assert auc_sad > auc_svdd
    assert auc_sad > 0.9
    # held-out labelled anomalies are not used as calibration scores
    assert sad.calibration_scores_.shape[0] < round(0.1 * len(X))


def test_deepsad_without_labels_matches_deepsvdd(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    a = make("deepsad").fit(X_train).score(X_test)
    b = make("deepsvdd").fit(X_train).score(X_test)
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_deepsvdd_center_eps_rule_and_soft_boundary(blobs_with_outliers):
    X_train = blobs_with_outliers[0]
    det = make("deepsvdd", center_eps=0.5, pretrain=False).fit(X_train)
    assert torch.all(det.module_.c.abs() >= 0.5)
    soft = make("deepsvdd", objective="soft-boundary", nu=0.2).fit(X_train)
    assert float(soft.module_.R) > 0
    with torch.no_grad():
        d = soft.module_.eval().dist(torch.from_numpy(soft._prepare(X_train))).numpy()
    np.testing.assert_allclose(soft.decision_scores_, d - float(soft.module_.R) ** 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["deepsvdd", "deepsad"])
def test_svdd_one_sample_is_a_clear_error(name):
    with pytest.raises(ValueError, match="1 sample"):
        make(name).fit(np.zeros((1, 4)))


def test_svdd_never_trains_batchnorm_on_a_single_sample():
    assert batch_size_without_singletons(33, 32) == 31
    assert batch_size_without_singletons(64, 32) == 32
    assert batch_size_without_singletons(5, 2) == 5
    for n in range(2, 80):
        b = batch_size_without_singletons(n, 16)
        assert 2 <= b <= max(16, n) and n % b != 1
    # 21 training rows with batch 20 would leave a batch of one
    make("deepsvdd", batch_size=20, validation_fraction=0.0).fit(np.random.default_rng(0).normal(size=(21, 3)))


def test_cvad_normalisation_stats_come_from_training_data(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    det = make("cvad", validation_fraction=0.0).fit(X_train)
    parts = det.score_parts(X_train)
    np.testing.assert_allclose([det.recon_kl_scale_, det.disc_scale_], parts.std(axis=0), rtol=1e-4)
    # the test set does not move them: a sample's score does not depend on its batch
    scales = (det.recon_kl_scale_, det.disc_scale_)
    full = det.score(X_test)
    np.testing.assert_allclose(det.score(X_test[-5:]), full[-5:], rtol=1e-6)
    assert (det.recon_kl_scale_, det.disc_scale_) == scales
    p = det.score_parts(X_test)
    np.testing.assert_allclose(full, 0.5 * (p[:, 0] / scales[0] + p[:, 1] / scales[1]), rtol=1e-5)
    # equal, up to a constant, to the mean of the parts z-normalised with training statistics
    z = (p - parts.mean(axis=0)) / parts.std(axis=0)
    np.testing.assert_allclose(full - full.mean(), z.mean(axis=1) - z.mean(), rtol=1e-3, atol=1e-4)


def test_cvad_stats_use_the_training_split_only(blobs_with_outliers):
    X_train = blobs_with_outliers[0]
    det = make("cvad").fit(X_train)  # 10 % held out for validation / calibration
    parts = det.score_parts(X_train)
    assert not np.isclose(det.recon_kl_scale_, parts[:, 0].std(), rtol=1e-7)
    assert det.n_disc_epochs_ >= 1


def test_cvad_discriminator_weight_zero_is_recon_kl_only(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    det = make("cvad", disc_weight=0.0).fit(X_train)
    p = det.score_parts(X_test)
    np.testing.assert_allclose(det.score(X_test), p[:, 0] / det.recon_kl_scale_, rtol=1e-5)


def test_vae_iwae_with_one_sample_equals_elbo(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    elbo = make("vae", score_type="elbo", n_samples=1).fit(X_train).score(X_test)
    iwae = make("vae", score_type="iwae", n_samples=1).fit(X_train).score(X_test)
    np.testing.assert_allclose(iwae, elbo, rtol=1e-5)
    iwae8 = make("vae", score_type="iwae", n_samples=8).fit(X_train).score(X_test)
    elbo8 = make("vae", score_type="elbo", n_samples=8).fit(X_train).score(X_test)
    assert np.all(iwae8 <= elbo8 + 1e-4)  # the IWAE bound is tighter: -log mean w <= -mean log w


def test_vae_beta_elbo_is_the_training_loss_per_sample(blobs_with_outliers):
    # mean over the seeded samples of 0.5 * ||x - f(z_k)||^2, plus beta * the analytic KL
    X_train, X_test, _ = blobs_with_outliers
    det = make("vae", beta=0.1, score_type="beta-elbo", n_samples=5).fit(X_train)
    net = det.module_
    x = torch.from_numpy(((X_test - det.mean_) / det.scale_).astype(np.float32))
    with torch.no_grad():
        mu, logvar = net.encode(x)
        eps = net._noise(x, 5)
        sq = torch.stack([0.5 * (net.decode(mu + e * torch.exp(0.5 * logvar)) - x).pow(2).sum(dim=1) for e in eps])
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1)
        expected = sq.mean(dim=0) + 0.1 * kl
    np.testing.assert_allclose(det.score(X_test), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_vae_optimal_decoder_variance_tracks_the_reconstruction_error(blobs_with_outliers, tmp_path):
    X_train, X_test, y_test = blobs_with_outliers
    det = make("vae", decoder_variance="optimal", score_type="beta-elbo", epochs=15).fit(X_train)
    assert make("vae").fit(X_train).module_.state_dict().keys() == det.module_.state_dict().keys() - {"sigma2"}
    x = torch.from_numpy(((X_train - det.mean_) / det.scale_).astype(np.float32))
    with torch.no_grad():
        mse = float((det.module_(x) - x).pow(2).mean())
    assert 0.3 * mse < float(det.module_.sigma2) < 3 * mse  # a running mean of batch errors (sampled z)
    assert roc_auc_score(y_test, det.score(X_test)) > 0.9
    det.save(tmp_path / "v.pt")
    np.testing.assert_array_equal(anomalib_ae.load(tmp_path / "v.pt").score(X_test), det.score(X_test))


@pytest.mark.parametrize("score_type", ["recon", "elbo", "iwae", "beta-elbo"])
def test_vae_score_types_rank_planted_outliers(score_type, blobs_with_outliers):
    X_train, X_test, y_test = blobs_with_outliers
    s = make("vae", score_type=score_type, epochs=15).fit(X_train).score(X_test)
    assert roc_auc_score(y_test, s) > 0.9


def test_mae_needs_two_features_and_masks_patches():
    with pytest.raises(ValueError, match="1 feature"):
        make("mae").fit(np.zeros((10, 1)))
    det = make("mae", mask_ratio=0.5, patch_size=7, **TINY_IMAGE).fit(_images((28, 28), 12))
    assert det.module_.n_tokens == 16
    assert bool(det.module_.score_masks.any(dim=0).all())  # every patch is hidden by some mask


@pytest.mark.parametrize("name", DEEP)
def test_bad_parameters_are_value_errors(name, blobs_with_outliers):
    # a detector's own parameter where it has one worth checking, else one they all share
    bad = {"ae": {"score_type": "nope"}, "vae": {"score_type": "nope"}, "cvad": {"disc_weight": 2.0},
           "mae": {"mask_ratio": 1.0}, "deepsvdd": {"objective": "deep-sad"}, "deepsad": {"eta": -1.0},
           "sage": {"n_neighbors": 0}}.get(name, {"epochs": 0})
    with pytest.raises(ValueError):
        make(name, **bad).fit(blobs_with_outliers[0])


@pytest.mark.parametrize("name", ["deepsvdd", "deepsad"])
def test_svdd_dense_defaults_keep_a_32_d_output_and_10_epochs(name):
    # vectors: output 32 however few the features (not d // 4 = 2), 10 epochs by default
    X = np.random.default_rng(0).normal(size=(60, 8))
    det = anomalib_ae.create(name, patience=None, random_state=0, verbose=False, accelerator="cpu").fit(X)
    assert det.module_.c.shape == (32,)
    assert det.n_pretrain_epochs_ == 10 and det.n_epochs_ == 10
    # explicit values still win
    det = make(name, latent_dim=3, epochs=2, patience=None).fit(X)
    assert det.module_.c.shape == (3,) and det.n_epochs_ == 2


def _linear_widths(det):
    return [m.out_features for m in det.module_.encoder.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("name", ["deepsvdd", "deepsad"])
def test_svdd_vector_default_widths_are_stored_and_old_files_keep_theirs(name, tmp_path):
    # vectors: hidden_dims=None builds (128, 64) (chosen on the tabular benchmark); windows keep (64, 32)
    X = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    det = make(name).fit(X)
    assert det.hidden_dims_ == (128, 64) and _linear_widths(det) == [128, 64, 32]
    win = make(name, input_kind="window").fit(X.reshape(60, 4, 2))
    assert win.hidden_dims_ == (64, 32) and _linear_widths(win) == [64, 32, 32]
    assert _linear_widths(make(name, hidden_dims=(16,)).fit(X)) == [16, 32]
    # saved widths come back; a state without them (files written before they were stored) means (64, 32)
    det.save(tmp_path / "m.pt")
    np.testing.assert_array_equal(anomalib_ae.load(tmp_path / "m.pt").score(X), det.score(X))
    arrays, state = det._get_state()
    old = {k: v for k, v in state.items() if k != "hidden_dims_"}
    with pytest.raises(Exception, match="do not fit the network"):
        type(det)(**det.get_params())._set_state(arrays, old)
    small = make(name, hidden_dims=(64, 32)).fit(X)
    arrays, state = small._get_state()
    legacy = type(det)(**det.get_params())
    legacy._set_state(arrays, {k: v for k, v in state.items() if k != "hidden_dims_"})
    assert legacy.hidden_dims_ == [64, 32] or tuple(legacy.hidden_dims_) == (64, 32)
    np.testing.assert_array_equal(legacy.score(X), small.score(X))


def test_deepsvdd_image_defaults_unchanged():
    det = anomalib_ae.create("deepsvdd", pretrain=False, patience=None, random_state=0, verbose=False,
                             accelerator="cpu")
    det.fit(_images((28, 28), 12))
    assert det.module_.c.shape == (32,) and det.n_epochs_ == 30


def test_scoring_many_chunks_in_blocks_equals_one_batched_pass(monkeypatch):
    """In-memory scoring of more rows than one block (16 chunks) goes a block at a time into one
    array; every score equals the single ``batched_apply`` pass over the same fixed chunks."""
    from anomalib_ae.training.engine import batched_apply

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    det = anomalib_ae.create("ae", epochs=1, random_state=0, verbose=0).fit(X)
    monkeypatch.setattr(type(det), "_score_chunk_rows", lambda self: 4)  # 200 rows = 50 chunks > 16
    X_test = rng.normal(size=(333, 6)).astype(np.float32)
    blocked = det.score(X_test)
    Xs = det._prepare(X_test)
    whole = batched_apply(det._module_score, Xs, batch_size=4)
    assert blocked.shape == (333,)
    assert np.array_equal(blocked, whole)
