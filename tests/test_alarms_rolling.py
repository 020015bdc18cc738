"""Rolling re-calibration strategy (issue 13): new-level rule, adaptive level, no look-ahead."""

import numpy as np
import pytest

from anomalib_ae.scoring.rolling import RollingCalibrator, binomial_band


def _drifting_autocorrelated(seed=0, n=32000):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = 0.995 * x[t - 1] + 0.1 * e[t]
    return x + 0.3 * rng.normal(size=n) + np.linspace(0, 3, n)


def test_adaptive_level_pulls_the_rate_back_on_autocorrelated_drifting_normal_scores():
    x = _drifting_autocorrelated()
    cal, s = x[:2000], x[2000:]
    fixed = RollingCalibrator(cal, 0.01, window=2000, gamma=0.0).update(s).flags.mean()
    adaptive = RollingCalibrator(cal, 0.01, window=2000).update(s).flags.mean()  # default gamma 0.002, refresh 5
    assert fixed > 0.025  # the window lags the drift: nearly three times alpha
    assert abs(adaptive - 0.01) < 0.004


def test_a_new_level_is_relearnt_while_short_incidents_stay_out_of_the_window():
    rng = np.random.default_rng(0)
    cal = rng.normal(size=2000)
    incident = np.r_[rng.normal(size=3000), rng.normal(size=100) + 10, rng.normal(size=3000)]
    r = RollingCalibrator(cal, 0.01, window=2000).update(incident)
    assert r.flags[3000:3100].mean() > 0.95 and r.flags[3100:].mean() < 0.02  # the incident did not raise the threshold
    moved = np.r_[rng.normal(size=3000), rng.normal(size=20000) + 10]
    old = RollingCalibrator(cal, 0.01, window=2000, max_excluded_run=None).update(moved)
    new = RollingCalibrator(cal, 0.01, window=2000).update(moved)  # default max_excluded_run 360
    assert old.flags[-10000:].all()  # excluded for ever: every minute alarms
    assert abs(new.flags[-10000:].mean() - 0.01) < 0.006
    assert new.drift[3500:5000].any() and not new.drift[-2000:].any()  # warned while off, quiet once re-learnt


def test_no_look_ahead_and_refresh_blocks():
    rng = np.random.default_rng(1)
    cal, s = rng.normal(size=500), rng.normal(size=1000)
    a = RollingCalibrator(cal, 0.05, window=500, refresh=50).update(s)
    s2 = s.copy()
    s2[600:] += 5.0  # a different future
    b = RollingCalibrator(cal, 0.05, window=500, refresh=50).update(s2)
    np.testing.assert_array_equal(a.thresholds[:601], b.thresholds[:601])  # refreshed at 600 from items < 600
    assert np.all(a.thresholds.reshape(20, 50) == a.thresholds.reshape(20, 50)[:, :1])
    np.testing.assert_array_equal(a.flags, s > a.thresholds)
    with pytest.raises(ValueError, match="refresh"):
        RollingCalibrator(cal, 0.05, refresh=0)


def test_binomial_band_matches_the_documented_values():
    lo, hi = binomial_band(0.01, 4320)
    assert (round(lo, 4), round(hi, 4)) == (0.0063, 0.0141)
    lo, hi = binomial_band(0.01, 1440)
    assert (round(lo, 3), round(hi, 3)) == (0.004, 0.017)
