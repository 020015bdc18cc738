"""DriftMonitor: numpy KS + low-p-value rate test against reference scores."""

import ast
from pathlib import Path

import numpy as np
import pytest

from anomalib_ae.scoring.drift import DriftMonitor, DriftStatus, binomial_upper_tail, ks_2samp


def test_ks_matches_scipy():
    st = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for shift, n, m in [(0.0, 200, 1000), (0.3, 200, 1000), (0.5, 60, 80), (0.0, 500, 3000)]:
        a, b = rng.normal(shift, 1, n), rng.normal(0, 1, m)
        d, p = ks_2samp(a, b)
        ref = st.ks_2samp(a, b, method="asymp")
        assert d == pytest.approx(ref.statistic, abs=1e-12)
        assert p == pytest.approx(ref.pvalue, abs=0.02)


def test_ks_ties():
    st = pytest.importorskip("scipy.stats")
    a, b = np.array([1, 1, 2, 3, 3, 3.0]), np.array([1, 2, 2, 2, 4.0])
    assert ks_2samp(a, b)[0] == pytest.approx(st.ks_2samp(a, b).statistic)


def test_binomial_tail_matches_scipy():
    st = pytest.importorskip("scipy.stats")
    for k, n, p in [(10, 500, 0.01), (0, 10, 0.5), (3, 200, 0.01), (200, 200, 0.01)]:
        assert binomial_upper_tail(k, n, p) == pytest.approx(st.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)


def test_false_alarm_rate_near_alpha_and_power():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=3000)
    alarms = 0
    for _ in range(200):
        alarms += DriftMonitor(ref, window=200, alpha=0.01).update(rng.normal(size=200)).drifted
    assert alarms / 200 <= 0.04
    hits = sum(DriftMonitor(ref, window=200).update(rng.normal(0.5, 1, size=200)).drifted for _ in range(50))
    assert hits >= 48
    # a few very high scores: KS barely moves, the low-p-value rate test catches them
    x = rng.normal(size=200)
    x[::17] = 10.0  # 12 scattered items
    st = DriftMonitor(ref, window=200).update(x)
    assert st.drifted and st.low_p_share > st.low_p_band and st.rate_p_value < st.ks_p_value


def _ar1(rng, n, phi=0.95):
    e = rng.normal(size=n) * np.sqrt(1 - phi**2)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def test_autocorrelated_stream():
    """Slowly wandering but unshifted scores: the AR(1) adjustment keeps false alarms rare; a shift is still seen."""
    rng = np.random.default_rng(2)
    ref = rng.normal(size=3000)
    plain = adjusted = 0
    for _ in range(100):
        x = _ar1(rng, 200)
        plain += DriftMonitor(ref, window=200, autocorrelation=False).update(x).drifted
        st = DriftMonitor(ref, window=200).update(x)
        adjusted += st.drifted
        assert st.n_eff < 40
    assert plain >= 30 and adjusted <= 8
    shifted = sum(DriftMonitor(ref, window=200).update(_ar1(rng, 200) + 3.0).drifted for _ in range(20))
    assert shifted >= 18


def test_window_min_items_and_nan():
    mon = DriftMonitor(np.arange(100.0), window=50, min_items=20)
    st = mon.update([np.nan, np.inf] + [1.0] * 10)
    assert isinstance(st, DriftStatus) and st.n == 10 and not st.drifted and np.isnan(st.statistic)
    assert st.to_dict()["statistic"] is None
    mon.update(np.full(100, 500.0))  # window keeps only the 50 latest
    st = mon.status()
    assert st.n == 50 and st.drifted and st.statistic == 1.0 and st.method == "ks+rate"
    mon.reset()
    assert mon.status().n == 0


def test_bad_parameters():
    with pytest.raises(ValueError, match="reference"):
        DriftMonitor([np.nan, 1.0])
    with pytest.raises(ValueError, match="alpha"):
        DriftMonitor(np.arange(10.0), alpha=1.5)


def test_numpy_only():
    src = (Path(__file__).resolve().parents[1] / "anomalib_ae" / "scoring" / "drift.py").read_text()
    mods = {a.name.split(".")[0] for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom) and n.module}
    assert mods <= {"numpy", "math", "collections", "dataclasses", "__future__"}
