"""anomalib_ae: anomaly and out-of-distribution detection with deep and classical detectors.

>>> import anomalib_ae
>>> det = anomalib_ae.create("ae", epochs=20)     # doctest: +SKIP
>>> det.fit(normal_data).score(new_batch)          # doctest: +SKIP
"""

from anomalib_ae._version import __version__
from anomalib_ae.io import ModelFileError  # noqa: E402
from anomalib_ae.registry import (  # noqa: E402
    UnknownDetectorError,
    create,
    get_detector_class,
    list_detectors,
    register_detector,
)

from anomalib_ae import detectors  # noqa: E402,F401  (registers the built-ins)
from anomalib_ae.detectors.ensemble import Ensemble  # noqa: E402
from anomalib_ae.persistence import load  # noqa: E402
from anomalib_ae.pipeline import Pipeline  # noqa: E402

__all__ = [
    "Ensemble",
    "ModelFileError",
    "Pipeline",
    "UnknownDetectorError",
    "__version__",
    "create",
    "detectors",
    "get_detector_class",
    "list_detectors",
    "load",
    "register_detector",
]
