"""A large standard-normal float32 ``.npy`` written in blocks (never whole in memory), for the out-of-core tests."""

from pathlib import Path

import numpy as np


def write_gaussian_npy(path: Path, n: int, d: int, block: int = 50_000, seed: int = 0) -> Path:
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(seed)
    for s in range(0, n, block):
        mm[s : s + block] = rng.standard_normal((min(block, n - s), d))
    mm.flush()
    del mm
    return path
