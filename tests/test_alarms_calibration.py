"""Held-out calibration, re-calibration, probabilities and rolling re-calibration (issue 13)."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.cli import cli
from anomalib_ae.data.splits import group_folds, group_holdout, recording_groups, time_tail_split
from anomalib_ae.pipeline import Pipeline
from anomalib_ae.scoring import fpr_threshold
from anomalib_ae.scoring.probability import (
    ProbabilityMap, fit_probability_map, loo_p_values, prior_probability, reliability)
from anomalib_ae.scoring.rolling import RollingCalibrator, binomial_band

FAST = {"epochs": 1, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}


# ---------------------------------------------------------------- splits
def test_recording_groups_keep_segments_of_one_recording_together():
    paths = [f"/d/normal/normal_clip{c:08d}_seg{s}.wav" for c in range(6) for s in range(5)]
    g = recording_groups(paths)
    assert len(set(g)) == 6
    fit, cal = group_holdout(g, 0.2, 0)
    assert set(g[fit]).isdisjoint(g[cal]) and len(set(g[cal])) == 1
    folds = group_folds(g, 5, 0)
    assert sorted(np.concatenate([c for _, c in folds]).tolist()) == list(range(30))
    for f, c in folds:
        assert set(g[f]).isdisjoint(g[c])


def test_time_tail_split_is_time_ordered_per_entity():
    t = pd.date_range("2024-01-01", periods=50, freq="min")
    df = pd.DataFrame({"timestamp": np.r_[t, t][::-1], "node": ["a"] * 50 + ["b"] * 50, "v": np.arange(100.0)})
    fit, cal = time_tail_split(df, "timestamp", "node", 0.2)
    assert len(cal) == 20 and len(fit) == 80
    for node in "ab":
        assert fit[fit.node == node].timestamp.max() < cal[cal.node == node].timestamp.min()
    with pytest.raises(ValueError, match="too few"):
        time_tail_split(df, "timestamp", "node", 0.2, min_rows=20)


# ---------------------------------------------------------------- pipelines
def test_audio_pipeline_calibrates_on_held_out_recordings():
    m = datasets.load_mimii_sample()
    normal = [p for p, y in zip(m["paths"], m["labels"]) if y == 0]
    pipe = Pipeline("ae", kind="audio", detector_params=FAST, threshold="fpr:0.2").fit(normal)
    assert pipe.calibration_method_ == "crossfit"  # small data (30 clips): cross-fitted over recordings
    assert len(pipe.calibration_scores_) == len(normal)  # every clip scored out of fold
    train_items = pipe.score(normal)
    assert np.median(pipe.calibration_scores_) > np.median(train_items)  # out-of-fold scores sit higher
    assert pipe.threshold_ == fpr_threshold(pipe.calibration_scores_, 0.2)


def test_recalibration_changes_thresholds_not_scores(tmp_path):
    d = datasets.load_smd_sample()
    params = {"window": 8, "stride": 4, "entity_col": "machine", "exclude": ["label", "source_row"]}
    pipe = Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST,
                    threshold="fpr:0.05").fit(d["train"].iloc[:1000])
    test = d["test"].iloc[:400]
    before = pipe.score_items(test).table
    path = tmp_path / "m.pt"
    pipe.save(path)
    fresh = d["train"].iloc[1000:1600]
    res = CliRunner().invoke(cli, ["calibrate", "-m", str(path), "-i", _csv(fresh, tmp_path), "-o",
                                   str(tmp_path / "m2.pt"), "--threshold", "fpr:0.1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    back = anomalib_ae.load(tmp_path / "m2.pt")
    after = back.score_items(test).table
    np.testing.assert_array_equal(after["score"], before["score"])  # scores never change
    assert len(back.calibration_scores_) == 600 and back.calibration_method_ == "recalibrated"
    assert back.threshold_ == fpr_threshold(back.calibration_scores_, 0.1) and back.threshold == "fpr:0.1"
    # in Python too, rule kept
    again = anomalib_ae.load(path).calibrate(fresh)
    assert again.threshold_ == fpr_threshold(again.calibration_scores_, 0.05)


def _csv(df, tmp_path):
    p = tmp_path / "fresh.csv"
    df.to_csv(p, index=False)
    return str(p)


def test_detector_calibrate_and_probability_map_round_trip(tmp_path):
    X, y = datasets.load_cardio()
    rng = np.random.default_rng(0)
    normal, anom = rng.permutation(np.flatnonzero(y == 0)), np.flatnonzero(y == 1)
    det = anomalib_ae.create("pyod.knn", threshold="fpr:0.05").fit(X[normal[:600]])
    s = det.score(X[normal[600:900]])
    det.calibrate(X[normal[600:900]])
    np.testing.assert_array_equal(det.score(X[normal[600:900]]), s)
    assert det.threshold_ == fpr_threshold(s, 0.05)
    # label-free probability: the documented prior bound with prior = contamination
    p = det.p_value(X[anom[:5]])
    np.testing.assert_allclose(det.predict_proba(X[anom[:5]])[:, 1], prior_probability(p, det.contamination))
    lab = np.r_[normal[900:1200], anom[:30]]
    det.calibrate_probability(X[lab], (y[lab] == 1).astype(int))
    assert det.probability_map().method == "platt"
    det.save(tmp_path / "d.pt")
    back = anomalib_ae.load(tmp_path / "d.pt")
    np.testing.assert_array_equal(back.predict_proba(X[anom]), det.predict_proba(X[anom]))


# ---------------------------------------------------------------- probability (numpy)
def test_platt_and_isotonic_maps_are_calibrated_on_held_out_labels():
    rng = np.random.default_rng(0)

    def sample(n):  # p-values: uniform for normal items, concentrated near 0 for 10 % anomalies
        y = (rng.random(n) < 0.1).astype(int)
        p = np.where(y == 1, rng.beta(0.2, 3, n), rng.random(n))
        return np.clip(p, 1e-6, 1), y

    p_fit, y_fit = sample(3000)
    p_test, y_test = sample(20000)
    for method in ("platt", "isotonic"):
        m = fit_probability_map(p_fit, y_fit, method=method)
        q = m(p_test)
        assert np.all(np.diff(q[np.argsort(-p_test)]) >= -1e-12)  # monotone: smaller p, higher probability
        r = reliability(q, y_test)
        assert r.ece < 0.03, (method, r.ece)
        assert ProbabilityMap.from_dict(m.to_dict())(p_test) == pytest.approx(q)
    naive = reliability(1 - p_test, y_test).ece  # the old "1 - p-value"
    assert naive > 0.3
    # prior shift: the same map at another base rate
    m = fit_probability_map(p_fit, y_fit, prior=0.5)
    assert m(np.array([0.5]))[0] > fit_probability_map(p_fit, y_fit)(np.array([0.5]))[0]
    with pytest.raises(ValueError, match="at least one labelled anomaly"):
        fit_probability_map(p_fit, np.zeros_like(y_fit))


def test_prior_bound_and_loo_p_values():
    assert prior_probability([0.5], 0.1)[0] == pytest.approx(0.1)
    q = prior_probability([1e-2, 1e-3, 1e-6], 0.1)
    assert np.all(np.diff(q) > 0) and q[-1] > 0.99
    p = loo_p_values(np.arange(10.0))
    np.testing.assert_allclose(p, (10 - np.arange(10)) / 10)


# ---------------------------------------------------------------- rolling
def test_rolling_recalibration_follows_drift_and_warns():
    rng = np.random.default_rng(0)
    cal = rng.normal(size=2000)
    stationary = RollingCalibrator(cal, 0.05, window=1000).update(rng.normal(size=10000))
    assert abs(stationary.flags.mean() - 0.05) < 0.01
    assert np.mean(stationary.drift[1000:]) < 0.05
    shifted = rng.normal(size=10000) + 1.5  # the plant changed: every score rose
    static_rate = np.mean(shifted > fpr_threshold(cal, 0.05))
    r = RollingCalibrator(cal, 0.05, window=1000).update(shifted)
    assert static_rate > 0.4
    assert abs(r.flags[3000:].mean() - 0.05) < 0.015  # the window has caught up
    assert r.drift[100:1000].any()  # and it warned while the rate was off
    lo, hi = binomial_band(0.05, 1000)
    assert lo < 0.05 < hi


def test_pipeline_rolling_option_adds_threshold_and_drift_columns():
    d = datasets.load_smd_sample()
    params = {"window": 8, "stride": 4, "entity_col": "machine", "exclude": ["label", "source_row"]}
    pipe = Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST, threshold="fpr:0.05",
                    rolling_window=200).fit(d["train"].iloc[:1000])
    t = pipe.score_items(d["train"].iloc[1000:1600]).table  # fresh normal minutes
    assert {"p_value", "probability", "threshold", "drift_warning"} <= set(t.columns)
    assert t["threshold"].nunique() > 1
    np.testing.assert_array_equal(t["is_anomaly"].to_numpy(bool), t["score"].to_numpy() > t["threshold"].to_numpy())
