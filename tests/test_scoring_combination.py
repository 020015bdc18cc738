"""Combination rules over an (n_samples, n_detectors) matrix."""

import numpy as np
import pytest

from anomalib_ae.scoring import COMBINE_RULES, aom, average, combine, maximization, median, moa

S = np.array([[1.0, 2.0, 6.0, 3.0], [0.0, 0.0, 0.0, 4.0]])


def test_closed_forms():
    np.testing.assert_allclose(average(S), [3.0, 1.0])
    np.testing.assert_allclose(average(S, weights=[0, 0, 1, 1]), [4.5, 2.0])
    np.testing.assert_allclose(maximization(S), [6.0, 4.0])
    np.testing.assert_allclose(median(S), [2.5, 0.0])
    # one bucket: aom = max, moa = mean; one detector per bucket: aom = mean, moa = max
    np.testing.assert_allclose(aom(S, n_buckets=1), maximization(S))
    np.testing.assert_allclose(moa(S, n_buckets=1), average(S))
    np.testing.assert_allclose(aom(S, n_buckets=4), average(S))
    np.testing.assert_allclose(moa(S, n_buckets=4), maximization(S))


def test_aom_moa_bounded_and_deterministic():
    s = np.random.default_rng(0).normal(size=(50, 7))
    for fn in (aom, moa):
        out = fn(s)
        assert out.shape == (50,)
        assert np.all(out <= s.max(axis=1) + 1e-12) and np.all(out >= s.mean(axis=1) - 1e-12)
        np.testing.assert_array_equal(out, fn(s))


@pytest.mark.parametrize("rule", COMBINE_RULES)
def test_combine_dispatch(rule):
    out = combine(S, rule, weights=[1, 1, 1, 1])
    assert out.shape == (2,) and out.dtype == np.float64


def test_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        average(np.ones(3))
    with pytest.raises(ValueError, match="weights"):
        average(S, weights=[1, 2])
    with pytest.raises(ValueError, match="needs weights"):
        combine(S, "weighted")
    with pytest.raises(ValueError, match="unknown combination"):
        combine(S, "sum")
    with pytest.raises(ValueError, match="n_buckets"):
        aom(S, n_buckets=9)
