"""Ensemble attributions: the members' attributions in calibrated units, weighted like the score.

Each member ``m`` explains the item with its own default method (residuals, gradients or
occlusion); the positive part of its attribution is turned into shares of the member's
calibrated surprise ``-log p_m(x)`` (the unit the ensemble combines), so a member that finds
the item ordinary contributes little whatever its raw scale. The members' maps are then added
with the combination's weights: ``mean`` and the random-subset rules ``aom`` / ``moa`` weigh
every member ``1 / M`` (their expectation), ``weighted`` uses the normalised ``weights``,
``max`` gives the whole weight of each item to its most surprised member and ``median`` to the
member(s) at the median.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ensemble_attributions", "member_weights"]


def member_weights(ensemble, surprises: np.ndarray) -> np.ndarray:
    """``(n, M)`` weight of each member in each item's combined score."""
    S = np.asarray(surprises, dtype=np.float64)
    n, M = S.shape
    rule = ensemble.combine
    if rule == "weighted":
        w = np.asarray(ensemble.weights, dtype=np.float64)
        return np.broadcast_to(w / w.sum(), (n, M)).copy()
    if rule == "max":
        W = np.zeros((n, M))
        W[np.arange(n), S.argmax(axis=1)] = 1.0
        return W
    if rule == "median":
        med = np.median(S, axis=1, keepdims=True)
        d = np.abs(S - med)
        W = (d <= d.min(axis=1, keepdims=True) + 1e-12).astype(np.float64)
        return W / W.sum(axis=1, keepdims=True)
    return np.full((n, M), 1.0 / M)


def ensemble_attributions(ensemble, X, member_method: str = "auto", *, attribute) -> tuple[np.ndarray, list[np.ndarray]]:
    """Combined attribution (shaped like ``X``) and each member's attribution in calibrated units.

    The combined map of an item sums (over values) to the item's weighted calibrated score,
    except where a member attributes nothing positive (then that member adds nothing).
    ``attribute`` explains one member (:func:`anomalib_ae.explain.attribute` passes itself, so
    the two modules do not import each other).
    """
    X = np.asarray(X)
    names = getattr(ensemble, "feature_names_in_", None)
    if names is not None and X.ndim == 2:
        import pandas as pd

        S = ensemble.member_scores(pd.DataFrame(X, columns=list(names)))  # (n, M) surprises -log p
    else:
        S = ensemble.member_scores(X)
    W = member_weights(ensemble, S)
    total = np.zeros(X.shape, dtype=np.float64)
    parts = []
    axes = tuple(range(1, X.ndim))
    for m, member in enumerate(ensemble.detectors_):
        A, _ = attribute(member, X, member_method)
        P = np.clip(A, 0.0, None)
        tot = P.sum(axis=axes, keepdims=True)
        share = np.divide(P, tot, out=np.zeros_like(P), where=tot > 0)
        cal = share * S[:, m].reshape((-1,) + (1,) * (X.ndim - 1))
        parts.append(cal)
        total += W[:, m].reshape((-1,) + (1,) * (X.ndim - 1)) * cal
    return total, parts
