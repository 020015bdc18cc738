"""The per-timestamp stage of telemetry explanations: methods measured on rows, not on windows.

A telemetry pipeline explains windows and combines the windows covering each row
(:func:`~anomalib_ae.data.windows_to_timestamps_per_metric`). ``"occlusion_z"`` was chosen as a
*row* ranking (``benchmarks/explain.py``, on ASD's culprit labels): the occlusion attribution in
training units and the |z-score| are each combined over the windows covering a row, blended as
row shares, then averaged over :data:`ROW_SMOOTH` consecutive timestamps of the same entity and
segment (a centred box, truncated at a segment's ends). :func:`occlusion_z_rows` computes
exactly that from a :class:`~anomalib_ae.data.WindowBatch`, so ``Pipeline.explain`` /
``anomalib-ae explain`` on a telemetry series give the ranking that was measured (SMD
HitRate@150 %: ``docs/explanations.md``). On bare windows (no timestamps),
:func:`~anomalib_ae.explain.blend.occlusion_z` smooths within each window instead.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from anomalib_ae.explain.blend import OCC_FLOOR, OCC_Z_WEIGHT, blend_shares, moving_mean, occlusion_z_parts

__all__ = ["ROW_SMOOTH", "ROW_METHODS", "row_method", "time_chains", "smooth_over_time", "occlusion_z_rows"]

#: consecutive timestamps averaged by the row-level ``"occlusion_z"`` (the benchmark's 31-row box)
ROW_SMOOTH = 31


def time_chains(batch) -> list[np.ndarray]:
    """Row positions of each run of consecutive timestamps (per entity and segment), in time order.

    Two rows are consecutive when they sit in adjacent slots of a window
    (``batch.window_index``); rows no window covers belong to no chain.
    """
    wi = np.asarray(batch.window_index)
    n = int(batch.n_rows)
    nxt = np.full(n, -1, dtype=np.int64)
    has_prev = np.zeros(n, dtype=bool)
    if wi.ndim == 2 and wi.shape[1] > 1:
        a, b = wi[:, :-1].ravel(), wi[:, 1:].ravel()
        ok = (a >= 0) & (b >= 0) & (a != b)
        nxt[a[ok]] = b[ok]
        has_prev[b[ok]] = True
    covered = np.zeros(n, dtype=bool)
    covered[wi[wi >= 0]] = True
    chains = []
    for start in np.flatnonzero(covered & ~has_prev):
        run, r = [], int(start)
        while r >= 0 and len(run) <= n:
            run.append(r)
            r = int(nxt[r])
        chains.append(np.asarray(run, dtype=np.int64))
    return chains


def smooth_over_time(A: np.ndarray, chains: list[np.ndarray], width: int) -> np.ndarray:
    """Centred moving mean of ``width`` consecutive timestamps along each chain (truncated at its ends)."""
    out = np.array(A, dtype=np.float64, copy=True)
    if width <= 1:
        return out
    for rows in chains:
        out[rows] = moving_mean(out[rows], int(width), axis=0)
    return out


def occlusion_z_rows(detector, batch, how: str = "mean", *, z_weight: float = OCC_Z_WEIGHT,
                     floor: float = OCC_FLOOR, smooth: int = ROW_SMOOTH) -> np.ndarray:
    """``"occlusion_z"`` per row ``(n_rows, n_metrics)`` of a telemetry window batch, as measured.

    The occlusion attribution in training units (``how``: mean or max of the windows covering a
    row) and the row's |z-score| (mean over its windows), blended as row shares
    (:func:`~anomalib_ae.explain.blend.blend_shares`), then averaged over ``smooth`` consecutive
    timestamps (:func:`time_chains`). Rows no window covers are NaN.
    """
    from anomalib_ae.data.telemetry_windows import windows_to_timestamps_per_metric

    O, Z = occlusion_z_parts(detector, batch.X, floor=floor)
    Orow = windows_to_timestamps_per_metric(O, batch, how=how)
    Zrow = windows_to_timestamps_per_metric(Z, batch, how="mean")
    ok = np.isfinite(Orow).all(axis=1) & np.isfinite(Zrow).all(axis=1)
    A = np.full(Orow.shape, np.nan)
    A[ok] = blend_shares(Orow[ok], Zrow[ok], z_weight)
    return smooth_over_time(A, time_chains(batch), smooth)


#: methods whose telemetry version is computed per row: name -> fn(detector, batch, how) -> (n_rows, n_metrics)
ROW_METHODS: dict[str, Callable[..., np.ndarray]] = {"occlusion_z": occlusion_z_rows}


def row_method(method: str | None) -> Callable[..., np.ndarray] | None:
    """The row-level implementation of ``method`` for telemetry series, or None (window attributions per row)."""
    return ROW_METHODS.get(method) if method else None
