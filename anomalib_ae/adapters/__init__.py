"""Adapters: from what users hold (tables, images, clips, telemetry) to detector input and back.

One module per modality; :data:`ADAPTERS` maps a ``kind`` to its class.
"""

from anomalib_ae.adapters.audio import AudioAdapter
from anomalib_ae.adapters.base import Adapter, Features
from anomalib_ae.adapters.image import ImageAdapter
from anomalib_ae.adapters.tabular import TabularAdapter
from anomalib_ae.adapters.telemetry import TelemetryAdapter

#: Adapter class of every ``kind`` (``Pipeline(kind=...)``, model files).
ADAPTERS: dict[str, type[Adapter]] = {
    "tabular": TabularAdapter,
    "image": ImageAdapter,
    "audio": AudioAdapter,
    "telemetry": TelemetryAdapter,
}

__all__ = ["ADAPTERS", "Adapter", "AudioAdapter", "Features", "ImageAdapter", "TabularAdapter", "TelemetryAdapter"]
