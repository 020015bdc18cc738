"""Threshold strategies: contamination rule, conformal fpr, fixed score, PyThresh."""

import sys
import types

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae.datasets import load_cardio
from anomalib_ae.scoring import fpr_threshold, parse_threshold, pythresh_threshold
from fast_params import make


def test_parse_threshold():
    assert parse_threshold(None) == ("contamination", None)
    assert parse_threshold("fpr:0.01") == ("fpr", 0.01)
    assert parse_threshold(" FPR:0.2 ") == ("fpr", 0.2)
    assert parse_threshold(2) == ("score", 2.0)
    assert parse_threshold("pythresh:KARCH") == ("pythresh", "karch")
    for bad in ("fpr", "fpr:2", "fpr:x", "pythresh:", "top10", float("nan"), True):
        with pytest.raises(ValueError):
            parse_threshold(bad)


def test_fpr_threshold_is_the_conformal_quantile():
    cal = np.arange(1.0, 100.0)  # 99 scores -> k = ceil(100 * 0.95) = 95
    assert fpr_threshold(cal, 0.05) == 95.0
    with pytest.warns(UserWarning, match="too few"):
        assert fpr_threshold(np.arange(5.0), 0.01) == 4.0


def test_fpr_guarantee_in_simulation():
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(200):
        t = fpr_threshold(rng.normal(size=200), 0.1)
        rates.append((rng.normal(size=2000) > t).mean())
    # marginal guarantee: alpha - 1/(n+1) <= E[rate] <= alpha
    assert 0.1 - 1 / 201 - 0.005 <= np.mean(rates) <= 0.1 + 0.005


def test_pythresh_missing_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pythresh", None)
    monkeypatch.setitem(sys.modules, "pythresh.thresholds", None)
    with pytest.raises(ImportError, match="pip install"):
        pythresh_threshold(np.arange(10.0), "karch")


def test_pythresh_thresholder_is_applied(monkeypatch, tmp_path):
    # a stand-in package with PyThresh's layout and API: Class().eval(scores) -> labels
    pkg = tmp_path / "pythresh" / "thresholds"
    pkg.mkdir(parents=True)
    (tmp_path / "pythresh" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "karch.py").write_text(
        "import numpy as np\nclass KARCH:\n    def eval(self, s):\n        return (np.asarray(s) > 7.5).astype(int)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real = {m: sys.modules.pop(m) for m in [m for m in sys.modules if m.startswith("pythresh")]}
    try:
        assert pythresh_threshold(np.arange(10.0), "karch") == 7.0
        with pytest.raises(ValueError, match="available: karch"):
            pythresh_threshold(np.arange(10.0), "nope")
        det = make("pyod.knn", threshold="pythresh:karch").fit(np.random.default_rng(0).normal(size=(60, 3)))
        assert det.labels_.sum() == np.sum(det.decision_scores_ > det.threshold_)
    finally:  # drop the stand-in modules, put back the real package if it was imported
        for mod in [m for m in sys.modules if m.startswith("pythresh")]:
            del sys.modules[mod]
        sys.modules.update(real)


@pytest.mark.parametrize("method", ["iqr", "mad", "karch"])
def test_real_pythresh_thresholders_reproduce_their_labels(method):
    """With the real PyThresh (in the dev extra): flagged training rows are exactly its labels."""
    pytest.importorskip("pythresh")
    import importlib

    X, y = load_cardio()
    det = make("pyod.knn", threshold=f"pythresh:{method}").fit(X[y == 0][:600])
    module = importlib.import_module(f"pythresh.thresholds.{method}")
    labels = getattr(module, method.upper())().eval(det.decision_scores_).astype(bool)
    assert 0 < labels.sum() < labels.size
    np.testing.assert_array_equal(det.labels_ == 1, labels)
    np.testing.assert_array_equal(det.decision_scores_ > det.threshold_, labels)


def test_threshold_parameter_and_set_threshold(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    det = make("pyod.knn", threshold=1.5).fit(X_train)
    assert det.threshold_ == 1.5
    np.testing.assert_array_equal(det.predict(X_test) == -1, det.score(X_test) > 1.5)
    det.set_threshold("fpr:0.1")
    assert det.threshold == "fpr:0.1"
    assert det.threshold_ == fpr_threshold(det.calibration_scores_, 0.1)
    det.set_threshold(None)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))
    with pytest.raises(ValueError, match="invalid threshold"):
        make("pyod.knn", threshold="top:3").fit(X_train)
    # detectors without the constructor parameter still take set_threshold
    ae = make("ae").fit(X_train)
    assert ae.set_threshold("fpr:0.2").threshold_ == fpr_threshold(ae.calibration_scores_, 0.2)


@pytest.mark.parametrize("name", ["pyod.knn", "pyod.ecod", "ae"])
def test_fpr_threshold_on_fresh_real_normal_data(name):
    """Cardio (shipped): the fraction of fresh normal rows flagged at fpr:alpha is alpha within sampling error."""
    X, y = load_cardio()
    normal = X[y == 0]
    alpha, rates, bounds = 0.05, [], []
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(normal))
        train, fresh = normal[order[:1100]], normal[order[1100:]]
        det = make(name, threshold=f"fpr:{alpha}", random_state=seed) if name != "ae" else make(name, random_state=seed)
        det.fit(train)
        det.set_threshold(f"fpr:{alpha}")
        rates.append((det.score(fresh) > det.threshold_).mean())
        n_cal = det.calibration_scores_.size
        bounds.append(alpha * (1 - alpha) * (1 / n_cal + 1 / len(fresh)))
    sd = np.sqrt(np.mean(bounds) / len(rates))  # standard error of the mean rate over the seeds
    assert abs(np.mean(rates) - alpha) <= 3 * sd + 1e-9, (rates, sd)
