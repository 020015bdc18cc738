"""The one-pass chunked mean / standard deviation shared by the in-memory and the streaming standardiser."""

import math

import numpy as np
import pytest

from anomalib_ae.data.outofcore import chunked_moments
from anomalib_ae.moments import chunk_rows, moments
from anomalib_ae.preprocessing import fit_standardizer


class CountingRows:
    """An array-like that records every row range read from it (a memory map stand-in)."""

    def __init__(self, X):
        self.X, self.reads = X, []
        self.shape, self.ndim, self.dtype = X.shape, X.ndim, X.dtype

    def __getitem__(self, key):
        assert isinstance(key, slice), key  # read by contiguous row ranges only
        start, stop, _ = key.indices(len(self.X))
        self.reads.append((start, stop))
        return self.X[key]


def _exact(col: np.ndarray) -> tuple[float, float]:
    """Mean and population std from correctly rounded sums (math.fsum)."""
    m = math.fsum(col) / len(col)
    return m, math.sqrt(math.fsum((col - m) ** 2) / len(col))


@pytest.mark.parametrize("masked", [False, True])
def test_one_pass_reads_each_row_once(masked):
    X = np.random.default_rng(0).standard_normal((10_000, 64))
    size = chunk_rows(X)
    assert size == 2**18 // 64
    rows = CountingRows(X)
    mask = np.random.default_rng(1).random(len(X)) < 0.6 if masked else None
    moments(rows, (0,), mask=mask)
    starts = [s for s, _ in rows.reads]
    assert starts == list(range(0, len(X), size))  # one pass, in order, each chunk once
    assert sum(stop - start for start, stop in rows.reads) == len(X)


@pytest.mark.parametrize("offset,noise", [(1e6, 1.0), (1e6, 1e-3), (1e9, 1.0), (0.0, 1.0)])
def test_precise_under_a_large_offset(offset, noise):
    rng = np.random.default_rng(2)
    X = offset + noise * rng.standard_normal((150_001, 3))  # several chunks, a short last one
    mean, std = moments(X, (0,))
    for j in range(X.shape[1]):
        m, s = _exact(X[:, j])
        assert abs(mean[j] - m) <= 1e-14 * max(abs(m), noise)
        assert abs(std[j] - s) <= 1e-12 * s
    # what E[x^2] - E[x]^2 would give is far off here: the test can tell
    if offset >= 1e6:
        naive = np.sqrt(np.maximum((X**2).mean(axis=0) - X.mean(axis=0) ** 2, 0))
        assert np.abs(naive - std).max() > 1e-6 * std.max()


def test_matches_numpy_on_every_layout():
    rng = np.random.default_rng(3)
    for kind, X in [("vector", rng.standard_normal((9000, 5)) * 7 + 3),
                    ("window", rng.standard_normal((3000, 12, 4)) + 50),
                    ("image", rng.standard_normal((40, 3, 16, 16)) * 0.2 + 0.5)]:
        axes = (0, 2, 3) if kind == "image" else tuple(range(X.ndim - 1))
        mean, scale = fit_standardizer(X, kind, dtype=np.float64)
        np.testing.assert_allclose(mean, X.mean(axis=axes, keepdims=True)[0], rtol=1e-13, err_msg=kind)
        np.testing.assert_allclose(scale, X.std(axis=axes, keepdims=True)[0], rtol=1e-12, err_msg=kind)


def test_mask_gives_the_bits_of_the_gathered_rows():
    rng = np.random.default_rng(4)
    X = (rng.standard_normal((50_000, 20)) * 3 + 1e4).astype(np.float32)
    mask = rng.random(len(X)) < 0.8
    for pooled, axes in ((True, (0,)), (False, (0,))):
        a = chunked_moments(X, pooled=pooled, mask=mask)
        b = moments(X[mask], axes)
        assert all(np.array_equal(u, v) for u, v in zip(a, b))
    W = X.reshape(5000, 10, 20)
    wmask = mask[:5000]
    a = fit_standardizer(W, "window", mask=wmask)
    b = fit_standardizer(W[wmask], "window")
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    # a column-major copy of the same rows gives the same bits (chunks are read C-ordered)
    F = np.asfortranarray(X[mask])
    assert all(np.array_equal(u, v) for u, v in zip(moments(F, (0,)), moments(X[mask], (0,))))


def test_constant_columns_get_scale_one():
    X = np.ones((70_000, 4)) * np.array([1e6 + 0.1, 0.0, -3.25, 7.0])
    X[:, 3] = np.random.default_rng(5).standard_normal(len(X))
    mean, scale = fit_standardizer(X, "vector", dtype=np.float64)
    assert np.array_equal(scale[:3], np.ones(3))
    np.testing.assert_allclose(mean[:3], [1e6 + 0.1, 0.0, -3.25], rtol=1e-15)
    assert 0.9 < scale[3] < 1.1


def test_empty_selection_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        moments(np.zeros((10, 2)), (0,), mask=np.zeros(10, bool))
    with pytest.raises(ValueError, match="include 0"):
        moments(np.zeros((10, 2)), (1,))
