"""Nearest-neighbour search behind one small interface: exact (scikit-learn) or approximate (faiss HNSW).

``make_search(metric, n_rows, neighbors="auto", approx_threshold=50_000)`` picks the backend:
exact search below ``approx_threshold`` indexed rows, approximate above it (``"exact"`` /
``"approximate"`` force one). Both answer ``kneighbors(X, k)`` with distances in float64 sorted
ascending; ``kneighbors(None, k)`` queries the indexed rows themselves, **each row's own entry
left out** (scikit-learn's and PyOD's leave-one-out training semantics).

The approximate backend is faiss's ``IndexHNSWFlat`` (graph search; chosen by measurement over
hnswlib, usearch and pynndescent: ``benchmarks/neighbors_backends.py``, docs/scale.md). It
searches ``k + 10`` candidates and re-ranks them with the distances recomputed in float64 from
the indexed rows (read in place from the index: no second copy), so the distances it returns
are exact: only a missed neighbour differs.
Metrics: ``"euclidean"`` (``"l2"``), ``"manhattan"`` (``"l1"``, ``"cityblock"``) and ``"cosine"``.
The index serialises to a uint8 array (faiss's own binary format, no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEIGHBORS = ("auto", "exact", "approximate")
#: metric name (scikit-learn's and aliases) -> canonical name
METRICS = {
    "euclidean": "euclidean", "l2": "euclidean", "minkowski": "euclidean",
    "manhattan": "manhattan", "l1": "manhattan", "cityblock": "manhattan",
    "cosine": "cosine",
}
#: Default row count above which ``neighbors="auto"`` searches approximately (docs/scale.md).
APPROX_THRESHOLD = 50_000
#: Extra candidates re-ranked exactly beyond the ``k`` asked for.
EXTRA_CANDIDATES = 10
_BATCH = 4_096


def canonical_metric(metric: str, p: float | None = 2) -> str:
    """The canonical name of ``metric``, or a ValueError naming the supported ones."""
    name = str(metric).lower()
    if name == "minkowski":
        if p == 1:
            return "manhattan"
        if p != 2:
            raise ValueError(f"approximate neighbour search supports minkowski only with p=1 or p=2, got p={p}")
    if name not in METRICS:
        raise ValueError(
            f"approximate neighbour search does not support metric={metric!r}; supported: {sorted(METRICS)} "
            "(use neighbors='exact' for other metrics)"
        )
    return METRICS[name]


def pairwise_rows(A: np.ndarray, B: np.ndarray, metric: str) -> np.ndarray:
    """Distances ``(n, m)`` between row ``i`` of ``A`` and rows ``B[i]`` ``(n, m, d)``, in float64."""
    a = A[:, None, :].astype(np.float64)
    b = B.astype(np.float64)
    if metric == "euclidean":
        return np.sqrt(np.einsum("nmd,nmd->nm", a - b, a - b))
    if metric == "manhattan":
        return np.abs(a - b).sum(-1)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    na[na == 0] = 1.0  # scikit-learn: a zero vector stays zero, its cosine distance to anything is 1
    nb[nb == 0] = 1.0
    return 1.0 - np.einsum("nmd,nmd->nm", a, b) / (na * nb)


@dataclass
class Neighbors:
    """Result of a query: ``distances`` and ``indices``, both ``(n_queries, k)``, nearest first."""

    distances: np.ndarray
    indices: np.ndarray


class ExactSearch:
    """Exact search: scikit-learn's ``NearestNeighbors`` (trees or brute force, as it chooses)."""

    kind = "exact"

    def __init__(self, metric: str = "euclidean", p: float | None = 2):
        self.metric = metric
        self.p = p

    def fit(self, X: np.ndarray) -> "ExactSearch":
        from sklearn.neighbors import NearestNeighbors

        self.n_rows_ = int(X.shape[0])
        self.nn_ = NearestNeighbors(metric=self.metric, p=self.p if self.metric == "minkowski" else 2).fit(X)
        return self

    def kneighbors(self, X: np.ndarray | None, k: int) -> Neighbors:
        dist, idx = self.nn_.kneighbors(X, n_neighbors=k)
        return Neighbors(np.asarray(dist, dtype=np.float64), idx)


class ApproximateSearch:
    """Approximate search with faiss's HNSW graph (``M`` links per row, ``ef_search`` beam width),
    candidates re-ranked by exact float64 distances."""

    kind = "approximate"

    def __init__(self, metric: str = "euclidean", p: float | None = 2, M: int = 32, ef_construction: int = 80,
                 ef_search: int = 64):
        self.metric = metric
        self.p = p
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search

    @staticmethod
    def _faiss():
        try:
            import faiss
        except ImportError:  # pragma: no cover - depends on the install
            raise ImportError(
                "approximate neighbour search needs faiss: pip install 'anomalib_ae[scale]' (faiss-cpu), "
                "or use neighbors='exact'"
            ) from None
        return faiss

    def _prepared(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.metric_ == "cosine":
            norm = np.linalg.norm(X, axis=1, keepdims=True)
            norm[norm == 0] = 1.0
            X = X / norm
        return X

    def fit(self, X: np.ndarray) -> "ApproximateSearch":
        faiss = self._faiss()
        self.metric_ = canonical_metric(self.metric, self.p)
        self.n_rows_ = int(X.shape[0])
        fm = {"euclidean": faiss.METRIC_L2, "manhattan": faiss.METRIC_L1, "cosine": faiss.METRIC_INNER_PRODUCT}
        index = faiss.IndexHNSWFlat(int(X.shape[1]), int(self.M), fm[self.metric_])
        index.hnsw.efConstruction = int(self.ef_construction)
        for start in range(0, self.n_rows_, 10 * _BATCH):
            index.add(self._prepared(X[start : start + 10 * _BATCH]))
        self._set_index(index)
        return self

    def _set_index(self, index) -> None:
        """Keep ``index`` and a float32 view of the rows it stores (normalised ones for cosine)."""
        faiss = self._faiss()
        self.index_ = index
        storage = faiss.downcast_index(index.storage)
        n, d = int(index.ntotal), int(index.d)
        self.data_ = faiss.rev_swig_ptr(storage.get_xb(), n * d).reshape(n, d) if n else np.zeros((0, d), np.float32)

    def kneighbors(self, X: np.ndarray | None, k: int) -> Neighbors:
        loo = X is None
        n_cand = min(self.n_rows_, k + EXTRA_CANDIDATES + int(loo))
        self.index_.hnsw.efSearch = max(int(self.ef_search), n_cand)
        Q = self.data_ if loo else np.ascontiguousarray(X, dtype=np.float32)
        dist = np.empty((Q.shape[0], k))
        idx = np.empty((Q.shape[0], k), dtype=np.int64)
        for start in range(0, Q.shape[0], _BATCH):
            q = Q[start : start + _BATCH]
            _, cand = self.index_.search(self._prepared(q), n_cand)
            d = pairwise_rows(q, self.data_[np.maximum(cand, 0)], self.metric_)
            d[cand < 0] = np.inf
            if loo:  # leave each row's own entry out
                d[cand == np.arange(start, start + q.shape[0])[:, None]] = np.inf
            order = np.argsort(d, axis=1, kind="stable")[:, :k]
            dist[start : start + q.shape[0]] = np.take_along_axis(d, order, axis=1)
            idx[start : start + q.shape[0]] = np.take_along_axis(cand, order, axis=1)
        return Neighbors(dist, idx)

    # ------------------------------------------------------------------ persistence (no pickle)
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The faiss index (rows and graph) as a uint8 array (faiss's binary format)."""
        return {"index": np.asarray(self._faiss().serialize_index(self.index_))}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metric: str, p=2, **params) -> "ApproximateSearch":
        faiss = cls._faiss()
        self = cls(metric, p, **params)
        self.metric_ = canonical_metric(metric, p)
        try:
            index = faiss.deserialize_index(np.ascontiguousarray(arrays["index"], dtype=np.uint8))
            if not isinstance(index, faiss.IndexHNSWFlat):
                raise TypeError(f"expected an IndexHNSWFlat, got {type(index).__name__}")
        except Exception as exc:
            raise ValueError(f"the stored faiss index is unreadable ({type(exc).__name__}: {exc})") from None
        self.n_rows_ = int(index.ntotal)
        self._set_index(index)
        return self


def resolve_neighbors(neighbors: str, n_rows: int, approx_threshold: int) -> str:
    """``"exact"`` or ``"approximate"`` for an index of ``n_rows`` rows."""
    if neighbors not in NEIGHBORS:
        raise ValueError(f"neighbors must be one of {NEIGHBORS}, got {neighbors!r}")
    if neighbors == "auto":
        return "approximate" if n_rows >= approx_threshold else "exact"
    return neighbors


def make_search(metric: str, n_rows: int, neighbors: str = "auto", approx_threshold: int = APPROX_THRESHOLD,
                p: float | None = 2) -> ExactSearch | ApproximateSearch:
    """An unfitted search for ``n_rows`` rows under ``metric`` (see the module docstring)."""
    if resolve_neighbors(neighbors, n_rows, approx_threshold) == "approximate":
        canonical_metric(metric, p)  # a clear error before any work
        return ApproximateSearch(metric, p)
    return ExactSearch(metric, p)
