"""The estimators users see; importing this package registers the built-in detectors.

The deep detectors live with their model family (``anomalib_ae/models/<family>/detector.py``)
and are re-exported here, so ``anomalib_ae.detectors.AutoEncoder`` keeps working.
"""

from anomalib_ae.detectors.base import BaseDetector
from anomalib_ae.models.ae.detector import AutoEncoder
from anomalib_ae.models.cvad.detector import CVAD
from anomalib_ae.models.deepsvdd.detector import DeepSAD, DeepSVDD
from anomalib_ae.models.goad.detector import GOAD
from anomalib_ae.models.idnn.detector import InterpolationDNN
from anomalib_ae.models.mae.detector import MaskedAutoEncoder
from anomalib_ae.models.riad.detector import RIAD
from anomalib_ae.models.sage.detector import SAGE
from anomalib_ae.models.subspace.detector import Subspace
from anomalib_ae.models.vae.detector import VariationalAutoEncoder
from anomalib_ae.models.winae.detector import WindowAutoEncoder

from anomalib_ae.detectors import pyod as _pyod  # noqa: E402,F401  (registers "pyod.*")
from anomalib_ae.detectors.ensemble import Ensemble  # noqa: E402

__all__ = [
    "CVAD",
    "GOAD",
    "SAGE",
    "AutoEncoder",
    "BaseDetector",
    "DeepSAD",
    "DeepSVDD",
    "Ensemble",
    "InterpolationDNN",
    "MaskedAutoEncoder",
    "RIAD",
    "Subspace",
    "VariationalAutoEncoder",
    "WindowAutoEncoder",
]
