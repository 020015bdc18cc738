"""Cost curve of the neighbour search: fit and score time and peak RSS against 10k, 100k and 1M rows.

Two things are measured on a generated 64-column set (``neighbors_backends.generated``: 20
clusters on 8-dimensional subspaces plus noise), exact (scikit-learn) against approximate
(faiss IVF, :mod:`anomalib_ae.neighbors`) search:

* ``knn``: one ``pyod.knn`` (1-NN, Euclidean) with its leave-one-out training scores;
* ``ensemble``: the default tabular ensemble ``ensemble:knn-lof-cos-gmm`` (benchmarks/tabular.py:
  kNN under L2, L1 and cosine, a 7-NN mean under L1, LOF(10), GMM(8)).

Each (what, rows, search) runs in a fresh process (peak RSS = that process's ``ru_maxrss``),
scored on 10,000 test rows (9,000 normal + 1,000 off-manifold anomalies; AUROC reported).
Exact search above ``--exact-max`` rows is not run (quadratic cost). Results are written after
every run (``--merge`` keeps earlier rows of other settings), atomically, to
``benchmarks/results/scale_neighbors.{json,md}``.

    python benchmarks/scale_neighbors.py --sizes 10000 100000 --threads 1
    python benchmarks/scale_neighbors.py --sizes 1000000 --what ensemble --search approximate --threads 2 --merge
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "scale_neighbors"


def data(n: int, seed: int = 0):
    from neighbors_backends import generated

    X = generated(n + 9_000, seed=seed)
    rng = np.random.default_rng(seed + 1)
    anomalies = generated(1_000, seed=seed + 2) + rng.normal(scale=1.5, size=(1_000, X.shape[1])).astype(np.float32)
    X_test = np.concatenate([X[n:], anomalies])
    y_test = np.r_[np.zeros(9_000, int), np.ones(1_000, int)]
    return X[:n], X_test, y_test


def one(spec: dict) -> dict:
    """One measurement, in this process."""
    from sklearn.metrics import roc_auc_score

    import anomalib_ae
    from tabular import ENSEMBLES, resolve  # benchmarks/tabular.py

    X, X_test, y_test = data(spec["n"])
    forced = {"neighbors": spec["search"], "approx_threshold": 0}
    if spec["what"] == "knn":
        det = anomalib_ae.create("pyod.knn", params={"n_neighbors": 1}, random_state=0, **forced)
    else:
        members = []
        for m in ENSEMBLES["ensemble:knn-lof-cos-gmm"]["detectors"]:
            name, params = resolve(m)
            if "neighbors" in anomalib_ae.create(name).get_params():
                params = {**params, **forced}
            members.append((name, params))
        det = anomalib_ae.Ensemble(members, combine="mean", random_state=0)
    if spec.get("threads"):
        try:
            import faiss

            faiss.omp_set_num_threads(int(spec["threads"]))
        except ImportError:
            pass
    rss_before = peak_rss_mb()  # after the data generator
    c0, t0 = _cpu(), time.perf_counter()
    det.fit(X)
    c1, t1 = _cpu(), time.perf_counter()
    scores = det.score(X_test)
    c2, t2 = _cpu(), time.perf_counter()
    from anomalib_ae.neighbors import ApproximateSearch

    index = ApproximateSearch().index if spec["search"] == "approximate" else "-"
    return {**spec, "index": index, "fit_s": t1 - t0, "score_s": t2 - t1, "fit_cpu_s": c1 - c0, "score_cpu_s": c2 - c1,
            "auroc": float(roc_auc_score(y_test, scores)), "rss_before_fit_mb": rss_before,
            "peak_rss_mb": peak_rss_mb(),
            "loadavg": list(os.getloadavg())}


def measure(spec: dict, timeout: float = 3600) -> dict:
    """:func:`one` in a fresh process with ``spec["threads"]`` OMP / BLAS threads (its own peak RSS);
    a row with ``error`` when it fails or runs past ``timeout`` seconds. Also used by ``benchmarks/scale.py``."""
    threads = str(spec.get("threads") or 1)
    env = {**os.environ, **{v: threads for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    try:
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(spec)], env=env,
                             text=True, capture_output=True, timeout=timeout, cwd=Path(__file__).parent)
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
        return json.loads(line[-1][7:]) if line else {**spec, "error": out.stderr.strip()[-300:]}
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"not finished in {timeout:.0f} s"}


def peak_rss_mb() -> float:
    """Peak RSS of this process in MB: ``VmHWM`` of /proc/self/status. (``ru_maxrss`` of a process
    started by ``subprocess`` also counts its launcher's peak: Linux carries the parent's high-water
    mark over the vfork + exec.) ``ru_maxrss`` where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process (user + system, all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def write(rows: list[dict], meta: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    md = [f"Machine: {meta['platform']}, {meta['cpu_count']} cores **shared with other jobs** (times are "
          "upper bounds of a quiet machine). Generated 64-column data; test = 9,000 normal + 1,000 anomalous rows.",
          "Rows without CPU seconds are from the previous version (HNSW index, no shared indexes).",
          "", "| what | rows | search | index | threads | fit s | score s | fit + score s | CPU s (fit + score) | peak RSS MB | AUROC | load avg |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["what"], r["n"], r["search"])):
        if "error" in r:
            md.append(f"| {r['what']} | {r['n']:,} | {r['search']} | {_index(r)} | {r['threads']} | - | - | - | - | - | "
                      f"{r['error']} | - |")
            continue
        md.append(f"| {r['what']} | {r['n']:,} | {r['search']} | {_index(r)} | {r['threads']} | {r['fit_s']:.1f} | {r['score_s']:.1f} | "
                  f"{r['fit_s'] + r['score_s']:.1f} | {_cpu_cell(r)} | {r['peak_rss_mb']:.0f} | {r['auroc']:.4f} | "
                  f"{_load_cell(r)} |")
    for path, text in ((OUT.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=1)),
                       (OUT.with_suffix(".md"), "\n".join(md) + "\n")):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def _index(r: dict) -> str:
    if r["search"] != "approximate":
        return "-"
    return r.get("index") or ("ivf" if "fit_cpu_s" in r else "hnsw")  # rows without CPU seconds: before IVF


def _cpu_cell(r: dict) -> str:
    return f"{r['fit_cpu_s'] + r['score_cpu_s']:.1f}" if "fit_cpu_s" in r else "-"


def _load_cell(r: dict) -> str:
    return f"{r['loadavg'][0]:.1f}" if "loadavg" in r else "-"


def main(argv=None) -> None:
    global OUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--what", nargs="+", default=["knn", "ensemble"], choices=["knn", "ensemble"])
    ap.add_argument("--search", nargs="+", default=["exact", "approximate"], choices=["exact", "approximate"])
    ap.add_argument("--exact-max", type=int, default=100_000, help="largest row count searched exactly (knn)")
    ap.add_argument("--ensemble-exact-max", type=int, default=10_000, help="same for the ensemble")
    ap.add_argument("--threads", type=int, default=1, help="OMP/BLAS threads of each run")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run before it is recorded as timed out")
    ap.add_argument("--merge", action="store_true", help="keep earlier rows of settings this run does not redo")
    ap.add_argument("--out", default=str(OUT), help="results path without suffix (.json and .md are written)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    OUT = Path(args.out)
    if args.one:
        print("RESULT " + json.dumps(one(json.loads(args.one))), flush=True)
        return
    rows = []
    if args.merge and OUT.with_suffix(".json").exists():
        rows = json.loads(OUT.with_suffix(".json").read_text())["rows"]
    meta = {"command": " ".join(["python", "benchmarks/scale_neighbors.py", *(argv or sys.argv[1:])]),
            "platform": platform.platform(), "cpu_count": os.cpu_count(), "shared_machine": True}
    for n in args.sizes:
        for what in args.what:
            for search in args.search:
                cap = args.exact_max if what == "knn" else args.ensemble_exact_max
                if search == "exact" and n > cap:
                    continue
                spec = {"what": what, "n": n, "search": search, "threads": args.threads}
                rows = [r for r in rows if any(r[k] != spec[k] for k in ("what", "n", "search"))]
                row = measure(spec, args.timeout)
                rows.append(row)
                print(json.dumps(row), flush=True)
                write(rows, meta)


if __name__ == "__main__":
    main()
