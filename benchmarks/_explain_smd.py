"""SMD culprit-metric part of benchmarks/explain.py (see its docstring)."""

from __future__ import annotations

import time

import numpy as np

from anomalib_ae.explain.metrics import culprit_scores


def read_interp(path) -> list[tuple[int, int, list[int]]]:
    """SMD interpretation labels: (start, end exclusive, 0-based culprit metrics)."""
    out = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        span, dims = line.split(":")
        s, e = map(int, span.split("-"))
        out.append((s, e, [int(k) - 1 for k in dims.split(",")]))
    return out


def windows(X: np.ndarray, T: int, starts: np.ndarray) -> np.ndarray:
    idx = starts[:, None] + np.arange(T)[None, :]
    return X[idx]


def per_row(Aw: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per-row, per-metric attribution: mean over the windows covering each row."""
    T, d = Aw.shape[1:]
    lo = rows.min()
    n = rows.max() - lo + 1
    tot = np.zeros((n, d))
    cnt = np.zeros(n)
    for k in range(T):
        r = starts + k - lo
        ok = (r >= 0) & (r < n)
        np.add.at(tot, r[ok], Aw[ok, k])
        np.add.at(cnt, r[ok], 1)
    return tot[rows - lo] / np.maximum(cnt[rows - lo], 1)[:, None]


def segment_windows(n_test: int, segs, T: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Window starts covering every labelled row (stride 1), the labelled rows and their culprits."""
    rows, culprits, starts = [], [], set()
    for s, e, dims in segs:
        for t in range(s, e):
            rows.append(t)
            culprits.append(dims)
        lo, hi = max(0, s - T + 1), min(n_test - T, e - 1)
        starts.update(range(lo, hi + 1))
    return np.array(sorted(starts)), np.array(rows), culprits


def _attributions(dets, Xfit, Xeval, segs, methods, T) -> dict[str, np.ndarray]:
    """Per labelled row, per metric attribution of every method (name -> (n_rows, d))."""
    from anomalib_ae.explain.methods import attribute

    starts, rows, _ = segment_windows(len(Xeval), segs, T)
    W = windows(Xeval, T, starts)
    mu, sd = Xfit.mean(axis=0), Xfit.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    med = np.median(Xfit, axis=0)
    mad = np.median(np.abs(Xfit - med), axis=0) * 1.4826
    mad = np.where(mad > 1e-6, mad, sd)
    out = {"naive_zscore": np.abs((Xeval[rows] - mu) / sd), "robust_zscore": np.abs((Xeval[rows] - med) / mad)}
    for m in methods:
        det_name, how = m.split(":")
        t0 = time.time()
        A, _ = attribute(dets[det_name], W, how)
        out[m] = per_row(A, starts, rows)
        out.setdefault("_seconds", {})[m] = time.time() - t0
    return out


def _score_all(R: dict, segs) -> tuple[dict, dict]:
    culprits = [g for s, e, g in segs for _ in range(s, e)]
    seg_of_row = np.concatenate([np.full(e - s, i) for i, (s, e, _) in enumerate(segs)])
    pts, sgs = {}, {}
    for name, A in R.items():
        if name.startswith("_"):
            continue
        pts[name] = culprit_scores(A, culprits)
        S = np.stack([A[seg_of_row == i].mean(axis=0) for i in range(len(segs))])
        sgs[name] = culprit_scores(S, [g for _, _, g in segs])
    return pts, sgs


def run_machine(path_npz, path_interp, *, T: int, epochs: int, train_stride: int, methods, seed: int = 0,
                val_fraction: float = 0.2) -> dict:
    """Fit on the first 80 % of ``train``; choose on planted anomalies in the last 20 %; score the test labels.

    Returns per-method culprit metrics on the test labels (per point and per segment), on the
    planted training anomalies (``selection``), and the method chosen there (``chosen``).
    """
    import anomalib_ae

    d = np.load(path_npz)
    Xtr, Xte = d["train"].astype(np.float32), d["test"].astype(np.float32)
    n_fit = int(len(Xtr) * (1 - val_fraction))
    Xfit, Xval = Xtr[:n_fit], Xtr[n_fit:]
    segs = read_interp(path_interp)
    rng = np.random.default_rng(seed)
    Xinj, inj = inject(Xval, rng, sd=Xfit.std(axis=0))
    dets, out = {}, {"n_segments": len(segs), "n_rows": int(sum(e - s for s, e, _ in segs)), "seconds": {}}
    Wfit = windows(Xfit, T, np.arange(0, len(Xfit) - T + 1, train_stride))
    for det_name in sorted({m.split(":")[0] for m in methods}):
        t0 = time.time()
        dets[det_name] = anomalib_ae.create(det_name, epochs=epochs, random_state=seed, verbose=False,
                                            accelerator="cpu", input_kind="window").fit(Wfit)
        out["seconds"][f"fit_{det_name}"] = time.time() - t0
    R_val = _attributions(dets, Xfit, Xinj, inj, methods, T)
    out["selection"], _ = _score_all(R_val, inj)
    R = _attributions(dets, Xfit, Xte, segs, methods, T)
    out["seconds"].update({k: round(v, 2) for k, v in R.pop("_seconds", {}).items()})
    out["points"], out["segments"] = _score_all(R, segs)
    out["chosen"] = max(out["selection"], key=lambda k: out["selection"][k]["hitrate@150"])
    out["dets"] = dets
    return out


def shares(R: np.ndarray) -> np.ndarray:
    """Positive part of each row as shares of the row's total (methods on one scale)."""
    P = np.clip(R, 0, None)
    t = P.sum(axis=1, keepdims=True)
    return np.divide(P, t, out=np.zeros_like(P), where=t > 0)


def inject(X: np.ndarray, rng, n_spans: int = 30, sd=None) -> tuple[np.ndarray, list]:
    """Plant level shifts in 1-5 random metrics over spans of 5-40 rows (training data only).

    Returns the changed copy and ``[(start, end, metrics)]`` in the interpretation-label format.
    """
    X = X.copy()
    n, d = X.shape
    sd = X.std(axis=0) if sd is None else sd
    live = np.flatnonzero(sd > 1e-6)
    med = np.median(X, axis=0)
    spans = []
    starts = np.sort(rng.choice(np.arange(50, n - 60), size=n_spans, replace=False))
    for s in starts:
        e = int(s + rng.integers(5, 41))
        if spans and s < spans[-1][1] + 20:
            continue
        k = int(rng.integers(1, min(5, live.size) + 1))
        dims = sorted(int(j) for j in rng.choice(live, size=k, replace=False))
        for j in dims:
            step = max(4.0 * sd[j], 0.05)
            sign = 1.0 if med[j] < 0.5 else -1.0
            X[s:e, j] = np.clip(X[s:e, j] + sign * step, 0.0, 1.0)
        spans.append((int(s), e, dims))
    return X, spans
