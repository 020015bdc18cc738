"""Training statistics every explanation needs, fitted with the detector and saved in its file.

:meth:`BaseDetector.fit <anomalib_ae.detectors.base.BaseDetector.fit>` stores them, so
``anomalib-ae explain`` works on any model file without reference data:

* ``train_median_``: one sample's per-value median (occlusion's replacement value);
  like the residual spreads, from a seeded sample of :data:`REFERENCE_SAMPLES` above that many;
* ``train_mean_``, ``train_scale_``: per-value mean and standard deviation (the z-score baseline);
* ``residual_scale_``: RMS reconstruction residual on the training data, per feature / metric /
  channel (reconstruction detectors only, else None);
* ``residual_q99_``: the 99th percentile of the same residuals, the unit of ``"residual_z"``
  (:mod:`anomalib_ae.explain.blend`);
* ``occlusion_scale_``: windows of a reconstruction detector only, the per-metric standard deviation
  of the occlusion attribution on 512 training windows, the unit of ``"occlusion_z"``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["REFERENCE_SAMPLES", "fit_reference", "reference_sample"]


#: Above this many training samples, the median and the residual spreads come from a seeded
#: sample of this size (mean and scale always use every sample): a median and a 99th percentile
#: of 10,000 samples are as good as all of them for ranking, and fitting stays cheap.
REFERENCE_SAMPLES = 10_000


def reference_sample(detector, X: np.ndarray) -> np.ndarray:
    """``X`` itself, or a seeded sample of :data:`REFERENCE_SAMPLES` of its samples in their order."""
    n = len(X)
    if n <= REFERENCE_SAMPLES:
        return X
    seed = getattr(detector, "random_state", None)
    rng = np.random.default_rng(seed if isinstance(seed, (int, np.integer)) else 0)
    return X[np.sort(rng.choice(n, REFERENCE_SAMPLES, replace=False))]


def fit_reference(detector, X: np.ndarray, moments: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Statistics of validated training input ``X`` as fitted attributes (name -> value).

    ``moments``: the per-value ``(mean, scale)`` already computed (out-of-core training streams
    them from a memory map, :func:`~anomalib_ae.data.outofcore.chunked_moments`), so ``X`` is
    only sampled here, never copied whole.
    """
    if moments is None:
        from anomalib_ae.moments import moments as one_pass

        mean, scale = one_pass(np.asarray(X), (0,))  # what chunked_moments(X, pooled=False) gives
        scale[scale < 1e-12] = 1.0
    else:
        mean, scale = moments
    X_all, X = X, reference_sample(detector, X)
    out = {
        "train_median_": np.median(np.asarray(X, dtype=np.float64), axis=0),
        "train_mean_": mean,
        "train_scale_": scale,
        "residual_scale_": None,
        "residual_q99_": None,
        "occlusion_scale_": None,
    }
    if getattr(detector, "module_", None) is not None:
        from anomalib_ae.explain.residuals import residual_spreads

        try:
            spreads = residual_spreads(detector, X)
        except (RuntimeError, ValueError):  # a network whose forward is not a reconstruction
            spreads = None
        if spreads is not None:
            out["residual_scale_"], out["residual_q99_"] = spreads
            if X_all.ndim == 3 and getattr(detector, "input_kind_", "") == "window":
                from anomalib_ae.explain.blend import occlusion_scale

                detector.train_median_ = out["train_median_"]  # occlusion's replacement values
                out["occlusion_scale_"] = occlusion_scale(detector, X_all)  # its own 512-window sample
    return out
