"""Batch-invariant scoring for the deep detectors: every forward pass sees the same number of rows.

BLAS kernels round differently for different batch sizes (a matrix-vector product for one row,
other tilings for other sizes), so a sample's float32 score can change in the last bit with
the batch it is scored in. Scores then disagree with the calibration scores of the same samples
(ties in conformal p-values flip) and with scikit-learn's subset-invariance check. Scoring in
chunks of a fixed size, zero-padding the last one, makes a sample's score bit-identical however
it is batched.
"""

from __future__ import annotations

from math import prod

import numpy as np
import torch

from anomalib_ae.training import score_device

#: Upper bound of the chunk size; smaller for large samples (about 2**21 values per chunk).
MAX_ROWS = 64


def chunk_rows(sample_shape: tuple[int, ...]) -> int:
    """Fixed number of rows per forward pass for samples of ``sample_shape``."""
    return max(1, min(MAX_ROWS, 2**21 // max(1, prod(sample_shape))))


@torch.no_grad()
def padded_apply(fn, X: np.ndarray, rows: int, device: torch.device | None = None) -> np.ndarray:
    """Apply ``fn`` over ``X`` in chunks of exactly ``rows`` rows (zero-padded); float64 result."""
    device = device or torch.device("cpu")
    X_t = torch.from_numpy(np.ascontiguousarray(X))
    outs = []
    for start in range(0, X_t.shape[0], rows):
        chunk = X_t[start : start + rows]
        n = chunk.shape[0]
        if n < rows:
            chunk = torch.cat([chunk, chunk.new_zeros((rows - n, *chunk.shape[1:]))])
        outs.append(fn(chunk.to(device)).detach().cpu()[:n])
    return torch.cat(outs).numpy().astype(np.float64)


class FixedBatchScoring:
    """Mixin for :class:`~anomalib_ae.detectors._deep.BaseDeepDetector` subclasses."""

    def _apply_fixed(self, fn, Xs: np.ndarray, modules=()) -> np.ndarray:
        device = score_device(self.accelerator)
        for m in (self.module_, *modules):
            m.to(device).eval()
        return padded_apply(fn, Xs, chunk_rows(tuple(Xs.shape[1:])), device)

    def _score_prepared(self, Xs: np.ndarray) -> np.ndarray:
        return self._apply_fixed(self._module_score, Xs)
