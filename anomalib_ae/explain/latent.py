"""Latent codes of a deep detector, for projections of training against new data."""

from __future__ import annotations

import numpy as np

__all__ = ["latent_codes"]


def latent_codes(detector, X, batch_size: int = 256) -> np.ndarray:
    """``(n, latent_dim)`` codes: the encoder's output (the mean code of a VAE, the Deep SVDD
    representation); for detectors without a network, the standardised inputs flattened."""
    import torch

    X = np.asarray(X)
    module = getattr(detector, "module_", None)
    if module is None or not hasattr(detector, "prepare_input"):
        mean = getattr(detector, "train_mean_", None)
        scale = getattr(detector, "train_scale_", None)
        Z = X.astype(np.float64) if mean is None else (X - mean) / scale
        return Z.reshape(len(X), -1)
    enc = getattr(module, "encode", None) or module
    Xs = detector.prepare_input(X)
    module.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(Xs), batch_size):
            z = enc(torch.from_numpy(np.ascontiguousarray(Xs[s:s + batch_size])))
            if isinstance(z, (tuple, list)):
                z = z[0]
            out.append(z.reshape(len(z), -1).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1))
