"""TensorBatches draws exactly the mini-batches of the reference definition (so training, and
every fitted score, is unchanged by how the rows are gathered)."""

from __future__ import annotations

import numpy as np
import torch

from anomalib_ae.training import TensorBatches
from anomalib_ae.training.batches import group_size


def _reference(tensors, batch_size, seed, epochs):
    """Seeded ``randperm`` per epoch, rows gathered with advanced indexing ``t[idx]``."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(epochs):
        order = torch.randperm(tensors[0].shape[0], generator=gen)
        for start in range(0, tensors[0].shape[0], batch_size):
            idx = order[start : start + batch_size]
            out.append(tuple(t[idx] for t in tensors))
    return out


def _flatten(loader, epochs):
    return [batch for _ in range(epochs) for group in loader for batch in group]


def test_shuffled_batches_equal_advanced_indexing():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(1037, 5)).astype(np.float32))
    y = torch.from_numpy(rng.normal(size=1037).astype(np.float32))
    loader = TensorBatches([x, y], 64, shuffle=True, seed=7, group=3)
    assert len(loader) == -(-17 // 3)
    got, want = _flatten(loader, 2), _reference([x, y], 64, 7, 2)
    assert len(got) == len(want) == 2 * 17
    for a, b in zip(got, want):
        assert len(a) == 2
        for ta, tb in zip(a, b):
            assert ta.dtype == tb.dtype and ta.shape == tb.shape and ta.is_contiguous()
            assert torch.equal(ta, tb)


def test_groups_and_unshuffled_slices():
    x = torch.arange(50, dtype=torch.float32).reshape(25, 2)
    groups = list(TensorBatches([x], 4, shuffle=False, group=2))
    assert [len(g) for g in groups] == [2, 2, 2, 1]
    assert torch.equal(torch.cat([b[0] for g in groups for b in g]), x)


def test_windows_and_group_size():
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(300, 4, 3)).astype(np.float32))
    got = _flatten(TensorBatches([x], 32, shuffle=True, seed=3, group=4), 1)
    for (a,), (b,) in zip(got, _reference([x], 32, 3, 1)):
        assert torch.equal(a, b)
    assert group_size(256, 64) == 128 and group_size(32, 4) == 128 and group_size(256, 10**6) == 1
