"""SAGE: latent kNN, reconstruction and task-loss signals combined into one OOD score."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import anomalib_ae
from fast_params import make


@pytest.fixture
def two_classes():
    r = np.random.default_rng(0)
    X = np.vstack([r.normal(-2, 1, size=(150, 5)), r.normal(2, 1, size=(150, 5))]).astype(np.float32)
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    X_ood = r.normal(0, 1, size=(40, 5)) * 0.3 + np.array([0, 0, 6, -6, 0])
    return X, y, X_ood.astype(np.float32)


def test_unsupervised_has_two_signals(two_classes):
    X, _, X_ood = two_classes
    det = make("sage", epochs=20).fit(X)
    assert det.signal_names_ == ["latent_knn", "reconstruction"] and det.classes_ is None
    s = det.score(np.vstack([X[:40], X_ood]))
    assert roc_auc_score(np.r_[np.zeros(40), np.ones(40)], s) > 0.9


def test_task_labels_add_the_task_loss_signal(two_classes, tmp_path):
    X, y, X_ood = two_classes
    det = make("sage", epochs=20).fit(X, np.where(y == 0, "left", "right"))
    assert det.signal_names_ == ["latent_knn", "reconstruction", "task_loss"]
    assert list(det.classes_) == ["left", "right"]
    probs = det.signal_probabilities(np.vstack([X[:5], X_ood[:5]]))
    assert probs.shape == (10, 3) and np.all((probs >= 0) & (probs <= 1))
    assert probs[5:, :2].mean() > probs[:5, :2].mean()
    det.save(tmp_path / "s.pt")
    loaded = anomalib_ae.load(tmp_path / "s.pt")
    np.testing.assert_array_equal(loaded.score(X_ood), det.score(X_ood))
    assert list(loaded.classes_) == ["left", "right"]


def test_score_is_mean_surprise_of_signals(two_classes):
    X, _, X_ood = two_classes
    det = make("sage").fit(X)
    p = det.signal_probabilities(X_ood)
    np.testing.assert_allclose(det.score(X_ood), (-np.log(1 - p)).mean(axis=1), rtol=1e-6)


def test_single_task_class_is_rejected(two_classes):
    X, _, _ = two_classes
    with pytest.raises(ValueError, match="at least 2 classes"):
        make("sage").fit(X, np.zeros(len(X)))
