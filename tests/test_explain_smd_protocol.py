"""The SMD explanation benchmark's selection protocols: what it plants, how ASD's labels are read, how it scores
(no data needed)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from anomalib_ae.explain.blend import moving_mean
from anomalib_ae.explain.metrics import culprit_scores, hit_rate, ndcg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _explain_asd import _without_trivial  # noqa: E402
from _explain_smd import plant, read_interp, score_rows, smooth, span_rows  # noqa: E402


def test_asd_end_is_inclusive_smd_end_exclusive(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("10-14:1,3\n20-20:19\n")  # ASD style: the row 20 alone is a one-row segment
    assert read_interp(f) == [(10, 14, [0, 2]), (20, 20, [18])]  # SMD reading: end exclusive
    assert read_interp(f, end_inclusive=True) == [(10, 15, [0, 2]), (20, 21, [18])]


def test_segments_naming_most_metrics_are_left_out_of_the_informative_rows():
    """At 150 % a segment naming >= 13 of 19 metrics scores 1 for any ranking; the informative
    view drops exactly those, and one fixed attribution scores like the definition."""
    d, rows = 19, np.arange(40)
    seg = np.full(40, -1)
    seg[5:15], seg[20:30] = 0, 1
    G = np.zeros((40, d), dtype=bool)
    G[5:15, :2] = True  # 2 culprits: informative
    G[20:30, :13] = True  # 13 culprits: floor(1.5 * 13) = 19 = every metric
    arrays = {"spread": {}, "test": {"rows": rows, "seg": seg, "culprits": G}}
    A = np.tile(np.arange(d, 0, -1, dtype=float), (40, 1))  # ranks metric 0 first, then 1, ...
    full = score_rows(arrays, {"test": A}, ["test"])
    assert full["hitrate@150"] == 1.0 and full["hitrate@100"] == 1.0
    B = np.tile(np.arange(d, dtype=float), (40, 1))  # the worst ranking: metric 18 first
    worst = score_rows(arrays, {"test": B}, ["test"])
    assert worst["hitrate@150"] == pytest.approx(0.5)  # segment 0 scores 0, segment 1 (trivial) scores 1
    inf = _without_trivial(arrays)
    assert (inf["test"]["seg"][20:30] == -1).all() and (inf["test"]["seg"][5:15] == 0).all()
    assert score_rows(inf, {"test": B}, ["test"])["hitrate@150"] == 0.0


def test_vectorised_culprit_scores_equal_the_per_item_definitions():
    rng = np.random.default_rng(0)
    A = rng.integers(0, 5, size=(300, 10)).astype(float)  # many ties: feature order breaks them
    G = [sorted(rng.choice(10, size=rng.integers(1, 8), replace=False)) for _ in range(300)]
    got = culprit_scores(A, G)
    assert got["hitrate@100"] == pytest.approx(np.mean([hit_rate(a, g, 100) for a, g in zip(A, G)]))
    assert got["hitrate@150"] == pytest.approx(np.mean([hit_rate(a, g, 150) for a, g in zip(A, G)]))
    assert got["ndcg@150"] == pytest.approx(np.mean([ndcg(a, g, 150) for a, g in zip(A, G)]))


def test_planted_events_change_only_their_culprits_inside_the_training_range():
    rng = np.random.default_rng(1)
    X = rng.uniform(0.2, 0.6, size=(2000, 12)).astype(np.float32)
    X[:, 11] = 0.0  # a constant metric (as SMD has) is never a planted culprit
    sd, lo, hi = X.std(axis=0), np.zeros(12), np.ones(12)
    with np.errstate(invalid="ignore", divide="ignore"):  # the constant metric has no correlation
        corr = np.nan_to_num(np.corrcoef(X.T))
    Y, events = plant(X, np.random.default_rng(2), sd=sd, lo=lo, hi=hi, corr=corr)
    assert len(events) >= 5 and (Y >= 0).all() and (Y <= 1).all()
    changed = np.zeros_like(X, dtype=bool)
    for (s, e, dims), nxt in zip(events, [*events[1:], None]):
        assert 1 <= len(dims) <= 6 and 11 not in dims and e > s
        assert nxt is None or nxt[0] >= e + 20
        changed[s:e, dims] = True
    assert np.array_equal(Y[~changed], X[~changed])  # nothing outside the labelled culprits moved
    assert (Y[changed] != X[changed]).mean() > 0.9


def test_row_smoothing_and_window_smoothing_agree_on_one_run():
    A = np.arange(20, dtype=float)[:, None] ** 2
    rows = np.r_[np.arange(10), np.arange(30, 40)]  # two runs: smoothing never crosses the gap
    S = smooth(A, rows, 2)
    assert S[9, 0] == pytest.approx(np.mean(A[7:10, 0])) and S[10, 0] == pytest.approx(np.mean(A[10:13, 0]))
    W = moving_mean(A[None, :10], 5, axis=1)[0]
    np.testing.assert_allclose(W, S[:10])
    rows, seg, starts = span_rows(100, [(40, 45, [0])], T=16, pad=3)
    assert rows.tolist() == list(range(37, 48)) and (seg[3:8] == 0).all() and (seg[[0, -1]] == -1).all()
    assert starts.min() == 37 - 15 and starts.max() == 47
