"""Gradient attributions of a deep detector's score (Captum).

The differentiable score is the detector's own, in its standardised input space:

* ``sage``: the latent kNN distance to the training codes (SAGE's first signal);
* ``cvad``: ``(1 - w) * (reconstruction + KL) / recon_kl_scale_ + w * P(fake) / disc_scale_``;
* every other torch detector: its module's ``score`` (reconstruction error, distance to the
  Deep SVDD / SAD centre, the VAE's bound, the MAE's masked error).

``method="ig"``: Captum's IntegratedGradients from the baseline "training mean" (zero in
standardised units) to the input; attributions sum to ``score(x) - score(mean)``.
``method="gxi"``: gradient × (input - mean) (Captum's InputXGradient), one backward pass.
Attributions come back with the input's shape, signed (positive = raised the score).
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.explain.residuals import to_input_layout

__all__ = ["GRADIENT_METHODS", "gradient_attributions", "score_function", "supports_gradients"]

GRADIENT_METHODS = ("ig", "gxi")


def supports_gradients(detector) -> bool:
    """Whether ``detector`` has a torch network and a differentiable score."""
    return getattr(detector, "module_", None) is not None and hasattr(detector, "prepare_input")


def score_function(detector):
    """``f(x) -> (n,)`` torch function of standardised, model-layout input."""
    import torch

    if not supports_gradients(detector):
        raise ValueError(f"{type(detector).__name__} has no torch network to take gradients of")
    module = detector.module_.eval()
    from anomalib_ae.explain.naming import detector_name

    name = detector_name(detector)
    if name == "sage" and getattr(detector, "train_latents_", None) is not None:
        ref = torch.from_numpy(np.asarray(detector.train_latents_, dtype=np.float32))
        k = max(1, min(int(detector.n_neighbors), ref.shape[0]))

        def f(x):  # SAGE's latent signal: mean distance to the k nearest training codes
            d = torch.cdist(module.encode(x), ref.to(x.device), compute_mode="donot_use_mm_for_euclid_dist")
            return d.topk(k, dim=1, largest=False).values.mean(dim=1)

        return f
    if hasattr(detector, "discriminator_") and hasattr(detector, "recon_kl_scale_"):
        disc = detector.discriminator_.eval()
        w = float(detector.disc_weight)

        def f(x):
            return (1 - w) * module.recon_kl(x) / detector.recon_kl_scale_ + w * disc.prob_fake(x) / detector.disc_scale_

        return f
    return module.score


def gradient_attributions(detector, X, method: str = "ig", n_steps: int = 32, batch_size: int = 64) -> np.ndarray:
    """Integrated gradients (``"ig"``) or gradient × input (``"gxi"``) of the score, shaped like ``X``.

    Parameters
    ----------
    detector : fitted deep detector (see :func:`supports_gradients`)
    X : array-like, the detector's input layout
    method : {"ig", "gxi"}
    n_steps : int
        Riemann steps of the integrated-gradients path (Gauss-Legendre, Captum's default rule).
    """
    import torch
    from captum.attr import InputXGradient, IntegratedGradients

    if method not in GRADIENT_METHODS:
        raise ValueError(f"unknown gradient method {method!r}; valid: {list(GRADIENT_METHODS)}")
    f = score_function(detector)
    X = np.asarray(X)
    Xs = detector.prepare_input(X)
    explainer = IntegratedGradients(f) if method == "ig" else InputXGradient(f)
    out = []
    with torch.enable_grad():
        for start in range(0, len(Xs), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(Xs[start:start + batch_size], dtype=np.float32))
            x.requires_grad_(True)
            if method == "ig":
                a = explainer.attribute(x, baselines=torch.zeros_like(x), n_steps=int(n_steps),
                                        internal_batch_size=max(len(x), 1) * 8)
            else:
                a = explainer.attribute(x)
            out.append(a.detach().double().cpu().numpy())
    A = np.concatenate(out) if out else np.zeros((0, *Xs.shape[1:]))
    return to_input_layout(A, X.shape)
