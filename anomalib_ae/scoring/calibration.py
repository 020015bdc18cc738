"""Calibration of raw scores against held-out normal scores (numpy only).

Two transforms of a raw score ``s`` given scores ``c_1 <= ... <= c_n`` of normal samples the
model did not train on:

* :func:`conformal_p_values`: the exact conformal p-value ``(1 + #{c >= s}) / (n + 1)``; under
  exchangeability ``P(p <= alpha) <= alpha`` for fresh normal data. It is a step function
  that bottoms out at ``1 / (n + 1)`` beyond the largest calibration score.
* :func:`tail_p_values`: the same p-value made continuous (interpolated ranks inside the
  calibration range, an exponential tail fitted to the top calibration scores beyond it), so
  scores far outside the calibration range still rank. Ensembles and SAGE combine
  ``-log`` of it ("surprise"), which is comparable across detectors with different scales.
"""

from __future__ import annotations

import numpy as np


def _sorted_calibration(calibration_scores) -> np.ndarray:
    cal = np.sort(np.asarray(calibration_scores, dtype=np.float64).reshape(-1))
    if cal.size == 0:
        raise ValueError("calibration needs at least one held-out normal score")
    if not np.all(np.isfinite(cal)):
        raise ValueError("calibration scores must be finite")
    return cal


def conformal_p_values(calibration_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Conformal p-values of ``scores`` against scores of held-out normal samples.

    ``p = (1 + #{calibration >= s}) / (n_calibration + 1)``: under exchangeability with the
    normal calibration data, ``P(p <= alpha) <= alpha``, so ``p`` is the chance of a normal
    sample scoring at least this high. Small p = anomalous.

    Scores within a relative ``1e-9`` of a calibration score count as ties (so ``>=``): the
    same sample scored in a different batch may differ in the last bits, and a held-out
    sample must get the same p-value whether scored alone or with others.
    """
    cal = _sorted_calibration(calibration_scores)
    s = np.asarray(scores, dtype=np.float64)
    s = s - 1e-9 * np.abs(s)
    n_greater_equal = cal.size - np.searchsorted(cal, s, side="left")
    return (1.0 + n_greater_equal) / (cal.size + 1.0)


def tail_scale(calibration_scores: np.ndarray, tail_fraction: float = 0.1) -> float:
    """Scale of an exponential tail fitted to the top ``tail_fraction`` of calibration scores.

    The mean excess of the top ``k`` scores over the ``k+1``-th largest (peaks over threshold
    with a zero-shape generalised Pareto tail). Falls back to the standard deviation, then 1,
    when the tail is flat.
    """
    cal = _sorted_calibration(calibration_scores)
    n = cal.size
    k = int(min(n - 1, max(2, np.ceil(tail_fraction * n))))
    if k >= 1:
        excess = cal[n - k :] - cal[n - k - 1]
        beta = float(np.mean(excess))
        if beta > 0 and np.isfinite(beta):
            return beta
    std = float(np.std(cal))
    return std if std > 0 else 1.0


def tail_p_values(calibration_scores: np.ndarray, scores: np.ndarray, tail_fraction: float = 0.1) -> np.ndarray:
    """Continuous p-values: interpolated conformal p inside the calibration range, exponential tail beyond.

    Inside ``[c_1, c_n]`` the rank of ``s`` among the calibration scores is linearly
    interpolated, ``p = (n + 1 - rank) / (n + 1)`` (so ``p = 1/(n+1)`` at ``c_n``, the exact
    conformal value up to ties); below ``c_1``, ``p = 1``; above ``c_n``,
    ``p = exp(-(s - c_n) / beta) / (n + 1)`` with ``beta`` from :func:`tail_scale`.
    Strictly decreasing beyond ``c_n``, so far-out samples keep their order.
    """
    cal = _sorted_calibration(calibration_scores)
    n = cal.size
    s = np.asarray(scores, dtype=np.float64)
    ranks = np.interp(s, cal, np.arange(1, n + 1, dtype=np.float64), left=0.0, right=float(n))
    p = np.minimum(1.0, (n + 1.0 - ranks) / (n + 1.0))
    above = s > cal[-1]
    if np.any(above):
        beta = tail_scale(cal, tail_fraction)
        p[above] = np.exp(-(s[above] - cal[-1]) / beta) / (n + 1.0)
    return np.maximum(p, np.finfo(np.float64).tiny)


def surprise(calibration_scores: np.ndarray, scores: np.ndarray, tail_fraction: float = 0.1) -> np.ndarray:
    """``-log`` of :func:`tail_p_values`: 0 for typical samples, growing without bound for outliers."""
    return -np.log(tail_p_values(calibration_scores, scores, tail_fraction))
