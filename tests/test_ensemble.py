"""anomalib_ae.Ensemble: members, combination rules, calibration, persistence."""

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae.scoring import surprise
from fast_params import make

MEMBERS = ["pyod.knn", ("pyod.iforest", {"params": {"n_estimators": 20}}), "pyod.ecod"]


@pytest.mark.parametrize("rule", ["mean", "max", "median", "aom", "moa"])
def test_rules_rank_planted_outliers(rule, blobs_with_outliers):
    X_train, X_test, y_test = blobs_with_outliers
    ens = anomalib_ae.Ensemble(MEMBERS, combine=rule, random_state=0).fit(X_train)
    s = ens.score(X_test)
    assert s[y_test == 1].min() > np.median(s[y_test == 0])
    assert ens.member_scores(X_test).shape == (len(X_test), 3)


def test_score_is_the_combined_member_surprise(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    ens = anomalib_ae.Ensemble(MEMBERS, combine="max", calibration="split", random_state=0).fit(X_train)
    manual = np.column_stack([surprise(m.calibration_scores_, m.score(X_test)) for m in ens.detectors_]).max(axis=1)
    np.testing.assert_allclose(ens.score(X_test), manual)
    # members are fitted on the non-held-out 90 %; the ensemble calibrates on the other 10 %
    assert ens.calibration_method_ == "split" and ens.calibration_scores_.shape == (20,)
    assert all(m.n_features_in_ == 6 for m in ens.detectors_)
    assert ens.detectors_[0].estimator_.decision_scores_.shape == (180,)


def test_oof_calibration_fits_members_on_all_rows(blobs_with_outliers):
    """Classical PyOD members only: "auto" is "oof"; the combination is calibrated on the members'
    out-of-sample scores of the training rows (leave-one-out kNN, cross-fitted iforest / ECOD)."""
    X_train, X_test, _ = blobs_with_outliers
    ens = anomalib_ae.Ensemble(MEMBERS, combine="max", random_state=0).fit(X_train)
    assert ens.calibration_method_ == "oof"
    assert [m.calibration_method_ for m in ens.detectors_] == ["loo", "cv", "cv"]
    assert ens.detectors_[0].estimator_.decision_scores_.shape == (200,)
    manual = np.column_stack([surprise(m.calibration_scores_, m.oof_scores_) for m in ens.detectors_]).max(axis=1)
    np.testing.assert_allclose(ens.calibration_scores_, manual)
    scores = np.column_stack([surprise(m.calibration_scores_, m.score(X_test)) for m in ens.detectors_]).max(axis=1)
    np.testing.assert_allclose(ens.score(X_test), scores)


def test_oof_calibration_holds_its_false_alarm_rate_on_fresh_normals():
    r = np.random.default_rng(3)
    X_train, fresh = r.normal(size=(1000, 5)), r.normal(size=(20000, 5))
    members = [("pyod.knn", {"params": {"n_neighbors": 1}}), ("pyod.lof", {"params": {"n_neighbors": 10}}), "pyod.gmm"]
    ens = anomalib_ae.Ensemble(members, threshold="fpr:0.05", random_state=0).fit(X_train)
    assert ens.calibration_method_ == "oof"
    assert abs(np.mean(ens.predict(fresh) == -1) - 0.05) < 0.02


def test_oof_calibration_needs_members_with_out_of_sample_scores(blobs_with_outliers):
    X_train = blobs_with_outliers[0]
    members = ["pyod.knn", make("ae")]
    with pytest.raises(ValueError, match="member 1 .*has none"):
        anomalib_ae.Ensemble(members, calibration="oof").fit(X_train)
    assert anomalib_ae.Ensemble(members, random_state=0).fit(X_train).calibration_method_ == "split"
    split_member = [("pyod.knn", {"calibration": "split"}), "pyod.ecod"]
    assert anomalib_ae.Ensemble(split_member, random_state=0).fit(X_train).calibration_method_ == "split"


def test_weighted(blobs_with_outliers):
    X_train, X_test, _ = blobs_with_outliers
    only_first = anomalib_ae.Ensemble(MEMBERS, combine="weighted", weights=[1, 0, 0], random_state=0).fit(X_train)
    np.testing.assert_allclose(only_first.score(X_test), only_first.member_scores(X_test)[:, 0])
    with pytest.raises(ValueError, match="one weight per member"):
        anomalib_ae.Ensemble(MEMBERS, combine="weighted", weights=[1, 2]).fit(X_train)


def test_detector_objects_are_cloned_and_bad_members_rejected(blobs_with_outliers, tmp_path):
    X_train = blobs_with_outliers[0]
    knn = anomalib_ae.create("pyod.knn")
    ens = anomalib_ae.Ensemble([knn, make("ae")], random_state=0).fit(X_train)
    assert not hasattr(knn, "estimator_") and ens.detectors_[0] is not knn
    ens.save(tmp_path / "e.pt")  # members given as objects are stored as (name, params)
    loaded = anomalib_ae.load(tmp_path / "e.pt")
    X_test = blobs_with_outliers[1]
    np.testing.assert_array_equal(loaded.score(X_test), ens.score(X_test))
    spec = loaded.get_params()["detectors"]
    assert [type(d) for d in spec] == [type(knn), type(ens.detectors_[1])]
    assert not hasattr(spec[0], "estimator_") and spec[0].get_params() == knn.get_params()
    refit = anomalib_ae.Ensemble(**loaded.get_params()).fit(X_train)  # the loaded spec fits again, same result
    np.testing.assert_array_equal(refit.score(X_test), ens.score(X_test))
    class Unregistered(type(knn)):  # a subclass is not its registered parent
        pass

    with pytest.raises(TypeError, match="Unregistered is not a registered detector"):
        anomalib_ae.Ensemble([Unregistered(), "pyod.ecod"], random_state=0).fit(X_train).save(tmp_path / "u.pt")
    for bad in ([], ["pyod.knn", 3], "pyod.knn"):
        with pytest.raises(ValueError, match="member|non-empty|detectors"):
            anomalib_ae.Ensemble(bad).fit(X_train)


def test_nested_save_load_is_bit_identical(blobs_with_outliers, tmp_path):
    X_train, X_test, _ = blobs_with_outliers
    ens = anomalib_ae.Ensemble(
        ["pyod.hbos", ("ae", {"epochs": 2, "verbose": False, "accelerator": "cpu"}),
         ("ensemble", {"detectors": ["pyod.knn", "pyod.pca"]})],
        combine="aom", threshold="fpr:0.1", random_state=0,
    ).fit(X_train)
    ens.save(tmp_path / "e.pt")
    loaded = anomalib_ae.load(tmp_path / "e.pt")
    np.testing.assert_array_equal(loaded.score(X_test), ens.score(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), ens.predict_proba(X_test))
    assert loaded.threshold_ == ens.threshold_ and loaded.get_params() == ens.get_params()


def test_oof_training_scores_are_the_out_of_sample_ones(blobs_with_outliers):
    """With "oof" the ensemble's training scores are its calibration scores (each member's
    leave-one-out / cross-fitted score of the row), not a second, in-sample pass over the rows."""
    X_train = blobs_with_outliers[0]
    ens = anomalib_ae.Ensemble(MEMBERS, combine="max", random_state=0).fit(X_train)
    np.testing.assert_array_equal(ens.decision_scores_, ens.calibration_scores_)
    assert ens.labels_.shape == (len(X_train),)
    split = anomalib_ae.Ensemble(MEMBERS, combine="max", calibration="split", random_state=0).fit(X_train)
    np.testing.assert_allclose(split.decision_scores_, split.score(X_train))
