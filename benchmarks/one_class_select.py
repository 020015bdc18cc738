"""Choose one-class image settings on validation data from the TRAINING split only.

The Deep SVDD protocol of ``one_class_images.py`` trains on (a subsample of) one class of the
training split and scores the test split. To choose a detector / setting without looking at
the test split, this script builds, for each class ``c`` and seed, a validation set from the
training split alone:

* the ``--max-train`` training images of class ``c`` drawn exactly as the benchmark draws them
  (same seed, same generator) are the training set;
* ``--val-normal`` *other* training images of class ``c`` are the validation normals;
* ``--val-anomalies`` training images of each other class are the validation anomalies.

Every candidate (``CANDIDATES``: our detectors, settings and the PyOD peers) is fitted on the
training set with the benchmark's preprocessing and budget and scored on the validation set.
The candidate with the highest mean validation AUROC over classes and seeds is chosen;
the JSON records every AUROC and the choice. Scores are cached under ``--cache``.

    python benchmarks/one_class_select.py                                   # Fashion-MNIST, seed 0
    python benchmarks/one_class_select.py --datasets mnist --tag mnist

Writes ``benchmarks/results/one_class_select[_TAG].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from one_class_images import (  # noqa: E402  (benchmarks/ is not a package)
    CANDIDATES,
    DATA_DIR,
    EXTRA_PEERS,
    OURS,
    PEER_NAMES,
    RESULTS,
    ROOT,
    fit_and_score,
    load_dataset,
    make_preprocessor,
    train_indices,
)

CACHE = Path("/work/cache/fmnist/select")


def validation_split(y_train: np.ndarray, normal_class: int, seed: int, max_train: int, n_normal: int,
                     n_anom_per_class: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training rows, validation rows, validation labels 1 = anomaly), all from the training split."""
    fit_idx = train_indices(y_train, normal_class, seed, max_train)
    rng = np.random.default_rng(20_000 + seed)
    rest = np.setdiff1d(np.flatnonzero(y_train == normal_class), fit_idx)
    normals = np.sort(rng.choice(rest, min(n_normal, len(rest)), replace=False))
    anomalies = []
    for k in np.unique(y_train):
        if k == normal_class:
            continue
        pool = np.flatnonzero(y_train == k)
        anomalies.append(np.sort(rng.choice(pool, min(n_anom_per_class, len(pool)), replace=False)))
    val_idx = np.concatenate([normals, *anomalies])
    labels = np.r_[np.zeros(len(normals), int), np.ones(len(val_idx) - len(normals), int)]
    return fit_idx, val_idx, labels


def run_candidate(ds: str, cand: str, c: int, seed: int, args) -> dict:
    tag = cand
    if "config" in CANDIDATES[cand]:  # a shipped config: its scores change with the file, so its text keys the cache
        tag += "-" + hashlib.sha1((ROOT / CANDIDATES[cand]["config"]).read_bytes()).hexdigest()[:8]
    cache = args.cache / f"{ds}_{tag}_c{c}_s{seed}_n{args.max_train}_e{args.epochs}.npz"
    x_train, y_train, _, _ = load_dataset(ds, args.data_dir)
    fit_idx, val_idx, labels = validation_split(y_train, c, seed, args.max_train, args.val_normal, args.val_anomalies)
    if cache.is_file():
        z = np.load(cache)
        scores, fit_s = z["scores"], float(z["fit_s"])
    else:
        prep = make_preprocessor(args.preprocess).fit(x_train[fit_idx])
        t0 = time.perf_counter()
        scores = fit_and_score(cand, prep.transform(x_train[fit_idx]), prep.transform(x_train[val_idx]),
                               args.epochs, seed)
        fit_s = time.perf_counter() - t0
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, scores=scores, fit_s=fit_s)
        os.replace(tmp, cache)
    auroc = 100.0 * roc_auc_score(labels, scores) if np.all(np.isfinite(scores)) else float("nan")
    return {"dataset": ds, "candidate": cand, "class": c, "seed": seed, "auroc": auroc, "s": round(fit_s, 2)}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["fashion_mnist"], choices=["mnist", "fashion_mnist"])
    p.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--max-train", type=int, default=500)
    p.add_argument("--val-normal", type=int, default=500, help="held-out training images of the normal class")
    p.add_argument("--val-anomalies", type=int, default=500, help="training images of each other class")
    p.add_argument("--preprocess", choices=["gcn", "raw"], default="gcn")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    recs = []
    t0 = time.perf_counter()
    for ds in args.datasets:
        for seed in args.seeds:
            for c in args.classes:
                for cand in args.candidates:
                    r = run_candidate(ds, cand, c, seed, args)
                    recs.append(r)
                    print(f"{ds} s{seed} c{c} {cand:22s} val AUROC {r['auroc']:5.1f} ({r['s']:.1f}s)", flush=True)
    summary = {}
    lines = ["# One-class selection on validation data from the training split (AUROC %)", "",
             f"Command: `python benchmarks/one_class_select.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             f"Training: {args.max_train} images of the normal class (the benchmark's draw); validation: "
             f"{args.val_normal} other training images of that class + {args.val_anomalies} training images of each "
             f"other class. Epochs {args.epochs}; seeds {args.seeds}. The test split is not read.", ""]
    for ds in args.datasets:
        head = ["class", *args.candidates]
        lines += [f"## {ds}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in args.classes:
            row = [str(c)]
            for cand in args.candidates:
                v = [r["auroc"] for r in recs if (r["dataset"], r["candidate"], r["class"]) == (ds, cand, c)]
                row.append(f"{np.mean(v):.1f}")
            lines.append("| " + " | ".join(row) + " |")
        means = {cand: float(np.mean([r["auroc"] for r in recs if (r["dataset"], r["candidate"]) == (ds, cand)]))
                 for cand in args.candidates}
        lines.append("| **mean** | " + " | ".join(f"**{means[c]:.1f}**" for c in args.candidates) + " |")
        ours = {k: v for k, v in means.items() if k in OURS}
        peers = {k: v for k, v in means.items() if k in PEER_NAMES + EXTRA_PEERS}
        chosen = max(ours, key=ours.get) if ours else None
        best_peer = max(peers, key=peers.get) if peers else None
        summary[ds] = {"means": means, "chosen": chosen, "best_peer": best_peer}
        lines += ["", f"Chosen (best of ours on validation): **{chosen}** ({ours.get(chosen, float('nan')):.1f}); "
                  f"best peer on validation: {best_peer} ({peers.get(best_peer, float('nan')):.1f}). Ensembles with a PyOD "
                  "member (ens_*_iforest, ens_five) are shown but are not ours and cannot be chosen.", ""]
    out = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           "candidates": {k: CANDIDATES[k] for k in args.candidates},
           "summary": summary, "records": recs, "total_s": round(time.perf_counter() - t0, 1),
           "loadavg": os.getloadavg()}
    stem = "one_class_select" + (f"_{args.tag}" if args.tag else "")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(out, indent=1)), (".md", "\n".join(lines) + "\n")):
        tmp = args.out_dir / f".{stem}{suffix}.tmp"
        tmp.write_text(text)
        os.replace(tmp, args.out_dir / f"{stem}{suffix}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
