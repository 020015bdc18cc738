import numpy as np
import pytest
import torch

import anomalib_ae
from anomalib_ae.detectors._deep import infer_input_kind
from anomalib_ae.models.ae.network import ConvAutoEncoderNet, DenseAutoEncoderNet, per_sample_mse
from fast_params import make


def test_zero_reconstruction_error_is_zero():
    x = torch.randn(4, 3, 5)
    assert torch.equal(per_sample_mse(x, x.clone()), torch.zeros(4))
    assert per_sample_mse(x, x + 1.0).allclose(torch.ones(4))


def test_input_kind_inference():
    assert infer_input_kind((8,)) == "vector"
    assert infer_input_kind((50, 38)) == "window"
    assert infer_input_kind((28, 28)) == "image"
    assert infer_input_kind((3, 64, 64)) == "image"
    assert infer_input_kind((28, 28), "window") == "window"
    with pytest.raises(ValueError, match="input_kind='vector'"):
        infer_input_kind((28, 28), "vector")


def test_dense_for_windows_conv_for_images():
    rng = np.random.default_rng(0)
    win = make("ae").fit(rng.normal(size=(40, 12, 3)).astype(np.float32))
    assert isinstance(win.module_, DenseAutoEncoderNet) and win.input_kind_ == "window"
    img = make("ae").fit(rng.random((30, 28, 28)).astype(np.float32))
    assert isinstance(img.module_, ConvAutoEncoderNet) and img.model_shape_ == (1, 28, 28)
    rgb = make("ae").fit(rng.random((12, 3, 32, 32)).astype(np.float32))
    assert rgb.model_shape_ == (3, 32, 32)
    hwc = make("ae").fit(rng.random((12, 32, 32, 3)).astype(np.float32))
    assert hwc.model_shape_ == (3, 32, 32)
    assert hwc.score(rng.random((2, 32, 32, 3))).shape == (2,)


def test_image_ae_finds_corrupted_images():
    rng = np.random.default_rng(0)
    # smooth normal images; anomalies carry a bright square
    base = np.linspace(0, 1, 28, dtype=np.float32)
    normal = (base[None, :, None] * base[None, None, :]) + 0.05 * rng.random((80, 28, 28), dtype=np.float32)
    test = normal[:20].copy()
    test[10:, 5:15, 5:15] = 3.0
    det = make("ae", epochs=40).fit(normal[20:])
    s = det.score(test)
    assert s[10:].min() > s[:10].max()


def test_same_seed_same_scores_and_other_seed_differs(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    torch.manual_seed(123)
    before = torch.rand(1)
    a = make("ae", random_state=3).fit(X_train).score(X_test)
    b = make("ae", random_state=3).fit(X_train).score(X_test)
    c = make("ae", random_state=4).fit(X_train).score(X_test)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), before)  # fitting does not disturb the caller's RNG


def test_standardisation_fitted_on_training_data():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(100, 3)) * [1, 100, 0.01] + [5, -50, 2]).astype(np.float32)
    det = make("ae", validation_fraction=0.0).fit(X)
    np.testing.assert_allclose(det.mean_, X.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(det.scale_, X.std(axis=0), rtol=1e-3)


def test_early_stopping_and_validation_split(blobs_with_outliers):
    X_train = blobs_with_outliers[0]
    det = make("ae", epochs=200, patience=2, lr=0.05).fit(X_train)
    assert det.n_epochs_ < 200
    assert det.calibration_scores_.shape == (20,)  # 10 % held out, used for calibration


def test_create_quickstart_api(tmp_path, blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    det = anomalib_ae.create("ae", epochs=5, verbose=False, random_state=0)
    det.fit(X_train)
    proba = det.predict_proba(X_test)
    det.save(tmp_path / "ae.pt")
    again = anomalib_ae.load(tmp_path / "ae.pt")
    np.testing.assert_array_equal(again.predict_proba(X_test), proba)


def test_ssim_error_is_zero_for_a_perfect_reconstruction_and_grows_with_structure():
    from anomalib_ae.models.ae.network import per_sample_ssim_error

    x = torch.randn(3, 2, 10, 10)
    assert per_sample_ssim_error(x, x).shape == (3,)
    assert torch.allclose(per_sample_ssim_error(x, x.clone()), torch.zeros(3), atol=1e-6)
    noisy = x + 0.5 * torch.randn_like(x)
    assert (per_sample_ssim_error(x, noisy) > per_sample_ssim_error(x, x + 0.1 * torch.randn_like(x))).all()
    # images smaller than the window: the window shrinks to the image
    for side in (1, 2, 4, 5):
        small = x[..., :side, :side]
        assert per_sample_ssim_error(small, small).abs().max() < 1e-6
        assert per_sample_ssim_error(small, small + 0.5).min() > 0


def test_ae_score_type_ssim_images_only_default_mse():
    rng = np.random.default_rng(0)
    assert anomalib_ae.create("ae").get_params()["score_type"] == "mse"
    imgs = rng.random((30, 12, 12)).astype(np.float32)
    det = make("ae", score_type="ssim").fit(imgs)
    assert isinstance(det.module_, ConvAutoEncoderNet) and det.module_.score_type == "ssim"
    s = det.score(imgs[:5])
    assert s.dtype == np.float64 and s.shape == (5,) and np.isfinite(s).all()
    mse = make("ae").fit(imgs).score(imgs[:5])
    assert not np.allclose(s, mse)
    with pytest.raises(ValueError, match="needs images"):
        make("ae", score_type="ssim").fit(rng.normal(size=(40, 6)))
    with pytest.raises(ValueError, match="score_type"):
        make("ae", score_type="bogus").fit(imgs)


def test_ae_score_type_ssim_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.random((30, 12, 12)).astype(np.float32)
    det = make("ae", score_type="ssim").fit(imgs)
    det.save(tmp_path / "ae.pt")
    back = anomalib_ae.load(tmp_path / "ae.pt")
    assert back.score_type == "ssim"
    np.testing.assert_array_equal(back.score(imgs[:4]), det.score(imgs[:4]))


def test_ssim_score_ignores_a_brightness_shift_that_mse_punishes():
    """A brighter copy of a training image: large MSE, small SSIM error (structure unchanged)."""
    base = np.linspace(0, 1, 16, dtype=np.float32)
    rng = np.random.default_rng(2)
    normal = base[None, :, None] * base[None, None, :] + 0.02 * rng.random((60, 16, 16), dtype=np.float32)
    test = np.stack([normal[0], normal[0] + 0.5])
    m = make("ae", epochs=20).fit(normal).score(test)
    s = make("ae", epochs=20, score_type="ssim").fit(normal).score(test)
    assert m[1] / m[0] > s[1] / s[0]
