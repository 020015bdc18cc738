"""Which approximate-nearest-neighbour library backs ``anomalib_ae.neighbors``: build + query time and recall@k.

For each data set (a few of ``shared/data/tabular`` and a generated 100k x 64 set) the rows are
split 90 / 10: the 90 % are indexed, 1,000 of the 10 % are queried for their k = 10 nearest
neighbours. Recall@k counts a returned neighbour as right when its true distance is within the
exact k-th distance (ties and duplicate rows count once), exact = scikit-learn brute force.
Everything on one thread (the machine is shared). Writes ``benchmarks/results/neighbors_backends.{json,md}``.

    python benchmarks/neighbors_backends.py                    # defaults
    python benchmarks/neighbors_backends.py --datasets shuttle --generated 20000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular"
METRICS = ("l2", "l1", "cosine")


def generated(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    """Mixture of 20 Gaussian clusters on 8-dimensional random subspaces plus isotropic noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(20, d))
    bases = rng.normal(size=(20, 8, d))
    lab = rng.integers(0, 20, size=n)
    z = rng.normal(size=(n, 8))
    X = (0.3 * rng.normal(size=(n, d))).astype(np.float32)
    for start in range(0, n, 65_536):  # in chunks: bases[lab] of all rows would be n x 8 x d float64
        sl = slice(start, start + 65_536)
        X[sl] += (centres[lab[sl]] + np.einsum("ni,nid->nd", z[sl], bases[lab[sl]])).astype(np.float32)
    return X


def exact(train, query, metric, k):
    from sklearn.neighbors import NearestNeighbors

    sk = {"l2": "euclidean", "l1": "manhattan", "cosine": "cosine"}[metric]
    return NearestNeighbors(n_neighbors=k, algorithm="brute", metric=sk).fit(train).kneighbors(query)[0]


def true_dist(train, query, idx, metric):
    a, b = query[:, None, :].astype(np.float64), train[idx].astype(np.float64)
    if metric == "l2":
        return np.sqrt(((a - b) ** 2).sum(-1))
    if metric == "l1":
        return np.abs(a - b).sum(-1)
    an = a / np.linalg.norm(a, axis=-1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return 1 - (an * bn).sum(-1)


def run_faiss(train, query, metric, k):
    import faiss

    faiss.omp_set_num_threads(1)
    d = train.shape[1]
    X, Q = np.ascontiguousarray(train, np.float32), np.ascontiguousarray(query, np.float32)
    if metric == "cosine":
        X, Q = X / np.linalg.norm(X, axis=1, keepdims=True), Q / np.linalg.norm(Q, axis=1, keepdims=True)
    fm = {"l2": faiss.METRIC_L2, "l1": faiss.METRIC_L1, "cosine": faiss.METRIC_INNER_PRODUCT}[metric]
    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(d, 32, fm)
    index.hnsw.efConstruction = 80
    index.add(X)
    t1 = time.perf_counter()
    index.hnsw.efSearch = 64
    _, idx = index.search(Q, k)
    return t1 - t0, time.perf_counter() - t1, idx


def run_hnswlib(train, query, metric, k):
    import hnswlib

    if metric == "l1":
        raise ValueError("no L1")
    index = hnswlib.Index(space={"l2": "l2", "cosine": "cosine"}[metric], dim=train.shape[1])
    t0 = time.perf_counter()
    index.init_index(max_elements=len(train), ef_construction=80, M=16, random_seed=0)
    index.add_items(train, num_threads=1)
    t1 = time.perf_counter()
    index.set_ef(64)
    idx, _ = index.knn_query(query, k=k, num_threads=1)
    return t1 - t0, time.perf_counter() - t1, idx


def run_usearch(train, query, metric, k):
    from usearch.index import Index

    if metric == "l1":
        raise ValueError("no L1")
    t0 = time.perf_counter()
    index = Index(ndim=train.shape[1], metric={"l2": "l2sq", "cosine": "cos"}[metric], dtype="f32",
                  connectivity=16, expansion_add=80, expansion_search=64)
    index.add(np.arange(len(train)), np.ascontiguousarray(train, np.float32), threads=1)
    t1 = time.perf_counter()
    res = index.search(np.ascontiguousarray(query, np.float32), k, threads=1)
    return t1 - t0, time.perf_counter() - t1, np.asarray(res.keys, dtype=np.int64)


def run_pynndescent(train, query, metric, k):
    import pynndescent

    t0 = time.perf_counter()
    index = pynndescent.NNDescent(train, metric={"l2": "euclidean", "l1": "manhattan", "cosine": "cosine"}[metric],
                                  n_neighbors=30, random_state=0, n_jobs=1)
    index.prepare()
    t1 = time.perf_counter()
    idx, _ = index.query(query, k=k)
    return t1 - t0, time.perf_counter() - t1, idx


BACKENDS = {"faiss-hnsw": run_faiss, "hnswlib": run_hnswlib, "usearch": run_usearch, "pynndescent": run_pynndescent}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", default="shuttle,mnist_tabular,http,satellite")
    ap.add_argument("--generated", type=int, default=100_000, help="rows of the generated 64-column set (0: none)")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "neighbors_backends")
    args = ap.parse_args(argv)
    sets = {}
    for ds in filter(None, args.datasets.split(",")):
        f = args.data_dir / f"{ds}.npz"
        if f.exists():
            X = np.load(f)["X"].astype(np.float64)
            sd = X.std(0)
            sd[sd == 0] = 1
            sets[ds] = ((X - X.mean(0)) / sd).astype(np.float32)
    if args.generated:
        sets[f"generated_{args.generated // 1000}k_x64"] = generated(args.generated)
    rows = []
    for name, X in sets.items():
        rng = np.random.default_rng(0)
        perm = rng.permutation(len(X))
        n_q = max(1, len(X) // 10)
        query, train = X[perm[:n_q]][:1000], X[perm[n_q:]]
        for metric in METRICS:
            kth = exact(train, query, metric, args.k)[:, -1]
            for backend in args.backends.split(","):
                row = {"dataset": name, "n_index": len(train), "d": X.shape[1], "metric": metric, "backend": backend}
                try:
                    tb, tq, idx = BACKENDS[backend](train, query, metric, args.k)
                    idx = np.where(idx < 0, 0, idx)
                    dist = true_dist(train, query, idx, metric)
                    ok = dist <= kth[:, None] * (1 + 1e-5) + 1e-6
                    row.update(build_s=tb, query_ms_per_row=1000 * tq / len(query), recall=float(ok.mean()))
                except ValueError as exc:
                    row["error"] = str(exc)
                rows.append(row)
                print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    md = ["| data set | rows indexed x d | metric | backend | build s | query ms/row | recall@%d |" % args.k,
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            md.append(f"| {r['dataset']} | {r['n_index']} x {r['d']} | {r['metric']} | {r['backend']} | - | - | {r['error']} |")
        else:
            md.append(f"| {r['dataset']} | {r['n_index']} x {r['d']} | {r['metric']} | {r['backend']} | "
                      f"{r['build_s']:.2f} | {r['query_ms_per_row']:.3f} | {r['recall']:.4f} |")
    text = ("One thread per library, on a 2-core machine shared with other jobs (times are noisy). "
            "faiss IndexHNSWFlat M=32 efConstruction=80 efSearch=64; hnswlib / usearch M=16 ef_construction=80 ef=64; "
            "pynndescent defaults (n_neighbors=30).\n\n" + "\n".join(md) + "\n")
    for path, data in ((args.out.with_suffix(".json"), json.dumps({"rows": rows}, indent=1)), (args.out.with_suffix(".md"), text)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(data)
        os.replace(tmp, path)
    print(text)


if __name__ == "__main__":
    main()
