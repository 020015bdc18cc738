"""Which files are images, and reading one file into its items.

PNG / JPEG / BMP / TIFF are read with Pillow; 16-bit grey keeps its 16 bits.  Pillow
decodes 16-bit *colour* PNG and TIFF to 8 bits per channel, so those files are read with
``pypng`` / ``tifffile`` (``medical`` extra) instead, or become an error record saying so:
they are never truncated silently.  DICOM and NIfTI files go to
:mod:`anomalib_ae.data.medical` and may expand to several items (frames, slices, patches).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from anomalib_ae.data.image_ops import MASK_EXTENSIONS, pil_to_float
from anomalib_ae.data.items import format_item_id, parse_item_id
from anomalib_ae.data.medical import DICOM_EXTENSIONS, NIFTI_EXTENSIONS, is_dicom_file, read_dicom, read_nifti

__all__ = ["IMAGE_EXTENSIONS", "list_image_files", "read_image_items"]

#: File name endings read as images (case-insensitive); extension-less files are read
#: when they are DICOM (``DICM`` marker), as in a PACS export of a series.
IMAGE_EXTENSIONS = MASK_EXTENSIONS + DICOM_EXTENSIONS + NIFTI_EXTENSIONS

#: Index files of a DICOM media folder: they describe the series, they hold no image.
_SKIP_PREFIXES = ("DICOMDIR",)


def _suffix(p: Path) -> str:
    name = p.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else p.suffix.lower()


def _is_candidate(p: Path) -> bool:
    if p.name.upper().startswith(_SKIP_PREFIXES) or p.name.startswith("."):
        return False
    if p.is_symlink() and not p.exists():  # a dangling link is listed: it gets an error record
        return _suffix(p) in IMAGE_EXTENSIONS or _suffix(p) == ""
    if not p.is_file():
        return False
    suf = _suffix(p)
    return suf in IMAGE_EXTENSIONS or (suf == "" and is_dicom_file(p))


def list_image_files(root: str | Path) -> list[Path]:
    """Image files under ``root`` (recursively), sorted.

    PNG / JPG / JPEG / BMP / TIFF, DICOM (``.dcm``, ``.dicom``, ``.ima`` or no extension with
    the DICOM marker; ``DICOMDIR*`` index files are skipped: they hold no image) and NIfTI
    (``.nii``, ``.nii.gz``).
    Symbolic links whose target is missing are listed too, so that they get an error record.
    """
    root = Path(root)
    return sorted(p for p in root.rglob("*") if _is_candidate(p))


def _high_bit_colour(path: str, img) -> bool:
    """True for a colour PNG / TIFF with more than 8 bits per channel (Pillow gives 8)."""
    if img.mode not in ("RGB", "RGBA"):
        return False
    if img.format == "PNG":
        with open(path, "rb") as fh:
            head = fh.read(26)
        return len(head) >= 26 and head[12:16] == b"IHDR" and head[24] == 16
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8
    return False


def _read_high_bit_colour(path: str, fmt: str) -> np.ndarray:
    try:
        if fmt == "PNG":
            import png

            w, h, rows, info = png.Reader(filename=path).asDirect()
            planes = int(info["planes"])
            arr = np.vstack([np.asarray(r, dtype=np.float32) for r in rows]).reshape(h, w, planes)
            return arr[:, :, :3] / float(2 ** int(info["bitdepth"]) - 1)
        import tifffile

        arr = tifffile.imread(path)
    except ImportError:
        raise ImportError(f"16-bit colour {fmt} needs {'pypng' if fmt == 'PNG' else 'tifffile'} to keep its 16 bits "
                          "(Pillow reads 8); install the medical extra: pip install 'anomalib_ae[medical]'") from None
    full = float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else 1.0
    return arr[..., :3].astype(np.float32) / full


def _read_pil(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img.load()  # decode now so truncated files fail here
        if _high_bit_colour(path, img):
            return _read_high_bit_colour(path, img.format)
        return pil_to_float(img)


def read_image_items(item: str, window: Sequence[float] | None = None, axis: int = 2,
                     patch: Sequence[int] | None = None) -> list[tuple[str, np.ndarray]]:
    """A file (or one item id of it) -> ``[(item_id, float32 image in [0, 1]), ...]``.

    Raises whatever the reader raises for a missing, empty, truncated or undecodable file;
    the caller records it as an error for the whole file.
    """
    path, want = parse_item_id(item)
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise FileNotFoundError(f"dangling symbolic link (target {str(p.readlink())!r} does not exist)")
    if not p.exists():
        raise FileNotFoundError("file not found")
    if p.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    suf = _suffix(p)
    if suf in NIFTI_EXTENSIONS:
        items = read_nifti(path, axis=int(want.get("axis", axis)), patch=patch, window=window)
    elif suf in DICOM_EXTENSIONS or (suf == "" and is_dicom_file(p)):
        items = read_dicom(path, window=window)
    else:
        items = [({}, _read_pil(path))]
    out = [(format_item_id(path, **fields), arr) for fields, arr in items]
    if want:
        out = [(i, a) for i, a in out if i == str(item)]
        if not out:
            raise ValueError(f"{path!r} holds no item {str(item).rsplit('#', 1)[1]!r}")
    return out
