"""A fitted :class:`~anomalib_ae.pipeline.Pipeline` as a model file's ``(arrays, header)``.

The detector's own state (:mod:`anomalib_ae.detectors.state`) plus a ``pipeline`` section: the
adapter's fitted settings, the pipeline options, the threshold, the held-out calibration scores
and the training statistics that explanations fall back on. The way back is
:func:`anomalib_ae.pipeline.pipeline_from_file_state`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pipeline_file_state"]


def pipeline_file_state(pipe) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, header)`` of a fitted pipeline's model file: the detector's state plus a ``pipeline`` section."""
    from anomalib_ae.detectors.state import detector_to_state
    from anomalib_ae.io import encode_value

    pipe._check_fitted()
    arrays, header = detector_to_state(pipe.detector_)
    arrays = dict(arrays)
    arrays["__pipeline__.calibration_scores"] = np.asarray(pipe.calibration_scores_, dtype=np.float64)
    arrays["__pipeline__.reference_mean"] = np.asarray(pipe.reference_[0], dtype=np.float64)
    arrays["__pipeline__.reference_scale"] = np.asarray(pipe.reference_[1], dtype=np.float64)
    header["pipeline"] = {
        "kind": pipe.kind,
        "adapter": encode_value(pipe.adapter_dict()),
        "params": encode_value({
            "adapter_params": pipe.adapter_params,
            "clip_aggregate": pipe.clip_aggregate,
            "timestamp_how": pipe.timestamp_how,
            "contamination": pipe.contamination,
            "threshold": pipe.threshold,
            "calibration": pipe.calibration,
            "calibration_fraction": pipe.calibration_fraction,
            "rolling_window": pipe.rolling_window,
        }),
        "threshold": float(pipe.threshold_),
        "calibration_method": getattr(pipe, "calibration_method_", "unknown"),
        "probability_map": getattr(pipe, "probability_map_", None),
        "n_train_items": int(pipe.n_train_items_),
        "fit_errors": list(pipe.fit_errors_),
    }
    return arrays, header
