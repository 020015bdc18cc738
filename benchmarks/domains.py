"""Domain benchmarks on real data: medical and industrial images, machine sound, server telemetry.

Each domain runs our deep detectors (every one of ``ae, vae, cvad, mae, deepsvdd`` that is
registered, or ``--detectors``) and, in the same run and on the same features, PyOD's
``AutoEncoder`` and ``IForest``; it prints a table and writes
``benchmarks/results/domains_<domain>.{json,md}``.

    python benchmarks/domains.py medical     [--epochs 20] [--datasets pneumonia,breast,brain] [--preprocess raw]
    python benchmarks/domains.py industrial  [--epochs 8]
    python benchmarks/domains.py acoustic    [--epochs 30]
    python benchmarks/domains.py telemetry   [--epochs 3] [--machines all] [--asd all] [--window 10] [--train-stride 10]
    python benchmarks/domains.py all

Data: ``../shared/data`` (``--data`` to change). Protocols:

* medical: train on the normal training images only (PneumoniaMNIST label 0, BreastMNIST
  label 1, brain MRI "notumor"), image AUROC on the official test split; seven deep detectors
  by default (the five above, ``ae_ssim`` = ``ae`` with ``score_type="ssim"``, and ``sage``); pixels / 255 (``--preprocess raw``) or the
  Deep SVDD paper's L1 global contrast normalisation + min-max fitted on the training images
  (``--preprocess gcn``), the same features for our detectors and PyOD's;
* industrial: magnetic tiles 64x64, train on the 600 defect-free training tiles, image AUROC
  on the 744 test tiles and pixel AUROC of anomaly maps against the masks (PyOD models give
  no maps: n/a);
* acoustic: MIMII fan, each group (``mimii_fan_id00``, ``mimii_fan_b``) on its own; log-mel
  features (DCASE 2020 setting: 128 mels, n_fft 1024, hop 512, 5 frames); the first half of
  the *normal source recordings* train, the rest plus all anomalous recordings test (split by
  recording, never by clip); clip score = mean frame score; AUC and pAUC (max FPR 0.1,
  scikit-learn's McClish-standardised ``roc_auc_score(max_fpr=0.1)`` as in the DCASE baseline);
* telemetry: SMD (19 machines) and ASD (12 servers): windows per machine (``--window``; training
  windows every ``--train-stride`` rows, test windows at every row), train on ``train``, score ``test``; window scores mapped back to one score per
  timestamp (mean of the covering windows); AUROC, best F1 over thresholds without and with
  point adjustment (a detected point inside a labelled anomaly segment counts the whole
  segment as detected), per machine and the mean.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
DEEP = ("ae", "vae", "cvad", "mae", "deepsvdd")
#: named variants of a registered detector: (detector, parameters)
VARIANTS = {"ae_ssim": ("ae", {"score_type": "ssim"})}
#: medical default: the five, ``ae`` also scored by SSIM, and the latent-kNN ensemble ``sage``
DEEP_BY_DOMAIN = {"medical": ("ae", "ae_ssim", "vae", "cvad", "mae", "deepsvdd", "sage")}
BASELINES = ("pyod_AutoEncoder", "pyod_IForest")


# ----------------------------------------------------------------------------- metrics
def auroc(y, s) -> float:
    return float(roc_auc_score(y, s))


def pauc(y, s, max_fpr: float = 0.1) -> float:
    return float(roc_auc_score(y, s, max_fpr=max_fpr))


def best_f1(y, s) -> float:
    p, r, _ = precision_recall_curve(y, s)
    f = 2 * p * r / np.maximum(p + r, 1e-12)
    return float(f.max())


def point_adjusted(y, s) -> np.ndarray:
    """Scores where each labelled anomaly segment takes its maximum score.

    With threshold t, point adjustment marks a whole segment detected as soon as one of its
    points exceeds t, which is exactly thresholding these adjusted scores.
    """
    y = np.asarray(y).astype(bool)
    out = np.asarray(s, dtype=np.float64).copy()
    edges = np.flatnonzero(np.diff(np.r_[0, y.astype(int), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        out[a:b] = out[a:b].max()
    return out


# ----------------------------------------------------------------------------- models
def deep_names(requested: str | None, default: tuple[str, ...] = DEEP) -> list[str]:
    import anomalib_ae

    have = anomalib_ae.list_detectors() + list(VARIANTS)
    if requested:
        names = [n.strip() for n in requested.split(",") if n.strip()]
        unknown = [n for n in names if n not in have]
        if unknown:
            sys.exit(f"unknown detector(s) {unknown}; registered: {have}")
        return names
    return [n for n in default if n in have]


def make_deep(name: str, **params):
    import anomalib_ae

    cls = anomalib_ae.get_detector_class(name)
    valid = set(cls().get_params(deep=False))
    return cls(**{k: v for k, v in params.items() if k in valid})


def run_pyod(name: str, X_train: np.ndarray, X_tests: list[np.ndarray], epochs: int, batch_size: int, seed: int):
    """PyOD baseline on flattened features; returns (list of score arrays, fit seconds)."""
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.iforest import IForest

    Xf = X_train.reshape(len(X_train), -1).astype(np.float32)
    if name == "pyod_AutoEncoder":
        # PyOD drops the incomplete last batch: a batch larger than the training set would leave none
        m = AutoEncoder(epoch_num=epochs, batch_size=min(batch_size, len(Xf)), random_state=seed, verbose=0, device="cpu")
    else:
        m = IForest(random_state=seed, n_jobs=1)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(Xf)
    fit_s = time.perf_counter() - t0
    return [m.decision_function(x.reshape(len(x), -1).astype(np.float32)) for x in X_tests], fit_s


#: per-domain, per-detector parameters (token sizes keep the masked AE affordable on CPU)
EXTRA = {
    "medical": {"mae": {"patch_size": 4}, "vae": {"n_samples": 4}},
    # 64 px MRI: the "cifar" Deep SVDD net with (32, 64, 128) channels of 5x5 convolutions took
    # 540 s for 10 epochs on one core; (8, 16, 32) channels keep it near 3 minutes for 20 epochs
    "brain": {"mae": {"patch_size": 8}, "vae": {"n_samples": 4}, "deepsvdd": {"hidden_dims": (8, 16, 32)}},
    "industrial": {"mae": {"patch_size": 8}},
    "acoustic": {"mae": {"input_kind": "window"}},  # mae sees (5, 128): one token per log-mel frame
    "telemetry": {},
}


def run_all(deep: list[str], deep_params: dict, X_train, X_tests, epochs, batch_size, seed, maps: bool = False,
            extra: dict | None = None, views: dict | None = None):
    """-> {model: {"scores": [...], "fit_s": s, "maps": [...] or None}} for deep detectors and baselines."""
    from anomalib_ae.explain import pixel_error_maps

    out = {}
    for name in deep:
        base, variant = VARIANTS.get(name, (name, {}))
        det = make_deep(base, **variant, epochs=epochs, batch_size=batch_size, random_state=seed, verbose=False,
                        accelerator="cpu", **{**deep_params, **(extra or {}).get(name, {})})
        view = (views or {}).get(name, lambda a: a)
        t0 = time.perf_counter()
        det.fit(view(X_train))
        fit_s = time.perf_counter() - t0
        res = {"scores": [det.score(view(x)) for x in X_tests], "fit_s": fit_s, "maps": None}
        if maps:
            try:
                res["maps"] = [pixel_error_maps(det, x) for x in X_tests]
            except ValueError:
                res["maps"] = None
        out[name] = res
        print(f"    {name}: fit {fit_s:.1f}s", flush=True)
    for name in BASELINES:
        scores, fit_s = run_pyod(name, X_train, X_tests, epochs, batch_size, seed)
        out[name] = {"scores": scores, "fit_s": fit_s, "maps": None}
        print(f"    {name}: fit {fit_s:.1f}s", flush=True)
    return out


# ----------------------------------------------------------------------------- domains
def global_contrast_normalize(x: np.ndarray) -> np.ndarray:
    """L1 GCN of the one-class benchmark (Ruff et al. 2018), in float64, images keep their shape."""
    from one_class_images import global_contrast_normalize as gcn

    return gcn(x, dtype=np.float64).reshape(x.shape)


def medical_features(Xtr: np.ndarray, Xte: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images -> float32 features; "gcn": L1 GCN then min-max with the training images' range."""
    if how == "raw":
        return Xtr.astype(np.float32) / 255.0, Xte.astype(np.float32) / 255.0
    gtr, gte = global_contrast_normalize(Xtr), global_contrast_normalize(Xte)
    lo, hi = gtr.min(), gtr.max()
    return ((gtr - lo) / max(hi - lo, 1e-12)).astype(np.float32), ((gte - lo) / max(hi - lo, 1e-12)).astype(np.float32)


def bench_medical(args) -> dict:
    d = Path(args.data) / "medical"
    sets = {
        "pneumonia": ("pneumoniamnist.npz", lambda y: y == 0),
        "breast": ("breastmnist.npz", lambda y: y == 1),
        "brain": ("brain_tumor_mri_64.npz", lambda y: y == 0),
    }
    rows = []
    for key in args.datasets.split(","):
        fname, is_normal = sets[key]
        z = np.load(d / fname)
        ytr, yte = z["train_labels"].ravel(), z["test_labels"].ravel()
        Xtr, Xte = z["train_images"][is_normal(ytr)], z["test_images"]
        yan = (~is_normal(yte)).astype(int)
        if args.max_train:
            Xtr = Xtr[np.random.default_rng(args.seed).permutation(len(Xtr))[: args.max_train]]
        Xtr, Xte = medical_features(Xtr, Xte, args.preprocess)
        print(f"  {key}: train {Xtr.shape} normal, test {Xte.shape} ({yan.sum()} anomalous)", flush=True)
        res = run_all(deep_names(args.detectors, DEEP_BY_DOMAIN["medical"]), {"input_kind": "image"}, Xtr, [Xte], args.epochs, args.batch_size, args.seed,
                      extra=EXTRA["brain" if key == "brain" else "medical"])
        for model, r in res.items():
            rows.append({"dataset": key, "model": model, "image_auroc": auroc(yan, r["scores"][0]),
                         "fit_s": round(r["fit_s"], 1), "n_train": len(Xtr), "n_test": len(Xte)})
    note = ("features: pixels / 255" if args.preprocess == "raw" else
            "features: L1 global contrast normalisation + min-max of the training images") + \
        "; the same features for our detectors and PyOD's"
    return {"rows": rows, "metrics": ["image_auroc"], "group": "dataset", "note": note, "preprocess": args.preprocess}


def bench_industrial(args) -> dict:
    z = np.load(Path(args.data) / "industrial" / "magnetic_tile_64.npz")
    Xtr = z["x_train"].astype(np.float32) / 255.0
    Xte = z["x_test"].astype(np.float32) / 255.0
    y, masks = z["y_test"].astype(int), z["mask_test"].astype(int)
    if args.max_train:
        Xtr = Xtr[: args.max_train]
    print(f"  magnetic tile: train {Xtr.shape}, test {Xte.shape} ({y.sum()} defective)", flush=True)
    res = run_all(deep_names(args.detectors), {"input_kind": "image"}, Xtr, [Xte], args.epochs, args.batch_size,
                  args.seed, maps=True, extra=EXTRA["industrial"])
    rows = []
    for model, r in res.items():
        px = float("nan")
        if r["maps"] is not None:
            px = auroc(masks.ravel(), r["maps"][0].ravel())
        rows.append({"dataset": "magnetic_tile", "model": model, "image_auroc": auroc(y, r["scores"][0]),
                     "pixel_auroc": px, "fit_s": round(r["fit_s"], 1), "n_train": len(Xtr), "n_test": len(Xte)})
    return {"rows": rows, "metrics": ["image_auroc", "pixel_auroc"], "group": "dataset"}


def bench_acoustic(args) -> dict:
    from anomalib_ae.data import AudioFeaturizer, aggregate_clip_scores

    root = Path(args.data) / "acoustic"
    with open(root / "labels.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    feat = AudioFeaturizer()
    rows = []
    for group in sorted({r["group"] for r in table}):
        g = [r for r in table if r["group"] == group]
        normal_src = sorted({r["source_path"] for r in g if r["label"] == "0"})
        train_src = set(normal_src[: len(normal_src) // 2])
        tr = [r for r in g if r["source_path"] in train_src]
        te = [r for r in g if r["source_path"] not in train_src]
        btr = feat.transform_files([root / r["file"] for r in tr])
        bte = feat.transform_files([root / r["file"] for r in te])
        y = np.array([int(r["label"]) for r in te])
        print(f"  {group}: train {len(tr)} clips ({len(train_src)} recordings, {len(btr.frames)} frames), "
              f"test {len(te)} clips ({y.sum()} anomalous)", flush=True)
        res = run_all(deep_names(args.detectors), {"input_kind": "vector", "hidden_dims": [128, 128, 128, 128],
                                                   "latent_dim": 8},
                      btr.frames, [bte.frames], args.epochs, args.batch_size, args.seed, extra=EXTRA["acoustic"],
                      views={"mae": lambda a: a.reshape(len(a), feat.n_context, feat.n_mels)})
        for model, r in res.items():
            clip = aggregate_clip_scores(r["scores"][0], bte.clip_index, bte.n_clips, "mean")
            rows.append({"dataset": group, "model": model, "auc": auroc(y, clip), "pauc": pauc(y, clip),
                         "fit_s": round(r["fit_s"], 1), "n_train_clips": len(tr), "n_test_clips": len(te)})
    return {"rows": rows, "metrics": ["auc", "pauc"], "group": "dataset",
            "note": "Reference: DCASE 2020 Task 2 baseline (dense AE on the same log-mel features), fan, "
                    "average AUC 0.6516 over its development machine ids; different clips, machines and "
                    "split, so not directly comparable."}


def _telemetry_sets(args):
    base = Path(args.data) / "telemetry"
    sets = []
    smd = sorted((base / "smd").glob("machine-*.npz"))
    asd = sorted((base / "asd").glob("omi-*.npz"))
    if args.machines != "none":
        sets += [("smd", p) for p in smd if args.machines == "all" or p.stem in args.machines.split(",")]
    if args.asd != "none":
        sets += [("asd", p) for p in asd if args.asd == "all" or p.stem in args.asd.split(",")]
    return sets


def bench_telemetry(args) -> dict:
    import pandas as pd

    from anomalib_ae.data import TelemetryWindower, windows_to_timestamps

    rows = []
    for family, path in _telemetry_sets(args):
        z = np.load(path)
        tr, te, y = z["train"], z["test"], z["test_label"].astype(int)
        cols = [f"m{j + 1:02d}" for j in range(tr.shape[1])]
        dtr = pd.DataFrame(tr, columns=cols)
        dtr.insert(0, "t", np.arange(len(tr)))
        dte = pd.DataFrame(te, columns=cols)
        dte.insert(0, "t", np.arange(len(te)))
        win = TelemetryWindower(window=args.window, stride=args.train_stride, timestamp_col="t", max_gap=float("inf"))
        btr = win.fit_transform(dtr)
        win.stride = 1
        bte = win.transform(dte)
        print(f"  {family}/{path.stem}: train windows {btr.X.shape}, test rows {len(te)} ({y.mean():.1%} anomalous)",
              flush=True)
        res = run_all(deep_names(args.detectors), {"input_kind": "window"}, btr.X, [bte.X], args.epochs,
                      args.batch_size, args.seed, extra=EXTRA["telemetry"])
        for model, r in res.items():
            s = windows_to_timestamps(r["scores"][0], bte)
            rows.append({"dataset": f"{family}/{path.stem}", "family": family, "model": model,
                         "auroc": auroc(y, s), "best_f1": best_f1(y, s), "best_f1_pa": best_f1(y, point_adjusted(y, s)),
                         "fit_s": round(r["fit_s"], 1)})
    return {"rows": rows, "metrics": ["auroc", "best_f1", "best_f1_pa"], "group": "dataset", "means_by": "family"}


# ----------------------------------------------------------------------------- output
def summarise(domain: str, result: dict, args, seconds: float) -> str:
    rows, metrics = result["rows"], result["metrics"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = [f"## {domain}", "", f"command: `{' '.join(sys.argv)}`  ", f"run time: {seconds:.0f} s", ""]
    if result.get("note"):
        lines += [result["note"], ""]
    for m in metrics:
        lines += [f"### {m}", "", "| dataset | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
        table = {(r["dataset"], r["model"]): r[m] for r in rows}
        for ds in datasets:
            vals = [table.get((ds, mo), float("nan")) for mo in models]
            best = np.nanmax(vals) if np.isfinite(vals).any() else np.nan
            cells = [("**%.4f**" if v == best else "%.4f") % v if np.isfinite(v) else "n/a" for v in vals]
            lines.append(f"| {ds} | " + " | ".join(cells) + " |")
        fams = {}
        if result.get("means_by"):
            for r in rows:
                fams.setdefault(r[result["means_by"]], set()).add(r["dataset"])
        else:
            fams = {"all": set(datasets)} if len(datasets) > 1 else {}
        for fam, dss in fams.items():
            vals = [float(np.mean([table[(ds, mo)] for ds in dss])) for mo in models]
            best = max(vals)
            cells = [("**%.4f**" if v == best else "%.4f") % v for v in vals]
            lines.append(f"| mean {fam} ({len(dss)}) | " + " | ".join(cells) + " |")
        lines.append("")
    # verdict: best of ours vs both baselines on the first metric, per dataset
    m0 = metrics[0]
    ours = [mo for mo in models if mo not in BASELINES]
    wins = 0
    for ds in datasets:
        t = {r["model"]: r[m0] for r in rows if r["dataset"] == ds}
        if ours and max(t[o] for o in ours) > max(t[b] for b in BASELINES):
            wins += 1
    lines.append(f"best of ours beats both PyOD baselines on {m0}: {wins} of {len(datasets)} datasets")
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("domain", choices=["medical", "industrial", "acoustic", "telemetry", "all"])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--detectors", default=None, help="comma-separated deep detectors (default: all registered of %s)" % (DEEP,))
    ap.add_argument("--epochs", type=int, default=None, help="epochs of every deep model and PyOD's AutoEncoder")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", default="pneumonia,breast,brain", help="medical only")
    ap.add_argument("--max-train", type=int, default=0, help="cap on training images (0 = all)")
    ap.add_argument("--preprocess", choices=["raw", "gcn"], default="raw",
                    help="medical only: raw = pixels / 255; gcn = L1 global contrast normalisation + training min-max")
    ap.add_argument("--machines", default="all", help="SMD machines: all, none or comma-separated names")
    ap.add_argument("--asd", default="all", help="ASD servers: all, none or comma-separated names")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--train-stride", type=int, default=10,
                    help="telemetry: stride of training windows (test windows start at every row)")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    domains = ["medical", "industrial", "acoustic", "telemetry"] if args.domain == "all" else [args.domain]
    # defaults sized to finish in <= 30 min on 2 cores (measured run times in docs/domains.md)
    default_epochs = {"medical": 20, "industrial": 8, "acoustic": 30, "telemetry": 3}
    RESULTS.mkdir(parents=True, exist_ok=True)
    for domain in domains:
        a = argparse.Namespace(**vars(args))
        a.epochs = args.epochs or default_epochs[domain]
        names = deep_names(args.detectors, DEEP_BY_DOMAIN.get(domain, DEEP))
        print(f"[{domain}] epochs={a.epochs} detectors={names} + {list(BASELINES)}", flush=True)
        t0 = time.perf_counter()
        result = globals()[f"bench_{domain}"](a)
        seconds = time.perf_counter() - t0
        md = summarise(domain, result, a, seconds)
        print(md, flush=True)
        stem = f"domains_{domain}{('_' + args.tag) if args.tag else ''}"
        meta = {"domain": domain, "command": " ".join(sys.argv), "seconds": round(seconds, 1),
                "epochs": a.epochs, "batch_size": a.batch_size, "seed": a.seed, "python": platform.python_version(),
                "machine": platform.machine(), "threads": torch.get_num_threads(), **result}
        (RESULTS / f"{stem}.json").write_text(json.dumps(meta, indent=1, default=float))
        (RESULTS / f"{stem}.md").write_text(md)


if __name__ == "__main__":
    main()
