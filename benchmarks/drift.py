"""How the drift monitor (``anomalib_ae.scoring.drift.DriftMonitor``) behaves on real data.

For each case a model is fitted on normal training data; the monitor's reference is the
scores of *held-out* normal data of the same source (as ``calibration_scores_`` are for the
deep detectors); then windows of ``--window`` consecutive item scores are tested, once from
data that should not count as drift (false-alarm rate) and once from shifted data (detection
rate). Windows never overlap, so their verdicts are separate trials.

* **SMD** (server telemetry, items = minutes): the ``configs/hpc.yaml`` telemetry pipeline
  (16-minute windows, dense autoencoder) fitted on the first 60 % of a machine's train half,
  reference = its next 20 %. Unshifted: the last 20 % of the train half; and the test half's
  stationary periods (windows without any labelled anomalous minute), i.e. test half vs train
  half. Shifted: test windows that overlap a labelled anomaly; another machine's test half
  scored by this machine's model.
* **MIMII fan** (items = log-mel frames of 2 s clips, DCASE features): the ``configs/acoustic.yaml``
  autoencoder fitted on normal recordings of machine ``id_00``, grouped by source recording
  into folds (fit / reference / unshifted); shifted: normal recordings of the other fan
  (``mimii_fan_b``, another machine) and the anomalous id_00 recordings.
* **MNIST** (items = images): a dense autoencoder fitted on 4000 training images of one digit,
  reference = 1000 other training images of it; unshifted: the rest of that digit's training
  images, and its test images (other writers); shifted: test images of another digit, and windows with 10 % of another digit mixed in.

    python benchmarks/drift.py            # --quick (default): about 5-10 min on 1 core
    python benchmarks/drift.py --full     # more machines, folds and digits

Writes ``benchmarks/results/drift.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"


def windows(scores: np.ndarray, w: int, keep=None) -> list[np.ndarray]:
    """Non-overlapping windows of ``w`` consecutive finite scores (``keep``: per-window predicate on indices)."""
    out = []
    for s in range(0, len(scores) - w + 1, w):
        idx = np.arange(s, s + w)
        if keep is None or keep(idx):
            x = scores[idx]
            if np.isfinite(x).all():
                out.append(x)
    return out


def rates(reference: np.ndarray, wins: list[np.ndarray], alpha: float) -> dict:
    from anomalib_ae.scoring.drift import DriftMonitor

    flags, ks, rate, iid, n_eff = [], [], [], [], []
    for x in wins:
        st = DriftMonitor(reference, window=len(x), alpha=alpha, min_items=len(x)).update(x)
        flags.append(st.drifted)
        ks.append(st.ks_p_value < alpha / 2)
        rate.append(st.rate_p_value < alpha / 2)
        n_eff.append(st.n_eff)
        iid.append(DriftMonitor(reference, window=len(x), alpha=alpha, min_items=len(x),
                                autocorrelation=False).update(x).drifted)
    n = len(wins)

    def mean(v):
        return float(np.mean(v)) if n else float("nan")

    return {"windows": n, "alarms": int(sum(flags)), "rate": mean(flags), "ks_rate": mean(ks), "lowp_rate": mean(rate),
            "iid_rate": mean(iid), "n_eff_median": float(np.median(n_eff)) if n else float("nan")}


def _row(dataset, case, shifted, reference, wins, alpha, **extra) -> dict:
    r = {"dataset": dataset, "case": case, "shifted": shifted, "n_reference": int(len(reference)), **rates(reference, wins, alpha)}
    r.update(extra)
    return r


# --------------------------------------------------------------------------- SMD
def _smd_frame(X: np.ndarray, start: int = 0):
    import pandas as pd

    df = pd.DataFrame(X, columns=[f"m{j:02d}" for j in range(X.shape[1])])
    df.insert(0, "timestamp", np.arange(start, start + len(X)))
    return df


def run_smd(data: Path, machines: list[str], other: dict[str, str], w: int, alpha: float, epochs: int) -> list[dict]:
    import yaml

    from anomalib_ae.pipeline import pipeline_from_config

    cfg = yaml.safe_load((REPO / "configs" / "hpc.yaml").read_text())
    cfg["adapter"]["params"].update(entity_col=None, exclude=[])
    rows = []
    for m in machines:
        t0 = time.time()
        d = np.load(data / "telemetry" / "smd" / f"{m}.npz")
        tr, te, y = d["train"], d["test"], d["test_label"].astype(bool)
        a, b = int(0.6 * len(tr)), int(0.8 * len(tr))
        pipe = pipeline_from_config(cfg, detector_params={"epochs": epochs, "verbose": False})
        pipe.fit(_smd_frame(tr[:a]))
        ref = pipe.score(_smd_frame(tr[a:b], a))
        held = pipe.score(_smd_frame(tr[b:], b))
        test = pipe.score(_smd_frame(te, len(tr)))
        o = np.load(data / "telemetry" / "smd" / f"{other[m]}.npz")
        other_test = pipe.score(_smd_frame(o["test"]))
        oy = o["test_label"].astype(bool)
        for ww in (w, 5 * w):  # minutes are strongly autocorrelated: also day-scale windows
            tag = f" [{ww} min]"
            rows += [
                _row("SMD", "train half, held-out last 20 %" + tag, False, ref, windows(held, ww), alpha, machine=m),
                _row("SMD", "test half, stationary (no labelled anomaly)" + tag, False, ref,
                     windows(test, ww, lambda i: not y[i].any()), alpha, machine=m),
                _row("SMD", "test half, windows with labelled anomalies" + tag, True, ref,
                     windows(test, ww, lambda i: y[i].any()), alpha, machine=m),
                _row("SMD", "another machine (test half, no labelled anomaly)" + tag, True, ref,
                     windows(other_test, ww, lambda i: not oy[i].any()), alpha, machine=m, other=other[m]),
            ]
        print(f"  SMD {m}: {time.time() - t0:.0f} s", flush=True)
    return rows


# --------------------------------------------------------------------------- MIMII
def run_mimii(data: Path, w: int, alpha: float, epochs: int, folds: int) -> list[dict]:
    import yaml

    from anomalib_ae.pipeline import pipeline_from_config

    cfg = yaml.safe_load((REPO / "configs" / "acoustic.yaml").read_text())
    root = data / "acoustic"
    labels = list(csv.DictReader(open(root / "labels.csv")))
    rec = {}
    for r in labels:
        rec.setdefault((r["group"], int(r["label"])), {}).setdefault(r["source_path"], []).append(str(root / r["file"]))
    id00 = [sorted(v) for _, v in sorted(rec[("mimii_fan_id00", 0)].items())]  # 20 recordings x 5 segments
    other = [f for _, v in sorted(rec[("mimii_fan_b", 0)].items()) for f in sorted(v)]
    abnormal = [f for _, v in sorted(rec[("mimii_fan_id00", 1)].items()) for f in sorted(v)]
    k = len(id00) // 5  # 4 recordings per fold: 3 folds fit, 1 reference, 1 unshifted
    acc: dict[str, list] = {"un": [], "other": [], "abn": []}
    refs = []
    for f in range(folds):
        order = id00[f * k:] + id00[:f * k]
        fit = [p for r in order[:3 * k] for p in r]
        ref_files = [p for r in order[3 * k:4 * k] for p in r]
        un_files = [p for r in order[4 * k:] for p in r]
        pipe = pipeline_from_config(cfg, detector_params={"epochs": epochs, "verbose": False})
        pipe.fit(fit)

        def frames(files):
            res = pipe.score_items(files)
            raw = getattr(res, "raw_scores", None)  # typed ScoreResult; older ones kept it in details
            return raw if raw is not None and len(raw) else res.details["raw_scores"]

        ref = frames(ref_files)
        refs.append(len(ref))
        acc["un"].append(rates(ref, windows(frames(un_files), w), alpha))
        acc["other"].append(rates(ref, windows(frames(other), w), alpha))
        acc["abn"].append(rates(ref, windows(frames(abnormal), w), alpha))
        print(f"  MIMII fold {f + 1}/{folds} done", flush=True)

    def pooled(case, shifted, lst):
        n, a = sum(x["windows"] for x in lst), sum(x["alarms"] for x in lst)
        def avg(key):
            return sum(x[key] * x["windows"] for x in lst if x["windows"]) / max(n, 1)

        return {"dataset": "MIMII fan", "case": case, "shifted": shifted, "n_reference": int(np.mean(refs)),
                "windows": n, "alarms": a, "rate": a / n if n else float("nan"), "ks_rate": avg("ks_rate"),
                "lowp_rate": avg("lowp_rate"), "iid_rate": avg("iid_rate"), "n_eff_median": avg("n_eff_median"),
                "folds": folds}

    return [pooled("id_00 normal, held-out recordings", False, acc["un"]),
            pooled("another fan (mimii_fan_b), normal", True, acc["other"]),
            pooled("id_00 anomalous recordings", True, acc["abn"])]


# --------------------------------------------------------------------------- MNIST
def run_mnist(data: Path, digits: list[int], w: int, alpha: float, epochs: int, seed: int = 0) -> list[dict]:
    import anomalib_ae

    d = np.load(data / "images" / "mnist.npz")
    xtr = d["x_train"].reshape(len(d["x_train"]), -1).astype(np.float32) / 255.0
    xte = d["x_test"].reshape(len(d["x_test"]), -1).astype(np.float32) / 255.0
    ytr, yte = d["y_train"], d["y_test"]
    rng = np.random.default_rng(seed)
    rows = []
    for c in digits:
        t0 = time.time()
        idx = rng.permutation(np.flatnonzero(ytr == c))
        det = anomalib_ae.create("ae", epochs=epochs, random_state=seed, verbose=False).fit(xtr[idx[:4000]])
        ref = det.score(xtr[idx[4000:5000]])
        un_train = det.score(xtr[idx[5000:]])
        other_c = (c + 1) % 10
        oth = det.score(xte[yte == other_c])
        norm_te = det.score(xte[yte == c])
        mixed = []
        others_all = det.score(xte[yte != c])
        for i in range(len(norm_te) // 180):
            mixed.append(np.r_[norm_te[i * 180:(i + 1) * 180], rng.choice(others_all, w - 180, replace=False)])
        rows += [
            _row("MNIST", "same digit, held-out training images", False, ref, windows(un_train, w), alpha, digit=c),
            _row("MNIST", "same digit, test images", False, ref, windows(norm_te, w), alpha, digit=c),
            _row("MNIST", "another digit (test)", True, ref, windows(oth, w), alpha, digit=c, other=other_c),
            _row("MNIST", "10 % of other digits mixed in", True, ref, [rng.permutation(x) for x in mixed], alpha, digit=c),
        ]
        print(f"  MNIST digit {c}: {time.time() - t0:.0f} s", flush=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Pool rows of the same dataset and case (machines, digits)."""
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (r["dataset"], r["case"])
        s = out.setdefault(key, {"dataset": r["dataset"], "case": r["case"], "shifted": r["shifted"], "windows": 0,
                                 "alarms": 0, "units": 0, "_sum": {}})
        s["windows"] += r["windows"]
        s["alarms"] += r["alarms"]
        s["units"] += 1
        for k in AVERAGED:
            s["_sum"][k] = s["_sum"].get(k, 0.0) + (r[k] * r["windows"] if r["windows"] else 0.0)
    for s in out.values():
        n = s["windows"]
        s["rate"] = s["alarms"] / n if n else float("nan")
        for k, v in s.pop("_sum").items():
            s[k] = v / n if n else float("nan")
    return list(out.values())


AVERAGED = ("ks_rate", "lowp_rate", "iid_rate", "n_eff_median")


def table(summary: list[dict]) -> str:
    lines = ["| data | windows of | shifted? | windows | alarm rate (default) | KS alone | low-p rate alone "
             "| median n_eff | without the AR(1) adjustment |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        kind = "detection" if s["shifted"] else "false alarm"
        lines.append(f"| {s['dataset']} | {s['case']} | {'yes' if s['shifted'] else 'no'} | {s['windows']} | "
                     f"**{s['rate']:.1%}** ({kind}, {s['alarms']}/{s['windows']}) | {s['ks_rate']:.1%} | "
                     f"{s['lowp_rate']:.1%} | {s['n_eff_median']:.0f} | {s['iid_rate']:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--full", action="store_true", help="6 SMD machines, 5 MIMII folds, all 10 digits (default: --quick)")
    p.add_argument("--window", type=int, default=200)
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--only", default="smd,mimii,mnist")
    p.add_argument("--out", default="drift")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    if not args.data.is_dir():
        print(f"data folder not found: {args.data}", file=sys.stderr)
        return 2
    full = args.full
    machines = ["machine-1-2", "machine-2-1", "machine-3-2", "machine-1-5", "machine-2-3", "machine-3-10"] if full \
        else ["machine-1-2", "machine-2-1"]
    other = {m: machines[(i + 1) % len(machines)] for i, m in enumerate(machines)}
    only = set(args.only.split(","))
    t0 = time.time()
    rows: list[dict] = []
    timing = {}
    if "smd" in only:
        t = time.time()
        rows += run_smd(args.data, machines, other, args.window, args.alpha, epochs=10 if full else 5)
        timing["smd_s"] = round(time.time() - t, 1)
    if "mimii" in only:
        t = time.time()
        rows += run_mimii(args.data, args.window, args.alpha, epochs=30 if full else 15, folds=5 if full else 2)
        timing["mimii_s"] = round(time.time() - t, 1)
    if "mnist" in only:
        t = time.time()
        rows += run_mnist(args.data, list(range(10)) if full else [0, 3, 7], args.window, args.alpha,
                          epochs=20 if full else 10)
        timing["mnist_s"] = round(time.time() - t, 1)
    summary = summarise(rows)
    md = table(summary)
    print(md)
    meta = {"mode": "full" if full else "quick", "window": args.window, "alpha": args.alpha,
            "monitor": "DriftMonitor(reference, window, alpha, min_items=window): KS (asymptotic) + low-p-value rate "
                       "(binomial), Bonferroni at alpha/2 each, AR(1) effective sample size (default); last column: "
                       "the same tests with autocorrelation=False",
            "seconds": round(time.time() - t0, 1), **timing, "python": platform.python_version(),
            "torch_threads": 1, "machine": platform.machine(), "cpus": os.cpu_count(),
            "note": "run on a 2-core machine shared with other jobs; timings are indicative only"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=1))
    (RESULTS / f"{args.out}.md").write_text(
        f"# Drift monitor on real data ({meta['mode']})\n\nWindow {args.window} items, alpha {args.alpha}; "
        f"{meta['monitor']}. Run time {meta['seconds']} s.\n\n{md}\n")
    print(f"wrote {RESULTS / (args.out + '.json')} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
