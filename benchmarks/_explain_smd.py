"""SMD culprit-metric part of benchmarks/explain.py: a train-only choice of the explanation, then the test labels.

Per machine (all cached under ``--cache``, default ``/work/cache/explain_smd``, so reruns cost seconds):

1. a windowed ``ae`` (window 16, training windows every 4 rows, 10 epochs, seed 0) on the first
   80 % of ``train`` (the model file is cached);
2. **base attributions per row** (mean over the stride-1 windows covering the row) of the
   residual, occlusion and gradient × input, plus the row's signed z-score against the fit
   part's mean / std and median / MAD, on (a) the held-out last 20 % of ``train`` with
   synthetic culprit anomalies planted (:func:`plant`, two independent copies), (b) the test
   rows of the interpretation labels; each span padded by 8 unlabelled rows (for smoothing);
3. the **spread of every base attribution on normal training windows** (512 evenly spaced fit
   windows; :mod:`anomalib_ae.explain.scales`), the units a normalised candidate divides by.

:func:`candidates` builds every candidate ranking from these arrays (normalisations, floors,
combinations with the z-score, smoothing over rows); :func:`evaluate` scores all of them on the
planted rows (``selection``) and on the labelled test rows (``points`` and ``segments``). The
choice uses the planted rows only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from anomalib_ae.explain.metrics import culprit_scores
from anomalib_ae.explain.scales import attribution_spread, floored, training_sample

#: bump when anything that changes the cached arrays changes
CACHE_VERSION = 3
BASES = ("residual", "occlusion", "gxi")


def read_interp(path, end_inclusive: bool = False) -> list[tuple[int, int, list[int]]]:
    """Interpretation labels as (start, end exclusive, 0-based culprit metrics).

    SMD's files give ``end`` exclusive; ASD's (InterFusion) inclusive: ``end_inclusive=True`` adds 1.
    """
    out = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        span, dims = line.split(":")
        s, e = map(int, span.split("-"))
        out.append((s, e + int(end_inclusive), [int(k) - 1 for k in dims.split(",")]))
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


def span_rows(n: int, segs, T: int, pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows to attribute (labelled rows plus ``pad`` on each side), their segment id (-1: padding)
    and the stride-1 window starts that cover them."""
    seg_id = np.full(n, -2)
    for s, e, _ in segs:
        seg_id[max(0, s - pad):min(n, e + pad)] = -1
    for i, (s, e, _) in enumerate(segs):
        seg_id[s:e] = i
    rows = np.flatnonzero(seg_id > -2)
    starts = np.unique(np.clip(rows[:, None] - np.arange(T)[None, :], 0, n - T))
    return rows, seg_id[rows], starts


# ---------------------------------------------------------------------- synthetic culprit anomalies
KINDS = ("level_shift", "spike", "variance_burst", "stuck")


def plant(X: np.ndarray, rng, *, sd: np.ndarray, lo: np.ndarray, hi: np.ndarray, corr: np.ndarray,
          n_events: int = 25, max_culprits: int = 6, amplitude: tuple[float, float] = (1.5, 8.0)) -> tuple[np.ndarray, list]:
    """Plant culprit anomalies in a copy of normal rows ``X`` (training data only).

    Each event picks a kind (level shift, spike, variance burst, stuck value), 1-``max_culprits``
    metrics (a random seed metric; the others, with probability 1/2, its most correlated metrics
    in the fit data, else random), a duration (spikes 1-3 rows, else log-uniform 3-150 rows) and
    an amplitude log-uniform in ``amplitude`` (1.5-8) training standard deviations per metric (x 0.7-1.3 per
    metric). Values stay within the training range ``[lo, hi]``. Returns the copy and
    ``[(start, end, metrics)]`` in the interpretation-label format; events are >= 20 rows apart.
    """
    X = X.copy()
    n, d = X.shape
    live = np.flatnonzero(sd > 1e-6)
    med = np.median(X, axis=0)
    events, busy_until = [], 30
    for s in np.sort(rng.choice(np.arange(30, n - 40), size=n_events, replace=False)):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        dur = int(rng.integers(1, 4)) if kind == "spike" else int(np.exp(rng.uniform(np.log(3), np.log(150))))
        e = min(int(s) + dur, n - 20)
        if s < busy_until or e <= s:
            continue
        k = int(rng.integers(1, min(max_culprits, live.size) + 1))
        seed = int(rng.choice(live))
        if rng.random() < 0.5:
            order = [j for j in np.argsort(-np.abs(corr[seed])) if j in set(live) and j != seed]
            dims = [seed, *order[: k - 1]]
        else:
            dims = [seed, *rng.choice(np.setdiff1d(live, [seed]), size=k - 1, replace=False)]
        amp = float(np.exp(rng.uniform(np.log(amplitude[0]), np.log(amplitude[1]))))
        for j in dims:
            a = amp * sd[j] * rng.uniform(0.7, 1.3)
            up = (hi[j] - med[j]) >= (med[j] - lo[j])  # towards the side with more room
            sign = 1.0 if up else -1.0
            seg = X[s:e, j]
            if kind == "level_shift":
                seg = seg + sign * a
            elif kind == "spike":
                seg = seg + sign * 2.0 * a
            elif kind == "variance_burst":
                seg = seg + rng.normal(0.0, a, size=seg.shape)
            else:  # stuck at the training floor / ceiling farther from the current value
                seg = np.full_like(seg, hi[j] if up else lo[j])
            X[s:e, j] = np.clip(seg, lo[j], hi[j])
        events.append((int(s), int(e), sorted(int(j) for j in dims)))
        busy_until = e + 20
    return X, events


# ---------------------------------------------------------------------- cached base attributions
def _bases(det, Xfit_stats, Xeval, segs, T: int, pad: int) -> dict[str, np.ndarray]:
    from anomalib_ae.explain.methods import attribute

    mu, sd, med, mad = Xfit_stats
    rows, seg, starts = span_rows(len(Xeval), segs, T, pad)
    W = windows(Xeval, T, starts)
    out = {"rows": rows, "seg": seg, "z": (Xeval[rows] - mu) / sd, "rz": (Xeval[rows] - med) / mad}
    G = np.zeros((len(rows), Xeval.shape[1]), dtype=bool)
    for i, (_, _, dims) in enumerate(segs):
        G[np.ix_(seg == i, dims)] = True
    out["culprits"] = G
    for b in BASES:
        t0 = time.time()
        out[b] = per_row(attribute(det, W, b)[0], starts, rows)
        out[f"seconds_{b}"] = np.array(time.time() - t0)
    return out


def _load_splits(path_npz: Path, path_interp: Path, *, seed: int, val_fraction: float, n_plant: int,
                 amplitude: tuple[float, float] = (1.5, 8.0), end_inclusive: bool = False):
    """Fit part of ``train``, fit statistics, and ``{split: (rows, segments)}`` (planted copies of the held-out tail, test)."""
    d = np.load(path_npz)
    Xtr, Xte = d["train"].astype(np.float32), d["test"].astype(np.float32)
    n_fit = int(len(Xtr) * (1 - val_fraction))
    Xfit, Xval = Xtr[:n_fit], Xtr[n_fit:]
    mu, sd = Xfit.mean(axis=0), Xfit.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    med = np.median(Xfit, axis=0)
    mad = np.median(np.abs(Xfit - med), axis=0) * 1.4826
    mad = np.where(mad > 1e-6, mad, sd)
    with np.errstate(invalid="ignore", divide="ignore"):  # constant metrics have no correlation
        corr = np.nan_to_num(np.corrcoef(Xfit[::4].T))
    lo, hi = Xtr.min(axis=0), Xtr.max(axis=0)
    splits = {}
    for r in range(n_plant):
        rng = np.random.default_rng(1000 * seed + r + 1)
        splits[f"plant{r}"] = plant(Xval, rng, sd=Xfit.std(axis=0), lo=lo, hi=hi, corr=corr, amplitude=amplitude)
    splits["test"] = (Xte, read_interp(path_interp, end_inclusive))
    return Xfit, (mu, sd, med, mad), splits


def _model(folder: Path, Wfit: np.ndarray, *, T: int, epochs: int, train_stride: int, seed: int, val_fraction: float):
    """The machine's windowed ``ae``, fitted once and cached as a model file; seconds spent fitting (0 if cached)."""
    import anomalib_ae

    model_file = folder / f"ae_T{T}_e{epochs}_s{train_stride}_seed{seed}_val{val_fraction}.pt"
    if model_file.exists():
        return anomalib_ae.load(model_file), 0.0
    t0 = time.time()
    det = anomalib_ae.create("ae", epochs=epochs, random_state=seed, verbose=False, accelerator="cpu",
                             input_kind="window").fit(Wfit)
    from anomalib_ae.persistence import save

    tmp = folder / f".{model_file.name}.{os.getpid()}.tmp"
    save(det, tmp)
    os.replace(tmp, model_file)
    return det, time.time() - t0


def _read_npz(path: Path) -> dict[str, dict[str, np.ndarray]]:
    z = np.load(path)
    out: dict[str, dict[str, np.ndarray]] = {}
    for k in z.files:
        split, field = k.split("/", 1)
        out.setdefault(split, {})[field] = z[k]
    return out


def _write_npz(path: Path, out: dict) -> None:
    flat = {f"{split}/{k}": v for split, dd in out.items() for k, v in dd.items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **flat)
    os.replace(tmp, path)



def _cache_key(T, epochs, train_stride, seed, val_fraction, n_plant, pad, amplitude, end_inclusive) -> str:
    """The cache file stem shared by the per-machine arrays and the library-method rows."""
    key = f"v{CACHE_VERSION}_T{T}_e{epochs}_s{train_stride}_seed{seed}_val{val_fraction}_p{n_plant}_pad{pad}"
    if tuple(amplitude) != (1.5, 8.0):
        key += f"_amp{amplitude[0]:g}-{amplitude[1]:g}"
    if end_inclusive:
        key += "_endincl"
    return key

def machine_arrays(path_npz: Path, path_interp: Path, cache: Path, *, T: int = 16, epochs: int = 10,
                   train_stride: int = 4, seed: int = 0, val_fraction: float = 0.2, n_plant: int = 2,
                   pad: int = 8, amplitude: tuple[float, float] = (1.5, 8.0), end_inclusive: bool = False,
                   log=print) -> dict[str, dict[str, np.ndarray]]:
    """Per split (``plant0``, ``plant1``, ..., ``test``) the base arrays, and ``spread`` (cached).

    Also the library's default telemetry explanation (``"residual_z"``) per row, as ``deployed``
    in every split: the model's ``residual_q99_`` computed from the fit windows exactly as
    ``fit`` stores it now (the cached models may predate it).
    """
    from anomalib_ae.explain.methods import attribute
    from anomalib_ae.explain.residuals import residual_spreads

    key = _cache_key(T, epochs, train_stride, seed, val_fraction, n_plant, pad, amplitude, end_inclusive)
    folder = cache / path_npz.stem
    folder.mkdir(parents=True, exist_ok=True)
    arr_file, dep_file = folder / f"arrays_{key}.npz", folder / f"deployed_{key}.npz"
    if arr_file.exists() and dep_file.exists():
        out = _read_npz(arr_file)
        for split, dd in _read_npz(dep_file).items():
            out[split].update(dd)
        return out
    t0 = time.time()
    Xfit, stats, splits = _load_splits(path_npz, path_interp, seed=seed, val_fraction=val_fraction, n_plant=n_plant,
                                       amplitude=amplitude, end_inclusive=end_inclusive)
    Wfit = windows(Xfit, T, np.arange(0, len(Xfit) - T + 1, train_stride))
    det, fit_s = _model(folder, Wfit, T=T, epochs=epochs, train_stride=train_stride, seed=seed,
                        val_fraction=val_fraction)
    if arr_file.exists():
        out = _read_npz(arr_file)
    else:
        sample = training_sample(Wfit, 512)
        spread = {"fit_seconds": np.array(fit_s)}
        for b in BASES:
            A = attribute(det, sample, b)[0]
            spread[f"{b}_std"] = attribution_spread(A, "window").reshape(-1)
            spread[f"|{b}|_std"] = attribution_spread(np.abs(A), "window").reshape(-1)
            spread[f"{b}_q99"] = np.quantile(np.abs(A), 0.99, axis=(0, 1))
            spread[f"{b}_mean"] = A.mean(axis=(0, 1))
        out = {"spread": spread}
        for split, (X, segs) in splits.items():
            out[split] = _bases(det, stats, X, segs, T, pad)
        _write_npz(arr_file, out)
    if getattr(det, "residual_q99_", None) is None:
        det.residual_scale_, det.residual_q99_ = residual_spreads(det, Wfit)
    dep = {}
    for split, (X, segs) in splits.items():
        rows, _, starts = span_rows(len(X), segs, T, pad)
        t1 = time.time()
        dep[split] = {"deployed": per_row(attribute(det, windows(X, T, starts), "residual_z")[0], starts, rows),
                      "seconds_deployed": np.array(time.time() - t1)}
        out[split].update(dep[split])
    _write_npz(dep_file, dep)
    log(f"    {path_npz.stem}: fit {fit_s:.0f} s, arrays {time.time() - t0:.0f} s (cached under {folder})")
    return out


# ---------------------------------------------------------------------- candidates and scoring
def shares(A: np.ndarray) -> np.ndarray:
    """Positive part of each row as shares of the row's total (methods on one scale)."""
    P = np.clip(A, 0, None)
    t = P.sum(axis=1, keepdims=True)
    return np.divide(P, t, out=np.zeros_like(P), where=t > 0)


DEPLOYED = "residual_z (library method)"
NORMS = ("raw", "std/0.1", "std/0.01", "q99/0.1", "zs/0.1")


def normalise(A: np.ndarray, spread: dict, base: str, how: str) -> np.ndarray:
    if how == "raw":
        return A
    kind, floor = how.split("/")
    key = f"|gxi|" if base in ("gxi+", "|gxi|") else base
    if kind == "std":
        return A / floored(spread[f"{key}_std"], float(floor))
    if kind == "q99":
        return A / floored(spread[f"{key.strip('|')}_q99"], float(floor))
    # zs: centred and scaled
    mean = np.abs(spread["gxi_mean"]) if key == "|gxi|" else spread[f"{key}_mean"]
    return (A - mean) / floored(spread[f"{key}_std"], float(floor))


def candidates(B: dict, spread: dict):
    """Every candidate ranking of one split: ``(name, per-row attribution)``."""
    z, rz = B["z"], B["rz"]
    yield "naive |z|", np.abs(z)
    yield "robust |z|", np.abs(rz)
    if "deployed" in B:
        yield DEPLOYED, B["deployed"]
    model = {"residual": B["residual"], "occlusion": B["occlusion"], "gxi+": np.clip(B["gxi"], 0, None),
             "|gxi|": np.abs(B["gxi"])}
    normed = {(m, h): normalise(A, spread, m, h) for m, A in model.items() for h in NORMS}
    for (m, h), A in normed.items():
        yield f"{m} [{h}]", A
    for h in NORMS:
        normed[("residual+occlusion", h)] = shares(normed[("residual", h)]) + shares(normed[("occlusion", h)])
        yield f"residual+occlusion [{h}]", normed[("residual+occlusion", h)]
    zs = {"z2": z * z, "rz2": rz * rz, "|z|": np.abs(z)}
    for m in ("residual", "occlusion", "residual+occlusion"):
        for h in ("raw", "std/0.1", "std/0.01", "q99/0.1"):
            S = shares(normed[(m, h)])
            for zn, Z in zs.items():
                for lam in (0.5, 1.0, 2.0):
                    yield f"{m} [{h}] + {lam:g}*{zn}", S + lam * shares(Z)


def smooth(A: np.ndarray, rows: np.ndarray, half: int) -> np.ndarray:
    """Centred moving mean over ``2 * half + 1`` consecutive rows (within runs of consecutive rows)."""
    if half == 0:
        return A
    n = len(rows)
    brk = np.r_[0, np.flatnonzero(np.diff(rows) != 1) + 1, n]
    run = np.repeat(np.arange(len(brk) - 1), np.diff(brk))
    i = np.arange(n)
    lo = np.maximum(i - half, brk[run])
    hi = np.minimum(i + half, brk[run + 1] - 1)
    cs = np.vstack([np.zeros((1, A.shape[1])), np.cumsum(A, axis=0)])
    return (cs[hi + 1] - cs[lo]) / (hi - lo + 1)[:, None]


SMOOTH = (0, 4, 15)


def evaluate(arrays: dict, splits: list[str], segments: bool = False) -> dict[str, dict[str, float]]:
    """Culprit scores of every candidate (x smoothing) on the labelled rows of ``splits`` (pooled)."""
    per: dict[str, list] = {}
    culprits, seg_lists = [], []
    for sp in splits:
        B = arrays[sp]
        lab = B["seg"] >= 0
        G = B["culprits"][lab]
        culprits.extend([np.flatnonzero(g) for g in G])
        for name, A in candidates(B, arrays["spread"]):
            for h in SMOOTH:
                key = name if h == 0 else f"{name} ~{2 * h + 1}rows"
                As = smooth(A, B["rows"], h)[lab]
                per.setdefault(key, []).append(As)
    out = {k: culprit_scores(np.concatenate(v), culprits) for k, v in per.items()}
    if segments:  # one ranking per labelled segment (mean over its rows), pooled over the splits
        per_seg: dict[str, list] = {}
        seg_culprits = []
        for sp in splits:
            B = arrays[sp]
            lab = B["seg"] >= 0
            sid = B["seg"][lab]
            ids = np.unique(sid)
            seg_culprits.extend(np.flatnonzero(B["culprits"][lab][sid == i][0]) for i in ids)
            for name, A in candidates(B, arrays["spread"]):
                for h in SMOOTH:
                    key = name if h == 0 else f"{name} ~{2 * h + 1}rows"
                    As = smooth(A, B["rows"], h)[lab]
                    per_seg.setdefault(key, []).append(np.stack([As[sid == i].mean(axis=0) for i in ids]))
        for key, v in per_seg.items():
            out[key]["segments_hitrate@150"] = culprit_scores(np.concatenate(v), seg_culprits)["hitrate@150"]
    return out


#: bump when the candidate grid or the scoring changes (evaluations are cached per machine)
EVAL_VERSION = 2


def run_machine(path_npz: Path, path_interp: Path, cache: Path, log=print, **kw) -> dict:
    """Culprit scores of every candidate on the planted training rows and the test labels of one machine (cached)."""
    arrays = machine_arrays(path_npz, path_interp, cache, log=log, **kw)
    tag = "_".join(f"{k}{'-'.join(map(str, v)) if isinstance(v, (tuple, list)) else v}" for k, v in sorted(kw.items()))
    res_file = cache / path_npz.stem / f"eval_v{CACHE_VERSION}.{EVAL_VERSION}_{tag}.json"
    if res_file.exists():
        return json.loads(res_file.read_text())
    plants = sorted(k for k in arrays if k.startswith("plant"))
    sp = arrays["spread"]
    test_seg = arrays["test"]["seg"]
    res = {
        "n_segments": int(len(np.unique(test_seg[test_seg >= 0]))),
        "n_rows": int((test_seg >= 0).sum()),
        "n_planted_events": int(sum(len(np.unique(arrays[p]["seg"][arrays[p]["seg"] >= 0])) for p in plants)),
        "n_planted_rows": int(sum((arrays[p]["seg"] >= 0).sum() for p in plants)),
        "seconds": {"fit_ae": round(float(sp["fit_seconds"]), 1),
                    **{b: round(float(arrays["test"][f"seconds_{b}"]), 2) for b in (*BASES, "deployed")}},
        "selection": evaluate(arrays, plants, segments=True),
        "test": evaluate(arrays, ["test"], segments=True),
    }
    dump(res, res_file)
    return res


def dump(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, default=float))
    os.replace(tmp, path)


# ---------------------------------------------------------------------- a library method as deployed
#: bump when the library path measured by :func:`library_rows` changes (2: through the telemetry adapter)
LIBRARY_VERSION = 2


def library_rows(path_npz: Path, path_interp: Path, cache: Path, method: str, *, T: int = 16, epochs: int = 10,
                 train_stride: int = 4, seed: int = 0, val_fraction: float = 0.2, n_plant: int = 2, pad: int = 8,
                 amplitude: tuple[float, float] = (1.5, 8.0), end_inclusive: bool = False) -> dict[str, np.ndarray]:
    """Per split, the library's ``method`` per row as a telemetry pipeline computes it
    (``TelemetryAdapter.row_attributions`` on the split's whole series, stride-1 windows: window
    attributions combined per row, or a row-level method such as ``"occlusion_z"`` blended per row
    and smoothed over consecutive timestamps), on the cached model; cached.

    A statistic the method needs that the cached model predates (``occlusion_scale_``) is computed
    from the fit windows exactly as ``fit`` stores it now. Not a selection candidate: it measures
    the implementation of a chosen one.
    """
    import functools

    import pandas as pd

    from anomalib_ae.adapters.telemetry import TelemetryAdapter
    from anomalib_ae.explain.blend import occlusion_scale
    from anomalib_ae.explain.methods import attribute

    key = _cache_key(T, epochs, train_stride, seed, val_fraction, n_plant, pad, amplitude, end_inclusive)
    folder = cache / path_npz.stem
    out_file = folder / f"library_{method}_adapter{LIBRARY_VERSION}_{key}.npz"
    if out_file.exists():
        z = np.load(out_file)
        return {k: z[k] for k in z.files}
    Xfit, _, splits = _load_splits(path_npz, path_interp, seed=seed, val_fraction=val_fraction, n_plant=n_plant,
                                   amplitude=amplitude, end_inclusive=end_inclusive)
    Wfit = windows(Xfit, T, np.arange(0, len(Xfit) - T + 1, train_stride))
    det, _ = _model(folder, Wfit, T=T, epochs=epochs, train_stride=train_stride, seed=seed, val_fraction=val_fraction)
    if method == "occlusion_z" and getattr(det, "occlusion_scale_", None) is None:
        det.occlusion_scale_ = occlusion_scale(det, Wfit)
    if getattr(det, "residual_q99_", None) is None:
        from anomalib_ae.explain.residuals import residual_spreads

        det.residual_scale_, det.residual_q99_ = residual_spreads(det, Wfit)
    def frame(X):
        df = pd.DataFrame(X, columns=[f"m{j:02d}" for j in range(X.shape[1])])
        df.insert(0, "t", np.arange(len(X)))
        return df

    adapter = TelemetryAdapter(window=T, timestamp_col="t", scale=False, max_gap=float("inf"))
    adapter.fit_transform(frame(Xfit[: 4 * T]))  # metric columns only: scale=False, the model saw raw values
    fn = functools.partial(attribute, method=method)
    res = {}
    for split, (X, segs) in splits.items():
        rows, _, _ = span_rows(len(X), segs, T, pad)
        batch = adapter.transform(frame(X)).windows
        res[split] = adapter.row_attributions(det, batch, None, fn, method)[0][rows]
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **res)
    os.replace(tmp, out_file)
    return res


def score_rows(arrays: dict, rows_by_split: dict[str, np.ndarray], splits: list[str]) -> dict[str, float]:
    """Culprit scores of one fixed per-row attribution on the labelled rows of ``splits`` (as :func:`evaluate`)."""
    A, G, segA, segG = [], [], [], []
    for sp in splits:
        B = arrays[sp]
        lab = B["seg"] >= 0
        A.append(rows_by_split[sp][lab])
        G.extend(np.flatnonzero(g) for g in B["culprits"][lab])
        sid = B["seg"][lab]
        for i in np.unique(sid):
            segA.append(rows_by_split[sp][lab][sid == i].mean(axis=0))
            segG.append(np.flatnonzero(B["culprits"][lab][sid == i][0]))
    out = culprit_scores(np.concatenate(A), G)
    out["segments_hitrate@150"] = culprit_scores(np.stack(segA), segG)["hitrate@150"]
    return out
