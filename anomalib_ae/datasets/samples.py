"""Loaders of the small real data samples shipped in this folder (see ``anomalib_ae.datasets``)."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SAMPLES",
    "load_cardio",
    "load_mimii_sample",
    "load_pneumonia_sample",
    "load_smd_sample",
    "mimii_sample_dir",
    "pneumonia_png_dir",
    "sample_path",
]

#: Sample names accepted by :func:`sample_path`, with the file or folder each one is.
SAMPLES = {
    "cardio": "cardio.npz",
    "mimii_fan": "mimii_fan",
    "pneumonia": "pneumoniamnist_sample.npz",
    "pneumonia_png": "pneumonia_png",
    "smd": "smd_machine-1-6_sample.parquet",
    "smd_interpretation": "smd_machine-1-6_interpretation.txt",
}


def sample_path(name: str) -> Path:
    """Filesystem path of a shipped sample.

    Parameters
    ----------
    name : str
        A key of :data:`SAMPLES` (case-insensitive) or a file name inside this package.

    Returns
    -------
    Path

    Raises
    ------
    KeyError
        Unknown name (the message lists the valid ones).
    FileNotFoundError
        The sample is not installed (e.g. ``cardio.npz`` in a partial checkout).

    Notes
    -----
    The package must be installed as plain files (the usual pip install, or an
    editable one), not imported from a zip archive.
    """
    key = name.lower()
    files = set(SAMPLES.values())
    if key in SAMPLES:
        fname = SAMPLES[key]
    elif name in files:
        fname = name
    else:
        raise KeyError(f"unknown sample {name!r}; valid names: {sorted(SAMPLES)}")
    path = Path(str(resources.files(__package__).joinpath(fname)))
    if not path.exists():
        raise FileNotFoundError(f"sample {name!r} is not installed at {str(path)!r}")
    return path


def _npz(name: str) -> dict[str, np.ndarray]:
    with np.load(sample_path(name)) as d:
        return {k: d[k] for k in d.files}


def load_pneumonia_sample() -> dict[str, np.ndarray]:
    """PneumoniaMNIST sample: 300 normal training X-rays and 200 mixed test X-rays.

    Returns
    -------
    dict
        ``x_train`` uint8 (300, 28, 28), ``y_train`` (all 0), ``x_test`` uint8 (200, 28, 28),
        ``y_test`` uint8 (0 = normal, 1 = pneumonia), ``index_train`` / ``index_test``
        (row numbers in the full data set's train / test split).
    """
    return _npz("pneumonia")


def load_cardio() -> tuple[np.ndarray, np.ndarray]:
    """ODDS Cardiotocography (via ADBench): ``X`` float32 (1831, 21), ``y`` uint8 (1 = outlier)."""
    d = _npz("cardio")
    return d["X"], d["y"]


def mimii_sample_dir() -> Path:
    """Folder with 40 MIMII fan clips (``normal/``, ``anomaly/``, ``labels.csv``), 16 kHz FLAC."""
    return sample_path("mimii_fan")


def load_mimii_sample() -> dict[str, Any]:
    """The MIMII fan sample as lists.

    Returns
    -------
    dict
        ``paths`` (list of str, absolute), ``labels`` int array (0 normal, 1 anomalous),
        ``groups`` (the source 10 s recording of each 2 s segment: split train / test by
        group so one recording never lands on both sides).
    """
    root = mimii_sample_dir()
    with open(root / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "paths": [str(root / r["file"]) for r in rows],
        "labels": np.array([int(r["label"]) for r in rows], dtype=np.int64),
        "groups": [r["source_path"] for r in rows],
    }


def pneumonia_png_dir() -> Path:
    """Folder of 20 PneumoniaMNIST PNGs, 28x28 grey: ``good/`` 12 normal, ``pneumonia/`` 8.

    Written from :func:`load_pneumonia_sample` (test images; MedMNIST, CC BY 4.0). There are
    no pixel masks: use with ``anomalib_ae.data.load_image_folder(pneumonia_png_dir())``
    (``good/`` gets label 0, ``pneumonia/`` label 1).
    """
    return sample_path("pneumonia_png") / "images"


def load_smd_sample() -> dict[str, Any]:
    """SMD machine-1-6 sample: 3000 training rows and 3000 test rows, 38 metrics.

    Returns
    -------
    dict
        ``train`` and ``test`` DataFrames with columns ``timestamp`` (synthesised, one
        minute apart, see README), ``machine``, ``split``, ``source_row``, ``label``
        (test: 0 normal, 1 anomalous; train: unlabelled, all 0) and ``m01`` .. ``m38``;
        ``metric_cols`` (list of the 38 names); ``interpretation``: list of
        ``(start, end, [0-based metric indices])`` with rows ``start:end`` (end
        exclusive) counted from the first row of ``test``.
    """
    import pandas as pd

    df = pd.read_parquet(sample_path("smd"))
    metric_cols = [c for c in df.columns if len(c) == 3 and c[0] == "m" and c[1:].isdigit()]
    train = df[df["split"] == "train"].reset_index(drop=True)
    test = df[df["split"] == "test"].reset_index(drop=True)
    segs = []
    for line in sample_path("smd_interpretation").read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        span, dims = line.split(":")
        s, e = (int(v) for v in span.split("-"))
        segs.append((s, e, [int(k) - 1 for k in dims.split(",")]))
    return {"train": train, "test": test, "metric_cols": metric_cols, "interpretation": segs}
