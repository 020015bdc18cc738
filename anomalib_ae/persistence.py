"""``save`` / ``load``: where the file format (:mod:`anomalib_ae.io`) meets what files hold.

A file holds either a bare detector (:mod:`anomalib_ae.detectors.state`) or a
:class:`~anomalib_ae.pipeline.Pipeline` (a ``pipeline`` section in the header next to its
detector's state). ``anomalib_ae.load`` is :func:`load`.
"""

from __future__ import annotations

import os

from anomalib_ae.detectors.state import detector_from_state, detector_to_state
from anomalib_ae.header_check import check_header, check_loaded
from anomalib_ae.io import ModelFileError, read_model_file, write_model_file
from anomalib_ae.pipeline import Pipeline, pipeline_from_file_state

__all__ = ["ModelFileError", "load", "save"]


def save(obj, path: str | os.PathLike) -> None:
    """Save a fitted detector or :class:`~anomalib_ae.pipeline.Pipeline` to ``path`` (any extension; ``.pt`` by habit)."""
    arrays, header = obj.file_state() if isinstance(obj, Pipeline) else detector_to_state(obj)
    write_model_file(path, arrays, header)


def load(path: str | os.PathLike):
    """Load a detector (or pipeline) saved by :func:`save`; it scores bit-identically to the saved one."""
    arrays, header = read_model_file(path)  # format, version, digest, header size and depth
    check_header(header, arrays, str(path))  # keys, types and ranges before anything uses them
    try:
        if "pipeline" in header:
            return check_loaded(pipeline_from_file_state(arrays, header, path), str(path))
        return check_loaded(detector_from_state(arrays, header), str(path))
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"{path} has an unusable header ({type(exc).__name__}: {exc})") from None
