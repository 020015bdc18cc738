"""Nearest-neighbour search behind one small interface: exact (scikit-learn) or approximate (faiss HNSW).

``make_search(metric, n_rows, neighbors="auto", approx_threshold=50_000)`` picks the backend:
exact search below ``approx_threshold`` indexed rows, approximate above it (``"exact"`` /
``"approximate"`` force one). Both answer ``kneighbors(X, k)`` with distances in float64 sorted
ascending; ``kneighbors(None, k)`` queries the indexed rows themselves, **each row's own entry
left out** (scikit-learn's and PyOD's leave-one-out training semantics).

The approximate backend is faiss (chosen by measurement over hnswlib, usearch and pynndescent:
``benchmarks/neighbors_backends.py``, docs/scale.md). Its default index is ``IndexIVFFlat``
(``index="ivf"``: k-means lists under the Euclidean distance, ``nprobe`` nearest lists scanned);
the earlier ``IndexHNSWFlat`` graph (``index="hnsw"``) stays available and loadable. The search
asks the index for ``max(k + 10, 20)`` candidates (HNSW: ``k + 10``) and re-ranks them with the
distances recomputed in float64 in the requested metric, so the distances it returns are
exact: only a missed neighbour differs. An IVF index searches the rows under the Euclidean or
Manhattan distance, or the normalised rows under the Euclidean distance for ``"cosine"``;
the members of an ensemble with the same metric share it (:func:`shared_indexes`).
Metrics: ``"euclidean"`` (``"l2"``), ``"manhattan"`` (``"l1"``, ``"cityblock"``) and ``"cosine"``.
The index serialises to a uint8 array (faiss's own binary format, no pickle).
"""

from __future__ import annotations

import contextvars
import hashlib
from contextlib import contextmanager
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
#: Fewest candidates an IVF search re-ranks (so kNN / LOF members with k <= 10 ask the same query).
MIN_CANDIDATES = 20
#: IVF: rows scanned = ``nprobe`` of ``nlist`` lists; ``nlist`` ~ ``4 sqrt(n)`` (a power of two),
#: k-means trained on at most ``_TRAIN_PER_LIST`` rows per list (docs/scale.md: measured choices).
NPROBE = 16
_TRAIN_PER_LIST = 32
#: k-means iterations of the IVF training (faiss's default is 25): at 1M rows the three indexes
#: of the default ensemble spend ~130 CPU s less, recall@10 at nprobe 16 stays 0.993-0.996 (docs/scale.md).
KMEANS_ITERATIONS = 10
_BATCH = 4_096
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("anomalib_ae_shared_indexes", default=None)


@contextmanager
def shared_indexes():
    """Within the block, approximate IVF searches fitted on the same rows (same bytes) under the
    same metric build one index, and their leave-one-out
    queries with the same candidate count run once. Results are those of separate searches
    (the same index, the same queries); only the work is shared. Used by ``Ensemble.fit``."""
    token = _SHARED.set({}) if _SHARED.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            for search in _SHARED.get().values():
                search._loo.clear()  # the candidates were for the fits only
            _SHARED.reset(token)


def ivf_lists(n_rows: int) -> int:
    """``nlist`` of an IVF index over ``n_rows`` rows: a power of two near ``4 sqrt(n)``, with
    at least 39 training rows per list (faiss's minimum)."""
    target = max(1.0, 4.0 * np.sqrt(max(n_rows, 1)))
    nlist = 2 ** int(round(np.log2(target)))
    return int(max(1, min(nlist, n_rows // 39)))


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
    """Approximate search with faiss: an IVF index (``index="ivf"``, default: ``nlist`` k-means
    lists, ``nprobe`` scanned) or an HNSW graph (``index="hnsw"``: ``M`` links per row,
    ``ef_search`` beam width); candidates re-ranked by exact float64 distances."""

    kind = "approximate"

    def __init__(self, metric: str = "euclidean", p: float | None = 2, M: int = 32, ef_construction: int = 80,
                 ef_search: int = 64, index: str = "ivf", nprobe: int = NPROBE):
        self.metric = metric
        self.p = p
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.index = index
        self.nprobe = nprobe

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
        self.metric_ = canonical_metric(self.metric, self.p)
        self.n_rows_ = int(X.shape[0])
        self._loo: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if self.index not in ("ivf", "hnsw"):
            raise ValueError(f"index must be 'ivf' or 'hnsw', got {self.index!r}")
        shared = _SHARED.get() if self.index == "ivf" else None
        key = None
        if shared is not None:
            family = self.metric_
            digest = hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8), digest_size=16).hexdigest()
            key = (family, X.shape, str(X.dtype), digest, int(self.nprobe))
            if key in shared:
                src = shared[key]
                self.index_, self.data_, self._loo = src.index_, src.data_, src._loo
                return self
        faiss = self._faiss()
        if self.index == "hnsw":
            fm = {"euclidean": faiss.METRIC_L2, "manhattan": faiss.METRIC_L1, "cosine": faiss.METRIC_INNER_PRODUCT}
            index = faiss.IndexHNSWFlat(int(X.shape[1]), int(self.M), fm[self.metric_])
            index.hnsw.efConstruction = int(self.ef_construction)
            for start in range(0, self.n_rows_, 10 * _BATCH):
                index.add(self._prepared(X[start : start + 10 * _BATCH]))
            self._set_index(index)
        else:
            data = np.empty(X.shape, dtype=np.float32)
            for start in range(0, self.n_rows_, 10 * _BATCH):
                data[start : start + 10 * _BATCH] = self._prepared(X[start : start + 10 * _BATCH])
            nlist = ivf_lists(self.n_rows_)
            fm = faiss.METRIC_L1 if self.metric_ == "manhattan" else faiss.METRIC_L2  # cosine: L2 on unit rows
            index = faiss.IndexIVFFlat(faiss.IndexFlat(int(X.shape[1]), fm), int(X.shape[1]), nlist, fm)
            index.cp.min_points_per_centroid = 1  # a sample of _TRAIN_PER_LIST rows per list: no warning
            index.cp.niter = KMEANS_ITERATIONS
            rng = np.random.default_rng(0)
            n_train = min(self.n_rows_, _TRAIN_PER_LIST * nlist)
            sample = data if n_train == self.n_rows_ else data[np.sort(rng.choice(self.n_rows_, n_train, replace=False))]
            index.train(sample)
            index.add(data)
            index.nprobe = int(min(self.nprobe, nlist))
            self.index_, self.data_ = index, data
        if key is not None:
            shared[key] = self
        return self

    def _set_index(self, index) -> None:
        """Keep ``index`` and a float32 view of the rows it stores (normalised ones for cosine)."""
        faiss = self._faiss()
        self.index_ = index
        n, d = int(index.ntotal), int(index.d)
        if isinstance(index, faiss.IndexIVFFlat):  # rows live in the lists: one copy in row order
            index.make_direct_map()
            self.data_ = index.reconstruct_n(0, n).reshape(n, d) if n else np.zeros((0, d), np.float32)
            return
        storage = faiss.downcast_index(index.storage)
        self.data_ = faiss.rev_swig_ptr(storage.get_xb(), n * d).reshape(n, d) if n else np.zeros((0, d), np.float32)

    def _n_candidates(self, k: int, loo: bool) -> int:
        extra = max(k + EXTRA_CANDIDATES, MIN_CANDIDATES) if self.index == "ivf" else k + EXTRA_CANDIDATES
        return min(self.n_rows_, extra + int(loo))

    def _candidates(self, q: np.ndarray, n_cand: int) -> np.ndarray:
        if self.index == "hnsw":
            self.index_.hnsw.efSearch = max(int(self.ef_search), n_cand)
        _, cand = self.index_.search(self._prepared(q), n_cand)
        return cand

    def kneighbors(self, X: np.ndarray | None, k: int) -> Neighbors:
        loo = X is None
        n_cand = self._n_candidates(k, loo)
        Q = self.data_ if loo else np.ascontiguousarray(X, dtype=np.float32)
        if loo and _SHARED.get() is not None and self.index == "ivf":
            # shared leave-one-out pass: every candidate re-ranked once, each member takes its k
            if n_cand not in self._loo:
                self._loo[n_cand] = self._ranked(Q, n_cand, loo, n_cand)
            dist, idx = self._loo[n_cand]
            return Neighbors(dist[:, :k].copy(), idx[:, :k].copy())
        return Neighbors(*self._ranked(Q, n_cand, loo, k))

    def _ranked(self, Q: np.ndarray, n_cand: int, loo: bool, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest of ``n_cand`` candidates per query row, by exact float64 distance
        (a stable sort: the first ``k`` of a longer ranking are the ranking for ``k``)."""
        dist = np.empty((Q.shape[0], k))
        idx = np.empty((Q.shape[0], k), dtype=np.int64)
        for start in range(0, Q.shape[0], _BATCH):
            q = Q[start : start + _BATCH]
            cand = self._candidates(q, n_cand)
            d = pairwise_rows(q, self.data_[np.maximum(cand, 0)], self.metric_)
            d[cand < 0] = np.inf
            if loo:  # leave each row's own entry out
                d[cand == np.arange(start, start + q.shape[0])[:, None]] = np.inf
            order = np.argsort(d, axis=1, kind="stable")[:, :k]
            dist[start : start + q.shape[0]] = np.take_along_axis(d, order, axis=1)
            idx[start : start + q.shape[0]] = np.take_along_axis(cand, order, axis=1)
        return dist, idx

    # ------------------------------------------------------------------ persistence (no pickle)
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The faiss index (rows and graph or lists) as a uint8 array (faiss's binary format)."""
        return {"index": np.asarray(self._faiss().serialize_index(self.index_))}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metric: str, p=2, **params) -> "ApproximateSearch":
        faiss = cls._faiss()
        try:
            index = faiss.deserialize_index(np.ascontiguousarray(arrays["index"], dtype=np.uint8))
            if isinstance(index, faiss.IndexHNSWFlat):
                params["index"] = "hnsw"
            elif isinstance(index, faiss.IndexIVFFlat):
                params["index"], params["nprobe"] = "ivf", int(index.nprobe)
            else:
                raise TypeError(f"expected an IndexIVFFlat or IndexHNSWFlat, got {type(index).__name__}")
        except Exception as exc:
            raise ValueError(f"the stored faiss index is unreadable ({type(exc).__name__}: {exc})") from None
        self = cls(metric, p, **params)
        self.metric_ = canonical_metric(metric, p)
        self.n_rows_ = int(index.ntotal)
        self._loo = {}
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
