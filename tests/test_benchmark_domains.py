"""benchmarks/domains.py: the medical features and detector defaults (no shared data needed)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import domains  # noqa: E402


def test_medical_features_raw_is_pixels_over_255():
    x = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    tr, te = domains.medical_features(x, x[:1], "raw")
    assert tr.dtype == np.float32 and np.allclose(tr, x / 255.0) and np.allclose(te, x[:1] / 255.0)


def test_medical_features_gcn_is_contrast_invariant_and_fitted_on_training_images():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 6, 6)).astype(np.uint8)
    tr, te = domains.medical_features(x, x, "gcn")
    assert tr.min() == 0.0 and tr.max() == 1.0 and np.allclose(tr, te)
    # a brighter, higher-contrast copy of an image gets the same features
    bright = np.clip(x[:1].astype(np.float64) * 0.5 + 20, 0, 255)
    _, te2 = domains.medical_features(x, bright, "gcn")
    assert np.allclose(te2, tr[:1], atol=1e-5)


def test_medical_default_detectors_add_sage_and_ae_ssim():
    names = domains.deep_names(None, domains.DEEP_BY_DOMAIN["medical"])
    assert {"sage", "ae_ssim"} <= set(names) and set(domains.DEEP) <= set(names)
    assert domains.deep_names("ae_ssim,ae") == ["ae_ssim", "ae"]
    assert domains.deep_names(None) == [n for n in domains.DEEP if n in names]
