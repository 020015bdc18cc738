"""The SMD explanation benchmark's train-only selection: what it plants and how it scores (no data needed)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from anomalib_ae.explain.blend import moving_mean
from anomalib_ae.explain.metrics import culprit_scores, hit_rate, ndcg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _explain_smd import plant, smooth, span_rows  # noqa: E402


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
