"""Time-series detection metrics of anomalib_ae.scoring on tiny hand-checked series."""

import numpy as np
import pytest

from anomalib_ae.scoring import (
    best_f1,
    best_f1_point_adjusted,
    best_range_f1,
    point_adjust_scores,
    range_f1,
    range_precision_recall,
    segments,
)


def test_segments_are_half_open_runs():
    assert segments([0, 1, 1, 0, 1]).tolist() == [[1, 3], [4, 5]]
    assert segments([1, 1]).tolist() == [[0, 2]]
    assert segments([0, 0]).shape == (0, 2)
    with pytest.raises(ValueError, match="only 0 and 1"):
        segments([0, 2])
    with pytest.raises(ValueError, match="1-d"):
        segments([[0, 1]])


def test_best_f1_by_hand():
    # thresholds 0.9 -> 1 flagged, 1 right: F1 = 2/(1+2) = 0.667; 0.5 -> 2 flagged, 1 right: 0.5;
    # 0.4 -> 3 flagged, 2 right: 4/5 = 0.8 (best); 0.1 -> 4 flagged, 2 right: 4/6
    r = best_f1([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.5])
    assert r.f1 == pytest.approx(0.8)
    assert (r.precision, r.recall, r.threshold) == (pytest.approx(2 / 3), 1.0, 0.4)


def test_best_f1_ties_are_flagged_together_and_match_sklearn():
    from sklearn.metrics import precision_recall_curve

    assert best_f1([1, 0], [0.5, 0.5]).f1 == pytest.approx(2 / 3)  # cannot split a tie
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    s = np.round(rng.random(300) + y * 0.3, 2)
    p, r, _ = precision_recall_curve(y, s)
    assert best_f1(y, s).f1 == pytest.approx(np.max(2 * p * r / np.maximum(p + r, 1e-12)))


def test_best_f1_edge_cases_and_bad_input():
    assert best_f1([0, 0], [0.1, 0.2]).f1 == 0.0
    with pytest.raises(ValueError, match="shape"):
        best_f1([0, 1], [0.1])
    with pytest.raises(ValueError, match="non-finite"):
        best_f1([0, 1], [0.1, np.nan])


def test_point_adjustment_by_hand():
    y = [0, 1, 1, 1, 0, 0]
    s = [0.2, 0.1, 0.7, 0.3, 0.5, 0.0]
    assert point_adjust_scores(y, s).tolist() == [0.2, 0.7, 0.7, 0.7, 0.5, 0.0]
    # without adjustment the best is t = 0.1: 5 flagged, all 3 anomalies: F1 = 6/(5+3) = 0.75
    # (t = 0.7: 2/(1+3) = 0.5; t = 0.3: 4/(3+3)); with it, t = 0.7 flags the whole segment
    # and nothing else: F1 = 1
    assert best_f1(y, s).f1 == pytest.approx(0.75)
    assert best_f1_point_adjusted(y, s).f1 == pytest.approx(1.0)


def test_range_based_by_hand():
    # one real range [2, 6) of 4 points, prediction covers [4, 8): overlap 2 points
    y = np.array([0, 0, 1, 1, 1, 1, 0, 0, 0, 0])
    p = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
    prec, rec = range_precision_recall(y, p)
    assert (prec, rec) == (pytest.approx(0.5), pytest.approx(0.5))  # 2/4 of each range covered
    # existence reward: alpha = 0.5 -> recall = 0.5 * 1 + 0.5 * 0.5
    assert range_precision_recall(y, p, alpha=0.5)[1] == pytest.approx(0.75)
    # the same range hit by two predicted ranges of 1 point each: coverage 2/4, cardinality 1/2
    p2 = np.array([0, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    prec2, rec2 = range_precision_recall(y, p2)
    assert rec2 == pytest.approx(0.25)
    assert prec2 == pytest.approx(1.0)  # each predicted point lies inside the one real range
    assert range_f1(y, p2).f1 == pytest.approx(2 * 0.25 / 1.25)
    assert range_f1(y, np.zeros(10, int)).f1 == 0.0


def test_range_f1_does_not_inflate_like_point_adjustment():
    # a 100-point event hit at one point: F1-PA is perfect, range-based recall is 1/100
    y = np.zeros(1000, int)
    y[400:500] = 1
    s = np.zeros(1000)
    s[450] = 1.0
    assert best_f1_point_adjusted(y, s).f1 == pytest.approx(1.0)
    assert range_f1(y, s >= 1.0).f1 == pytest.approx(2 * 1 * 0.01 / 1.01)  # precision 1, recall 0.01
    # the best threshold flags everything: precision 100/1000, recall 1
    r = best_range_f1(y, s)
    assert (r.f1, r.threshold) == (pytest.approx(2 * 0.1 / 1.1), 0.0)


def test_range_based_matches_prts_reference():
    prts = pytest.importorskip("prts")
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(5, 40))
        y = (rng.random(n) < rng.random()).astype(int)
        p = (rng.random(n) < rng.random()).astype(int)
        if not y.any() or not p.any():
            continue
        ref = (prts.ts_precision(y, p, alpha=0.0, cardinality="reciprocal", bias="flat"),
               prts.ts_recall(y, p, alpha=0.0, cardinality="reciprocal", bias="flat"))
        assert range_precision_recall(y, p) == pytest.approx(ref)


def test_best_range_f1_scans_distinct_scores_of_a_short_series():
    y = [0, 1, 1, 0, 0, 1]
    s = [0.0, 0.9, 0.8, 0.1, 0.2, 0.7]
    r = best_range_f1(y, s)
    assert r.f1 == pytest.approx(1.0) and r.threshold == 0.7
