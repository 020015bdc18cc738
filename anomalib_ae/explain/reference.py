"""Training statistics every explanation needs, fitted with the detector and saved in its file.

:meth:`BaseDetector.fit <anomalib_ae.detectors.base.BaseDetector.fit>` stores them, so
``anomalib-ae explain`` works on any model file without reference data:

* ``train_median_``: one sample's per-value median (occlusion's replacement value);
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

__all__ = ["fit_reference"]


def fit_reference(detector, X: np.ndarray) -> dict:
    """Statistics of validated training input ``X`` as fitted attributes (name -> value)."""
    X64 = np.asarray(X, dtype=np.float64)
    scale = X64.std(axis=0)
    scale[scale < 1e-12] = 1.0
    out = {
        "train_median_": np.median(X64, axis=0),
        "train_mean_": X64.mean(axis=0),
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
            if X64.ndim == 3 and getattr(detector, "input_kind_", "") == "window":
                from anomalib_ae.explain.blend import occlusion_scale

                detector.train_median_ = out["train_median_"]  # occlusion's replacement values
                out["occlusion_scale_"] = occlusion_scale(detector, X)
    return out
