"""fit(X, y) with a few known anomalies fits the probability map (detector and Pipeline paths, issue 13)."""

import numpy as np
import pandas as pd
import pytest

import anomalib_ae
from anomalib_ae.pipeline import Pipeline
from anomalib_ae.scoring.probability import labelled_anomalies, prior_probability, reliability


def _data(rng, n_normal, n_anomalous):
    normal = rng.normal(size=(n_normal, 4))
    anomalous = rng.normal(size=(n_anomalous, 4)) * 0.7 + np.array([3.0, 0, 0, 0])  # some overlap the normals
    return np.vstack([normal, anomalous]), np.r_[np.zeros(n_normal), np.ones(n_anomalous)].astype(int)


def test_labelled_anomalies_only_for_a_few_known_anomalies():
    assert labelled_anomalies(None) is None
    assert labelled_anomalies(np.zeros(5)) is None  # no anomaly
    assert labelled_anomalies(np.array([0, 1, 2])) is None  # not anomaly labels
    assert labelled_anomalies(np.array([1, 0, 0, 0, 0, 1, 0])) is None  # more than a quarter
    np.testing.assert_array_equal(labelled_anomalies(np.array([0, -1, 1, 0])), [False, False, True, False])


def test_detector_fit_with_known_anomalies_holds_them_out_and_fits_a_calibrated_map():
    rng = np.random.default_rng(0)
    X, y = _data(rng, 600, 15)
    det = anomalib_ae.create("pyod.knn", contamination=0.1).fit(X, y)
    plain = anomalib_ae.create("pyod.knn", contamination=0.1).fit(X[y == 0])
    X_test, y_test = _data(rng, 450, 50)  # anomaly share 0.1 = contamination, the map's prior
    np.testing.assert_allclose(det.score(X_test), plain.score(X_test))  # the known anomalies were not fitted
    np.testing.assert_allclose(det.calibration_scores_, plain.calibration_scores_)
    assert det.decision_scores_.shape == (615,) and det.labels_[y == 1].mean() > 0.5  # every row, anomalies scored out of sample
    assert det.probability_map().method == "platt" and plain.probability_map().method == "prior"
    prob = det.predict_proba(X_test)[:, 1]
    ece = reliability(prob, y_test).ece
    ece_bound = reliability(prior_probability(det.p_value(X_test), 0.1), y_test).ece
    assert ece < 0.08 and ece < ece_bound  # close to the diagonal, unlike the label-free upper bound
    assert prob[y_test == 1].mean() > 0.3 > 0.1 > prob[y_test == 0].mean()


def test_pipeline_fit_with_known_anomalies_and_reload(tmp_path):
    rng = np.random.default_rng(1)
    X, y = _data(rng, 500, 12)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    pipe = Pipeline("pyod.knn", kind="tabular", contamination=0.1).fit(df, y)
    assert pipe.n_train_items_ == 500 and pipe.probability_map().method == "platt"
    X_test, y_test = _data(rng, 450, 50)
    t = pipe.score_items(pd.DataFrame(X_test, columns=["a", "b", "c", "d"])).table
    assert reliability(t["probability"].to_numpy(), y_test).ece < 0.08
    pipe.save(tmp_path / "m.pt")
    back = anomalib_ae.load(tmp_path / "m.pt")
    np.testing.assert_allclose(back.score_items(pd.DataFrame(X_test, columns=["a", "b", "c", "d"])).table["probability"],
                               t["probability"])
    with pytest.raises(ValueError, match="at most a quarter"):
        Pipeline("pyod.knn", kind="tabular").fit(df.iloc[:20], np.r_[np.zeros(5), np.ones(15)])
    with pytest.raises(ValueError, match="not supported for telemetry"):
        Pipeline("ae", kind="telemetry").fit(pd.DataFrame({"timestamp": range(4), "x": range(4)}), [0, 0, 1, 0])
