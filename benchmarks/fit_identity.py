"""Fitted results of several deep detectors, saved from one version and compared bit for bit in another.

A check for changes to the training path that must not change any result (speed work):

    PYTHONPATH=<old checkout> python benchmarks/fit_identity.py --save /tmp/ref.npz
    PYTHONPATH=<new checkout> python benchmarks/fit_identity.py --compare /tmp/ref.npz   # exit 1 on any difference

ae (with and without the validation split, with known anomalies, on windows, from a
memory-mapped ``.npy``), vae, deepsvdd and deepsad with labels, 3 epochs each, 1 thread (~10 s):
``score``, ``decision_scores_``, ``threshold_``, ``calibration_scores_`` and the explanation
statistics (``residual_scale_``, ``residual_q99_``, ``train_median_``, ``occlusion_scale_``).
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
mode = ap.add_mutually_exclusive_group(required=True)
mode.add_argument("--save", metavar="NPZ")
mode.add_argument("--compare", metavar="NPZ")
args = ap.parse_args()
torch.set_num_threads(1)
import anomalib_ae  # noqa: E402
rng = np.random.default_rng(1)
X = rng.normal(size=(6000, 16)).astype(np.float32)
W = rng.normal(size=(600, 12, 3)).astype(np.float32)
y = np.zeros(6000); y[:40] = 1
cases = {
  "ae_vf0": ("ae", dict(validation_fraction=0.0), X, None),
  "ae_def": ("ae", {}, X, None),
  "ae_y": ("ae", {}, X, y),
  "vae": ("vae", {}, X, None),
  "deepsvdd": ("deepsvdd", {}, X, None),
  "deepsad_y": ("deepsad", {}, X, y),
  "ae_win": ("ae", {}, W, None),
}
out = {}
for name, (det, kw, data, labels) in cases.items():
    d = anomalib_ae.create(det, epochs=3, random_state=0, verbose=False, accelerator="cpu", **kw).fit(data, labels)
    out[name + ".score"] = d.score(data)
    out[name + ".dec"] = d.decision_scores_
    out[name + ".thr"] = np.asarray(d.threshold_)
    out[name + ".cal"] = np.asarray(d.calibration_scores_)
    for a in ("residual_scale_", "residual_q99_", "train_median_", "occlusion_scale_"):
        v = getattr(d, a, None)
        if v is not None: out[f"{name}.{a}"] = np.asarray(v)
# out of core: a memmapped .npy
with tempfile.TemporaryDirectory() as td:
    p = os.path.join(td, "x.npy"); np.save(p, X)
    d = anomalib_ae.create("ae", epochs=3, random_state=0, verbose=False, accelerator="cpu").fit(p)
    out["ooc.score"] = d.score(X); out["ooc.dec"] = d.decision_scores_
if args.save:
    np.savez(args.save, **out)
    print(f"saved {len(out)} arrays to {args.save}")
else:
    r = np.load(args.compare)
    bad = [k for k in out if k in r.files and not np.array_equal(out[k], r[k], equal_nan=True)]
    missing = sorted(set(r.files) ^ set(out))
    print(f"compared {len(out)} arrays; differing: {bad}; only in one: {missing}")
    sys.exit(1 if bad or missing else 0)
