"""DICOM (pydicom) and NIfTI (nibabel) readers for the image adapter.

Both packages come with the ``medical`` extra (``pip install anomalib_ae[medical]``) and are
imported only when such a file is read.  Each reader returns a list of
``(fields, image)`` pairs: ``fields`` names the item inside the file (``{"frame": 3}``,
``{"axis": 2, "slice": 40}``, see :mod:`anomalib_ae.data.items`) and ``image`` is float32 in
``[0, 1]``: ``(H, W)`` grey, ``(H, W, 3)`` colour or ``(D, H, W)`` for a 3-D patch.

DICOM grey levels
-----------------
1. the modality LUT: ``RescaleSlope * stored + RescaleIntercept`` (or the file's Modality LUT
   Sequence), e.g. CT stored values -> Hounsfield units;
2. the window: ``window=[centre, width]`` when given, else the file's first
   ``WindowCenter`` / ``WindowWidth``, else the whole range of values the stored bits can
   hold (after the rescale), so every image of a series is scaled the same way; the
   linear window of DICOM PS3.3 C.11.2.1.2 maps it to ``[0, 1]``;
3. ``MONOCHROME1`` (white = low values, common in CR/DX) is inverted so that bright
   always means a high value.
Colour (RGB, YBR, palette) files are converted to RGB and divided by their full scale.
A multi-frame file gives one item per frame.

NIfTI
-----
3-D volumes (``x, y, z``) are cut into 2-D slices along ``axis`` (default 2: axial for a
RAS-oriented volume) or, with ``patch=(d, h, w)``, into 3-D patches taken with a stride of
the patch size (the last patch along an axis is aligned to the volume's end, so the whole
volume is covered).  4-D files (``x, y, z, t``) give the items of each 3-D volume in turn
(``t=`` in the item id).  Values are the scaled data (``scl_slope`` / ``scl_inter``);
``window=[centre, width]`` maps them as for DICOM, otherwise each 3-D volume is scaled
from its minimum to its maximum (MR intensities have no absolute unit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["DICOM_EXTENSIONS", "NIFTI_EXTENSIONS", "is_dicom_file", "read_dicom", "read_nifti", "window_linear"]

#: File name endings read as DICOM; files with no extension are read as DICOM when they
#: carry the ``DICM`` marker at byte 128 (the usual layout of a PACS export).
DICOM_EXTENSIONS = (".dcm", ".dicom", ".ima")
#: File name endings read as NIfTI-1 / NIfTI-2.
NIFTI_EXTENSIONS = (".nii", ".nii.gz")

_EXTRA = "install the medical extra: pip install 'anomalib_ae[medical]'"


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"reading this file needs {module.split('.')[0]}; {_EXTRA}") from None


def is_dicom_file(path: str | Path) -> bool:
    """True when the file has the DICOM Part 10 marker ``DICM`` at byte 128."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def window_linear(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """DICOM linear VOI window (PS3.3 C.11.2.1.2) onto ``[0, 1]``."""
    c, w = float(centre), float(width)
    if w < 1:
        raise ValueError(f"window width must be >= 1, got {w}")
    out = ((np.asarray(values, dtype=np.float64) - (c - 0.5)) / (w - 1.0) + 0.5) if w > 1 else \
        (np.asarray(values, dtype=np.float64) > c - 0.5).astype(np.float64)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _first(value: Any) -> float:
    """First value of a (possibly multi-valued) DICOM element."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = value[0]
    return float(value)


def _stored_range(ds) -> tuple[float, float]:
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    if int(ds.get("PixelRepresentation", 0)) == 1:
        return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    return 0.0, 2.0 ** bits - 1


def read_dicom(path: str | Path, window: Sequence[float] | None = None) -> list[tuple[dict, np.ndarray]]:
    """One file -> one item per frame (see the module notes for the grey levels).

    Raises
    ------
    ValueError
        No pixel data (a structured report, a DICOMDIR, a presentation state), or a
        ``window`` that is not ``[centre, width]``.
    pydicom.errors.InvalidDicomError
        Not a DICOM file.
    Exception
        What pydicom raises for truncated or undecodable pixel data (a compressed transfer
        syntax without its decoder names the missing plugin).
    """
    pydicom = _need("pydicom")
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    ds = pydicom.dcmread(str(path))
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        kind = str(ds.get("SOPClassUID", getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", "")))
        name = getattr(pydicom.uid.UID(kind), "name", kind) if kind else "unknown SOP class"
        raise ValueError(f"DICOM file has no pixel data ({name})")
    arr = ds.pixel_array
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1))
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds).astype(np.float32)
        scale = 65535.0 if rgb.max() > 255 else 255.0
        frames = rgb / scale
    elif spp > 1:
        frames = arr.astype(np.float32) / float(2 ** int(ds.get("BitsStored", 8)) - 1)
    else:
        vals = apply_modality_lut(arr, ds).astype(np.float64)
        if window is not None:
            if len(window) != 2:
                raise ValueError(f"window must be [centre, width], got {window!r}")
            c, w = window
        elif "WindowCenter" in ds and "WindowWidth" in ds:
            c, w = _first(ds.WindowCenter), _first(ds.WindowWidth)
        else:
            lo, hi = (float(v) for v in apply_modality_lut(np.array(_stored_range(ds)), ds))
            lo, hi = min(lo, hi), max(lo, hi)
            c, w = (lo + hi + 1.0) / 2.0, hi - lo + 1.0
        frames = window_linear(vals, c, w)
        if photometric == "MONOCHROME1":
            frames = 1.0 - frames
    frames = np.asarray(frames, dtype=np.float32)
    grey = spp == 1 and photometric != "PALETTE COLOR"
    if n_frames == 1:
        return [({}, frames)]
    if frames.ndim != (3 if grey else 4):
        raise ValueError(f"NumberOfFrames={n_frames} but the pixel data has shape {frames.shape}")
    return [({"frame": k}, frames[k]) for k in range(frames.shape[0])]


def _starts(n: int, size: int) -> list[int]:
    if size > n:
        raise ValueError(f"patch size {size} is larger than the volume ({n})")
    out = list(range(0, n - size + 1, size))
    if out[-1] + size < n:
        out.append(n - size)
    return out


def _volume_items(vol: np.ndarray, axis: int, patch, window, t: int | None) -> list[tuple[dict, np.ndarray]]:
    if window is not None:
        scaled = window_linear(vol, *window)
    else:
        lo, hi = float(np.nanmin(vol)), float(np.nanmax(vol))
        scaled = ((vol - lo) / (hi - lo) if hi > lo else np.zeros_like(vol)).astype(np.float32)
    scaled = np.nan_to_num(scaled, nan=0.0)
    pre = {} if t is None else {"t": t}
    if patch is not None:
        d, h, w = (int(v) for v in patch)
        items = []
        for a in _starts(vol.shape[0], d):
            for b in _starts(vol.shape[1], h):
                for c in _starts(vol.shape[2], w):
                    items.append(({**pre, "patch": f"{a}:{a + d},{b}:{b + h},{c}:{c + w}".replace(",", ";")},
                                  scaled[a:a + d, b:b + h, c:c + w]))
        return items
    moved = np.moveaxis(scaled, axis, 0)
    return [({**pre, "axis": axis, "slice": k}, moved[k]) for k in range(moved.shape[0])]


def read_nifti(path: str | Path, axis: int = 2, patch: Sequence[int] | None = None,
               window: Sequence[float] | None = None) -> list[tuple[dict, np.ndarray]]:
    """One NIfTI file -> its slices along ``axis`` (or its 3-D ``patch`` es), volume by volume.

    Raises
    ------
    ValueError
        A file that is not 3-D or 4-D, a bad ``axis`` or a patch larger than the volume.
    Exception
        What nibabel raises for a file that is not NIfTI or is truncated.
    """
    nib = _need("nibabel")
    img = nib.load(str(path))
    data = np.asarray(img.get_fdata(dtype=np.float32))
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise ValueError(f"NIfTI data has shape {data.shape}; expected a 3-D volume or a 4-D series of volumes")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    if patch is not None and len(patch) != 3:
        raise ValueError(f"patch must be [depth, height, width], got {patch!r}")
    if data.ndim == 3:
        return _volume_items(data, axis, patch, window, None)
    out: list[tuple[dict, np.ndarray]] = []
    for t in range(data.shape[3]):
        out.extend(_volume_items(data[..., t], axis, patch, window, t))
    return out
