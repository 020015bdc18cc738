"""Input values must fit float32: the networks and most scorers compute in float32.

A value such as ``1e300`` or ``-1.7e308`` is finite in float64 but becomes ``inf`` once cast
to float32, so a model would produce non-finite scores and blame its training. This module
finds such values first and names them (row, column, value), for the Python API
(:meth:`BaseDetector._validate_input`) and for tables (one error record per row).
numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Largest finite float32 magnitude (about 3.4e38).
FLOAT32_MAX = float(np.finfo(np.float32).max)


def beyond_float32(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the finite entries whose magnitude does not fit float32."""
    values = np.asarray(values)
    if values.dtype.kind != "f" or values.dtype.itemsize <= 4:
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (np.abs(values) > FLOAT32_MAX)


def describe_beyond_float32(value: float) -> str:
    """Message fragment for one value that does not fit float32."""
    return f"has value {value!r}, which does not fit float32 (largest magnitude {FLOAT32_MAX:.4g})"


def check_fits_float32(X: np.ndarray, feature_names: Sequence | None = None, *, owner: str = "X") -> None:
    """Raise ``ValueError`` naming the first row and column of ``X`` whose value does not fit float32.

    Parameters
    ----------
    X : ndarray
        Validated input, samples along axis 0.
    feature_names : sequence, optional
        Column names (``feature_names_in_``) used in the message for 2-D input.
    owner : str
        Who is checking (e.g. the detector class name), for the message.
    """
    X = np.asarray(X)
    if X.dtype.kind != "f" or X.dtype.itemsize <= 4 or X.size == 0:
        return
    with np.errstate(invalid="ignore"):
        if float(np.nanmax(np.abs(X))) <= FLOAT32_MAX:  # one cheap pass in the common case
            return
    bad = beyond_float32(X)
    idx = np.argwhere(bad)
    first = tuple(int(i) for i in idx[0])
    value = float(X[first])
    row = first[0]
    if X.ndim == 2:
        j = first[1]
        where = f"column {feature_names[j]!r}" if feature_names is not None and j < len(feature_names) else f"column {j}"
    else:
        where = f"position {first[1:]}"
    n_rows = int(bad.reshape(bad.shape[0], -1).any(axis=1).sum())
    more = f" ({n_rows} row(s) affected)" if n_rows > 1 else ""
    raise ValueError(
        f"{owner}: row {row}, {where} {describe_beyond_float32(value)}{more}; rescale the data"
    )


class NonFiniteScoreError(ValueError):
    """A fitted detector gave non-finite scores for some input rows (values too large for the model).

    ``rows`` holds their positions in the scored batch. Scores do not depend on the batch a row
    is scored in (tests/test_properties.py), so the other rows can be scored without them.
    """

    def __init__(self, message: str, rows: np.ndarray) -> None:
        super().__init__(message)
        self.rows = np.asarray(rows, dtype=np.int64)


def non_finite_score_error(owner: str, scores: np.ndarray, X: np.ndarray) -> NonFiniteScoreError:
    """The error for finite, float32-range input that still overflowed inside the model."""
    rows = np.flatnonzero(~np.isfinite(scores))
    first = int(rows[0])
    with np.errstate(invalid="ignore"):
        peak = float(np.nanmax(np.abs(np.asarray(X[first], dtype=np.float64))))
    return NonFiniteScoreError(
        f"{owner} produced non-finite scores for {len(rows)} of {len(scores)} row(s) "
        f"(first: row {first}, largest |value| {peak:.4g}): the values are too large for this model; rescale the data",
        rows,
    )


def score_finite_rows(det, X) -> tuple[np.ndarray, dict[int, str]]:
    """``det.score(X)`` where rows the model cannot score finitely get NaN and an error message.

    Returns ``(scores, errors)``: float64 scores with NaN at the failed rows and
    ``{row: message}`` for them. Other errors propagate.
    """
    n = len(X)
    scores = np.full(n, np.nan)
    errors: dict[int, str] = {}
    keep = np.arange(n)
    for _ in range(3):  # batch independence makes one retry enough; bounded anyway
        if len(keep) == 0:
            break
        part = X.iloc[keep] if hasattr(X, "iloc") else X[keep]
        try:
            scores[keep] = det.score(part)
            break
        except NonFiniteScoreError as exc:
            bad = keep[exc.rows]
            for r in bad:
                errors[int(r)] = f"not scored: {type(det).__name__} produced a non-finite score (values too large for the model)"
            keep = np.setdiff1d(keep, bad)
    return scores, errors
