"""Load a whole image folder: labels from a ``good/`` sub-folder, optional pixel masks.

Folder layout understood by :func:`load_image_folder`::

    root/                    root/
      good/ *.png              *.png          <- "flat": labels is None
      defect/ *.png   or       sub/ *.jpg     <- no good/ sub-folder: labels is None
      crack/ *.jpg

When ``root`` has a ``good/`` sub-folder, images under ``good/`` get label 0 and images
under any other sub-folder get label 1 (images directly in ``root`` are then ignored
with a warning, because their label is unknown).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from anomalib_ae.data.errors import FileError, describe_exception
from anomalib_ae.data.image_files import list_image_files
from anomalib_ae.data.image_ops import find_mask, read_mask
from anomalib_ae.data.images import ImageBatch, ImagePreprocessor
from anomalib_ae.data.items import parse_item_id

__all__ = ["load_image_folder"]


def load_image_folder(
    path: str | Path,
    size: int | tuple[int, int] | None = None,
    mode: str | None = "L",
    mask_dir: str | Path | None = None,
) -> ImageBatch:
    """Load every image under a folder.

    Parameters
    ----------
    path : str or Path
        Folder of PNG / JPG / JPEG / BMP / TIFF / DICOM / NIfTI files, searched recursively
        (:func:`list_image_files`).  With a
        ``good/`` sub-folder, labels are 0 for ``good/`` and 1 for every other sub-folder.
    size : int or (int, int) or None, default=None
        Resize to ``(H, W)``; ``None`` keeps the size (all images must then match).
    mode : {"L", "RGB", None}, default="L"
        Grey ``(n, H, W)`` or colour ``(n, 3, H, W)``; ``None`` follows the first image.
    mask_dir : str or Path, optional
        Folder of pixel masks mirroring ``path``: the mask of ``path/defect/a.png`` is
        ``mask_dir/defect/a.<ext>`` or ``mask_dir/defect/a_mask.<ext>`` (MVTec style),
        any image extension.  Pixels above half of full scale are defects.  An image
        without a mask file gets an all-zero mask; if such an image is labelled
        anomalous, a warning names how many.  Masks are resized with a box filter and
        kept as 1 wherever any defect pixel falls (small defects survive downsizing).
        A mask file that cannot be read is reported in ``errors`` under the mask's path
        (its image still loads, with an all-zero mask).

    Returns
    -------
    ImageBatch
        Unreadable files are in ``errors``; they are not in ``X``.

    Raises
    ------
    FileNotFoundError
        When ``path`` (or ``mask_dir``) is not a folder.
    ValueError
        When ``size`` is None and the images differ in shape.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {str(root)!r}")
    mask_root = Path(mask_dir) if mask_dir is not None else None
    if mask_root is not None and not mask_root.is_dir():
        raise FileNotFoundError(f"mask folder not found: {str(mask_root)!r}")

    files = list_image_files(root)
    if mask_root is not None:  # a mask folder inside the image folder is not images
        mr = mask_root.resolve()
        files = [f for f in files if mr not in f.resolve().parents]
    labelled = (root / "good").is_dir()
    labels_all: list[int] = []
    if labelled:
        loose = [f for f in files if f.parent == root]
        if loose:
            warnings.warn(
                f"{len(loose)} image(s) directly in {str(root)!r} are ignored: with a good/ "
                "sub-folder only images in sub-folders have a label",
                UserWarning,
                stacklevel=2,
            )
        files = [f for f in files if f.parent != root]
        labels_all = [0 if f.relative_to(root).parts[0] == "good" else 1 for f in files]

    pre = ImagePreprocessor(size=size, mode=mode)
    batch = pre.transform_paths(files)
    keep = {p: i for i, p in enumerate(map(str, files))}
    idx = [keep[parse_item_id(p)[0]] for p in batch.paths]
    if labelled:
        batch.labels = np.asarray([labels_all[i] for i in idx], dtype=np.int64)
    if mask_root is not None:
        hw = tuple(batch.X.shape[-2:])
        masks = np.zeros((len(idx), *hw), dtype=np.uint8)
        missing_anomalous = 0
        for j, p in enumerate(batch.paths):
            mpath = find_mask(mask_root, Path(parse_item_id(p)[0]).relative_to(root))
            if mpath is None:
                if labelled and batch.labels[j] == 1:
                    missing_anomalous += 1
                continue
            try:
                masks[j] = read_mask(mpath, hw)
            except Exception as exc:  # noqa: BLE001
                batch.errors.append(FileError(str(mpath), "mask unreadable, all-zero mask used: "
                                              + describe_exception(exc)))
        if missing_anomalous:
            warnings.warn(
                f"{missing_anomalous} anomalous image(s) have no mask in {str(mask_root)!r}; "
                "they get an all-zero mask",
                UserWarning,
                stacklevel=2,
            )
        batch.masks = masks
    return batch
