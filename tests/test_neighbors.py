"""Neighbour search that scales: approximate (faiss IVF; HNSW on request) against exact, leave-one-out training
scores, the auto switch, save / load, and the errors for unsupported combinations."""

import numpy as np
import pytest

pytest.importorskip("faiss")  # in the dev and scale extras

import anomalib_ae  # noqa: E402
from anomalib_ae.neighbors import (  # noqa: E402
    ApproximateSearch,
    ExactSearch,
    KNNScorer,
    LOFScorer,
    make_search,
    resolve_neighbors,
)


def _clustered(n=3000, d=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(10, d))
    return centres[rng.integers(0, 10, n)] + rng.normal(size=(n, d))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
def test_approximate_recall_against_exact(metric):
    X = _clustered()
    Q = _clustered(300, seed=1)
    k = 10
    exact = ExactSearch(metric).fit(X).kneighbors(Q, k)
    approx = ApproximateSearch(metric).fit(X).kneighbors(Q, k)
    # a neighbour is right when it is within the exact k-th distance (ties count once)
    recall = np.mean(approx.distances <= exact.distances[:, -1:] * (1 + 1e-6) + 1e-9)
    assert recall >= 0.95
    assert np.all(np.diff(approx.distances, axis=1) >= 0)  # nearest first
    # distances are re-ranked exactly: the returned rows' true distances
    hit = approx.indices[:, 0] == exact.indices[:, 0]
    np.testing.assert_allclose(approx.distances[hit, 0], exact.distances[hit, 0], rtol=1e-5, atol=1e-6)


def test_training_queries_leave_each_row_out():
    X = _clustered(1000)
    nb = ApproximateSearch("euclidean").fit(X).kneighbors(None, 5)
    assert not np.any(nb.indices == np.arange(len(X))[:, None])
    assert np.all(nb.distances[:, 0] > 0)  # no duplicate rows here: a row is never its own neighbour
    ex = ExactSearch("euclidean").fit(X).kneighbors(None, 5)
    assert np.mean(nb.distances <= ex.distances[:, -1:] * (1 + 1e-6)) >= 0.95


@pytest.mark.parametrize("method", ["largest", "mean", "median"])
@pytest.mark.parametrize("metric", ["minkowski", "manhattan", "cosine"])
def test_knn_scorer_matches_pyod(method, metric):
    from pyod.models.knn import KNN

    X, Q = _clustered(1500), _clustered(200, seed=2)
    ref = KNN(n_neighbors=5, method=method, metric=metric).fit(X)
    ex = KNNScorer(5, metric, 2, "exact", 0, method).fit(X)
    np.testing.assert_allclose(ex.decision_scores_, ref.decision_scores_, rtol=1e-12)
    np.testing.assert_allclose(ex.decision_function(Q), ref.decision_function(Q), rtol=1e-12)
    ap = KNNScorer(5, metric, 2, "approximate", 0, method).fit(X)
    # a score differs only where one of its 5 neighbours was missed (float32 index: rtol 1e-5)
    assert np.mean(np.isclose(ap.decision_scores_, ref.decision_scores_, rtol=1e-5)) >= 0.9
    assert np.mean(np.isclose(ap.decision_function(Q), ref.decision_function(Q), rtol=1e-5)) >= 0.9


def test_lof_scorer_matches_pyod():
    from pyod.models.lof import LOF

    X, Q = _clustered(1500), _clustered(200, seed=2)
    ref = LOF(n_neighbors=10).fit(X)
    ex = LOFScorer(10, "minkowski", 2, "exact", 0).fit(X)
    np.testing.assert_allclose(ex.decision_scores_, ref.decision_scores_, rtol=1e-9)
    np.testing.assert_allclose(ex.decision_function(Q), ref.decision_function(Q), rtol=1e-9)
    ap = LOFScorer(10, "minkowski", 2, "approximate", 0).fit(X)
    assert np.corrcoef(ap.decision_function(Q), ref.decision_function(Q))[0, 1] > 0.99


@pytest.mark.parametrize("name, params", [
    ("pyod.knn", {"n_neighbors": 3, "method": "mean", "metric": "manhattan"}),
    ("pyod.knn", {"n_neighbors": 1, "metric": "cosine"}),
    ("pyod.lof", {"n_neighbors": 10}),
])
def test_detector_approximate_loo_and_reload(tmp_path, name, params):
    X, Q = _clustered(1200), _clustered(150, seed=3)
    det = anomalib_ae.create(name, params=params, neighbors="approximate", random_state=0).fit(X)
    ex = anomalib_ae.create(name, params=params, neighbors="exact", random_state=0).fit(X)
    assert (det.search_kind_, ex.search_kind_) == ("approximate", "exact")
    # leave-one-out calibration: the training scores of the fit on all rows
    assert det.calibration_method_ == "loo"
    np.testing.assert_array_equal(det.oof_scores_, det.estimator_.decision_scores_)
    assert np.mean(np.isclose(det.oof_scores_, ex.oof_scores_, rtol=1e-5)) >= 0.95
    path = tmp_path / "m.safetensors"
    det.save(path)
    loaded = anomalib_ae.load(path)
    assert loaded.search_kind_ == "approximate"
    np.testing.assert_array_equal(loaded.score(Q), det.score(Q))
    np.testing.assert_array_equal(loaded.oof_scores_, det.oof_scores_)


def test_auto_switch_at_threshold():
    assert resolve_neighbors("auto", 999, 1000) == "exact"
    assert resolve_neighbors("auto", 1000, 1000) == "approximate"
    assert resolve_neighbors("exact", 10**7, 1000) == "exact"
    assert isinstance(make_search("euclidean", 10, "approximate", 1000), ApproximateSearch)
    X = _clustered(600)
    above = anomalib_ae.create("pyod.knn", approx_threshold=500, random_state=0).fit(X)
    below = anomalib_ae.create("pyod.knn", approx_threshold=700, random_state=0).fit(X)
    assert (above.search_kind_, below.search_kind_) == ("approximate", "exact")
    assert anomalib_ae.create("pyod.knn").get_params()["neighbors"] == "auto"


def test_unsupported_combinations_are_clear_errors():
    X = _clustered(300)
    det = anomalib_ae.create("pyod.knn", params={"metric": "chebyshev"}, neighbors="approximate")
    with pytest.raises(ValueError, match="chebyshev"):
        det.fit(X)
    with pytest.raises(ValueError, match="p=3"):
        anomalib_ae.create("pyod.knn", params={"p": 3}, neighbors="approximate").fit(X)
    with pytest.raises(ValueError, match="neighbors"):
        anomalib_ae.create("pyod.lof", neighbors="fast").fit(X)
    # "auto" keeps metrics faiss lacks exact, and says so
    with pytest.warns(UserWarning, match="searching exactly"):
        auto = anomalib_ae.create("pyod.knn", params={"metric": "chebyshev"}, approx_threshold=10).fit(X)
    assert auto.search_kind_ == "exact"


def test_ensemble_oof_calibration_on_approximate_members():
    X, Q = _clustered(800), _clustered(100, seed=4)
    members = [("pyod.knn", {"params": {"n_neighbors": 1}, "neighbors": "approximate"}),
               ("pyod.lof", {"params": {"n_neighbors": 10}, "neighbors": "approximate"})]
    ens = anomalib_ae.Ensemble(members, calibration="oof", random_state=0).fit(X)
    assert ens.score(Q).shape == (100,)


def test_sage_latent_knn_approximate_and_reload(tmp_path):
    X, Q = _clustered(400, d=6), _clustered(50, d=6, seed=5)
    kw = dict(epochs=1, random_state=0, verbose=False, accelerator="cpu")
    ap = anomalib_ae.create("sage", neighbors="approximate", **kw).fit(X)
    ex = anomalib_ae.create("sage", neighbors="exact", **kw).fit(X)
    assert ap.latent_index_ is not None and ex.latent_index_ is None
    np.testing.assert_allclose(ap.score(Q), ex.score(Q), rtol=1e-4, atol=1e-6)
    ap.save(tmp_path / "s.safetensors")
    np.testing.assert_array_equal(anomalib_ae.load(tmp_path / "s.safetensors").score(Q), ap.score(Q))


def test_ensemble_members_share_one_index_per_metric():
    """Members with the same metric build one IVF index and one leave-one-out query; their
    scores are those of the same members fitted alone."""
    X, Q = _clustered(2000), _clustered(200, seed=3)
    forced = {"neighbors": "approximate", "approx_threshold": 0}
    members = [
        ("pyod.knn", {"params": {"n_neighbors": 1}, **forced}),
        ("pyod.lof", {"params": {"n_neighbors": 10}, **forced}),
        ("pyod.knn", {"params": {"n_neighbors": 7, "method": "mean", "metric": "manhattan"}, **forced}),
        ("pyod.knn", {"params": {"n_neighbors": 1, "metric": "manhattan"}, **forced}),
    ]
    ens = anomalib_ae.Ensemble(members, random_state=0).fit(X)
    searches = [m.estimator_.search_ for m in ens.detectors_]
    assert searches[0].index_ is searches[1].index_ and searches[2].index_ is searches[3].index_
    assert searches[0].index_ is not searches[2].index_
    assert not searches[0]._loo  # the shared leave-one-out candidates are dropped after the fit
    for (name, params), m in zip(members, ens.detectors_):
        alone = anomalib_ae.create(name, **params, random_state=m.get_params()["random_state"]).fit(X)
        np.testing.assert_array_equal(alone.oof_scores_, m.oof_scores_)
        np.testing.assert_array_equal(alone.score(Q), m.score(Q))


def test_approximate_scores_do_not_depend_on_batching():
    X, Q = _clustered(2000), _clustered(64, seed=4)
    det = anomalib_ae.create("pyod.lof", neighbors="approximate", approx_threshold=0).fit(X)
    one_by_one = np.concatenate([det.score(Q[i : i + 1]) for i in range(len(Q))])
    np.testing.assert_array_equal(one_by_one, det.score(Q))


def test_hnsw_index_still_built_on_request_and_loaded():
    X, Q = _clustered(800), _clustered(50, seed=5)
    hnsw = ApproximateSearch("manhattan", index="hnsw").fit(X)
    back = ApproximateSearch.from_arrays(hnsw.to_arrays(), "manhattan")
    assert back.index == "hnsw"
    np.testing.assert_array_equal(back.kneighbors(Q, 5).distances, hnsw.kneighbors(Q, 5).distances)
    ivf = ApproximateSearch("manhattan").fit(X)
    again = ApproximateSearch.from_arrays(ivf.to_arrays(), "manhattan")
    assert again.index == "ivf" and again.nprobe == ivf.index_.nprobe
    np.testing.assert_array_equal(again.kneighbors(None, 5).distances, ivf.kneighbors(None, 5).distances)
