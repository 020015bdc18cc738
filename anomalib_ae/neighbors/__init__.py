"""Nearest-neighbour search that scales: exact below a size threshold, approximate (faiss IVF, or HNSW) above.

:mod:`~anomalib_ae.neighbors.search` holds the two backends and the switch
(``neighbors="auto"|"exact"|"approximate"``, ``approx_threshold``);
:mod:`~anomalib_ae.neighbors.knn` the kNN-distance and LOF scores on top of them (leave-one-out
training scores, pickle-free persistence). ``pyod.knn``, ``pyod.lof`` and ``sage`` use them.
"""

from anomalib_ae.neighbors.knn import METHODS, KNNScorer, LOFScorer, scorer_from_arrays
from anomalib_ae.neighbors.search import (
    APPROX_THRESHOLD,
    NEIGHBORS,
    ApproximateSearch,
    ExactSearch,
    Neighbors,
    canonical_metric,
    make_search,
    resolve_neighbors,
    shared_indexes,
)

__all__ = [
    "APPROX_THRESHOLD",
    "METHODS",
    "NEIGHBORS",
    "ApproximateSearch",
    "ExactSearch",
    "KNNScorer",
    "LOFScorer",
    "Neighbors",
    "canonical_metric",
    "make_search",
    "resolve_neighbors",
    "scorer_from_arrays",
    "shared_indexes",
]
