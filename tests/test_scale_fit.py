"""Large-fit settings of the default tabular ensemble's members (docs/scale.md)."""

import numpy as np

import anomalib_ae
from anomalib_ae.detectors.pyod.models import PyODGMM


def _gmm(X):
    return anomalib_ae.create("pyod.gmm", params={"n_components": 2}, random_state=0).fit(X)


def test_gmm_fits_on_a_seeded_sample_above_its_cap(monkeypatch):
    X = np.random.default_rng(0).normal(size=(600, 4))
    full = _gmm(X)
    monkeypatch.setattr(PyODGMM, "_max_fit_rows", 200)
    a, b = _gmm(X), _gmm(X)
    assert a.estimator_.decision_scores_.shape == (200,)  # PyOD's model saw the 200-row sample
    assert a.oof_scores_.shape == (600,) and a.decision_scores_.shape == (600,)  # every row still scored
    np.testing.assert_array_equal(a.score(X), b.score(X))  # the sample is seeded
    assert not np.array_equal(a.score(X), full.score(X))
    monkeypatch.setattr(PyODGMM, "_max_fit_rows", 600)  # at or below the cap: the fit is unchanged
    np.testing.assert_array_equal(_gmm(X).score(X), full.score(X))
