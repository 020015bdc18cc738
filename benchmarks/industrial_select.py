"""Choose ``subspace``'s settings on training tiles only: synthetic defects planted in held-out training tiles.

    python benchmarks/industrial_select.py            # the grid below; writes results/industrial_select.{json,md}

Protocol (the same as RIAD's in docs/domains.md, no test tile is read): of the 600 defect-free
training tiles of ``magnetic_tile_64.npz``, a seeded 480 (seed 0) fit the detector; of the other
120, 60 stay clean and 60 get one synthetic defect each (a dark blob, a thin dark line, or a
square pasted from another held-out tile, in turn; seed 1). Each setting is scored by the image
AUROC of the 120 tiles and the pixel AUROC of its ``error_map`` against the planted masks; the
setting with the best mean of the two becomes the default (``configs/industrial.yaml``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from industrial import DEFAULT_DATA, RESULTS, atomic_write  # noqa: E402


def plant_defects(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic defect per tile ``(n, H, W)`` in [0, 1]: returns the tiles and the boolean masks."""
    x = x.copy()
    masks = np.zeros(x.shape, dtype=bool)
    H = x.shape[-1]
    yy, xx = np.mgrid[:H, :H]
    for i in range(len(x)):
        kind = i % 3
        if kind == 0:  # dark blob (blowhole)
            cy, cx = rng.integers(6, H - 6, 2)
            r = rng.uniform(1.5, 4)
            m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            x[i][m] = x[i][m] * rng.uniform(0.2, 0.6)
        elif kind == 1:  # thin dark line (crack)
            cy, cx = rng.integers(8, H - 8, 2)
            th, length = rng.uniform(0, np.pi), rng.uniform(8, 24)
            d = np.abs((yy - cy) * np.cos(th) - (xx - cx) * np.sin(th))
            along = np.abs((yy - cy) * np.sin(th) + (xx - cx) * np.cos(th))
            m = (d <= 0.8) & (along <= length / 2)
            x[i][m] = x[i][m] * rng.uniform(0.3, 0.6)
        else:  # a square of another tile (texture / brightness change)
            s = rng.integers(6, 14)
            cy, cx = rng.integers(0, H - s, 2)
            j = rng.integers(len(x))
            sy, sx = rng.integers(0, H - s, 2)
            m = np.zeros((H, H), bool)
            m[cy:cy + s, cx:cx + s] = True
            x[i][m] = x[j][sy:sy + s, sx:sx + s].ravel()
        masks[i] = m
    return x, masks


def validation_split(Xtr: np.ndarray):
    perm = np.random.default_rng(0).permutation(len(Xtr))
    fit, held = Xtr[perm[:480]], Xtr[perm[480:]]
    bad, masks = plant_defects(held[:60], np.random.default_rng(1))
    Xv = np.concatenate([held[60:], bad])
    yv = np.r_[np.zeros(60), np.ones(60)].astype(int)
    Mv = np.concatenate([np.zeros(held[60:].shape, bool), masks])
    return fit, Xv, yv, Mv


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--n-components", default="50,200,all", help="comma list; 'all' = the whole span (None)")
    ap.add_argument("--smooth", default="0,1,2,4")
    args = ap.parse_args(argv)
    import torch
    from sklearn.metrics import roc_auc_score

    import anomalib_ae

    torch.set_num_threads(1)
    z = np.load(Path(args.data) / "industrial" / "magnetic_tile_64.npz")
    Xtr = z["x_train"].astype(np.float32) / 255.0  # training tiles only: the test tiles are never read
    fit, Xv, yv, Mv = validation_split(Xtr)
    comps = [None if c == "all" else int(c) for c in args.n_components.split(",")]
    rows = []
    t0 = time.perf_counter()
    for nc, sm in itertools.product(comps, [float(s) for s in args.smooth.split(",")]):
        det = anomalib_ae.create("subspace", n_components=nc, smooth=sm).fit(fit)
        img = float(roc_auc_score(yv, det.score(Xv)))
        pix = float(roc_auc_score(Mv.ravel(), det.error_map(Xv).reshape(Mv.shape).ravel()))
        rows.append({"n_components": "all" if nc is None else nc, "smooth": sm, "image_auroc": img,
                     "pixel_auroc": pix, "mean": (img + pix) / 2})
        print(f"  n_components {rows[-1]['n_components']}, smooth {sm}: image {img:.3f} pixel {pix:.3f}", flush=True)
    best = max(rows, key=lambda r: r["mean"])
    lines = ["## industrial: choosing `subspace`'s settings on synthetic defects in held-out training tiles", "",
             f"command: `{' '.join(sys.argv)}`  ",
             "fit: 480 training tiles; validation: 60 clean + 60 with a planted defect (held-out training tiles; "
             f"no test tile read); {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}", "",
             "| n_components | smooth (sigma px) | image AUROC | pixel AUROC | mean |", "|---|---|---|---|---|"]
    for r in rows:
        b = "**" if r is best else ""
        lines.append(f"| {r['n_components']} | {r['smooth']:g} | {b}{r['image_auroc']:.3f}{b} | {b}{r['pixel_auroc']:.3f}{b} "
                     f"| {b}{r['mean']:.3f}{b} |")
    lines += ["", f"chosen (best mean of image and pixel AUROC): n_components {best['n_components']}, smooth {best['smooth']:g}", ""]
    md = "\n".join(lines)
    print(md)
    atomic_write(RESULTS / "industrial_select.md", md)
    atomic_write(RESULTS / "industrial_select.json", json.dumps(
        {"command": " ".join(sys.argv), "loadavg": os.getloadavg(), "rows": rows, "chosen": best}, indent=1))


if __name__ == "__main__":
    main()
