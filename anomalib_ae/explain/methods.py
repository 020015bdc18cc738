"""One entry point, :func:`attribute`: which method explains which detector, and the dispatch.

======================  ==============================================================
method                  what
======================  ==============================================================
``"residual"``          squared reconstruction error per value (``ae``, ``vae``, ``cvad``, ``mae``, ``sage``)
``"residual_norm"``     the same divided by the value's training residual scale
``"residual_z"``        residual in training units blended with the |z-score|, smoothed over a window's rows
``"ig"`` / ``"gxi"``    integrated gradients / gradient × input of the score (every torch detector)
``"occlusion"``         score drop at the training median, per feature / metric / image patch (any detector)
``"ensemble"``          members' attributions in calibrated units, weighted like the combined score
``"zscore"``            squared z-score of each value against training statistics (the naive baseline)
``"combined"``          residual shares + occlusion shares of each item (reconstruction family)
======================  ==============================================================

``"combined"`` adds the two views of a reconstruction detector, each as shares of the item's
total (positive part): where the network fails to rebuild the input, and which metric brought
the score back down when set to its training median. On SMD's test labels it is the most
accurate culprit ranking we measured (HitRate@150 % 0.631 vs naive 0.520), but it was picked
after seeing those labels. ``"residual_z"`` (:mod:`anomalib_ae.explain.blend`) is the ranking
chosen on training data only (planted anomalies); on the test labels it scores 0.566
(``docs/explanations.md``). ``"occlusion_z"`` is the ranking chosen on a second labelled data set,
ASD's interpretation labels, and measured once on SMD's: 0.611 as chosen, 0.608 as a telemetry
pipeline computes it (per row, smoothed over 31 timestamps: :mod:`anomalib_ae.explain.rows`; the
telemetry default).

``"auto"`` picks, per detector: ``"ensemble"`` for ensembles; for the reconstruction family
``"occlusion_z"`` on windows (telemetry; a model file fitted before ``occlusion_scale_`` was stored
keeps ``"residual_z"``, one before ``residual_q99_`` keeps ``"combined"``), ``"combined"`` on vectors and ``"residual"`` on images;
``"ig"`` for torch detectors without a reconstruction (``deepsvdd``, ``deepsad``) and for
``sage`` (its latent distance); ``"occlusion"`` for everything else (PyOD).
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.explain.naming import detector_name  # noqa: F401  (re-exported)

__all__ = ["METHODS", "attribute", "default_method", "available_methods", "shares"]


def shares(A: np.ndarray) -> np.ndarray:
    """Positive part of each item's attribution divided by the item's total (all zeros stay zero)."""
    P = np.clip(np.asarray(A, dtype=np.float64), 0.0, None)
    axes = tuple(range(1, P.ndim))
    t = P.sum(axis=axes, keepdims=True)
    return np.divide(P, t, out=np.zeros_like(P), where=t > 0)

METHODS = ("combined", "residual", "residual_norm", "residual_z", "occlusion_z", "ig", "gxi", "occlusion", "ensemble", "zscore")





def available_methods(detector) -> list[str]:
    """Methods that apply to ``detector`` (``"auto"`` picks the first)."""
    from anomalib_ae.explain.gradients import supports_gradients
    from anomalib_ae.explain.residuals import has_reconstruction

    out = []
    if hasattr(detector, "detectors_") and hasattr(detector, "member_scores"):
        out.append("ensemble")
    deep = supports_gradients(detector)
    recon = deep and has_reconstruction(detector)
    if detector_name(detector) == "sage" and deep:
        out.extend(["ig", "gxi"])
    if recon:
        # images: occlusion of patches adds nothing to the residual map (tiles: pixel AUROC 0.50 vs 0.64)
        kind = getattr(detector, "input_kind_", "")
        blend = getattr(detector, "residual_q99_", None) is not None and kind != "image"
        if kind == "window" and getattr(detector, "occlusion_scale_", None) is not None:
            out.append("occlusion_z")  # telemetry: chosen on ASD's culprit labels (docs/explanations.md)
        if kind == "window" and blend:  # chosen on planted training anomalies; older files' default
            out.append("residual_z")
        out.extend(["residual", "combined"] if kind == "image" else ["combined", "residual"])
        if getattr(detector, "residual_scale_", None) is not None:
            out.append("residual_norm")
        if blend and "residual_z" not in out:
            out.append("residual_z")
    if deep and "ig" not in out:
        out.extend(["ig", "gxi"])
    out.append("occlusion")
    out.append("zscore")
    return out


def default_method(detector) -> str:
    return available_methods(detector)[0]


def attribute(detector, X, method: str = "auto", **kwargs) -> tuple[np.ndarray, str]:
    """Attribution of every value of ``X`` to the detector's score.

    Returns
    -------
    values : ndarray of float64, shaped like ``X``; higher = pushed the score up
    method : str, the method used (``"auto"`` resolved)
    """
    X = np.asarray(X)
    if method == "auto":
        method = default_method(detector)
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}; valid: {['auto', *METHODS]}")
    if method == "combined":
        R, _ = attribute(detector, X, "residual")
        O, _ = attribute(detector, X, "occlusion")
        return shares(R) + shares(O), method
    if method == "residual_z":
        from anomalib_ae.explain.blend import residual_z

        return residual_z(detector, X, **kwargs), method
    if method == "occlusion_z":
        from anomalib_ae.explain.blend import occlusion_z

        return occlusion_z(detector, X, **kwargs), method
    if method in ("residual", "residual_norm"):
        from anomalib_ae.explain.residuals import normalized_residuals, reconstruction_residuals

        A = reconstruction_residuals(detector, X) if method == "residual" else normalized_residuals(detector, X)
        if A is None:
            raise ValueError(f"{type(detector).__name__} has no reconstruction; methods: {available_methods(detector)}")
        return A, method
    if method in ("ig", "gxi"):
        from anomalib_ae.explain.gradients import gradient_attributions

        return gradient_attributions(detector, X, method, **kwargs), method
    if method == "occlusion":
        from anomalib_ae.explain.occlusion import occlusion_attributions

        return occlusion_attributions(detector, X, **kwargs), method
    if method == "ensemble":
        if not hasattr(detector, "member_scores"):
            raise ValueError(f"{type(detector).__name__} is not an ensemble")
        from anomalib_ae.explain.ensemble import ensemble_attributions

        return ensemble_attributions(detector, X, attribute=attribute)[0], method
    # zscore
    med = kwargs.get("reference") or (getattr(detector, "train_mean_", None), getattr(detector, "train_scale_", None))
    if med[0] is None:
        raise ValueError(f"{type(detector).__name__} has no training statistics (train_mean_, train_scale_)")
    mean, scale = (np.asarray(a, dtype=np.float64) for a in med)
    z = (X.astype(np.float64) - mean) / np.where(scale > 0, scale, 1.0)
    return z * z, method
