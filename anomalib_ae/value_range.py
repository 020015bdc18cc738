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
