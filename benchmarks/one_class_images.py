"""One-class MNIST / Fashion-MNIST: the Deep SVDD protocol (Ruff et al., ICML 2018).

For each dataset and each class ``c``: train on the images of class ``c`` in the training split
(optionally a random subsample of ``--max-train`` of them), score the whole test split, and
report the AUROC with the other nine classes as anomalies. Repeated over ``--seeds``; the table
gives mean +- std over seeds per class and the mean over classes, next to the paper's one-class
Deep SVDD numbers on MNIST.

Preprocessing follows the paper and is fitted on training data only: global contrast
normalisation (L1) per image, then min-max scaling to [0, 1] with the minimum and maximum of
the normal class's (subsampled) training images. Our detectors standardise on top of that
(per channel, training statistics). PyOD's ``AutoEncoder``, ``VAE`` and ``DeepSVDD`` get the
same preprocessed images flattened to 784 features.

    python benchmarks/one_class_images.py                      # defaults: 2 datasets x 10 classes x 3 seeds
    python benchmarks/one_class_images.py --quick              # smoke run, a minute or two
    python benchmarks/one_class_images.py --datasets mnist --detectors deepsvdd --max-train 0 --epochs 150 \
        --set deepsvdd.pretrain_epochs=250 --set deepsvdd.lr=1e-4 --set deepsvdd.batch_size=200 \
        --set deepsvdd.weight_decay=5e-7 --set deepsvdd.patience=10 --jobs 10   # the paper's schedule (GPU)

Defaults: all 10 classes of both datasets, seeds 0 1 2, our six detectors and PyOD's three,
8 epochs (and 8 pre-training epochs for Deep SVDD), 500 training images per class, the whole
10,000-image test split, the VAE scored with 4 latent samples, ``sage`` with k=1. One dataset
and one seed of that took 6.0 min on 2 pinned CPU cores (``taskset -c 0,1``, 2 torch threads),
so the defaults take about 36 min on 2 cores. ``--jobs N`` runs N worker processes (on a GPU
machine they share the GPU); every finished run is appended to ``<stem>.jsonl`` at once.

Writes ``benchmarks/results/one_class_images[_TAG].json``, ``.md`` and ``.jsonl`` (``--out-dir``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from _parallel import run_tasks  # benchmarks/_parallel.py

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "images"
RESULTS = ROOT / "benchmarks" / "results"

#: Table 1 of Ruff et al. (2018), one-class Deep SVDD, MNIST classes 0-9 (AUROC %).
PAPER_DEEPSVDD_MNIST = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5]
PAPER_DEEPSVDD_MNIST_MEAN = 94.8

OURS = ("ae", "vae", "cvad", "mae", "deepsvdd", "deepsad", "sage")
PYOD = ("pyod_ae", "pyod_vae", "pyod_deepsvdd")
DEFAULT_DETECTORS = ("ae", "vae", "cvad", "mae", "deepsvdd", "sage", "pyod_ae", "pyod_vae", "pyod_deepsvdd")
#: Benchmark settings under ``--set``: 4 latent samples keep the VAE's ELBO scoring of 10,000 images cheap;
#: SAGE with the nearest latent neighbour (k=1) rather than 5 (chosen on MNIST classes 2, 3, 5, 8, seed 0,
#: 2000 images, 10 epochs: +0.2 to +0.7 AUROC on each; k=1 is also the better kNN on raw MNIST pixels).
DEFAULT_OVERRIDES = {"vae": {"n_samples": 4}, "sage": {"n_neighbors": 1}}


# ---------------------------------------------------------------------- preprocessing
def global_contrast_normalize(x: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Per image: subtract its mean, divide by its mean absolute deviation (L1 GCN); rows ``(n, pixels)``."""
    x = x.astype(dtype).reshape(len(x), -1)
    x = x - x.mean(axis=1, keepdims=True)
    scale = np.abs(x).mean(axis=1, keepdims=True)
    return x / np.where(scale > 0, scale, 1.0)


class MinMaxGCN:
    """GCN then min-max to [0, 1] with the min and max of the training images (fitted once)."""

    def fit(self, x_train: np.ndarray) -> MinMaxGCN:
        g = global_contrast_normalize(x_train)
        self.lo_, self.hi_ = float(g.min()), float(g.max())
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        g = global_contrast_normalize(x)
        out = (g - self.lo_) / max(self.hi_ - self.lo_, 1e-12)
        return out.reshape(x.shape).astype(np.float32)


class MinMaxRaw:
    """Pixels / 255 (nothing fitted)."""

    def fit(self, x_train: np.ndarray) -> MinMaxRaw:
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0).astype(np.float32)


# ---------------------------------------------------------------------- detectors
def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """``["deepsvdd.lr=1e-4", ...]`` -> ``{"deepsvdd": {"lr": 1e-4}}``."""
    out: dict[str, dict] = {k: dict(v) for k, v in DEFAULT_OVERRIDES.items()}
    for item in items:
        key, _, value = item.partition("=")
        det, _, param = key.partition(".")
        if not param or not _:
            raise SystemExit(f"--set expects DETECTOR.PARAM=VALUE, got {item!r}")
        out.setdefault(det, {})[param] = _parse_value(value)
    return out


def _torch_device(accelerator: str) -> str:
    """PyOD's ``device`` for our ``accelerator`` (PyOD's DeepSVDD picks the GPU itself when there is one)."""
    import torch

    if accelerator == "cpu":
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_detector(name: str, epochs: int, seed: int, overrides: dict, n_train: int = 128, accelerator: str = "auto"):
    """A fresh detector; ours get images ``(n, 28, 28)``, PyOD's get flattened rows.

    PyOD's deep models drop the last incomplete batch, so their batch is at most ``n_train``.
    """
    extra = overrides.get(name, {})
    batch = min(128, n_train)
    if name in OURS:
        import anomalib_ae

        params = dict(epochs=epochs, batch_size=128, random_state=seed, verbose=False, accelerator=accelerator)
        if name in ("deepsvdd", "deepsad"):
            params["pretrain_epochs"] = epochs
        return anomalib_ae.create(name, **{**params, **extra})
    if name == "pyod_ae":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(epoch_num=epochs, batch_size=batch, random_state=seed, verbose=0, device=_torch_device(accelerator),
                           **extra)
    if name == "pyod_vae":
        from pyod.models.vae import VAE

        return VAE(epoch_num=epochs, batch_size=batch, random_state=seed, verbose=0, device=_torch_device(accelerator), **extra)
    if name == "pyod_deepsvdd":
        from pyod.models.deep_svdd import DeepSVDD

        return DeepSVDD(n_features=28 * 28, epochs=epochs, batch_size=batch, random_state=seed, verbose=0, **extra)
    raise SystemExit(f"unknown detector {name!r}; choose from {', '.join(OURS + PYOD)}")


def anomaly_scores(det, name: str, x: np.ndarray) -> np.ndarray:
    if name in OURS:
        return det.score(x)
    return np.asarray(det.decision_function(x.reshape(len(x), -1)), dtype=np.float64)


def fit_detector(det, name: str, x: np.ndarray):
    if name in OURS:
        return det.fit(x)
    return det.fit(x.reshape(len(x), -1))


# ---------------------------------------------------------------------- runs
def run_one(data, name: str, normal_class: int, seed: int, args, overrides) -> dict:
    x_train, y_train, x_test, y_test = data
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(y_train == normal_class)
    if args.max_train and len(idx) > args.max_train:
        idx = np.sort(rng.choice(idx, args.max_train, replace=False))
    test_idx = np.arange(len(y_test))
    if args.max_test and len(test_idx) > args.max_test:
        test_idx = np.sort(np.random.default_rng(10_000 + seed).choice(test_idx, args.max_test, replace=False))
    prep = (MinMaxGCN() if args.preprocess == "gcn" else MinMaxRaw()).fit(x_train[idx])
    xf, xt = prep.transform(x_train[idx]), prep.transform(x_test[test_idx])
    y_anom = (y_test[test_idx] != normal_class).astype(int)
    det = make_detector(name, args.epochs, seed, overrides, len(idx), args.accelerator)
    t0 = time.perf_counter()
    fit_detector(det, name, xf)
    t1 = time.perf_counter()
    scores = anomaly_scores(det, name, xt)
    t2 = time.perf_counter()
    if not np.all(np.isfinite(scores)):
        auroc = float("nan")
    else:
        auroc = 100.0 * roc_auc_score(y_anom, scores)
    return {
        "detector": name,
        "class": int(normal_class),
        "seed": int(seed),
        "auroc": auroc,
        "n_train": int(len(idx)),
        "n_test": int(len(test_idx)),
        "fit_s": round(t1 - t0, 2),
        "score_s": round(t2 - t1, 2),
    }


_DATA_CACHE: dict = {}


def load_dataset(name: str, data_dir: Path = DATA_DIR):
    if name in _DATA_CACHE:
        return _DATA_CACHE[name]
    path = Path(data_dir) / f"{name}.npz"
    if not path.is_file():
        raise SystemExit(f"{path} not found (the image data lives in ../shared/data/images)")
    d = np.load(path)
    _DATA_CACHE[name] = (d["x_train"], d["y_train"], d["x_test"], d["y_test"])
    return _DATA_CACHE[name]


def _task(job: tuple) -> dict:
    """One (dataset, class, seed, detector) run; top-level so that worker processes can run it."""
    ds, c, seed, name, args, overrides = job
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return {"dataset": ds, **run_one(load_dataset(ds, args.data_dir), name, c, seed, args, overrides)}


def _report(rec: dict, log: Path) -> None:
    with log.open("a") as fh:  # one JSON line per finished run: a cut-short run keeps what it did
        fh.write(json.dumps(rec) + "\n")
    print(
        f"{rec['dataset']:13s} class {rec['class']} seed {rec['seed']} {rec['detector']:14s} AUROC {rec['auroc']:5.1f}  "
        f"fit {rec['fit_s']:6.1f}s score {rec['score_s']:5.1f}s",
        flush=True,
    )


# ---------------------------------------------------------------------- reporting
def _cell(values: list[float]) -> str:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return ""
    if v.size == 1:
        return f"{v[0]:.1f}"
    return f"{np.nanmean(v):.1f} ± {np.nanstd(v):.1f}"


def markdown(records: list[dict], config: dict) -> str:
    lines = [
        "# One-class MNIST / Fashion-MNIST (Deep SVDD protocol), AUROC %",
        "",
        f"Command: `{config['command']}`",
        "",
        f"Run time: {config['total_s'] / 60:.1f} min on {config['machine']}. Epochs: {config['epochs']}; "
        f"training images per class: {config['max_train'] or 'all'}; test images: {config['max_test'] or 'all'}; "
        f"seeds: {config['seeds']}.",
        "Cells: mean ± std over seeds (one number with one seed). The mean row averages the per-class means; "
        "its ± is the std over seeds of the per-seed class averages.",
        "",
    ]
    for ds in config["datasets"]:
        dets = [d for d in config["detectors"] if any(r["dataset"] == ds and r["detector"] == d for r in records)]
        paper = ds == "mnist"
        head = ["class"] + (["paper Deep SVDD"] if paper else []) + dets
        lines += [f"## {ds}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in config["classes"]:
            row = [str(c)] + ([f"{PAPER_DEEPSVDD_MNIST[c]:.1f}"] if paper else [])
            for d in dets:
                key = (ds, d, c)
                row.append(_cell([r["auroc"] for r in records if (r["dataset"], r["detector"], r["class"]) == key]))
            lines.append("| " + " | ".join(row) + " |")
        paper_mean = np.mean([PAPER_DEEPSVDD_MNIST[c] for c in config["classes"]])
        row = ["**mean**"] + ([f"**{paper_mean:.1f}**"] if paper else [])
        for d in dets:
            per_seed = []
            for s in config["seeds"]:
                v = [r["auroc"] for r in records if (r["dataset"], r["detector"], r["seed"]) == (ds, d, s)]
                if v:
                    per_seed.append(float(np.nanmean(v)))
            row.append("**" + _cell(per_seed) + "**")
        lines.append("| " + " | ".join(row) + " |")
        fit = ["fit s / run", *([""] if paper else [])]
        for d in dets:
            t = [r["fit_s"] + r["score_s"] for r in records if (r["dataset"], r["detector"]) == (ds, d)]
            fit.append(f"{np.mean(t):.1f}")
        lines += ["| " + " | ".join(fit) + " |", ""]
    if "mnist" in config["datasets"]:
        lines.append(
            "Paper: Ruff et al., Deep One-Class Classification, ICML 2018, Table 1, one-class Deep SVDD "
            "(full training class, 150 epochs + 250 pre-training epochs, 10 seeds)."
        )
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"], choices=["mnist", "fashion_mnist"])
    p.add_argument("--classes", nargs="+", type=int, default=list(range(10)))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=8, help="training epochs (and Deep SVDD pre-training epochs)")
    p.add_argument("--detectors", nargs="+", default=list(DEFAULT_DETECTORS), choices=list(OURS + PYOD))
    p.add_argument("--max-train", type=int, default=500, help="subsample the normal class (0 = all)")
    p.add_argument("--max-test", type=int, default=0, help="subsample the test split (0 = all 10,000)")
    p.add_argument("--preprocess", choices=["gcn", "raw"], default="gcn",
                   help="gcn: L1 global contrast normalisation + training min-max (the paper); raw: pixels / 255")
    p.add_argument("--set", action="append", default=[], metavar="DET.PARAM=VALUE", help="detector parameter")
    p.add_argument("--quick", action="store_true", help="smoke run: mnist, classes 0 1, 1 seed, 2 epochs")
    p.add_argument("--tag", default="", help="suffix of the output files")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of mnist.npz / fashion_mnist.npz")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="where the .md, .json and .jsonl go")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel worker processes (1 = in this process)")
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "gpu"],
                   help="our detectors' Lightning accelerator (auto: the GPU when there is one); PyOD's follow it")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.classes, args.seeds, args.epochs = ["mnist"], [0, 1], [0], 2
        args.max_train, args.max_test = 300, 2000
        args.tag = args.tag or "quick"
    return args


def machine_description(args) -> str:
    """What ran it: CPU cores this process may use, and the GPU when our detectors used one."""
    import os

    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{platform.machine()} CPU, {cores} cores, {args.jobs} job(s) x {args.threads or 'default'} thread(s)"
    if args.accelerator != "cpu" and torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = "one_class_images" + (f"_{args.tag}" if args.tag else "")
    records: list[dict] = []
    t_start = time.perf_counter()
    log = args.out_dir / f"{stem}.jsonl"
    log.write_text("")
    # seed-major order: a run cut short still has whole seeds
    jobs = [(ds, c, seed, name, args, overrides)
            for ds in args.datasets for seed in args.seeds for c in args.classes for name in args.detectors]
    def done(rec: dict) -> None:
        records.append(rec)
        _report(rec, log)

    run_tasks(_task, jobs, args.jobs, done)
    order = {(j[0], j[1], j[2], j[3]): i for i, j in enumerate(jobs)}
    records.sort(key=lambda r: order[(r["dataset"], r["class"], r["seed"], r["detector"])])
    config = {
        "command": "python benchmarks/one_class_images.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "datasets": args.datasets,
        "classes": args.classes,
        "seeds": args.seeds,
        "epochs": args.epochs,
        "detectors": args.detectors,
        "max_train": args.max_train,
        "max_test": args.max_test,
        "overrides": overrides,
        "preprocessing": args.preprocess,
        "total_s": round(time.perf_counter() - t_start, 1),
        "machine": machine_description(args),
        "paper_deepsvdd_mnist": PAPER_DEEPSVDD_MNIST,
    }
    md = markdown(records, config)
    (args.out_dir / f"{stem}.json").write_text(json.dumps({"config": config, "records": records}, indent=1))
    (args.out_dir / f"{stem}.md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
