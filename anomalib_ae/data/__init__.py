"""Modality adapters: images, audio and telemetry -> float32 numpy arrays.

Pure numpy / pandas / Pillow / soundfile / librosa; nothing here imports torch or
matplotlib.  Every adapter keeps going past a bad file or row and reports it as a
:class:`FileError` or :class:`RowError` in the ``errors`` list of the batch it returns.
Audio features need ``librosa``, which is imported only when audio is featurised.
"""

from anomalib_ae.data.audio import AudioBatch, AudioFeaturizer, aggregate_clip_scores, list_audio_files, log_mel
from anomalib_ae.data.errors import FileError, RowError
from anomalib_ae.data.image_folder import load_image_folder
from anomalib_ae.data.images import ImageBatch, ImagePreprocessor, list_image_files
from anomalib_ae.data.tabular import read_table
from anomalib_ae.data.telemetry import (
    TelemetryWindower,
    WindowBatch,
    windows_to_timestamps,
    windows_to_timestamps_per_metric,
)

__all__ = [
    "AudioBatch",
    "AudioFeaturizer",
    "FileError",
    "ImageBatch",
    "ImagePreprocessor",
    "RowError",
    "TelemetryWindower",
    "WindowBatch",
    "aggregate_clip_scores",
    "list_audio_files",
    "list_image_files",
    "load_image_folder",
    "log_mel",
    "read_table",
    "windows_to_timestamps",
    "windows_to_timestamps_per_metric",
]
