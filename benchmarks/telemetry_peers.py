"""Telemetry against its strongest peers, in one run: SMD (Server Machine Dataset) machines,
our detectors beside every PyOD detector of the registry and DeepOD's time-series models.

    python benchmarks/telemetry_peers.py                 # all 19 machines, every method (see --methods)
    python benchmarks/telemetry_peers.py --quick         # 2 machines, 4,000 rows, 1 epoch: a CI-size check
    python benchmarks/telemetry_peers.py --methods ours:mae,deepod:TranAD --machines machine-1-6

Protocol (the same for every method):

* per machine, ``train`` (first half of the series, unlabelled, taken as normal) fits, ``test``
  (second half) is scored, one score per test row; SMD's labels are used only for the metrics;
* features: every metric standardised with the training half's mean and standard deviation
  (:class:`~anomalib_ae.data.TelemetryWindower`, ``scale=True``) -- the same numbers for everyone;
* window methods (ours, PyOD) see windows of ``--window`` rows (training windows every
  ``--train-stride`` rows, test windows at every row; PyOD gets them flattened); a row's score is
  the mean of the windows covering it (``windows_to_timestamps``). DeepOD's models take the
  standardised series and make their own windows (``seq_len``; a row's score is the score of the
  window that ends at it, DeepOD's rule; the first ``seq_len - 1`` rows get the first score);
* metrics (``anomalib_ae.scoring``): AUROC, best F1 over thresholds, point-adjusted best F1
  (F1-PA, OmniAnomaly's), best range-based F1 (Tatbul et al. 2018; flat bias, reciprocal
  cardinality, no existence reward: it does not inflate like F1-PA). Best F1 / F1-PA / range F1
  pick the threshold on the test labels (an upper bound, as in the literature); AUROC needs none.

Scores are cached per method and machine in ``--cache`` (default ``$SMD_PEERS_CACHE``, else
``/work/cache/smd_peers`` where ``/work/cache`` exists, else ``~/.cache/anomalib_ae/smd_peers``),
keyed by the method's settings, so tables are recomputed without refitting (``--cached-only``). Results: ``benchmarks/results/telemetry_peers[_<tag>].{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data" / "telemetry" / "smd"
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_CACHE = Path(os.environ.get("SMD_PEERS_CACHE") or (
    "/work/cache/smd_peers" if Path("/work/cache").is_dir() else Path.home() / ".cache" / "anomalib_ae" / "smd_peers"))

PYOD = ("pyod.autoencoder", "pyod.vae", "pyod.deepsvdd", "pyod.iforest", "pyod.ecod", "pyod.knn", "pyod.lof")
#: DeepOD's time-series models run by default, with the settings used (see docs/domains.md for why)
DEEPOD = {
    "TranAD": {"seq_len": 10, "epochs": 10, "epoch_steps": 20, "lr": 1e-3, "batch_size": 128},
    "USAD": {"seq_len": 10, "epochs": 10, "epoch_steps": 40, "batch_size": 128},
    "COUTA": {"seq_len": 30, "epochs": 10, "epoch_steps": 40, "batch_size": 64},
    "TcnED": {"seq_len": 30, "epochs": 10, "epoch_steps": 40, "batch_size": 64},
}
#: run only when named (``--methods deepod:TimesNet``): scoring every test row cost too much on CPU
#: (TimesNet: about 30 CPU-s per 2,000 rows, 6 CPU-min per machine; AnomalyTransformer, d_model 512:
#: slower still, it did not finish one 2,000-row check in 5 minutes)
DEEPOD_OPTIONAL = {
    "TimesNet": {"seq_len": 30, "epochs": 5, "epoch_steps": 20, "batch_size": 32},
    "AnomalyTransformer": {"seq_len": 30, "epochs": 3, "epoch_steps": 20, "batch_size": 32},
}
#: the headline row: a shipped config, fitted as ``anomalib-ae fit --config`` builds it (its detector,
#: parameters, window and timestamp_how; training windows every --train-stride rows)
HEADLINE_CONFIG = "hpc_accuracy"
#: our detectors run by default besides it: name -> (parameters over the shared deep settings, window or None = --window)
OURS = {"winae": ({}, 30)}  # ae@30 = config:hpc_accuracy (the same detector and settings; chosen by telemetry_select.py)
METRICS = ("auroc", "best_f1", "f1_pa", "range_f1")


@dataclass
class Row:
    machine: str
    method: str
    family: str  # "ours", "pyod" or "deepod"
    auroc: float
    best_f1: float
    f1_pa: float
    range_f1: float
    fit_s: float
    score_s: float


# ----------------------------------------------------------------------------- data
def load_machine(path: Path, window: int, train_stride: int, max_rows: int = 0):
    """-> (train windows, test windows batch, train series z, test series z, labels), standardised on
    train; ``max_rows`` > 0 keeps the first rows of each half (``--quick``)."""
    import pandas as pd

    from anomalib_ae.data import TelemetryWindower

    z = np.load(path)
    tr, te, y = z["train"], z["test"], z["test_label"].astype(np.int8)
    if max_rows:
        tr, te, y = tr[:max_rows], te[:max_rows], y[:max_rows]
    cols = [f"m{j + 1:02d}" for j in range(tr.shape[1])]
    dtr = pd.DataFrame(tr, columns=cols)
    dtr.insert(0, "t", np.arange(len(tr)))
    dte = pd.DataFrame(te, columns=cols)
    dte.insert(0, "t", np.arange(len(te)))
    win = TelemetryWindower(window=window, stride=train_stride, timestamp_col="t", max_gap=float("inf"))
    btr = win.fit_transform(dtr)
    win.stride = 1
    bte = win.transform(dte)
    ztr = ((tr - win.mean_) / win.std_).astype(np.float32)
    zte = ((te - win.mean_) / win.std_).astype(np.float32)
    return btr, bte, ztr, zte, y


# ----------------------------------------------------------------------------- methods
def _quiet():
    warnings.simplefilter("ignore")


def config_method(name: str) -> dict:
    """``configs/<name>.yaml`` -> {"detector", "params", "window", "how"}: what ``anomalib-ae fit
    --config`` builds (detector, its parameters, the adapter's window, ``scoring.timestamp_how``)."""
    import yaml

    from anomalib_ae.config import pipeline_params

    path = REPO / "configs" / f"{name}.yaml"
    if not path.is_file():
        sys.exit(f"no config {path}")
    pp = pipeline_params(yaml.safe_load(path.read_text()))
    if pp["kind"] != "telemetry":
        sys.exit(f"{path} is a {pp['kind']!r} config, not telemetry")
    return {"config": name, "detector": pp["detector"], "params": dict(pp["detector_params"]),
            "window": int(pp["adapter_params"].get("window", 32)), "how": pp.get("timestamp_how", "mean")}


def run_ours(name: str, params: dict, btr, bte, epochs: int, seed: int, how: str = "mean") -> tuple[np.ndarray, float, float]:
    import anomalib_ae
    from anomalib_ae.data import windows_to_timestamps

    cls = anomalib_ae.get_detector_class(name)
    valid = set(cls().get_params(deep=False))
    base = {"epochs": epochs, "random_state": seed, "verbose": False, "accelerator": "cpu", "input_kind": "window"}
    det = cls(**{k: v for k, v in {**base, **params}.items() if k in valid})
    t0 = time.perf_counter()
    det.fit(btr.X)
    t1 = time.perf_counter()
    s = windows_to_timestamps(det.score(bte.X), bte, how=how)
    return s, t1 - t0, time.perf_counter() - t1


def run_pyod(name: str, btr, bte, epochs: int, seed: int) -> tuple[np.ndarray, float, float]:
    import anomalib_ae
    from anomalib_ae.data import windows_to_timestamps

    params = {"epoch_num": epochs, "verbose": 0} if name in ("pyod.autoencoder", "pyod.vae") else {}
    if name == "pyod.deepsvdd":
        params = {"epochs": epochs, "verbose": 0}
    if name == "pyod.iforest":
        params = {"n_jobs": 1}
    # calibration="train": no extra fits (the benchmark needs only the scores)
    det = anomalib_ae.create(name, params=params or None, calibration="train", random_state=seed)
    Xtr = btr.X.reshape(len(btr.X), -1)
    Xte = bte.X.reshape(len(bte.X), -1)
    with warnings.catch_warnings():
        _quiet()
        t0 = time.perf_counter()
        det.fit(Xtr)
        t1 = time.perf_counter()
        s = det.score(Xte)
    return windows_to_timestamps(s, bte), t1 - t0, time.perf_counter() - t1


def _deepod_compat() -> None:
    """DeepOD 0.4.1 predates numpy 2 and torch 2.x: two shims, no change to its models.

    * COUTA reads ``np.NAN`` (removed in numpy 2): alias it to ``np.nan``;
    * TranAD's own encoder / decoder layers do not accept the ``is_causal`` keyword that
      torch >= 2.0's ``nn.TransformerEncoder`` / ``Decoder`` pass: drop it (TranAD never asks
      for causal masking, so nothing changes).
    """
    import inspect

    from deepod.models.time_series import tranad

    if not hasattr(np, "NAN"):
        np.NAN = np.nan
    for cls in (tranad.TransformerEncoderLayer, tranad.TransformerDecoderLayer):
        if getattr(cls.forward, "_compat", False):
            continue
        inner = cls.forward
        names = set(inspect.signature(inner).parameters)

        def forward(self, *a, _inner=inner, _names=names, **kw):
            return _inner(self, *a, **{k: v for k, v in kw.items() if k in _names})

        forward._compat = True
        cls.forward = forward


def run_deepod(name: str, params: dict, ztr: np.ndarray, zte: np.ndarray, seed: int) -> tuple[np.ndarray, float, float]:
    import deepod.models.time_series as ts

    _deepod_compat()

    cls = getattr(ts, name)
    model = cls(**params, device="cpu", verbose=0, random_state=seed)
    # DeepOD's fit ends by scoring the whole training series (unused here): skip that pass
    model.decision_function = lambda X, return_rep=False: np.zeros(len(X))
    with warnings.catch_warnings():
        _quiet()
        t0 = time.perf_counter()
        model.fit(ztr)
        t1 = time.perf_counter()
        del model.decision_function
        s = np.asarray(model.decision_function(zte), dtype=np.float64)
    k = params["seq_len"] - 1  # DeepOD pads the first seq_len - 1 rows with 0
    if k > 0 and len(s) > k:
        s[:k] = s[k]
    return s, t1 - t0, time.perf_counter() - t1


# ----------------------------------------------------------------------------- cache
def cache_path(cache: Path, key: str, machine: str) -> Path:
    return cache / key / f"{machine}.npz"


def method_key(family: str, name: str, settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return f"{family}.{name.replace(':', '_')}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


class NotCached(LookupError):
    """``--cached-only``: these scores were never computed."""


def cached_scores(cache: Path, key: str, machine: str, settings: dict, compute, cached_only: bool = False):
    p = cache_path(cache, key, machine)
    if p.exists():
        z = np.load(p)
        return z["scores"], float(z["fit_s"]), float(z["score_s"]), True
    if cached_only:
        raise NotCached(f"no cached scores ({p})")
    s, fit_s, score_s = compute()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, scores=s, fit_s=fit_s, score_s=score_s,
                        settings=json.dumps(settings, sort_keys=True, default=str))
    os.replace(tmp, p)
    return s, fit_s, score_s, False


# ----------------------------------------------------------------------------- metrics
def evaluate(y: np.ndarray, s: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    from anomalib_ae.scoring import best_f1, best_f1_point_adjusted, best_range_f1

    s = np.nan_to_num(np.asarray(s, dtype=np.float64), nan=np.nanmin(s), posinf=np.finfo(np.float64).max)
    return {"auroc": float(roc_auc_score(y, s)), "best_f1": best_f1(y, s).f1,
            "f1_pa": best_f1_point_adjusted(y, s).f1, "range_f1": best_range_f1(y, s).f1}


# ----------------------------------------------------------------------------- plan
def parse_methods(text: str | None, quick: bool) -> list[tuple[str, str, dict, int | None]]:
    """-> [(family, name, extra params, window or None)]; ``text`` like
    ``ours:winae@30,pyod:pyod.knn,deepod:TranAD`` (``@W``: this method's window, else ``--window``)."""
    head = config_method(HEADLINE_CONFIG)
    allm = [("ours", f"config:{HEADLINE_CONFIG}", head, head["window"])] + \
        [("ours", n, dict(p), w) for n, (p, w) in OURS.items()] + [("pyod", n, {}, None) for n in PYOD] + \
        [("deepod", n, dict(p), None) for n, p in DEEPOD.items()]
    if not text:
        return allm
    known = {(f, n): (p, w) for f, n, p, w in allm}
    known.update({("deepod", n): (dict(p), None) for n, p in DEEPOD_OPTIONAL.items()})
    out = []
    for tok in (t.strip() for t in text.split(",") if t.strip()):
        if tok.startswith("config:"):  # config:hpc_accuracy = configs/hpc_accuracy.yaml, as the CLI builds it
            cm = config_method(tok.split(":", 1)[1])
            out.append(("ours", tok, cm, cm["window"]))
            continue
        spec, _, win = tok.partition("@")
        fam, _, name = spec.partition(":")
        if fam == "ours" and (fam, name) not in known:
            known[(fam, name)] = ({}, None)
        if (fam, name) not in known or (win and not win.isdigit()):
            sys.exit(f"unknown method {tok!r}; known: {[f'{f}:{n}' for f, n, _, _ in allm]} (ours:<any registered "
                     "detector>), optionally with @<window>")
        p, w = known[(fam, name)]
        out.append((fam, name, p, int(win) if win else w))
    return out


def run(args) -> dict:
    machines = sorted(Path(args.data).glob("machine-*.npz"), key=lambda p: [int(v) for v in p.stem.split("-")[1:]])
    if args.machines != "all":
        want = args.machines.split(",")
        machines = [p for p in machines if p.stem in want]
    if not machines:
        sys.exit(f"no SMD machine files under {args.data}")
    methods = parse_methods(args.methods, args.quick)
    cache = Path(args.cache)
    rows: list[Row] = []
    failures: list[dict] = []
    not_run: list[dict] = []
    # method by method (every machine for the first method first), so a run cut short by time has
    # its first methods on every machine; --order machine runs all methods on one machine first
    plan = [(p, m) for m in methods for p in machines] if args.order == "method" else \
        [(p, m) for p in machines for m in methods]
    loaded: dict[tuple[str, int], tuple] = {}
    labels: dict[str, np.ndarray] = {}
    for path, (fam, name, extra, win) in plan:
        window = win or args.window
        if fam == "deepod":
            params = dict(extra)
            if args.quick:
                params.update(epochs=1, epoch_steps=5)
            settings = {"params": params, "seed": args.seed, "std": "train-mean-std"}
        elif fam == "pyod":
            settings = {"window": window, "train_stride": args.train_stride, "epochs": args.epochs,
                        "seed": args.seed}
        elif "config" in extra:  # a shipped config: its detector, parameters, window and timestamp_how
            extra = {**extra, "params": {**extra["params"], "random_state": args.seed}}  # --seed wins
            if args.quick:
                extra = {**extra, "params": {**extra["params"], "epochs": args.epochs}}
            settings = {"window": window, "train_stride": args.train_stride, "seed": args.seed,
                        "detector": extra["detector"], "params": extra["params"], "how": extra["how"]}
        else:
            settings = {"window": window, "train_stride": args.train_stride, "epochs": args.epochs,
                        "seed": args.seed, "params": extra}
        if args.max_rows:
            settings["max_rows"] = args.max_rows
        key = method_key(fam, name, settings)
        def compute():
            if (path.stem, window) not in loaded:  # data loaded only when something is fitted
                loaded.clear()  # one machine in memory at a time
                loaded[(path.stem, window)] = load_machine(path, window, args.train_stride, args.max_rows)
            btr, bte, ztr, zte, _ = loaded[(path.stem, window)]
            if fam == "deepod":
                return run_deepod(name, settings["params"], ztr, zte, args.seed)
            if fam == "pyod":
                return run_pyod(name, btr, bte, args.epochs, args.seed)
            if "config" in extra:
                return run_ours(extra["detector"], extra["params"], btr, bte, args.epochs, args.seed, extra["how"])
            return run_ours(name, extra, btr, bte, args.epochs, args.seed)

        label = name if name.startswith("config:") else f"{fam}:{name}" + (f"@{window}" if fam != "deepod" else "")
        try:
            s, fit_s, score_s, hit = cached_scores(cache, key, path.stem, settings, compute, args.cached_only)
        except NotCached:
            not_run.append({"machine": path.stem, "method": label})
            continue
        except Exception as exc:  # a peer that fails is reported, never silently dropped
            print(f"  {path.stem} {label}: FAILED {type(exc).__name__}: {exc}", flush=True)
            failures.append({"machine": path.stem, "method": label, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if path.stem not in labels:
            labels[path.stem] = np.load(path)["test_label"].astype(np.int8)[: args.max_rows or None]
        m = evaluate(labels[path.stem], s)
        rows.append(Row(path.stem, label, fam, **m, fit_s=round(fit_s, 1), score_s=round(score_s, 1)))
        print(f"  {path.stem} {label}: auroc {m['auroc']:.3f} f1 {m['best_f1']:.3f} pa {m['f1_pa']:.3f} "
              f"range {m['range_f1']:.3f} fit {fit_s:.0f}s{' (cached)' if hit else ''}", flush=True)
    return {"rows": [asdict(r) for r in rows], "machines": [p.stem for p in machines],
            "methods": [n if n.startswith("config:") else f"{f}:{n}" + (f"@{w or args.window}" if f != "deepod" else "")
                        for f, n, _, w in methods],
            "failures": failures, "not_run": not_run,
            "settings": {"window": args.window, "train_stride": args.train_stride, "epochs": args.epochs,
                         "seed": args.seed, "deepod": {n: p for f, n, p, _ in methods if f == "deepod"}, "quick": args.quick}}


# ----------------------------------------------------------------------------- tables
def means(rows: list[dict]) -> dict[str, dict]:
    """method -> mean of every metric over the machines it ran on (and how many)."""
    out: dict[str, dict] = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        rr = [r for r in rows if r["method"] == m]
        out[m] = {k: float(np.mean([r[k] for r in rr])) for k in (*METRICS, "fit_s")}
        out[m]["n"] = len(rr)
        out[m]["family"] = rr[0]["family"]
    return out


def markdown(result: dict, seconds: float) -> str:
    rows, mean = result["rows"], means(result["rows"])
    methods = list(mean)
    n_all = len(result["machines"])
    full = [m for m in methods if mean[m]["n"] == n_all]
    lines = ["## telemetry peers: SMD", "", f"command: `{result['command']}`  ",
             f"run time: {seconds:.0f} s (scores cached per method and machine; cached ones cost nothing), "
             f"load average at the end {result['loadavg']}", "",
             "Mean over the machines (a method that ran on fewer machines says so). "
             "**bold** = best of ours, _italic_ = best peer (PyOD or DeepOD), per column.", "",
             "| method | machines | AUROC | best F1 | F1-PA | range F1 | fit s / machine |", "|---|---|---|---|---|---|---|"]
    best_ours = {k: max((mean[m][k] for m in full if mean[m]["family"] == "ours"), default=np.nan) for k in METRICS}
    best_peer = {k: max((mean[m][k] for m in full if mean[m]["family"] != "ours"), default=np.nan) for k in METRICS}

    def cell(m, k):
        v = mean[m][k]
        if m in full and mean[m]["family"] == "ours" and v == best_ours[k]:
            return f"**{v:.4f}**"
        if m in full and mean[m]["family"] != "ours" and v == best_peer[k]:
            return f"_{v:.4f}_"
        return f"{v:.4f}"

    for m in sorted(methods, key=lambda m: -mean[m]["auroc"]):
        lines.append(f"| {m} | {mean[m]['n']} | " + " | ".join(cell(m, k) for k in METRICS) +
                     f" | {mean[m]['fit_s']:.1f} |")
    lines.append("")
    partial = [m for m in methods if m not in full]
    ours_full = [m for m in full if mean[m]["family"] == "ours"]
    if partial and ours_full:
        lines += ["Methods that ran on fewer machines, beside each of our full-coverage detectors on the same "
                  "machines (mean AUROC / range F1 / best F1):", "",
                  "| method | machines | its AUROC | ours AUROC | its range F1 | ours range F1 | its best F1 | ours best F1 |",
                  "|---|---|---|---|---|---|---|---|"]
        for m in partial:
            mcs = {r["machine"] for r in rows if r["method"] == m}
            for o in ours_full:
                oo = [r for r in rows if r["method"] == o and r["machine"] in mcs]
                mm = [r for r in rows if r["method"] == m]
                vals = [(np.mean([r[k] for r in mm]), np.mean([r[k] for r in oo])) for k in ("auroc", "range_f1", "best_f1")]
                lines.append(f"| {m} vs {o} | {len(mm)} | " + " | ".join(f"{a:.4f} | {b:.4f}" for a, b in vals) + " |")
        lines.append("")
    if result.get("not_run"):
        miss: dict[str, list[str]] = {}
        for r in result["not_run"]:
            miss.setdefault(r["method"], []).append(r["machine"])
        lines += ["Not run (no cached scores; CPU time ran out): " +
                  "; ".join(f"{m} on {len(v)} machine(s)" for m, v in miss.items()), ""]
    if result.get("failures"):
        lines += ["Failed: " + "; ".join(f"{r['method']} on {r['machine']}: {r['error']}" for r in result["failures"]), ""]
    for k in ("auroc", "range_f1", "best_f1"):
        lines += [f"### {k} per machine", "", "| machine | " + " | ".join(methods) + " |",
                  "|---" * (len(methods) + 1) + "|"]
        t = {(r["machine"], r["method"]): r[k] for r in rows}
        for mc in result["machines"]:
            vals = [t.get((mc, m), np.nan) for m in methods]
            top = np.nanmax(vals) if np.isfinite(vals).any() else np.nan
            lines.append(f"| {mc} | " + " | ".join("n/a" if not np.isfinite(v) else
                                                   (f"**{v:.3f}**" if v == top else f"{v:.3f}") for v in vals) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder of SMD machine-*.npz")
    ap.add_argument("--machines", default="all", help="all or comma-separated names (machine-1-6,...)")
    ap.add_argument("--methods", default=None, help="comma-separated family:name (default: every method)")
    ap.add_argument("--window", type=int, default=30, help="window of our detectors and PyOD's (rows)")
    ap.add_argument("--train-stride", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=10, help="epochs of our detectors and PyOD's deep ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--max-rows", type=int, default=0, help="keep the first rows of each half (0 = all)")
    ap.add_argument("--quick", action="store_true",
                    help="CI-size check: 2 machines, their first 4,000 rows, 1 epoch everywhere (DeepOD: 5 steps)")
    ap.add_argument("--order", choices=["method", "machine"], default="method",
                    help="method: each method on every machine before the next method (default)")
    ap.add_argument("--cached-only", action="store_true",
                    help="fit nothing: tabulate the cached scores (what did not run is listed as not run)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs = 1
        args.max_rows = args.max_rows or 4000
        if args.machines == "all":
            args.machines = "machine-1-6,machine-3-4"
        args.tag = args.tag or "quick"
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    result = run(args)
    seconds = time.perf_counter() - t0
    result["command"] = "python benchmarks/telemetry_peers.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result["loadavg"] = [round(v, 2) for v in os.getloadavg()]
    result["seconds"] = round(seconds, 1)
    result["means"] = means(result["rows"])
    result["python"] = platform.python_version()
    md = markdown(result, seconds)
    print(md, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "telemetry_peers" + (f"_{args.tag}" if args.tag else "")
    for suffix, text in ((".json", json.dumps(result, indent=1, default=float)), (".md", md)):
        tmp = out / f".{stem}{suffix}.tmp"
        tmp.write_text(text)
        os.replace(tmp, out / f"{stem}{suffix}")


if __name__ == "__main__":
    main()
