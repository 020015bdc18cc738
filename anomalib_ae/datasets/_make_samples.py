"""Rebuild the small real-data samples shipped in ``anomalib_ae/datasets/``.

This script documents exactly how each sample was cut from the project's shared data
folder (``../shared/data`` seen from the repository root, see ``README.md`` next to this
file for sources, licences and citations).  It is not imported by the package and users
never need to run it; it needs the shared data folder, which a plain clone does not have.

Usage::

    python -m anomalib_ae.datasets._make_samples /path/to/shared/data
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _mimii(shared: Path) -> None:
    import soundfile as sf

    src = shared / "acoustic"
    rows = [r for r in csv.DictReader(open(src / "labels.csv", newline="")) if r["group"] == "mimii_fan_id00"]
    clip = lambda r: int(Path(r["source_path"]).stem)  # noqa: E731
    keep = [r for r in rows if (r["label"] == "0" and clip(r) < 6) or (r["label"] == "1" and clip(r) < 5)]
    out = HERE / "mimii_fan"
    out.mkdir(exist_ok=True)
    fields = list(rows[0].keys())
    with open(out / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in keep:
            x, sr = sf.read(src / r["file"], dtype="int16")
            rel = Path(r["file"]).relative_to("mimii_fan_id00").with_suffix(".flac")
            (out / rel.parent).mkdir(parents=True, exist_ok=True)
            # FLAC is lossless: the int16 samples are bit-identical to the shared WAV files.
            sf.write(out / rel, x, sr, format="FLAC", subtype="PCM_16")
            w.writerow({**r, "file": rel.as_posix()})


def _pneumonia_png() -> None:
    """PNG folder for the image-folder loader, written from the shipped PneumoniaMNIST sample.

    The first 12 normal and the first 8 pneumonia test images of ``pneumoniamnist_sample.npz``
    (MedMNIST, CC BY 4.0), 28x28 grey, unchanged pixels; named after their row in the full
    PneumoniaMNIST test split.  Needs only the shipped sample, not the shared data folder.
    """
    from PIL import Image

    d = np.load(HERE / "pneumoniamnist_sample.npz")
    y, x, idx = d["y_test"], d["x_test"], d["index_test"]
    root = HERE / "pneumonia_png" / "images"
    for sub, label, n in (("good", 0, 12), ("pneumonia", 1, 8)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(y == label)[:n]:
            Image.fromarray(x[i]).save(root / sub / f"test_{int(idx[i]):03d}.png")


def _pneumonia(shared: Path) -> None:
    d = np.load(shared / "medical" / "pneumoniamnist.npz")
    rng = np.random.default_rng(0)
    ytr = d["train_labels"].ravel()
    tr = np.sort(rng.choice(np.flatnonzero(ytr == 0), 300, replace=False))
    te = np.sort(rng.choice(len(d["test_images"]), 200, replace=False))
    np.savez_compressed(
        HERE / "pneumoniamnist_sample.npz",
        x_train=d["train_images"][tr], y_train=ytr[tr],
        x_test=d["test_images"][te], y_test=d["test_labels"].ravel()[te],
        index_train=tr.astype(np.int32), index_test=te.astype(np.int32),
    )


SMD_MACHINE = "machine-1-6"
SMD_TRAIN = (0, 3000)
SMD_TEST = (3000, 6000)


def _smd(shared: Path) -> None:
    import pandas as pd

    d = np.load(shared / "telemetry" / "smd" / f"{SMD_MACHINE}.npz")
    n_train = len(d["train"])
    t0 = pd.Timestamp("2019-01-01 00:00:00")
    frames = []
    for split, (a, b), arr, offset in (
        ("train", SMD_TRAIN, d["train"], 0),
        ("test", SMD_TEST, d["test"], n_train),
    ):
        rows = np.arange(a, b)
        df = pd.DataFrame(arr[a:b], columns=[f"m{k:02d}" for k in range(1, arr.shape[1] + 1)])
        df.insert(0, "timestamp", t0 + pd.to_timedelta(rows + offset, unit="min"))
        df.insert(1, "machine", SMD_MACHINE)
        df.insert(2, "split", split)
        df.insert(3, "source_row", rows.astype(np.int32))
        lab = d["test_label"][a:b] if split == "test" else np.zeros(b - a, np.uint8)
        df.insert(4, "label", lab.astype(np.uint8))
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out.to_parquet(HERE / "smd_machine-1-6_sample.parquet", index=False, compression="zstd")
    a, b = SMD_TEST
    lines = []
    for line in open(shared / "telemetry" / "smd" / "interpretation_label" / f"{SMD_MACHINE}.txt"):
        line = line.strip()
        if not line:
            continue
        span, dims = line.split(":")
        s, e = map(int, span.split("-"))
        if s >= a and e <= b:
            lines.append(f"{s - a}-{e - a}:{dims}")
    (HERE / "smd_machine-1-6_interpretation.txt").write_text("\n".join(lines) + "\n")


def main(shared: str) -> None:
    p = Path(shared)
    _mimii(p)
    _pneumonia(p)
    _pneumonia_png()
    _smd(p)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(HERE.parents[2] / "shared" / "data"))
