"""Which faiss index for the approximate neighbour search: IVF-Flat against HNSW, one thread.

Generated 64-column rows (``neighbors_backends.generated``), standardised; 1,000 training rows
queried leave-one-out for 21 Euclidean candidates; recall against brute force (a returned row
counts when it is within the exact k-th distance): Euclidean recall@10 / @1, and Manhattan
recall@7 / @1 of the Euclidean candidates re-ranked in L1. CPU seconds (process time).

    python benchmarks/ann_index_choice.py 100000 ivf:1024:4:8:16 hnsw:16:40:48 hnsw:32:80:64 l1hnsw

(``ivf:NLIST:NPROBE...``, ``hnsw:M:EF_CONSTRUCTION:EF_SEARCH``). Prints one line per setting.
"""
import sys, time, numpy as np, os, faiss
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from neighbors_backends import generated
faiss.omp_set_num_threads(1)
n = int(sys.argv[1]); which = sys.argv[2:]
X = generated(n); X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
rng = np.random.default_rng(0); qi = rng.choice(n, 1000, replace=False); Q = X[qi]
def exact(metric, k):
    out = []
    for i in range(len(Q)):
        if metric == "l2": d = ((X - Q[i]) ** 2).sum(1)
        else: d = np.abs(X - Q[i]).sum(1)
        d[qi[i]] = np.inf
        out.append(np.sort(d)[:k])
    return np.array(out)
E2 = np.sqrt(exact("l2", 10)); E1 = exact("l1", 7)
def rec(cand, metric, k, E):
    a = Q[:, None, :].astype(np.float64); b = X[np.maximum(cand, 0)].astype(np.float64)
    d = np.sqrt(((a - b) ** 2).sum(-1)) if metric == "l2" else np.abs(a - b).sum(-1)
    d[cand < 0] = np.inf; d[cand == qi[:, None]] = np.inf
    d = np.sort(d, 1)[:, :k]
    return float((d <= E[:, k - 1:k] * (1 + 1e-6)).mean()), float(np.mean(d[:, 0] <= E[:, 0] * (1 + 1e-6)))
def run(name, index, setup=None, knobs=(None,)):
    t0 = time.process_time()
    if setup: setup(index)
    index.add(X)
    tb = time.process_time() - t0
    for knob in knobs:
        kn = knob() if knob else ''
        t0 = time.process_time(); _, c = index.search(Q, 21); tq = (time.process_time() - t0) / len(Q)
        print(f"{name} {kn} build_cpu {tb:.1f}s query_ms {tq*1e3:.3f} (1M LOO ~{tq*n:.0f}s) "
              f"L2 r@10,r@1 {rec(c,'l2',10,E2)} L1-from-L2 r@7,r@1 {rec(c,'l1',7,E1)}", flush=True)
d = X.shape[1]
for w in which:
    if w.startswith("hnsw"):
        _, M, efc, efs = w.split(":")
        idx = faiss.IndexHNSWFlat(d, int(M)); idx.hnsw.efConstruction = int(efc); idx.hnsw.efSearch = int(efs)
        run(w, idx)
    if w.startswith("ivf"):
        _, nl, *nps = w.split(":")
        q = faiss.IndexFlatL2(d); idx = faiss.IndexIVFFlat(q, d, int(nl))
        def setup(i, nl=int(nl)):
            i.train(X[rng.choice(n, min(n, 40 * nl), replace=False)])
        def mk(p, idx=idx):
            def f():
                idx.nprobe = p
                return f"nprobe {p}"
            return f
        run(w, idx, setup, [mk(int(p)) for p in nps])
    if w.startswith("l1hnsw"):
        idx = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_L1); idx.hnsw.efConstruction = 80; idx.hnsw.efSearch = 64
        t0 = time.process_time(); idx.add(X); tb = time.process_time() - t0
        t0 = time.process_time(); _, c = idx.search(Q, 18); tq = (time.process_time() - t0) / len(Q)
        print(f"{w} L1 build {tb:.1f} query_ms {tq*1e3:.3f} L1 r@7,r@1 {rec(c,'l1',7,E1)}", flush=True)
print(os.getloadavg())
