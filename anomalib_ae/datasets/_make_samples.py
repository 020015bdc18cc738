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


def _magnetic_tile(shared: Path) -> None:
    from PIL import Image

    d = np.load(shared / "industrial" / "magnetic_tile_64.npz")
    rng = np.random.default_rng(0)
    y, dt = d["y_test"], d["defect_type_test"]
    normal = np.flatnonzero(y == 0)
    test_idx = [rng.choice(normal, 30, replace=False)]
    for t in range(1, 6):
        test_idx.append(rng.choice(np.flatnonzero(dt == t), 6, replace=False))
    test_idx = np.sort(np.concatenate(test_idx))
    np.savez_compressed(
        HERE / "magnetic_tile_sample.npz",
        x_train=d["x_train"][:150], y_train=d["y_train"][:150], file_train=d["file_train"][:150],
        x_test=d["x_test"][test_idx], y_test=y[test_idx], mask_test=d["mask_test"][test_idx],
        defect_type_test=dt[test_idx], file_test=d["file_test"][test_idx], class_names=d["class_names"],
    )
    # PNG folder for the image-folder loader: 12 normal training tiles not in the npz sample,
    # 8 defective test tiles not in the npz sample, with their masks in a separate folder.
    root = HERE / "magnetic_tile_png"
    for sub in ("images/good", "images/defect", "masks/defect"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(150, 162):
        name = Path(str(d["file_train"][i])).stem
        Image.fromarray(d["x_train"][i]).save(root / "images" / "good" / f"{name}.png")
    unused = np.setdiff1d(np.flatnonzero(y == 1), test_idx)
    pick = []
    for t in range(1, 6):
        cand = unused[(dt[unused] == t) & (d["mask_test"][unused].reshape(len(unused), -1).max(1) > 0)]
        pick.extend(cand[: 2 if t in (1, 2, 5) else 1])
    for i in pick:
        name = f"{d['class_names'][dt[i]]}_{Path(str(d['file_test'][i])).stem}"
        Image.fromarray(d["x_test"][i]).save(root / "images" / "defect" / f"{name}.png")
        Image.fromarray((d["mask_test"][i] > 0).astype(np.uint8) * 255).save(root / "masks" / "defect" / f"{name}.png")


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
    _magnetic_tile(p)
    _pneumonia(p)
    _smd(p)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(HERE.parents[2] / "shared" / "data"))
