"""Calibration transforms: conformal p-values and their continuous tail extension."""

import numpy as np
import pytest

from anomalib_ae.scoring import conformal_p_values, surprise, tail_p_values
from anomalib_ae.scoring.calibration import tail_scale


def test_conformal_p_values_closed_form():
    cal = np.array([1.0, 2.0, 3.0, 4.0])
    p = conformal_p_values(cal, [0.0, 2.0, 2.5, 4.0, 9.0])
    np.testing.assert_allclose(p, [5 / 5, 4 / 5, 3 / 5, 2 / 5, 1 / 5])


def test_conformal_p_values_are_valid_under_the_null():
    """Marginal validity: averaged over calibration sets, P(p <= alpha) <= alpha (and >= alpha - 1/(n+1))."""
    rng = np.random.default_rng(0)
    p = np.concatenate([conformal_p_values(rng.normal(size=99), rng.normal(size=1000)) for _ in range(300)])
    for alpha in (0.01, 0.05, 0.2):
        assert alpha - 0.01 - 0.004 <= (p <= alpha).mean() <= alpha + 0.004


def test_tail_p_values_continuous_monotone_and_match_inside_range():
    cal = np.random.default_rng(1).exponential(size=300)
    s = np.linspace(-1, cal.max() + 5, 2000)
    p = tail_p_values(cal, s)
    assert np.all(np.diff(p) <= 0) and np.all(p > 0) and np.all(p <= 1)
    # beyond the largest calibration score the p-value keeps decreasing strictly
    far = s > cal.max()
    assert np.all(np.diff(p[far]) < 0)
    # continuity at the top calibration score and agreement with the conformal p there
    top = tail_p_values(cal, [cal.max(), cal.max() + 1e-9])
    assert top[0] == pytest.approx(1 / 301) and top[1] == pytest.approx(1 / 301, rel=1e-6)
    inside = np.quantile(cal, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(tail_p_values(cal, inside), conformal_p_values(cal, inside), atol=2 / 301)


def test_tail_scale_of_exponential_calibration_is_its_mean():
    cal = np.random.default_rng(2).exponential(scale=3.0, size=20000)
    assert tail_scale(cal) == pytest.approx(3.0, rel=0.1)


def test_surprise_is_minus_log_p_and_rejects_empty_calibration():
    cal = np.arange(10.0)
    np.testing.assert_allclose(surprise(cal, [3.0, 50.0]), -np.log(tail_p_values(cal, [3.0, 50.0])))
    with pytest.raises(ValueError, match="at least one"):
        tail_p_values([], [1.0])
