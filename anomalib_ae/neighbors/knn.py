"""kNN distance and local outlier factor scored on :mod:`anomalib_ae.neighbors.search`.

Same numbers as PyOD's ``KNN`` (``method`` "largest" / "mean" / "median" of the ``k`` distances)
and ``LOF`` (scikit-learn's ``LocalOutlierFactor`` with ``novelty=True``, as PyOD uses it) when
the search is exact; with approximate search only a missed neighbour changes a score.
``decision_scores_`` are the leave-one-out training scores (each training row scored over the
*other* rows), as PyOD's. Persistence without pickle: :meth:`to_arrays` / :func:`scorer_from_arrays`.
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.neighbors.search import ApproximateSearch, ExactSearch, make_search

METHODS = ("largest", "mean", "median")


class _Scorer:
    kind = ""
    _arrays: tuple[str, ...] = ()

    def __init__(self, n_neighbors: int = 5, metric: str = "minkowski", p: float | None = 2,
                 neighbors: str = "approximate", approx_threshold: int = 0, method: str = "largest"):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.p = p
        self.neighbors = neighbors
        self.approx_threshold = approx_threshold
        self.method = method

    def _fit_search(self, X: np.ndarray) -> None:
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 rows, got {n}")
        self.k_ = max(1, min(int(self.n_neighbors), n - 1))
        self.search_ = make_search(self.metric, n, self.neighbors, self.approx_threshold, self.p).fit(X)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self._score(self.search_.kneighbors(np.asarray(X), self.k_))

    def to_arrays(self, prefix: str) -> tuple[dict[str, np.ndarray], dict]:
        """``(arrays, JSON-able description)``; the search is stored when it is approximate."""
        if not isinstance(self.search_, ApproximateSearch):
            raise TypeError("only scorers on approximate search are stored as arrays (PyOD's models keep exact ones)")
        arrays = {f"{prefix}search.{k}": v for k, v in self.search_.to_arrays().items()}
        arrays.update({f"{prefix}{name}": getattr(self, name) for name in self._arrays})
        desc = {
            "kind": self.kind, "n_neighbors": int(self.n_neighbors), "metric": str(self.metric),
            "p": None if self.p is None else float(self.p), "method": self.method, "k": int(self.k_),
            "search": {"M": self.search_.M, "ef_construction": self.search_.ef_construction,
                       "ef_search": self.search_.ef_search, "index": self.search_.index,
                       "nprobe": int(self.search_.nprobe)},
        }
        return arrays, desc


class KNNScorer(_Scorer):
    """Distance to the k-th nearest training row (``method="largest"``), or the mean / median of the k."""

    kind = "knn"
    _arrays = ("decision_scores_",)

    def fit(self, X: np.ndarray) -> "KNNScorer":
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        self._fit_search(X)
        self.decision_scores_ = self._score(self.search_.kneighbors(None, self.k_))
        return self

    def _score(self, nb) -> np.ndarray:
        d = nb.distances
        if self.method == "largest":
            return d[:, -1].copy()
        return d.mean(axis=1) if self.method == "mean" else np.median(d, axis=1)


class LOFScorer(_Scorer):
    """Local outlier factor (scikit-learn's formula): mean ratio of the neighbours' local
    reachability density to the row's own."""

    kind = "lof"
    _arrays = ("decision_scores_", "k_distance_", "lrd_")

    def fit(self, X: np.ndarray) -> "LOFScorer":
        self._fit_search(X)
        nb = self.search_.kneighbors(None, self.k_)
        self.k_distance_ = nb.distances[:, -1].copy()
        self.lrd_ = self._lrd(nb)
        self.decision_scores_ = (self.lrd_[nb.indices] / self.lrd_[:, None]).mean(axis=1)
        return self

    def _lrd(self, nb) -> np.ndarray:
        reach = np.maximum(nb.distances, self.k_distance_[nb.indices])
        return 1.0 / (reach.mean(axis=1) + 1e-10)

    def _score(self, nb) -> np.ndarray:
        return (self.lrd_[nb.indices] / self._lrd(nb)[:, None]).mean(axis=1)


def scorer_from_arrays(arrays: dict[str, np.ndarray], desc: dict, prefix: str) -> KNNScorer | LOFScorer:
    """Inverse of :meth:`_Scorer.to_arrays`: the stored index is loaded, not rebuilt."""
    cls = {"knn": KNNScorer, "lof": LOFScorer}.get(desc.get("kind"))
    if cls is None:
        raise ValueError(f"unknown neighbour scorer kind {desc.get('kind')!r}")
    scorer = cls(desc["n_neighbors"], desc["metric"], desc["p"], "approximate", 0, desc["method"])
    search = {k[len(prefix) + 7 :]: v for k, v in arrays.items() if k.startswith(f"{prefix}search.")}
    scorer.search_ = ApproximateSearch.from_arrays(search, desc["metric"], desc["p"], **desc["search"])
    scorer.k_ = int(desc["k"])
    for name in cls._arrays:
        setattr(scorer, name, np.asarray(arrays[f"{prefix}{name}"], dtype=np.float64))
    return scorer


__all__ = ["ExactSearch", "KNNScorer", "LOFScorer", "METHODS", "scorer_from_arrays"]
