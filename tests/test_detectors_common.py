"""One contract test over every registered detector (the list comes from the registry)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import anomalib_ae
from fast_params import make

DETECTORS = anomalib_ae.list_detectors()


@pytest.mark.parametrize("name", DETECTORS)
def test_fit_score_contract(name, blobs_with_outliers):
    X_train, X_test, y_test = blobs_with_outliers
    det = make(name, epochs=30) if "epochs" in make(name).get_params() else make(name)
    assert det.fit(X_train) is det
    scores = det.score(X_test)
    assert scores.dtype == np.float64 and scores.shape == (len(X_test),)
    assert np.all(np.isfinite(scores))
    # planted far outliers rank above the normal points
    assert roc_auc_score(y_test, scores) > 0.9
    np.testing.assert_array_equal(det.score_samples(X_test), -scores)
    np.testing.assert_allclose(det.decision_function(X_test), det.threshold_ - scores)
    pred = det.predict(X_test)
    assert set(np.unique(pred)) <= {-1, 1}
    np.testing.assert_array_equal(pred == -1, scores > det.threshold_)
    proba = det.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[y_test == 1, 1].mean() > proba[y_test == 0, 1].mean()
    # PyOD's view
    assert det.decision_scores_.shape == (len(X_train),)
    assert set(np.unique(det.labels_)) <= {0, 1}


@pytest.mark.parametrize("name", DETECTORS)
def test_threshold_matches_contamination(name, blobs_with_outliers):
    X_train = blobs_with_outliers[0]
    det = make(name, contamination=0.05).fit(X_train)
    # the contamination rule reads the calibration scores (held-out normal scores where the
    # detector holds some out; the training scores otherwise: scikit-learn's and PyOD's rule)
    assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 0.95))
    if np.array_equal(np.sort(det.calibration_scores_), np.sort(det.decision_scores_)):
        assert abs(det.labels_.mean() - 0.05) <= 1.0 / len(X_train)


@pytest.mark.parametrize("name", DETECTORS)
def test_persistence_round_trip_is_bit_identical(name, tmp_path, blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    det = make(name).fit(X_train)
    path = tmp_path / f"{name}.pt"
    det.save(path)
    loaded = anomalib_ae.load(path)
    assert type(loaded) is type(det)
    assert loaded.get_params() == det.get_params()
    np.testing.assert_array_equal(loaded.score(X_test), det.score(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), det.predict_proba(X_test))
    assert loaded.threshold_ == det.threshold_


@pytest.mark.parametrize("name", DETECTORS)
def test_clone_and_params(name):
    det = make(name)
    params = det.get_params()
    twin = clone(det)
    assert twin.get_params() == params
    assert "contamination" in params


@pytest.mark.parametrize("name", DETECTORS)
def test_dataframe_feature_names_are_kept_and_checked(name, blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    cols = [f"m{i}" for i in range(X_train.shape[1])]
    det = make(name).fit(pd.DataFrame(X_train, columns=cols))
    assert list(det.feature_names_in_) == cols
    s = det.score(pd.DataFrame(X_test, columns=cols))
    assert s.shape == (len(X_test),)
    with pytest.raises(ValueError, match="feature names"):
        det.score(pd.DataFrame(X_test, columns=cols[::-1]))
