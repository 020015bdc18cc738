"""PyOD's detectors behind the anomalib_ae contract (``"pyod.iforest"``, ``"pyod.knn"``, ...).

:mod:`~anomalib_ae.detectors.pyod.base` holds :class:`PyODDetector` (calibration schemes,
persistence); :mod:`~anomalib_ae.detectors.pyod.models` one small registered class per PyOD model.
"""

from anomalib_ae.detectors.pyod.base import CALIBRATIONS, PyODDetector
from anomalib_ae.detectors.pyod.models import (
    PyODAutoEncoder,
    PyODCOPOD,
    PyODDeepSVDD,
    PyODECOD,
    PyODGMM,
    PyODHBOS,
    PyODIForest,
    PyODINNE,
    PyODKDE,
    PyODKNN,
    PyODLOF,
    PyODOCSVM,
    PyODPCA,
    PyODVAE,
)

__all__ = [
    "CALIBRATIONS",
    "PyODAutoEncoder",
    "PyODCOPOD",
    "PyODDeepSVDD",
    "PyODDetector",
    "PyODECOD",
    "PyODGMM",
    "PyODHBOS",
    "PyODIForest",
    "PyODINNE",
    "PyODKDE",
    "PyODKNN",
    "PyODLOF",
    "PyODOCSVM",
    "PyODPCA",
    "PyODVAE",
]
