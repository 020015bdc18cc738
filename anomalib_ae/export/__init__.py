"""Export fitted detectors for serving elsewhere (ONNX)."""

from anomalib_ae.export.onnx import EXPORTABLE, ExportError, export_onnx

__all__ = ["EXPORTABLE", "ExportError", "export_onnx"]
